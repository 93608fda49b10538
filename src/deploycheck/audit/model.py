"""The data the audit stages pass to each other: frames, tracebacks, and where in the log they came from.

Every stage reads these and none imports a renderer. Line numbers are 1-based; times are the log's own text
(ISO 8601 when the log shape gives one), never invented.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Frame:
    """One ``File "path", line N, in function`` entry of a traceback, innermost last.

    ``text`` is the source line the traceback printed (stripped), or None when it printed none.
    """

    path: str
    line: int
    function: str
    text: str | None = None


@dataclass(frozen=True)
class LogSpot:
    """Where a traceback was seen: the log line it started on and what the log shape said about it.

    ``timestamp`` is the log's timestamp text, ``revision`` a deployed revision label (Cloud Run's
    ``resource.labels.revision_name``) and ``severity`` the entry's severity, each None when the shape has none.
    ``stream`` names the stream the lines came from (revision and instance, pod and container; "" for a plain
    log): lines of one traceback are reassembled within one stream.
    """

    line: int
    timestamp: str | None = None
    revision: str | None = None
    severity: str | None = None
    stream: str = ""


@dataclass(frozen=True)
class Traceback:
    """A reassembled Python traceback (the last exception printed; its causes chained).

    ``exc_type`` is the printed type (``RuntimeError``, ``sqlalchemy.exc.OperationalError``), ``message`` the
    text after the colon (possibly several lines). ``cause`` is the exception printed before "The above
    exception was the direct cause of the following exception", ``context`` the one before "During handling of
    the above exception, another exception occurred" (PEP 3134); at most one of the two is set. ``group`` holds
    the sub-exceptions of an exception group (PEP 654). ``raw`` keeps the traceback's lines as the log had them
    (after the log shape's envelope was removed), for the report.
    """

    exc_type: str
    message: str
    frames: tuple[Frame, ...] = ()
    cause: Traceback | None = None
    context: Traceback | None = None
    group: tuple[Traceback, ...] = ()
    spot: LogSpot = field(default_factory=lambda: LogSpot(0))
    raw: tuple[str, ...] = ()
    truncated: bool = False

    def headline(self) -> str:
        """``Type: first line of the message``, or what a traceback without its exception line is."""
        if not self.exc_type:
            return "a traceback cut short before its exception line"
        first = self.message.partition("\n")[0]
        return f"{self.exc_type}: {first}" if first else self.exc_type

    def chain(self) -> list[Traceback]:
        """The exceptions from the first raised to this one, in the order the log printed them."""
        earlier = self.cause or self.context
        return (earlier.chain() if earlier else []) + [self]
