"""DC102 name-not-found: ``from M import N`` where module ``M`` exists but has no name ``N``.

Why it crashes: the import statement raises ``ImportError: cannot import name 'N' from 'M'`` when ``N`` is
neither bound in ``M`` after ``M`` runs nor a submodule of package ``M``.

``N`` is looked up the way the interpreter finds it: names bound anywhere at module level of ``M`` (including
conditional and ``try`` bindings), re-exports through ``import``/``from`` (with aliases), star imports (honouring
``__all__``), submodules, and attributes other modules assign to ``M``. Modules whose namespace is decided at
run time (module ``__getattr__``, writes through ``globals()`` or ``sys.modules``, extension modules) are never
reported. The finding names the distribution and version that provide ``M``. When importing ``M`` fails by
itself, that failure is reported instead, where it happens; the modules being imported while the statement runs
(its own module, the chain that leads to it, their packages) are already in ``sys.modules`` and do not count
(``from app.m4 import x, nothere`` in ``app/__init__.py``, where ``app.m4`` imports ``app`` again).

Example (flask 2.0.3 with werkzeug 3.0.1)::

    from werkzeug.urls import url_quote   # werkzeug 3 removed url_quote
"""

from __future__ import annotations

from collections.abc import Iterator

from deploycheck.findings.finding import Finding
from deploycheck.index.program import FOUND, MISSING
from deploycheck.rules import fallback
from deploycheck.rules.context import Context, explained_elsewhere, import_sites

CODE = "DC102"
NAME = "name-not-found"


def _stale_all(ctx: Context, name: str, node, site, sev: str, base: str) -> Iterator[Finding]:
    """``from M import *`` fetches every name of ``M.__all__``; one that M does not define raises
    AttributeError right there (the usual leftover after removing a function)."""
    summ = ctx.program.summary(base)
    if summ is None or summ.all_names is None or summ.all_unknown or summ.all_refs:
        return
    for listed in dict.fromkeys(summ.all_names):
        if ctx.program.has_name(base, listed) == MISSING:
            line, col = site.positions[0]
            yield ctx.finding(CODE, sev, f"'{base}' lists '{listed}' in __all__ but does not define it, so "
                              f"`from {base} import *` fails ({ctx.provider(base)})", name, node, line, col,
                              symbol=listed, context=site.context)


def check(ctx: Context) -> Iterator[Finding]:
    yield from fallback.reported(ctx, CODE)  # first: the same statement may also fail on its own
    program = ctx.program
    for name, node, _summ, site, sev in import_sites(ctx):
        if not site.names:
            continue
        base = program.absolute(name, node.module.is_package, site.module, site.level)
        if base is None or program.module_status(base)[0] != FOUND or program.module_fails_within(base, name):
            continue  # a module whose own import fails is reported where it fails
        if site.names == ("*",):
            yield from _stale_all(ctx, name, node, site, sev, base)
            continue
        if fallback.explained(ctx, name, site):
            continue  # a fallback in `except ImportError:`: reported where its try body fails
        for imported, (line, col) in zip(site.names, site.positions):
            if program.has_name(base, imported) != MISSING:
                continue
            if explained_elsewhere(ctx, node, f"{base}.{imported}"):
                continue  # a submodule DC502 or DC504 reports
            f = ctx.finding(CODE, sev, f"cannot import name '{imported}' from '{base}' ({ctx.provider(base)})",
                            name, node, line, col, symbol=imported, context=site.context)
            yield f
