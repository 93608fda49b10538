"""Throwaway dependencies of ``deploycheck start --with postgres|redis``, in the service's private network.

Each is started where the environment says the service will find it: PostgreSQL with the role, password
and database of the environment's database URL (``DATABASE_URL``, else the first setting the configuration
contract takes for a PostgreSQL URL: ``contract.urls.looks_like_database``), Redis with the password of
``REDIS_URL`` (else the first ``redis://`` or ``rediss://`` value), each listening on the port the URL
names (5432, 6379 by default) in the network namespace of ``network.Network``; a host name in the URL is
put in the sandbox's ``/etc/hosts`` on loopback. Nothing persists: PostgreSQL's cluster (``initdb``; the
server runs as the ``postgres`` account when deploycheck runs as root, since it refuses root) and Redis's
working directory live in a private temporary directory removed by ``stop``. A secret never reaches a
command line: SQL goes to ``psql`` on its standard input, Redis reads its configuration from its standard
input. The server's log is kept there until ``stop``: ``refusals`` reads the logins it refused.
"""

from __future__ import annotations

import glob
import ipaddress
import os
import pwd
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from deploycheck import private
from deploycheck.errors import UsageError

KINDS = ("postgres", "redis")
READY_SECONDS = 60.0
# PostgreSQL's message for a refused login (elog.c FATAL, auth.c auth_failed()), and Redis's AUTH refusal.
_REFUSED = re.compile(r"FATAL:\s+(password authentication failed for user \"[^\"]*\"|role \"[^\"]*\" does not "
                      r"exist|database \"[^\"]*\" does not exist|no pg_hba\.conf entry[^\n]*)")


@dataclass
class Dependency:
    """A started dependency: ``kind`` (KINDS), ``setting`` the variable whose URL it follows, ``host`` and
    ``port`` where the service reaches it, ``base`` its private directory, ``proc`` its server."""

    kind: str
    setting: str
    host: str
    port: int
    base: str
    proc: subprocess.Popen | None = None

    def describe(self) -> str:
        """``PostgreSQL at db:5432 (DATABASE_URL)``."""
        return f"{'PostgreSQL' if self.kind == 'postgres' else 'Redis'} at {self.host}:{self.port} ({self.setting})"


@dataclass(frozen=True)
class Target:
    """What a URL asks of a dependency: ``user``, ``password``, ``database`` (None: not given)."""

    setting: str
    host: str
    port: int
    user: str | None
    password: str | None
    database: str | None


def target(kind: str, env: dict[str, str]) -> Target:
    """The dependency ``env`` (the service's environment) points at. Raises UsageError when no setting names
    one, or it names a place the private network cannot hold (a socket, an address not on loopback)."""
    from deploycheck.contract import urls

    if kind == "postgres":
        names = ["DATABASE_URL"] if "DATABASE_URL" in env else []
        names += sorted(n for n in env if n != "DATABASE_URL" and urls.looks_like_database(n, env[n]))
        found = [(n, urls.parse(env[n])) for n in names]
        found = [(n, u) for n, u in found if isinstance(u, urls.DbUrl)]
        if not found:
            raise UsageError("--with postgres: no database URL in the environment (DATABASE_URL, or a "
                             "postgresql:// setting); give it with --env, --env-file or --manifest")
        name, url = found[0]
        if url.socket:
            raise UsageError(f"--with postgres: {name} names a unix socket ({url.socket}); a throwaway "
                             "PostgreSQL is reached over TCP")
        host, port, default = url.host or "localhost", url.port, 5432
        user, password, database = url.username, url.password, url.database
    else:
        names = ["REDIS_URL"] if "REDIS_URL" in env else []
        names += sorted(n for n in env if n != "REDIS_URL" and env[n].lower().startswith(("redis://", "rediss://")))
        if not names:
            raise UsageError("--with redis: no Redis URL in the environment (REDIS_URL, or a redis:// setting)")
        name = names[0]
        try:
            parts = urlsplit(env[name])
            port = str(parts.port) if parts.port else None
        except ValueError:
            raise UsageError(f"--with redis: {name} is not a URL") from None
        host, default = parts.hostname or "localhost", 6379
        user = unquote(parts.username) if parts.username else None
        password, database = (unquote(parts.password) if parts.password else None), None
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        address = None
    if address is not None and not address.is_loopback:
        raise UsageError(f"--with {kind}: {name} names the address {host}; the private network has loopback "
                         "only: name the host (it is resolved to loopback inside the sandbox)")
    if port is not None and (not str(port).isdigit() or not 0 < int(port) < 65536):
        raise UsageError(f"--with {kind}: {name} has a port that is not a number")
    return Target(name, host, int(port) if port else default, user, password, database)


def start(kind: str, want: Target, network_enter: list[str]) -> Dependency:
    """Start ``kind`` as ``want`` says, in the namespace ``network_enter`` enters; returns once it accepts
    connections. Raises UsageError when its programs are missing or it does not start (its log's last
    line)."""
    base = private.make(f"deploycheck-{kind}-")
    dep = Dependency(kind, want.setting, want.host, want.port, base)
    try:
        if kind == "postgres":
            _postgres(dep, want, network_enter)
        else:
            _redis(dep, want, network_enter)
    except BaseException:
        stop(dep)
        raise
    return dep


def stop(dep: Dependency) -> None:
    """Stop the server (SIGQUIT: PostgreSQL's immediate shutdown; Redis quits on it too) and remove its
    directory."""
    if dep.proc is not None:
        if dep.proc.poll() is None:
            dep.proc.send_signal(signal.SIGQUIT)
            try:
                dep.proc.wait(10)
            except subprocess.TimeoutExpired:
                dep.proc.kill()
                dep.proc.wait()
        try:  # its own session: whatever the server forked and left
            os.killpg(dep.proc.pid, signal.SIGKILL)
        except OSError:
            pass
        if dep.proc.stdin:
            dep.proc.stdin.close()
    private.remove(dep.base)


