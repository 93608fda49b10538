"""Private temporary directories: one place that makes them and one that removes them.

Each is made by ``tempfile.mkdtemp`` (mode 0700, under ``TMPDIR``) and recorded, so that however a run ends
(finished, an error, SIGINT or SIGTERM turned into an exception by the CLI) ``remove_all`` in the CLI's
``finally`` removes what the code that made a directory did not get to remove itself.
"""

from __future__ import annotations

import shutil
import tempfile

_MADE: list[str] = []


def make(prefix: str) -> str:
    """A new private directory (mode 0700) named ``prefix`` + random letters under ``TMPDIR``; its path.
    Raises ``OSError`` when it cannot be made."""
    path = tempfile.mkdtemp(prefix=prefix)
    _MADE.append(path)
    return path


def make_in(parent: str, prefix: str) -> str:
    """A new private directory (mode 0700) named ``prefix`` + random letters in ``parent`` (a directory of
    ours: to be renamed within its file system when complete); its path. Raises ``OSError``."""
    path = tempfile.mkdtemp(prefix=prefix, dir=parent)
    _MADE.append(path)
    return path


def remove(path: str) -> None:
    """Remove a directory made by ``make`` and everything in it; quiet when it is already gone."""
    shutil.rmtree(path, ignore_errors=True)
    if path in _MADE:
        _MADE.remove(path)


def remove_all() -> None:
    """Remove every directory ``make`` made that is still there (the CLI's last step)."""
    while _MADE:
        shutil.rmtree(_MADE.pop(), ignore_errors=True)
