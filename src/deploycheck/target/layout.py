"""How each Python file of a project runs, for default mode (no entries named): as a module of the project's
packages, or as a script whose own directory is first on the search path.

A file runs with the search path of whoever starts it. ``python tools/run.py`` puts ``tools/`` first on
``sys.path`` (the ``sys.path`` documentation: the script's directory); pytest's default import mode puts
a test file's first directory upwards without ``__init__.py`` first (its "rootdir" rule); alembic loads its
``env.py`` and revision files by path. The rule here is the same for all of them: a file's *home* is the
first directory upwards from it that is not a package (has no ``__init__.py``), stopping at a project root.
A file whose home is a root is a module of the project's packages. Any other home is one of:

- a **script directory**, checked with its own search path (the home first, then the project roots, then
  the environment): when the name it would have as a namespace package (PEP 420) is taken by another
  module on the search path (a top-level ``alembic/`` without ``__init__.py`` beside the installed
  alembic), or when it holds Python files itself, none of which uses a relative import
  (``pgacloud/pgacloud.py`` importing its sibling package ``providers``); a file of it that the project's
  packages import by its namespace name is checked there (``scripts``);
- otherwise a **namespace package** portion, whose modules are entries like any other.

A module of the project's packages that the search path resolves to another file (a ``utils.py`` beside a
``utils/`` package, a ``time.py`` that the built-in module wins over) is not an entry: it is listed with the
reason, never a refusal.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from deploycheck.index import finder as F
from deploycheck.target.project import Project

# A script that can be run but not imported by name: `run-server.py`, `0001_add_table.py`, a name holding
# any character (`python "tools/x\u2028y.py"` runs it: it is checked, and escaped where shown). A dot would
# make its name a dotted path, so such files are left out.
_SCRIPT_NAME = re.compile(r"[^.]+\Z")


@dataclass
class ScriptDir:
    """A directory whose files run as scripts: ``path`` (absolute), ``rel`` (relative to the project root,
    ``.`` for the root), ``modules`` (the name each file has with the directory first on the search path ->
    its file) and ``why`` it is checked this way."""

    path: str
    rel: str
    modules: dict[str, str]
    why: str
    namespace: str | None = None  # its dotted name as a namespace package, when it has one

    def top_names(self) -> set[str]:
        return {m.partition(".")[0] for m in self.modules}


@dataclass
class Layout:
    """``entries``: modules of the project's packages to walk from; ``scripts``: directories checked as
    scripts; ``skipped``: ``(path relative to the root, reason)`` of files that are not entries."""

    entries: list[str]
    scripts: list[ScriptDir] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def _home(path: str, roots: set[str], top: str, packages: dict[str, bool]) -> str:
    """The first directory upwards from file ``path`` that is not a package, stopping at a root or at the
    project's top; ``packages`` remembers which directories hold an ``__init__.py``."""
    d = os.path.dirname(path)
    if os.path.basename(path) == "__init__.py":
        d = os.path.dirname(d)
    while d not in roots and d != top:
        if d not in packages:
            packages[d] = os.path.isfile(os.path.join(d, "__init__.py"))
        parent = os.path.dirname(d)
        if not packages[d] or parent == d:
            break
        d = parent
    return d


def _realizer(given: list[str], real: list[str]):
    """A function giving a path under one of the ``given`` roots under that root's real path instead (the
    search path's entries are real paths, so a module found there has that path)."""
    pairs = sorted(zip(given, real, strict=True), key=lambda p: -len(p[0]))

    def realize(path: str) -> str:
        for g, r in pairs:
            if path.startswith(g.rstrip(os.sep) + os.sep):
                return r + path[len(g.rstrip(os.sep)):]
        return os.path.realpath(path)
    return realize


def _name(path: str, home: str) -> str | None:
    """The dotted name of file ``path`` with ``home`` first on the search path; None when it has none."""
    rel = os.path.relpath(path, home)
    parts = rel.split(os.sep)
    stem = parts[-1][:-3]
    if stem == "__init__":
        parts = parts[:-1]
    else:
        parts[-1] = stem
    if not parts or not all(p.isidentifier() for p in parts[:-1]):
        return None
    last = parts[-1]
    if len(parts) == 1 and _SCRIPT_NAME.match(last):
        return last  # a script file directly in its home: run by path, whatever its name
    return ".".join(parts) if last.isidentifier() else None


