"""DC201 undefined-name: a name used in project code is bound nowhere it could come from.

Why it crashes: ``NameError: name 'X' is not defined`` when the statement runs: at import for module-level
code, at start-up for the bodies of functions called while the service starts (``index.startup``), when
called for other function bodies (the incident behind this project: ``DatabaseConfig.POOL_SIZE`` left in a
function after its import was removed).

Undefined names are found by ruff's F821 (pyflakes' rule) for the target's Python version, then judged by where
they sit: module level or function body → error; annotations that never run (``from __future__ import
annotations``, string annotations, local-variable annotations) and ``if TYPE_CHECKING:`` blocks → warning;
branches that are false on the target and code inside ``try: ... except NameError`` (or ``Exception``) →
not reported, unless that handler raises again (``raise RuntimeError(...) from exc``: the incident's own code,
where the NameError still ended the start-up). Names the
closure adds to ``builtins`` (``gettext.install``) are defined. Modules that write their namespace through
``globals()`` get warnings, not errors. A name imported only under ``if TYPE_CHECKING:`` and used at run time
(ruff's TC004) is an error unless the module also binds it at run time (an import or assignment outside the
block: the block never runs, so that binding is the one used). ruff reports it at the import; it fails where the
name is read, so its ``when`` comes from the first read that runs: at import for module level, a class body, or
the annotations, defaults and decorators of a ``def`` (evaluated when the ``def`` runs unless ``from __future__
import annotations``: the language reference, "Function definitions"), else that of the function holding it.

A string annotation ``Annotated["Name", strawberry.lazy("module")]`` is looked up in that module when
strawberry builds its schema (``frameworks.strawberry``): defined there, it is no finding; missing there, the
warning names that module.

In a module with a star import, ruff reports an unbound name as F405 ("may be undefined, or defined from star
imports"): it is undefined when no star import can bind it (``index.stars``: ``__all__`` when the module
has one, else its public names, followed through star imports of star imports and cycles; the language
reference's import statement), and unknown, so not reported, when a module on the way decides its names at
run time.

Example::

    def engine():
        return create_engine(pool_size=DatabaseConfig.POOL_SIZE)   # import removed in a migration
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from deploycheck.artifact.files import HostFiles, source_lines
from deploycheck.findings.finding import ERROR, WARNING, Finding
from deploycheck.frameworks import strawberry
from deploycheck.index import stars
from deploycheck.index.program import FOUND, MISSING
from deploycheck.index.summary import TYPING
from deploycheck.rules.context import Context

CODE = "DC201"
NAME = "undefined-name"
_NAME = re.compile(r"`([^`]+)`")


def _span_kind(spans, line: int, col: int) -> str | None:
    kinds = set()
    for l1, c1, l2, c2, kind in spans:
        if (l1, c1) <= (line, col) < (l2, c2) or (l1, c1) <= (line, col) <= (l2, c2) and kind != "typing":
            kinds.add(kind)
    for k in ("dead", "guarded", "typing"):
        if k in kinds:
            return k
    return None


def _bound_at_run_time(ctx: Context, module: str, summ, line: int, symbol: str, bound: str) -> bool:
    """The name that the type-checking import at ``line`` binds (``from m import symbol``, ``import symbol``,
    or ``bound`` for one with ``as bound``) is bound at run time too. ``import pkg.sub`` binds ``pkg``, so
    the submodule is another matter."""
    sites = [s for s in summ.imports if s.line == line and s.context == TYPING]
    if not bound or not (bound != symbol or any(symbol in s.names or (not s.names and s.module == symbol)
                                                for s in sites)):
        return False
    return bool(sites) and ctx.program.has_name(module, bound) == FOUND


def _bound_name(ctx: Context, path: str | None, d, symbol: str) -> tuple[str, bool]:
    """The name a type-checking import binds, where ruff's TC004 points: ``np`` of ``import numpy as np``
    (ruff's message names ``numpy``), else ``symbol``; and whether that is the name the code reads (not so
    for ``import pkg.sub``, read as ``pkg.sub``)."""
    lines = source_lines(path, ctx.program.finder.files) if path and d.end_line == d.line else []
    text = lines[d.line - 1][d.column:d.end_column] if 0 < d.line <= len(lines) else ""
    return (text, True) if text.isidentifier() else (symbol, False)


def _reads(tree: ast.AST, name: str, lazy: bool = False) -> Iterator[tuple[int, int, bool]]:
    """Each read of ``name`` as ``(line, column, in_function)``: ``in_function`` when it sits in the body of a
    ``def`` or ``lambda`` (it runs when called); a ``def``'s decorators, defaults and annotations belong to the
    scope around it, since they are evaluated when the ``def`` statement runs. With ``lazy`` (``from
    __future__ import annotations``, or Python 3.14's deferred annotations, PEP 649) annotations are not
    evaluated there, so their reads are left out."""
    todo: list[tuple[ast.AST, bool]] = [(tree, False)]
    while todo:
        node, inner = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            a = node.args
            outer = [*node.decorator_list, *a.defaults, *(d for d in a.kw_defaults if d is not None)]
            if not lazy:
                outer += [x.annotation for x in (*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg)
                          if x is not None and x.annotation is not None]
                outer += [node.returns] if node.returns is not None else []
            todo += [(n, inner) for n in outer]
            if not _local_to(node, name):
                todo += [(n, True) for n in node.body]
            continue
        if lazy and isinstance(node, ast.AnnAssign):
            todo += [(n, inner) for n in (node.target, node.value) if n is not None]
            continue
        if isinstance(node, ast.Lambda):
            todo += [(n, inner) for n in (*node.args.defaults, *node.args.kw_defaults) if n is not None]
            todo.append((node.body, True))
            continue
        if isinstance(node, ast.Name) and node.id == name and not isinstance(node.ctx, ast.Store):
            yield node.lineno, node.col_offset, inner
        todo += [(n, inner) for n in ast.iter_child_nodes(node)]


def _tree(ctx: Context, path: str | None, trees: dict) -> ast.Module:
    """The parsed file at ``path`` (an empty module when it cannot be read), parsed once per check."""
    if path not in trees:
        try:
            files = ctx.program.finder.files or HostFiles()
            trees[path] = ast.parse(files.read_bytes(path)) if path else None
        except (OSError, SyntaxError, ValueError):
            trees[path] = None
    return trees[path] or ast.Module([], [])


def _local_to(fn: ast.FunctionDef | ast.AsyncFunctionDef, name: str) -> bool:
    """Whether ``name`` is a local variable of ``fn`` (a parameter, or bound in its body without ``global`` or
    ``nonlocal``): its reads there, and in the functions nested in it, are not the module's name."""
    a = fn.args
    params = (*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg)
    if any(x.arg == name for x in params if x is not None):
        return True
    bound = False
    todo: list[ast.AST] = list(fn.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.Global, ast.Nonlocal)) and name in node.names:
            return False
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound = bound or node.name == name
            continue  # a scope of its own
        if isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            continue
        if isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, (ast.Store, ast.Del)):
            bound = True
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound = bound or any((x.asname or x.name.partition(".")[0]) == name for x in node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name == name:
            bound = True
        todo += list(ast.iter_child_nodes(node))
    return bound


def _first_run_time_use(ctx: Context, path: str | None, summ, name: str, import_line: int):
    """The read of ``name`` that makes a type-checking-only import fail, as ``(line, in_function)``: the first
    one that runs at import if any, else the first in a function body; None when the file cannot be read,
    ``()`` when no read runs (ruff also counts a name in ``__all__``: only a star import of the module fails
    then, DC102's finding). Reads in annotations that never run, ``if TYPE_CHECKING:`` blocks, dead branches
    and functions where the name is a local variable do not count."""
    if not path:
        return None
    try:
        tree = ast.parse((ctx.program.finder.files or HostFiles()).read_bytes(path))
    except (OSError, SyntaxError, ValueError):
        return None
    lazy = summ.future_annotations or tuple(ctx.interp.version[:2]) >= (3, 14)
    reads = sorted((line, inner) for line, col, inner in _reads(tree, name, lazy)
                   if line != import_line and _span_kind(summ.quiet_spans, line, col) is None)
    for line, inner in reads:
        if not inner:
            return line, False
    return (reads[0][0], True) if reads else ()


def _module_binds(stmts, name: str) -> bool:
    """Whether module-level statements ``stmts`` bind ``name`` (in any branch: a binding that may not run is
    taken as made, so no false error comes of it)."""
    for stmt in stmts:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if stmt.name == name:
                return True
            continue
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            if any((a.asname or a.name.partition(".")[0]) == name for a in stmt.names):
                return True
            continue
        for node in ast.walk(stmt):
            if isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Store):
                return True
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name:
                return True
            if isinstance(node, (ast.Import, ast.ImportFrom)) and any(
                    (a.asname or a.name.partition(".")[0]) == name for a in node.names):
                return True
    return False


