"""DC604 not-on-port: the service listens, but not on the port the platform routes to.

The port is $PORT where the platform sets it (Cloud Run, Heroku, App Engine), or the container's
``containerPort`` under Kubernetes, which sets no PORT.

Why it fails the deploy: Cloud Run, Heroku, App Engine and most Kubernetes charts route to $PORT, a Kubernetes
Service to the containerPort; a service with a port hardcoded elsewhere is never reached, and its probes
fail. Found by ``deploycheck start``: the sandbox's listening sockets (the dependencies' own excluded) hold
none on that port.
"""

from __future__ import annotations

from collections.abc import Iterator

from deploycheck.findings.finding import Finding
from deploycheck.start.findings import finding
from deploycheck.start.observation import Observation

CODE = "DC604"
NAME = "not-on-port"
COMMAND = "start"


def check(obs: Observation) -> Iterator[Finding]:
    own = [(a, p) for a, p in obs.listening if p not in obs.dependency_ports]
    if own and all(p != obs.port for _, p in own):
        ports = ", ".join(f"{a}:{p}" for a, p in own)
        yield finding(CODE, f"the service listens on {ports}, not on {obs.port_name}={obs.port}", obs, symbol=str(obs.port))
