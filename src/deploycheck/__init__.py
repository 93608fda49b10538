"""deploycheck: find the code that will crash on deploy, on the artifact that ships."""

__version__ = "0.1.0"

# Where deploycheck is documented: SARIF's informationUri and the base of each rule's helpUri.
HOMEPAGE = "https://github.com/deploycheck/deploycheck"

# Bumped whenever a summary's shape or meaning changes; part of every cache key.
ANALYZER_VERSION = "26"
