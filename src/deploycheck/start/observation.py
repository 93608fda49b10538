"""What one start of an image showed: the facts the DC6xx rules judge, and the timeline of the JSON report.
Plain data, written and read as JSON (the rules' fixtures are observations)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field


@dataclass
class Traceback:
    """A Python traceback in the output: ``exception`` its last line (``KeyError: 'DATABASE_URL'``),
    ``frames`` its last frames as ``(path, line, function, statement)``, ``count`` how often it was seen."""

    exception: str
    frames: list[tuple[str, int, str, str]] = field(default_factory=list)
    count: int = 1


@dataclass
class Observation:
    """One start. Times are seconds from starting the command; memory in bytes; CPU in seconds.

    ``command`` the argv run; ``port`` the ``PORT`` given; ``health`` how health was probed (``tcp
    :8080``, ``http :8080/healthz``); ``healthy_at`` when the first probe succeeded (None: never);
    ``exited_at`` and ``exit_code`` when the command ended on its own before being stopped (a signal is
    128 + its number, as a shell reports it); ``timed_out`` whether waiting for health ran out
    (``timeout`` seconds); ``listening`` the ``(address, port)`` the service listened on when healthy or
    when the wait ended; ``peak_memory`` the largest resident memory of the process tree seen,
    ``killed_for_memory`` whether it went past the limit and was killed; ``cpu_seconds`` CPU time used
    until healthy (or the end); ``log_tail`` the last lines of output; ``tracebacks`` and ``errors``
    (``ERROR``/``CRITICAL`` lines, grouped: line -> count) seen until the end of the start-up;
    ``stopped_after`` seconds from SIGTERM to exit (None: it did not exit within ``grace``);
    ``stop_exit_code``; the budgets; ``imports_probed`` how many modules the import probe imported
    (``start.imports``), ``imports_left_out`` modules it did not import (start-up modules
    of a framework set-up it does not know, or out of time), ``imports_note`` why it did not
    run, ``imports_remembered`` whether an earlier run with the same image and sandbox imported them all
    (``imports.probe_key``) and so none was imported again, ``import_failures`` its failures (``imports.Failure.to_json``); ``dependencies`` those started
    with ``--with`` (``{"dependency": "PostgreSQL at db:5432 (DATABASE_URL)", "setting", "refused": [the
    logins it refused, from its log]}``); ``timeline`` events ``{"t": s, "event": name, ...}``; ``port_note`` which ``PORT`` was given and why
    (``start.platform.port``), ``port_name`` what ``port`` is to the platform (``PORT``, or a Kubernetes
    ``containerPort``); ``root`` how the image's root was mounted (``writable (...)``, ``read-only
    (...)``)."""

    command: list[str]
    port: int
    health: str
    budget_seconds: float
    budget_memory: int
    grace: float
    timeout: float
    healthy_at: float | None = None
    exited_at: float | None = None
    exit_code: int | None = None
    timed_out: bool = False
    listening: list[tuple[str, int]] = field(default_factory=list)
    peak_memory: int = 0
    killed_for_memory: bool = False
    memory_limit: int = 0
    cpu_seconds: float = 0.0
    log_tail: list[str] = field(default_factory=list)
    tracebacks: list[Traceback] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    stopped_after: float | None = None
    stop_exit_code: int | None = None
    dependency_ports: list[int] = field(default_factory=list)
    dependencies: list[dict] = field(default_factory=list)
    imports_probed: int = 0
    imports_left_out: int = 0
    imports_note: str = ""
    imports_remembered: bool = False
    import_failures: list[dict] = field(default_factory=list)
    timeline: list[dict] = field(default_factory=list)
    port_note: str = ""
    port_name: str = "PORT"
    root: str = ""

    def to_json(self) -> dict:
        """The observation as JSON-ready data."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> Observation:
        """The observation ``to_json`` wrote (lists for tuples). Raises KeyError or TypeError when a required
        field is missing or mistyped."""
        data = dict(data)
        data["tracebacks"] = [Traceback(t["exception"], [tuple(f) for f in t.get("frames", [])], t.get("count", 1))
                              for t in data.get("tracebacks", [])]
        data["listening"] = [tuple(a) for a in data.get("listening", [])]
        return cls(**data)
