"""Database URLs as SQLAlchemy reads them (``dialect+driver://user:password@host:port/database?query``,
SQLAlchemy's "Engine Configuration" docs), and what their driver will do with them.

The driver is the scheme's ``+driver`` part; a plain ``postgresql`` means psycopg2, SQLAlchemy's default.
SQLAlchemy passes the query string to the driver's ``connect()`` as keyword arguments, so a key the driver
does not take is an error when the first connection is made: asyncpg's ``connect()`` has no ``sslmode``
(asyncpg docs, ``asyncpg.connection.connect``), and libpq (psycopg, psycopg2) has no ``ssl`` (PostgreSQL docs,
libpq "Parameter Key Words"). A unix-socket host (``?host=/cloudsql/PROJECT:REGION:INSTANCE``, Cloud SQL's
documented form) carries no TLS: libpq ignores every SSL parameter there and asyncpg connects without TLS,
so such a parameter has no effect; asyncpg with ``ssl=verify-ca`` / ``verify-full`` still loads its root
certificate first and fails when it is missing (verified against a real server on a socket: see DC404).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote

from deploycheck.contract import template

# The parts as SQLAlchemy's URL parser splits them (username up to ':' or '/', password up to '@').
_PATTERN = re.compile(r"""
    ^(?P<scheme>[\w+]+)://
    (?:(?P<username>[^:/]*)(?::(?P<password>[^@]*))?@)?
    (?:\[(?P<ipv6>[^/?\]]+)\]|(?P<host>[^/:?]+))?
    (?::(?P<port>[^/?]*))?
    (?:/(?P<database>[^?]*))?
    (?:\?(?P<query>.*))?$
    """, re.VERBOSE | re.DOTALL)

POSTGRES_DRIVERS = {"psycopg2", "psycopg", "psycopg_async", "asyncpg", "pg8000", "psycopg2cffi"}
LIBPQ_DRIVERS = {"psycopg2", "psycopg", "psycopg_async", "psycopg2cffi"}
# libpq connection keywords (PostgreSQL 17 docs, 32.1.2 "Parameter Key Words")
LIBPQ_KEYS = {
    "host", "hostaddr", "port", "dbname", "user", "password", "passfile", "require_auth", "channel_binding",
    "connect_timeout", "client_encoding", "options", "application_name", "fallback_application_name",
    "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count", "tcp_user_timeout",
    "replication", "gssencmode", "sslmode", "requiressl", "sslnegotiation", "sslcompression", "sslcert", "sslkey",
    "sslkeylogfile", "sslpassword", "sslcertmode", "sslrootcert", "sslcrl", "sslcrldir", "sslsni", "requirepeer",
    "ssl_min_protocol_version", "ssl_max_protocol_version", "min_protocol_version", "max_protocol_version",
    "krbsrvname", "gsslib", "gssdelegation", "service", "target_session_attrs", "load_balance_hosts",
}
# asyncpg.connect() keyword arguments, and the ones SQLAlchemy's asyncpg dialect consumes itself
ASYNCPG_KEYS = {
    "host", "port", "user", "password", "passfile", "database", "timeout", "statement_cache_size",
    "max_cached_statement_lifetime", "max_cacheable_statement_size", "command_timeout", "ssl", "direct_tls",
    "server_settings", "target_session_attrs", "krbsrvname", "gsslib",
    "prepared_statement_cache_size", "prepared_statement_name_func", "async_fallback",
}
SSLMODES = {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}
_DB_NAME = re.compile(r"(DATABASE|(^|_)DB(_|$)|POSTGRES|(^|_)PG|SQLALCHEMY).*(URL|URI|DSN)|^(DATABASE|DB)$", re.IGNORECASE)


@dataclass
class DbUrl:
    """A parsed PostgreSQL URL. ``driver`` is the one SQLAlchemy loads (psycopg2 for a plain scheme);
    ``socket`` is the unix-socket directory when the host is one; ``query`` keeps repeated keys."""

    scheme: str
    backend: str
    driver: str
    username: str | None
    password: str | None
    host: str | None
    port: str | None
    database: str | None
    query: list[tuple[str, str]] = field(default_factory=list)

    def param(self, key: str) -> str | None:
        for k, v in self.query:
            if k == key:
                return v
        return None

    @property
    def socket(self) -> str | None:
        host = self.param("host") or self.host or ""
        return host if host.startswith("/") and not template.unknown(host) else None

    @property
    def where(self) -> str:
        if self.socket:
            return f"unix socket {self.socket}"
        return f"{self.host or 'localhost'}:{self.port or 5432}"


def looks_like_database(name: str, value: str) -> bool:
    """Whether a setting holds a PostgreSQL URL: its scheme says so, or its name says it is a database URL."""
    scheme = value.split("://", 1)[0].lower() if "://" in value else ""
    if scheme:
        return scheme.split("+")[0] in ("postgresql", "postgres", "pgsql")
    return bool(_DB_NAME.search(name))


def parse(value: str) -> DbUrl | str | None:
    """Parse ``value``; returns a ``DbUrl``, or a message saying why it is malformed. ``value`` may be a text
    made by ``template.holes``: a part holding a placeholder is kept as is (``template.unknown``), and None
    is returned when a placeholder hides the scheme (nothing can be said about such a URL)."""
    scheme_part = value.split("://", 1)[0] if "://" in value else value
    if template.unknown(scheme_part):
        return None
    if "://" not in value:
        return "is not a URL (expected postgresql+DRIVER://USER:PASSWORD@HOST:PORT/DATABASE)"
    m = _PATTERN.match(value.strip())
    if not m:
        return "is not a URL SQLAlchemy can parse"
    host = m.group("ipv6") or m.group("host")
    if host and "@" in host:
        return "has an '@' in its password that is not percent-encoded (write it as %40)"
    port = m.group("port")
    if port and not port.isdigit() and not template.unknown(port):
        return "has a port that is not a number"
    scheme = m.group("scheme")
    backend, _, driver = scheme.partition("+")
    query = parse_qsl(m.group("query") or "", keep_blank_values=True)
    return DbUrl(scheme, backend.lower(), driver.lower() or "psycopg2", _un(m.group("username")),
                 _un(m.group("password")), _un(host), port, _un(m.group("database")), query)


def _un(part: str | None) -> str | None:
    return unquote(part) if part else None


@dataclass
class Problem:
    """One thing a driver will reject (``severity`` error: the first connection fails) or ignore (warning:
    the parameter has no effect)."""

    message: str
    severity: str = "error"


def problems(u: DbUrl, env_names: frozenset[str] | set[str] = frozenset()) -> list[Problem]:
    """What the driver will reject or ignore, one per problem (empty when the URL is fine). ``env_names`` are
    the variables the environment sets (``PGSSLROOTCERT`` changes what asyncpg does on a unix socket)."""
    out: list[Problem] = []
    if u.backend in ("postgres", "pgsql"):
        out.append(Problem(f"SQLAlchemy has no dialect `{u.backend}` (NoSuchModuleError: Can't load plugin: "
                           f"sqlalchemy.dialects:{u.backend}); write postgresql://"))
        return out
    if u.driver not in POSTGRES_DRIVERS:
        out.append(Problem(f"unknown PostgreSQL driver `{u.driver}` in `{u.scheme}://` (known: "
                           f"{', '.join(sorted(POSTGRES_DRIVERS))})"))
        return out
    keys = [k for k, _ in u.query if not template.unknown(k)]  # a placeholder hides what a key is
    failed: set[str] = set()  # keys an error names: not reported again as having no effect

    def error(message: str, *names: str) -> None:
        out.append(Problem(message))
        failed.update(names)

    if u.driver == "asyncpg":
        for k in keys:
            if k == "sslmode":
                error("asyncpg does not take `sslmode` (connect() got an unexpected keyword argument 'sslmode'); "
                      "write ssl=" + (u.param("sslmode") or "require"), k)
            elif k not in ASYNCPG_KEYS:
                error(f"asyncpg does not take `{k}` (connect() got an unexpected keyword argument '{k}')", k)
        ssl = u.param("ssl")
        if ssl is not None and ssl not in SSLMODES and not template.unknown(ssl):
            error(f"asyncpg's ssl={ssl} is not an SSL mode (`sslmode` parameter must be one of: "
                  f"{', '.join(_MODE_ORDER)}); write ssl={_sslmode(ssl)}", "ssl")
        if u.param("direct_tls") is not None and (ssl or "prefer") in _WEAK:
            error("asyncpg's direct_tls needs ssl=require or stronger (direct TLS requires sslmode=require, "
                  "verify-ca, or verify-full)", "direct_tls", "ssl")
    elif u.driver in LIBPQ_DRIVERS:
        for k in keys:
            if k == "ssl":
                error(f"{u.driver} (libpq) does not take `ssl` (invalid connection option \"ssl\"); write "
                      f"sslmode={_sslmode(u.param('ssl'))}", k)
            elif k not in LIBPQ_KEYS:
                error(f"{u.driver} (libpq) does not take `{k}` (invalid connection option \"{k}\")", k)
        mode = u.param("sslmode")
        if template.unknown(mode):
            mode = "?"  # neither a mode that is refused nor one that is weak
        elif mode is not None and mode not in SSLMODES:
            error(f"sslmode={mode} is not one of {', '.join(sorted(SSLMODES))} (libpq: invalid sslmode value)",
                  "sslmode")
        elif mode is not None and mode != "verify-full" and u.param("sslrootcert") == "system":
            error(f"libpq 16+ refuses sslmode={mode} with sslrootcert=system (weak sslmode \"{mode}\" may not be "
                  "used with sslrootcert=system); write sslmode=verify-full", "sslmode", "sslrootcert")
        if u.param("sslnegotiation") == "direct" and (mode or "prefer") in _WEAK:
            error(f"libpq 17+ refuses sslnegotiation=direct with sslmode={mode or 'prefer'} (weak sslmode "
                  f"\"{mode or 'prefer'}\" may not be used with sslnegotiation=direct); write sslmode=require",
                  "sslnegotiation", "sslmode")
    if u.socket:
        out += _socket(u, keys, failed, env_names)
    return out


def _socket(u: DbUrl, keys: list[str], failed: set[str], env_names) -> list[Problem]:
    """SSL parameters on a unix socket. Neither libpq nor asyncpg uses TLS on a socket: libpq ignores sslmode
    and the certificate files there, asyncpg connects without TLS. One exception fails: asyncpg builds its TLS
    context before connecting, and for ssl=verify-ca / verify-full that loads the root certificate
    (``~/.postgresql/root.crt``, or the file ``PGSSLROOTCERT`` names), failing when it is missing."""
    out: list[Problem] = []
    ssl = [k for k in dict.fromkeys(keys) if _ssl_key(k) and k not in failed]
    where = f"(host={u.socket})"
    if u.driver == "asyncpg" and u.param("ssl") in ("verify-ca", "verify-full") and "ssl" in ssl:
        ssl.remove("ssl")
        mode = u.param("ssl")
        if "PGSSLROOTCERT" in env_names:
            out.append(Problem(f"ssl={mode} on a unix-socket connection {where}: asyncpg uses no TLS on a socket, "
                               "but loads the root certificate PGSSLROOTCERT names before connecting (it fails "
                               "if that file is missing in the container); remove ssl", "warning"))
        else:
            out.append(Problem(f"ssl={mode} on a unix-socket connection {where}: asyncpg uses no TLS on a socket, "
                               "but loads the root certificate before connecting and fails (root certificate file "
                               "\"~/.postgresql/root.crt\" does not exist) unless the image has it or PGSSLROOTCERT "
                               "names one; remove ssl"))
    if ssl:
        who = "asyncpg" if u.driver == "asyncpg" else "libpq"
        out.append(Problem(f"SSL parameter{'s' * (len(ssl) > 1)} {', '.join(ssl)} on a unix-socket connection "
                           f"{where} {'have' if len(ssl) > 1 else 'has'} no effect: {who} uses no TLS on a "
                           f"socket; remove {'them' if len(ssl) > 1 else 'it'}", "warning"))
    return out


def _ssl_key(k: str) -> bool:
    return k.startswith("ssl") or k in ("requiressl", "direct_tls")


_MODE_ORDER = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
_WEAK = {"disable", "allow", "prefer"}


def _sslmode(ssl: str | None) -> str:
    if ssl is None or ssl.lower() in ("true", "1", "on", "yes"):
        return "require"
    if ssl.lower() in ("false", "0", "off", "no"):
        return "disable"
    return ssl


_LOCAL = {"localhost", "127.0.0.1", "::1", "0:0:0:0:0:0:0:1", "ip6-localhost", "ip6-loopback"}
_HOST_NAME = re.compile(r"(HOST|ADDR|ADDRESS|SERVER|ENDPOINT)$", re.IGNORECASE)
_NO_HOST_SCHEMES = {"sqlite", "file", "unix", "memory"}


def local_target(name: str, value: str | None) -> str | None:
    """Where a default points when it points at this machine: ``localhost:8123``, ``127.0.0.1``, ``::1``,
    or ``an unset host`` (a URL with an empty host, such as ``postgresql://app@/app``, or an empty ``*_HOST``);
    None otherwise. ``0.0.0.0`` is a bind address, not a destination, and is not reported."""
    if value is None:
        return None
    value = value.strip()
    if "://" in value:
        scheme = value.split("://", 1)[0].split("+")[0].lower()
        if scheme in _NO_HOST_SCHEMES:
            return None
        from deploycheck.contract.redact import _authority

        authority, tail = _authority(value.split("://", 1)[1])
        hostport = authority.rpartition("@")[2]
        host, port = _split_hostport(hostport)
        if not host:
            query = dict(parse_qsl(tail.partition("?")[2]))
            if query.get("host"):
                return None  # ?host=/cloudsql/...: a socket the platform mounts
            return "an unset host"
        return _describe(host, port)
    if _HOST_NAME.search(name) and value == "":
        return "an unset host"
    host, port = _split_hostport(value)
    if "/" in value or " " in value:
        return None
    return _describe(host, port)


def _split_hostport(hostport: str) -> tuple[str, str | None]:
    if hostport.startswith("["):
        host, _, rest = hostport[1:].partition("]")
        return host, rest[1:] if rest.startswith(":") else None
    if hostport.count(":") > 1:  # a bare IPv6 address
        return hostport, None
    host, _, port = hostport.partition(":")
    return host, port or None


def _describe(host: str, port: str | None) -> str | None:
    h = host.lower().rstrip(".")
    if h in _LOCAL or h.startswith("127.") or h.endswith(".localhost"):
        return f"{host}:{port}" if port else host
    return None
