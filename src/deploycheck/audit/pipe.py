"""A log given as a named pipe (a FIFO, or the ``/dev/fd/N`` of a shell's ``<(kubectl logs ...)``), opened
without waiting forever for a writer that never comes.

POSIX ``open()`` of a FIFO for reading blocks until a process opens it for writing, unless ``O_NONBLOCK`` is
given, when it returns at once; ``read()`` on an empty pipe then returns end-of-file when no process has it
open for writing, and fails with ``EAGAIN`` when one has (POSIX ``read()``, "When attempting to read from an
empty pipe or FIFO"). So the pipe is opened non-blocking and read until it gives its first bytes (the log
has started), fails with ``EAGAIN`` (a writer holds it open and has written nothing yet: it is waited for as
any pipe is, without a bound), or ``poll`` reports a hang-up (a writer came and left: the log is empty).
Past ``WAIT`` seconds with none of these, the command stops with a one-line error (exit 2).

One case cannot be told apart: a writer that opened the pipe before deploycheck did (it waited in its own
``open``) and closed it without writing is taken, after ``WAIT`` seconds, for no writer at all.
"""

from __future__ import annotations

import io
import os
import select
import time

from deploycheck import inputs
from deploycheck.errors import UsageError

WAIT = 30.0  # seconds a named pipe may stay without a writer
WAIT_ENV = "DEPLOYCHECK_LOG_WAIT"
_POLL = 0.05  # seconds between looks for a writer that has opened the pipe but not written yet
_READ = 64 * 1024


def wait_seconds() -> float:
    """``WAIT``, or ``DEPLOYCHECK_LOG_WAIT`` (seconds, more than 0 and at most 86400). Raises ``UsageError``
    for another value."""
    return inputs.seconds(WAIT_ENV, WAIT)


class _Prefixed(io.RawIOBase):
    """The bytes read while waiting for the writer, then the rest of the pipe (blocking reads)."""

    def __init__(self, fd: int, first: bytes) -> None:
        self._file = io.FileIO(fd, "rb", closefd=True)
        self._first = first

    def readable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._file.fileno()

    def readinto(self, buffer) -> int | None:
        if self._first:
            n = min(len(buffer), len(self._first))
            buffer[:n] = self._first[:n]
            self._first = self._first[n:]
            return n
        return self._file.readinto(buffer)

    def close(self) -> None:
        self._file.close()
        super().close()


def open_pipe(path: str, buffering: int, seconds: float | None = None) -> io.BufferedReader:
    """The named pipe at ``path`` open for reading (a buffered binary stream of ``buffering`` bytes), once a
    writer has opened it or written to it, waiting at most ``seconds`` (``wait_seconds()`` when None).
    Raises ``UsageError`` when no writer came in time or the pipe cannot be opened."""
    seconds = wait_seconds() if seconds is None else seconds
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise UsageError(f"--log {path}: cannot read it ({exc.strerror or exc})") from None
    try:
        first = _first_bytes(fd, path, seconds)
        os.set_blocking(fd, True)
        return io.BufferedReader(_Prefixed(fd, first), buffering)
    except BaseException:
        os.close(fd)
        raise


def _first_bytes(fd: int, path: str, seconds: float) -> bytes:
    """What the pipe holds already (b"" when a writer holds it open without having written, or came and
    left); raises ``UsageError`` when no writer came within ``seconds``."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    deadline = time.monotonic() + seconds
    hung_up = False
    while True:
        try:
            data = os.read(fd, _READ)
        except BlockingIOError:
            return b""  # EAGAIN: a writer has it open; from now on the pipe is waited for as any pipe is
        if data or hung_up:  # after a hang-up, what the writer left (b"": an empty log)
            return data
        left = deadline - time.monotonic()
        if left <= 0:
            raise UsageError(f"--log {path}: a named pipe that no program opened for writing within "
                             f"{seconds:g} s; start the program that writes it first, or give a file "
                             f"({WAIT_ENV}=SECONDS sets another bound)")
        # Linux reports a hang-up only when a writer opened the pipe after this process did, and left
        hung_up = any(event & select.POLLHUP for _, event in poller.poll(min(left, _POLL) * 1000))