def plan(project: Project, program, owner) -> Layout:
    """The layout of ``project`` for default mode, against ``program``'s search path. ``owner(module)``
    names who provides a module found instead of the project's (``the installed alembic 1.13.1``)."""
    roots = [os.path.realpath(r) for r in project.roots]
    rootset = set(roots)
    top = os.path.realpath(project.root)
    real = _realizer(project.roots, roots)
    packages: dict[str, bool] = {}  # directory -> holds __init__.py

    def home_of(path: str) -> str:
        return _home(path, rootset, top, packages)

    homes: dict[str, dict[str, str]] = {}
    also: list[tuple[str, str]] = []  # (name, file) of a second file at a root with a name already taken
    for module in project.entry_candidates:  # the project's modules less what the configuration excludes
        path = real(project.modules[module])
        home = home_of(path)
        name = _name(path, home)
        if name is not None:
            homes.setdefault(home, {}).setdefault(name, path)
        if home in rootset and os.path.basename(path) == "__init__.py":
            beside = os.path.dirname(path) + ".py"  # `utils.py` beside `utils/`: the search path picks one
            if os.path.isfile(beside):
                also.append((name or module, beside))
    for path in project.scripts:  # files only a path can run: `run-server.py`, `1a2b_add_table.py`
        path = real(path)
        home = home_of(path)
        stem = os.path.basename(path)[:-3]
        if os.path.dirname(path) == home and _SCRIPT_NAME.match(stem):
            homes.setdefault(home, {}).setdefault(stem, path)
    direct = {home: [n for n, f in modules.items() if "." not in n and os.path.basename(f) != "__init__.py"]
              for home, modules in homes.items() if home not in rootset}
    program.store.load([homes[h][n] for h, names in direct.items() for n in names])  # one batch
    layout = Layout([])
    package_modules: dict[str, str] = {}
    for home in sorted(homes):
        modules = homes[home]
        if home in rootset:
            package_modules.update(modules)
            continue
        rel = os.path.relpath(home, top)
        namespace = _namespace_name(home, roots)
        names = [f"{namespace}.{n}" for n in modules if all(p.isidentifier() for p in n.split("."))] \
            if namespace else []
        shadow = _shadowed(program, namespace, home, owner) if namespace else "its path is not a module name"
        if shadow is not None:
            why = f"not importable as {namespace}: {shadow}" if namespace else shadow
            layout.scripts.append(ScriptDir(home, rel, modules, why, namespace))
        elif direct[home] and not any(_relative(program, modules[n]) for n in direct[home]):
            layout.scripts.append(ScriptDir(home, rel, modules, "holds scripts", namespace))
        else:  # a portion of a namespace package
            package_modules.update((f"{namespace}.{n}", f) for n, f in modules.items()
                                   if f"{namespace}.{n}" in names)
    for name, file in sorted(package_modules.items()) + sorted(also):
        why = _not_importable(program, name, file, owner)
        if why is None:
            if name not in layout.entries:
                layout.entries.append(name)
        else:
            layout.skipped.append((os.path.relpath(file, top), why))
    layout.skipped.sort()
    return layout


def _namespace_name(home: str, roots: list[str]) -> str | None:
    for r in roots:
        if home.startswith(r + os.sep):
            parts = os.path.relpath(home, r).split(os.sep)
            if all(p.isidentifier() for p in parts):
                return ".".join(parts)
    return None


def _shadowed(program, namespace: str, home: str, owner) -> str | None:
    """Why ``home`` is not the namespace package ``namespace`` (or a portion of it), or None when it is."""
    found = program.find(namespace)
    if found is not None and found.kind == F.NAMESPACE and \
            home in [os.path.realpath(p) for p in found.locations]:
        return None
    parts = namespace.split(".")
    for i in range(1, len(parts) + 1):
        prefix = ".".join(parts[:i])
        mod = program.find(prefix)
        if mod is not None and mod.kind != F.NAMESPACE:
            return f"shadowed by {owner(mod)}"
    return "another module of that name comes first on the search path"


def _not_importable(program, name: str, file: str, owner) -> str | None:
    """Why the module ``name`` of the project does not load from ``file`` on the search path, or None."""
    found = program.find(name)
    if found is not None and found.path and (found.path == file or os.path.realpath(found.path) == file):
        return None
    if found is not None:
        return f"shadowed by {owner(found)}"
    parts = name.split(".")
    for i in range(1, len(parts)):
        mod = program.find(".".join(parts[:i]))
        if mod is not None and mod.kind != F.NAMESPACE and not (
                mod.path and file.startswith(os.path.dirname(os.path.realpath(mod.path)) + os.sep)):
            return f"shadowed by {owner(mod)}"
    return "not found on the search path"


def _relative(program, path: str) -> bool:
    """Whether the file uses a relative import (``from . import x``): a module of a package, not a
    script (a script has no package to be relative to)."""
    summ = program.store.summaries.get(path)
    return summ is not None and any(site.level > 0 for site in summ.imports)


def describe(program, distributions):
    """``owner(module)`` for ``plan``: the installed distribution that provides a module, or where it
    comes from."""
    def owner(mod) -> str:
        if mod.kind == F.BUILTIN:
            return f"the built-in module {mod.name}"
        if mod.kind == F.FROZEN:
            return f"the frozen module {mod.name}"
        where = mod.path or (mod.locations[0] if mod.locations else None)
        dist = distributions.owner(mod.path) if mod.path else None
        if dist:
            return f"the installed {dist[0]} {dist[1]}"
        origin = program.origin(mod)
        if origin == "stdlib":
            return f"the standard library's {mod.name}"
        for root in program.search_path.project_roots:
            if where and where.startswith(root.rstrip("/") + "/"):
                return where[len(root.rstrip("/")) + 1:]
        return f"the installed {mod.name}" if origin == "third-party" else f"{mod.name} ({origin})"
    return owner
