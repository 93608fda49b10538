"""DC601 exited-before-healthy: the service's command ended before it was healthy.

Why it fails the deploy: the container exits, the orchestrator restarts it, and it never serves (Kubernetes
shows CrashLoopBackOff). Found by ``deploycheck start``: the image's Entrypoint and Cmd run in a sandbox with
the deployment's environment and PORT; the command ended (by itself, or by a signal) before the health
probe succeeded. The finding points at the statement that raised the last traceback of the output, and
gives the exit code and the exception; the report has the last lines of output.

Example::

    KeyError: 'DATABASE_URL'      # settings read at import, not set in this environment
"""

from __future__ import annotations

from collections.abc import Iterator

from deploycheck.findings.finding import Finding
from deploycheck.start.findings import finding, last_traceback, read_only_hint
from deploycheck.start.observation import Observation

CODE = "DC601"
NAME = "exited-before-healthy"
COMMAND = "start"


def check(obs: Observation) -> Iterator[Finding]:
    if obs.exited_at is None or obs.healthy_at is not None:
        return
    tb = last_traceback(obs)
    why = f": {tb.exception}{read_only_hint(obs, tb.exception)}" if tb else ""
    yield finding(CODE, f"the service exited with code {obs.exit_code} after {obs.exited_at:.2f} s, before it was "
                  f"healthy ({obs.health}){why}", obs, symbol=str(obs.exit_code), traceback=tb)
