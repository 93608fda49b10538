"""Reassemble Python tracebacks from log entries, and note the lines that say a service started or stopped.

A traceback is what CPython's ``traceback`` module prints (the ``traceback`` module docs; PEP 3134 for the
chain, PEP 654 for exception groups, PEP 657 for the ``~~~^^^`` lines 3.11+ prints under a source line):

    Traceback (most recent call last):
      File "PATH", line N, in FUNCTION
        SOURCE LINE
        ~~~^^^
    Type: message (possibly several lines)

chained by a blank line, "The above exception was the direct cause of the following exception:" or "During
handling of the above exception, another exception occurred:", and a blank line; a ``SyntaxError`` prints
``File "PATH", line N`` without a function, the line and a caret line. An exception group is boxed: its own
traceback behind ``| `` and each sub-exception in a box ``+---------------- N ----------------``.

Collecting (where a traceback ends in a log) is per stream (``Entry.key``) and bounded: a traceback keeps its
first ``HEAD`` and last ``TAIL`` lines, each cut at ``MAX_TRACEBACK_LINE`` characters, and the open tracebacks
of all streams hold at most ``MAX_HELD`` characters together (past it the oldest is closed as it is). Parsing
a collected block is a pure function, ``parse``.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Iterator

from deploycheck.audit.logs import Entry
from deploycheck.audit.model import Frame, Frozen, LogSpot, Record, Traceback
from deploycheck.audit.repeats import Replay, Runs
from deploycheck.audit.triggers import NOTE_PATTERNS, TRIGGERS, literal  # noqa: F401 -- TRIGGERS read here

HEAD = 200  # lines kept from the start of one traceback
TAIL = 800  # and from its end; the lines between are dropped (the traceback is marked truncated)
MAX_TRACEBACK_LINE = 4096  # characters kept of one line of a traceback


def _cut(line: str) -> str:
    """``line`` cut to at most MAX_TRACEBACK_LINE characters, without the word the cut went through: half a
    secret (``https://user:pa``) is no longer recognized as one by the redaction applied when it is shown."""
    kept = line[:MAX_TRACEBACK_LINE]
    return kept[:kept.rfind(" ") + 1].rstrip() + " …"
MAX_HELD = 64 * 1024 * 1024  # characters held by all open tracebacks together
MAX_MESSAGE = 100  # lines of one exception's message
MAX_FOREIGN = 200  # other requests' lines skipped inside one split traceback before it is given up
MAX_FOREIGN_AFTER = 20  # and after its exception line, waiting for a chained exception
MAX_DEPTH = 12  # exception groups nested in exception groups, parsed
MAX_STREAMS = 256  # streams with a traceback open at once; past it the oldest is closed
# A crash loop prints one traceback over and over: blocks already parsed are kept, keyed by their lines, up to
# PARSED_KEPT blocks of at most PARSED_SIZE characters each (parsing is pure, so the result is the same).
PARSED_KEPT = 64
PARSED_SIZE = 16 * 1024

_HEADER = re.compile(r"(?:\+ )?(?:Exception Group )?Traceback \(most recent call last\):\s*$")
_FRAME = re.compile(r'^\s*File "(?P<path>[^"]*)", line (?P<line>\d+)(?:, in (?P<func>.*))?$')
_BARE_FRAME = re.compile(r'^  File "[^"]*", line \d+\s*$')  # a SyntaxError of the main script: no header
# An exception group raised with no traceback of its own (``except*`` re-raising) starts at its box.
_GROUP_TOP = re.compile(r"^\s*\| [\w.]*Group: .*\(\d+ sub-exceptions?\)\s*$")
_MARKS = re.compile(r"^\s*[~^]+\s*$")
_EXC = re.compile(r"^(?P<type>[A-Za-z_][\w.]*)(?::(?: (?P<msg>.*))?)?$")
_EXC_NAME = re.compile(r"(Error|Exception|Warning|Exit|Interrupt|Group|Iteration|Fault|Failure|Refused|Timeout)$")
_LEVELS = {"DEBUG", "INFO", "WARNING", "WARN", "ERROR", "CRITICAL", "FATAL", "NOTICE", "TRACE"}
CAUSE = "The above exception was the direct cause of the following exception:"
CONTEXT = "During handling of the above exception, another exception occurred:"
_LOG_START = re.compile(r"^(\d{4}-\d\d-\d\d[ T]|\[\d|\[(DEBUG|INFO|WARNING|ERROR|CRITICAL)\]|"
                        r"(DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|FATAL)[:\s]|[IWEF]\d{4} |\{)")

# Lines a server prints about its own life (``triggers.NOTE_PATTERNS``), compiled
NOTES = [(kind, re.compile(p)) for kind, p in NOTE_PATTERNS.items()]


def note_literals() -> list[str]:
    """The literal text each alternative of each note pattern starts with (for the test of ``TRIGGERS``)."""
    return [literal(a) for p in NOTE_PATTERNS.values() for a in p.split("|")]


class Note(Frozen):
    """A line the service printed about its life: ``kind`` is start, ready, stop or request (a request
    failed), ``text`` the line, ``spot`` where."""

    kind: str
    text: str
    spot: LogSpot
    key: str

    def __init__(self, kind: str, text: str, spot: LogSpot, key: str = "") -> None:
        attrs = self.__dict__  # written directly: __setattr__ refuses
        attrs["kind"] = kind
        attrs["text"] = text
        attrs["spot"] = spot
        attrs["key"] = key

    _fields = ("kind", "text", "spot", "key")


def note_of(entry: Entry) -> Note | None:
    """The ``Note`` a line is, or None."""
    for kind, pattern in NOTES:
        if pattern.search(entry.text):
            return Note(kind, entry.text.strip()[:300], entry.spot, entry.key)
    return None


def _exception_line(text: str, strict: bool) -> bool:
    m = _EXC.match(text)
    if not m or m.group("type") in _LEVELS:
        return False
    if not strict:
        return True
    name = m.group("type")
    return bool(_EXC_NAME.search(name)) or ("." in name and m.group("msg") is not None)


class _Open(Record):
    """A traceback being collected in one stream (``Collector``): where it started, its first ``HEAD`` lines
    (``head``) and last ``TAIL`` (``tail``), lines held until the next shows whether they belong to it
    (``pending``), what bounds it (``message_lines``, ``foreign``, ``foreign_after``, ``dropped`` lines,
    ``size`` in characters), and the log line of its last record (``record``; ``record_ends``: that record's
    last line was taken). ``head``, ``tail`` and ``pending`` left None are new empty ones."""

    __slots__ = ("dropped", "foreign", "foreign_after", "head", "message_lines", "pending", "record",
                 "record_ends", "size", "spot", "state", "tail")
    spot: LogSpot
    state: str  # body, message, blank, marker
    head: list[str]
    tail: deque
    pending: list[str]
    message_lines: int
    foreign: int
    foreign_after: int
    dropped: int
    record: int
    record_ends: bool
    size: int  # characters held

    def __init__(self, spot: LogSpot, state: str, head: list[str] | None = None, tail: deque | None = None,
                 pending: list[str] | None = None, message_lines: int = 0, foreign: int = 0,
                 foreign_after: int = 0, dropped: int = 0, record: int = 0, record_ends: bool = False,
                 size: int = 0) -> None:
        self.spot = spot
        self.state = state
        self.head = [] if head is None else head
        self.tail = deque(maxlen=TAIL) if tail is None else tail
        self.pending = [] if pending is None else pending
        self.message_lines = message_lines
        self.foreign = foreign
        self.foreign_after = foreign_after
        self.dropped = dropped
        self.record = record
        self.record_ends = record_ends
        self.size = size

    _fields = ("spot", "state", "head", "tail", "pending", "message_lines", "foreign", "foreign_after",
               "dropped", "record", "record_ends", "size")

    def add(self, text: str) -> None:
        for line in (self.pending + [text]) if self.pending else (text,):
            if len(line) > MAX_TRACEBACK_LINE:
                line = _cut(line)
            if len(self.head) < HEAD:
                self.head.append(line)
            else:
                if len(self.tail) == TAIL:
                    self.dropped += 1
                    self.size -= len(self.tail[0])
                self.tail.append(line)
            self.size += len(line)
        if self.pending:
            self.pending = []

    def lines(self) -> list[str]:
        return self.head + list(self.tail)


def _start(entry: Entry) -> tuple[str, str] | None:
    """``(state, first line)`` when ``entry`` starts a traceback."""
    text = entry.text
    at = text.find("Traceback (most recent call last):")
    if at >= 0:
        begin = at  # before it, "Exception Group " and then "+ " are the header's own (strings: a regex
        # anchored at the end is tried at every position of the line)
        if text.endswith("Exception Group ", 0, begin):
            begin -= len("Exception Group ")
        if text.endswith("+ ", 0, begin):
            begin -= 2
        # indentation kept (an exception group's box has its column); a logger's prefix dropped
        return "body", text if not text[:begin].strip() else text[begin:]
    if _BARE_FRAME.match(text) or _GROUP_TOP.match(text):
        return "body", text
    return None


class Collector:
    """Turns entries into a stream of ``Traceback`` and ``Note`` events (``feed``, then ``close``)."""

    def __init__(self) -> None:
        self._open: dict[str, _Open] = {}
        self._held = 0
        self._parsed: dict[tuple[str, ...], Traceback] = {}
        self.runs = Runs()  # runs of lines read before, for a reader that replays them (``logs.Skip.runs``)

    def idle(self) -> bool:
        """Whether no traceback is open (then only a line holding one of ``TRIGGERS`` can matter)."""
        return not self._open

    def feed(self, entry: Entry) -> Iterator[Traceback | Note]:
        """The events ``entry`` completes (tracebacks it ends, a note it is)."""
        return iter(self._feed(entry))

    def _feed(self, entry: Entry) -> tuple | list:
        # ``feed``'s events as a tuple or list, () for most lines: no generator made per line
        current = self._open.get(entry.key)
        out: list[Traceback | Note] = []
        if current is not None:
            if entry.split and not entry.text[:1].isspace() and (note := note_of(entry)) and note.kind == "stop":
                # the service giving up ends its open traceback (Cloud Run's "Container called exit(1)." comes
                # one entry after the exception line, where another request's line would be passed over)
                return self._close(entry.key), note
            before = current.size
            taken = self._continue(current, entry)
            if taken:
                current.record, current.record_ends = entry.spot.line, entry.last and entry.whole
                self._held += current.size - before
                while self._held > MAX_HELD and len(self._open) > 1:
                    out.append(self._close(next(iter(self._open))))
                return out
            out.append(self._close(entry.key))
        started = _start(entry)
        if started is not None:
            if len(self._open) >= MAX_STREAMS:
                out.append(self._close(next(iter(self._open))))
            state, first = started
            opened = _Open(entry.spot, state, record=entry.spot.line,
                           record_ends=entry.last and entry.whole)
            opened.add(first)
            self._held += opened.size
            self._open[entry.key] = opened
            return out
        note = note_of(entry)
        if note is not None:
            out.append(note)
        return out

    def events(self, entries: Iterable[Entry]) -> Iterator[Traceback | Note]:
        """Every traceback and note in ``entries``, in the order they end (``feed`` each, then ``close``);
        a ``repeats.Replay`` among them gives the events of the run it repeats, at its own lines."""
        feed = self._feed
        saw = self.runs.saw
        for entry in entries:
            if entry.__class__ is Replay:  # lines of a run read before (``repeats``)
                yield from entry.events()
                continue
            done = feed(entry)
            if done:
                saw(done)
                yield from done
        yield from self.close()

    def close(self) -> Iterator[Traceback]:
        """The tracebacks still open at the end of the log."""
        for key in list(self._open):
            yield self._close(key)

    def _close(self, key: str) -> Traceback:
        current = self._open.pop(key)
        self._held -= current.size
        lines = tuple(current.lines())
        parsed = self._parsed.get(lines)
        if parsed is None:
            parsed = parse(list(lines))
            if sum(map(len, lines)) <= PARSED_SIZE:
                if len(self._parsed) >= PARSED_KEPT:
                    del self._parsed[next(iter(self._parsed))]
                self._parsed[lines] = parsed
        return parsed.replace(spot=current.spot, truncated=parsed.truncated or current.dropped > 0)

    @staticmethod
    def _foreign_after(cur: _Open) -> bool:
        """Skip another request's line after a split traceback's exception line, a few times only."""
        cur.foreign_after += 1
        return cur.foreign_after <= MAX_FOREIGN_AFTER

    def _continue(self, cur: _Open, entry: Entry) -> bool:
        """Whether ``entry`` belongs to the open traceback ``cur`` (and took it)."""
        text = entry.text
        stripped = text.strip()
        new_record = entry.spot.line != cur.record
        if new_record and cur.record_ends and cur.state in ("message", "blank"):
            return False  # a record that held the whole traceback ended with it
        if cur.state == "body":
            if not stripped:
                cur.pending.append(text)
                return True
            if text[:1] in (" ", "\t") or _HEADER.match(stripped) or stripped in (CAUSE, CONTEXT):
                cur.add(text)
                return True
            if _exception_line(text, strict=entry.split):
                cur.add(text)
                cur.state, cur.message_lines = "message", 1
                return True
            if entry.split and cur.foreign < MAX_FOREIGN:
                cur.foreign += 1  # another request's line between the lines of this traceback
                return True
            return False
        if cur.state == "message":
            if not stripped:
                cur.pending.append(text)
                cur.state = "blank"
                return True
            if _start(entry) is not None and not text.startswith((" ", "\t")):
                return False
            if _LOG_START.match(text) or cur.message_lines >= MAX_MESSAGE:
                return False
            if entry.split and not text[:1].isspace():
                return self._foreign_after(cur)  # one entry per line: a message goes on only when indented
            cur.add(text)
            cur.message_lines += 1
            return True
        if cur.state == "blank":
            if not stripped:
                cur.pending.append(text)
                return len(cur.pending) < 5
            if stripped in (CAUSE, CONTEXT):
                cur.add(text)
                cur.state = "marker"
                return True
            if text[:1] in (" ", "\t") and stripped[:1] in ("|", "+"):  # inside an exception group's box
                cur.add(text)
                cur.state = "body"
                return True
            if entry.split and not _start(entry):
                return self._foreign_after(cur)
            cur.pending = []
            return False
        # marker: the chained exception's header comes next
        if not stripped:
            cur.pending.append(text)
            return True
        if _HEADER.search(stripped) or _BARE_FRAME.match(text):
            cur.add(text)
            cur.state = "body"
            return True
        if _exception_line(text, strict=entry.split):  # a chained exception raised with no frame
            cur.add(text)
            cur.state, cur.message_lines = "message", 1
            return True
        return entry.split and self._foreign_after(cur)


def collect(entries: Iterable[Entry]) -> Iterator[Traceback | Note]:
    """Every traceback and note in ``entries``, in the order they end."""
    return Collector().events(entries)


# --- parsing a collected block -------------------------------------------------------------------------


def _at(line: str, col: int) -> str:
    """The text of ``line`` from column ``col``, when what comes before is a box's margin (spaces, ``|``,
    ``+``); a line without that margin (Python prints the later lines of a multi-line message in a box
    without it) is taken whole."""
    if col == 0:
        return line
    prefix = line[:col]
    if len(line) <= col:
        return "" if prefix.strip(" |+") == "" else line
    return line[col:] if prefix.strip(" |+-") == "" else line


def parse(lines: list[str]) -> Traceback:
    """The traceback printed in ``lines`` (a collected block; its first line is the header or a bare
    ``File`` line). A block without an exception line (the log ended, or was cut) gives a Traceback of
    type ``""`` marked ``truncated``."""
    col = 0
    if lines:
        first = lines[0]
        m = re.match(r"^(\s*)(?:\+ Exception Group Traceback|\| [\w.]*Group: )", first)
        if m:
            col = len(m.group(1)) + 2
        else:
            col = len(first) - len(first.lstrip(" "))
    return _chain(lines, col, tuple(lines))


def _chain(lines: list[str], col: int, raw: tuple[str, ...], depth: int = 0) -> Traceback:
    segments: list[tuple[str | None, list[str]]] = [(None, [])]
    depth = 0
    for line in lines:
        text = _at(line, col)
        if col >= 2 and line[col - 2:col + 1] == "+-+" and depth == 0:
            depth = 1
        elif depth and _box_end(line, col):
            depth = 0
            segments[-1][1].append(line)
            continue
        if depth == 0 and text.strip() in (CAUSE, CONTEXT):
            segments.append(("cause" if text.strip() == CAUSE else "context", []))
            continue
        segments[-1][1].append(line)
    result: Traceback | None = None
    for how, seg in segments:
        one = _one(seg, col, raw, depth)
        if result is not None:
            one = one.replace(cause=result) if how == "cause" else one.replace(context=result)
        result = one
    assert result is not None
    return result


def _box_end(line: str, col: int) -> bool:
    rest = line[col:] if len(line) > col else ""
    return line[:col].strip(" |") == "" and re.fullmatch(r"\+-+\s*", rest) is not None


def _one(lines: list[str], col: int, raw: tuple[str, ...], depth: int = 0) -> Traceback:
    frames: list[Frame] = []
    exc_type, message_lines = "", []
    subs: list[list[str]] = []
    in_subs = False
    i = 0
    while i < len(lines):
        line = lines[i]
        text = _at(line, col)
        if col >= 2 and line[col - 2:col + 1] == "+-+" and not in_subs:
            in_subs = True
            subs.append([])
            i += 1
            continue
        if in_subs:
            if _box_end(line, col):
                in_subs = False
            elif re.fullmatch(r"\+-+ \d+ -+\s*", line[col:] if len(line) > col else "") and \
                    line[:col].strip() == "":
                subs.append([])
            elif re.fullmatch(r"\+-+ \.\.\. -+\s*", line[col:] if len(line) > col else ""):
                subs.append([])  # "and N more exceptions"
            else:
                subs[-1].append(line)
            i += 1
            continue
        if exc_type:
            message_lines.append(text)
            i += 1
            continue
        stripped = text.strip()
        frame = _FRAME.match(text)
        if frame:
            source = None
            if i + 1 < len(lines):
                nxt = _at(lines[i + 1], col)
                if nxt.strip() and nxt[:1].isspace() and not _FRAME.match(nxt) and not _MARKS.match(nxt):
                    source = nxt.strip()
                    i += 1
            frames.append(Frame(frame.group("path"), int(frame.group("line")), (frame.group("func") or "").strip(),
                                source))
            i += 1
            continue
        if not stripped or _MARKS.match(text) or _HEADER.search(stripped) or stripped.startswith("+ Exception"):
            i += 1
            continue
        if not text[:1].isspace():
            m = _EXC.match(stripped)
            if m:
                exc_type = m.group("type")
                message_lines = [m.group("msg") or ""]
        i += 1
    while message_lines and not message_lines[-1].strip():
        message_lines.pop()
    # CPython prints groups 10 deep at most (max_group_depth); a log nesting deeper is not parsed further
    group = tuple(_chain(sub, col + 2, tuple(sub), depth + 1) for sub in subs if sub) if depth < MAX_DEPTH else ()
    return Traceback(exc_type=exc_type, message="\n".join(message_lines), frames=tuple(frames), group=group,
                     raw=raw, truncated=not exc_type)
