"""Where the health probe of ``deploycheck start`` comes from, first found first: ``--health``; the
manifest's ``startupProbe``, else its ``readinessProbe`` (Kubernetes core/v1 ``Probe``, of the container
``--container`` names or the only one); the image's ``HEALTHCHECK`` (the ``Healthcheck`` of the Docker image
config); else a TCP connection to ``$PORT``.

Kubernetes' fields and defaults (Pod lifecycle, "Container probes"): ``httpGet`` (``path`` "/", ``port`` a
number or the name of one of the container's ``ports``, ``host`` the host name to connect to, the pod's IP
by default, ``httpHeaders`` whose ``Host`` is the Host header, ``scheme`` HTTP or HTTPS), ``tcpSocket``
(``port``), ``exec`` (``command``); ``initialDelaySeconds`` 0, ``periodSeconds`` 10, ``timeoutSeconds`` 1,
``failureThreshold`` 3. A startup probe that fails ``failureThreshold`` times in a row fails the start (the
kubelet restarts the container); a readiness probe only keeps the pod out of service, so the wait goes on
until the timeout. Docker's ``HEALTHCHECK`` (Dockerfile reference; durations in nanoseconds in the config):
``CMD`` or ``CMD-SHELL`` (``/bin/sh -c``) run inside the container, ``NONE`` disables it; the first check
runs ``Interval`` (30 s) after the start, then every ``Interval``, each bounded by ``Timeout`` (30 s);
failures during ``StartPeriod`` (0) do not count; ``Retries`` (3) consecutive failures make it unhealthy.
"""

from __future__ import annotations

import os

from deploycheck.errors import UsageError
from deploycheck.start.probe.health import Probe, parse

NS = 1e9  # nanoseconds in a second (the image config's durations)


def choose(health: str | None, manifests: list[str], container: str | None, config: dict, port: int) -> Probe:
    """The probe, as the module docstring orders the sources. Raises UsageError for a probe that cannot be
    used (a gRPC probe, a named port the container does not declare, a field of the wrong type)."""
    if health:
        return parse(health, port)
    return from_manifests(manifests, container) or from_healthcheck(config) or Probe("tcp", port)


def from_manifests(paths: list[str], container: str | None) -> Probe | None:
    """The startup probe of the first container of ``paths`` that has one, else its readiness probe."""
    if not paths:
        return None
    # imported here: the YAML parser only when there are files
    from deploycheck.contract import compose, kube, yamlfile

    found = []
    for path in paths:
        docs = yamlfile.load_all(path)
        if compose.is_compose(docs):
            continue  # docker-compose: its healthcheck is not read here
        found += [(path, c, _host_network(docs, c)) for c in kube.containers(path, docs, container)]
    for field in ("startupProbe", "readinessProbe"):
        for path, c, host_network in found:
            if c.get(field) is not None:
                return _kubernetes(c[field], c, f"{field} of {os.path.basename(path)}", field == "startupProbe",
                                   host_network)
    return None


def _host_network(docs: list[object], container: dict) -> bool:
    """Whether the pod spec holding ``container`` (the same object) sets ``hostNetwork: true``."""
    todo: list[object] = list(docs)
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            if isinstance(node.get("containers"), list) and any(c is container for c in node["containers"]):
                return node.get("hostNetwork") is True
            todo.extend(node.values())
        elif isinstance(node, list):
            todo.extend(node)
    return False


_LOOPBACK = ("localhost", "127.", "::1", "[::1]", "0:0:0:0:0:0:0:1")


def _seconds(probe: dict, key: str, default: int, least: int, where: str) -> int:
    value = probe.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise UsageError(f"{where}: {key} must be a whole number of at least {least}")
    return value


