"""A real Docker daemon (Debian's ``docker.io`` package, dockerd with the containerd it starts itself) on a
private unix socket and a free loopback TCP port, with its data root, exec root and pid file in a temporary
directory, for the tests of the docker-daemon: transport. It only loads and exports images, so it runs with
the vfs storage driver and without bridge, iptables or IP forwarding."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from images.build import stop
from images.registry import free_port

EXE = "dockerd"
START_TIMEOUT = 60.0  # seconds for /_ping to answer


class NotStarted(Exception):
    """dockerd exited or did not answer /_ping within START_TIMEOUT; the message says why."""


def missing() -> bool:
    return shutil.which(EXE) is None


def _client(socket: str) -> httpx.Client:
    return httpx.Client(base_url="http://docker", transport=httpx.HTTPTransport(uds=socket), trust_env=False)


@contextlib.contextmanager
def running():
    """Start dockerd, wait until ``GET /_ping`` answers on its socket, yield ``(unix_address, tcp_address)``
    (``unix:///…/docker.sock``, ``tcp://127.0.0.1:PORT``), then stop it and remove its directories. Raises
    NotStarted with the end of its log when it does not come up."""
    # a short path: a unix socket path must fit in 108 bytes, containerd's socket lives under the exec root
    work = Path(tempfile.mkdtemp(prefix="dc-dockerd-"))
    socket, port = work / "docker.sock", free_port()
    log = open(work / "dockerd.log", "wb")
    proc = subprocess.Popen(
        [EXE, "--host", f"unix://{socket}", "--host", f"tcp://127.0.0.1:{port}", "--data-root", str(work / "root"),
         "--exec-root", str(work / "exec"), "--pidfile", str(work / "docker.pid"), "--storage-driver", "vfs",
         "--iptables=false", "--ip6tables=false", "--bridge=none", "--ip-forward=false", "--ip-masq=false"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if socket.exists():
                try:
                    with _client(str(socket)) as client:
                        if client.get("/_ping", timeout=2).status_code == 200:
                            break
                except httpx.TransportError:
                    pass
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = (work / "dockerd.log").read_text(errors="replace").strip().splitlines()[-3:]
                state = f"exited with {proc.returncode}" if proc.poll() is not None else "did not answer /_ping"
                raise NotStarted(f"dockerd {state}: {' | '.join(tail)}")
            time.sleep(0.2)
        yield f"unix://{socket}", f"tcp://127.0.0.1:{port}"
    finally:
        stop(proc, 30)  # dockerd stops the containerd it started
        log.close()
        shutil.rmtree(work, ignore_errors=True)


def load(unix_address: str, archive: Path) -> str:
    """Load a docker-archive tar into the daemon (``POST /images/load``, what ``docker load`` does); returns
    the image ID ``sha256:HEX``."""
    with _client(unix_address[len("unix://"):]) as client, open(archive, "rb") as body:
        resp = client.post("/images/load", params={"quiet": "1"}, content=body, timeout=300)
        resp.raise_for_status()
        loaded = []
        for line in resp.text.splitlines():
            msg = json.loads(line)
            if "error" in msg:
                raise RuntimeError(f"docker load failed: {msg['error']}")
            loaded.append(msg.get("stream", "").strip())
        [name] = [s.split(": ", 1)[1] for s in loaded if s.startswith("Loaded image")]
        info = client.get(f"/images/{name}/json", timeout=30)
        info.raise_for_status()
        return info.json()["Id"]


def tag(unix_address: str, image: str, repo: str, tag_: str) -> None:
    """Tag ``image`` as ``repo:tag_`` (``POST /images/{name}/tag``, what ``docker tag`` does)."""
    with _client(unix_address[len("unix://"):]) as client:
        client.post(f"/images/{image}/tag", params={"repo": repo, "tag": tag_}, timeout=30).raise_for_status()
