"""DC608 errors-logged: the service printed tracebacks or ERROR/CRITICAL log lines while starting.

Why it matters: a service that starts "healthy" while logging errors usually runs without a part of
itself (a worker that failed to boot, a cache it could not reach, a plugin that did not load). Each
distinct traceback and each distinct error line (numbers and addresses aside) is one finding with how
often it was seen, secrets masked. A warning: the service did start. When the service exited before
healthy, its traceback is DC601's, not repeated here.
"""

from __future__ import annotations

from collections.abc import Iterator

from deploycheck.findings.finding import WARNING, Finding
from deploycheck.start.findings import finding, last_traceback, read_only_hint
from deploycheck.start.observation import Observation

CODE = "DC608"
NAME = "errors-logged"
COMMAND = "start"


def check(obs: Observation) -> Iterator[Finding]:
    ending = last_traceback(obs) if obs.exited_at is not None and obs.healthy_at is None else None
    for tb in obs.tracebacks:
        if tb is ending:
            continue
        times = f" ({tb.count} times)" if tb.count > 1 else ""
        yield finding(CODE, f"traceback while starting: {tb.exception}{times}{read_only_hint(obs, tb.exception)}", obs, severity=WARNING,
                      symbol=tb.exception.partition(":")[0], traceback=tb)
    for line, count in obs.errors.items():
        times = f" ({count} times)" if count > 1 else ""
        yield finding(CODE, f"error logged while starting: {line.strip()}{times}{read_only_hint(obs, line)}", obs, severity=WARNING)