def _global_after_class_del(tree: ast.Module, name: str, line: int, col: int, builtins) -> bool:
    """ruff's F821 for a read of ``name`` in the body of a module-level class after ``del name`` there: the
    class body looks a name up in its own namespace, then the module's, then builtins (the language
    reference, "Resolution of names": class blocks use LOAD_NAME), so the read finds the module's ``name``
    when one is bound before the ``class`` statement, or a builtin."""
    for i, cls in enumerate(tree.body):
        if not (isinstance(cls, ast.ClassDef) and cls.lineno <= line <= (cls.end_lineno or cls.lineno)):
            continue
        direct = [n for stmt in cls.body for n in _class_level(stmt)]
        if not any(isinstance(n, ast.Name) and n.id == name and (n.lineno, n.col_offset) == (line, col)
                   and isinstance(n.ctx, ast.Load) for n in direct):
            return False
        return name in builtins or _module_binds(tree.body[:i], name)
    return False


def _class_level(stmt: ast.AST) -> Iterator[ast.AST]:
    """The nodes of a class body statement that run in the class's namespace (not in a nested function,
    lambda, class or comprehension: those have scopes of their own)."""
    todo = [stmt]
    while todo:
        node = todo.pop()
        yield node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            todo += [*node.decorator_list, *getattr(node, "bases", ()), *getattr(node, "keywords", ())]
            continue
        if isinstance(node, (ast.Lambda, *_COMPREHENSIONS)):
            continue
        todo += list(ast.iter_child_nodes(node))


