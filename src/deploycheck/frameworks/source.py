"""Module-level code of a module as plain tuples, for the static evaluator (``frameworks.settings``).

A framework loader needs more of a module than its summary holds: the values its module-level statements
compute (a settings module's ``INSTALLED_APPS``), the classes it defines (an ``AppConfig``), the calls it
makes (``include("shop.urls")``). ``program_code(program, paths)`` gives that as a small tree of tuples
(below), made from the syntax tree in the bounded parser processes (``index.parsing``: a file is never parsed
outside the memory budget) and cached by content hash beside the summaries, so a warm run parses nothing.

Statements (a tuple whose first item is the kind, the second the 1-based line)::

    ("=", line, targets, value)          ("+=", line, op, target, value)        ("expr", line, value)
    ("if", line, test, body, orelse)     ("for", line, target, iter, body, orelse, jumps)
    ("while", line, test, body, orelse)  ("try", line, body, handlers, orelse, final)
    ("with", line, items, body)          ("import", line, module, asname)
    ("from", line, module, level, names) ("def", line, name)       ("class", line, name, bases, body)
    ("del", line, targets)               ("raise", line)           ("?", line, names)

``names`` of ``from`` are ``(name, asname)`` pairs (``("*", None)`` for a star import); ``handlers`` are
``(types, name, body)`` with ``types`` an expression or None (a bare ``except``); ``jumps`` says whether the
loop body holds ``break`` or ``continue``. ``("?", line, names)`` stands for a statement the evaluator does
not model: every name it mentions becomes unknown.

Expressions::

    ("c", value, line)  constant        ("n", id)  name                       ("a", value, attr)  attribute
    ("i", value, index)  subscript      ("slice",)  a slice                    ("list"|"tuple"|"set", items)
    ("dict", keys, values)  (key None: ``**``)      ("*", value)  starred item or argument
    ("call", line, func, args, kwargs)  (kwargs: (name or None for ``**``, value))
    ("bin", op, left, right)            ("un", op, operand)                    ("bool", op, values)
    ("cmp", left, ops, comparators)     ("ifx", test, body, orelse)            ("f", parts)  f-string
    ("fv", value)  a formatted value    ("comp", kind, element, generators), generators: (target, iter, ifs)
    (":=", target, value)               ("?", names)  anything else
"""

from __future__ import annotations

import ast
import marshal
import warnings

from deploycheck import ANALYZER_VERSION
from deploycheck.index.parsing import NEEDS_MEMORY, TOO_NESTED, Parser
from deploycheck.index.store import content_key

# Bumped when the shape of the tuples changes: the cache then misses instead of handing old shapes over.
CODE_VERSION = "1"

_BIN = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Mod: "%", ast.BitOr: "|", ast.BitAnd: "&",
        ast.Div: "/", ast.FloorDiv: "//", ast.Pow: "**", ast.BitXor: "^", ast.LShift: "<<", ast.RShift: ">>",
        ast.MatMult: "@"}
_UN = {ast.Not: "not", ast.USub: "-", ast.UAdd: "+", ast.Invert: "~"}
_CMP = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.In: "in",
        ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not"}
_CONSTANT_TYPES = (str, int, float, bool, type(None), bytes)


def _names(node: ast.AST) -> tuple[str, ...]:
    """Every name an unmodelled statement or expression mentions (it may rebind or change any of them)."""
    out = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    for n in ast.walk(node):
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(n.name)
        elif isinstance(n, (ast.Import, ast.ImportFrom)):
            out.update((a.asname or a.name).split(".")[0] for a in n.names if a.name != "*")
        elif isinstance(n, (ast.Global, ast.Nonlocal)):
            out.update(n.names)
    return tuple(sorted(out))


