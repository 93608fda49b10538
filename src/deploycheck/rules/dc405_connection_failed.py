"""DC405 connection-failed: with ``--connect``, a database or cache refuses the connection or fails it.

The server is unreachable, refuses the credentials, or fails the TLS handshake.

``deploycheck config --env staging --connect`` connects once to every PostgreSQL URL (through psycopg,
i.e. libpq; asyncpg's ``ssl=`` is passed as ``sslmode``) and Redis URL (redis-py, ``PING``) that the
environment provides, with the environment's real values and a 5 second timeout, and reports the server's
reason: "password authentication failed for user ...", "server does not support SSL, but SSL was
required", "certificate verify failed", "Connection refused". In a local environment the code's defaults
are tried too. A URL with a DC404 error is not tried (one with only DC404 warnings is). Secret references
whose values were not given (pass a dotenv file with ``--env-file``) are a warning: not tried. Passwords
never appear in the output.
"""

from __future__ import annotations

from collections.abc import Iterator

from deploycheck.contract import live, redact, urls
from deploycheck.contract.values import is_live_kind, live_targets
from deploycheck.findings.finding import WARNING, Finding

CODE = "DC405"
NAME = "connection-failed"
COMMAND = "config"

_VERB = {"unreachable": "is unreachable", "credentials": "refused the credentials",
         "tls": "failed the TLS handshake", "refused": "refused the connection"}


def check(ctx) -> Iterator[Finding]:
    if not ctx.connect:
        return
    tried: dict[str, live.Outcome] = {}
    for s in ctx.settings:
        targets = live_targets(ctx, s)
        if not targets:
            unknown = [p for p in s.provided if p.value is None and p.kind in ("secret", "configmap")]
            if unknown and (urls.looks_like_database(s.name, "") or "REDIS" in s.name.upper()):
                p = unknown[-1]
                yield ctx.finding(CODE, f"`{s.name}` not tried: its value comes from {p.ref} and was not given "
                                  "(give it with --env-file)", p.path, p.line, 0, symbol=s.name, when="connect",
                                  severity=WARNING)
            continue
        value, path, line = targets[0]
        kind = is_live_kind(s.name, value)
        if kind is None:
            continue
        if kind == "postgres":
            parsed = urls.parse(value)
            if isinstance(parsed, str) or any(p.severity == "error" for p in urls.problems(parsed)):
                continue  # DC404 says why
            where, service = parsed.where, "PostgreSQL"
        else:
            where, service = redact.url(value), "Redis"
        if value not in tried:
            tried[value] = live.postgres(parsed) if kind == "postgres" else live.redis_url(value)
        outcome = tried[value]
        ctx.live[s.name] = outcome
        if outcome.result != "ok":
            yield ctx.finding(CODE, f"`{s.name}`: {service} at {where} {_VERB[outcome.result]}: {outcome.reason}",
                              path, line, 0, symbol=s.name, when="connect")
