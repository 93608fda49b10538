"""Blueprint discovery: a Flask app factory that imports every module of a package whose file name matches a
pattern and registers the ``Blueprint`` objects it finds there (indico's ``discover_blueprints()``: every
``blueprint.py`` and every module of a ``blueprints`` package). No import statement names those modules; the
function finds them by walking the package's directory (Flask's "Modular Applications with Blueprints" leaves
how blueprints are collected to the application).

Recognized in a function of a module that uses Flask, when the function

- walks a package's directory: ``for root, dirs, files in os.walk(DIR)`` with ``DIR`` the package's root
  (``flask.helpers.get_root_path("pkg")``, ``os.path.dirname(pkg.__file__)``, ``os.path.dirname(__file__)``,
  directly or through a variable of the function), and in that loop ``for name in files:`` adds a computed
  module name to a collection (``modules.add(...)``, ``.append(...)``);
- imports each name of that collection (``for m in sorted(modules): import_module(m)``);
- tests what it finds with ``isinstance(obj, Blueprint)``.

The names are computed as the function computes them: its loop body is evaluated for each file of the
package's real directory tree (``os.walk``'s order), with a small evaluator of the string operations such
code uses (comparisons, ``endswith``, ``replace``, ``split``, ``join``, slices, ``os.path.relpath``); a loop
using anything else is not followed (nothing is guessed). The function must run at start-up (``index.startup``:
called by a factory the launcher calls, ``make_app() -> add_blueprints() -> discover_blueprints()``); each
module found is then imported at start-up, an edge from the function's module at the ``import_module`` line.
"""

from __future__ import annotations

import ast
import os
import posixpath

from deploycheck.frameworks import syntax
from deploycheck.frameworks.base import CERTAIN, MAYBE, Edge
from deploycheck.frameworks.flask import flask_users
from deploycheck.index.idioms import dotted_name

SPACE = "blueprints-1"  # the cache space of ``extract``'s results
MAX_FILES = 50000  # files of one package walked, at most: past this the discovery is not followed
MAX_STEPS = 200000  # expressions evaluated for one discovery, at most


def extract(tree: ast.Module) -> dict:
    """``{"discoveries": [...]}``: each function shaped as above, as ``(line of its def, root: ("pkg", name)
    | ("file",), loop variables (root, files, file), collection name, the file loop's body as source, line
    of the import, guarded)``."""
    out = []
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found = _discovery(fn)
            if found is not None:
                out.append(found)
    return {"discoveries": out}


def _discovery(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple | None:
    if not any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "isinstance"
               and len(n.args) == 2 and (dotted_name(n.args[1]) or "").rpartition(".")[2] == "Blueprint"
               for n in ast.walk(fn)):
        return None
    assigned: dict[str, list[ast.expr]] = {}
    for stmt in fn.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            assigned.setdefault(stmt.targets[0].id, []).append(stmt.value)
    for walk in fn.body:
        if not (isinstance(walk, ast.For) and isinstance(walk.target, ast.Tuple) and len(walk.target.elts) == 3
                and all(isinstance(e, ast.Name) for e in walk.target.elts) and isinstance(walk.iter, ast.Call)
                and dotted_name(walk.iter.func) == "os.walk" and len(walk.iter.args) == 1
                and not walk.iter.keywords and len(walk.body) == 1 and not walk.orelse):
            continue
        root_var, _dirs, files_var = (e.id for e in walk.target.elts)  # type: ignore[attr-defined]
        where = walk.iter.args[0]
        if isinstance(where, ast.Name):
            values = assigned.get(where.id, [])
            where = values[0] if len(values) == 1 else None  # type: ignore[assignment]
        root = _package_root(where)
        inner = walk.body[0]
        if (root is None or not isinstance(inner, ast.For) or not isinstance(inner.target, ast.Name)
                or not (isinstance(inner.iter, ast.Name) and inner.iter.id == files_var) or inner.orelse):
            continue
        collection = _collection(inner.body)
        if collection is None or not _initially_empty(assigned.get(collection, [])):
            continue
        imported = _import_of(fn, collection)
        if imported is None:
            continue
        line, guarded = imported
        variables = {n: v for n, vs in assigned.items() if len(vs) == 1 and n != collection
                     for v in vs if _is_root_value(v)}
        return (fn.lineno, root, (root_var, files_var, inner.target.id), collection,
                ast.unparse(ast.Module(body=inner.body, type_ignores=[])), line, guarded, sorted(variables))
    return None


