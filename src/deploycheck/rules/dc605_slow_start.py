"""DC605 slow-start: the service became healthy, but later than the start-up budget.

Why it fails the deploy: a start-up slower than the startup probe allows (``failureThreshold`` x
``periodSeconds``) gets the container restarted before it is ready, again and again; slow starts also
slow every rollout and autoscaling step. The budget is ``startup-seconds`` in ``[tool.deploycheck.start]``
(30 s by default); the time is measured from starting the command to the first successful probe.
"""

from __future__ import annotations

from collections.abc import Iterator

from deploycheck.findings.finding import Finding
from deploycheck.start.findings import finding
from deploycheck.start.observation import Observation

CODE = "DC605"
NAME = "slow-start"
COMMAND = "start"


def check(obs: Observation) -> Iterator[Finding]:
    if obs.healthy_at is not None and obs.healthy_at > obs.budget_seconds:
        yield finding(CODE, f"the service took {obs.healthy_at:.2f} s to become healthy, over the start-up budget "
                      f"of {obs.budget_seconds:g} s", obs)