def expr(node: ast.expr | None) -> tuple | None:
    """One expression as tuples (module docstring); None for None."""
    if node is None:
        return None
    if isinstance(node, ast.Constant):
        if isinstance(node.value, _CONSTANT_TYPES):
            return ("c", node.value, node.lineno)
        return ("?", ())
    if isinstance(node, ast.Name):
        return ("n", node.id)
    if isinstance(node, ast.Attribute):
        return ("a", expr(node.value), node.attr)
    if isinstance(node, ast.Subscript):
        index = ("slice",) if isinstance(node.slice, ast.Slice) else expr(node.slice)
        return ("i", expr(node.value), index)
    if isinstance(node, ast.Starred):
        return ("*", expr(node.value))
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        kind = {ast.List: "list", ast.Tuple: "tuple", ast.Set: "set"}[type(node)]
        return (kind, tuple(expr(e) for e in node.elts))
    if isinstance(node, ast.Dict):
        return ("dict", tuple(expr(k) for k in node.keys), tuple(expr(v) for v in node.values))
    if isinstance(node, ast.Call):
        args = tuple(expr(a) for a in node.args)
        kwargs = tuple((k.arg, expr(k.value)) for k in node.keywords)
        return ("call", node.lineno, expr(node.func), args, kwargs)
    if isinstance(node, ast.BinOp) and type(node.op) in _BIN:
        return ("bin", _BIN[type(node.op)], expr(node.left), expr(node.right))
    if isinstance(node, ast.UnaryOp):
        return ("un", _UN[type(node.op)], expr(node.operand))
    if isinstance(node, ast.BoolOp):
        return ("bool", "and" if isinstance(node.op, ast.And) else "or", tuple(expr(v) for v in node.values))
    if isinstance(node, ast.Compare):
        return ("cmp", expr(node.left), tuple(_CMP[type(o)] for o in node.ops),
                tuple(expr(c) for c in node.comparators))
    if isinstance(node, ast.IfExp):
        return ("ifx", expr(node.test), expr(node.body), expr(node.orelse))
    if isinstance(node, ast.JoinedStr):
        return ("f", tuple(expr(v) for v in node.values))
    if isinstance(node, ast.FormattedValue):
        if node.conversion != -1 or node.format_spec is not None:
            return ("?", _names(node))
        return ("fv", expr(node.value))
    if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
        kinds = {ast.ListComp: "list", ast.SetComp: "set", ast.GeneratorExp: "gen", ast.DictComp: "dict"}
        kind = kinds[type(node)]
        element = (expr(node.key), expr(node.value)) if isinstance(node, ast.DictComp) else expr(node.elt)
        if any(g.is_async for g in node.generators):
            return ("?", _names(node))
        gens = tuple((_target(g.target), expr(g.iter), tuple(expr(i) for i in g.ifs))
                     for g in node.generators)
        return ("comp", kind, element, gens)
    if isinstance(node, ast.NamedExpr):
        return (":=", node.target.id, expr(node.value))
    return ("?", _names(node))


def _target(node: ast.expr) -> tuple:
    if isinstance(node, ast.Name):
        return ("n", node.id)
    if isinstance(node, ast.Attribute):
        return ("a", expr(node.value), node.attr)
    if isinstance(node, ast.Subscript):
        index = ("slice",) if isinstance(node.slice, ast.Slice) else expr(node.slice)
        return ("i", expr(node.value), index)
    if isinstance(node, (ast.Tuple, ast.List)):
        return ("tuple", tuple(_target(e) for e in node.elts))
    if isinstance(node, ast.Starred):
        return ("*", _target(node.value))
    return ("?", _names(node))


def _jumps(body: list[ast.stmt]) -> bool:
    """Does a loop body ``break`` or ``continue`` (outside nested loops and functions)?"""
    stack = list(body)
    while stack:
        n = stack.pop()
        if isinstance(n, (ast.Break, ast.Continue)):
            return True
        if isinstance(n, (ast.For, ast.AsyncFor, ast.While)):
            stack.extend(n.orelse)  # a break inside a nested loop ends that loop only
            continue
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        stack.extend(c for c in ast.iter_child_nodes(n) if isinstance(c, (ast.stmt, ast.excepthandler)))
    return False


def body(stmts: list[ast.stmt]) -> tuple:
    return tuple(statement(s) for s in stmts)


