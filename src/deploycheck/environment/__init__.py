"""The environment that will run the code: interpreter facts, search path, installed distributions."""
