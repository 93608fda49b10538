"""Health probes with Kubernetes' semantics (``Probe`` of the core/v1 API): ``tcpSocket`` succeeds when a
connection opens; ``httpGet`` when the response status is 200-399; each attempt is bounded by
``timeoutSeconds``; attempts start ``initialDelaySeconds`` after the container, then every
``periodSeconds``; ``failureThreshold`` consecutive failures fail the probe (a startup probe then restarts
the container); one success is healthy (``successThreshold`` is 1 for startup probes).

Attempts run in a prober process inside the sandbox's network namespace (``network.Network.enter``),
with the host's interpreter and only its standard library, one JSON line per attempt each way.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass

from deploycheck.errors import UsageError
from deploycheck.start.network import POD_IP


@dataclass(frozen=True)
class Probe:
    """``kind`` ``tcp``, ``http`` or ``exec``; ``port``; ``path`` and ``host`` (the Host header) and
    ``scheme`` of an HTTP probe; ``address`` the address it connects to ('' for the pod's), ``refused``
    why no connection is tried (the address is not the pod's as the kubelet sees it: every attempt fails); ``command`` of an exec probe (run inside the sandbox); seconds ``period``,
    ``timeout``, ``initial_delay``; ``failure_threshold`` attempts, failures before ``start_period`` seconds
    not counted (Docker's start period); ``source`` where it was declared (``probe.sources``)."""

    kind: str
    port: int
    path: str = "/"
    host: str = POD_IP
    scheme: str = "http"
    period: float = 0.05  # ours (the default TCP probe, --health): a connection is cheap, the time precise
    timeout: float = 1.0
    initial_delay: float = 0.0
    failure_threshold: int | None = None  # None: until the wait for health times out
    command: tuple[str, ...] = ()
    start_period: float = 0.0
    source: str = ""
    address: str = ""
    refused: str = ""

    def describe(self) -> str:
        """``tcp :8080``, ``http :8080/healthz``, ``exec curl -f ...``, with `` (source)`` when declared."""
        if self.kind == "exec":
            text = "exec " + " ".join(self.command)
            text = text if len(text) <= 80 else text[:77] + "..."
        else:
            where = f"{self.address}:{self.port}" if self.address else f":{self.port}"
            text = f"tcp {where}" if self.kind == "tcp" else f"{self.scheme} {where}{self.path}"
        return f"{text} ({self.source})" if self.source else text


def parse(text: str, port: int) -> Probe:
    """The probe ``--health`` names: a port (``8081``: TCP), a path (``/healthz``: HTTP GET on ``port``), or
    a URL (``http://localhost:8000/ready``). Raises UsageError for anything else."""
    from urllib.parse import urlsplit

    text = text.strip()
    if text.isdigit() and 0 < int(text) < 65536:
        return Probe("tcp", int(text))
    if text.startswith("/"):
        return Probe("http", port, path=text)
    parts = urlsplit(text)
    if parts.scheme in ("http", "https") and parts.hostname:
        try:
            url_port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise UsageError(f"--health {text}: the port is not a number from 1 to 65535") from None
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        return Probe("http", url_port, path=path, host=parts.hostname, scheme=parts.scheme)
    raise UsageError(f"--health {text}: expected a port, a path (/healthz) or an http:// URL")


# The prober: reads {"kind", "port", "path", "host", "scheme", "timeout", "address"} lines, answers {"ok",
# "status", "error"}; the connection goes to the pod's address, the Host header names the probe's host (as
# the kubelet connects to the pod's IP).
_PROBER = r"""
import http.client, json, socket, ssl, sys
for line in sys.stdin:
    p = json.loads(line)
    out = {"ok": False, "status": None, "error": ""}
    try:
        if p["kind"] == "tcp":
            socket.create_connection((p["address"], p["port"]), timeout=p["timeout"]).close()
            out["ok"] = True
        else:
            if p["scheme"] == "https":
                ctx = ssl._create_unverified_context()
                conn = http.client.HTTPSConnection(p["address"], p["port"], timeout=p["timeout"], context=ctx)
            else:
                conn = http.client.HTTPConnection(p["address"], p["port"], timeout=p["timeout"])
            conn.request("GET", p["path"], headers={"Host": p["host"], "User-Agent": "kube-probe/deploycheck"})
            status = conn.getresponse().status
            conn.close()
            out["status"] = status
            out["ok"] = 200 <= status < 400
    except Exception as exc:
        out["error"] = type(exc).__name__ + (": " + str(exc) if str(exc) else "")
    print(json.dumps(out), flush=True)
"""


def run_exec(probe: Probe, pid: int, uid: int, gid: int, env: dict[str, str]) -> dict:
    """One attempt of an exec probe, as ``docker exec`` and the kubelet run it: ``probe.command`` inside
    the namespaces of the service's process ``pid`` (``nsenter(1)``: user, mount, PID, network, IPC, UTS;
    its root and working directory) as the image's user (``uid``, ``gid``) with the service's environment,
    bounded by ``probe.timeout``. Healthy when it exits 0: ``{"ok", "status": exit code, "error"}``."""
    import os
    import shutil
    import signal

    argv = [shutil.which("nsenter") or "nsenter", f"--target={pid}", "--user", "--mount", "--pid", "--net",
            "--ipc", "--uts", "--root", "--wd", f"--setuid={uid}", f"--setgid={gid}", "--", *probe.command]
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        _, err = proc.communicate(timeout=probe.timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return {"ok": False, "status": None, "error": f"did not finish within {probe.timeout:g} s"}
    last = (err.decode("utf-8", "replace").strip().splitlines() or [""])[-1][:300]
    return {"ok": proc.returncode == 0, "status": proc.returncode, "error": last}


class Prober:
    """The prober process in the namespace that ``enter`` (an argv prefix) joins. ``close()`` ends it."""

    def __init__(self, enter: list[str]) -> None:
        self.proc = subprocess.Popen([*enter, sys.executable, "-I", "-S", "-c", _PROBER], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

    def attempt(self, probe: Probe) -> dict:
        """One attempt: ``{"ok": bool, "status": int | None, "error": str}``."""
        if probe.refused:
            return {"ok": False, "status": None, "error": probe.refused}
        request = {"kind": probe.kind, "port": probe.port, "path": probe.path, "host": probe.host,
                   "scheme": probe.scheme, "timeout": probe.timeout, "address": probe.address or POD_IP}
        try:
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
            return json.loads(line) if line else {"ok": False, "status": None, "error": "prober ended"}
        except (OSError, ValueError):
            return {"ok": False, "status": None, "error": "prober ended"}

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
