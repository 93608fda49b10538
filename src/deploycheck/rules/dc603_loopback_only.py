"""DC603 loopback-only: the service listens on $PORT on a loopback address only (127.0.0.1, ::1).

Why it fails the deploy: inside a container, loopback is the container's own; the kubelet's probes, the
Service and other pods connect to the pod's address, and are refused. Bind to 0.0.0.0 (``--host 0.0.0.0``
for uvicorn, ``-b 0.0.0.0:$PORT`` for gunicorn). Found by ``deploycheck start`` from the listening sockets
of the sandbox's network namespace.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from deploycheck.findings.finding import Finding
from deploycheck.start.findings import finding
from deploycheck.start.observation import Observation

CODE = "DC603"
NAME = "loopback-only"
COMMAND = "start"


def check(obs: Observation) -> Iterator[Finding]:
    on_port = [a for a, p in obs.listening if p == obs.port]
    if on_port and all(ipaddress.ip_address(a).is_loopback for a in on_port):
        yield finding(CODE, f"the service listens on {', '.join(f'{a}:{obs.port}' for a in on_port)} only: "
                      "unreachable from outside the container (bind 0.0.0.0)", obs, symbol=str(obs.port))
