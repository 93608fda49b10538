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
from collections.abc import Iterator

_CHUNK = 1024 * 1024


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


# The feeder of the first half's search: copies the first ``n`` bytes of its standard input (the log, at
# offset 0) to its standard output (a pipe to the search program) with splice(2), which moves page-cache
# pages into the pipe without copying them through user space, then writes one line holding ``end`` (a
# trigger) so that the program reports, as the line number of that last hit, how many lines the half held.
_FEED = """import os, sys
n, end, done = int(sys.argv[1]), bytes.fromhex(sys.argv[2]), 0
while done < n:
    moved = os.splice(0, 1, min(n - done, 1 << 20))
    if moved <= 0:
        sys.exit(1)
    done += moved
os.write(1, end + b"\\n")
"""


class _Search:
    """One run of the search program over standard input (the whole log, or one half of it): its hits as
    ``(line, offset)`` relative to where its input starts."""

    def __init__(self, command: list[bytes], stdin: int, memory: int) -> None:
        limit = b'ulimit -v %d && exec "$@"' % (memory // 1024)  # KiB; the hard limit too (-v sets both)
        self.proc = subprocess.Popen([b"/bin/sh", b"-c", limit, b"sh", *command], stdin=stdin,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     env={**os.environ, "LC_ALL": "C"})
        self.ok = True  # False once the program failed
        try:  # room for the hits of the half not read yet, so that its search need not wait (Linux)
            import fcntl

            fcntl.fcntl(self.proc.stdout.fileno(), fcntl.F_SETPIPE_SZ, 1024 * 1024)  # type: ignore[union-attr]
        except (ImportError, AttributeError, OSError):
            pass

    def hits(self) -> Iterator[tuple[int, int]]:
        """``(line, offset)`` of each hit, in order; ``ok`` says afterwards whether the program succeeded."""
        assert self.proc.stdout is not None
        for record in self.proc.stdout:
            line, _, rest = record.partition(b":")
            offset = rest.partition(b":")[0]
            if line.isdigit() and offset.isdigit():
                yield int(line), int(offset)
        self.ok = self.proc.wait() in (0, 1)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


class Search:
    """Where the lines holding a trigger are, from a fixed-string search of the log file by ``searcher()``
    (ripgrep or GNU grep search for many fixed strings at once, in one pass, far faster than one
    ``bytes.find`` pass per string): ``(line number, byte offset of the match)`` in file order.

    A log of at least ``SPLIT`` bytes is searched in two halves at once, one program each (a search is
    bound by one CPU: reading the file costs as much as looking at it). The second half's program reads
    the log from the first line start past the middle, through a descriptor positioned there, and its line
    numbers and offsets are shifted by the first half's. The first half's program reads a pipe that a
    small feeder process fills with the first half (``_FEED``) followed by a line holding the first trigger:
    that last hit gives the number of lines in the half. Without it (the feeder or the program failed)
    the search has failed.

    Each program runs with a memory limit (a log of one huge line would make it hold that line), set by
    ``sh``'s ``ulimit -v`` (POSIX sh; dash and bash take it) before it execs the program: a ``preexec_fn``
    would make Python fork instead of spawn, and run deploycheck's at-fork handlers in the child before the
    search starts. When it fails, ``failed`` is set and the caller goes on without it from where it is."""

    MEMORY = 512 * 1024 * 1024
    SPLIT = 64 * 1024 * 1024  # bytes: smaller logs are searched by one program (two cost a few ms more)

    def __init__(self, path: str, triggers: tuple[bytes, ...], program: str) -> None:
        self.key = (path, triggers, program, _identity(path))
        self.failed = False
        self.done = False
        self.searches: list[_Search] = []
        self.feeder: subprocess.Popen | None = None
        args = [a for t in triggers for a in (b"-e", t)]
        if os.path.basename(program) == "rg":  # no config file, no mmap of the whole log, bytes as they are
            options = [b"--no-config", b"--no-mmap", b"--encoding", b"none", b"-j1", b"--no-filename",
                       b"--no-heading", b"--color", b"never"]
        else:
            options = []
        command = [os.fsencode(program), *options, b"-n", b"-b", b"-o", b"-a", b"-F", *args, b"--", b"-"]
        try:
            with open(path, "rb", buffering=0) as log:
                middle = self._middle(log)
                if middle is None:
                    self.searches.append(_Search(command, log.fileno(), self.MEMORY))
                    self._hits = self._whole()
                else:
                    self._start_halves(command, log, middle, triggers[0])
                    self._hits = self._halves(middle)
        except OSError:
            self.close()
            self.failed = True
            self._hits = iter(())

    def _middle(self, log) -> int | None:
        """Where the second half starts (the line start at or after the middle), or None: one program."""
        if not hasattr(os, "splice"):
            return None
        size = os.fstat(log.fileno()).st_size
        if size < self.SPLIT:
            return None
        newline = os.pread(log.fileno(), _CHUNK, size // 2).find(b"\n")
        return None if newline < 0 else size // 2 + newline + 1  # no line start near it: not split

    def _start_halves(self, command: list[bytes], log, middle: int, end: bytes) -> None:
        second = os.open(log.name, os.O_RDONLY)
        try:
            os.lseek(second, middle, os.SEEK_SET)
            self.searches.append(_Search(command, second, self.MEMORY))
        finally:
            os.close(second)
        pipe_in, pipe_out = os.pipe()
        try:
            try:
                import fcntl

                fcntl.fcntl(pipe_out, fcntl.F_SETPIPE_SZ, 1024 * 1024)  # fewer, larger splices
            except (ImportError, AttributeError, OSError):
                pass
            self.searches.insert(0, _Search(command, pipe_in, self.MEMORY))
            os.lseek(log.fileno(), 0, os.SEEK_SET)
            self.feeder = subprocess.Popen([sys.executable, "-I", "-S", "-c", _FEED, str(middle), end.hex()],
                                           stdin=log.fileno(), stdout=pipe_out, stderr=subprocess.DEVNULL)
        finally:
            os.close(pipe_in)
            os.close(pipe_out)

    def _whole(self) -> Iterator[tuple[int, int]]:
        search = self.searches[0]
        yield from search.hits()
        self.failed = not search.ok

    def _halves(self, middle: int) -> Iterator[tuple[int, int]]:
        first, second = self.searches
        lines = None
        for line, offset in first.hits():
            if offset >= middle:  # the feeder's last line
                lines = line - 1
                break
            yield line, offset
        for _ in first.hits():  # nothing follows the feeder's line; wait for the program's status
            pass
        assert self.feeder is not None
        if lines is None or not first.ok or self.feeder.wait() != 0:
            self.failed = True
            return
        for line, offset in second.hits():
            yield lines + line, middle + offset
        self.failed = not second.ok

    def next_after(self, number: int) -> tuple[int, int] | None:
        """The first hit on a line after ``number``, or None when there is none (or the search failed)."""
        if self.done:
            return None
        for line, offset in self._hits:
            if line > number:
                return line, offset
        self.done = True
        return None

    def close(self) -> None:
        for search in self.searches:
            search.close()
        if self.feeder is not None:
            if self.feeder.poll() is None:
                self.feeder.kill()
            self.feeder.wait()


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
