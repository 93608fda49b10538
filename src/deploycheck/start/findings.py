"""Helpers the DC6xx rules share: where a run-time finding points."""

from __future__ import annotations

import re

from deploycheck.findings.finding import ERROR, Finding
from deploycheck.start.observation import Observation, Traceback

COMMAND_PLACE = "<image command>"


def finding(code: str, message: str, obs: Observation, severity: str = ERROR, symbol: str = "",
            traceback: Traceback | None = None) -> Finding:
    """A finding at the last frame of ``traceback`` (the statement that raised), else at the image's
    command; ``when`` is ``startup``."""
    path, line = COMMAND_PLACE, 0
    frame = own_frame(traceback) if traceback is not None else None
    if frame is not None:
        path, line = frame[0], frame[1]
    return Finding(code, severity, message, path, line, 0, symbol=symbol, origin="project", when="startup")


_STDLIB = re.compile(r"/lib/python3\.\d+/(?!(site|dist)-packages/)")


def own_frame(traceback: Traceback) -> tuple[str, int, str, str] | None:
    """The last frame of ``traceback`` in the service's or its dependencies' code: not the standard
    library's (``<frozen os>``, ``/usr/lib/python3.11/``), where a ``KeyError`` of ``os.environ`` is raised
    but not caused; the last frame when all are."""
    for frame in reversed(traceback.frames):
        if not frame[0].startswith("<") and not _STDLIB.search(frame[0]):
            return frame
    return traceback.frames[-1] if traceback.frames else None


def last_traceback(obs: Observation) -> Traceback | None:
    """The traceback seen last (the one that ended the process, when one did)."""
    return obs.tracebacks[-1] if obs.tracebacks else None


_READ_ONLY = re.compile(r"Read-only file system|\[Errno 30\]|EROFS")


def read_only_hint(obs: Observation, text: str) -> str:
    """`` (the root filesystem is read-only: ...)`` when ``text`` (an exception, a log line) is a write
    refused because the manifest makes the root read-only (``Observation.root``), else ``""``: the write
    would fail on the platform too, and the fix is a volume mounted there or readOnlyRootFilesystem false."""
    if not obs.root.startswith("read-only") or not _READ_ONLY.search(text):
        return ""
    return (f" (the root filesystem is {obs.root}, as the platform will mount it: mount a volume, such as an "
            "emptyDir, where the service writes)")


def megabytes(n: int) -> str:
    return f"{n / 1024**2:.0f} MB"
