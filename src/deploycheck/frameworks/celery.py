"""Celery: what a worker imports when it boots, beyond the app module's own imports.

The rules followed are Celery's (5.x: "Application", "Configuration and defaults", "Periodic Tasks",
"Signals" in Celery's user guide, and ``celery.app.utils.find_app``, ``celery.loaders.base``):

- ``celery -A pkg`` loads ``pkg`` and takes its ``app`` attribute, else its ``celery`` attribute, else, for a
  package, the module ``pkg.celery`` (then its ``app``/``celery``); ``-A pkg.mod:name`` names the app.
- At boot the worker (and beat) runs ``app.loader.import_default_modules()``: it sends the
  ``import_modules`` signal (whose receivers include ``autodiscover_tasks()``) and imports every module of
  the ``imports`` and ``include`` settings (``Celery(..., include=[...])``, ``app.conf.imports``,
  ``app.conf.update(include=...)``, ``CELERY_IMPORTS`` in a configuration module named by
  ``config_from_object``, with a ``namespace`` prefix such as Django's ``CELERY_``).
- ``app.autodiscover_tasks(packages, related_name="tasks")`` imports each package, then ``PACKAGE.tasks``
  when it exists (``find_related_module``); without packages, Celery's Django fix-up gives the names of
  Django's installed apps (each ``AppConfig.name``); ``lambda: settings.INSTALLED_APPS`` the entries as
  written; with ``force=True`` this happens at once instead of at boot.
- Celery's Django fix-up (``celery.fixups.django``): an app made while ``DJANGO_SETTINGS_MODULE`` is set
  imports Django, and the worker sets Django up at boot. ``config_from_object("django.conf:settings")``
  reads Django's settings: their values, and ``INSTALLED_APPS``, are those Django's loader evaluates
  (``frameworks.django``: split settings, environment defaults), evaluated once per settings module for both
  loaders; an edge is as sure as the value naming its target (``base.CERTAIN``, ``DEFAULT``, ``MAYBE``).
- ``config_from_object("mod")`` / ``("mod:obj")`` imports the configuration when the app is configured.
- Receivers of the boot signals (``import_modules``, ``worker_init``, ``celeryd_init``...) and of the app's
  ``on_after_configure``/``on_after_finalize`` run at boot: start-up calls.
- ``beat_schedule`` entries name tasks by string; a name ``pkg.tasks.func`` is the task ``func`` of module
  ``pkg.tasks`` (a task's default name is its module and function name): an edge that fails when the entry
  fires (phase ``call``), not at boot.

A worker boots the app of ``celery -A`` (the image's command) and, when the entries are given as modules,
the apps defined in an entry module (``--entry proj.celery_app``): an app that a web process merely imports
boots no worker there, so nothing of this applies to it.
"""

from __future__ import annotations

import ast

from deploycheck.frameworks import syntax
from deploycheck.frameworks.base import CALL, CERTAIN, DEFAULT, IMPORT, MAYBE, STARTUP, Edge, StartupCall
from deploycheck.frameworks.literals import UNKNOWN, lookup, top_level, value
from deploycheck.frameworks.values import CERTAIN as V_CERTAIN
from deploycheck.frameworks.values import DEFAULT as V_DEFAULT
from deploycheck.frameworks.values import MAYBE as V_MAYBE
from deploycheck.frameworks.values import Const, Map, Seq, Value
from deploycheck.index.idioms import dotted_name
from deploycheck.index.summary import MODULE, VALUE

SPACE = "celery-2"  # the cache space of ``extract``'s results: change it when they change

CELERY_CLASSES = {"celery.Celery", "celery.app.Celery", "celery.app.base.Celery"}
# Signals sent while a worker or beat boots (Celery's "Signals": worker, beat and import signals).
BOOT_SIGNALS = {"import_modules", "celeryd_init", "celeryd_after_setup", "worker_init", "worker_process_init",
                "worker_ready", "beat_init"}
