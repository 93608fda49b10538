"""Which private functions and classes of a module can run on the target at all.

A function runs only if something calls it; within its module, a private one (``_name``, by convention not
used from outside, PEP 8) is reached only through the names that refer to it. When every reference to it
sits in code that never runs on the target (a branch the target's platform or version makes false, code
after ``return``), or in other private definitions reached only that way, its body never runs: prefect's
``_WindowsJobTerminationScope`` is built only under ``if sys.platform == "win32":``.

Kept reachable, since something other than a name in this module may use them: public names, names in
``__all__``, decorated definitions (a decorator may register them), classes with bases or keywords (a base
or metaclass may register subclasses), and every definition of a module that edits its namespace at run
time (the caller checks that).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable


def unreached(tree: ast.Module, dead_blocks: list[list[ast.stmt]]) -> list[tuple[int, int]]:
    """``(first line, last line)`` of each module-level private definition that only dead code reaches;
    ``dead_blocks`` are the statement lists that never run on the target."""
    private: dict[str, ast.stmt] = {}
    for stmt in tree.body:
        if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        registered = stmt.decorator_list or (isinstance(stmt, ast.ClassDef) and (stmt.bases or stmt.keywords))
        if _private(stmt.name) and not registered:
            private[stmt.name] = stmt
    if not private:
        return []
    dead = {id(s) for block in dead_blocks for s in block}
    from_dead = {n for block in dead_blocks for n in _loads(block, set()) if n in private}
    if not from_dead:
        return []
    uses: dict[str, set[str]] = {}
    roots: set[str] = set()
    for stmt in tree.body:
        if id(stmt) in dead:
            continue
        name = getattr(stmt, "name", None)
        if name in private and private[name] is stmt:
            uses[name] = _loads(stmt.body, dead)
            roots |= _loads(_evaluated_at_definition(stmt), dead)  # defaults run at import
        else:
            roots |= _loads([stmt], dead)
        if isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__"
                                                for t in stmt.targets):
            roots |= {e.value for e in ast.walk(stmt.value)
                      if isinstance(e, ast.Constant) and isinstance(e.value, str)}
    live = _closure(roots & private.keys(), uses)
    only_dead = _closure(from_dead, uses) - live
    return sorted((private[n].lineno, private[n].end_lineno or private[n].lineno) for n in only_dead)


def _private(name: str) -> bool:
    return name.startswith("_") and not name.endswith("__")


def _closure(start: set[str], uses: dict[str, set[str]]) -> set[str]:
    seen = set(start)
    todo = list(start)
    while todo:
        for n in uses.get(todo.pop(), ()):
            if n in uses and n not in seen:
                seen.add(n)
                todo.append(n)
    return seen


def _evaluated_at_definition(stmt: ast.stmt) -> list[ast.AST]:
    """What a private function's definition runs: its default values. Its annotations name classes without
    making or calling anything (``def _make() -> _Scope:``)."""
    if isinstance(stmt, ast.ClassDef):
        return []
    args = stmt.args  # type: ignore[attr-defined]
    return list(args.defaults) + [d for d in args.kw_defaults if d is not None]


def _loads(nodes: Iterable[ast.AST], dead: set[int]) -> set[str]:
    """Every name read in ``nodes`` (and strings that may name a definition: ``getattr(mod, "_x")``),
    skipping statements in ``dead``."""
    out: set[str] = set()
    stack = list(nodes)
    while stack:
        node = stack.pop()
        if id(node) in dead:
            continue
        if isinstance(node, ast.Name):
            out.add(node.id)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.isidentifier():
            out.add(node.value)
        stack.extend(ast.iter_child_nodes(node))
    return out