_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def _lazy_module(ctx: Context, name: str, node, d, symbol: str, lazies: dict) -> str | None:
    """The module ``strawberry.lazy`` looks ``symbol`` up in when ruff's diagnostic ``d`` sits in the string
    of ``Annotated["symbol", strawberry.lazy("module")]``; None elsewhere."""
    path = node.module.path
    if not path:
        return None
    if path not in lazies:
        try:
            lazies[path] = strawberry.lazy_names(
                ast.parse((ctx.program.finder.files or HostFiles()).read_bytes(path)))
        except (OSError, SyntaxError, ValueError):
            lazies[path] = []
    for l1, c1, l2, c2, text, written in lazies[path]:
        if text == symbol and (l1, c1) <= (d.line, d.column) < (l2, c2):
            return strawberry.resolve(ctx.program, name, node.module.is_package, written)
    return None


def check(ctx: Context) -> Iterator[Finding]:
    added = set()
    for _n, _node, summ in ctx.modules(every=True):  # what any module of the closure adds to builtins
        added.update(summ.builtins_added)
    lazies: dict[str, list] = {}  # path -> strawberry's lazy type strings of the file
    trees: dict[str, ast.Module] = {}  # path -> its tree, parsed for the few diagnostics that need it
    for name, node, summ in ctx.modules():
        if node.origin != "project":
            continue
        for d in ctx.infile.get(node.module.path or "", []):
            if d.code == "TC004":
                m = _NAME.search(d.message)
                symbol = m.group(1).rpartition(".")[2] if m else ""
                bound, read_as = _bound_name(ctx, node.module.path, d, symbol)
                if _bound_at_run_time(ctx, name, summ, d.line, symbol, bound):
                    continue  # also bound at run time (an import or assignment outside the block)
                use = _first_run_time_use(ctx, node.module.path, summ, bound, d.line)
                if use == () and read_as:
                    continue  # no read runs: in __all__ only, a star import fails (DC102)
                at_import = bool(use) and not use[1]
                where = f" (line {use[0]})" if use else ""
                yield ctx.finding(
                    CODE, ERROR if node.shield <= 1 and not summ.dynamic else WARNING,
                    f"name '{bound}' is imported only under `if TYPE_CHECKING:` but used at run time{where}",
                    name, node, d.line, d.column, symbol=bound, context="module" if at_import else "function",
                    at=use[0] if use else None)
                continue
            if d.code not in ("F821", "F405"):
                continue
            m = _NAME.search(d.message)
            symbol = m.group(1) if m else ""
            if symbol in added or symbol in ctx.interp.builtins:
                continue
            if symbol == "__path__" and node.module.is_package:
                continue  # the import system sets it in a package's namespace (ruff says F405 after a star)
            kind = _span_kind(summ.quiet_spans, d.line, d.column)
            if kind in ("dead", "guarded"):
                continue
            if d.code == "F821" and _global_after_class_del(
                    _tree(ctx, node.module.path, trees), symbol, d.line, d.column, ctx.interp.builtins):
                continue  # `del name` in a class body, then a read there: the module's name is found
            lazy = _lazy_module(ctx, name, node, d, symbol, lazies) if kind == "typing" else None
            if lazy is not None and ctx.program.has_name(lazy, symbol) != MISSING:
                continue  # strawberry looks the name up in that module (frameworks.strawberry)
            searched = ""
            # In a module with a star import, undefined only if no star import binds it. ruff says F405 for a
            # read there, but F821 for `del name` (the adversary's `from r.base import *` then `del one`).
            if d.code == "F405" or (d.code == "F821" and stars.sites(summ)):
                if d.code == "F405" and (d.end_line, d.end_column) != (d.line, d.column + len(symbol)):
                    continue  # a string of __all__: only a star import of this module fails (DC102)
                verdict, followed = stars.provided(ctx.program, name, node.module.is_package, summ, symbol)
                if verdict != MISSING:
                    continue
                searched = _searched(ctx, name, node.module.is_package, summ, followed)
            in_function = any(a <= d.line <= b for a, b in summ.function_spans)
            reach = ctx.startup_reach(name, d.line) if in_function else None
            shield = max(node.shield, reach.shield) if reach is not None else node.shield
            sev = WARNING if kind == "typing" or summ.dynamic or shield > 1 else ERROR
            where = " in an annotation or TYPE_CHECKING block that does not run" if kind == "typing" else ""
            if lazy is not None:
                where = f" in {lazy}, where `strawberry.lazy` looks it up"
            context = "function" if in_function else "module"
            yield ctx.finding(CODE, sev, f"name '{symbol}' is not defined{where}{searched}", name, node,
                              d.line, d.column, symbol=symbol, context=context)


def _searched(ctx: Context, name: str, is_package: bool, summ, followed: list[str]) -> str:
    """What the message says of the star imports searched: the module's own, as written, then the modules
    their star imports led to."""
    own = stars.sites(summ)
    if not own:
        return ""  # its star imports never run (a branch false on the target, `if TYPE_CHECKING:`)
    written = list(dict.fromkeys(f"`{stars.written(s)}`" for s in own))
    if len(written) == 1:
        text = f", and {written[0]} does not bind it"
    elif len(written) == 2:
        text = f", and neither {written[0]} nor {written[1]} binds it"
    else:
        text = f", and none of {', '.join(written)} binds it"
    direct = {ctx.program.absolute(name, is_package, s.module, s.level) for s in own}
    further = [m for m in followed if m not in direct]
    if further:
        they = "it leads" if len(written) == 1 else "they lead"
        text += f" (nor do the star imports {they} to: {', '.join(further)})"
    return text
