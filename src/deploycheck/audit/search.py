"""Where a log file's lines holding a trigger are: one fixed-string pass of ripgrep or GNU grep over it
(``Search``), started as early as the command line allows (``prestart``) and taken by the reader
(``logs.read``) when it gets there (``claim``).

This module imports only what starting the search needs (``os``, ``sys``): ``deploycheck
audit`` starts the search before it imports the modules that read, explain and report, so that the search
runs on one CPU while the interpreter imports those on the other.
"""

from __future__ import annotations

import os
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
    """Where the lines holding a trigger are, from a fixed-string search of the log file by ``searcher()``
    (ripgrep or GNU grep search for many fixed strings at once, in one pass, far faster than one
    ``bytes.find`` pass per string): ``(line number, byte offset of the match)`` in file order, from
    ``next_after``. The program reads the log as its standard input, and writes its hits to a pipe of 1 MiB
    where Linux allows it, so that it runs ahead of the reader instead of waiting for it.

    A log of ``SPLIT`` bytes or more is searched by two ripgrep processes at once, one on each CPU: one from
    the first line start past the middle to the end (``rest``), one from the start (``proc``), stopped as
    soon as it reports a hit past the middle (``_Watched``). That hit is the other's first, at the same byte:
    the two line numbers give the number of lines before the middle, which the other's line numbers lack.

    The program runs with a memory limit (a log of one huge line would make it hold that line), set by
    ``sh``'s ``ulimit -v`` (POSIX sh; dash and bash take it) before it execs the program: ``posix_spawn``
    sets no limits, and a ``preexec_fn`` would need a fork that runs deploycheck's at-fork handlers in the
    child. When it fails, ``failed`` is set and the caller goes on without it from where it is."""

    MEMORY = 512 * 1024 * 1024
    SPLIT = 256 * 1024 * 1024

    def __init__(self, path: str, triggers: tuple[bytes, ...], program: str) -> None:
        self.key = (path, triggers, program, _identity(path))
        self.failed = False
        self.done = False
        self.proc: _Program | None = None
        self.rest: _Program | None = None  # the part from ``middle``, when the log is split
        self.middle = 0
        self._watched: _Watched | None = None
        args = [a for t in triggers for a in (b"-e", t)]
        ripgrep = os.path.basename(program) == "rg"
        if ripgrep:  # no config file, no mmap of the whole log, bytes as they are
            options = [b"--no-config", b"--no-mmap", b"--encoding", b"none", b"-j1", b"--no-filename",
                       b"--no-heading", b"--color", b"never"]
        else:
            options = []
        command = [os.fsencode(program), *options, b"-n", b"-b", b"-o", b"-a", b"-F", *args, b"--", b"-"]
        try:
            # Never blocks: a name swapped for a named pipe since it was looked at is refused, not waited on
            # (opened plainly, a pipe nobody writes to would hold the run forever).
            with open_regular(path) as log:
                self.proc = _spawn(command, log.fileno())
                # GNU grep's offsets from standard input read from past its start are not said: not split
                if ripgrep and os.fstat(log.fileno()).st_size >= self.SPLIT:
                    self._split(path, log.fileno(), command)
        except (OSError, ValueError):  # ValueError: inputs.NotRegularFile
            self.failed = True
            return
        self._hits = self._all()

    def _split(self, path: str, fd: int, command: list[bytes]) -> None:
        # a file of its own (its own read offset), the same file as the first part's or no split
        with open_regular(path) as log:
            first, second = os.fstat(fd), os.fstat(log.fileno())
            if (first.st_dev, first.st_ino) != (second.st_dev, second.st_ino):
                return
            half = second.st_size // 2
            newline = os.pread(log.fileno(), 64 * 1024, half).find(b"\n")
            if newline < 0:  # no line start near the middle: one long line there
                return
            self.middle = half + newline + 1
            os.lseek(log.fileno(), self.middle, os.SEEK_SET)
            self.rest = _spawn(command, log.fileno())
        assert self.proc is not None and self.proc.stdout is not None
        self._watched = _Watched(self.proc, self.middle)

    def next_after(self, number: int) -> tuple[int, int] | None:
        """The first hit on a line after ``number``, or None when there is none (or the search failed)."""
        if self.done or self.proc is None:
            return None
        for line, offset in self._hits:
            if line > number:
                return line, offset
        self.done = True
        return None

    def _all(self):
        first = _records(self._watched.read if self._watched is not None else _reader(self.proc))
        for line, offset, match in first:
            if self.rest is None or offset < self.middle:
                yield line, offset
                continue
            # the first part's first hit past the middle: the second part's first hit
            second = _records(_reader(self.rest))
            line2, offset2, match2 = next(second, (0, -1, b""))
            if (offset2 + self.middle, match2) != (offset, match):  # the second part failed
                self.failed = True
                self.close()
                return
            shift = line - line2
            yield line, offset
            for line2, offset2, _ in second:
                yield line2 + shift, offset2 + self.middle
            self.failed = self.rest.wait() not in (0, 1)
            return
        self.failed = self.proc.wait() not in (0, 1)
        if self.rest is not None and not self.failed and next(_records(_reader(self.rest)), None) is not None:
            self.failed = True  # the file changed under the two: hits past the middle that the first did not see

    def close(self) -> None:
        for proc in (self.proc, self.rest):
            if proc is not None and proc.poll() is None:
                proc.kill()
        if self._watched is not None:  # before the wait: the thread may still signal the program
            self._watched.close()
        for proc in (self.proc, self.rest):
            if proc is not None:
                proc.wait()
        for proc in (self.proc, self.rest):
            if proc is not None and proc.stdout is not None:
                proc.stdout.close()


