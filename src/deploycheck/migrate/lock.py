"""One ``migrate`` command at a time may change a project: a lock on the project's directory.

The lock is ``flock(2)`` on a descriptor of the project root directory itself, so taking it creates no file
(a read-only command writes nothing in the project, and a read-only checkout can be locked), and two names
of one directory (a symbolic link, a bind mount) are one lock. ``migrate apply --write`` holds it exclusively
for its whole run; ``migrate status`` and the dry run share it. So a read-only command never looks at the
journal of an apply that is still renaming (it would take a live journal for an interrupted one), and two
applies never interleave. The lock goes with the process: a killed apply leaves none behind.

A command that cannot have the lock waits at most ``LOCK_WAIT`` seconds (``DEPLOYCHECK_LOCK_WAIT`` sets
another bound), then stops with exit 2. Where the file system has no ``flock`` (some network file
systems answer ``ENOLCK``), the command goes on without it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator

from deploycheck import inputs
from deploycheck.errors import UsageError

# How long (seconds) a migrate command waits for another one on the same project before giving up.
LOCK_WAIT = 10.0
WAIT_ENV = "DEPLOYCHECK_LOCK_WAIT"
_POLL = 0.1


def _wait() -> float:
    return inputs.seconds(WAIT_ENV, LOCK_WAIT, zero=True)


@contextlib.contextmanager
def held(root: str, exclusive: bool, shown: str) -> Iterator[None]:
    """Hold the lock of the project directory ``root`` (``exclusive`` for a command that writes) while the
    block runs. Raises ``UsageError`` (shown as ``shown``, the path the user gave) when another command holds
    it past the wait. A root that cannot be opened is left to the caller's own checks (no lock)."""
    wait = _wait()
    try:
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        yield
        return
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    who = "another `deploycheck migrate` command" if exclusive else \
                        "a `migrate apply --write`"
                    raise UsageError(f"{shown}: {who} is running on this project (a migration may be in "
                                     f"progress); waited {wait:g} s for it to end ({WAIT_ENV} sets how "
                                     "long); try again when it has ended") from None
                time.sleep(_POLL)
            except OSError:
                break  # no flock on this file system: go on unlocked
        yield
    finally:
        os.close(fd)