def _package_root(e: ast.expr | None) -> tuple | None:
    """What ``e`` names as a package's directory: ``("pkg", name)`` or ``("file",)`` (this module's)."""
    if isinstance(e, ast.Call) and (dotted_name(e.func) or "").rpartition(".")[2] == "get_root_path" \
            and len(e.args) == 1 and isinstance(e.args[0], ast.Constant) and isinstance(e.args[0].value, str):
        return ("pkg", e.args[0].value)
    if isinstance(e, ast.Call) and dotted_name(e.func) == "os.path.dirname" and len(e.args) == 1:
        arg = e.args[0]
        if isinstance(arg, ast.Call) and dotted_name(arg.func) in ("os.path.abspath", "os.path.realpath") \
                and len(arg.args) == 1:
            arg = arg.args[0]
        if isinstance(arg, ast.Name) and arg.id == "__file__":
            return ("file",)
        if isinstance(arg, ast.Attribute) and arg.attr == "__file__" and dotted_name(arg.value):
            return ("pkg", dotted_name(arg.value))
    return None


def _is_root_value(e: ast.expr) -> bool:
    return _package_root(e) is not None


def _collection(body: list[ast.stmt]) -> str | None:
    """The one name the file loop adds module names to (``X.add(...)`` / ``X.append(...)``)."""
    names = {n.func.value.id for n in ast.walk(ast.Module(body=body, type_ignores=[]))
             if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in ("add", "append")
             and isinstance(n.func.value, ast.Name)}
    return names.pop() if len(names) == 1 else None


def _initially_empty(values: list[ast.expr]) -> bool:
    if len(values) != 1:
        return False
    v = values[0]
    return (isinstance(v, (ast.List, ast.Set)) and not v.elts) or (
        isinstance(v, ast.Call) and isinstance(v.func, ast.Name) and v.func.id in ("set", "list") and not v.args)


def _import_of(fn, collection: str) -> tuple[int, bool] | None:
    """The line of ``import_module(m)`` in ``for m in [sorted(]collection[)]:`` of ``fn``, and whether a
    ``try`` of ``fn`` stands around it."""
    tries = [(t.lineno, t.end_lineno or t.lineno) for t in ast.walk(fn) if isinstance(t, ast.Try)]
    for loop in ast.walk(fn):
        if not isinstance(loop, ast.For) or not isinstance(loop.target, ast.Name):
            continue
        it = loop.iter
        if isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id in ("sorted", "list") \
                and len(it.args) == 1:
            it = it.args[0]
        if not (isinstance(it, ast.Name) and it.id == collection):
            continue
        for call in ast.walk(loop):
            if (isinstance(call, ast.Call) and (dotted_name(call.func) or "").rpartition(".")[2] == "import_module"
                    and len(call.args) == 1 and isinstance(call.args[0], ast.Name)
                    and call.args[0].id == loop.target.id):
                return call.lineno, any(a <= call.lineno <= b for a, b in tries)
    return None


class _Unsupported(Exception):
    """The loop does something the evaluator does not model: the discovery is not followed."""


