"""Runs of log lines read before: a crash loop prints the same lines over and over, each time under new
timestamps, and each repeat is handed to the collector as one ``Replay`` instead of line by line.

A run is what the reader reads from a point where no traceback is open (``Collector.idle``) to the next such
point: a note line, or a traceback and the line that ended it. The collector starts a run idle and ends it
idle, and what it does in between depends only on the texts of the run's lines (every line of a plain log is
a record of its own, in one stream), so a run whose lines have the same texts as a run read before gives the
same events, at its own lines: a ``Replay`` gives them with the spots (line number, timestamp) of the new
lines. Two lines have the same text when their bytes after the RFC 3339 timestamp the reader removes are the
same. Only runs the reader turns into text by that simple rule are kept: lines of ASCII where the timestamp
is looked for, not JSON records, not ``kubectl logs --prefix`` lines, none cut at ``logs.MAX_LINE``.

A run of one line is not kept: reading it again costs what replaying it would, and a line that names its
process (gunicorn's "Booting worker with pid: N") would push the crashes' runs out for nothing.

Bounded: at most ``KEPT`` runs of at most ``MAX_RUN_LINES`` lines and ``MAX_RUN_BYTES`` bytes each.
"""

from __future__ import annotations

import re
from collections import Counter, OrderedDict
from typing import NamedTuple

from deploycheck.audit.logs import _STAMP, MAX_LINE
from deploycheck.audit.model import LogSpot

KEPT = 64
MAX_RUN_LINES = 200
MAX_RUN_BYTES = 16 * 1024

_STAMP_BYTES = re.compile(_STAMP.pattern.encode())
HOT = 4  # runs that repeated, compared first line by line (``Run.at``), before a look-up by their texts
_STAMP_MIN = 19  # "2024-05-01T12:00:00": where a line without a timestamp shows it has none
_LOOK_PAST = 8  # characters the timestamp's pattern may look at past its match (a zone "+hh:mm", a space)
_ZEROS = bytes.maketrans(b"123456789", b"000000000")


def split(raw: bytes) -> tuple[str | None, bytes] | None:
    """``(timestamp, rest)`` of a line as ``readline`` gave it (its newline included): the timestamp the
    reader takes off its start (``logs._Plain.entry``; None when it has none) and the bytes after it. None
    when the line is not one the reader turns into text by that rule alone: a JSON record, a ``kubectl logs
    --prefix`` line, a line without its newline or longer than ``MAX_LINE``, or one with non-ASCII bytes
    where the timestamp's pattern looks (there its ``\\d`` would match other digits than in bytes)."""
    if raw[:1] == b"{" or raw[:5] == b"[pod/" or len(raw) > MAX_LINE or raw[-1:] != b"\n":
        return None
    if raw[:4].isdigit():
        m = _STAMP_BYTES.match(raw)
        if m is not None:
            end = m.end()
            if not raw[:end + _LOOK_PAST].isascii():
                return None
            if raw[10:11] == b"T":
                return m.group(1).decode(), raw[end:]
            return None, raw
    if not raw[:_STAMP_MIN + _LOOK_PAST].isascii():
        return None
    return None, raw


