"""The file tree a check reads: directory listings (cached) and file bytes."""

from __future__ import annotations

import os

from deploycheck.inputs import read_regular

# Larger source files are treated as unknown rather than parsed: no real module is this big, and a huge file
# must not stall the run or exhaust memory.
MAX_SOURCE_BYTES = 16 * 1024 * 1024


class HostFiles:
    """Read-only view of the host file system.

    Listings are cached per directory (like mypy's modulefinder), so searching many module names over a long
    search path costs one ``scandir`` per directory. Paths are absolute strings. Nothing is ever written.
    """

    def __init__(self) -> None:
        self._listings: dict[str, dict[str, bool] | None] = {}

    def listdir(self, path: str) -> dict[str, bool] | None:
        """Return ``{name: is_dir}`` for a directory, or ``None`` when it does not exist or is unreadable.

        Symbolic links are followed (``is_dir`` of the target); a dangling link counts as a file.
        """
        cached = self._listings.get(path, ...)
        if cached is not ...:
            return cached  # type: ignore[return-value]
        result: dict[str, bool] | None
        try:
            with os.scandir(path) as it:
                result = {}
                for entry in it:
                    try:
                        result[entry.name] = entry.is_dir()
                    except OSError:
                        result[entry.name] = False
        except (OSError, ValueError):
            result = None
        self._listings[path] = result
        return result

    def realpath(self, path: str) -> str:
        """The path with symbolic links resolved (the host's own rules)."""
        return os.path.realpath(path)

    def is_dir(self, path: str) -> bool:
        parent, name = os.path.split(path)
        listing = self.listdir(parent)
        return bool(listing and listing.get(name))

    def is_file(self, path: str) -> bool:
        parent, name = os.path.split(path)
        listing = self.listdir(parent)
        return listing is not None and name in listing and not listing[name]

    def read_bytes(self, path: str, limit: int = MAX_SOURCE_BYTES) -> bytes:
        """Return the file's bytes.

        Raises ``OSError`` when unreadable, and ``ValueError`` when it is not a regular file or is larger
        than ``limit`` bytes.
        """
        return read_regular(path, limit)


def source_lines(path: str, files=None, boundary=None, origin: str = "project") -> list[str]:
    """Lines of a source file for display and ``# noqa`` comments; empty for anything but a readable regular
    file within the size limit (a FIFO named ``x.py`` must never block the run). ``files`` is the reader
    (the host's by default, an image's for image targets). With ``boundary`` (the project's edge,
    ``target.boundary``), empty for a file of the project (``origin``) that lies outside it: its text is
    never shown; decided on the file that is opened.

    The last file's lines are kept: findings come sorted by file and each asks for its line (20,000
    findings in one file read it 20,000 times). A host file is read again when its ``stat`` changed. The
    list returned is shared: callers only read it."""
    signature = None
    if files is None or isinstance(files, HostFiles):
        try:
            st = os.stat(path)
            signature = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        except (OSError, ValueError):
            pass
    key = (path, origin, signature)
    last = _LAST[0]
    if last is not None and last[0] == key and last[1] is files and last[2] is boundary:
        return last[3]
    lines = _read_lines(path, files, boundary, origin)
    _LAST[0] = (key, files, boundary, lines) if signature is not None or files is not None else None
    return lines


_LAST: list = [None]  # (key, files, boundary, lines) of the last source_lines call


def _read_lines(path: str, files, boundary, origin: str) -> list[str]:
    if boundary is not None and boundary.governs(path, origin) and os.path.isabs(path):
        data = boundary.text(path, MAX_SOURCE_BYTES)
        if data is None:
            return []
    else:
        try:
            data = (files or HostFiles()).read_bytes(path)
        except (OSError, ValueError):
            return []
    return [_printable(line) for line in data.decode("utf-8", errors="replace").splitlines()]


def _printable(line: str) -> str:
    # Escape sequences in a file must not drive the user's terminal.
    if line.isprintable():
        return line
    return "".join(c if c.isprintable() or c == "\t" else "\ufffd" for c in line)