APP_SIGNALS = {"on_configure", "on_after_configure", "on_after_finalize"}
_METHODS = {"config_from_object", "autodiscover_tasks", "update", "connect"}
_MAX_DEPTH = 6  # re-exports and subclasses followed to find the Celery class
# Setting names as written, to Celery's own names (``celery.app.defaults``: new names, old names).
_OLD_KEYS = {"CELERY_IMPORTS": "imports", "CELERY_INCLUDE": "include", "CELERYBEAT_SCHEDULE": "beat_schedule"}
_KEYS = ("imports", "include", "beat_schedule")
_DJANGO_SETTINGS = {"django.conf:settings", "django.conf.settings"}
NONE = ("c", None)

__all__ = ["extract", "load"]


# -- what one module says (cached by content) ------------------------------------------------------------
def extract(tree: ast.Module) -> dict:
    """The Celery-shaped statements at the top level of a module, as plain data:

    ``values`` (``literals.top_level``), ``classes`` ``{name: {"bases": [dotted], "values": {...}}}``,
    ``assigns`` ``[(name, callee, line, {keyword: value})]`` for ``name = callee(...)``, ``calls``
    ``[(dotted, line, [args], {keyword: value})]`` for ``x.config_from_object(...)``, ``x.conf.update(...)``,
    ``x.autodiscover_tasks(...)``, ``signal.connect(f)``, ``stores`` ``[(base, key, op, value, line)]`` for
    ``x.conf.key = v`` / ``x.conf["key"] += v``, ``receivers`` ``[(signal, function, line)]`` for functions
    decorated ``@signal.connect``, and ``names``: explicit task names (``@app.task(name="...")``)."""
    values = top_level(tree.body)
    out: dict = {"values": _kept(values), "classes": {}, "assigns": [], "calls": [], "stores": [],
                 "receivers": [], "names": []}
    for stmt in tree.body:
        if isinstance(stmt, ast.ClassDef):
            out["classes"][stmt.name] = {"bases": [dotted_name(b) for b in stmt.bases if dotted_name(b)],
                                         "values": _kept(top_level(stmt.body)), "line": stmt.lineno}
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            _decorators(stmt, out)
        call = stmt.value if isinstance(stmt, (ast.Expr, ast.Assign)) else None
        if isinstance(call, ast.Call):
            callee = dotted_name(call.func)
            kw = {k.arg: value(k.value, values) for k in call.keywords if k.arg}
            targets = stmt.targets if isinstance(stmt, ast.Assign) else []
            if callee and len(targets) == 1 and isinstance(targets[0], ast.Name):
                wanted = {k: v for k, v in kw.items() if k in ("include", "namespace", "config_source")}
                out["assigns"].append((targets[0].id, callee, stmt.lineno, wanted))
            if callee and callee.rpartition(".")[2] in _METHODS and "." in callee:
                out["calls"].append((callee, call.lineno, [value(a, values) for a in call.args], kw))
        if isinstance(stmt, (ast.Assign, ast.AugAssign)):
            op = "=" if isinstance(stmt, ast.Assign) else ("+=" if isinstance(stmt.op, ast.Add) else "?")
            for target in stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]:
                _store(target, op, stmt.value, values, stmt.lineno, out)
    return out


def _kept(values: dict[str, tuple]) -> dict[str, tuple]:
    """The values a loader may ask for: settings of Celery (``imports``, ``CELERY_INCLUDE``,
    ``CELERY_BEAT_SCHEDULE``...), Django's ``INSTALLED_APPS`` and an ``AppConfig``'s ``name``."""
    return {k: v for k, v in values.items() if k == "name" or _wanted(k)}


def _wanted(name: str) -> bool:
    return name == "INSTALLED_APPS" or name.upper().endswith(("IMPORTS", "INCLUDE", "BEAT_SCHEDULE"))


def _decorators(fn: ast.FunctionDef | ast.AsyncFunctionDef, out: dict) -> None:
    for d in fn.decorator_list:
        func = d.func if isinstance(d, ast.Call) else d
        dn = dotted_name(func)
        if dn is None:
            continue
        if dn.endswith(".connect"):
            out["receivers"].append((dn[: -len(".connect")], fn.name, fn.lineno))
        elif (dn.endswith(".task") or dn.rpartition(".")[2] in ("shared_task", "periodic_task")) \
                and isinstance(d, ast.Call):
            for k in d.keywords:
                if k.arg == "name" and isinstance(k.value, ast.Constant) and isinstance(k.value.value, str):
                    out["names"].append(k.value.value)


