"""Recognizers for the idioms of real Python code that decide what a module binds or whether a statement
runs: exception guards, ``hasattr`` tests, module ``__getattr__`` shapes (PEP 562), literal name lists."""

from __future__ import annotations

import ast


def dotted_name(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def reraises(handler: ast.excepthandler) -> bool:
    """A handler that ends in a bare ``raise`` (or re-raises its own exception variable) at its top level."""
    for stmt in handler.body:  # type: ignore[attr-defined]
        if isinstance(stmt, ast.Raise) and stmt.cause is None and (
                stmt.exc is None or (isinstance(stmt.exc, ast.Name) and stmt.exc.id == getattr(handler, "name", None))):
            return True
    return False


def handler_raises(handler: ast.excepthandler) -> bool:
    """A handler that raises again whatever it caught: a ``raise`` of any form (``raise``, ``raise exc``,
    ``raise RuntimeError(...) from exc``) at its top level or on both sides of an ``if`` (``always_raises``),
    with no ``return``, ``break`` or ``continue`` anywhere in the statements before it. What it caught still
    ends the call, as another exception."""
    for stmt in handler.body:  # type: ignore[attr-defined]
        if always_raises([stmt]):
            return True
        if any(isinstance(n, (ast.Return, ast.Break, ast.Continue)) for n in ast.walk(stmt)):
            return False
    return False


def guard_level(caught: set[str]) -> int:
    return 2 if caught & {"Exception", "BaseException"} else 1


def literal_strings(node: ast.expr) -> set[str] | None:
    """Strings of a literal list/tuple/set, or the keys of a literal dict; None for anything else."""
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        elts = node.elts
    elif isinstance(node, ast.Dict):
        elts = [k for k in node.keys if k is not None]
        if len(elts) != len(node.keys):
            return None
    else:
        return None
    out = set()
    for e in elts:
        if not (isinstance(e, ast.Constant) and isinstance(e.value, str)):
            return None
        out.add(e.value)
    return out


def always_raises(stmts: list[ast.stmt]) -> bool:
    for st in stmts:
        if isinstance(st, ast.Raise):
            return True
        if isinstance(st, ast.If) and st.orelse and always_raises(st.body) and always_raises(st.orelse):
            return True
    return False


def served_names(defs: list[ast.FunctionDef], literals: dict[str, set[str]],
                 constants: dict[str, str] | None = None) -> list[str] | None:
    """Names a module ``__getattr__`` (PEP 562) can return, when its shape makes that a finite set:
    ``if name == "x": ... return`` / ``if name == CONSTANT`` (a module-level name bound once to a string) /
    ``if name in ("a", "b")`` / ``if name in LITERAL_DICT`` branches, branches that always raise, and a final
    ``raise AttributeError``. None when anything else may serve a name."""
    constants = constants or {}
    if len(defs) != 1:
        return None
    fn = defs[0]
    if not fn.args.args:
        return None
    param = fn.args.args[0].arg
    served: set[str] = set()
    for stmt in fn.body:
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue  # docstring
        if isinstance(stmt, ast.Raise):
            return sorted(served)
        if isinstance(stmt, ast.If):
            if always_raises(stmt.body) and not stmt.orelse:
                continue
            names = compared_names(stmt.test, param, literals, constants)
            if names is None:
                return None
            served |= names
            if not stmt.orelse:
                continue
            if existing_only(stmt.orelse, param):
                return sorted(served)  # the else serves only names already bound (scipy's __getattr__)
            return None
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            continue
        return None
    return None  # falls off the end: returns None for every other name


def existing_only(stmts: list[ast.stmt], param: str) -> bool:
    """``return globals()[name]`` (possibly in ``try``/``except KeyError: raise ...``): serves nothing new."""
    if len(stmts) != 1:
        return False
    stmt = stmts[0]
    if isinstance(stmt, ast.Try):
        return (existing_only(stmt.body, param) and not stmt.orelse and not stmt.finalbody
                and all(always_raises(h.body) for h in stmt.handlers))
    return (isinstance(stmt, ast.Return) and isinstance(stmt.value, ast.Subscript)
            and is_globals_call(stmt.value.value) and isinstance(stmt.value.slice, ast.Name)
            and stmt.value.slice.id == param)


def compared_names(test: ast.expr, param: str, literals: dict[str, set[str]],
                   constants: dict[str, str] | None = None) -> set[str] | None:
    constants = constants or {}
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.Or):
        out: set[str] = set()
        for v in test.values:
            got = compared_names(v, param, literals, constants)
            if got is None:
                return None
            out |= got
        return out
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.left, ast.Name)
            and test.left.id == param):
        return None
    op, right = test.ops[0], test.comparators[0]
    if isinstance(op, ast.Eq) and isinstance(right, ast.Constant) and isinstance(right.value, str):
        return {right.value}
    if isinstance(op, ast.Eq) and isinstance(right, ast.Name) and right.id in constants:
        return {constants[right.id]}
    if isinstance(op, ast.In):
        if isinstance(right, ast.Name):
            return set(literals[right.id]) if right.id in literals else None
        return literal_strings(right)
    return None


def raise_text(node: ast.Raise) -> str:
    try:
        return ast.unparse(node.exc) if node.exc is not None else "raise"
    except Exception:
        return "raise"


def hasattr_pairs(test: ast.expr) -> frozenset:
    """``(name, attr)`` for each ``hasattr(name, "attr")`` that must be true for ``test`` to be true."""
    out = set()
    parts = test.values if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And) else [test]
    for p in parts:
        if (isinstance(p, ast.Call) and isinstance(p.func, ast.Name) and p.func.id == "hasattr" and len(p.args) == 2
                and isinstance(p.args[0], ast.Name) and isinstance(p.args[1], ast.Constant)
                and isinstance(p.args[1].value, str)):
            out.add((p.args[0].id, p.args[1].value))
    return frozenset(out)


def is_dunder_name(node: ast.AST) -> bool:
    return isinstance(node, ast.Name) and node.id == "__name__"


def is_globals_call(node: ast.AST) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("globals", "vars")
            and not node.args)


def exception_names(node: ast.expr | None) -> set[str]:
    if node is None:
        return {"BaseException"}
    if isinstance(node, ast.Tuple):
        out: set[str] = set()
        for e in node.elts:
            out |= exception_names(e)
        return out
    if isinstance(node, ast.Name):
        return {node.id}
    if isinstance(node, ast.Attribute):
        return {node.attr}
    return {"BaseException"}  # a computed exception tuple: assume it may catch anything


def suppressed(node: ast.expr) -> set[str]:
    if isinstance(node, ast.Call) and (dotted_name(node.func) or "").rpartition(".")[2] == "suppress":
        out: set[str] = set()
        for a in node.args:
            out |= exception_names(a)
        return out
    return set()
