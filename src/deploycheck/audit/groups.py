"""Group the crashes of a log, and pick the one that stopped the service.

Two crashes are one group when their chains have the same exception types and the same in-app frames (file
and function; line numbers move between revisions). A frame is in-app unless its file is under
``site-packages``, ``dist-packages`` or ``lib/pythonX.Y`` or is frozen (``<frozen runpy>``).

The crash that stopped the service is the first one with evidence that it happened at start-up: raised while
a module was imported (a ``<module>`` frame) or inside a server's loading of the application (gunicorn's
``load_wsgi``, uvicorn's ``import_from_string`` or lifespan ``startup``), followed by the server giving up
("Worker failed to boot", "Application startup failed"), or raised after a server started and before it said
it was ready. Each reason is kept as evidence. Memory is bounded: at most ``MAX_GROUPS`` groups and
``MAX_TIMELINE`` timeline events.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from deploycheck.audit.model import Frame, Frozen, LogSpot, Record, Traceback
from deploycheck.audit.tracebacks import Note

MAX_GROUPS = 200
MAX_TIMELINE = 200
MAX_REVISIONS = 20
MAX_STOPS_CITED = 3  # lines of the server giving up cited per group; a restart loop repeats them endlessly
MAX_STREAMS = 10_000  # streams whose last start, request and crash are remembered
SAMPLE_HEAD, SAMPLE_TAIL = 40, 200  # lines a group keeps of its sample traceback's text

_LIBRARY = re.compile(r"(^|/)(site-packages|dist-packages)/|/lib/python\d+\.\d+/|^<")
# Functions of servers and frameworks that load the application: a crash under them is a start-up crash.
_LOADERS = {"load_wsgi", "load_wsgiapp", "import_app", "init_process", "import_from_string", "startup",
            "setup", "populate", "import_module"}


def in_app(frame: Frame) -> bool:
    """Whether ``frame`` is the service's own code (not a library's, the standard library's or frozen)."""
    return not _LIBRARY.search(frame.path)


def fingerprint(tb: Traceback) -> tuple:
    """What makes two crashes one group: the chain's exception types and its in-app ``(file, function)``s."""
    chain = tb.chain()
    return (tuple(t.exc_type for t in chain),
            tuple((f.path, f.function) for t in chain for f in t.frames if in_app(f)))


def startup_frames(tb: Traceback) -> list[str]:
    """Evidence in the traceback itself that it was raised at start-up, as sentences."""
    out = []
    for t in tb.chain():
        for f in reversed(t.frames):  # the innermost module being imported is the one that failed
            if f.function == "<module>" and in_app(f) and not f.path.startswith("<"):
                out.append(f"raised while importing {f.path} (a <module> frame at line {f.line})")
                break
        loaders = [f for f in t.frames if f.function in _LOADERS and not in_app(f)]
        servers = [f for f in loaders if "-packages/" in f.path]  # a server's loader says more than importlib's
        loaders = servers or loaders
        if loaders and any(in_app(f) for f in t.frames):
            out.append(f"raised under {loaders[-1].function}() of {loaders[-1].path}, which loads the application")
    return list(dict.fromkeys(out))


class Group(Record):
    """Crashes with one fingerprint: the first one as the sample, how many, first and last seen, the
    revisions they were seen in, and the evidence that they happened at start-up (``startup``) or while
    serving a request (``request``). ``revisions`` and ``startup`` left None are new empty lists."""

    __slots__ = ("count", "first_seen", "key", "last_seen", "request", "revisions", "sample", "startup",
                 "stops")
    key: tuple
    sample: Traceback
    count: int
    first_seen: LogSpot | None
    last_seen: LogSpot | None
    revisions: list[str]
    startup: list[str]
    request: str | None
    stops: int  # lines of the server giving up after a crash of this group (the first few are cited)

    def __init__(self, key: tuple, sample: Traceback, count: int = 0, first_seen: LogSpot | None = None,
                 last_seen: LogSpot | None = None, revisions: list[str] | None = None,
                 startup: list[str] | None = None, request: str | None = None, stops: int = 0) -> None:
        self.key = key
        self.sample = sample
        self.count = count
        self.first_seen = first_seen
        self.last_seen = last_seen
        self.revisions = [] if revisions is None else revisions
        self.startup = [] if startup is None else startup
        self.request = request
        self.stops = stops

    _fields = ("key", "sample", "count", "first_seen", "last_seen", "revisions", "startup", "request", "stops")


class Event(Frozen):
    """A line of the timeline: when, what kind (crash, start, ready, stop, request) and a short text."""

    spot: LogSpot
    kind: str
    text: str

    def __init__(self, spot: LogSpot, kind: str, text: str) -> None:
        attrs = self.__dict__  # written directly: __setattr__ refuses
        attrs["spot"] = spot
        attrs["kind"] = kind
        attrs["text"] = text

    _fields = ("spot", "kind", "text")


