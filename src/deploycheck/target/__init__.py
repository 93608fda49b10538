"""The target of a check: which project, which roots, which entries, which configuration."""
