"""DC402 setting-not-provided: a required setting that the environment does not provide.

Why it crashes: ``os.environ["NAME"]`` raises ``KeyError``, and a pydantic-settings field without a default
raises ``ValidationError`` ("Field required") when the settings object is created, usually at start-up, so
every health check fails. Required means: ``os.environ[...]`` outside a ``try`` that catches ``KeyError``;
a pydantic-settings field with no default (in pydantic 2 ``Optional[X]`` without ``= None`` is required
too; in pydantic 1 it defaults to None). The environment is what ``--env NAME`` reads: its dotenv files,
Kubernetes / Cloud Run manifests and compose files; a secret reference counts as provided. Names of
pydantic-settings fields are ``env_prefix`` + field name (or the alias), compared without case unless
``case_sensitive = True``; a nested model with ``env_nested_delimiter`` is provided field by field or whole.

A read that the code itself sets before, on every path (``os.environ["NAME"] = ...``,
``os.environ.setdefault``, ``os.environ.update`` with literal names, earlier in the same function or module
body and not under a condition or in a loop; for a pydantic-settings field, before every instantiation of
the model) needs nothing from the environment (``contract.flow``): ``os.putenv`` does not count, it does not
update ``os.environ``. Another read of the same name that runs before the code sets it is still reported.

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
        r = next((r for r in s.open_reads if r.required), None)
        if s.provided or r is None:
            continue
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
            if r.set_by and all(how != "setdefault" for _p, _l, how in r.set_by):
                continue  # the code sets its own value over the environment's
            if scalars.valid(r.value_type, value):
                continue
            word = scalars.TYPES[r.value_type]
            shown = "(not shown)" if s.secret or p.kind == "secret" else repr(redact.shown(s.name, value))
            msg = (f"`{s.name}` is provided but its value {shown} is not a valid {r.value_type} for "
                   f"{r.via}: pydantic raises ValidationError (Input should be a valid {word}) when the settings "
                   f"are created")
            yield ctx.finding(CODE, msg, p.path, p.line, 0, symbol=s.name, module=r.module, when=r.when)
            break
