"""A real distribution registry (Debian's ``docker-registry`` package) on a free loopback port, with its
storage in a temporary directory, for the tests of the docker:// transport."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from images.build import stop

EXE = "docker-registry"
CONFIG = """version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: {root}
http:
  addr: 127.0.0.1:{port}
"""


def missing() -> bool:
    return shutil.which(EXE) is None


def free_port() -> int:
    """A loopback TCP port nothing listens on (bound then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running(workdir: Path):
    """Start the registry, wait until ``/v2/`` answers (at most 30 s), yield ``127.0.0.1:PORT``, stop it."""
    port = free_port()
    (workdir / "storage").mkdir(parents=True)
    config = workdir / "config.yml"
    config.write_text(CONFIG.format(root=workdir / "storage", port=port))
    log = open(workdir / "registry.log", "wb")
    proc = subprocess.Popen([EXE, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the registry did not start: {(workdir / 'registry.log').read_text()[-2000:]}")
            time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        stop(proc, 10)
        log.close()