def _store(target: ast.expr, op: str, node: ast.expr, values: dict, line: int, out: dict) -> None:
    if isinstance(target, ast.Attribute):
        base, key = dotted_name(target.value), target.attr
    elif isinstance(target, ast.Subscript) and isinstance(target.slice, ast.Constant) \
            and isinstance(target.slice.value, str):
        base, key = dotted_name(target.value), target.slice.value
    else:
        return
    if base and base.endswith(".conf"):
        out["stores"].append((base, key, op, value(node, values), line))


# -- the program's view -------------------------------------------------------------------------------------
class _Names:
    """Resolution of dotted names written in a module to what they name (``celery.app.base.Celery``)."""

    def __init__(self, program) -> None:
        self.program = program

    def facts(self, modules: list[str]) -> dict[str, dict]:
        return syntax.read(self.program, modules, extract, SPACE)

    def qualify(self, module: str, dotted: str) -> str | None:
        """The full dotted name ``dotted`` refers to in ``module``: through its import bindings
        (``from celery import Celery`` makes ``Celery`` ``celery.Celery``) or bound there (``module.X``)."""
        program = self.program
        head, _, rest = dotted.partition(".")
        summ = program.summary(module)
        mod = program.find(module)
        if summ is None or mod is None:
            return None
        descs = summ.bindings.get(head)
        if not descs:
            return None
        if VALUE in descs:
            return f"{module}.{dotted}" if len(descs) == 1 else None
        imports = [d for d in descs if isinstance(d, (tuple, list)) and d[0] in ("m", "f")]
        if len(imports) != 1:
            return None
        d = imports[0]
        if d[0] == "m":
            base = d[1]
        else:
            parent = program.absolute(module, mod.is_package, d[1], d[2])
            if parent is None:
                return None
            base = f"{parent}.{d[3]}"
        return f"{base}.{rest}" if rest else base

    def split(self, qualified: str) -> tuple[str | None, str]:
        """``(module, attribute path)``: the longest prefix of ``qualified`` that is a module."""
        parts = qualified.split(".")
        for i in range(len(parts), 0, -1):
            name = ".".join(parts[:i])
            if self.program.find(name) is not None:
                return name, ".".join(parts[i:])
        return None, qualified

    def canonical(self, qualified: str) -> str:
        """Follow re-exports: ``proj.base.MyCelery`` bound by ``from .core import MyCelery`` is
        ``proj.core.MyCelery``."""
        for _ in range(_MAX_DEPTH):
            if qualified in CELERY_CLASSES:
                return qualified
            module, attr = self.split(qualified)
            if module is None or not attr:
                return qualified
            nxt = self.qualify(module, attr)
            if nxt is None or nxt == qualified or nxt == f"{module}.{attr}":
                return qualified
            qualified = nxt
        return qualified

    def is_celery(self, qualified: str | None, depth: int = 0) -> bool:
        """Whether ``qualified`` names Celery's app class or a subclass (``class IndicoCelery(Celery)``)."""
        if qualified is None or depth > _MAX_DEPTH:
            return False
        qualified = self.canonical(qualified)
        if qualified in CELERY_CLASSES:
            return True
        module, attr = self.split(qualified)
        if module is None or not attr or "." in attr:
            return False
        cls = self.facts([module]).get(module, {}).get("classes", {}).get(attr)
        return cls is not None and any(self.is_celery(self.qualify(module, base), depth + 1)
                                       for base in cls["bases"])


def _imports_celery(program, name: str) -> bool:
    summ = program.summary(name)
    return summ is not None and any(site.level == 0 and site.module.split(".")[0] == "celery"
                                    for site in summ.imports)


def _candidates(program) -> list[str]:
    """Closure modules that may define a Celery app or connect to its signals: those importing ``celery``
    (Celery's own package aside)."""
    out = []
    for name, node in program.nodes.items():
        if node.origin == "stdlib" or not node.module.has_source or name.split(".")[0] == "celery":
            continue
        if _imports_celery(program, name):
            out.append(name)
    return sorted(out)