class Grouping(Record):
    """The groups in the order first seen, the one that stopped the service and why (sentences citing log
    lines), the timeline, and counts of what did not fit the bounds. The lists left None are new empty
    lists."""

    __slots__ = ("crashes", "groups", "stopped", "timeline", "timeline_dropped", "ungrouped", "why")
    groups: list[Group]
    stopped: Group | None
    why: list[str]
    timeline: list[Event]
    crashes: int
    ungrouped: int
    timeline_dropped: int

    def __init__(self, groups: list[Group] | None = None, stopped: Group | None = None,
                 why: list[str] | None = None, timeline: list[Event] | None = None, crashes: int = 0,
                 ungrouped: int = 0, timeline_dropped: int = 0) -> None:
        self.groups = [] if groups is None else groups
        self.stopped = stopped
        self.why = [] if why is None else why
        self.timeline = [] if timeline is None else timeline
        self.crashes = crashes
        self.ungrouped = ungrouped
        self.timeline_dropped = timeline_dropped

    _fields = ("groups", "stopped", "why", "timeline", "crashes", "ungrouped", "timeline_dropped")


def group(events: Iterable[Traceback | Note]) -> Grouping:
    """Group the tracebacks of ``events`` (from ``tracebacks.collect``) and pick the one that stopped the
    service (see the module docstring)."""
    out = Grouping()
    by_key: dict[tuple, Group] = {}
    last_crash: dict[str, Group] = {}
    any_last: Group | None = None
    since_start: dict[str, Note] = {}  # a stream's last start note not yet followed by a ready note
    last_request: dict[str, Note] = {}
    starts = 0
    last: tuple = (None,) * 6  # the last traceback's parts and fingerprint

    def timeline(spot: LogSpot, kind: str, text: str) -> None:
        if len(out.timeline) < MAX_TIMELINE:
            out.timeline.append(Event(spot, kind, text))
        else:
            out.timeline_dropped += 1

    for event in events:
        if isinstance(event, Note):
            key = event.key
            if event.kind == "start":
                starts += 1
                since_start[key] = event
                last_request.pop(key, None)
            elif event.kind == "ready":
                since_start.pop(key, None)
            elif event.kind == "request":
                last_request[key] = event
            elif event.kind == "stop":
                target = last_crash.get(key) or any_last
                if target is not None:
                    target.stops += 1
                    if target.stops <= MAX_STOPS_CITED:
                        target.startup.append(f"followed by {event.text!r} (log line {event.spot.line})")
            if event.kind != "request":
                timeline(event.spot, event.kind, event.text)
            continue
        out.crashes += 1
        # a crash loop's replays share their exceptions' parts (``repeats``): their fingerprint is the last one
        if event.frames is last[0] and event.cause is last[1] and event.context is last[2] \
                and event.group is last[3] and event.exc_type == last[4]:
            fp = last[5]
        else:
            fp = fingerprint(event)
            last = (event.frames, event.cause, event.context, event.group, event.exc_type, fp)
        g = by_key.get(fp)
        if g is None:
            if len(by_key) >= MAX_GROUPS:
                out.ungrouped += 1
                continue
            g = by_key[fp] = Group(fp, _compact(event), first_seen=event.spot)
            out.groups.append(g)
            g.startup.extend(startup_frames(event))
            stream = event.spot.stream
            request = last_request.pop(stream, None)
            if request is not None:
                g.request = f"raised while serving a request: {request.text!r} (log line {request.spot.line})"
            opened = since_start.get(stream)
            if opened is not None:
                g.startup.append(f"raised after the server started ({opened.text!r}, log line {opened.spot.line})"
                                 " and before it said it was ready")
            timeline(event.spot, "crash", event.headline())
        g.count += 1
        g.last_seen = event.spot
        if event.spot.revision and event.spot.revision not in g.revisions and len(g.revisions) < MAX_REVISIONS:
            g.revisions.append(event.spot.revision)
        if g.count == 2 and starts >= 2:
            g.startup.append(f"seen again after the service restarted ({starts} starts in the log): a restart loop")
        last_crash[event.spot.stream] = g
        any_last = g
        for memory in (last_crash, since_start, last_request):
            while len(memory) > MAX_STREAMS:
                memory.pop(next(iter(memory)))
    _pick(out)
    return out


def _compact(tb: Traceback) -> Traceback:
    """``tb`` with its printed lines cut to the first ``SAMPLE_HEAD`` and last ``SAMPLE_TAIL`` (a group keeps
    it for the whole run)."""
    if len(tb.raw) <= SAMPLE_HEAD + SAMPLE_TAIL:
        return tb
    return tb.replace(raw=tb.raw[:SAMPLE_HEAD] + tb.raw[-SAMPLE_TAIL:], truncated=True)


def _pick(out: Grouping) -> None:
    at_startup = [g for g in out.groups if g.startup and not g.request]
    if at_startup:
        out.stopped = at_startup[0]
        out.why = list(dict.fromkeys(out.stopped.startup))
        if out.stopped.stops > MAX_STOPS_CITED:
            out.why.append(f"followed by {out.stopped.stops - MAX_STOPS_CITED} more lines of the server giving up "
                           f"({out.stopped.stops} in all)")
        if len(at_startup) > 1:
            out.why.append(f"the first of {len(at_startup)} crash groups with start-up evidence in the log")
        return
    if out.groups:
        out.stopped = max(out.groups, key=lambda g: g.count)
        out.why = [f"no crash with start-up evidence; the most frequent one ({out.stopped.count} times)"]
        if out.stopped.request:
            out.why.append(out.stopped.request)
