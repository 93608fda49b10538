"""Opening untrusted input files: regular files only, never more than a bound read.

Every file deploycheck reads comes from a repository or an image it does not trust. A name may be a FIFO
(``open`` would block until a writer comes), a character device (``/dev/zero`` never ends), or a link swapped
for one of those between a check and the open. So a file is opened with ``O_NONBLOCK`` (a FIFO opens at once)
and ``O_NOCTTY``, and its type and size are taken with ``fstat`` on the descriptor that was opened, not on
the name beforehand; reading stops at the bound even when the file grows meanwhile. A "regular" file that
says it is empty but yields bytes is a pseudo-file of ``/proc`` or ``/sys`` (``/proc/self/environ`` holds the
environment of whoever reads it), refused like a device.
"""

from __future__ import annotations

import math
import os
import stat

from deploycheck.errors import UsageError
from deploycheck.regexes import compiled

_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)


class NotRegularFile(ValueError):
    """The path names a directory, FIFO, socket or device rather than a regular file."""


class TooLarge(ValueError):
    """The file holds more than the caller's bound. ``size`` is what ``fstat`` reported (bytes), ``limit``
    the bound."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"file is {size} bytes, over the {limit}-byte limit")
        self.size, self.limit = size, limit


def open_regular(path: str, limit: int | None = None):
    """A binary file object for the regular file ``path``, opened without blocking.

    ``limit`` (bytes), when given, is checked against the size of the opened file. Raises ``OSError`` when
    it cannot be opened, ``NotRegularFile`` for anything but a regular file, ``TooLarge`` past ``limit``.
    """
    fd = os.open(path, _FLAGS)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegularFile("not a regular file")
        if st.st_size == 0 and os.read(fd, 1):
            # A file the kernel makes up as it is read (/proc/self/environ, /sys): it says it is empty and
            # regular, and holds whatever the reading process is; nothing a repository should name.
            raise NotRegularFile("not a regular file (made up by the kernel as it is read)")
        if limit is not None and st.st_size > limit:
            raise TooLarge(st.st_size, limit)
        # Regular files never block; clearing the flag keeps later reads ordinary.
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: str, limit: int) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them.

    Raises ``OSError`` when it cannot be opened or read, ``NotRegularFile`` for anything but a regular file,
    and ``TooLarge`` when it holds more than ``limit`` bytes (also when it grew past the bound while read).
    """
    with open_regular(path, limit) as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(len(data), limit)
    return data


_AMOUNT = r"(?i)^\s*(\d+)\s*([KMGT]?)(?:i?B)?\s*$"  # compiled when an amount is read


def whole_number(variable: str, default: int, unit: str = "") -> int:
    """The whole number (0 included) that the environment variable ``variable`` sets, else ``default``.
    Raises ``UsageError`` naming ``unit`` (`` of patterns``) for anything else."""
    text = os.environ.get(variable, "").strip()
    if not text:
        return default
    if not text.isdigit():
        raise UsageError(f"{variable} must be a whole number{unit}")
    return int(text)


def seconds(variable: str, default: float, zero: bool = False) -> float:
    """The number of seconds that the environment variable ``variable`` sets, else ``default``: more than 0
    (or 0 too, with ``zero``) and at most a day. Raises ``UsageError`` for anything else."""
    raw = os.environ.get(variable)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (0 <= value if zero else 0 < value) or not value <= 86400:
        bounds = " from 0 to 86400" if zero else ", more than 0 and at most 86400"
        raise UsageError(f"{variable} must be a number of seconds{bounds}")
    return value


def amount(variable: str, default: int) -> int:
    """The bound that the environment variable ``variable`` sets, else ``default``: a count, or bytes with
    an optional K, M, G or T suffix of powers of 1024 (``512K``, ``2MiB``). Raises ``UsageError`` for a value
    that is not a positive amount."""
    text = os.environ.get(variable)
    if not text:
        return default
    m = compiled(_AMOUNT).match(text)
    value = int(m.group(1)) * 1024 ** "_KMGT".index(m.group(2).upper() or "_") if m else 0
    if value <= 0:
        raise UsageError(f"{variable}: expected a positive number (bytes may end in K, M, G or T)")
    return value