def _subclass_users(program, names: _Names, facts: dict[str, dict]) -> list[str]:
    """Closure modules binding, by import, a Celery subclass defined in one of ``facts``' modules."""
    defined = {f"{m}.{c}" for m, f in facts.items() for c in f["classes"] if names.is_celery(f"{m}.{c}")}
    if not defined:
        return []
    classes = {d.rpartition(".")[2] for d in defined}
    out = []
    for name, node in program.nodes.items():
        if name in facts or node.origin == "stdlib" or not node.module.has_source:
            continue
        summ = program.summary(name)
        for bound, descs in (summ.bindings.items() if summ is not None else ()):
            if any(isinstance(d, (tuple, list)) and d[0] == "f" and d[3] in classes for d in descs) \
                    and names.canonical(names.qualify(name, bound) or "") in defined:
                out.append(name)
                break
    return sorted(out)


class _App:
    """One Celery app of a booted module: its variable, where it is made, and its settings as written."""

    def __init__(self, module: str, var: str, line: int, kw: dict) -> None:
        self.module, self.var, self.line, self.kw = module, var, line, kw
        self.namespace: str | None = None
        # key -> [(line, op, value, importer)] written to the app's own configuration (Celery's "changes")
        self.changes: dict[str, list] = {}
        self.sources: list[tuple[str, dict]] = []  # (the configuration's module, its top-level values)


# -- the loader ----------------------------------------------------------------------------------------------
def load(program):
    """The edges and start-up calls of Celery workers booted in ``program``'s closure (``Loaded``)."""
    from deploycheck.frameworks import Loaded

    found = Loaded()
    if "celery" not in program.nodes:
        return found  # no Celery app can exist without it: costs nothing on other services
    names = _Names(program)
    facts = names.facts(_candidates(program))
    users = _subclass_users(program, names, facts)
    if users:
        facts.update(names.facts(users))
    booted = _booted(program, names, facts, found)
    if not booted:
        return found
    explicit = {n for f in facts.values() for n in f["names"]}
    for module in sorted(booted):
        for app in _apps(program, names, module, facts.get(module)):
            _configure(program, names, app, facts[module], found)
            _boot(program, names, app, facts[module], found, explicit)
    _receivers(program, names, facts, found)
    return found


def _apps(program, names: _Names, module: str, facts: dict | None) -> list[_App]:
    if not facts:
        return []
    return [_App(module, var, line, kw) for var, callee, line, kw in facts["assigns"]
            if names.is_celery(names.qualify(module, callee))]


def _booted(program, names: _Names, facts: dict[str, dict], found) -> set[str]:
    """Modules whose Celery apps a worker boots: the app modules among the entries, and what each ``celery
    -A`` of the image's command resolves to (``find_app``)."""
    booted = {e for e in getattr(program, "entries", ()) if e in facts}
    for launch in getattr(program, "launch", ()):
        if launch.launcher != "celery" or not launch.module or launch.module not in program.nodes:
            continue
        module = _resolve_app(program, names, launch.module, launch.attribute, found)
        if module is not None:
            booted.add(module)
            facts.update(names.facts([module]) if module not in facts else {})
    return {m for m in booted if m in facts}


def _resolve_app(program, names: _Names, module: str, attribute: str | None, found) -> str | None:
    """The module defining the app that ``celery -A module[:attribute]`` loads (Celery's ``find_app``): the
    named attribute, else ``app``, else ``celery``, else the package's ``celery`` submodule."""
    for attr in [attribute] if attribute else ["app", "celery"]:
        defined = _defining_module(program, names, module, attr)
        if defined is not None:
            return defined
    sub = f"{module}.celery"
    mod = program.find(module)
    if attribute is None and mod is not None and mod.is_package and program.find(sub) is not None:
        found.add(_loaded(edges=[Edge(module, sub, 0, f"celery -A {module}: {sub}", STARTUP)]))
        for attr in ("app", "celery"):
            defined = _defining_module(program, names, sub, attr)
            if defined is not None:
                return defined
        return sub
    return module


