"""Failing fallbacks, reported where the failure starts: the import in the ``try`` body.

::

    try:
        from app.unified import get_config      # fails: app.unified has no get_config
    except ImportError:
        from app.legacy import get_config       # the fallback: app.legacy was deleted

The service crashes on the fallback's line, but the traceback's first exception, and the code to fix, is
the ``try`` body's import ("During handling of the above exception, another exception occurred", the
language reference's exception context). So the finding is placed at the body's failing import (or, when
that import fails inside the module it imports, at the statement there that fails), with the rule of that
failure (DC101, DC102, DC105), and its message names the fallback and why it fails too. The severity is the
fallback's: it is the fallback's failure that nothing catches.
"""

from __future__ import annotations

from dataclasses import dataclass

from deploycheck.findings.finding import Finding
from deploycheck.index.program import FOUND, MISSING, Program
from deploycheck.index.summary import MODULE, ImportSite

MAX_DEPTH = 20  # modules followed from the try body to the statement that fails; chains are short


@dataclass(frozen=True)
class Cause:
    """A failing statement: the rule it breaks, where (module, line, 0-based column), the name it fails on
    and the interpreter's message for it."""

    code: str
    module: str
    line: int
    column: int
    symbol: str
    why: str


def statement(site: ImportSite) -> str:
    """The import statement of ``site`` as written (one name per alias of ``import a, b``)."""
    module = "." * site.level + site.module
    return f"from {module} import {', '.join(site.names)}" if site.names else f"import {module}"


def _site_cause(ctx, importer: str, site: ImportSite, depth: int) -> Cause | None:
    program: Program = ctx.program
    mod = program.find(importer)
    base = program.absolute(importer, mod.is_package, site.module, site.level) if mod else None
    if base is None:
        return None
    status, missing = program.module_status(base)
    if status == MISSING:
        return Cause("DC101", importer, site.line, site.col, missing, f"No module named '{missing}'")
    if status != FOUND:
        return None
    for target in program.site_targets(importer, mod.is_package, site):  # type: ignore[union-attr]
        if program.module_fails(target):
            return module_cause(ctx, target, depth + 1)
    for n, (line, col) in zip(site.names, site.positions, strict=False):
        if n != "*" and program.has_name(base, n) == MISSING:
            return Cause("DC102", importer, line, col, n,
                         f"cannot import name '{n}' from '{base}' ({ctx.provider(base)})")
    return None


def module_cause(ctx, module: str, depth: int = 0) -> Cause | None:
    """The statement that makes importing ``module`` fail with ImportError, following failing imports into
    the modules they import; None when it cannot be told."""
    program: Program = ctx.program
    summ = program.summary(module)
    mod = program.find(module)
    if depth > MAX_DEPTH or summ is None or mod is None:
        return None
    for site in summ.imports:
        if site.context != MODULE or site.guarded or site.conditional:
            continue
        if program.branch_runs(module, site.branch) is not True:
            continue
        if not program.site_fails(module, mod.is_package, site):
            continue
        if site.branch < 0:  # a failing fallback of this module's own: its try body is where it starts
            return try_cause(ctx, module, -site.branch, depth + 1) or _site_cause(ctx, module, site, depth)
        return _site_cause(ctx, module, site, depth)
    for line, col, text, branch in summ.refusals:
        if program.branch_runs(module, branch) is True and \
                text.split("(")[0].rpartition(".")[2] in ("ImportError", "ModuleNotFoundError"):
            return Cause("DC105", module, line, col, module,
                         f"module '{module}' raises when imported on this target: raise {text}")
    return None


def try_cause(ctx, module: str, try_id: int, depth: int = 0) -> Cause | None:
    """Why the body of ``try`` number ``try_id`` in ``module`` raises ImportError: its first import that
    fails, followed to the failing statement."""
    program: Program = ctx.program
    summ = program.summary(module)
    mod = program.find(module)
    if depth > MAX_DEPTH or summ is None or mod is None:
        return None
    for site in summ.imports:
        if site.try_id != try_id or site.context != MODULE or site.conditional or site.branch:
            continue
        if program.site_fails(module, mod.is_package, site):
            return _site_cause(ctx, module, site, depth)
    return None


def _fallback_failure(ctx, importer: str, node, site: ImportSite) -> str | None:
    """What DC101/DC102 would say at the fallback ``site``: why it fails, or None when it does not fail
    by itself (a failure inside what it imports is reported there)."""
    program: Program = ctx.program
    base = program.absolute(importer, node.module.is_package, site.module, site.level)
    if base is None:
        return None
    status, missing = program.module_status(base)
    if status == MISSING:
        return f"No module named '{missing}'"
    if status != FOUND:
        return None
    for n in site.names:
        if n != "*" and program.has_name(base, n) == MISSING:
            return f"cannot import name '{n}' from '{base}'"
    return None


def findings(ctx) -> dict[tuple[str, int, int], Finding]:
    """Fallback import sites that fail, keyed by (module, line, column), each with the finding placed at
    its try body's root cause (computed once per context)."""
    cached = getattr(ctx, "_fallbacks", None)
    if cached is not None:
        return cached
    from deploycheck.rules.context import import_sites

    out: dict[tuple[str, int, int], Finding] = {}
    done: set[tuple[str, int]] = set()
    for name, node, _summ, site, sev in import_sites(ctx):
        if site.branch >= 0 or site.context != MODULE:
            continue
        failure = _fallback_failure(ctx, name, node, site)
        if failure is None:
            continue
        cause = try_cause(ctx, name, -site.branch)
        if cause is None:
            continue
        where = ctx.program.nodes.get(cause.module)
        if where is None:
            continue
        key = (name, -site.branch)
        at = f"line {site.line}" if cause.module == name else f"{name}, line {site.line}"
        f = ctx.finding(cause.code, sev, f"{cause.why}; the fallback `{statement(site)}` ({at}) fails too: "
                        f"{failure}", cause.module, where, cause.line, cause.column, symbol=cause.symbol)
        if key not in done:  # the first failing fallback of a handler names the crash
            done.add(key)
            out[(name, site.line, site.col)] = f
        else:
            out[(name, site.line, site.col)] = None  # type: ignore[assignment]
    ctx._fallbacks = out
    return out


def explained(ctx, importer: str, site: ImportSite) -> bool:
    """Whether the failing fallback ``site`` is reported at its try body's root cause instead."""
    return site.branch < 0 and (importer, site.line, site.col) in findings(ctx)


def reported(ctx, code: str):
    """The root-cause findings of rule ``code``."""
    for f in findings(ctx).values():
        if f is not None and f.code == code:
            yield f