class Run:
    """A run read line by line: its lines (``raws``, as read), where it started (``first``, a line number)
    and the events the collector gave while it was read, each with the index of the line whose spot it
    carries (``events`` is None when the run cannot be replayed: a line not split, an event whose spot is not
the one its line gives)."""

    __slots__ = ("events", "first", "mask", "raws", "rests", "shape", "spans", "stamped", "value")

    def __init__(self, raws: list[bytes], first: int, events: list) -> None:
        self.raws = raws
        self.first = first
        self.events: list[tuple[object, int]] | None = None
        self.rests: tuple[bytes, ...] = ()
        self.stamped: tuple[bool, ...] = ()
        self.shape = b""  # the run's bytes with every digit a 0
        self.value = 0  # the run's bytes as one number
        self.mask = 0  # and a number whose bytes are 0xff where the texts are, 0 where the timestamps are
        self.spans: tuple[tuple[int, int] | None, ...] = ()  # where each line's timestamp is in the run's bytes
        self._check(events)

    def at(self, window: bytes) -> tuple[tuple[str | None, ...] | bytes, int] | None:
        """The timestamps of the run's lines at the start of ``window`` and the bytes they take, when the lines
        there have the run's texts, else None. Each timestamp is the reader's own greedy match (``_STAMP``,
        on the window: it cannot run past a line's end) with RFC 3339's "T"; the bytes after it must be the
        run's, so the line is split as ``split`` splits it (the text's first bytes are ASCII, as the run's
        are) and no longer than ``MAX_LINE``.

        Most repeats have timestamps of the run's own widths: when the window's bytes have the run's shape
        (digits where the run has digits, its other bytes elsewhere) the pattern, which tells digits only
        from other bytes, ends each timestamp where it ended in the run, so the texts are where the run's
        are, compared all at once (as numbers, outside the timestamps); the timestamps are then given as
        the window's bytes, read at the run's ``spans`` when asked for (``Replay.stamp``)."""
        shape = self.shape
        seen = window[:len(shape)]
        if seen.translate(_ZEROS) == shape:
            if (int.from_bytes(seen, "big") ^ self.value) & self.mask:
                return None
            return seen, len(seen)
        return self._at(window)

    def _at(self, window: bytes) -> tuple[tuple[str | None, ...], int] | None:
        end = window.find(b"\n") + 1
        if not end or not window.endswith(self.rests[0], 0, end):  # its first line's text ends the first line
            return None
        stamps: list[str | None] = []
        at = 0
        for rest, stamped in zip(self.rests, self.stamped, strict=True):
            start = at
            if stamped:
                m = _STAMP_BYTES.match(window, at)
                if m is None or window[at + 10:at + 11] != b"T":
                    return None
                at = m.end()
            if not window.startswith(rest, at):
                return None
            if stamped:
                stamps.append(m.group(1).decode())  # type: ignore[union-attr]
                if at + len(rest) - start > MAX_LINE:
                    return None
            else:
                stamps.append(None)
            at += len(rest)
        return tuple(stamps), at

    def _check(self, events: list) -> None:
        parts = [split(raw) for raw in self.raws]
        if any(p is None for p in parts):
            return
        stamps = [p[0] for p in parts]  # type: ignore[index]
        placed = []
        for event in events:
            spot = event.spot
            i = spot.line - self.first
            if not 0 <= i < len(parts) or spot != LogSpot(spot.line, stamps[i]) or \
                    getattr(event, "key", "") != "":
                return
            placed.append((event, i))
        self.rests = tuple(p[1] for p in parts)  # type: ignore[index]
        self.stamped = tuple(s is not None for s in stamps)
        joined = b"".join(self.raws)
        self.shape = joined.translate(_ZEROS)
        self.value = int.from_bytes(joined, "big")
        mask = bytearray(b"\xff") * len(joined)
        spans: list[tuple[int, int] | None] = []
        at = 0
        for raw, stamp, rest in zip(self.raws, stamps, self.rests):
            if stamp is None:
                spans.append(None)
            else:
                taken = len(raw) - len(rest)  # the timestamp and the space after it
                mask[at:at + taken] = bytes(taken)
                spans.append((at, at + len(stamp)))
            at += len(raw)
        self.mask = int.from_bytes(mask, "big")
        self.spans = tuple(spans)
        self.events = placed


class Replay(NamedTuple):
    """A run of lines with the texts of ``run``'s, starting at line ``first``, with these timestamps (or the
    lines' bytes, where ``run.spans`` tells the timestamps are: ``stamp``)."""

    run: Run
    first: int
    stamps: tuple[str | None, ...] | bytes

    def stamp(self, i: int) -> str | None:
        """The timestamp of the run's line ``i`` here (None when the line has none)."""
        stamps = self.stamps
        if stamps.__class__ is bytes:
            span = self.run.spans[i]
            return None if span is None else stamps[span[0]:span[1]].decode()  # type: ignore[index]
        return stamps[i]  # type: ignore[return-value]

    def events(self) -> list:
        """``run``'s events, each carrying the spot of its line in this run (a copy: the events are
        frozen)."""
        out = []
        for event, i in self.run.events or ():  # ``event.replace(spot=...)``, without its checks
            copy = object.__new__(event.__class__)
            attrs = copy.__dict__
            attrs.update(event.__dict__)
            attrs["spot"] = LogSpot(self.first + i, self.stamp(i))
            out.append(copy)
        return out


