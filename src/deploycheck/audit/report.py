"""The incident report: what the renderers (``deploycheck.render.audit_markdown``, ``audit_html``) show.

Built from the grouping and the explanation; every text taken from the log passes through ``redacted``
first: URLs lose their credentials and known secrets are masked as ``deploycheck config`` does
(``contract.scrub``), and what is secret by its shape (``key=value`` pairs whose key says secret, bearer
tokens, cookies, vendors' tokens, passwords on command lines) is masked (``contract.redact.pairs_in``).
"""

from __future__ import annotations

import re

from deploycheck.audit.explain import ENVIRONMENT_KINDS, Explanation, Why
from deploycheck.audit.groups import Grouping, in_app
from deploycheck.audit.model import Frozen, Record, Traceback
from deploycheck.contract import redact
from deploycheck.contract.scrub import scrub

MAX_ERROR_LINES = 80
# Lines of a traceback, in an exception group's box or not: the margin is one character class, so that a
# long margin cannot make the match backtrack.
_FILE_LINE = re.compile(r'^[\s|+]*File "([^"]*)", line \d+')
_EXCEPTION_LINE = re.compile(r"^[\s|+]*[A-Za-z_][\w.]*(:|$)")
_MARK_LINE = re.compile(r"^[\s|+]*[~^]+\s*$")


def redacted(text: str) -> str:
    """``text`` safe to show: what is secret by its shape masked (``contract.redact.pairs_in``), then
    ``contract.scrub`` (registered secrets in every form, URL credentials)."""
    return scrub(redact.pairs_in(text))


class GroupLine(Frozen):
    """One crash group as the report lists it."""

    exc_type: str
    message: str
    count: int
    first_line: int
    first_time: str | None
    last_line: int
    last_time: str | None
    revisions: tuple[str, ...]
    stopped: bool

    def __init__(self, exc_type: str, message: str, count: int, first_line: int, first_time: str | None,
                 last_line: int, last_time: str | None, revisions: tuple[str, ...], stopped: bool) -> None:
        attrs = self.__dict__  # written directly: __setattr__ refuses
        attrs["exc_type"] = exc_type
        attrs["message"] = message
        attrs["count"] = count
        attrs["first_line"] = first_line
        attrs["first_time"] = first_time
        attrs["last_line"] = last_line
        attrs["last_time"] = last_time
        attrs["revisions"] = revisions
        attrs["stopped"] = stopped

    _fields = ("exc_type", "message", "count", "first_line", "first_time", "last_line", "last_time", "revisions",
               "stopped")

    def as_dict(self) -> dict:
        """The group as JSON-ready data: each field by its name, in their order."""
        return {"exc_type": self.exc_type, "message": self.message, "count": self.count,
                "first_line": self.first_line, "first_time": self.first_time, "last_line": self.last_line,
                "last_time": self.last_time, "revisions": self.revisions, "stopped": self.stopped}


class TimelineLine(Frozen):
    """One event of the timeline: log line, its time (or None), kind and text."""

    line: int
    time: str | None
    kind: str
    text: str

    def __init__(self, line: int, time: str | None, kind: str, text: str) -> None:
        attrs = self.__dict__  # written directly: __setattr__ refuses
        attrs["line"] = line
        attrs["time"] = time
        attrs["kind"] = kind
        attrs["text"] = text

    _fields = ("line", "time", "kind", "text")

    def as_dict(self) -> dict:
        """The event as JSON-ready data: each field by its name, in their order."""
        return {"line": self.line, "time": self.time, "kind": self.kind, "text": self.text}


