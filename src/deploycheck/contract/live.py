"""``--connect``: try the database and cache with the environment's real values, with a short timeout, and
say why it failed in the server's words. PostgreSQL through psycopg (libpq), Redis through redis-py.

Outcomes: ``ok``, ``unreachable`` (refused, timed out, unknown host, no socket), ``credentials`` (the
server refused the user or password: SQLSTATE class 28, Redis ``WRONGPASS`` / ``NOAUTH``), ``tls`` (the
handshake or the certificate failed, or one side requires TLS the other does not speak), ``refused`` (any
other refusal: a missing database, too many connections).

What is given to a driver as a credential (the password, and the URL's secrets as each URL parser reads
them) is registered with ``contract.scrub`` before the driver sees it, and the driver's message is scrubbed
before its white space is collapsed (a password holding a tab still matches as written)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from deploycheck.contract import scrub
from deploycheck.contract.urls import DbUrl

TIMEOUT_SECONDS = 5


@dataclass
class Outcome:
    result: str
    reason: str = ""


def _reason(exc: BaseException) -> str:
    text = " ".join(scrub.scrub(str(exc)).split())
    return text or type(exc).__name__


def _classify_pg(exc: BaseException) -> str:
    state = getattr(exc, "sqlstate", None) or ""
    text = str(exc)
    if state.startswith("28") or "password authentication failed" in text or "no password supplied" in text \
            or "authentication failed" in text or "no pg_hba.conf entry" in text:
        if "no encryption" in text and "pg_hba" in text:
            return "tls"
        return "credentials"
    if re.search(r"SSL|certificate|TLS|ssl", text):
        return "tls"
    if re.search(r"Connection refused|could not translate host name|timeout expired|No route to host|"
                 r"Network is unreachable|No such file or directory|could not connect|Name or service not known",
                 text):
        return "unreachable"
    return "refused"


def postgres(u: DbUrl) -> Outcome:
    """Connect once and run ``SELECT 1``. asyncpg's ``ssl=`` is given to libpq as ``sslmode``."""
    import psycopg

    params: dict[str, str] = {}
    for k, v in u.query:
        if u.driver == "asyncpg" and k == "ssl":
            params["sslmode"] = {"true": "require", "false": "disable"}.get(v.lower(), v)
        elif u.driver == "asyncpg" and k not in ("host", "port", "user", "password", "database"):
            continue  # asyncpg-only keys mean nothing to libpq
        else:
            params[k] = v
    for key, value in (("user", u.username), ("password", u.password), ("host", u.host), ("port", u.port),
                       ("dbname", u.database)):
        if value and key not in params:
            params[key] = value
    params.setdefault("connect_timeout", str(TIMEOUT_SECONDS))
    for key in ("password", "sslpassword"):
        scrub.register(params.get(key))
    try:
        with psycopg.connect(autocommit=True, **params) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001  psycopg.Error, and whatever else the connection attempt raises
        return Outcome(_classify_pg(exc), _reason(exc))
    return Outcome("ok")


def redis_url(url: str) -> Outcome:
    """Connect once and ``PING``."""
    import redis

    scrub.register_url(url)
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=TIMEOUT_SECONDS, socket_timeout=TIMEOUT_SECONDS)
        try:
            client.ping()
        finally:
            client.close()
    except redis.exceptions.AuthenticationError as exc:
        return Outcome("credentials", _reason(exc))
    except redis.exceptions.ResponseError as exc:
        text = str(exc)
        return Outcome("credentials" if re.search(r"NOAUTH|WRONGPASS|invalid password|AUTH", text) else "refused",
                       _reason(exc))
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError) as exc:
        text = str(exc)
        if re.search(r"SSL|certificate|TLS|ssl", text):
            return Outcome("tls", _reason(exc))
        if re.search(r"NOAUTH|WRONGPASS|invalid password|Authentication", text):
            return Outcome("credentials", _reason(exc))
        return Outcome("unreachable", _reason(exc))
    except (ValueError, redis.exceptions.RedisError) as exc:
        return Outcome("refused", _reason(exc))
    return Outcome("ok")
