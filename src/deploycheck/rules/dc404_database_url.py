"""DC404 database-url: a PostgreSQL URL that its driver will reject or misuse.

The driver is read from the scheme as SQLAlchemy reads it: ``postgresql+asyncpg``, ``postgresql+psycopg``,
``postgresql+psycopg2``, and plain ``postgresql`` (psycopg2). SQLAlchemy passes the query string to the
driver's ``connect()``, so reported are:

- ``sslmode`` (or any key ``asyncpg.connect()`` does not take) with asyncpg: "connect() got an unexpected
  keyword argument 'sslmode'"; asyncpg spells it ``ssl=require``;
- ``ssl`` (or any key that is not a libpq connection keyword) with psycopg / psycopg2: libpq's "invalid
  connection option"; libpq spells it ``sslmode=require``;
- any SSL parameter with a unix-socket host (``?host=/cloudsql/PROJECT:REGION:INSTANCE``): a socket carries
  no TLS (the Cloud SQL proxy encrypts already);
- a malformed URL (not a URL, a port that is not a number, an ``@`` in the password not written ``%40``),
  an unknown driver, and the ``postgres://`` scheme SQLAlchemy 1.4+ no longer accepts.

Checked for every value the environment provides (at its file and line) and, when it provides none, for the
code's literal default (an empty value is unset, not malformed). Settings are database URLs by their scheme, or by their name (``DATABASE_URL``,
``*_DB_URL``, ``*_DSN``...). Values are shown with the password masked.
"""

from __future__ import annotations

from collections.abc import Iterator

from deploycheck.contract import redact, urls
from deploycheck.contract.values import database_values
from deploycheck.findings.finding import Finding

CODE = "DC404"
NAME = "database-url"
COMMAND = "config"


def check(ctx) -> Iterator[Finding]:
    for s in ctx.settings:
        for value, path, line, when in database_values(ctx, s):
            if not value.strip() or not urls.looks_like_database(s.name, value):
                continue
            parsed = urls.parse(value)
            shown = redact.shown(s.name, value) if "://" in value else "(value not shown)"
            problems = [parsed] if isinstance(parsed, str) else urls.problems(parsed)
            for problem in problems:
                yield ctx.finding(CODE, f"`{s.name}` = {shown}: {problem}", path, line, 0, symbol=s.name,
                                  when=when)