def _kubernetes(probe: object, container: dict, where: str, startup: bool, host_network: bool = False) -> Probe:
    if not isinstance(probe, dict):
        raise UsageError(f"{where}: must be a mapping")
    initial = _seconds(probe, "initialDelaySeconds", 0, 0, where)
    period = _seconds(probe, "periodSeconds", 10, 1, where)
    timeout = _seconds(probe, "timeoutSeconds", 1, 1, where)
    threshold = _seconds(probe, "failureThreshold", 3, 1, where)
    timing = {"period": float(period), "timeout": float(timeout), "initial_delay": float(initial),
              "failure_threshold": threshold if startup else None, "source": where}
    if isinstance(probe.get("httpGet"), dict):
        get = probe["httpGet"]
        scheme = str(get.get("scheme") or "HTTP").lower()
        if scheme not in ("http", "https"):
            raise UsageError(f"{where}: httpGet.scheme must be HTTP or HTTPS")
        path = str(get.get("path") or "/")
        kwargs = {"path": path if path.startswith("/") else "/" + path, "scheme": scheme, **timing}
        headers = get.get("httpHeaders") or []
        if not isinstance(headers, list) or not all(isinstance(h, dict) for h in headers):
            raise UsageError(f"{where}: httpGet.httpHeaders must be a list of name/value mappings")
        named = [str(h.get("value") or "") for h in headers if str(h.get("name") or "").lower() == "host"]
        if get.get("host"):
            # the kubelet connects to this host, from the node: its loopback is the node's, not the pod's
            # (unless the pod shares the node's network)
            host = str(get["host"])
            kwargs["host"] = kwargs["address"] = host.strip("[]")
            if host.lower().startswith(_LOOPBACK) and not host_network:
                kwargs["refused"] = (f"httpGet.host {host}: the kubelet connects from the node, whose loopback "
                                     "is not the pod's (without hostNetwork: true the probe never reaches it)")
        if named:
            kwargs["host"] = named[-1]
        return Probe("http", _port(get.get("port"), container, f"{where}: httpGet.port"), **kwargs)
    if isinstance(probe.get("tcpSocket"), dict):
        return Probe("tcp", _port(probe["tcpSocket"].get("port"), container, f"{where}: tcpSocket.port"), **timing)
    if isinstance(probe.get("exec"), dict):
        command = probe["exec"].get("command")
        if not isinstance(command, list) or not command or not all(isinstance(a, str) for a in command):
            raise UsageError(f"{where}: exec.command must be a list of strings")
        return Probe("exec", 0, command=tuple(command), **timing)
    if "grpc" in probe:
        raise UsageError(f"{where}: gRPC probes are not supported; give the health check with --health")
    raise UsageError(f"{where}: expected httpGet, tcpSocket or exec")


def _port(value: object, container: dict, where: str) -> int:
    """A probe's port: a number, or the name of one of the container's ``ports`` (its ``containerPort``)."""
    if isinstance(value, str) and not value.isdigit():
        for p in container.get("ports") or []:
            if isinstance(p, dict) and p.get("name") == value and isinstance(p.get("containerPort"), int):
                return p["containerPort"]
        raise UsageError(f"{where}: the container declares no port named {value!r}")
    if isinstance(value, bool) or not str(value).isdigit() or not 0 < int(str(value)) < 65536:
        raise UsageError(f"{where}: expected a port number or the name of a container port")
    return int(str(value))


def from_healthcheck(config: dict) -> Probe | None:
    """The image's ``HEALTHCHECK`` as a probe, None when it has none or it is ``NONE``."""
    check = config.get("Healthcheck")
    if not isinstance(check, dict):
        return None
    test = check.get("Test") or []
    if not isinstance(test, list) or not test or test[0] == "NONE":
        return None
    if test[0] == "CMD" and len(test) > 1:
        command = tuple(str(a) for a in test[1:])
    elif test[0] == "CMD-SHELL" and len(test) == 2:
        command = ("/bin/sh", "-c", str(test[1]))
    else:
        raise UsageError(f"the image's HEALTHCHECK {test!r}: expected CMD or CMD-SHELL")
    if any("\0" in a for a in command):
        raise UsageError("the image's HEALTHCHECK holds a NUL character: no process can be given it")

    def seconds(key: str, default: float) -> float:
        value = check.get(key) or 0
        if isinstance(value, int) and 0 < value < NS // 1000:  # moby refuses to create such a container
            raise UsageError(f"the image's HEALTHCHECK {key} of {value} ns: less than 1 ms, which Docker refuses")
        return value / NS if isinstance(value, int) and value > 0 else default

    interval = seconds("Interval", 30.0)
    retries = check.get("Retries") if isinstance(check.get("Retries"), int) and check["Retries"] > 0 else 3
    return Probe("exec", 0, command=command, period=interval, timeout=seconds("Timeout", 30.0),
                 initial_delay=interval, failure_threshold=retries, start_period=seconds("StartPeriod", 0.0),
                 source="HEALTHCHECK")
