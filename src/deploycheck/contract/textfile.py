"""Reading an input file (dotenv, manifest) as text, with the checks that make bad input a clear message.

The file is opened as ``deploycheck.inputs`` opens every untrusted file (regular files only, never blocking,
never more than the bound read). A file that must lie inside the project (one the repository names, or a
project file given on the command line) is refused when it leads outside the project, by a symbolic link or
``..``: its content is never read, so no part of it can reach a message.
"""

from __future__ import annotations

import os

from deploycheck.contract.limits import Budget
from deploycheck.errors import UsageError
from deploycheck.inputs import NotRegularFile, TooLarge, open_regular


def inside(path: str, root: str) -> bool:
    """Whether ``path`` (absolute, links resolved or not) is ``root`` or under it, by its components."""
    try:
        return os.path.commonpath([path, root]) == root
    except ValueError:  # one relative, or on another drive
        return False


def _opened_path(fd: int, path: str) -> str:
    """The real path of the file open on ``fd``: what ``/proc`` says was opened (no race with a link
    swapped after a check), else the path with its links resolved."""
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return os.path.realpath(path)


def read_text(path: str, what: str, kind: str = "dotenv", budget: Budget | None = None,
              within: str | None = None, why: str = "") -> str:
    """The file's text (UTF-8, a BOM allowed), charged to ``budget`` as a ``kind`` file (``dotenv`` or
    ``manifest``). With ``within`` (a directory, links resolved), the file must lie inside it; ``why`` ends
    the message refusing one that does not. Raises ``UsageError`` when the file is missing, outside
    ``within``, not a regular file, past the budget, binary (holds NUL bytes) or not UTF-8."""
    budget = budget or Budget()
    where = f"{what} {path}"
    try:
        if within is not None and not inside(os.path.realpath(path), within):
            raise UsageError(f"{where}: leads outside the project{why}")
        limit = budget.remaining_bytes(kind)
        with open_regular(path, limit) as f:
            if within is not None and not inside(_opened_path(f.fileno(), path), within):
                raise UsageError(f"{where}: leads outside the project{why}")
            data = f.read(limit + 1)
    except FileNotFoundError:
        raise UsageError(f"{where}: no such file") from None
    except NotRegularFile:
        raise UsageError(f"{where}: not a regular file") from None
    except TooLarge:
        raise budget.too_large(kind, where) from None
    except ValueError:  # a NUL byte in the path
        raise UsageError(f"{where}: not a valid path") from None
    except OSError as exc:
        raise UsageError(f"{where}: cannot read: {exc.strerror}") from None
    if len(data) > limit:  # it grew while read
        raise budget.too_large(kind, where)
    budget.charge_bytes(kind, len(data))
    if b"\0" in data:
        raise UsageError(f"{where}: a binary file, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{where}: not UTF-8 text (byte {exc.start})") from None