def _defining_module(program, names: _Names, module: str, attr: str) -> str | None:
    """Where the object bound to ``module.attr`` is made (following ``from .celery import app``); None when
    it is not bound there or is a module."""
    for _ in range(_MAX_DEPTH):
        summ = program.summary(module)
        descs = summ.bindings.get(attr) if summ is not None else None
        if not descs:
            return None
        if VALUE in descs:
            return module
        q = names.qualify(module, attr)
        if q is None or program.find(q) is not None:
            return None  # ambiguous, or a module
        nxt, rest = names.split(q)
        if nxt is None or not rest or "." in rest:
            return None
        module, attr = nxt, rest
    return None


def _worse(a: str, b: str) -> str:
    return a if _RANK[a] >= _RANK[b] else b


_RANK = {CERTAIN: 0, DEFAULT: 1, MAYBE: 2}


def _loaded(edges=(), calls=()):
    from deploycheck.frameworks import Loaded

    return Loaded(list(edges), list(calls))


def _configure(program, names: _Names, app: _App, facts: dict, found) -> None:
    """Read the app's configuration as written: the constructor, ``app.conf`` writes and updates, and the
    configuration object of ``config_from_object``."""
    module, var = app.module, app.var
    for _settings, basis in _django_settings(program, module):
        # Celery's Django fix-up (``celery.fixups.django.fixup``): the app made while DJANGO_SETTINGS_MODULE is
        # set imports Django (a warning when it is missing), which the worker then sets up at boot
        step = "celery Django fix-up: import django"
        found.add(_loaded(edges=[Edge(module, "django", app.line, step, IMPORT, optional=True, basis=basis)]))
    if "namespace" in app.kw and app.kw["namespace"][0] == "s":
        app.namespace = app.kw["namespace"][1]
    if "include" in app.kw:
        app.changes.setdefault("include", []).append((app.line, "=", app.kw["include"], module))
    if "config_source" in app.kw:
        _config_source(program, names, app, app.kw["config_source"], False, app.line, found)
    for base, key, op, v, line in facts["stores"]:
        if base == f"{var}.conf":
            _change(app, key, op, v, line)
    for dotted, line, args, kw in facts["calls"]:
        if dotted == f"{var}.conf.update":
            for arg in args:
                for key, v in arg[1] if arg[0] == "map" else ():
                    _change(app, key, "=", v, line)
            for key, v in kw.items():
                _change(app, key, "=", v, line)
        elif dotted == f"{var}.config_from_object" and args:
            if "namespace" in kw and kw["namespace"][0] == "s":
                app.namespace = kw["namespace"][1]
            _config_source(program, names, app, args[0], kw.get("silent") == ("c", True), line, found,
                           force=kw.get("force") == ("c", True))


def _change(app: _App, key: str, op: str, v: tuple, line: int) -> None:
    key = _setting(key, app.namespace)
    if key is not None:
        app.changes.setdefault(key, []).append((line, op, v, app.module))


def _setting(key: str, namespace: str | None) -> str | None:
    """Celery's own name (``imports``) of a setting written ``key`` (``CELERY_IMPORTS``, ``imports``)."""
    if key in _KEYS:
        return key
    if key in _OLD_KEYS:
        return _OLD_KEYS[key]
    if namespace and key.startswith(namespace.rstrip("_") + "_"):
        rest = key[len(namespace.rstrip("_")) + 1:].lower()
        return rest if rest in _KEYS else None
    return None


