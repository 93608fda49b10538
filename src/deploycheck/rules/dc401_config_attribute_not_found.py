"""DC401 config-attribute-not-found: an attribute read from a config object that its class does not define.

Why it crashes: ``get_unified_config().db_pool_sizee`` raises ``AttributeError`` when the line runs (for a
pydantic model too: fields are attributes, a misspelt one is not). The config object is the result of an
accessor (``[tool.deploycheck.config] accessors = { "app.core.config.get_unified_config" =
"app.core.config.AppConfig" }``, or a function whose return annotation names a pydantic-settings class), an
instance of a settings class (``Settings()``), a local variable assigned from one of those in the same
function, or a module-level variable assigned from one (``settings = Settings()``, imported anywhere).
The class defines what its body and its project base classes define: class attributes, annotations,
methods and properties, pydantic fields, ``self.x = ...`` in methods; pydantic's own ``model_*`` members.
A class with ``__getattr__``, an unknown base class or ``extra = "allow"`` is never reported.

Runs in ``deploycheck config`` only (with any ``--env``: it does not depend on the environment).

Example: ``cfg = get_unified_config(); size = cfg.db_pool_sizee`` where ``AppConfig`` has ``db_pool_size``.
"""

from __future__ import annotations

from collections.abc import Iterator

from deploycheck.findings.finding import Finding

CODE = "DC401"
NAME = "config-attribute-not-found"
COMMAND = "config"


def check(ctx) -> Iterator[Finding]:
    for m in ctx.code.misses:
        hint = f"; did you mean `{m.suggestion}`?" if m.suggestion else ""
        yield ctx.finding(CODE, f"`{m.schema.rpartition('.')[2]}` ({m.schema}) has no attribute `{m.attr}`, read "
                          f"as {m.source}{hint}", m.path, m.line, m.column, symbol=m.attr, module=m.module,
                          when=m.when)
