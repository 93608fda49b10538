"""Which installed distribution owns a file, read from ``*.dist-info/RECORD`` (and ``.egg-info`` file lists)
through ``importlib.metadata`` (the Python Packaging Authority's "Recording installed projects" spec)."""

from __future__ import annotations

import os
from importlib.metadata import Distribution

from deploycheck.artifact.files import HostFiles

# Each metadata file read (METADATA, RECORD, entry_points.txt...), in bytes: the largest real RECORD files
# (tens of thousands of files) are a few MiB, and a RECORD takes about ten times its size once read.
MAX_METADATA_BYTES = 8 * 1024 * 1024


class _ReaderDistribution(Distribution):
    """An installed distribution's metadata directory read through a file reader (host or image), the
    extension point ``importlib.metadata.Distribution`` documents (``read_text``, ``locate_file``)."""

    def __init__(self, files, directory: str) -> None:
        self._files = files
        self._dir = directory

    def read_text(self, filename):
        try:
            data = self._files.read_bytes(os.path.join(self._dir, filename), MAX_METADATA_BYTES)
            return data.decode("utf-8", errors="replace")
        except (OSError, ValueError):
            return None

    def locate_file(self, path):
        return os.path.join(os.path.dirname(self._dir), str(path))


def entry_points(files, directory: str):
    """The entry points (``importlib.metadata.EntryPoints``) an installed distribution declares in
    ``directory/entry_points.txt`` (the "Entry points specification"), read through ``files`` within
    ``MAX_METADATA_BYTES``; empty when there is none. Raises ValueError for a malformed file."""
    return _ReaderDistribution(files, directory).entry_points


class Distributions:
    """Ownership lookups over ``site_dirs``; each site directory is indexed once, on first use."""

    def __init__(self, site_dirs: list[str], files: HostFiles) -> None:
        self.site_dirs = site_dirs
        self.files = files
        self._owners: dict[str, dict[str, tuple[str, str]]] = {}
        self._dirs: dict[tuple[str, str], str] = {}  # (name, version) -> its metadata directory
        self._tops: dict[str, dict[str, tuple[str, str]]] = {}

    def owner(self, path: str | None) -> tuple[str, str] | None:
        """``(name, version)`` of the distribution whose RECORD lists ``path``; falls back to the
        distribution that owns the file's top-level package directory. None when unowned."""
        if not path:
            return None
        for site in self.site_dirs:
            prefix = site.rstrip(os.sep) + os.sep
            if not path.startswith(prefix):
                continue
            owners, tops = self._index(site)
            found = owners.get(os.path.normpath(path))
            if found:
                return found
            top = path[len(prefix):].split(os.sep, 1)[0]
            return tops.get(top)
        return None

    def installed(self) -> dict[tuple[str, str], str]:
        """Every distribution of the site directories: ``(name, version) -> metadata directory``. Names and
        versions come from the ``.dist-info`` directory names (the "Recording installed projects" spec's
        ``{name}-{version}.dist-info``), read from METADATA only when the name does not say; no RECORD is
        read, so this stays cheap on large environments."""
        out: dict[tuple[str, str], str] = {}
        for site in self.site_dirs:
            for name, is_dir in sorted((self.files.listdir(site) or {}).items()):
                if not is_dir or not name.endswith((".dist-info", ".egg-info")):
                    continue
                stem = name.rsplit(".", 1)[0]
                dist, sep, version = stem.partition("-")
                if not sep or not version or "-" in version:
                    try:
                        meta = _ReaderDistribution(self.files, os.path.join(site, name)).metadata
                        dist, version = meta["Name"] or dist, meta["Version"] or ""
                    except Exception:
                        continue
                out.setdefault((dist, version), os.path.join(site, name))
        return out

    def _index(self, site: str) -> tuple[dict[str, tuple[str, str]], dict[str, tuple[str, str]]]:
        if site in self._owners:
            return self._owners[site], self._tops[site]
        owners: dict[str, tuple[str, str]] = {}
        tops: dict[str, tuple[str, str]] = {}
        for name, is_dir in sorted((self.files.listdir(site) or {}).items()):
            if not is_dir or not name.endswith((".dist-info", ".egg-info")):
                continue
            try:
                dist = _ReaderDistribution(self.files, os.path.join(site, name))
                meta = dist.metadata
                ident = (meta["Name"] or name.split("-")[0], dist.version or "")
                self._dirs[ident] = os.path.join(site, name)
                for f in dist.files or ():
                    rel = str(f)
                    owners[os.path.normpath(os.path.join(site, rel))] = ident
                    top = rel.split("/", 1)[0]
                    if top != ".." and not top.endswith((".dist-info", ".egg-info")):
                        tops.setdefault(top, ident)
            except Exception:  # a broken metadata directory must not break the check
                continue
        self._owners[site] = owners
        self._tops[site] = tops
        return owners, tops