def statement(node: ast.stmt) -> tuple:
    """One statement as tuples (module docstring)."""
    line = node.lineno
    if isinstance(node, ast.Assign):
        return ("=", line, tuple(_target(t) for t in node.targets), expr(node.value))
    if isinstance(node, ast.AnnAssign):
        if node.value is None:
            return ("?", line, ())  # a bare annotation binds nothing
        return ("=", line, (_target(node.target),), expr(node.value))
    if isinstance(node, ast.AugAssign) and type(node.op) in _BIN:
        return ("+=", line, _BIN[type(node.op)], _target(node.target), expr(node.value))
    if isinstance(node, ast.Expr):
        return ("expr", line, expr(node.value))
    if isinstance(node, ast.If):
        return ("if", line, expr(node.test), body(node.body), body(node.orelse))
    if isinstance(node, ast.For):
        return ("for", line, _target(node.target), expr(node.iter), body(node.body), body(node.orelse),
                _jumps(node.body))
    if isinstance(node, ast.While):
        return ("while", line, expr(node.test), body(node.body), body(node.orelse))
    if isinstance(node, ast.Try):
        handlers = tuple((expr(h.type), h.name, body(h.body)) for h in node.handlers)
        return ("try", line, body(node.body), handlers, body(node.orelse), body(node.finalbody))
    if isinstance(node, ast.With):
        items = tuple((expr(i.context_expr), _target(i.optional_vars) if i.optional_vars else None)
                      for i in node.items)
        return ("with", line, items, body(node.body))
    if isinstance(node, ast.Import):
        if len(node.names) == 1:
            return ("import", line, node.names[0].name, node.names[0].asname)
        return ("if", line, ("c", True, line),
                tuple(("import", line, a.name, a.asname) for a in node.names), ())
    if isinstance(node, ast.ImportFrom):
        return ("from", line, node.module or "", node.level, tuple((a.name, a.asname) for a in node.names))
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        if node.decorator_list:  # a decorator may return anything, or register the function somewhere
            return ("?", line, (node.name, *_names(ast.Module(body=[ast.Expr(d) for d in node.decorator_list],
                                                               type_ignores=[]))))
        return ("def", line, node.name)
    if isinstance(node, ast.ClassDef):
        if node.decorator_list or node.keywords:
            return ("?", line, (node.name,))
        return ("class", line, node.name, tuple(expr(b) for b in node.bases), body(node.body))
    if isinstance(node, ast.Delete):
        return ("del", line, tuple(_target(t) for t in node.targets))
    if isinstance(node, (ast.Pass, ast.Global, ast.Nonlocal, ast.Assert)):
        return ("?", line, ())  # an assert that fails stops the import: nothing is learnt from it
    if isinstance(node, ast.Raise):
        return ("raise", line)
    return ("?", line, _names(node))


def module_code(source: bytes) -> tuple | None:
    """The module-level statements of ``source`` (bytes; PEP 263 encodings honoured), or None when it does not
    parse (the summary's ``syntax_error`` reports that)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(source)
    except (SyntaxError, ValueError, UnicodeError, RecursionError):
        return None
    try:
        return body(tree.body)
    except RecursionError:
        return None


def _work(item: tuple[str, bytes]) -> tuple[str, tuple | None]:
    path, data = item
    return path, module_code(data)


def program_code(program, paths: list[str]) -> dict[str, tuple | None]:
    """``{path: statements or None}`` for source files of ``program`` (read through its store's reader, so
    within the input bounds), from the cache or parsed within the parse memory budget; None for a file that
    cannot be read or parsed, or whose tree does not fit the budget."""
    memo = _memo(program)
    todo = [p for p in dict.fromkeys(paths) if p not in memo]
    if not todo:
        return {p: memo[p] for p in paths}
    store = program.store
    space = f"frameworks-{CODE_VERSION}-{ANALYZER_VERSION}"
    data: dict[str, bytes] = {}
    for p in todo:
        try:
            data[p] = store.read_bytes(p)
        except (OSError, ValueError):
            memo[p] = None
    keys = {p: content_key(d) for p, d in data.items()}
    cached = store.cache.get_many(space, list(set(keys.values())))
    misses = []
    for p, d in data.items():
        blob = cached.get(keys[p])
        if blob is not None:
            try:
                memo[p] = marshal.loads(blob)
                continue
            except Exception:  # a damaged entry: parse again
                pass
        misses.append((p, d))
    if misses:
        parser = Parser(_work)
        try:
            results = parser.map(misses, [len(d) for _, d in misses])
        finally:
            parser.close()
        for (p, _), result in zip(misses, results, strict=True):
            if result in (NEEDS_MEMORY, TOO_NESTED):
                memo[p] = None
                continue
            memo[p] = result[1]
            if result[1] is not None:
                store.cache.put(space, keys[p], marshal.dumps(result[1]))
    return {p: memo[p] for p in paths}


def _memo(program) -> dict:
    state = program.frameworks.setdefault("source", {})
    return state
