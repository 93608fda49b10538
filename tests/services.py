"""Throwaway PostgreSQL clusters and Redis servers for the --connect tests, started and stopped by the tests
themselves on free loopback ports (CI runs on a fresh machine as root with only package registries).

PostgreSQL comes from Debian's server binaries (``/usr/lib/postgresql/*/bin``, or ``pg_config --bindir``);
``initdb`` refuses to run as root, so as root every server command runs as the ``postgres`` user through
``runuser``. Each cluster lives in its own temporary directory (data, unix socket, log, certificates).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=False).stdout.strip()
        if out and (Path(out) / "initdb").exists():
            return Path(out)
    return None


@dataclass
class Cluster:
    port: int
    base: Path
    bindir: Path
    as_user: list[str]

    def run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*self.as_user, *args], capture_output=True, text=True, timeout=120, check=False)

    def sql(self, statement: str) -> None:
        proc = self.run(str(self.bindir / "psql"), "-h", str(self.base), "-p", str(self.port), "-U", "postgres",
                        "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-c", statement)
        if proc.returncode != 0:
            raise RuntimeError(f"psql failed: {proc.stderr}")

    def stop(self) -> None:
        self.run(str(self.bindir / "pg_ctl"), "-D", str(self.base / "data"), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.base, ignore_errors=True)


def start_cluster(hba: list[str], conf: list[str] = (), certificate: bool = False) -> Cluster:
    """initdb + pg_ctl start on a free port, listening on 127.0.0.1 and a socket in its own directory.
    ``hba`` replaces pg_hba.conf (a ``local all all trust`` line is always first, for the test's own psql);
    ``certificate`` makes a self-signed certificate with ``openssl req`` and turns ``ssl`` on."""
    bindir = _bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries not installed (Debian package postgresql)")
    as_user: list[str] = []
    base = Path(tempfile.mkdtemp(prefix="deploycheck-pg-"))
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root without a postgres user to run the server as")
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(base, "postgres", "postgres")
    os.chmod(base, 0o700)
    port = free_port()
    cluster = Cluster(port, base, bindir, as_user)
    proc = cluster.run(str(bindir / "initdb"), "-D", str(base / "data"), "-U", "postgres", "-E", "UTF8",
                       "--auth-local=trust", "--auth-host=scram-sha-256", "--no-instructions")
    if proc.returncode != 0:
        raise RuntimeError(f"initdb failed: {proc.stderr}")
    lines = [f"port = {port}", "listen_addresses = '127.0.0.1'", f"unix_socket_directories = '{base}'",
             "password_encryption = 'scram-sha-256'", "fsync = off", *conf]
    if certificate:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                        "/CN=localhost", "-keyout", str(base / "server.key"), "-out", str(base / "server.crt")],
                       check=True, capture_output=True)
        os.chmod(base / "server.key", 0o600)
        if as_user:
            for name in ("server.key", "server.crt"):
                shutil.chown(base / name, "postgres", "postgres")
        lines += ["ssl = on", f"ssl_cert_file = '{base / 'server.crt'}'", f"ssl_key_file = '{base / 'server.key'}'"]
    with open(base / "data" / "postgresql.conf", "a") as f:
        f.write("\n".join(lines) + "\n")
    (base / "data" / "pg_hba.conf").write_text("\n".join(["local all all trust", *hba]) + "\n")
    proc = cluster.run(str(bindir / "pg_ctl"), "-D", str(base / "data"), "-l", str(base / "log"), "-w", "-t", "60",
                       "start")
    if proc.returncode != 0:
        log = (base / "log").read_text(errors="replace") if (base / "log").exists() else ""
        shutil.rmtree(base, ignore_errors=True)
        raise RuntimeError(f"pg_ctl start failed: {proc.stderr}{log[-2000:]}")
    return cluster


def other_ca(directory: Path) -> Path:
    """A self-signed certificate that did not sign any server's certificate, as a root to verify against."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                    "/CN=Another CA", "-keyout", str(directory / "ca.key"), "-out", str(directory / "ca.crt")],
                   check=True, capture_output=True)
    return directory / "ca.crt"


@dataclass
class Redis:
    port: int
    proc: subprocess.Popen

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def start_redis(password: str) -> Redis:
    """redis-server on a free port with ``requirepass`` and nothing kept on disk."""
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.skip("redis-server not installed (Debian package redis-server)")
    port = free_port()
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--requirepass", password,
                             "--save", "", "--appendonly", "no", "--dir", tempfile.gettempdir()],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):  # ready when it accepts a connection (bounded: 20 s at most)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return Redis(port, proc)
        except OSError:
            time.sleep(0.1)
    proc.terminate()
    raise RuntimeError("redis-server did not start")
