"""Literal values a module binds at its top level, as plain data a loader can cache: what a configuration
module holds (``imports = ("proj.tasks",)``, ``beat_schedule = {...}``).

A value is one of ``("s", text, line)`` (a string), ``("c", constant)`` (``True``, ``None``, a number),
``("seq", [values])`` (a list, tuple or set),
``("map", [(key, value)])`` (a dict with string keys), ``("ref", "dotted.name", line)`` (a name this module
does not bind to a literal: ``settings.INSTALLED_APPS``), ``("lambda", value)`` (``lambda: value``) or
``UNKNOWN``. Statements are followed in order at the top level only (what an ``if`` or ``try`` binds is not
known to run): ``=``, ``+=`` and ``list.append/extend/insert``, ``dict.update`` and ``d[key] = value``;
anything else that binds a name makes it ``UNKNOWN``.
"""

from __future__ import annotations

import ast

from deploycheck.index.idioms import dotted_name

UNKNOWN = ("?",)
# Items of one literal value, at most: a real configuration lists tens of modules. A longer one (a hostile
# file) is UNKNOWN, so that what a loader keeps and the edges it makes stay small.
MAX_ITEMS = 10_000


def value(node: ast.expr | None, names: dict[str, tuple] | None = None) -> tuple:
    """The literal value of expression ``node``; ``names`` are the module's values so far."""
    names = names or {}
    if node is None:
        return UNKNOWN
    if isinstance(node, ast.Constant):
        if isinstance(node.value, str):
            return ("s", node.value, node.lineno)
        plain = node.value is None or isinstance(node.value, (bool, int, float))
        return ("c", node.value) if plain else UNKNOWN
    if len(node.keys if isinstance(node, ast.Dict) else getattr(node, "elts", ())) > MAX_ITEMS:
        return UNKNOWN
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        items: list = []
        for e in node.elts:
            if isinstance(e, ast.Starred):
                inner = value(e.value, names)
                items.extend(inner[1] if inner[0] == "seq" else [UNKNOWN])
            else:
                items.append(value(e, names))
        return ("seq", items)
    if isinstance(node, ast.Dict):
        pairs: list = []
        for k, v in zip(node.keys, node.values, strict=True):
            if k is None:  # {**other}
                inner = value(v, names)
                if inner[0] != "map":
                    return UNKNOWN
                pairs.extend(inner[1])
            elif isinstance(k, ast.Constant) and isinstance(k.value, str):
                pairs.append((k.value, value(v, names)))
            else:
                return UNKNOWN
        return ("map", pairs)
    if isinstance(node, ast.Call) and dotted_name(node.func) == "dict" and not node.args:
        if any(k.arg is None for k in node.keywords):
            return UNKNOWN
        return ("map", [(k.arg, value(k.value, names)) for k in node.keywords])
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = value(node.left, names), value(node.right, names)
        if left[0] == "seq" and right[0] == "seq":
            return _seq(left[1] + right[1])
        return UNKNOWN
    if isinstance(node, ast.Lambda):
        args = node.args
        if args.args or args.posonlyargs or args.kwonlyargs or args.vararg or args.kwarg:
            return UNKNOWN
        return ("lambda", value(node.body, names))
    if isinstance(node, ast.Name) and node.id in names:
        return names[node.id]
    dotted = dotted_name(node)
    if dotted is not None:
        return ("ref", dotted, node.lineno)
    return UNKNOWN


def strings(v: tuple) -> list[tuple[str, int]]:
    """``(text, line)`` of each string a value holds: itself, or each string item of a sequence."""
    if v[0] == "s":
        return [(v[1], v[2])]
    if v[0] == "seq":
        return [(item[1], item[2]) for item in v[1] if item[0] == "s"]
    return []


def lookup(v: tuple, key: str) -> tuple | None:
    """The value under ``key`` of a ``map`` value (the last one written), else None."""
    if v[0] != "map":
        return None
    found = None
    for k, item in v[1]:
        if k == key:
            found = item
    return found


def top_level(stmts: list[ast.stmt]) -> dict[str, tuple]:
    """The values the names of a module (or class) body hold after it ran, following only its top level."""
    names: dict[str, tuple] = {}
    for stmt in stmts:
        if isinstance(stmt, ast.Assign):
            v = value(stmt.value, names)
            for t in stmt.targets:
                if isinstance(t, ast.Name):
                    names[t.id] = v
                elif isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name) and t.value.id in names:
                    _set_item(names, t.value.id, t.slice, v)
                else:
                    _forget(names, t)
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            names[stmt.target.id] = value(stmt.value, names) if stmt.value is not None else UNKNOWN
        elif isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
            old, new = names.get(stmt.target.id, UNKNOWN), value(stmt.value, names)
            ok = isinstance(stmt.op, ast.Add) and old[0] == "seq" and new[0] == "seq"
            names[stmt.target.id] = _seq(old[1] + new[1]) if ok else UNKNOWN
        elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            _method(names, stmt.value)
        elif isinstance(stmt, (ast.For, ast.AsyncFor, ast.With, ast.AsyncWith)):
            _forget(names, stmt)
        elif isinstance(stmt, (ast.If, ast.Try, ast.While, getattr(ast, "TryStar", ast.Try))):
            _forget(names, stmt)  # what a branch binds or changes may or may not happen
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.pop(stmt.name, None)
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            for alias in stmt.names:
                if alias.name == "*":  # it may rebind any name, to values not known here
                    names = dict.fromkeys(names, UNKNOWN)
                    continue
                names.pop((alias.asname or alias.name).partition(".")[0], None)
    return names


def _seq(items: list) -> tuple:
    return ("seq", items) if len(items) <= MAX_ITEMS else UNKNOWN


def _set_item(names: dict[str, tuple], name: str, key: ast.expr, v: tuple) -> None:
    old = names[name]
    if old[0] == "map" and isinstance(key, ast.Constant) and isinstance(key.value, str):
        names[name] = ("map", old[1] + [(key.value, v)])
    else:
        names[name] = UNKNOWN


def _method(names: dict[str, tuple], call: ast.Call) -> None:
    func = call.func
    if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in names):
        return
    name, old = func.value.id, names[func.value.id]
    args = [value(a, names) for a in call.args]
    if old[0] == "seq" and func.attr == "append" and len(args) == 1:
        names[name] = _seq(old[1] + args)
    elif old[0] == "seq" and func.attr == "extend" and len(args) == 1 and args[0][0] == "seq":
        names[name] = _seq(old[1] + args[0][1])
    elif old[0] == "seq" and func.attr == "insert" and len(args) == 2:
        names[name] = _seq(old[1] + args[1:])  # where it goes does not matter to what is loaded
    elif old[0] == "map" and func.attr == "update" and not call.keywords and len(args) == 1 \
            and args[0][0] == "map":
        names[name] = ("map", old[1] + args[0][1])
    elif old[0] == "seq" and func.attr in ("sort", "reverse"):
        pass  # the same items
    else:
        names[name] = UNKNOWN


def _forget(names: dict[str, tuple], node: ast.AST) -> None:
    """Every name ``node`` binds, or whose object it may change, no longer holds a known literal."""
    for inner in ast.walk(node):
        if isinstance(inner, ast.Name) and isinstance(inner.ctx, ast.Store) and inner.id in names:
            names[inner.id] = UNKNOWN
        elif isinstance(inner, ast.Call) and isinstance(inner.func, ast.Attribute) \
                and isinstance(inner.func.value, ast.Name) and inner.func.value.id in names:
            names[inner.func.value.id] = UNKNOWN
