"""The whole program: modules found on the search path, their summaries, the import closure from the entries,
and name resolution across modules (re-exports, aliases, star-import chains, ``__all__``, submodules).

Every question about a name answers FOUND, MISSING or UNKNOWN. UNKNOWN covers whatever is decided only at
run time (module ``__getattr__`` (PEP 562), writes through ``globals()`` or ``sys.modules``, extension modules,
files that could not be parsed), and is never reported: precision comes first.
"""

from __future__ import annotations

import sys
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field

from deploycheck.environment.interpreter import Interpreter
from deploycheck.environment.searchpath import SearchPath
from deploycheck.index import finder as F
from deploycheck.index import hooks, startup, writers
from deploycheck.index.idioms import NO_SUBMODULES, ONLY_SUBMODULES
from deploycheck.index.store import SummaryStore
from deploycheck.index.summary import FUNCTION, MODULE, TYPING, VALUE, ImportSite, Summary

FOUND, MISSING, UNKNOWN = "found", "missing", "unknown"
_TYPE_ATTRS = frozenset(dir(type))  # what every class has from its metaclass ``type`` (``Cls.mro``)

# How many name or import questions may wait on one another (``has_name`` -> ``exports`` -> ``has_name``
# ... down a chain of re-exports, star imports or modules importing each other). Deeper than this the answer
# is UNKNOWN (reported: DC203) rather than the interpreter's RecursionError; ``FRAMES`` is the Python
# recursion limit the analysis then needs (a level takes at most about 8 frames).
RESOLVE_DEPTH = 2000
FRAMES = RESOLVE_DEPTH * 10
# How many sets of caches ``module_fails_within`` keeps, one per set of failing modules being imported.
MAX_CACHES_WITHIN = 64

# When code runs, in this order (``frameworks.base``): module-level code of what the entries import, framework
# set-up and app factories, what the first request loads, and function bodies nobody is known to call.
IMPORT, STARTUP, REQUEST, CALL = "import", "startup", "request", "call"
PHASES = (IMPORT, STARTUP, REQUEST, CALL)


@dataclass(frozen=True)
class Hop:
    """One step of an import chain: ``module`` (in file ``path``) imports the next module at ``line``; ``step``
    names the framework's part when a framework, not an import statement, loads the next module
    (``django.setup(): INSTALLED_APPS``), else is empty."""

    module: str
    path: str | None
    line: int
    step: str = ""


@dataclass
class Node:
    """A module of the import closure. ``shield`` says what stands between an entry and this module's import on
    the best chain: 0 nothing (any failure crashes the service), 1 ``except ImportError`` (only non-import
    errors crash), 2 a broader ``except``, an undecidable condition or a function body (nothing is certain)."""

    module: F.Module
    origin: str
    parent: tuple[str, int] | None
    shield: int
    phase: str = IMPORT  # when its module-level code first runs (PHASES)
    step: str = ""  # the framework step that loads it from ``parent`` (empty: an import statement)

    @property
    def firm(self) -> bool:
        return self.shield == 0


