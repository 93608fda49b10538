"""Read a log in the shapes people have, one line at a time, in bounded memory.

Shapes, told apart line by line (a log may mix them):

- plain text, as a Python process writes to stderr;
- an RFC 3339 timestamp before each line (``kubectl logs --timestamps``, ``docker logs -t``), and
  ``kubectl logs --prefix``'s ``[pod/NAME/CONTAINER]`` before that;
- JSON lines: Cloud Logging entries (``textPayload``, ``jsonPayload.message``, ``severity``, ``timestamp``,
  ``resource.labels.revision_name``, ``labels.instanceId``; Google's LogEntry reference), Docker's json-file
  records (``log``, ``time``), and structured loggers (``message``/``msg``/``event``, ``level``, with the
  traceback in ``exc_info``, ``exception``, ``stack_trace``, ``traceback`` or ``exc_text``);
- a JSON array of such entries (``gcloud logging read --format=json``), read entry by entry.

Each line is yielded as an ``Entry`` with the stream it belongs to (``key``): lines of one revision and
instance, or one pod and container, are reassembled together even when other streams' lines come between.
A line is cut at ``MAX_LINE`` bytes, a JSON array entry refused past ``MAX_ENTRY`` bytes; nothing else is kept.
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, NamedTuple

from deploycheck.audit import search
from deploycheck.audit.model import Frozen, LogSpot, Record
from deploycheck.audit.search import searcher
from deploycheck.errors import UsageError

MAX_LINE = 64 * 1024  # bytes of one line kept; the rest of a longer line is skipped
MAX_ENTRY = 4 * 1024 * 1024  # bytes of one entry of a JSON array
_CHUNK = 1024 * 1024
_SMALL = 16 * 1024  # a jump to a hit refills the buffer: room for _NEAR bytes before it and the lines after
_PEEK = 64 * 1024
_NEAR = 4 * 1024  # bytes before a hit first searched for the start of its line

# the line's text follows the match (``end()``): not captured, which would copy it once more per line
_STAMP = re.compile(r"(?P<ts>\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?) ?")
_KUBE_PREFIX = re.compile(r"^\[(?P<key>pod/[^\]\s]+)\] (?P<rest>.*)$", re.DOTALL)
_MESSAGE_FIELDS = ("message", "msg", "event", "log", "textPayload")
_EXCEPTION_FIELDS = ("exc_info", "exception", "stack_trace", "stacktrace", "traceback", "exc_text", "stack")
_SEVERITY_FIELDS = ("severity", "level", "levelname", "log.level")
_TIME_FIELDS = ("timestamp", "time", "ts", "@timestamp", "asctime", "receiveTimestamp")


class Entry(NamedTuple):
    """One line of the log with its envelope removed (a named tuple: one is made per line read, and a
    frozen dataclass costs several times as much to make).

    ``text`` never ends with a newline. ``key`` names the stream the line belongs to ("" for a plain log).
    ``spot.line`` is the log line (1-based) of the record: several entries share it when one record held
    several lines (a JSON entry's multi-line message): ``whole`` is then True and ``last`` marks the last of
    those, after which a traceback the record held is over. ``split`` says
    the record is one line of a longer output that the logging agent cut into one entry per line (Cloud
    Run's stderr), so that lines of other requests may fall between the lines of one traceback.
    """

    text: str
    spot: LogSpot
    key: str = ""
    last: bool = True
    whole: bool = False
    split: bool = False


class Stats(Record):
    """What the reader saw: lines read (the whole log's when ``lines_known``), bytes read, lines cut at
    ``MAX_LINE``, entries skipped by ``--since``, and the shapes met (``plain``, ``timestamped``, ``json``)."""

    __slots__ = ("bytes", "cut", "lines", "lines_known", "shapes", "skipped")
    lines: int
    cut: int
    skipped: int
    bytes: int
    lines_known: bool  # False when the end of the log was skipped without counting its lines
    shapes: set[str] | None

    def __init__(self, lines: int = 0, cut: int = 0, skipped: int = 0, bytes: int = 0,
                 lines_known: bool = True, shapes: set[str] | None = None) -> None:
        self.lines = lines
        self.cut = cut
        self.skipped = skipped
        self.bytes = bytes
        self.lines_known = lines_known
        self.shapes = shapes

    _fields = ("lines", "cut", "skipped", "bytes", "lines_known", "shapes")

    def saw(self, shape: str) -> None:
        if self.shapes is None:
            self.shapes = set()
        self.shapes.add(shape)


def parse_time(text: str) -> datetime | None:
    """An RFC 3339 / ISO 8601 timestamp as an aware datetime (UTC when it names no zone), or None. Fractions
    past microseconds (Docker's and Cloud Logging's nanoseconds) are cut."""
    m = re.match(r"^(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(?:[.,](\d+))?(Z|[+-]\d\d:?\d\d)?$", text.strip())
    if not m:
        return None
    day, clock, frac, zone = m.groups()
    value = f"{day}T{clock}" + (f".{frac[:6].ljust(6, '0')}" if frac else "")
    if zone and zone != "Z":
        value += zone if ":" in zone else f"{zone[:3]}:{zone[3:]}"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _open(path: str, buffering: int = _CHUNK):
    # a large buffer: runs of lines are skipped a window at a time (``Skip``)
    if path == "-":
        return open(sys.stdin.fileno(), "rb", buffering=_CHUNK, closefd=False)
    try:
        if stat.S_ISFIFO(os.stat(path).st_mode):  # a named pipe, or <(command): a bounded wait for its writer
            from deploycheck.audit.pipe import open_pipe

            return open_pipe(path, buffering)
        return open(path, "rb", buffering=buffering)
    except IsADirectoryError:
        raise UsageError(f"--log {path}: is a directory, not a log file") from None
    except OSError as exc:
        raise UsageError(f"--log {path}: cannot read it ({exc.strerror or exc})") from None


def _binary(head: bytes) -> bool:
    """Whether the first bytes of a log are not UTF-8 text: NUL bytes (binary data, or UTF-16), or more than
    a tenth of the characters undecodable."""
    if not head:
        return False
    if head.count(b"\0") > len(head) // 100:
        return True
    text = head.decode("utf-8", errors="replace")
    return text.count("\ufffd") > len(text) // 10


class Skip(Frozen):
    """Lets ``read`` pass over lines nobody needs: while ``idle()`` says no traceback is open, a line holding
    none of ``triggers`` (the texts that start a traceback or a note) cannot matter, and whole runs of such
    lines are counted and skipped with ``bytes.find`` instead of being decoded one by one."""

    idle: Callable[[], bool]
    triggers: tuple[bytes, ...]
    runs: Any  # repeats.Runs: a run of lines read before is yielded as one replay (``_lines``)

    def __init__(self, idle: Callable[[], bool], triggers: tuple[bytes, ...], runs: Any = None) -> None:
        attrs = self.__dict__  # written directly: __setattr__ refuses
        attrs["idle"] = idle
        attrs["triggers"] = triggers
        attrs["runs"] = runs

    _fields = ("idle", "triggers", "runs")


class _Finder:
    """The next position of each trigger in a forward-only stream, each text searched once (amortized)."""

    def __init__(self, triggers: tuple[bytes, ...]) -> None:
        self.at: dict[bytes, int | None] = dict.fromkeys(triggers)
        self.until: dict[bytes, int] = dict.fromkeys(triggers, 0)

    def first(self, window: bytes, offset: int) -> int:
        """The smallest position (relative to ``window``, which starts at ``offset`` in the stream) of a
        trigger in ``window``, or -1."""
        end = offset + len(window)
        best = -1
        for t, at in self.at.items():
            if at is None or at < offset:
                start = offset if at is not None else max(offset, self.until[t] - len(t) + 1)
                if start < end:
                    found = window.find(t, start - offset)
                    at = self.at[t] = None if found < 0 else offset + found
                    self.until[t] = end
            if at is not None and at < end and (best < 0 or at - offset < best):
                best = at - offset
        return best


class _Order:
    """Refuses a log exported newest first (``gcloud logging read``'s default order): among the first
    ``LOOK`` entries' distinct times, at least ``DESCENTS`` steps back in time and none forward. Tracebacks
    are reassembled in the log's order, so such a log would put a split traceback's lines backwards."""

    LOOK, DESCENTS = 200, 5

    def __init__(self) -> None:
        self.seen = 0
        self.last: datetime | None = None
        self.down = self.up = 0

    def settled(self) -> bool:
        """Whether ``see`` can no longer refuse the log (past ``LOOK`` entries, or a step forward in time)."""
        return self.seen >= self.LOOK or self.up > 0

    def see(self, entry: Entry) -> None:
        if self.seen >= self.LOOK or not entry.spot.timestamp or not entry.last:
            return
        self.seen += 1
        when = parse_time(entry.spot.timestamp)
        if when is None:
            return
        if self.last is not None and when != self.last:
            if when < self.last:
                self.down += 1
            else:
                self.up += 1
        self.last = when
        if self.down >= self.DESCENTS and self.up == 0:
            raise UsageError("--log: its entries are newest first; give them oldest first "
                             "(gcloud logging read --order=asc, or reverse the file with tac)")


def read(path: str, since: str | None = None, stats: Stats | None = None, skip: Skip | None = None) \
        -> Iterator[Entry]:
    """The entries of the log at ``path`` (``-``: standard input), in the log's order.

    ``since``: an RFC 3339 time; entries stamped earlier are skipped (entries without a time are kept).
    ``skip``: pass over lines that cannot matter (see ``Skip``); line numbers stay those of the log.
    Raises ``UsageError`` when the file cannot be read, is binary, or ``since`` is not a time.
    """
    stats = stats if stats is not None else Stats()
    cutoff = None
    if since is not None:
        cutoff = parse_time(since)
        if cutoff is None:
            raise UsageError(f"--since {since!r}: expected an RFC 3339 time such as 2024-05-01T12:00:00Z")
    # with grep's offsets the reader seeks from hit to hit, and each seek refills the buffer: a small one
    program = searcher() if skip is not None and path != "-" and os.path.isfile(path) else None
    use_grep = program is not None
    stream = _open(path, _SMALL if use_grep else _CHUNK)
    grep = None
    try:
        try:
            head = stream.peek(_PEEK)[:_PEEK]
        except (AttributeError, OSError):
            head = b""
        if _binary(head):
            raise UsageError(f"--log {path}: not a UTF-8 text log (binary data in its first bytes)")
        start = head.lstrip()
        array = start[:1] == b"[" and start[1:].lstrip()[:1] in (b"{", b"]")  # not a "[2024-05-01 ...]" line
        if use_grep and not array and skip is not None and program is not None:
            grep = search.claim(path, skip.triggers, program) or search.Search(path, skip.triggers, program)
        else:
            search.discard()  # a search started early for this log is of no use
        runs = skip.runs if skip is not None and not array else None
        if runs is not None:
            runs.enabled = cutoff is None  # --since compares each entry's time: no line is replayed
        records = _array(stream, stats) if array else _lines(stream, stats, skip, grep)
        order = _Order()
        plain = _Plain(stats).entry
        for number, record in records:
            if record.__class__ is str and cutoff is None and order.seen >= order.LOOK:
                yield plain(number, record)  # most records: a plain line, one entry, nothing more to check
                continue
            if record.__class__ is not str and record.__class__ is not dict:  # a replay (``repeats``)
                yield record
                continue
            entries = (plain(number, record),) if isinstance(record, str) else _entries(number, record, stats)
            for entry in entries:
                if order.seen < order.LOOK:
                    order.see(entry)
                    if runs is not None and not runs.settled:
                        runs.settled = order.settled()
                if cutoff is not None and entry.spot.timestamp:
                    when = parse_time(entry.spot.timestamp)
                    if when is not None and when < cutoff:
                        stats.skipped += 1
                        continue
                yield entry
    except OSError as exc:  # a read failing part way (EIO: a failing disk, a file of /proc not readable)
        raise UsageError(f"--log {path}: cannot read it ({exc.strerror or exc})") from None
    finally:
        stream.close()
        if grep is not None:
            grep.close()


def _lines(stream, stats: Stats, skip: Skip | None = None, grep: search.Search | None = None) \
        -> Iterator[tuple[int, str | dict]]:
    number = 0
    offset = 0
    finder = _Finder(skip.triggers) if skip is not None else None
    idle = skip.idle if skip is not None else None
    runs = skip.runs if skip is not None else None
    seekable = runs is not None and stream.seekable()  # standard input and named pipes are not
    readline = stream.readline
    while True:
        if idle is None or not idle():  # in a traceback (or no skipping): the next line is read
            pass
        else:
            if runs is not None and runs.raws is not None:  # no traceback open again: the run read since
                runs.end()  # the last such point ends
            if grep is not None and not grep.failed:
                hit = grep.next_after(number)
                if hit is None and not grep.failed:  # no trigger in the rest of the log
                    stats.bytes = max(offset, os.fstat(stream.fileno()).st_size)
                    stats.lines_known = False
                    return
                if hit is not None and hit[0] == number + 1 and hit[1] - offset <= _NEAR:
                    pass  # on the next line, which starts where the reader is (a crash's header after its
                    # start)
                elif hit is not None:
                    start = _line_start(stream, offset, hit[1])
                    if start is None:  # the trigger lies past MAX_LINE in its line, where no line is read ...
                        stream.seek(hit[1])
                        probe = stream.read(len(TRACEBACK_HEADER) + 1)
                        if probe not in (TRACEBACK_HEADER, TRACEBACK_HEADER + b"\n", TRACEBACK_HEADER + b"\r"):
                            stream.seek(offset)
                            continue
                        # ... unless it is a header that ends the line: a traceback printed after a long unended
                        # line (a progress bar) starts there; in a long JSON record it would not
                        start = hit[1]
                    stream.seek(start)
                    offset, number = start, hit[0] - 1
                    stats.lines = number
            elif finder is not None:
                window = stream.peek(_CHUNK)
                first = finder.first(window, offset)
                end = window.rfind(b"\n", 0, first if first >= 0 else len(window)) + 1
                if end > 0:  # whole lines before the first trigger: counted, not read
                    lines = window.count(b"\n", 0, end)
                    number += lines
                    stats.lines += lines
                    offset += len(stream.read(end))
                    continue
            if runs is not None and runs.enabled:
                found = runs.match(stream.peek(1), number + 1)  # what the buffer holds: most often enough
                if found is None and runs.short and seekable:
                    window = stream.read(runs.WINDOW)
                    found = runs.match(window, number + 1)
                    stream.seek(-len(window), os.SEEK_CUR)  # relative: standard input may be a file read
                    # from past its start
                if found is not None:  # the lines of a run read before: one replay stands for them
                    replay, size = found
                    offset += len(stream.read(size))
                    count = len(replay.run.rests)
                    number += count
                    stats.lines += count
                    yield replay.first, replay
                    continue
                runs.begin(number + 1)
        raw = readline(MAX_LINE + 1)
        if not raw:
            stats.bytes = offset
            return
        if runs is not None and runs.raws is not None:
            runs.add(raw)
        offset += len(raw)
        number += 1
        stats.lines += 1
        if len(raw) > MAX_LINE and not raw.endswith(b"\n"):
            raw = raw[:MAX_LINE]
            stats.cut += 1
            tail = b""
            while True:  # skip the rest of the line, keeping only its last MAX_LINE bytes
                rest = stream.readline(_CHUNK)
                offset += len(rest)
                tail = (tail + rest)[-MAX_LINE:]
                if not rest or rest.endswith(b"\n"):
                    break
            # a traceback printed after a long unended line (a progress bar) starts inside it: keep it
            header = tail.rfind(TRACEBACK_HEADER)
            if header >= 0 and tail[header:].rstrip(b"\r\n") == TRACEBACK_HEADER:
                raw = tail[header:]
        text = raw.decode("utf-8", "replace").rstrip("\r\n")
        if text[:1] == "{":
            try:
                value = json.loads(text)
            except (ValueError, RecursionError):  # not JSON, or nested deeper than the decoder recurses
                value = None
            if isinstance(value, dict):
                yield number, value
                continue
        yield number, text


TRACEBACK_HEADER = b"Traceback (most recent call last):"


def _line_start(stream, offset: int, at: int) -> int | None:
    """The offset of the line holding byte ``at`` (``offset``, where the stream is, starts a line), or None
    when that line starts more than ``MAX_LINE`` bytes before ``at``."""
    for back in (_NEAR, MAX_LINE):  # most lines are short: look just before the hit first
        low = max(offset, at - back)
        stream.seek(low)
        newline = stream.read(at - low).rfind(b"\n")
        if newline >= 0:
            return low + newline + 1
        if low == offset:
            return low
    return None


def _array(stream, stats: Stats) -> Iterator[tuple[int, str | dict]]:
    """The entries of a JSON array, decoded one at a time from a buffer of at most ``MAX_ENTRY`` bytes."""
    decoder = json.JSONDecoder()
    buffer = ""
    line = 1
    ended = False
    while True:
        stripped = buffer.lstrip(" \t\r\n,[")
        line += buffer[:len(buffer) - len(stripped)].count("\n")
        buffer = stripped
        if buffer.startswith("]"):
            return
        try:
            value, end = decoder.raw_decode(buffer) if buffer else (None, 0)
        except RecursionError:
            raise UsageError("--log: a JSON entry nested deeper than the decoder reads") from None
        except ValueError:
            value, end = None, 0
        if end:
            stats.lines += 1
            if isinstance(value, dict):
                yield line, value
            line += buffer[:end].count("\n")
            buffer = buffer[end:]
            continue
        if ended:
            if buffer.strip():
                raise UsageError("--log: the JSON array ends in the middle of an entry")
            return
        if len(buffer) > MAX_ENTRY:
            raise UsageError(f"--log: a JSON entry longer than {MAX_ENTRY // (1024 * 1024)} MiB "
                             "(deploycheck's limit on untrusted input)")
        chunk = stream.read(_CHUNK)
        if not chunk:
            ended = True
        buffer += chunk.decode("utf-8", errors="replace")


def _field(record: dict, dotted: str):
    value = record
    for part in dotted.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _text(value) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):  # a traceback as a list of lines
        return "".join(v if v.endswith("\n") else v + "\n" for v in value)
    return None


def _entries(number: int, record: dict, stats: Stats) -> Iterator[Entry]:
    """The entries of one JSON record (a plain line's is ``_Plain.entry``)."""
    stats.saw("json")
    payload = record.get("jsonPayload") if isinstance(record.get("jsonPayload"), dict) else record
    message = next((t for f in _MESSAGE_FIELDS if (t := _text(payload.get(f))) is not None), None)
    if message is None:
        message = _text(record.get("textPayload"))
    exception = None
    for name in _EXCEPTION_FIELDS:  # a flag such as ``"exc_info": true`` is no traceback
        value = _text(payload.get(name))
        if value and ("\n" in value.strip("\n") or "Traceback" in value):
            exception = value
            break
    severity = next((str(v) for f in _SEVERITY_FIELDS if (v := _field(payload, f) or _field(record, f))), None)
    stamp = next((str(v) for f in _TIME_FIELDS if isinstance(v := record.get(f) or payload.get(f), str)), None)
    revision = _field(record, "resource.labels.revision_name") or _field(record, "labels.revision_name")
    instance = (_field(record, "labels.instanceId") or _field(record, "resource.labels.instance_id")
                or _field(record, "resource.labels.pod_name"))
    container = _field(record, "resource.labels.container_name")
    key = "/".join(str(p) for p in (revision, instance, container) if p)
    lines = message.rstrip("\n").split("\n") if message is not None else []
    if exception:
        lines += exception.rstrip("\n").split("\n")
    spot = LogSpot(number, stamp, str(revision) if revision else None, severity, key)
    split = len(lines) == 1 and not exception
    for i, text in enumerate(lines):
        yield Entry(text, spot, key, last=i == len(lines) - 1, whole=len(lines) > 1, split=split)


class _Plain:
    """Entries of plain lines: a ``kubectl logs --prefix`` key, then an RFC 3339 timestamp, each removed when
    the line starts with one. The shapes met are told to ``stats`` once each (not once per line). A line's
    ``LogSpot`` is made with positional arguments, the quickest call (one is made per line)."""

    def __init__(self, stats: Stats) -> None:
        self.stats = stats
        self.told: set[str] = set()

    def entry(self, number: int, text: str) -> Entry:
        key = ""
        if text[:5] == "[pod/":
            m = _KUBE_PREFIX.match(text)
            if m:
                key, text = m.group("key"), m.group("rest")
        if text[:4].isdigit():  # most lines of a plain log start otherwise
            m = _STAMP.match(text)
            if m and text[10:11] == "T":  # RFC 3339's T: a plain log's own "2024-05-01 12:00:00" stays text
                if "timestamped" not in self.told:
                    self._saw("timestamped")
                return Entry(text[m.end():], LogSpot(number, m.group(1), None, None, key), key)
        if "plain" not in self.told:
            self._saw("plain")
        return Entry(text, LogSpot(number, None, None, None, key), key)

    def _saw(self, shape: str) -> None:
        if shape not in self.told:
            self.told.add(shape)
            self.stats.saw(shape)
