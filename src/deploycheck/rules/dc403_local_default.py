"""DC403 local-default: an unset setting falls back to a default that points at this machine.

The environment is not local and does not set the value, so the code's default is used.

Why it fails: ``os.getenv("CLICKHOUSE_URL", "http://localhost:8123")`` works on a laptop and gets
"connection refused" in staging, where nothing listens on the container's own localhost. Reported when a
read's literal default points at ``localhost``, ``127.0.0.0/8``, ``::1``, a ``*.localhost`` name, or an unset
host (a URL with an empty host such as ``postgresql://app@/app``, or an empty ``*_HOST``), and no source of
the environment provides the name. ``0.0.0.0`` is a bind address and is not reported. A read that the code
sets before on every path (``os.environ.setdefault(NAME, ...)`` earlier in the same function: see DC402)
does not use its default; the default of that ``setdefault`` is itself a read's default.

Environments named ``dev``, ``local`` or ``test``, or with ``local = true`` in
``[tool.deploycheck.environments.NAME]``, are local: there such defaults are the point.

A warning instead of an error when an ``envFrom`` whose keys are unknown might provide it.
"""

from __future__ import annotations

from collections.abc import Iterator

from deploycheck.contract import redact, urls
from deploycheck.findings.finding import Finding

CODE = "DC403"
NAME = "local-default"
COMMAND = "config"


def check(ctx) -> Iterator[Finding]:
    if ctx.env.local:
        return
    for s in ctx.settings:
        if s.provided:
            continue
        for r in s.open_reads:
            target = urls.local_target(s.name, r.default)
            if target is None:
                continue
            msg = (f"`{s.name}` is not set in environment `{ctx.env.name}`, so the default "
                   f"{redact.shown(s.name, r.default)!r} is used: it points at {target}, not at a service of "
                   f"`{ctx.env.name}` ({r.via})")
            msg, severity = ctx.unless_open(msg)
            yield ctx.finding(CODE, msg, r.path, r.line, r.column, symbol=s.name, module=r.module, when=r.when,
                              severity=severity)
