"""What rules see: the program (closure, resolution), the environment, in-file diagnostics; and the
severity policy shared by the import rules."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from deploycheck.environment.distributions import Distributions
from deploycheck.environment.interpreter import Interpreter
from deploycheck.findings.finding import ERROR, WARNING, Finding
from deploycheck.index.program import CALL, FOUND, MISSING, Hop, Node, Program
from deploycheck.index.ruff import Diagnostic
from deploycheck.index.summary import FUNCTION, TYPING, ImportSite, Summary
from deploycheck.target.boundary import WITHHELD
from deploycheck.target.copymap import ImageSource


def _rule_name(code: str) -> str:
    from deploycheck.rules import RULES

    return next((r.NAME for r in RULES if r.CODE == code), code)


@dataclass
class Context:
    program: Program
    interp: Interpreter
    distributions: Distributions
    infile: dict[str, list[Diagnostic]] = field(default_factory=dict)
    launch: list = field(default_factory=list)  # entries an image's command names (LaunchEntry)
    declared: object = None  # what the project declares (target.declared.Declared), None when unknown
    stale: ImageSource | None = None  # for DC501 and DC502: the repository and how it maps into the image
    project: object = None  # target.project.Project: its root and configuration (DC301's migrations)
    entries: list[str] = field(default_factory=list)  # the modules the closure was walked from
    # the modules rules report on (None: all of the closure); a script directory's program reports only on
    # what the project's own program does not check already (check.py)
    only: set[str] | None = None
    _imported: set[str] | None = None
    _import_sites: list | None = None
    _modules: dict = field(default_factory=dict)  # modules(every) -> the list, worked out once

    def imported_modules(self) -> set[str]:
        """Every module some import statement of the closure names (``import a.b`` names ``a`` and ``a.b``;
        ``from a import b`` also ``a.b``; ``from a import *`` every submodule, written ``a.*``), every package
        of an entry (importing ``a.b.main`` imports ``a`` and ``a.b``), and every module put into
        ``sys.modules`` by hand: what may be imported before any line runs. ``*`` is in it when some module
        imports by a computed name (``import_module(f"{pkg}.{name}")``, autodiscovery): then anything may be."""
        if self._imported is None:
            out: set[str] = set(self.program.registered)
            for entry in self.entries:
                parts = entry.split(".")
                out.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
            for name, node, summ in self.modules(every=True):
                # The standard library's computed imports (warning categories, codecs, pickle's classes) are
                # not how a project's submodules get imported; the project's and its distributions' are.
                if summ.computed_imports and node.origin != "stdlib":
                    out.add("*")
                for site in summ.imports:
                    if site.context == TYPING:
                        continue  # `if TYPE_CHECKING: import pkg.sub` never runs
                    base = self.program.absolute(name, node.module.is_package, site.module, site.level)
                    if base is None:
                        continue
                    parts = base.split(".")
                    out.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
                    out.update(f"{base}.{n}" if n != "*" else f"{base}.*" for n in site.names)
            self._imported = out
        return self._imported

    def modules(self, every: bool = False) -> Iterator[tuple[str, Node, Summary]]:
        """Closure modules that have a parsed summary, in a stable order: those rules report on (``only``),
        or ``every`` one."""
        found = self._modules.get(every)
        if found is None:
            found = self._modules[every] = list(self._listed(every))
        return iter(found)

    def _listed(self, every: bool) -> Iterator[tuple[str, Node, Summary]]:
        for name in sorted(self.program.nodes):
            if not every and self.only is not None and name not in self.only:
                continue
            node = self.program.nodes[name]
            if node.module.has_source:
                summ = self.program.summary(name)
                if summ is not None and not summ.syntax_error:
                    yield name, node, summ

    def provider(self, module: str) -> str:
        """Who provides ``module``, for messages: ``Werkzeug 3.0.1``, ``standard library``, or the file
        relative to its project root."""
        mod = self.program.find(module)
        if mod is None:
            return "not found"
        dist = self.distributions.owner(mod.path)
        if dist:
            return f"{dist[0]} {dist[1]}"
        origin = self.program.origin(mod)
        if origin == "stdlib":
            return f"Python {self.interp.version[0]}.{self.interp.version[1]} standard library"
        if origin == "project" and mod.path:
            for root in self.program.search_path.project_roots:
                if mod.path.startswith(root.rstrip("/") + "/"):
                    return mod.path[len(root.rstrip("/")) + 1:]
        return mod.path or "built-in"

    def finding(self, code: str, severity: str, message: str, name: str, node: Node, line: int, column: int,
                symbol: str = "", context: str = "module", when: str | None = None, at: int | None = None) -> Finding:
        """A finding at ``line``/``column`` (1-based line, 0-based column) of module ``name``. Its ``when`` is
        the module's phase for code that runs at import; for a function body, the phase of the start-up that
        calls it (``Program.reached_at``; the chain then ends with that call), else ``call``; ``when``
        overrides it (``call`` for a line that fails whenever it runs but may not run). ``at`` is the line
        whose function decides the start-up reach when it is not ``line`` (a type-checking import is reported
        where it is written, but fails where the name is used)."""
        chain = self.program.chain(name)
        phase = node.phase
        if context == FUNCTION:
            reach = self.startup_reach(name, line if at is None else at)
            phase = CALL if reach is None else reach.phase
            if reach is not None:
                caller = self.program.nodes.get(reach.caller)
                chain = self.program.chain(reach.caller) + [
                    Hop(reach.caller, caller.module.path if caller else None, reach.line, reach.step)]
        return self.shown(Finding(
            code=code, severity=severity, message=message, path=node.module.path or "", line=line,
            column=column, symbol=symbol, module=name,
            distribution=self.distributions.owner(node.module.path),
            chain=chain, origin=node.origin, when=when or phase,
        ))

    def startup_reach(self, name: str, line: int):
        """How the function of module ``name`` holding ``line`` is called at start-up
        (``Program.reached_at``), or None when it is not, or only under a condition that may not hold
        (``if __name__ == "__main__":``): its failures then stay certain only "when called"."""
        reach = self.program.reached_at(name, line)
        return None if reach is None or reach.shield > 1 else reach

    def shown(self, finding: Finding, boundary=None) -> Finding:
        """``finding`` as it may be shown: one located in a file outside the project (``target.boundary``:
        ``boundary``, by default the project's) keeps its code, severity and location, but its message is
        replaced and its symbol dropped, since both quote the file's text."""
        boundary = boundary or getattr(self.project, "boundary", None)
        if boundary is None or not finding.path or not boundary.withholds(finding.path, finding.origin):
            return finding
        finding.message = f"{_rule_name(finding.code)} ({WITHHELD})"
        finding.symbol, finding.distribution = "", None
        return finding


def severity(node: Node, summ: Summary, context: str, guarded: int | bool, conditional: bool,
             raises: str = "ImportError", reach=None) -> str | None:
    """How sure a failure at this statement is a crash; ``raises`` is the exception the failure raises;
    ``reach`` is how the function holding it is called at start-up (``Program.reached_at``), if it is.

    Project code: an error at import time or in a function body (a crash when called); a warning when the
    statement sits under a condition we cannot decide, in a module whose chain from the entries passes an
    ``except`` that catches the exception, or in a module that edits ``sys.path``. Third-party and
    standard-library code: only what runs unconditionally at import time of a module whose import nothing
    shields, or in a function called at start-up with nothing in front of it, is reported, as an error; the
    rest stays silent.
    """
    if guarded or context == TYPING:
        return None
    shield = node.shield
    if reach is not None and context == FUNCTION and _shielded(max(shield, reach.shield), raises):
        reach = None  # a start-up call that may not happen: the body still fails whenever it is called
    if reach is not None and context == FUNCTION:
        context, shield = "module", max(shield, reach.shield)
    reached = not _shielded(shield, raises)
    if node.origin == "project":
        if conditional or summ.syspath_hack or not reached:
            return WARNING
        return ERROR
    if context == FUNCTION or conditional or not reached:
        return None
    return ERROR


def _shielded(shield: int, raises: str) -> bool:
    """Whether a failure raising ``raises`` behind ``shield`` (``Node.shield``) may not crash the start."""
    return shield > 0 if raises in ("ImportError", "ModuleNotFoundError") else shield > 1


def import_sites(ctx: Context) -> Iterator[tuple[str, Node, Summary, ImportSite, str]]:
    """Every import statement of the closure that would crash the service if it failed, with its severity
    (worked out once per context: several rules ask)."""
    if ctx._import_sites is None:
        ctx._import_sites = list(_import_sites(ctx))
    return iter(ctx._import_sites)


def _import_sites(ctx: Context) -> Iterator[tuple[str, Node, Summary, ImportSite, str]]:
    for name, node, summ in ctx.modules():
        for site in summ.imports:
            runs = ctx.program.branch_runs(name, site.branch)
            if runs is False:
                continue  # an `except ImportError` handler whose try succeeds, or the `else` of one that fails
            if summ.requires and _caller_absent(ctx.program, name, node, summ, site):
                continue  # a protocol method only the absent package calls: it never runs here
            reach = ctx.startup_reach(name, site.line) if site.context == FUNCTION else None
            sev = severity(node, summ, site.context, site.guarded, site.conditional or runs is None, reach=reach)
            if sev is not None:
                yield name, node, summ, site, sev


def _caller_absent(program: Program, name: str, node: Node, summ: Summary, site: ImportSite) -> bool:
    """The import sits in a protocol method of the package it imports (``__dask_tokenize__`` importing
    ``dask.base``), and that package is not on the target: only it calls the method."""
    base = program.absolute(name, node.module.is_package, site.module, site.level)
    top = (base or "").partition(".")[0]
    return any(a <= site.line <= b and package == top for a, b, package in summ.requires) and \
        program.module_status(top)[0] == MISSING


def failed_imports(ctx: Context) -> Iterator[tuple[str, Node, ImportSite, str, str, int, int]]:
    """Import statements of the closure that would crash because a module is missing: ``(importer, node,
    site, severity, missing module, line, column)``; ``from pkg import sub`` gives one per missing submodule."""
    program = ctx.program
    for name, node, _summ, site, sev in import_sites(ctx):
        base = program.absolute(name, node.module.is_package, site.module, site.level)
        if base is None:
            continue
        status, missing = program.module_status(base)
        if status == MISSING:
            yield name, node, site, sev, missing, site.line, site.col
        elif status == FOUND:
            for imported, (line, col) in zip(site.names, site.positions):
                if imported != "*" and program.has_name(base, imported) == MISSING:
                    yield name, node, site, sev, f"{base}.{imported}", line, col


def explained_elsewhere(ctx: Context, node: Node, module: str) -> bool:
    """A missing module that a more precise rule reports instead of DC101/DC102: in the source but not in the
    image (DC502), or an extension module built for another interpreter (DC504)."""
    from deploycheck.rules.dc502_missing_from_image import source_file
    from deploycheck.rules.dc504_foreign_build import foreign_extension

    return (node.origin == "project" and source_file(ctx, module) is not None) or \
        foreign_extension(ctx, module) is not None
