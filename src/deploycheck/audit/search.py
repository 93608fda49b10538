"""Where a log file's lines holding a trigger are: one fixed-string pass of ripgrep or GNU grep over it
(``Search``), started as early as the command line allows (``prestart``) and taken by the reader
(``logs.read``) when it gets there (``claim``).

This module imports only what starting the search needs (``os``, ``sys``, ``subprocess``): ``deploycheck
audit`` starts the search before it imports the modules that read, explain and report, so that the search
runs on one CPU while the interpreter imports those on the other.
"""

from __future__ import annotations

import os
import subprocess
import sys

from deploycheck.inputs import open_regular


def searcher() -> str | None:
    """The program that finds the triggers in a log file: ripgrep (``rg``, beside deploycheck's interpreter
    or on ``PATH``), else GNU ``grep``, else None. ripgrep's many-string search (SIMD "Teddy") runs several
    times faster than grep's when there are tens of strings; both print ``line:offset:match``."""
    where = [os.path.dirname(sys.executable), *os.environ.get("PATH", os.defpath).split(os.pathsep)]
    for name in ("rg", "grep"):
        for folder in where:  # what shutil.which does, without importing shutil (this module starts early)
            found = os.path.join(folder or ".", name)
            if os.path.isfile(found) and os.access(found, os.X_OK):
                return found
    return None


class Search:
    """Where the lines holding a trigger are, from one fixed-string pass over the log file by ``searcher()``
    (ripgrep or GNU grep search for many fixed strings at once, in one pass, far faster than one
    ``bytes.find`` pass per string): ``(line number, byte offset of the match)`` in file order, from
    ``next_after``. The program reads the log as its standard input, and writes its hits to a pipe of 1 MiB
    where Linux allows it, so that it runs ahead of the reader instead of waiting for it.

    The program runs with a memory limit (a log of one huge line would make it hold that line), set by
    ``sh``'s ``ulimit -v`` (POSIX sh; dash and bash take it) before it execs the program: a ``preexec_fn``
    would make Python fork instead of spawn, and run deploycheck's at-fork handlers in the child before the
    search starts. When it fails, ``failed`` is set and the caller goes on without it from where it is."""

    MEMORY = 512 * 1024 * 1024

    def __init__(self, path: str, triggers: tuple[bytes, ...], program: str) -> None:
        self.key = (path, triggers, program, _identity(path))
        self.failed = False
        self.done = False
        self.proc: subprocess.Popen | None = None
        args = [a for t in triggers for a in (b"-e", t)]
        if os.path.basename(program) == "rg":  # no config file, no mmap of the whole log, bytes as they are
            options = [b"--no-config", b"--no-mmap", b"--encoding", b"none", b"-j1", b"--no-filename",
                       b"--no-heading", b"--color", b"never"]
        else:
            options = []
        limit = b'ulimit -v %d && exec "$@"' % (self.MEMORY // 1024)  # KiB; the hard limit too (-v sets both)
        try:
            # Never blocks: a name swapped for a named pipe since it was looked at is refused, not waited on
            # (opened plainly, a pipe nobody writes to would hold the run forever).
            with open_regular(path) as log:
                command = [os.fsencode(program), *options, b"-n", b"-b", b"-o", b"-a", b"-F", *args, b"--",
                           b"-"]
                self.proc = subprocess.Popen([b"/bin/sh", b"-c", limit, b"sh", *command], stdin=log.fileno(),
                                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                             env={**os.environ, "LC_ALL": "C"})
        except (OSError, ValueError):  # ValueError: inputs.NotRegularFile
            self.failed = True
            return
        try:
            import fcntl

            assert self.proc.stdout is not None
            fcntl.fcntl(self.proc.stdout.fileno(), fcntl.F_SETPIPE_SZ, 1024 * 1024)
        except (ImportError, AttributeError, OSError):
            pass

    def next_after(self, number: int) -> tuple[int, int] | None:
        """The first hit on a line after ``number``, or None when there is none (or the search failed)."""
        while not self.done and self.proc is not None and self.proc.stdout is not None:
            record = self.proc.stdout.readline()
            if not record:
                self.done = True
                self.failed = self.proc.wait() not in (0, 1)
                return None
            line, _, rest = record.partition(b":")
            offset = rest.partition(b":")[0]
            if line.isdigit() and offset.isdigit() and int(line) > number:
                return int(line), int(offset)
        return None

    def close(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            if self.proc.stdout is not None:
                self.proc.stdout.close()


_started: list[Search] = []  # the search ``prestart`` started, until ``claim`` or ``discard``


def _identity(path: str) -> tuple[int, int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def prestart(argv: list[str], triggers: tuple[bytes, ...]) -> None:
    """Start the search of ``deploycheck audit``'s log (``--log FILE`` or ``--log=FILE`` in ``argv``, the
    arguments after the program's name) before the arguments are parsed, when that is a regular file and
    a search program is there. A search nobody claims is ended by ``discard``; errors are left to the run
    (an unreadable log is reported by the reader), so nothing here raises ``OSError``."""
    path = None
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        if arg == "--log" and i + 1 < len(argv):
            path = argv[i + 1]
        elif arg.startswith("--log="):
            path = arg[len("--log="):]
    if path is None or path == "-" or not os.path.isfile(path):
        return
    program = searcher()
    if program is not None:
        discard()
        _started.append(Search(path, triggers, program))


def claim(path: str, triggers: tuple[bytes, ...], program: str) -> Search | None:
    """The search ``prestart`` started for this file (the same path, triggers and program, and the file not
    changed since), or None (and any other search started is ended)."""
    if _started and _started[0].key == (path, triggers, program, _identity(path)):
        return _started.pop()
    discard()
    return None


def discard() -> None:
    """End the search ``prestart`` started if nobody claimed it (its processes killed and waited for)."""
    while _started:
        _started.pop().close()
