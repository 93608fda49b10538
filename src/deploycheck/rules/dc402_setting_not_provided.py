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

A provided value that pydantic cannot parse is not usable either: for a pydantic-settings 2 field of type
``int``, ``float`` or ``bool`` (or ``Optional`` of one), the value the environment gives (the last source
that sets it, when its value is known: not a secret reference without a value, not templated) is parsed as
pydantic's lax mode does (``contract.scalars``: ``"10"``, ``" 10 "``, ``"10.0"`` are integers, ``"ten"`` and
``"10.5"`` are not; booleans are ``1 0 true false yes no on off t f y n`` in any case), and a value it refuses
is reported at the line that sets it: ``ValidationError`` when the settings are created. An empty value is
judged too (pydantic refuses it) unless the model sets ``env_ignore_empty = True``; the model's
``env_parse_none_str`` is not judged. The value is shown unless its name or source says it is a secret.

Example: ``secret_key: str`` in ``class Settings(BaseSettings)`` and no ``SECRET_KEY`` in ``.env.staging``;
``pool_size: int = 5`` and ``POOL_SIZE=ten``.
"""

from __future__ import annotations

from collections.abc import Iterator

from deploycheck.contract import redact, scalars
from deploycheck.findings.finding import Finding

CODE = "DC402"
NAME = "setting-not-provided"
COMMAND = "config"


def check(ctx) -> Iterator[Finding]:
    yield from _unparsable(ctx)
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


def _unparsable(ctx) -> Iterator[Finding]:
    for s in ctx.settings:
        if not s.provided or s.provided[-1].value is None:
            continue
        p = s.provided[-1]
        value: str = p.value  # type: ignore[assignment]
        for r in s.reads:
            if r.value_type is None or (value == "" and r.ignore_empty) or value == r.none_str:
                continue
            if scalars.valid(r.value_type, value):
                continue
            word = scalars.TYPES[r.value_type]
            shown = "(not shown)" if s.secret or p.kind == "secret" else repr(redact.shown(s.name, value))
            msg = (f"`{s.name}` is provided but its value {shown} is not a valid {r.value_type} for "
                   f"{r.via}: pydantic raises ValidationError (Input should be a valid {word}) when the settings "
                   f"are created")
            yield ctx.finding(CODE, msg, p.path, p.line, 0, symbol=s.name, module=r.module, when=r.when)
            break