def _config_source(program, names: _Names, app: _App, src: tuple, silent: bool, line: int, found,
                   force: bool = False) -> None:
    """``config_from_object(src)``: Celery imports a named module when the app is configured (at boot; at once
    with ``force=True``); the settings are read from the module's or the class's top-level values."""
    module = app.module
    phase = IMPORT if force else STARTUP
    if src[0] == "s":
        text, at = src[1], src[2]
        if text in _DJANGO_SETTINGS:
            # Celery reads the settings through ``django.conf.settings`` (``symbol_by_name``) when the app is
            # configured: Django's settings module, as Django's own loader evaluates it
            step = "celery config_from_object: django.conf:settings"
            found.add(_loaded(edges=[Edge(module, "django.conf", at, step, phase, "settings")]))
            for settings, basis in _django_settings(program, module):
                step = "celery config_from_object: django.conf:settings (DJANGO_SETTINGS_MODULE)"
                found.add(_loaded(edges=[Edge(module, settings, at, step, phase, basis=basis)]))
                app.sources.append((settings, _settings_values(program, settings, basis)))
            return
        target, attr = _object_path(program, text)
        # the step names the module only, as the chain shows it: no other text of a configuration file
        found.add(_loaded(edges=[Edge(module, target, at, f"celery config_from_object: {target}", phase, attr,
                                      optional=silent)]))
        values = _object_values(names, target, attr)
        if values is not None:
            app.sources.append((target, values))
    elif src[0] == "ref":
        q = names.qualify(module, src[1])
        if q is None:
            return
        if q in _DJANGO_SETTINGS:  # ``from django.conf import settings``: the object itself
            _config_source(program, names, app, ("s", q, src[2]), silent, line, found, force)
            return
        target, attr = (q, None) if program.find(q) is not None else names.split(q)
        values = _object_values(names, target, attr) if target is not None else None
        if values is not None:  # the module holding the values names what they load
            app.sources.append((target, values))


def _object_path(program, text: str) -> tuple[str, str | None]:
    """The module and attribute a configuration path names (Celery's ``_smart_import``: ``mod:attr``, else
    the module ``a.b`` when it exists, else attribute ``b`` of module ``a``)."""
    if ":" in text:
        mod, _, attr = text.partition(":")
        return mod, attr or None
    if program.find(text) is not None or "." not in text:
        return text, None
    mod, _, attr = text.rpartition(".")
    return mod, attr


def _object_values(names: _Names, module: str, attr: str | None) -> dict | None:
    f = names.facts([module]).get(module)
    if f is None:
        return None
    if attr is None:
        return f["values"]
    cls = f["classes"].get(attr)
    return cls["values"] if cls is not None else None


def _django_settings(program, module: str) -> list[tuple[str, str]]:
    """The Django settings module a process that imports ``module`` uses, and how sure that is
    (``base.CERTAIN``...): the environment's ``DJANGO_SETTINGS_MODULE`` when known, else the one ``module``
    itself names (``os.environ.setdefault("DJANGO_SETTINGS_MODULE", ...)`` before it makes the app), else what
    Django's loader takes from the closure (``django.settings_modules``). [] when none is named: Celery then
    installs no Django fix-up."""
    from deploycheck.frameworks import django

    given = (program.environ or {}).get(django.SETTINGS_VARIABLE)
    if given is not None:
        return [(given, CERTAIN)] if given and program.find(given) is not None else []
    summ = program.summary(module)
    own = {site.module for site in (summ.settings if summ is not None else ())
           if not site.conditional and not site.guarded and site.context == MODULE}
    if len(own) == 1:
        (settings,) = own
        return [(settings, CERTAIN)] if program.find(settings) is not None else []
    return [(name, basis) for name, _sites, basis in django.settings_modules(program)
            if program.find(name) is not None]


def _settings_values(program, settings: str, basis: str) -> dict:
    """The values Celery reads from Django's settings module ``settings`` (``CELERY_IMPORTS``,
    ``CELERY_BEAT_SCHEDULE``... and ``INSTALLED_APPS``), as Django's loader evaluates them
    (``frameworks.settings``: star imports between settings modules, environment defaults), converted to
    literal values whose strings carry where they are written and how sure they are (``_literal``). Empty
    until Django is in the closure (Celery's reading of the settings imports it): the next round has them."""
    from deploycheck.frameworks import django

    out: dict = {}
    for evaluated, _ in django.settings(program):
        if evaluated.module != settings or evaluated.scope is None:
            continue
        for name in evaluated.scope.vars:
            if name.isupper() and _wanted(name):
                out[name] = _literal(evaluated.value(name), _VALUE_BASIS[basis])
    return out


# How sure a value is (``values``' status and presence) and how sure an edge is (``base``).
_VALUE_BASIS = {CERTAIN: V_CERTAIN, DEFAULT: V_DEFAULT, MAYBE: V_MAYBE}
_EDGE_BASIS = {v: k for k, v in _VALUE_BASIS.items()}
_MAX_NESTING = 20  # a beat schedule is a dict of dicts: a deeper value is not one Celery reads names from