def _spawn(command: list[bytes], stdin: int) -> _Program:
    """The search program reading ``stdin`` from its offset, under ``Search.MEMORY``; its hits on a pipe.
    Raises ``OSError`` when it cannot be started."""
    limit = b'ulimit -v %d && exec "$@"' % (Search.MEMORY // 1024)  # KiB; the hard limit too (-v sets both)
    proc = _Program([b"/bin/sh", b"-c", limit, b"sh", *command], stdin, {**os.environ, "LC_ALL": "C"})
    try:
        import fcntl

        fcntl.fcntl(proc.stdout.fileno(), fcntl.F_SETPIPE_SZ, 1024 * 1024)
    except (ImportError, AttributeError, OSError):
        pass
    return proc


class _Program:
    """A program started by ``os.posix_spawn`` with ``stdin`` as its standard input, its standard output a
    pipe (``stdout``, read here) and its standard error ``/dev/null``; ``poll``, ``wait`` and ``kill`` as
    ``subprocess.Popen``'s. Not Popen: importing ``subprocess`` took about 8 ms of the time before the search
    could start. Its file descriptors are not inherited (PEP 446), and the signals Python ignores are set
    back to their defaults in the program, as Popen does."""

    def __init__(self, argv: list[bytes], stdin: int, env: dict[str, str]) -> None:
        import signal

        defaults = [getattr(signal, name) for name in ("SIGPIPE", "SIGXFZ", "SIGXFSZ") if hasattr(signal, name)]
        read, write = os.pipe()
        try:
            self.pid = os.posix_spawn(argv[0], argv, env, setsigdef=defaults, file_actions=[
                (os.POSIX_SPAWN_DUP2, stdin, 0), (os.POSIX_SPAWN_DUP2, write, 1),
                (os.POSIX_SPAWN_OPEN, 2, "/dev/null", os.O_WRONLY, 0)])
        except BaseException:
            os.close(read)
            raise
        finally:
            os.close(write)
        self.stdout = open(read, "rb", buffering=0)  # noqa: SIM115 (closed by ``Search.close``)
        self.returncode: int | None = None

    def poll(self) -> int | None:
        """The exit code (negative: the signal that ended it), or None while it runs."""
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # reaped by someone else: what it did is unknown
                self.returncode = 255
                return self.returncode
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self) -> int:
        """The exit code, once it has ended."""
        if self.returncode is None:
            try:
                _, status = os.waitpid(self.pid, 0)
                self.returncode = os.waitstatus_to_exitcode(status)
            except ChildProcessError:
                self.returncode = 255
        return self.returncode

    def kill(self) -> None:
        """SIGKILL it, unless it was waited for (its pid may then be another process's)."""
        if self.returncode is None:
            try:
                os.kill(self.pid, 9)
            except ProcessLookupError:
                pass


def _reader(proc: _Program):
    fd = proc.stdout.fileno()
    return lambda: os.read(fd, 64 * 1024)


def _records(read):
    """``(line, offset, match)`` of each record ``line:offset:match`` that ``read()`` gives (b"": the end)."""
    rest = b""
    while True:
        chunk = read()
        if not chunk:
            return
        records = (rest + chunk).split(b"\n")
        rest = records.pop()
        for record in records:
            line, _, tail = record.partition(b":")
            offset, _, match = tail.partition(b":")
            if line.isdigit() and offset.isdigit():
                yield int(line), int(offset), match


class _Watched:
    """The hits of the search from the log's start, read by a thread as they come (``read`` hands them on),
    so that the program is stopped as soon as it reports a hit at or past ``middle`` however far behind the
    reader is: past the middle it would only repeat the other part's work on a CPU the reader needs. At
    most ``HELD`` bytes are kept; past that the thread waits for the reader (and the program for the pipe)."""

    HELD = 4 * 1024 * 1024

    def __init__(self, proc: _Program, middle: int) -> None:
        import threading
        from collections import deque

        self.proc = proc
        self.middle = middle
        self.chunks: deque[bytes] = deque()
        self.held = 0
        self.ended = self.closed = False
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._run, name="deploycheck-search", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        tail = b""
        stopping = True
        while True:
            with self.cond:
                while self.held >= self.HELD and not self.closed:
                    self.cond.wait()
                if self.closed:
                    return
            try:
                chunk = os.read(fd, 64 * 1024)
            except OSError:
                chunk = b""
            with self.cond:
                if chunk:
                    self.chunks.append(chunk)
                    self.held += len(chunk)
                else:
                    self.ended = True
                self.cond.notify_all()
            if not chunk:
                return
            if stopping:
                whole = tail + chunk
                end = whole.rfind(b"\n")
                if end >= 0:
                    last = whole[whole.rfind(b"\n", 0, end) + 1:end]
                    tail = whole[end + 1:]
                    offset = last.partition(b":")[2].partition(b":")[0]
                    if offset.isdigit() and int(offset) >= self.middle:
                        stopping = False
                        self.proc.kill()  # what it wrote stays in the pipe, read on to its end
                else:
                    tail = whole

    def read(self) -> bytes:
        """The next bytes the program wrote, b"" at its end."""
        with self.cond:
            while not self.chunks and not self.ended and not self.closed:
                self.cond.wait()
            if not self.chunks:
                return b""
            chunk = self.chunks.popleft()
            self.held -= len(chunk)
            self.cond.notify_all()
            return chunk

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()
        self.thread.join(10)


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