class Report(Record):
    """Everything the renderers show. ``crashed`` is False when the log held no crash (exit code 0). The
    lists left None are new empty lists."""

    __slots__ = ("bytes_read", "caught_by", "crashed", "crashes", "error", "fix", "groups", "image",
                 "image_files", "kind", "lines_cut", "lines_read", "lines_skipped", "log", "path", "revision",
                 "revision_from", "stopped_why", "summary", "suspect", "test", "timeline", "unknowns",
                 "verify", "whys")
    log: str
    crashed: bool
    summary: str
    lines_read: int | None  # None: the end of the log was skipped without counting its lines
    bytes_read: int
    lines_cut: int
    lines_skipped: int
    crashes: int
    groups: list[GroupLine]
    stopped_why: list[str]
    error: list[str]
    timeline: list[TimelineLine]
    whys: list[Why]
    revision: str | None
    revision_from: str
    path: str | None
    suspect: str | None
    caught_by: str | None
    fix: str
    test: str
    verify: list[str]
    unknowns: list[str]
    kind: str | None
    image: dict | None  # the image's verdict (``audit.image.ImageVerdict.to_json``) with --image
    image_files: list[str]  # one line per frame file compared

    def __init__(self, log: str, crashed: bool, summary: str, lines_read: int | None = 0, bytes_read: int = 0,
                 lines_cut: int = 0, lines_skipped: int = 0, crashes: int = 0,
                 groups: list[GroupLine] | None = None, stopped_why: list[str] | None = None,
                 error: list[str] | None = None,
                 timeline: list[TimelineLine] | None = None, whys: list[Why] | None = None,
                 revision: str | None = None, revision_from: str = "", path: str | None = None,
                 suspect: str | None = None, caught_by: str | None = None, fix: str = "", test: str = "",
                 verify: list[str] | None = None, unknowns: list[str] | None = None, kind: str | None = None,
                 image: dict | None = None, image_files: list[str] | None = None) -> None:
        self.log = log
        self.crashed = crashed
        self.summary = summary
        self.lines_read = lines_read
        self.bytes_read = bytes_read
        self.lines_cut = lines_cut
        self.lines_skipped = lines_skipped
        self.crashes = crashes
        self.groups = [] if groups is None else groups
        self.stopped_why = [] if stopped_why is None else stopped_why
        self.error = [] if error is None else error
        self.timeline = [] if timeline is None else timeline
        self.whys = [] if whys is None else whys
        self.revision = revision
        self.revision_from = revision_from
        self.path = path
        self.suspect = suspect
        self.caught_by = caught_by
        self.fix = fix
        self.test = test
        self.verify = [] if verify is None else verify
        self.unknowns = [] if unknowns is None else unknowns
        self.kind = kind
        self.image = image
        self.image_files = [] if image_files is None else image_files

    _fields = ("log", "crashed", "summary", "lines_read", "bytes_read", "lines_cut", "lines_skipped", "crashes",
               "groups", "stopped_why", "error", "timeline", "whys", "revision", "revision_from", "path",
               "suspect", "caught_by", "fix", "test", "verify", "unknowns", "kind", "image", "image_files")

    def as_dict(self) -> dict:
        """The report as JSON-ready data (for ``--format json``): each field by its name, in their order, the
        records in the lists as dicts of theirs (``GroupLine``, ``TimelineLine``, ``Why``). The lists are new;
        ``image`` is the report's own dict."""
        return {"log": self.log, "crashed": self.crashed, "summary": self.summary,
                "lines_read": self.lines_read, "bytes_read": self.bytes_read, "lines_cut": self.lines_cut,
                "lines_skipped": self.lines_skipped, "crashes": self.crashes,
                "groups": [g.as_dict() for g in self.groups],
                "stopped_why": list(self.stopped_why),
                "error": list(self.error),
                "timeline": [t.as_dict() for t in self.timeline],
                "whys": [w.as_dict() for w in self.whys],
                "revision": self.revision, "revision_from": self.revision_from, "path": self.path,
                "suspect": self.suspect, "caught_by": self.caught_by, "fix": self.fix, "test": self.test,
                "verify": list(self.verify),
                "unknowns": list(self.unknowns),
                "kind": self.kind,
                "image": self.image,
                "image_files": list(self.image_files)}


def _bytes(n: int) -> str:
    """``n`` bytes in the unit that keeps a digit that is not 0 (a small log is not "0.0 MiB")."""
    if n < 1024:
        return f"{n} bytes"
    if n < 2**20:
        return f"{n / 1024:.1f} KiB"
    return f"{n / 2**20:.1f} MiB"


def _size(report: Report) -> str:
    if report.lines_read is not None:
        return f"{report.lines_read} lines"
    return _bytes(report.bytes_read)


def amount(report: Report) -> str:
    """How much of the log was read, as the renderers say it."""
    if report.lines_read is not None:
        return f"{report.lines_read} log lines read"
    return (f"{_bytes(report.bytes_read)} of log read (its lines after the last traceback or server "
            "message were passed over uncounted)")


