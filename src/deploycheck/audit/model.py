"""The data the audit stages pass to each other: frames, tracebacks, and where in the log they came from.

Every stage reads these and none imports a renderer. Line numbers are 1-based; times are the log's own text
(ISO 8601 when the log shape gives one), never invented.

The audit's records are plain classes, not dataclasses: importing ``dataclasses`` (and ``inspect``) and
making the classes was a fixed CPU cost of every audit run. Each names its fields in ``_fields`` and fills
them in its own ``__init__``; ``Record`` and ``Frozen`` give them a dataclass's comparison and ``repr`` and,
for ``Frozen``, its immutability and hash.
"""

from __future__ import annotations

from operator import attrgetter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Self


class Record:
    """A record with fields (``_fields``, their names in their declared order): equal to a record of the same
    class whose fields are equal, shown as ``Name(field=value, ...)``, as a dataclass is; mutable, so not
    hashable."""

    __slots__ = ()
    _fields: tuple[str, ...] = ()
    _get = staticmethod(lambda record: ())  # the fields' values, a tuple (``attrgetter``: read in C)

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        fields = cls.__dict__.get("_fields")
        if fields is not None:  # attrgetter gives a tuple for two names or more, the value for one
            cls._get = attrgetter(*fields) if len(fields) > 1 else staticmethod(  # type: ignore[assignment]
                lambda record, name=fields[0]: (getattr(record, name),))

    def _values(self) -> tuple:
        return self._get(self)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._get(self) == other._get(other)  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        values = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{self.__class__.__name__}({values})"

    __hash__ = None  # type: ignore[assignment]


class Frozen(Record):
    """A record that cannot change once made, as a frozen dataclass: assigning or deleting an attribute
    raises ``AttributeError`` (``dataclasses.FrozenInstanceError`` is one), and it is hashed by its fields.

    A subclass's ``__init__`` fills the instance's ``__dict__`` directly (its ``__setattr__`` refuses); it has
    no ``__slots__``, which would leave only ``object.__setattr__`` to fill it, at twice the cost."""

    __slots__ = ()

    def __hash__(self) -> int:
        return hash(self._get(self))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}")

    def replace(self, **changes: object) -> Self:
        """A copy with the fields named in ``changes`` set to their values, as ``dataclasses.replace`` makes
        (without running ``__init__``). Raises ``TypeError`` for a name that is not a field."""
        values = self.__dict__
        for name in changes:
            if name not in values:
                raise TypeError(f"{self.__class__.__qualname__} has no field {name!r}")
        copy = object.__new__(self.__class__)
        copy.__dict__.update(values, **changes)
        return copy


class Frame(Frozen):
    """One ``File "path", line N, in function`` entry of a traceback, innermost last.

    ``text`` is the source line the traceback printed (stripped), or None when it printed none.
    """

    path: str
    line: int
    function: str
    text: str | None

    def __init__(self, path: str, line: int, function: str, text: str | None = None) -> None:
        attrs = self.__dict__  # written directly: __setattr__ refuses
        attrs["path"] = path
        attrs["line"] = line
        attrs["function"] = function
        attrs["text"] = text

    _fields = ("path", "line", "function", "text")


class LogSpot(Frozen):
    """Where a traceback was seen: the log line it started on and what the log shape said about it.

    ``timestamp`` is the log's timestamp text, ``revision`` a deployed revision label (Cloud Run's
    ``resource.labels.revision_name``) and ``severity`` the entry's severity, each None when the shape has none.
    ``stream`` names the stream the lines came from (revision and instance, pod and container; "" for a plain
    log): lines of one traceback are reassembled within one stream.
    """

    line: int
    timestamp: str | None
    revision: str | None
    severity: str | None
    stream: str

    def __init__(self, line: int, timestamp: str | None = None, revision: str | None = None,
                 severity: str | None = None, stream: str = "") -> None:
        attrs = self.__dict__  # written directly: __setattr__ refuses
        attrs["line"] = line
        attrs["timestamp"] = timestamp
        attrs["revision"] = revision
        attrs["severity"] = severity
        attrs["stream"] = stream

    _fields = ("line", "timestamp", "revision", "severity", "stream")


_LINE_0 = LogSpot(0)  # the spot of a traceback made without one (immutable: one serves all)


class Traceback(Frozen):
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
    frames: tuple[Frame, ...]
    cause: Traceback | None
    context: Traceback | None
    group: tuple[Traceback, ...]
    spot: LogSpot
    raw: tuple[str, ...]
    truncated: bool

    def __init__(self, exc_type: str, message: str, frames: tuple[Frame, ...] = (),
                 cause: Traceback | None = None, context: Traceback | None = None,
                 group: tuple[Traceback, ...] = (), spot: LogSpot = _LINE_0, raw: tuple[str, ...] = (),
                 truncated: bool = False) -> None:
        attrs = self.__dict__  # written directly: __setattr__ refuses
        attrs["exc_type"] = exc_type
        attrs["message"] = message
        attrs["frames"] = frames
        attrs["cause"] = cause
        attrs["context"] = context
        attrs["group"] = group
        attrs["spot"] = spot
        attrs["raw"] = raw
        attrs["truncated"] = truncated

    _fields = ("exc_type", "message", "frames", "cause", "context", "group", "spot", "raw", "truncated")

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
