"""DC401 config-attribute-not-found: an attribute read from a config object that its class does not define.

Why it crashes: ``get_unified_config().db_pool_sizee`` raises ``AttributeError`` when the line runs (for a
pydantic model too: fields are attributes, a misspelt one is not). The config object is the result of an
accessor (``[tool.deploycheck.config] accessors = { "app.core.config.get_unified_config" =
"app.core.config.AppConfig" }``, or a function whose return annotation names a pydantic-settings class), an
instance of a settings class (``Settings()``), or a variable assigned from one of those (``cfg =
get_unified_config()``, ``current = cfg``), local or module-level (``settings = Settings()``, imported
anywhere). What a variable holds follows the order of statements (``contract.flow``): a read sees the
assignments that may run last before it, so ``cfg = load_legacy()`` then ``cfg.db_host`` then ``cfg =
get_unified_config()`` reads ``db_host`` from the legacy object, and a rebinding after a read does not
count. A read is judged only when every value that may reach it is a config object of one class: a branch
or an exception handler that may leave another value (or none) there, a loop that rebinds the variable in a
later iteration, or a nested function rebinding it with ``nonlocal`` / ``global``, leaves it unjudged. A
function reading a variable of its module or of an enclosing function sees every value that scope assigns.
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