def trimmed(tb: Traceback) -> list[str]:
    """The traceback's lines as the log printed them, library frames between in-app ones folded into one
    line, at most ``MAX_ERROR_LINES`` lines (the end kept)."""
    out: list[str] = []
    folded = 0
    lines = list(tb.raw)
    i = 0
    while i < len(lines):
        line = lines[i]
        m = _FILE_LINE.match(line)
        if m and not in_app_path(m.group(1)):
            folded += 1
            i += 1
            while i < len(lines) and not _FILE_LINE.match(lines[i]) and lines[i][:1].isspace() \
                    and not _EXCEPTION_LINE.match(lines[i].strip()):
                i += 1
            continue
        if folded:
            out.append(f"  ... {folded} library frame{'s' if folded > 1 else ''} ...")
            folded = 0
        if not _MARK_LINE.match(line):
            out.append(redacted(line))
        i += 1
    if folded:
        out.append(f"  ... {folded} library frame{'s' if folded > 1 else ''} ...")
    if len(out) > MAX_ERROR_LINES:
        out = ["  ... (earlier lines left out) ...", *out[-MAX_ERROR_LINES:]]
    if tb.truncated:
        out.append("(the traceback was cut short in the log)")
    return out


def in_app_path(path: str) -> bool:
    from deploycheck.audit.model import Frame

    return in_app(Frame(path, 0, ""))


def build(log: str, grouping: Grouping, explanation: Explanation | None, stats, image=None) -> Report:
    """The report of a log: ``grouping`` (``groups.group``), the explanation of the stopping crash (None when
    there is no crash), the reader's ``logs.Stats`` and the image's verdict (``audit.image.ImageVerdict``,
    None without --image)."""
    report = Report(log=log, crashed=grouping.stopped is not None, summary="",
                    lines_read=stats.lines if stats.lines_known else None, bytes_read=stats.bytes,
                    lines_cut=stats.cut, lines_skipped=stats.skipped,
                    crashes=grouping.crashes)
    for g in grouping.groups:
        report.groups.append(GroupLine(
            g.sample.exc_type and redacted(g.sample.exc_type),
            redacted(g.sample.headline().partition(": ")[2])[:500], g.count,
            g.first_seen.line if g.first_seen else 0, g.first_seen.timestamp if g.first_seen else None,
            g.last_seen.line if g.last_seen else 0, g.last_seen.timestamp if g.last_seen else None,
            tuple(redacted(r) for r in g.revisions), g is grouping.stopped))  # labels are the log's text
    report.timeline = [TimelineLine(e.spot.line, e.spot.timestamp, e.kind, redacted(e.text)[:300])
                       for e in grouping.timeline]
    if grouping.stopped is None or explanation is None:
        report.summary = f"No Python traceback in {log} ({_size(report)} read)."
        return report
    stopped = grouping.stopped
    report.stopped_why = [redacted(w) for w in grouping.why]
    report.error = trimmed(stopped.sample)
    ex = explanation
    report.kind = ex.kind.kind
    report.whys = [Why(redacted(w.statement), tuple(redacted(e) for e in w.evidence)) for w in ex.whys]
    report.revision = ex.revision and redacted(ex.revision)  # perhaps the log's revision label
    report.revision_from, report.path = ex.revision_from, ex.path
    if ex.suspect is not None:
        report.suspect = f"{ex.suspect.id} {redacted(ex.suspect.subject)} ({ex.suspect_how})"
    if ex.rule:
        report.caught_by = f"{ex.rule}: `{ex.command}`"
    report.fix, report.test = redacted(ex.fix), redacted(ex.test)
    report.verify = [redacted(v) for v in ex.verify]
    report.unknowns = [redacted(u) for u in ex.unknowns]
    where = f" at {ex.path}:{ex.kind.frame.line}" if ex.path and ex.kind.frame else ""
    suspect = f"; suspect commit {ex.suspect.short}" if ex.suspect else ""
    if ex.suspect is None and ex.path and ex.kind.kind in ENVIRONMENT_KINDS:
        suspect = "; no suspect commit: the cause lies in the environment"
    report.summary = redacted(f"The service stopped on {stopped.sample.headline()}{where} "
                              f"({ex.kind.kind}, {stopped.count} time{'s' if stopped.count > 1 else ''}){suspect}.")
    if image is not None:
        report.image = image.to_json()
        for key in ("summary", "image"):
            report.image[key] = redacted(report.image[key])
        report.image["notes"] = [redacted(n) for n in report.image["notes"]]
        report.image_files = [redacted(f"{f.rel or f.image_path}: {f.state}: {f.sentence}") for f in image.files]
        if image.stale:
            said = image.summary()
            report.summary += " " + redacted(said[:1].upper() + said[1:].partition(": ")[0]) + "."
    return report