def refusals(dep: Dependency) -> list[str]:
    """The logins the dependency refused, from its log (at most 5 distinct lines)."""
    try:
        with open(os.path.join(dep.base, "log"), errors="replace") as f:
            text = f.read(1024 * 1024)
    except OSError:
        return []
    return list(dict.fromkeys(m.group(1) for m in _REFUSED.finditer(text)))[:5]


def _as_server() -> list[str]:
    """The prefix running PostgreSQL's programs as ``postgres`` when deploycheck is root (they refuse root)."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise UsageError("--with postgres: running as root, and there is no `postgres` account to run the "
                         "server as (the Debian package postgresql makes it)") from None
    return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"]  # execs: signals reach it


def _bindir() -> str:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(p.split("/")[4]))
    if found:
        return os.path.dirname(found[-1])
    exe = shutil.which("postgres")
    if exe is None:
        raise UsageError("--with postgres: the PostgreSQL server is not installed (Debian package postgresql)")
    return os.path.dirname(exe)


def _postgres(dep: Dependency, want: Target, network_enter: list[str]) -> None:
    bindir, as_server = _bindir(), _as_server()
    if as_server:
        shutil.chown(dep.base, "postgres", "postgres")
    data = os.path.join(dep.base, "data")
    proc = subprocess.run([*as_server, os.path.join(bindir, "initdb"), "-D", data, "-U", "postgres", "-E", "UTF8",
                           "--auth-local=trust", "--auth-host=scram-sha-256", "--no-instructions"],
                          capture_output=True, text=True, timeout=120, check=False, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise UsageError(f"--with postgres: initdb failed ({(proc.stderr.strip().splitlines() or ['?'])[-1]})")
    with open(os.path.join(data, "postgresql.conf"), "a") as f:
        f.write(f"port = {dep.port}\nlisten_addresses = '*'\nunix_socket_directories = '{dep.base}'\n"
                "password_encryption = 'scram-sha-256'\nfsync = off\nlog_connections = off\n")
    with open(os.path.join(data, "pg_hba.conf"), "w") as f:
        f.write("local all all trust\nhost all all 0.0.0.0/0 scram-sha-256\nhost all all ::/0 scram-sha-256\n")
    log = open(os.path.join(dep.base, "log"), "ab")  # noqa: SIM115 - kept open by the server
    try:
        dep.proc = subprocess.Popen([*network_enter, *as_server, os.path.join(bindir, "postgres"), "-D", data],
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    finally:
        log.close()
    psql = [*as_server, os.path.join(bindir, "psql"), "-h", dep.base, "-p", str(dep.port), "-U", "postgres",
            "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-q", "-X"]
    _wait(dep, lambda: subprocess.run([*psql, "-c", "SELECT 1"], capture_output=True, timeout=30,
                                      check=False, stdin=subprocess.DEVNULL).returncode == 0)
    user = want.user or "postgres"
    sql = []
    if user != "postgres":
        sql.append(f"CREATE ROLE {_ident(user)} LOGIN")
    if want.password is not None:
        sql.append(f"ALTER ROLE {_ident(user)} PASSWORD {_literal(want.password)}")
    if want.database and want.database != "postgres":
        sql.append(f"CREATE DATABASE {_ident(want.database)} OWNER {_ident(user)}")
    proc = subprocess.run(psql, input=";\n".join(sql) + ";\n", capture_output=True, text=True, timeout=60,
                          check=False)
    if proc.returncode != 0:
        raise UsageError(f"--with postgres: cannot make the role and database of {want.setting} "
                         f"({(proc.stderr.strip().splitlines() or ['?'])[-1]})")


def _redis(dep: Dependency, want: Target, network_enter: list[str]) -> None:
    exe = shutil.which("redis-server")
    if exe is None:
        raise UsageError("--with redis: redis-server is not installed (Debian package redis-server)")
    config = [f"port {dep.port}", "bind * -::*", "protected-mode no", "save \"\"", "appendonly no",
              f"dir {dep.base}", f"logfile {os.path.join(dep.base, 'log')}"]
    if want.password is not None:
        if want.user and want.user != "default":
            config.append(f"user {_redis_quote(want.user)} on {_redis_quote('>' + want.password)} ~* &* +@all")
        config.append(f"requirepass {_redis_quote(want.password)}")
    dep.proc = subprocess.Popen([*network_enter, exe, "-"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
    dep.proc.stdin.write(("\n".join(config) + "\n").encode())
    dep.proc.stdin.close()
    _wait(dep, lambda: _listening(dep.proc.pid, dep.port))


def _wait(dep: Dependency, ready) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if dep.proc.poll() is not None:
            break
        if ready():
            return
        time.sleep(0.1)
    try:
        with open(os.path.join(dep.base, "log"), errors="replace") as f:
            last = (f.read(1024 * 1024).strip().splitlines() or ["no output"])[-1]
    except OSError:
        last = "no log"
    raise UsageError(f"--with {dep.kind}: {dep.describe()} did not start ({last})")


def _listening(pid: int, port: int) -> bool:
    """Whether something listens on TCP ``port`` in the network namespace of process ``pid``."""
    for name in ("tcp", "tcp6"):
        try:
            with open(f"/proc/{pid}/net/{name}") as f:
                for line in f.read().splitlines()[1:]:
                    fields = line.split()
                    if len(fields) > 3 and fields[3] == "0A" and int(fields[1].rpartition(":")[2], 16) == port:
                        return True
        except OSError:
            continue
    return False


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _redis_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
