"""Helpers the DC6xx rules share: where a run-time finding points."""

from __future__ import annotations

from deploycheck.findings.finding import ERROR, Finding
from deploycheck.start.observation import Observation, Traceback

COMMAND_PLACE = "<image command>"


def finding(code: str, message: str, obs: Observation, severity: str = ERROR, symbol: str = "",
            traceback: Traceback | None = None) -> Finding:
    """A finding at the last frame of ``traceback`` (the statement that raised), else at the image's
    command; ``when`` is ``startup``."""
    path, line = COMMAND_PLACE, 0
    if traceback is not None and traceback.frames:
        path, line = traceback.frames[-1][0], traceback.frames[-1][1]
    return Finding(code, severity, message, path, line, 0, symbol=symbol, origin="project", when="startup")


def last_traceback(obs: Observation) -> Traceback | None:
    """The traceback seen last (the one that ended the process, when one did)."""
    return obs.tracebacks[-1] if obs.tracebacks else None


def megabytes(n: int) -> str:
    return f"{n / 1024**2:.0f} MB"
