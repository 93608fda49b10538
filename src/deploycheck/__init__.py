"""deploycheck: find the code that will crash on deploy, on the artifact that ships."""

__version__ = "0.1.0"

# Bumped whenever a summary's shape or meaning changes; part of every cache key.
ANALYZER_VERSION = "28"