class _Eval:
    """Runs a file loop's body over plain strings and lists (no code of the project runs)."""

    def __init__(self, env: dict) -> None:
        self.env = env
        self.out: list = []
        self.steps = 0

    def body(self, stmts: list[ast.stmt]) -> bool:
        """Run ``stmts``; False when a ``continue`` ends the iteration."""
        for st in stmts:
            if isinstance(st, ast.Continue):
                return False
            if isinstance(st, ast.Pass):
                continue
            if isinstance(st, ast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], ast.Name):
                self.env[st.targets[0].id] = self.expr(st.value)
            elif isinstance(st, ast.If):
                if not self.body(st.body if self.expr(st.test) else st.orelse):
                    return False
            elif (isinstance(st, ast.Expr) and isinstance(st.value, ast.Call)
                  and isinstance(st.value.func, ast.Attribute) and st.value.func.attr in ("add", "append")
                  and len(st.value.args) == 1):
                self.out.append(self.expr(st.value.args[0]))
            else:
                raise _Unsupported(type(st).__name__)
        return True

    def expr(self, e: ast.expr):  # one case per node kind
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise _Unsupported("too long")
        if isinstance(e, ast.Constant) and isinstance(e.value, (str, int, bool, type(None))):
            return e.value
        if isinstance(e, ast.Name):
            if e.id in self.env:
                return self.env[e.id]
            raise _Unsupported(e.id)
        if isinstance(e, ast.Attribute) and dotted_name(e) == "os.sep":
            return os.sep
        if isinstance(e, (ast.List, ast.Tuple)):
            return [self.expr(x) for x in e.elts]
        if isinstance(e, ast.BinOp) and isinstance(e.op, ast.Add):
            a, b = self.expr(e.left), self.expr(e.right)
            if type(a) is not type(b) or not isinstance(a, (str, list)):
                raise _Unsupported("+")
            return a + b
        if isinstance(e, ast.UnaryOp):
            v = self.expr(e.operand)
            if isinstance(e.op, ast.Not):
                return not v
            if isinstance(e.op, ast.USub) and isinstance(v, int):
                return -v
            raise _Unsupported("unary")
        if isinstance(e, ast.BoolOp):
            v = None
            for x in e.values:
                v = self.expr(x)
                if bool(v) is isinstance(e.op, ast.Or):
                    return v
            return v
        if isinstance(e, ast.IfExp):
            return self.expr(e.body) if self.expr(e.test) else self.expr(e.orelse)
        if isinstance(e, ast.Compare):
            left = self.expr(e.left)
            for op, c in zip(e.ops, e.comparators):
                right = self.expr(c)
                if not _compare(op, left, right):
                    return False
                left = right
            return True
        if isinstance(e, ast.Subscript):
            v = self.expr(e.value)
            if not isinstance(v, (str, list)):
                raise _Unsupported("subscript")
            if isinstance(e.slice, ast.Slice):
                parts = [None if p is None else self.expr(p) for p in (e.slice.lower, e.slice.upper, e.slice.step)]
                if not all(p is None or isinstance(p, int) for p in parts) or parts[2] == 0:
                    raise _Unsupported("slice")
                return v[slice(*parts)]
            i = self.expr(e.slice)
            if not isinstance(i, int) or not -len(v) <= i < len(v):
                raise _Unsupported("index")
            return v[i]
        if isinstance(e, ast.Call) and not e.keywords:
            return self.call(e)
        raise _Unsupported(type(e).__name__)

    def call(self, e: ast.Call):
        args = [self.expr(a) for a in e.args]
        name = dotted_name(e.func)
        if name in ("os.path.relpath", "os.path.join", "os.path.basename", "os.path.splitext", "len"):
            if not all(isinstance(a, str) for a in args) or (name == "len" and len(args) != 1):
                raise _Unsupported(name)
            if name == "os.path.relpath" and len(args) == 2:
                return posixpath.relpath(args[0], args[1])
            if name == "os.path.join" and args:
                return posixpath.join(*args)
            if name == "os.path.basename" and len(args) == 1:
                return posixpath.basename(args[0])
            if name == "os.path.splitext" and len(args) == 1:
                return list(posixpath.splitext(args[0]))
            if name == "len":
                return len(args[0])
            raise _Unsupported(name)
        if isinstance(e.func, ast.Attribute):
            obj = self.expr(e.func.value)
            method = e.func.attr
            if isinstance(obj, str) and method in _STR_METHODS and all(isinstance(a, (str, int, list)) for a in args):
                if method == "join" and not (len(args) == 1 and isinstance(args[0], list)
                                             and all(isinstance(x, str) for x in args[0])):
                    raise _Unsupported("join")
                if method != "join" and not all(isinstance(a, (str, int)) or (
                        method in ("endswith", "startswith") and isinstance(a, list)) for a in args):
                    raise _Unsupported(method)
                args = [tuple(a) if isinstance(a, list) else a for a in args]
                try:
                    return getattr(obj, method)(*args)
                except (TypeError, ValueError) as exc:
                    raise _Unsupported(method) from exc
        raise _Unsupported(name or "call")


