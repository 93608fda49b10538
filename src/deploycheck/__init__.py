"""deploycheck: find the code that will crash on deploy, on the artifact that ships."""

__version__ = "0.1.0"



def homepage() -> str | None:
    """Where deploycheck is published: the ``Homepage`` (or first) ``Project-URL`` of the installed
    distribution's metadata (core metadata 2.1, ``[project.urls]`` of pyproject.toml), or None when it
    declares none. SARIF's ``informationUri`` and each rule's ``helpUri`` are given only when it exists:
    an address nobody published is worse than none."""
    from importlib import metadata

    try:
        urls = metadata.metadata("deploycheck").get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        return None
    pairs = [u.partition(",") for u in urls]
    found = [url.strip() for label, _, url in pairs if label.strip().lower() == "homepage"]
    return (found or [url.strip() for _, _, url in pairs if url.strip()] or [None])[0]

# Bumped whenever a summary's shape or meaning changes; part of every cache key.
ANALYZER_VERSION = "35"