class Runs:
    """The runs read so far (the last ``KEPT``, keyed by their lines' texts), the one being read, and whether
    a replay may stand for lines now (``enabled``: not while ``--since`` compares each entry's time;
    ``settled``: once the reader's check of the log's order can no longer fail, timestamped lines too).

    No kept run's lines begin with another kept run's lines: the collector is idle after a run, so a longer
    run starting with the same texts would have ended there. So a window matches at most one kept run."""

    WINDOW = MAX_RUN_BYTES  # bytes a reader looks at for a kept run when its buffer holds fewer

    def __init__(self) -> None:
        self.enabled = True
        self.settled = False
        self.kept: OrderedDict[tuple[bytes, ...], Run] = OrderedDict()
        self.heads: Counter[bytes] = Counter()  # the first line's text of each kept run
        self.lengths: Counter[int] = Counter()  # and its number of lines
        self.first: int | None = None  # where the run being read started (None: none is being kept)
        self.seen: list = []
        self.raws: list[bytes] | None = None  # its lines
        self.size = 0  # their bytes
        self.short = False  # the last ``match`` ran out of window inside a kept run's lines
        self.hot: list[Run] = []  # the runs that repeated last (``Run.at``)

    def begin(self, first: int) -> None:
        """A run starts at line ``first`` (no traceback open)."""
        self.first = first
        self.seen = []
        self.raws: list[bytes] | None = []
        self.size = 0

    def add(self, raw: bytes) -> None:
        """A line of the current run, as read. Past ``MAX_RUN_LINES`` lines or ``MAX_RUN_BYTES`` bytes the run
        is no longer kept (tracebacks printed back to back never leave the collector idle, so it never ends)."""
        raws = self.raws
        if raws is not None:
            raws.append(raw)
            self.size += len(raw)
            if len(raws) > MAX_RUN_LINES or self.size > MAX_RUN_BYTES:
                self.first = self.raws = None
                self.seen = []

    def saw(self, events) -> None:
        """Events the collector gave while the current run was read."""
        if self.first is not None:
            self.seen.extend(events)

    def end(self) -> None:
        """The current run ended (no traceback open again); kept when it can be replayed and no kept run has
        its lines' texts."""
        first, self.first = self.first, None
        events, self.seen = self.seen, []
        raws, self.raws = self.raws, None
        if first is None or len(raws or ()) < 2:  # one line: read again costs what a replay does
            return
        run = Run(raws, first, events)
        if run.events is None or run.rests in self.kept:
            return
        self.kept[run.rests] = run
        self.heads[run.rests[0]] += 1
        self.lengths[len(run.rests)] += 1
        if len(self.kept) > KEPT:
            _, old = self.kept.popitem(last=False)
            for counter, key in ((self.heads, old.rests[0]), (self.lengths, len(old.rests))):
                counter[key] -= 1
                if not counter[key]:
                    del counter[key]

    def match(self, window: bytes, first: int) -> tuple[Replay, int] | None:
        """A replay of a kept run for the lines at the start of ``window`` (bytes from a line start, numbered
        from ``first``) and the bytes it covers, or None when no kept run has those lines' texts (``short``
        is then set when the window ended before the lines of the longest kept run)."""
        self.short = False
        for run in self.hot:
            found = run.at(window)
            if found is not None:
                stamps, size = found
                if not self.settled and (any(run.stamped) if stamps.__class__ is bytes else any(stamps)):
                    break
                if run.rests in self.kept:
                    self.kept.move_to_end(run.rests)
                return Replay(run, first, stamps), size
        end = window.find(b"\n")
        if end < 0:
            self.short = len(window) < MAX_RUN_BYTES  # not even a whole line to tell by
            return None
        line = window[:end + 1]
        if len(self.heads) <= 8 and not any(line.endswith(h) for h in self.heads):  # told without ``split``
            return None
        head = split(line)
        if head is None or head[1] not in self.heads:
            return None
        parts, ends = [head], [end + 1]
        for length in sorted(self.lengths):
            while len(parts) < length:
                nl = window.find(b"\n", ends[-1])
                if nl < 0:
                    self.short = True
                    return None
                part = split(window[ends[-1]:nl + 1])
                if part is None:
                    return None
                parts.append(part)
                ends.append(nl + 1)
            rests = tuple(p[1] for p in parts[:length])
            run = self.kept.get(rests)
            if run is not None:
                stamps = tuple(p[0] for p in parts[:length])
                if not self.settled and any(s is not None for s in stamps):
                    return None
                self.kept.move_to_end(rests)  # the runs pushed out first are those not seen again
                self.hot = [run, *(r for r in self.hot if r is not run)][:HOT]
                return Replay(run, first, stamps), ends[length - 1]
        return None
