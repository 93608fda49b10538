"""Files of the project reached through directory descriptors: never through a symbolic link, never outside.

A path that ``migrate apply`` writes, or that its journal names, is relative to the project root and is
resolved one directory at a time with ``openat(2)`` and ``O_NOFOLLOW`` (POSIX), so neither a ``..`` nor a
symbolic link (one swapped in for a directory meanwhile included) can lead outside the root; every later
operation (read, ``linkat``, ``renameat``, ``unlinkat``) names a file by its directory descriptor and a plain
name. Files are read as ``deploycheck.inputs`` reads them (``O_NONBLOCK``, type and size taken with ``fstat``
on the opened descriptor, read within a bound), with ``O_NOFOLLOW`` added: ``inputs.open_regular`` takes a
path, and here the name must be taken relative to a directory descriptor and never through a link.
"""

from __future__ import annotations

import array
import fcntl
import hashlib
import os
import stat

from deploycheck.inputs import NotRegularFile, TooLarge

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_READ_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)

# linux/fs.h: FS_IOC_GETFLAGS is _IOR('f', 1, long); the kernel reads and writes an int through it.
_FS_IOC_GETFLAGS = 0x80086601
FS_IMMUTABLE_FL = 0x00000010  # chattr +i: no rename, link, unlink or write, root included
FS_APPEND_FL = 0x00000020     # chattr +a: a directory only gains entries; a file only grows


def bad_relative(rel: object) -> str | None:
    """Why ``rel`` is not a plain relative path inside a directory (``None`` when it is): it must be a
    non-empty string of ``/``-separated names, none empty, ``.`` or ``..``, without NUL, not absolute."""
    if not isinstance(rel, str) or not rel:
        return "not a relative path"
    if rel.startswith("/"):
        return "an absolute path"
    if "\0" in rel:
        return "a path holding NUL"
    parts = rel.split("/")
    if any(p in ("", ".", "..") for p in parts):
        return "a path with an empty, `.` or `..` component"
    return None


def open_root(root: str) -> int:
    """A descriptor of the directory ``root`` (the one name allowed to be reached through links: the user
    gave it). Raises ``OSError``."""
    return os.open(root, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))


def open_parent(root_fd: int, rel: str, cache: dict[str, int]) -> tuple[int, str]:
    """The descriptor of the directory holding ``rel`` (checked by ``bad_relative``) and the file's name in
    it. Each directory is opened with ``O_NOFOLLOW`` relative to the one above; ``cache`` (directory path ->
    descriptor) keeps them for later calls, and the caller closes them (``close_all``). Raises ``OSError``
    (``ELOOP`` or ``ENOTDIR`` for a symbolic link on the way)."""
    parts = rel.split("/")
    fd, sofar = root_fd, ""
    for part in parts[:-1]:
        sofar = f"{sofar}/{part}" if sofar else part
        if sofar not in cache:
            cache[sofar] = os.open(part, _DIR_FLAGS, dir_fd=fd)
        fd = cache[sofar]
    return fd, parts[-1]


def close_all(cache: dict[str, int]) -> None:
    """Close the descriptors ``open_parent`` kept."""
    for fd in cache.values():
        try:
            os.close(fd)
        except OSError:
            pass
    cache.clear()


def read_at(dir_fd: int, name: str, limit: int) -> tuple[bytes, os.stat_result]:
    """The bytes of the regular file ``name`` in ``dir_fd`` (at most ``limit``) and its ``fstat``. Raises
    ``OSError`` (``ELOOP`` for a symbolic link), ``NotRegularFile``, ``TooLarge``."""
    fd = os.open(name, _READ_FLAGS, dir_fd=dir_fd)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegularFile("not a regular file")
        if st.st_size > limit:
            raise TooLarge(st.st_size, limit)
        chunks, total = [], 0
        while total <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:
            raise TooLarge(total, limit)
        return b"".join(chunks), st
    finally:
        os.close(fd)


def lstat_at(dir_fd: int, name: str) -> os.stat_result | None:
    """``lstat`` of ``name`` in ``dir_fd``; ``None`` when there is no such entry. Raises other ``OSError``."""
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def attributes(fd: int) -> int:
    """The inode flags of ``fd`` (``FS_IOC_GETFLAGS``, what ``lsattr`` shows); 0 where the file system has
    none."""
    buf = array.array("i", [0])
    try:
        fcntl.ioctl(fd, _FS_IOC_GETFLAGS, buf, True)
    except OSError:
        return 0
    return buf[0]


def unlink_quietly(dir_fd: int, name: str) -> bool:
    """Remove ``name`` from ``dir_fd``; False when it could not be removed (already gone counts as done)."""
    try:
        os.unlink(name, dir_fd=dir_fd)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return True


def fsync_dir(fd: int) -> None:
    """Flush a directory's entries (after renames) where the file system allows it."""
    try:
        os.fsync(fd)
    except OSError:
        pass  # durability is best effort here; the renames themselves are what matters


def digest(data: bytes) -> str:
    """SHA-256 of ``data``, hexadecimal: the content digest the journal records."""
    return hashlib.sha256(data).hexdigest()


def identity(st: os.stat_result) -> tuple[int, int, int, int]:
    """What must not change between reading a file and renaming over it, besides its content: device, inode,
    size, modification time (ns). Not the change time: the hard link kept as the old content changes it."""
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