@dataclass
class Program:
    finder: F.ModuleFinder
    search_path: SearchPath
    interp: Interpreter
    store: SummaryStore
    nodes: dict[str, Node] = field(default_factory=dict)
    registered: set[str] = field(default_factory=set)
    stores: set[tuple[str, str]] = field(default_factory=set)
    _names: dict[tuple[str, str], str] = field(default_factory=dict)
    _exports: dict[tuple[str, str], str] = field(default_factory=dict)
    _fails: dict[str, bool | None] = field(default_factory=dict)
    _fails_within: dict[tuple[str, frozenset], bool | None] = field(default_factory=dict)
    _caches_within: dict[frozenset, tuple] = field(default_factory=dict)
    _aliases: dict[str, F.Module | None] = field(default_factory=dict)
    _outcomes: dict[tuple[str, int], bool | None] = field(default_factory=dict)
    _opened: dict[str, bool] = field(default_factory=dict)  # index.writers
    _statuses: dict[str, tuple[str, str]] = field(default_factory=dict)  # module_status, until the effects change
    _origins: dict[str, str] = field(default_factory=dict)  # origin by file (or module name): the search path's
    # What framework loaders add (``frameworks.close``): edges (``frameworks.base.Edge``) and start-up calls
    # (``frameworks.base.StartupCall``), followed by the walk like import statements.
    edges: list = field(default_factory=list)
    calls: list = field(default_factory=list)
    _edges_from: dict[str, list[tuple[str, int, str, str, int]]] = field(default_factory=dict)
    entries: list[str] = field(default_factory=list)  # what the closure is walked from (build_closure)
    launch: list = field(default_factory=list)  # what an image's command starts (environment.launcher)
    starts: list = field(default_factory=list)  # objects the entries name (target.entry.Start: `pkg:app()`)
    # Entries a launcher runs while it starts, before the application (gunicorn's configuration file): the
    # hop that begins their chains, naming the launcher's step; they run at start-up.
    launched: dict[str, Hop] = field(default_factory=dict)
    # The target's environment variables when they are known (an image's Env), else None; and what the
    # framework loaders keep between the rounds of ``frameworks.close`` (by loader).
    environ: dict[str, str] | None = None
    frameworks: dict = field(default_factory=dict)
    # Modules where a question was cut short at RESOLVE_DEPTH (rules/dc203_not_analyzed.py reports them).
    too_deep: set[str] = field(default_factory=set)
    _depth: int = 0
    # Functions whose bodies run at start-up (``index.startup``): ``{(module, qualname): Reach}``, and the
    # walk's bookkeeping: the functions waiting for their module's turn, the modules walked, the tables.
    reached: dict[tuple[str, str], startup.Reach] = field(default_factory=dict)
    _waiting: dict[str, list] = field(default_factory=dict)
    _walked: set[str] = field(default_factory=set)
    _fn_tables: dict = field(default_factory=dict)
    _calls_from: dict[str, list] = field(default_factory=dict)
    # pluggy hooks called at start-up (``index.hooks``): ``{hook name: Reach}`` of the call
    _hooks: dict[str, startup.Reach] = field(default_factory=dict)

    # -- modules ------------------------------------------------------------------------------------------
    def find(self, name: str) -> F.Module | None:
        """The module named ``name``: found on the search path, or a module its parent registers under that
        name (``sys.modules["os.path"] = path`` makes ``os.path`` the module ``path`` is bound to)."""
        mod = self.finder.answers.get(name, F.UNSEEN)  # asked a hundred thousand times a run
        if mod is F.UNSEEN:
            mod = self.finder.find(name)
        if mod is not None or "." not in name:
            return mod
        found = self._aliases.get(name, F.UNSEEN)
        if found is not F.UNSEEN:
            return found
        self._aliases[name] = None  # cycle guard
        parent = name.rpartition(".")[0]
        pmod = self.find(parent)
        found = None
        if pmod is not None and pmod.has_source:
            summ = self.summary(parent)
            desc = summ.module_aliases.get(name) if summ is not None else None
            target = self.descriptor_module(parent, pmod.is_package, desc) if desc is not None else None
            found = self.find(target) if target and target != name else None
        self._aliases[name] = found
        return found

    def origin(self, module: F.Module) -> str:
        key = module.path or module.name
        found = self._origins.get(key)
        if found is None:
            found = self._origins[key] = self._origin(module)
        return found

    def _origin(self, module: F.Module) -> str:
        if module.path is None:
            if module.kind in (F.BUILTIN, F.FROZEN):
                return "stdlib"
            return self.search_path.origin(module.locations[0]) if module.locations else "other"
        return self.search_path.origin(module.path)

    def summary(self, name: str) -> Summary | None:
        mod = self.find(name)
        if mod is None or not mod.has_source or mod.path is None:
            return None
        found = self.store.summaries.get(mod.path)
        if found is None:
            self.store.load([mod.path])
            found = self.store.summaries[mod.path]
        return found

    def absolute(self, importer: str, is_package: bool, module: str, level: int) -> str | None:
        """Resolve a relative import (PEP 328) made in module ``importer``; None when it goes beyond the
        top-level package (Python raises ImportError there)."""
        if level == 0:
            return module
        package = importer if is_package else importer.rpartition(".")[0]
        parts = package.split(".") if package else []
        if level - 1 >= len(parts) or not parts:
            return None
        base = ".".join(parts[: len(parts) - (level - 1)])
        return f"{base}.{module}" if module else base

    def module_status(self, name: str) -> tuple[str, str]:
        """Can ``import name`` find it? Returns (FOUND|MISSING|UNKNOWN, the first missing dotted prefix)."""
        found = self._statuses.get(name)
        if found is None:
            found = self._statuses[name] = self._module_status(name)
        return found

    def _module_status(self, name: str) -> tuple[str, str]:
        parts = name.split(".")
        for i in range(1, len(parts) + 1):
            prefix = ".".join(parts[:i])
            if self.find(prefix) is not None or prefix in self.registered or prefix == "__main__":
                continue
            if i == 1:
                return MISSING, prefix
            parent_name = ".".join(parts[: i - 1])
            parent = self.find(parent_name)
            if parent is None:
                return UNKNOWN, prefix  # a registered parent: its children are not ours to judge
            if not parent.has_source and parent.kind != F.NAMESPACE:
                return UNKNOWN, prefix
            summ = self.summary(parent_name)
            if parent.kind != F.NAMESPACE and (summ is None or summ.syntax_error or summ.path_dynamic or summ.dynamic):
                return UNKNOWN, prefix
            if summ is not None and ("." + parts[i - 1] in summ.registered or prefix in summ.registered):
                continue
            return MISSING, prefix
        return FOUND, ""

    # -- names --------------------------------------------------------------------------------------------
    def has_name(self, modname: str, name: str) -> str:
        """Does module ``modname`` have attribute ``name`` once imported? (FOUND, MISSING or UNKNOWN)"""
        key = (modname, name)
        if key in self._names:
            return self._names[key]
        if self._too_deep(modname):
            return UNKNOWN
        self._names[key] = UNKNOWN  # cycle guard: a name reached again through a cycle is not decided by it
        with self._deeper():
            result = self._has_name(modname, name)
        self._names[key] = result
        return result

    @contextmanager
    def _deeper(self):
        # The outermost question raises the recursion limit for the whole descent and puts it back after.
        old = sys.getrecursionlimit() if self._depth == 0 else None
        if old is not None:
            sys.setrecursionlimit(old + FRAMES)
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if old is not None:
                sys.setrecursionlimit(old)

    def _too_deep(self, modname: str) -> bool:
        """Whether a question about ``modname`` would go past RESOLVE_DEPTH (then it is recorded)."""
        if self._depth < RESOLVE_DEPTH:
            return False
        self.too_deep.add(modname)
        return True

    def _has_name(self, modname: str, name: str) -> str:
        if name.startswith("__") and name.endswith("__"):
            return FOUND if name != "__path__" or (self.find(modname) or F.Module("", "", None)).is_package else UNKNOWN
        mod = self.find(modname)
        if mod is None:
            return UNKNOWN
        if (modname, name) in self.stores or f"{modname}.{name}" in self.registered:
            return FOUND
        if mod.is_package and self.find(f"{modname}.{name}") is not None:
            return FOUND
        if mod.kind == F.BUILTIN or (mod.kind == F.EXTENSION and self.origin(mod) == "stdlib"):
            attrs = self.interp.builtin_attrs.get(modname)
            if attrs is None:
                return UNKNOWN
            if name in attrs:
                return FOUND
            return UNKNOWN if self.interp.builtin_attrs_from_table and name.startswith("_") else MISSING
        if mod.kind == F.NAMESPACE:
            return MISSING
        if not mod.has_source:
            return UNKNOWN
        summ = self.summary(modname)
        if summ is None or summ.syntax_error:
            return UNKNOWN
        descs = summ.bindings.get(name)
        if descs:
            # Bound only by imports that fail on the target (`try: import awscrt` with awscrt absent): unbound.
            if VALUE in descs or not all(self._binding_fails(modname, mod.is_package, d) for d in descs):
                return FOUND
            if any(isinstance(d, (tuple, list)) and d[0] == "b" and self.branch_runs(modname, d[1]) is None
                   for d in descs):
                return UNKNOWN
            # Every explicit binding fails, but a star import may still bind it: locale.py's
            # `try: from _locale import * / except ImportError: LC_ALL = 6` binds LC_ALL through the star.
        if "." + name in summ.registered:
            return FOUND
        if summ.has_getattr and summ.getattr_submodules != ONLY_SUBMODULES:
            if summ.getattr_names is None:
                return UNKNOWN
            if name in summ.getattr_names:
                return FOUND
        # else every name the __getattr__ serves is a submodule, found above; any other raises AttributeError
        if summ.dynamic or (mod.is_package and summ.path_dynamic) or writers.opened(self, modname):
            return UNKNOWN
        unknown = False
        for site in summ.imports:
            if site.names != ("*",) or site.context == TYPING:
                continue
            target = self.absolute(modname, mod.is_package, site.module, site.level)
            if target is None:
                unknown = True
                continue
            r = self.exports(target, name)
            if r == FOUND:
                return FOUND
            if r == UNKNOWN:
                unknown = True
        return UNKNOWN if unknown else MISSING

    def _binding_fails(self, importer: str, is_package: bool, desc: object) -> bool:
        if not isinstance(desc, (tuple, list)):
            return False
        if desc[0] == "b":  # a value bound in an except/else branch: there only if that branch runs
            return self.branch_runs(importer, desc[1]) is not True
        if desc[0] == "m":
            return self.module_status(desc[1])[0] == MISSING
        _, module, level, name = desc
        base = self.absolute(importer, is_package, module, level)
        if base is None or self.module_status(base)[0] == MISSING:
            return True
        return self.has_name(base, name) == MISSING

    def exports(self, modname: str, name: str) -> str:
        """Does ``from modname import *`` bind ``name``? (the language reference's import statement: names
        in ``__all__``, else every public name of the namespace)."""
        key = (modname, name)
        if key in self._exports:
            return self._exports[key]
        if self._too_deep(modname):
            return UNKNOWN
        self._exports[key] = UNKNOWN
        with self._deeper():
            result = self._export(modname, name)
        self._exports[key] = result
        return result

    def _export(self, modname: str, name: str) -> str:
        mod = self.find(modname)
        if mod is None:
            return UNKNOWN
        summ = self.summary(modname) if mod.has_source else None
        if summ is not None and summ.all_names is not None and not summ.syntax_error:
            if name in summ.all_names:
                return FOUND
            unknown = summ.all_unknown
            for ref in summ.all_refs:
                target = self.descriptor_module(modname, mod.is_package, ref)
                if target is None:
                    unknown = True
                    continue
                r = self.exports(target, name)
                if r == FOUND:
                    return FOUND
                unknown |= r == UNKNOWN
            if not unknown:
                return MISSING
            return self.has_name(modname, name)
        if name.startswith("_"):
            return MISSING
        return self.has_name(modname, name)

    def descriptor_module(self, importer: str, is_package: bool, desc: object, depth: int = 0) -> str | None:
        """The module a binding descriptor refers to, or None when it is not (known to be) a module."""
        if not isinstance(desc, (tuple, list)):
            return None
        if desc[0] == "m":
            return desc[1] if self.find(desc[1]) is not None else None
        if desc[0] != "f":
            return None  # a value bound in an except/else branch
        _, module, level, name = desc
        base = self.absolute(importer, is_package, module, level)
        return None if base is None else self.member_module(base, name, depth)

    def class_of(self, modname: str, name: str, depth: int = 0) -> tuple[str, str] | None:
        """Where attribute ``name`` of module ``modname`` is a class statement of a module we read (not the
        standard library's), following re-exports (``from .client import Client``): ``(module, class
        name)``, or None (not a class, bound more than once, or unknown)."""
        if depth > 20:
            return None
        mod = self.find(modname)
        if mod is None or not mod.has_source or self.origin(mod) == "stdlib":
            return None
        summ = self.summary(modname)
        if summ is None or summ.syntax_error:
            return None
        descs = summ.bindings.get(name)
        if name in summ.classes:
            return (modname, name) if descs == [VALUE] else None
        if not descs or len(descs) != 1 or not isinstance(descs[0], (tuple, list)) or descs[0][0] != "f":
            return None
        _, src, level, attr = descs[0]
        base = self.absolute(modname, mod.is_package, src, level)
        if base is None or self.member_module(base, attr) is not None:
            return None
        return self.class_of(base, attr, depth + 1)

    def class_has(self, cls: tuple[str, str], name: str, depth: int = 0) -> str:
        """Does the class ``cls`` (``class_of``) have attribute ``name``, from its body or its bases (the
        language reference's "Class definitions"; ``type``'s own attributes count, as ``Cls.mro`` finds
        them)? FOUND, MISSING, or UNKNOWN when anything on the way may bind more than its statements show
        (``idioms.ClassFacts``' opaque, a base that is not a class we read)."""
        if name in _TYPE_ATTRS or (name.startswith("__") and name.endswith("__")):
            return FOUND
        if depth > 50:
            return UNKNOWN
        module, cname = cls
        mod = self.find(module)
        summ = self.summary(module)
        if mod is None or summ is None:
            return UNKNOWN
        _bases, names, opaque = summ.classes[cname]
        if name in names:
            return FOUND
        if opaque:
            return UNKNOWN
        for found in self.class_bases(cls):
            if found is None:
                return UNKNOWN
            r = self.class_has(found, name, depth + 1)
            if r != MISSING:
                return r
        return MISSING

    def class_bases(self, cls: tuple[str, str]) -> list[tuple[str, str] | None]:
        """The bases of class ``cls`` (``class_of``) as classes (``object`` left out), each None when it is
        not a class statement we read."""
        module, cname = cls
        mod = self.find(module)
        summ = self.summary(module)
        if mod is None or summ is None:
            return [None]
        out: list[tuple[str, str] | None] = []
        for base in summ.classes[cname][0]:
            if base[0] == "n":
                out.append(self.class_of(module, base[1]))
                continue
            out.append(self.dotted_class(module, mod.is_package, base[1], base[2]))
        return out

    def dotted_class(self, module: str, is_package: bool, root: str, rest: str) -> tuple[str, str] | None:
        """The class ``root.rest`` names in ``module`` when ``root`` is bound by an import of a module
        (``jinja2.Environment``, ``engineio.client.Client``), or None."""
        summ = self.summary(module)
        desc = summ.bindings.get(root) if summ is not None else None
        target = self.descriptor_module(module, is_package, desc[0]) if desc and len(desc) == 1 else None
        parts = rest.split(".")
        for p in parts[:-1]:
            target = self.member_module(target, p) if target is not None else None
        return self.class_of(target, parts[-1]) if target is not None else None

    def member_module(self, modname: str, name: str, depth: int = 0) -> str | None:
        """If attribute ``name`` of module ``modname`` is itself a module, its name."""
        if depth > 20:
            return None
        mod = self.find(modname)
        if mod is None:
            return None
        sub = f"{modname}.{name}"
        summ = self.summary(modname) if mod.has_source else None
        descs = summ.bindings.get(name) if summ is not None else None
        if descs:
            descs = [d for d in descs if not (isinstance(d, (tuple, list)) and d[0] == "b"
                                             and self.branch_runs(modname, d[1]) is False)]
            if len(descs) != 1 or descs[0] == VALUE:
                return None
            desc = descs[0]
            # `from . import json` inside package `flask` binds the submodule `flask.json`.
            if (isinstance(desc, (tuple, list)) and desc[0] == "f" and desc[3] == name
                    and self.absolute(modname, mod.is_package, desc[1], desc[2]) == modname):
                return sub if self.find(sub) is not None else None
            return self.descriptor_module(modname, mod.is_package, desc, depth + 1)
        return sub if self.find(sub) is not None else None

    # -- try/except ImportError ---------------------------------------------------------------------------
    def branch_runs(self, modname: str, branch: int) -> bool | None:
        """Does code in ``branch`` of module ``modname`` run? 0: yes; -N: the handlers of try N run when its
        body raises ImportError; +N: its ``else`` runs when the body does not. None when undecided."""
        if branch == 0:
            return True
        failed = self.try_fails(modname, abs(branch))
        if failed is None:
            return None
        return failed if branch < 0 else not failed

    def try_fails(self, modname: str, try_id: int) -> bool | None:
        """Does the body of ``try`` number ``try_id`` in ``modname`` raise ImportError on the target?"""
        key = (modname, try_id)
        if key not in self._outcomes:
            if self._too_deep(modname):
                return None
            self._outcomes[key] = None  # cycle guard
            with self._deeper():
                self._outcomes[key] = self._try_fails(modname, try_id)
        return self._outcomes[key]

    def _try_fails(self, modname: str, try_id: int) -> bool | None:
        mod = self.find(modname)
        summ = self.summary(modname)
        if mod is None or summ is None:
            return None
        outcome: bool | None = False
        for site in summ.imports:
            if site.try_id != try_id or site.context != MODULE:
                continue
            if site.conditional or site.branch:
                outcome = None if outcome is False else outcome
                continue
            result = self.site_fails(modname, mod.is_package, site)
            if result is True:
                return True
            if result is None:
                outcome = None
        return outcome

    def site_fails(self, importer: str, is_package: bool, site: ImportSite) -> bool | None:
        """Does this import statement raise ImportError on the target (itself, or inside what it imports)?"""
        base = self.absolute(importer, is_package, site.module, site.level)
        if base is None:
            return True
        status, _ = self.module_status(base)
        if status != FOUND:
            return True if status == MISSING else None
        outcome: bool | None = False
        for target in self.site_targets(importer, is_package, site):
            fails = self.module_fails(target)
            if fails:
                return True
            if fails is None:
                outcome = None
        for n in site.names:
            if n == "*":
                continue
            r = self.has_name(base, n)
            if r == MISSING:
                return True
            if r == UNKNOWN:
                outcome = None
        return outcome

    def module_fails(self, modname: str, depth: int = 0) -> bool | None:
        """Does importing ``modname`` raise ImportError: an unguarded, unconditional module-level import in it
        (or in what it imports, transitively) fails? Cycles and very deep chains answer None."""
        if modname in self._fails:
            return self._fails[modname]
        if self._too_deep(modname):
            return None
        with self._deeper():
            return self._module_fails(modname)

    def module_fails_within(self, modname: str, importer: str) -> bool | None:
        """``module_fails`` for an import statement of module ``importer``: the modules being imported while
        ``importer`` runs (itself, the modules of its chain from the entries, and their packages) are in
        ``sys.modules`` already, so importing them again runs nothing and raises nothing (the import system's
        ``_find_and_load``: a module in ``sys.modules`` is returned as it is, partially initialised). So
        ``from app.m4 import x`` in ``app/__init__.py`` does not fail because importing ``app`` would. A name
        such a module binds only after the importing line is still taken to be there (a circular-import
        failure is not predicted)."""
        fails = self.module_fails(modname)
        if not fails:
            return fails
        # only the modules of the stack that surely fail by themselves change an answer (one that does not
        # fail stays so when fewer failures are assumed; an undecided one is left undecided), so importers
        # with the same such set share one set of caches
        failing = frozenset(m for m in self._import_stack(importer) if self.module_fails(m))
        if not failing:
            return fails  # nothing being imported fails by itself: the answer is the same
        path = self._failure_path(modname)
        if path is not None and failing.isdisjoint(path):
            return fails  # it fails for a reason none of them takes part in
        key = (modname, failing)
        if key not in self._fails_within:
            # what fails and which try bodies fail depend on what is taken to be imported already: those
            # caches are per set; where names are bound does not, and a module that does not fail does not
            # fail when fewer failures are assumed, so those answers are kept
            caches = self._caches_within.get(failing)
            if caches is None:
                caches = ({m: v for m, v in self._fails.items() if v is False} | dict.fromkeys(failing, False), {})
                if len(self._caches_within) < MAX_CACHES_WITHIN:  # each may grow to the program's size
                    self._caches_within[failing] = caches
            saved = self._fails, self._outcomes
            self._fails, self._outcomes = caches
            try:
                self._fails_within[key] = self.module_fails(modname)
            finally:
                self._fails, self._outcomes = saved
        return self._fails_within[key]

    def _failure_path(self, modname: str) -> list[str] | None:
        """The modules through which ``modname`` fails, from it down to the one whose own statement raises
        (a module not found, a name missing, a refusal): at each, the first module-level import that surely
        runs and fails, and the module it imports that fails, if any. None when no such path is certain (a
        cycle, an undecided step): the caller then decides the long way."""
        path: list[str] = []
        current: str | None = modname
        while current is not None:
            if current in path or len(path) > RESOLVE_DEPTH:
                return None
            path.append(current)
            mod = self.find(current)
            summ = self.summary(current) if mod is not None and mod.has_source else None
            if summ is None:
                return path if mod is None and self.module_status(current)[0] == MISSING else None
            following = None
            for site in summ.imports:
                if site.context != MODULE or site.guarded or site.conditional:
                    continue
                if self.branch_runs(current, site.branch) is not True:
                    continue
                following = next((t for t in self.site_targets(current, mod.is_package, site)
                                  if self.module_fails(t)), None)
                if following is not None or self.site_fails(current, mod.is_package, site):
                    break
            else:
                return path if self.module_fails(current) else None  # a refusal raises it, or undecided
            if following is None:
                return path  # the statement itself fails: a module not found or a name missing
            current = following
        return None

    def _import_stack(self, importer: str) -> set[str]:
        """The modules in ``sys.modules`` while ``importer`` runs, as far as the closure tells: ``importer``,
        the modules of its chain, and each one's packages."""
        names = {importer} | {hop.module for hop in self.chain(importer) if hop.module in self.nodes}
        out = set()
        for name in names:
            parts = name.split(".")
            out.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
        return out

    def _module_fails(self, modname: str) -> bool | None:
        mod = self.find(modname)
        if mod is None:
            return True if self.module_status(modname)[0] == MISSING else None
        if not mod.has_source:
            return False if mod.kind != F.BYTECODE else None
        summ = self.summary(modname)
        if summ is None or summ.syntax_error:
            return None
        self._fails[modname] = False  # in progress: a cycle does not decide
        if len(self._fails) > 20000:
            return None
        outcome: bool | None = False
        for site in summ.imports:
            if site.context != MODULE or site.guarded or site.conditional:
                continue
            runs = self.branch_runs(modname, site.branch)
            if runs is False:
                continue
            fails = self.site_fails(modname, mod.is_package, site)
            if fails and runs:
                outcome = True
                break
            if fails is None or (fails and runs is None):
                outcome = None
        if outcome is False:
            for _line, _col, text, branch in summ.refusals:
                runs = self.branch_runs(modname, branch)
                if text.split("(")[0].rpartition(".")[2] in ("ImportError", "ModuleNotFoundError") and runs is not False:
                    outcome = True if runs else None
                    break
        self._fails[modname] = outcome
        return outcome

    # -- closure ------------------------------------------------------------------------------------------
    def build_closure(self, entries: list[str], settings_given: bool = False) -> list[str]:
        """Walk imports from ``entries`` (module names); fill ``nodes``. Returns entries that were not found.

        Edges: imports that run at import time in every module; in project modules also imports inside
        functions; and what the framework loaders add (``edges``, ``calls``; ``frameworks.close``). The walk
        goes in passes by edge strength (unguarded; guarded by ``except ImportError``; anything else) and
        phase, so each module keeps its least protected chain. ``settings_given`` is ignored (kept for
        callers): the Django loader (``frameworks.django``) decides which settings module Django imports.
        """
        self.entries = list(entries)
        self.nodes.clear()  # a new round of ``frameworks.close`` walks again with the loaders' new edges
        self.reached.clear()
        self._waiting.clear()
        self._walked.clear()
        self._hooks.clear()
        self._statuses.clear()
        missing = self._walk_from(entries)
        self._collect_effects()
        self._execution_order(entries)
        return missing

    def _walk_from(self, entries: list[str]) -> list[str]:
        missing: list[str] = []
        queue: deque[str] = deque()
        self._edges_from = self._framework_edges()
        for e in entries:
            mod = self.find(e)
            if mod is None:
                missing.append(e)
                continue
            self._add_parents(e, None, 0, queue)
            if e not in self.nodes:
                self.nodes[e] = Node(mod, self.origin(mod), None, 0, STARTUP if e in self.launched else IMPORT)
                queue.append(e)
        # Passes by the strength of the edge that reaches a module: (shield, phase). Each module keeps its least
        # protected chain, and of those the one that runs earliest.
        deferred: list[tuple[tuple[int, int], str, str, int, str]] = []
        key = (0, 0)
        self._walk(queue, deferred, key)
        while deferred:
            key = min(d[0] for d in deferred)
            now = [d for d in deferred if d[0] == key]
            deferred = [d for d in deferred if d[0] != key]
            for _, parent, target, line, step in now:
                self._add(target, (parent, line), key, queue, step)
            self._walk(queue, deferred, key)
        return missing

    def _framework_edges(self) -> dict[str, list[tuple[str, int, str, str, int]]]:
        """``{importer: [(target, line, step, phase, shield)]}`` from the loaders' edges and start-up calls (a
        call loads the module that defines the function). An edge from a value the environment may change, or
        under a condition that cannot be decided (``Edge.basis``), shields like an undecidable condition."""
        out: dict[str, list[tuple[str, int, str, str, int]]] = {}
        for e in self.edges:
            shield = 0 if getattr(e, "basis", "certain") == "certain" else 2
            out.setdefault(e.importer, []).append((e.target, e.line, e.step, e.phase, shield))
        self._calls_from = {}
        for c in self.calls:
            out.setdefault(c.caller, []).append((c.module, c.line, c.step, c.phase, 0))
            self._calls_from.setdefault(c.caller, []).append(c)
        return out

    def _execution_order(self, entries: list[str]) -> None:
        """Re-derive each module's chain as the interpreter would import it: depth first, in source order,
        a package before its submodules. The breadth-first walk finds the closure; this finds the chain a
        traceback would show."""
        visited: set[str] = set()

        def targets(name: str):
            node = self.nodes[name]
            summ = self.summary(name) if node.module.has_source else None
            for site in summ.imports if summ is not None else ():
                if (site.context != MODULE or site.guarded or site.conditional
                        or self.branch_runs(name, site.branch) is not True):
                    continue  # only unshielded edges: the chain shows why a failure there is a crash
                for t in self.site_targets(name, node.module.is_package, site):
                    yield t, site.line, "", IMPORT
            for target, line, step, when, shield in self._edges_from.get(name, ()):  # after its own imports
                if shield:
                    continue
                parts = target.split(".")
                for i in range(1, len(parts) + 1):
                    yield ".".join(parts[:i]), line, step, when

        for entry in entries:
            if entry not in self.nodes or entry in visited:
                continue
            stack = [(entry, targets(entry))]
            visited.add(entry)
            while stack:
                name, it = stack[-1]
                for target, line, step, when in it:
                    if target in visited or target not in self.nodes:
                        continue
                    visited.add(target)
                    tnode = self.nodes[target]
                    # a module or an edge of a later phase does not explain a module that runs earlier
                    if (tnode.parent is not None and target not in entries
                            and PHASES.index(tnode.phase) >= max(PHASES.index(self.nodes[name].phase),
                                                                 PHASES.index(when))
                            and (not step or tnode.step)):
                        tnode.parent, tnode.step = (name, line), step
                    stack.append((target, targets(target)))
                    break
                else:
                    stack.pop()

    def _walk(self, queue: deque[str], deferred: list[tuple[tuple[int, int], str, str, int, str]],
              key: tuple[int, int]) -> None:
        while queue:
            # Parse the whole frontier at once so the store can use every core.
            frontier = list(queue)
            queue.clear()
            self.store.load([n.module.path for m in frontier if (n := self.nodes[m]).module.has_source and n.module.path])
            self._prefetch(frontier)
            for name in frontier:
                node = self.nodes[name]
                phase = PHASES.index(node.phase)
                summ = self.summary(name) if node.module.has_source else None
                for site in summ.imports if summ is not None else ():
                    if not _followed(site, node):
                        continue
                    runs = self.branch_runs(name, site.branch)
                    if runs is False:
                        continue
                    edge = 2 if site.conditional or site.context == FUNCTION or runs is None else site.guarded
                    strength = (max(edge, node.shield), phase)
                    for target in self.site_targets(name, node.module.is_package, site):
                        self._reach(target, name, site.line, strength, key, queue, deferred, "")
                for read in summ.reads if summ is not None else ():
                    if not _followed(read, node):
                        continue
                    runs = self.branch_runs(name, read.branch)
                    if runs is False:
                        continue
                    for target, certain in self.lazy_targets(name, node.module.is_package, read):
                        edge = 0 if certain and read.context == MODULE and not (
                            read.conditional or read.guarded or runs is None) else 2
                        strength = (max(edge, node.shield), phase)
                        step = f"{target.rpartition('.')[0]}.__getattr__ imports it"
                        self._reach(target, name, read.positions[0][0], strength, key, queue, deferred, step)
                for target, line, step, when, shield in self._edges_from.get(name, ()):
                    strength = (max(node.shield, shield), max(phase, PHASES.index(when)))
                    parts = target.split(".")
                    for i in range(1, len(parts) + 1):  # a package is imported before its submodules
                        self._reach(".".join(parts[:i]), name, line, strength, key, queue, deferred, step)
                self._walked.add(name)
                if node.origin == "project":
                    for hook, reach in list(self._hooks.items()):  # implementations walked after the call
                        if hooks.implements(self, name, hook):
                            self._function((name, hook), reach, key, queue, deferred)
                self._startup_roots(name, node, summ, key, queue, deferred)
                for args in self._waiting.pop(name, ()):
                    self._run_function(*args, key, queue, deferred)

    def _prefetch(self, frontier: list[str]) -> None:
        """Parse at once the modules whose summaries walking ``frontier`` will ask for: the modules its import
        statements and attribute reads name (``find`` reads a package's summary for a name that is not a
        submodule, ``lazy_targets`` the summaries along a read). Asked one at a time they were parsed one
        at a time in this process, and a cold walk of Django's tree did 215 such single parses."""
        wanted: set[str] = set()
        for name in frontier:
            node = self.nodes[name]
            summ = self.store.summaries.get(node.module.path) if node.module.has_source else None
            if summ is None:
                continue
            is_package = node.module.is_package
            # Not the handlers of ``try: ... except ImportError:`` (branch < 0): they rarely run, and their
            # fallbacks (``_py_abc``, ``_pydecimal``) would be parsed for nothing.
            for site in summ.imports:
                if site.branch < 0 or not _followed(site, node):
                    continue
                base = self.absolute(name, is_package, site.module, site.level)
                if base:
                    wanted.add(base)
            for read in summ.reads:
                if read.branch < 0 or not _followed(read, node):
                    continue
                desc = read.target
                if isinstance(desc, (tuple, list)) and desc and desc[0] == "m":
                    base = desc[1]
                elif isinstance(desc, (tuple, list)) and desc and desc[0] == "f":
                    base = self.absolute(name, is_package, desc[1], desc[2])
                    base = f"{base}.{desc[3]}" if base else None
                else:
                    continue
                if base:  # and the submodules a read may reach through it (``a.b.c`` when they exist)
                    wanted.add(base.rpartition(".")[0] or base)
                    for attr in (None, *read.attrs):
                        base = base if attr is None else f"{base}.{attr}"
                        wanted.add(base)
        paths = []
        for m in sorted(wanted):
            mod = self.finder.find(m)
            if mod is not None and mod.has_source and mod.path and mod.path not in self.store.summaries:
                paths.append(mod.path)
        if paths:
            self.store.load(paths)

    # -- start-up functions (index.startup) -------------------------------------------------------------------
    def _startup_roots(self, name: str, node: Node, summ: Summary | None, key: tuple[int, int], queue: deque[str],
                       deferred: list) -> None:
        """The functions module ``name`` makes run: those its project code calls at import, and the start-up
        calls a framework makes because of it."""
        phase = PHASES.index(node.phase)
        if summ is not None and node.origin == "project":
            for _caller, line, shield, target in startup.calls(summ, only_import_time=True):
                fn = startup.callee(self, name, node.module.is_package, target)
                if fn is not None:
                    reach = startup.Reach(node.phase, max(node.shield, shield), name, line,
                                          f"{fn[1]}() called at import")
                    self._function(fn, reach, key, queue, deferred)
                elif (hook := hooks.hook_name(target)) is not None:
                    reach = startup.Reach(node.phase, max(node.shield, shield), name, line,
                                          f"pluggy hook {hook}() called at import")
                    self._hook_call(hook, reach, key, queue, deferred)
        for c in self._calls_from.get(name, ()):
            reach = startup.Reach(PHASES[max(phase, PHASES.index(c.phase))], node.shield, name, c.line, c.step)
            self._function((c.module, c.qualname), reach, key, queue, deferred)

    def _function(self, fn: tuple[str, str], reach: startup.Reach, key: tuple[int, int], queue: deque[str],
                  deferred: list) -> None:
        """Function ``fn`` runs as ``reach`` says: read its body once its module has been walked (again when
        it is reached with less in front of it)."""
        old = self.reached.get(fn)
        if old is not None and (old.shield, PHASES.index(old.phase)) <= (reach.shield, PHASES.index(reach.phase)):
            return
        mod = self.find(fn[0])
        if mod is None or self.origin(mod) == "stdlib" or len(self.reached) > startup.MAX_FUNCTIONS:
            return
        self.reached[fn] = reach
        if fn[0] in self._walked:
            self._run_function(fn, reach, key, queue, deferred)
        else:
            self._waiting.setdefault(fn[0], []).append((fn, reach))

    def _run_function(self, fn: tuple[str, str], reach: startup.Reach, key: tuple[int, int], queue: deque[str],
                      deferred: list) -> None:
        if self.reached.get(fn) != reach:
            return  # reached since with less in front of it
        module, qualname = fn
        table = startup.table(self, module)
        node = self.nodes.get(module)
        if table is None or node is None or qualname not in table.names:
            return
        index = table.names[qualname]
        phase = PHASES.index(reach.phase)
        for site in table.sites.get(index, ()):
            runs = self.branch_runs(module, site.branch)
            if runs is False:
                continue
            edge = 2 if site.conditional or runs is None else site.guarded
            strength = (max(edge, reach.shield), phase)
            for target in self.site_targets(module, node.module.is_package, site):
                self._reach(target, module, site.line, strength, key, queue, deferred, reach.step)
        for _caller, _line, shield, target in table.calls.get(index, ()):
            callee = startup.callee(self, module, node.module.is_package, target)
            if callee is not None and callee != fn:
                self._function(callee, reach._replace(shield=max(reach.shield, shield)), key, queue, deferred)
            elif callee is None and (hook := hooks.hook_name(target)) is not None:
                self._hook_call(hook, reach._replace(shield=max(reach.shield, shield),
                                                     step=f"{reach.step} → pluggy hook {hook}()"),
                                key, queue, deferred)

    def _hook_call(self, hook: str, reach: startup.Reach, key: tuple[int, int], queue: deque[str],
                   deferred: list) -> None:
        """A start-up call of pluggy hook ``hook`` (``index.hooks``): each implementation in a project module
        walked so far runs as ``reach`` says; those of modules walked later are matched as they are."""
        old = self._hooks.get(hook)
        if old is not None and (old.shield, PHASES.index(old.phase)) <= (reach.shield, PHASES.index(reach.phase)):
            return
        if self.find("pluggy") is None:
            return  # no plugin manager can make the call
        self._hooks[hook] = reach
        for name in sorted(self._walked):
            node = self.nodes.get(name)
            if node is not None and node.origin == "project" and hooks.implements(self, name, hook):
                self._function((name, hook), reach, key, queue, deferred)

    def reached_at(self, module: str, line: int) -> startup.Reach | None:
        """How the innermost function holding ``line`` of ``module`` is reached at start-up, or None (not in
        a function, or in one nothing is known to call at start-up)."""
        if not self.reached:
            return None
        table = self._fn_tables.get(module)
        if not table:
            return None
        i = table.innermost(line)
        return self.reached.get((module, table.defs[i][0])) if i >= 0 else None

    def _reach(self, target: str, parent: str, line: int, strength: tuple[int, int], key: tuple[int, int],
               queue: deque[str], deferred: list, step: str) -> None:
        if strength <= key:
            self._add(target, (parent, line), strength, queue, step)
        elif target not in self.nodes:
            deferred.append((strength, parent, target, line, step))

    def _add(self, target: str, parent: tuple[str, int], key: tuple[int, int], queue: deque[str],
             step: str = "") -> None:
        if target in self.nodes:
            return
        mod = self.find(target)
        if mod is None:
            return
        self.nodes[target] = Node(mod, self.origin(mod), parent, key[0], PHASES[key[1]], step)
        queue.append(target)

    def _add_parents(self, name: str, parent: tuple[str, int] | None, shield: int, queue: deque[str]) -> None:
        parts = name.split(".")
        for i in range(1, len(parts)):
            prefix = ".".join(parts[:i])
            mod = self.find(prefix)
            if mod is not None and prefix not in self.nodes:
                self.nodes[prefix] = Node(mod, self.origin(mod), parent, shield)
                queue.append(prefix)

    def lazy_targets(self, importer: str, is_package: bool, read) -> list[tuple[str, bool]]:
        """Submodules an attribute read imports through a package's module ``__getattr__`` that imports the
        submodule of the name asked for (``idioms.lazy_submodules``; PEP 562): ``api.flows.router`` imports
        ``api.flows`` when ``api`` binds no ``flows``. Each with whether that ``__getattr__`` surely serves
        it so (it serves only submodules)."""
        current = self.descriptor_module(importer, is_package, read.target)
        out: list[tuple[str, bool]] = []
        for attr in read.attrs:
            if current is None:
                break
            mod = self.find(current)
            summ = self.summary(current) if mod is not None and mod.has_source else None
            if (summ is not None and summ.has_getattr and summ.getattr_submodules != NO_SUBMODULES
                    and not summ.bindings.get(attr)):
                sub = f"{current}.{attr}"
                if self.find(sub) is None:
                    break
                out.append((sub, summ.getattr_submodules == ONLY_SUBMODULES))
                current = sub
            else:
                current = self.member_module(current, attr)
        return out

    def site_targets(self, importer: str, is_package: bool, site: ImportSite) -> list[str]:
        """Modules an import statement loads: every package on the dotted path, and submodules named in a
        ``from`` import (importlib's ``_handle_fromlist``)."""
        base = self.absolute(importer, is_package, site.module, site.level)
        if not base:
            return []
        parts = base.split(".")
        out = [".".join(parts[:i]) for i in range(1, len(parts) + 1)]
        for n in site.names:
            if n != "*" and self.find(f"{base}.{n}") is not None:
                out.append(f"{base}.{n}")
        return out

    def _collect_effects(self) -> None:
        """Attribute stores on modules and ``sys.modules`` registrations anywhere in the closure."""
        for name, node in self.nodes.items():
            summ = self.summary(name) if node.module.has_source else None
            if summ is None:
                continue
            for reg in summ.registered:
                self.registered.add(name + reg if reg.startswith(".") else reg)
            for desc, attr in summ.stores:
                target = self.descriptor_module(name, node.module.is_package, desc)
                if target is not None:
                    self.stores.add((target, attr))
        self._names.clear()
        self._exports.clear()
        self._fails.clear()
        self._fails_within.clear()
        self._caches_within.clear()
        self._outcomes.clear()
        self._opened.clear()
        self._statuses.clear()

    def chain(self, module: str) -> list[Hop]:
        """Import chain from an entry to ``module``: each hop is the importing module and the line; an entry a
        launcher runs (``launched``) is preceded by the launcher's hop."""
        hops: list[Hop] = []
        seen: set[str] = set()
        cur = module
        while cur in self.nodes and cur not in seen:
            seen.add(cur)
            node = self.nodes[cur]
            if node.parent is None:
                break
            pmod, line = node.parent
            pnode = self.nodes.get(pmod)
            hops.append(Hop(pmod, pnode.module.path if pnode else None, line, node.step))
            cur = pmod
        if cur in self.launched and self.nodes.get(cur) is not None and self.nodes[cur].parent is None:
            hops.append(self.launched[cur])
        hops.reverse()
        return hops


def _followed(item, node: Node) -> bool:
    """Whether the closure walk follows an import statement or attribute read (``item``) of ``node``'s
    module: not one only type checkers see, nor one in a function body outside the project's own code."""
    return item.context != TYPING and (item.context != FUNCTION or node.origin == "project")