def _literal(v: Value, how: int, depth: int = 0) -> tuple:
    """An evaluated value (``frameworks.values``) as a literal value (``frameworks.literals``); a string is
    ``("s", text, line, module, how)``, its module and line where it is written and ``how`` the worse of its
    status, its presence and ``how`` given (a setting of a settings module that is only possibly used)."""
    if depth > _MAX_NESTING:
        return UNKNOWN
    if isinstance(v, Const):
        if isinstance(v.value, str):
            module, line = v.where if v.where is not None else (None, 0)
            return ("s", v.value, line, module, max(how, v.status))
        plain = v.value is None or isinstance(v.value, (bool, int, float))
        return ("c", v.value) if plain else UNKNOWN
    if isinstance(v, Seq):
        return ("seq", [_literal(item, max(how, p), depth + 1) for item, p in v.items])
    if isinstance(v, Map):
        return ("map", [(k, _literal(item, max(how, p), depth + 1)) for k, (item, p) in v.entries.items()
                        if isinstance(k, str)])
    return UNKNOWN


def _texts(v: tuple, importer: str) -> list[tuple[str, str, int, str]]:
    """``(text, module, line, basis)`` of each string a literal value holds (``literals.strings``): written in
    ``importer`` unless the value says where (``_literal``)."""
    items = [v] if v[0] == "s" else [i for i in v[1] if i[0] == "s"] if v[0] == "seq" else []
    out = []
    for item in items:
        module = item[3] if len(item) > 3 and item[3] else importer
        how = item[4] if len(item) > 4 else V_CERTAIN
        out.append((item[1], module, item[2], _EDGE_BASIS[how]))
    return out


def _setting_value(app: _App, key: str) -> list[tuple[tuple, str]]:
    """What the app's setting ``key`` holds: ``[(value, importer)]`` (the module that writes each). The app's
    own changes win over its configuration object (Celery's ``Settings``: changes, then the source);
    ``+=`` adds to what was there."""
    current: list[tuple[tuple, str]] = []
    for importer, values in app.sources:
        for written in _written_names(key, app.namespace):
            if written in values:
                current = [(values[written], importer)]
                break
    for _line, op, v, importer in sorted(app.changes.get(key, []), key=lambda c: c[0]):
        if op == "=":
            current = [(v, importer)]
        elif op == "+=":
            current = current + [(v, importer)]
        else:
            current = []
    return current


def _written_names(key: str, namespace: str | None) -> list[str]:
    out = []
    if namespace:
        out.append(f"{namespace.rstrip('_')}_{key.upper()}")
    out.append(key)
    out.extend(old for old, new in _OLD_KEYS.items() if new == key)
    return out


def _boot(program, names: _Names, app: _App, facts: dict, found, explicit: set[str]) -> None:
    """What ``import_default_modules()`` imports for ``app``: ``imports`` and ``include``, the packages of
    ``autodiscover_tasks()``, and what ``beat_schedule`` names."""
    edges: list[Edge] = []
    for key in ("imports", "include"):
        for v, importer in _setting_value(app, key):
            for text, where, line, basis in _texts(v, importer):
                edges.append(Edge(where, text, line, f"celery worker boot: {key}", STARTUP, basis=basis))
    for dotted, line, args, kw in facts["calls"]:
        if dotted == f"{app.var}.autodiscover_tasks":
            edges.extend(_autodiscover(program, names, app, line, args, kw))
    for v, importer in _setting_value(app, "beat_schedule"):
        edges.extend(_beat(program, v, importer, explicit))
    found.add(_loaded(edges=edges))
    for signal, fn, line in facts["receivers"]:
        if signal.startswith(f"{app.var}.") and signal.partition(".")[2] in APP_SIGNALS:
            found.add(_loaded(calls=[StartupCall(app.module, fn, app.module, line,
                                                 f"celery app {signal.partition('.')[2]} signal", STARTUP)]))


