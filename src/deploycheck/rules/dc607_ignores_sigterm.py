"""DC607 ignores-sigterm: after SIGTERM the service did not exit within the grace period.

Why it fails the deploy: ``docker stop`` and the kubelet send SIGTERM to the container's PID 1 and kill it
after the grace period (10 s by default): every deploy then waits that long for each pod, and requests in
flight are cut instead of finished. A process that is PID 1 in its namespace gets no default action for
SIGTERM (the kernel ignores it unless a handler is installed, pid_namespaces(7)); a shell form ``CMD``
(``sh -c``) does not pass it on. Found by ``deploycheck start``: once healthy, the command (PID 1 of the
sandbox, as in a container without an init) gets SIGTERM; the grace is ``grace-seconds``.
"""

from __future__ import annotations

from collections.abc import Iterator

from deploycheck.findings.finding import Finding
from deploycheck.start.findings import finding
from deploycheck.start.observation import Observation

CODE = "DC607"
NAME = "ignores-sigterm"
COMMAND = "start"


def check(obs: Observation) -> Iterator[Finding]:
    if obs.healthy_at is not None and obs.stopped_after is None and not obs.killed_for_memory:
        yield finding(CODE, f"the service was still running {obs.grace:g} s after SIGTERM (it ignores it, or "
                      "shuts down too slowly): killed", obs)
