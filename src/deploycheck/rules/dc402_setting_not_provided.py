"""DC402 setting-not-provided: a required setting that the environment does not provide.

Why it crashes: ``os.environ["NAME"]`` raises ``KeyError``, and a pydantic-settings field without a default
raises ``ValidationError`` ("Field required") when the settings object is created, usually at start-up, so
every health check fails. Required means: ``os.environ[...]`` outside a ``try`` that catches ``KeyError``;
a pydantic-settings field with no default (in pydantic 2 ``Optional[X]`` without ``= None`` is required
too; in pydantic 1 it defaults to None). The environment is what ``--env NAME`` reads: its dotenv files,
Kubernetes / Cloud Run manifests and compose files; a secret reference counts as provided. Names of
pydantic-settings fields are ``env_prefix`` + field name (or the alias), compared without case unless
``case_sensitive = True``; a nested model with ``env_nested_delimiter`` is provided field by field or whole.

A warning instead of an error when an ``envFrom`` of a Secret or ConfigMap whose manifest was not given
might provide it.

Example: ``secret_key: str`` in ``class Settings(BaseSettings)`` and no ``SECRET_KEY`` in ``.env.staging``.
"""

from __future__ import annotations

from collections.abc import Iterator

from deploycheck.findings.finding import Finding

CODE = "DC402"
NAME = "setting-not-provided"
COMMAND = "config"


def check(ctx) -> Iterator[Finding]:
    for s in ctx.settings:
        if s.provided or not s.required:
            continue
        r = next(r for r in s.reads if r.required)
        names = " or ".join(f"`{n}`" for n in dict.fromkeys((s.name, *r.alternatives)))
        msg = (f"{names} is required ({r.via}) but environment `{ctx.env.name}` does not provide it "
               f"(read: {ctx.sources_text})")
        msg, severity = ctx.unless_open(msg)
        yield ctx.finding(CODE, msg, r.path, r.line, r.column, symbol=s.name, module=r.module, when=r.when,
                          severity=severity)
