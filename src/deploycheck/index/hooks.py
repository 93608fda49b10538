"""pluggy hook calls made at start-up: ``pm.hook.NAME(...)`` runs every registered implementation of ``NAME``.

pluggy's documentation ("Calling hooks"): a ``PluginManager``'s ``hook`` attribute holds one caller per hook
name, and calling it calls each implementation registered for that name: functions of the plugins
(modules or objects passed to ``register``, or loaded from entry points) that carry the project's
``HookimplMarker`` and have the hook's name. FlaskBB's ``create_app()`` loads its blueprints this way
(``pluggy.hook.flaskbb_load_blueprints(app=app)``): a stale name in one of those functions kills every
worker at start.

What is registered is decided at run time, so the model here is the static shape both ends leave: a call
whose callee is written ``<something>.hook.NAME`` and a module-level ``def NAME`` of a project module of the
closure decorated with a name the module binds to ``HookimplMarker(...)`` (or ``pluggy.HookimplMarker(...)``),
or imports from a module that does. Implementations that are methods of plugin objects are not followed.
"""

from __future__ import annotations

import ast

from deploycheck.artifact.files import HostFiles

MARKER = "HookimplMarker"


def hook_name(target) -> str | None:
    """The hook a start-up call reaches (``Summary.calls``' callee): ``NAME`` of ``x.hook.NAME`` or
    ``x.y.hook.NAME``; None for any other callee."""
    if isinstance(target, str) or not isinstance(target, (tuple, list)) or len(target) != 2:
        return None
    attrs = (target[1] or "").split(".")
    if len(attrs) >= 2 and attrs[-2] == "hook" and attrs[-1].isidentifier():
        return attrs[-1]
    return None


def _is_marker_call(value) -> bool:
    """``HookimplMarker(...)`` or ``pluggy.HookimplMarker(...)``."""
    if not isinstance(value, ast.Call):
        return False
    f = value.func
    return (isinstance(f, ast.Name) and f.id == MARKER) or (isinstance(f, ast.Attribute) and f.attr == MARKER)


def _imported_markers(program, module: str, summ) -> set[str]:
    """Names ``module`` imports from a module that binds them with ``X = HookimplMarker(...)`` or ``X =
    pluggy.HookimplMarker(...)`` (the summary keeps the root of the call; the decorator check in
    ``implements`` is what makes it a hook implementation)."""
    mod = program.find(module)
    out: set[str] = set()
    for name, descs in summ.bindings.items():
        if mod is None or not descs or len(descs) != 1 or not isinstance(descs[0], (tuple, list)):
            continue
        if descs[0][0] != "f" or len(descs[0]) != 4:
            continue
        _, src, level, attr = descs[0]
        base = program.absolute(module, mod.is_package, src, level)
        other = program.summary(base) if base else None
        if other is not None and other.made.get(attr) in (MARKER, "pluggy"):
            out.add(name)
    return out


def implements(program, module: str, hook: str) -> bool:
    """Whether project module ``module`` defines a module-level ``def hook`` decorated with a hook marker
    (``@impl`` or ``@impl(tryfirst=True)``, ``impl`` made here or imported)."""
    summ = program.summary(module)
    node = program.nodes.get(module)
    if summ is None or summ.syntax_error or hook not in summ.bindings or node is None or not node.module.path:
        return False
    if MARKER not in summ.made.values() and "pluggy" not in summ.made.values() and \
            not _imported_markers(program, module, summ):
        return False
    try:
        tree = ast.parse((program.finder.files or HostFiles()).read_bytes(node.module.path))
    except (OSError, SyntaxError, ValueError):
        return False
    markers = {t.id for stmt in tree.body if isinstance(stmt, ast.Assign) and _is_marker_call(stmt.value)
               for t in stmt.targets if isinstance(t, ast.Name)}
    markers |= _imported_markers(program, module, summ)
    for stmt in tree.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and stmt.name == hook:
            for d in stmt.decorator_list:
                f = d.func if isinstance(d, ast.Call) else d
                if isinstance(f, ast.Name) and f.id in markers:
                    return True
    return False