def _autodiscover(program, names: _Names, app: _App, line: int, args: list, kw: dict) -> list[Edge]:
    """``app.autodiscover_tasks(packages=None, related_name="tasks", force=False)`` (``celery.loaders.base.
    find_related_module``): each package, then ``PACKAGE.related_name`` when it exists."""
    packages = args[0] if args else kw.get("packages", NONE)
    related = args[1] if len(args) > 1 else kw.get("related_name", ("s", "tasks", line))
    if related[0] != "s" and related != NONE:
        return []  # a related name computed at run time
    related_name = related[1] if related[0] == "s" else None
    phase = IMPORT if kw.get("force") == ("c", True) else STARTUP
    if packages[0] == "lambda":  # evaluated by Celery when it discovers
        packages = packages[1]
    named: list[tuple[str, bool, str]] = []  # (package, whether it must exist, how sure)
    if packages[0] == "seq":
        named = [(text, True, basis) for text, _, _, basis in _texts(packages, app.module)]
    elif packages == NONE or (packages[0] == "ref" and packages[1].endswith("INSTALLED_APPS")):
        named = _app_names(program, app.module, raw=packages != NONE)
    edges = []
    for package, required, basis in named:
        if program.find(package) is None and "." in package:
            package = package.rpartition(".")[0]  # Celery walks up one level (an AppConfig class path)
        edges.append(Edge(app.module, package, line, f"autodiscover_tasks(): {package}", phase,
                          optional=not required, basis=basis))
        if related_name:
            sub = f"{package}.{related_name}"
            if program.find(sub) is not None:
                step = f"autodiscover_tasks(): {sub}"
                edges.append(Edge(app.module, sub, line, step, phase, optional=True, basis=basis))
    return edges


def _app_names(program, module: str, raw: bool) -> list[tuple[str, bool, str]]:
    """The packages ``autodiscover_tasks`` gets from Django's installed apps, as ``_autodiscover`` takes
    them: as written in ``INSTALLED_APPS`` (``raw``: ``lambda: settings.INSTALLED_APPS``), or each app
    configuration's ``name`` (Celery's Django fix-up: ``apps.get_app_configs()``), as Django's loader finds
    them. An installed app that does not exist is Django's loader's finding: here they only lead to tasks."""
    from deploycheck.frameworks import django

    out = []
    for settings, basis in _django_settings(program, module):
        if raw:
            apps = _settings_values(program, settings, basis).get("INSTALLED_APPS", UNKNOWN)
            out += [(text, False, how) for text, _, _, how in _texts(apps, settings)]
        else:
            out += [(name, False, _worse(basis, how)) for name, how in django.installed_apps(program, settings)]
    return out


def _beat(program, schedule: tuple, importer: str, explicit: set[str]) -> list[Edge]:
    """Edges to the task functions ``beat_schedule`` names (``{"name": {"task": "pkg.tasks.func", ...}}``):
    the module of a default task name and the function it reads, when the entry fires."""
    out = []
    for _name, entry in schedule[1] if schedule[0] == "map" else ():
        task = lookup(entry, "task")
        for text, where, line, basis in _texts(task, importer) if task is not None else ():
            if text in explicit or text.startswith("celery."):
                continue
            module, _, func = text.rpartition(".")
            mod = program.find(module) if module and all(p.isidentifier() for p in text.split(".")) else None
            if mod is None or program.origin(mod) != "project":
                continue
            step = f"celery beat schedule: a task of {module}"
            out.append(Edge(where, module, line, step, CALL, func, basis=basis))
    return out


def _receivers(program, names: _Names, facts: dict[str, dict], found) -> None:
    """Functions connected to the signals a worker or beat sends while it boots: start-up calls."""
    calls = []
    for module, f in facts.items():
        connected = list(f["receivers"])
        for dotted, line, args, _kw in f["calls"]:
            if dotted.endswith(".connect") and args and args[0][0] == "ref" and "." not in args[0][1]:
                connected.append((dotted[: -len(".connect")], args[0][1], line))
        for signal, fn, line in connected:
            q = names.qualify(module, signal)
            if q is not None and q.startswith("celery.signals.") and q.rpartition(".")[2] in BOOT_SIGNALS:
                step = f"celery worker boot: {q.rpartition('.')[2]} signal"
                calls.append(StartupCall(module, fn, module, line, step, STARTUP))
    found.add(_loaded(calls=calls))
