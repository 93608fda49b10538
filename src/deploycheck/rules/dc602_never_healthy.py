"""DC602 never-healthy: the service kept running but its health probe never succeeded in time.

Why it fails the deploy: a startup or readiness probe that never passes means no traffic, and a startup
probe's failure threshold restarts the container. The probe is the one the deployment uses (``--health``;
by default a TCP connection to $PORT), made as the kubelet makes it: to the pod's address, not loopback.
Past the wait (``--timeout``, ``timeout-seconds``) or the probe's failure threshold, this is reported with
what the service was listening on and the last probe's error. (Listening on loopback only, or on another port, is DC603 or DC604.)
"""

from __future__ import annotations

from collections.abc import Iterator

from deploycheck.findings.finding import Finding
from deploycheck.start.findings import finding
from deploycheck.start.observation import Observation

CODE = "DC602"
NAME = "never-healthy"
COMMAND = "start"


def check(obs: Observation) -> Iterator[Finding]:
    if not obs.timed_out or obs.healthy_at is not None:
        return
    sockets = ", ".join(f"{a}:{p}" for a, p in obs.listening if p not in obs.dependency_ports) or "nothing"
    last = next((e["error"] for e in reversed(obs.timeline) if e.get("error")), "")
    said = f"; the last probe: {last}" if last else ""
    yield finding(CODE, f"the service was not healthy ({obs.health}) within {obs.timeout:g} s; it was listening "
                  f"on {sockets}{said}", obs)
