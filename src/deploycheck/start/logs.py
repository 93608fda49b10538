"""The output of a starting service, read as it comes: the last lines kept, Python tracebacks and
``ERROR``/``CRITICAL`` log lines grouped and counted. Bounded whatever the service writes: a line is cut at
MAX_LINE characters, at most MAX_GROUPS groups and MAX_TAIL lines are kept; every line is scrubbed before it
is kept (``shown``): of the secrets the run knows, and of those the service prints itself."""

from __future__ import annotations

import re
import threading
from collections import deque

from deploycheck.start.observation import Traceback

MAX_LINE = 2000
MAX_TAIL = 40
MAX_GROUPS = 50
MAX_FRAMES = 5
# A log record's level as the logging module's default formats, gunicorn and uvicorn print it.
_LEVEL = re.compile(r"(?:^|[\s\[:|])(ERROR|CRITICAL|FATAL)(?:$|[\s\]:|])")
_FRAME = re.compile(r'^\s+File "(?P<path>[^"]+)", line (?P<line>\d+), in (?P<func>.+)$')
_VARYING = re.compile(r"\d+|0x[0-9a-f]+", re.IGNORECASE)  # times, ids, pids: one group for one message


def shown(text: str) -> str:
    """``text`` written by the service (or a dependency, a probe) made safe to show in any report: what is
    secret by its shape masked (``contract.redact.pairs_in``: a service printing ``password=...``, a cookie
    header, a vendor's token or a client's command line itself), then every form of every registered secret
    and every URL's credentials (``contract.scrub.scrub``), as audit's report does."""
    from deploycheck.contract import redact, scrub

    return scrub.scrub(redact.pairs_in(text))


def _whole_words(line: str, continued: bool, goes_on: bool) -> str:
    """``line`` cut to at most MAX_LINE characters, without the word a cut went through: at its end when it
    is longer or ``goes_on`` (the next read continues it), at its start when it ``continued`` the last read.
    Half a token or password is not recognized as one by ``shown``, and would be shown."""
    if continued:
        line = "… " + line.partition(" ")[2]
    if goes_on or len(line) > MAX_LINE:
        kept = line[:MAX_LINE - 2]  # room for " …"
        line = kept[:kept.rfind(" ") + 1].rstrip() + " …"
    return line


class LogReader:
    """Reads ``stream`` (bytes lines) in a thread until it ends. ``scrub(text)`` masks secrets."""

    def __init__(self, stream, scrub) -> None:
        self.scrub = scrub
        self.tail: deque[str] = deque(maxlen=MAX_TAIL)
        self.tracebacks: dict[str, Traceback] = {}
        self.errors: dict[str, int] = {}
        self._samples: dict[str, str] = {}
        self._lock = threading.Lock()
        self._in_tb: list[str] | None = None
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        continued = False  # the last read ended inside a line (longer than MAX_LINE * 4 bytes)
        try:
            while True:
                raw = stream.readline(MAX_LINE * 4)
                if not raw:
                    break
                goes_on = not raw.endswith(b"\n") and len(raw) == MAX_LINE * 4  # the next read continues it
                line = _whole_words(raw.decode("utf-8", "replace").rstrip("\r\n"), continued, goes_on)
                continued = goes_on
                with self._lock:
                    self._line(self.scrub(line))
        except (OSError, ValueError):
            pass
        with self._lock:
            self._end_traceback(None)

    def _line(self, line: str) -> None:
        self.tail.append(line)
        if line.startswith("Traceback (most recent call last):"):
            self._end_traceback(None)
            self._in_tb = []
            return
        if self._in_tb is not None:
            if line.startswith((" ", "\t")) or not line.strip():
                self._in_tb.append(line)
                return
            if line.startswith(("During handling", "The above exception")):
                self._in_tb = []  # the traceback of the exception that ended it follows
                return
            self._end_traceback(line)
            return
        if _LEVEL.search(line):
            key = _VARYING.sub("#", line)
            if key in self._samples:
                self.errors[self._samples[key]] += 1
            elif len(self.errors) < MAX_GROUPS:
                self._samples[key] = line
                self.errors[line] = 1

    def _end_traceback(self, exception: str | None) -> None:
        if self._in_tb is None:
            return
        lines, self._in_tb = self._in_tb, None
        if exception is None:
            return
        frames = []
        for i, text in enumerate(lines):
            m = _FRAME.match(text)
            if m:
                statement = lines[i + 1].strip() if i + 1 < len(lines) and not _FRAME.match(lines[i + 1]) else ""
                frames.append((m.group("path"), int(m.group("line")), m.group("func"), statement))
        found = self.tracebacks.get(exception)
        if found is not None:
            found.count += 1
        elif len(self.tracebacks) < MAX_GROUPS:
            self.tracebacks[exception] = Traceback(exception, frames[-MAX_FRAMES:])

    def snapshot(self) -> tuple[list[str], list[Traceback], dict[str, int]]:
        """The last lines, the tracebacks and the error lines so far (copies)."""
        with self._lock:
            return list(self.tail), list(self.tracebacks.values()), dict(self.errors)

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)
