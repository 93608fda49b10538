"""DC404 database-url: a PostgreSQL URL that its driver will reject or misuse.

The driver is read from the scheme as SQLAlchemy reads it: ``postgresql+asyncpg``, ``postgresql+psycopg``,
``postgresql+psycopg2``, and plain ``postgresql`` (psycopg2). SQLAlchemy passes the query string to the
driver's ``connect()``, so reported as errors (the first connection fails) are:

- ``sslmode`` (or any key ``asyncpg.connect()`` does not take) with asyncpg: "connect() got an unexpected
  keyword argument 'sslmode'"; asyncpg spells it ``ssl=require``; an asyncpg ``ssl`` value that is not an SSL
  mode (``ssl=true``), and ``direct_tls`` without ``ssl=require`` or stronger;
- ``ssl`` (or any key that is not a libpq connection keyword) with psycopg / psycopg2: libpq's "invalid
  connection option"; libpq spells it ``sslmode=require``; an ``sslmode`` that is not a mode, a weaker
  ``sslmode`` than ``verify-full`` with ``sslrootcert=system`` (libpq 16+), ``sslnegotiation=direct`` with a
  weaker ``sslmode`` than ``require`` (libpq 17+);
- a malformed URL (not a URL, a port that is not a number, an ``@`` in the password not written ``%40``),
  an unknown driver, and the ``postgres://`` scheme SQLAlchemy 1.4+ no longer accepts.

Any SSL parameter with a unix-socket host (``?host=/cloudsql/PROJECT:REGION:INSTANCE``) is reported: a socket
carries no TLS (the Cloud SQL proxy encrypts already). It is a warning (the parameter has no effect: remove
it), except asyncpg's ``ssl=verify-ca`` / ``ssl=verify-full``, an error. The evidence, connecting through
SQLAlchemy 2 to a real PostgreSQL server listening on a unix socket only, with psycopg (libpq 18), psycopg2
(libpq 17) and asyncpg 0.32:

- libpq connects with ``sslmode`` ``disable`` to ``verify-full``, ``requiressl``, ``sslnegotiation=direct``
  (with ``sslmode=require``) and ``sslrootcert`` / ``sslcert`` / ``sslkey`` / ``sslcrl`` naming files that do
  not exist: it ignores them on a socket;
- asyncpg connects with ``ssl`` ``disable`` to ``require`` (and ``direct_tls`` with ``ssl=require``): it uses
  no TLS on a socket;
- asyncpg with ``ssl=verify-ca`` or ``verify-full`` fails: "root certificate file "~/.postgresql/root.crt"
  does not exist or cannot be accessed". It builds its TLS context before connecting; with ``PGSSLROOTCERT``
  naming an existing file it connects, so when the environment sets ``PGSSLROOTCERT`` it is a warning.

The parameter errors above (a bad ``ssl`` / ``sslmode`` value, ``sslrootcert=system``,
``sslnegotiation=direct``, ``direct_tls``) fail on a socket as elsewhere and stay errors there.

Checked for every value the environment provides (at its file and line) and, when it provides none, for the
code's literal default (an empty value is unset, not malformed). A templated value
(``postgresql+asyncpg://tracker:${TRACKER_PW}@10.20.0.5:5432/tracking?sslmode=require``) is checked on its
literal parts: what they alone decide is reported (here asyncpg's ``sslmode``, whatever the password); what a
placeholder hides is not (a templated scheme, host, query key or value). It is shown as written, its password
position masked like any password. Settings are database URLs by their scheme,
or by their name (``DATABASE_URL``, ``*_DB_URL``, ``*_DSN``...). Values are shown with the password masked.
"""

from __future__ import annotations

from collections.abc import Iterator

from deploycheck.contract import redact, template, urls
from deploycheck.contract.values import database_values
from deploycheck.findings.finding import Finding

CODE = "DC404"
NAME = "database-url"
COMMAND = "config"


def check(ctx) -> Iterator[Finding]:
    env_names = {p.name for p in ctx.env.provided}
    for s in ctx.settings:
        for value, path, line, when in database_values(ctx, s):
            text = template.written(value)  # a templated value as written, its placeholders unresolved
            if not text.strip() or not urls.looks_like_database(s.name, text):
                continue
            holed, placeholders = template.holes(value)
            parsed = urls.parse(holed)
            if parsed is None:
                continue  # a placeholder hides the scheme: nothing is known
            shown = redact.shown(s.name, text) if "://" in text else "(value not shown)"
            found = [urls.Problem(parsed)] if isinstance(parsed, str) else urls.problems(parsed, env_names)
            for problem in found:
                message = template.fill(problem.message, placeholders)
                yield ctx.finding(CODE, f"`{s.name}` = {shown}: {message}", path, line, 0, symbol=s.name,
                                  when=when, severity=problem.severity)