_STR_METHODS = {"endswith", "startswith", "replace", "split", "rsplit", "join", "strip", "lstrip", "rstrip",
                "lower", "upper", "rpartition", "partition"}


def _compare(op: ast.cmpop, a, b) -> bool:
    if isinstance(op, ast.Eq):
        return a == b
    if isinstance(op, ast.NotEq):
        return a != b
    if isinstance(op, (ast.In, ast.NotIn)):
        if not isinstance(b, (str, list)) or (isinstance(b, str) and not isinstance(a, str)):
            raise _Unsupported("in")
        return (a in b) is isinstance(op, ast.In)
    raise _Unsupported(type(op).__name__)


def walk(files, top: str):
    """``os.walk(top)`` over ``files`` (``artifact.files``): ``(dirpath, dirnames, filenames)`` top-down, in
    listing order, not into links to directories (``followlinks=False``). Raises ``_Unsupported`` past
    ``MAX_FILES``."""
    count = 0
    stack = [top]
    while stack:
        d = stack.pop(0)
        listing = files.listdir(d)
        if listing is None:
            continue
        dirs = [n for n, is_dir in listing.items() if is_dir]
        names = [n for n, is_dir in listing.items() if not is_dir]
        count += len(names)
        if count > MAX_FILES:
            raise _Unsupported("too many files")
        yield d, dirs, names
        subs = [posixpath.join(d, n) for n in dirs]
        stack[:0] = [s for s in subs if not os.path.islink(s)]


def discovered(program, module: str, found: tuple) -> list[str] | None:
    """The module names a discovery of ``module`` (``extract``'s tuple) imports, computed over the package's
    files; None when its loop is not modelled or the package is not found."""
    _line, root, (root_var, files_var, file_var), _collection, source, _imp, _guarded, variables = found
    if root[0] == "pkg":
        mod = program.find(root[1])
        if mod is None or not mod.path or not mod.is_package:
            return None
        top = posixpath.dirname(mod.path)
    else:
        mod = program.find(module)
        if mod is None or not mod.path:
            return None
        top = posixpath.dirname(mod.path)
    body = ast.parse(source).body
    ev = _Eval({})  # one budget of steps for the whole walk
    try:
        for dirpath, _dirs, filenames in walk(program.finder.files, top):
            ev.env = {v: top for v in variables}
            ev.env[root_var] = dirpath
            ev.env[files_var] = filenames
            for f in filenames:
                ev.env[file_var] = f
                ev.body(body)
    except _Unsupported:
        return None
    return sorted({n for n in ev.out if isinstance(n, str) and n and all(p.isidentifier() for p in n.split("."))})


def load(program):
    """The edges of the blueprint discoveries that run at start-up (``Loaded``)."""
    from deploycheck.frameworks import Loaded

    found = Loaded()
    memo = syntax.memo(program)
    for module, facts in sorted(syntax.read(program, flask_users(program), extract, SPACE).items()):
        for d in facts["discoveries"]:
            reach = program.reached_at(module, d[5])
            if reach is None:
                continue  # a function nothing is known to call at start-up
            key = ("blueprints", module, d[0])
            if key not in memo:
                memo[key] = discovered(program, module, d)
            names = memo[key]
            if not names:
                continue
            fn = next((q for q, a, _b in _defs(program, module) if a == d[0]), "the discovery")
            step = f"{reach.step} -> {fn}() imports the blueprint modules it finds under the package"
            basis = CERTAIN if reach.shield == 0 and not d[6] else MAYBE
            for name in names:
                edge = Edge(module, name, d[5], step, reach.phase, None, False, basis)
                if edge not in found.edges:
                    found.edges.append(edge)
    return found


def _defs(program, module: str) -> list[tuple[str, int, int]]:
    from deploycheck.index import startup

    t = startup.table(program, module)
    return t.defs if t is not None else []
