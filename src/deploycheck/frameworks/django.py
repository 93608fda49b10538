"""Django: what ``django.setup()`` and the first request import, read from the settings (nothing is run).

The settings module is the one ``DJANGO_SETTINGS_MODULE`` names: the target's environment when it is known
(an image's ``Env``), else the one module that project code in the closure names
(``os.environ.setdefault("DJANGO_SETTINGS_MODULE", ...)`` in ``manage.py``, ``wsgi.py``, ``asgi.py``). Its
values come from the static evaluator (``frameworks.settings``), over ``django.conf.global_settings``.

What is loaded, and when (the Django docs: "Applications" - How applications are loaded; "Settings";
"Middleware"; "URL dispatcher" - How Django processes a request, ``include()``; "Templates" - ``OPTIONS``,
"How to create custom template tags" - code layout; "Logging" - ``LOGGING_CONFIG``; "Customizing
authentication"; "Databases"; "Cache"; "Sessions"; "File storage API" - ``STORAGES``; "Sending email";
"How to write custom django-admin commands"; Django REST framework "Settings"):

- at start-up (``django.setup()``, and the WSGI/ASGI handler the server builds): each ``INSTALLED_APPS``
  entry (an app module or a dotted ``AppConfig`` path; the app's ``apps`` submodule, whose single
  ``AppConfig`` subclass, or the one with ``default = True``, is its configuration), each app's ``models``
  submodule if it exists, ``AppConfig.ready()`` (a ``StartupCall``), each app's ``admin`` submodule when
  ``django.contrib.admin`` is installed (``autodiscover``), ``LOGGING_CONFIG`` and the classes of
  ``LOGGING``'s handlers, filters and formatters, ``DEFAULT_AUTO_FIELD``, ``MIDDLEWARE``;
- at the first request: ``ROOT_URLCONF`` and every ``include("dotted.path")`` it reaches (an ``include``
  with a string imports the module when the call runs, so it is an edge of whatever module calls it),
  ``TEMPLATES`` backends, context processors, ``libraries``, ``builtins`` and loaders, the template tag
  modules of the installed apps (``APP.templatetags.*``, for the Django template engine),
  ``AUTHENTICATION_BACKENDS``, ``PASSWORD_HASHERS``, ``DATABASES`` engines (``ENGINE.base``),
  ``DATABASE_ROUTERS``, ``CACHES`` backends, ``SESSION_ENGINE``/``SESSION_SERIALIZER``, ``STORAGES`` (or
  ``DEFAULT_FILE_STORAGE``/``STATICFILES_STORAGE`` before Django 5.1), ``MESSAGE_STORAGE``,
  ``FORM_RENDERER``, and Django REST framework's ``REST_FRAMEWORK`` classes;
- when called: ``EMAIL_BACKEND`` (sending mail), ``WSGI_APPLICATION``/``ASGI_APPLICATION`` (``runserver``),
  ``FILE_UPLOAD_HANDLERS``, and the management commands of the installed apps and Django's own
  (``APP.management.commands.*``) when an entry runs Django's command line (``manage.py``, ``django-admin``);
- at start-up instead, when the image's command says which (``python manage.py migrate``,
  ``django-admin process_tasks``): that command's module, from the app ``get_commands`` picks (the first
  installed app providing it, else Django); one that nothing provides is DC505 (Django's "Unknown command").

A dotted path ``pkg.mod.Name`` is imported as ``pkg.mod`` and ``Name`` read from it (``import_string``): an
edge to the module with that attribute. How sure each edge is comes from its value (``base.CERTAIN``,
``DEFAULT`` when it is an environment variable's default, ``MAYBE`` under an undecidable condition).
"""

from __future__ import annotations

import posixpath

from deploycheck.frameworks import Loaded
from deploycheck.frameworks.base import (
    CALL,
    CERTAIN,
    DEFAULT,
    IMPORT,
    MAYBE,
    REQUEST,
    STARTUP,
    Edge,
    StartupCall,
)
from deploycheck.frameworks.settings import Interpreter, Settings, evaluate, evaluate_settings
from deploycheck.frameworks.values import DEFAULT as V_DEFAULT
from deploycheck.frameworks.values import MAYBE as V_MAYBE
from deploycheck.frameworks.values import (
    UNKNOWN,
    Class,
    Const,
    External,
    Function,
    Map,
    Seq,
    Value,
    entries,
    strings,
)
from deploycheck.index.program import FOUND, MISSING
from deploycheck.index.summary import FUNCTION, MODULE

SETTINGS_VARIABLE = "DJANGO_SETTINGS_MODULE"
# What Django's command line answers itself, loading no command module (``ManagementUtility.execute``).
_ANSWERED = {"help", "version", "--help", "-h", "--version"}
INCLUDE = frozenset({"django.urls.include", "django.urls.conf.include", "django.conf.urls.include"})
_APP_CONFIG = {"django.apps.AppConfig", "django.apps.config.AppConfig"}
_BASIS = {0: CERTAIN, V_DEFAULT: DEFAULT, V_MAYBE: MAYBE}
_RANK = {CERTAIN: 0, DEFAULT: 1, MAYBE: 2}
_DJANGO_TEMPLATES = "django.template.backends.django.DjangoTemplates"
_ADMIN = {"django.contrib.admin", "django.contrib.admin.apps.AdminConfig"}
# Django REST framework's settings that name classes or functions (rest_framework/settings.py,
# IMPORT_STRINGS), with when they are read: the class attributes of ``APIView`` and ``GenericAPIView`` when
# DRF's views are imported (``renderer_classes = api_settings.DEFAULT_RENDERER_CLASSES``), the user classes on
# a request, the rest when the feature is used (an exception, a schema, the browsable API's names).
DRF_IMPORT_STRINGS = {
    "DEFAULT_RENDERER_CLASSES": REQUEST, "DEFAULT_PARSER_CLASSES": REQUEST,
    "DEFAULT_AUTHENTICATION_CLASSES": REQUEST, "DEFAULT_PERMISSION_CLASSES": REQUEST,
    "DEFAULT_THROTTLE_CLASSES": REQUEST, "DEFAULT_CONTENT_NEGOTIATION_CLASS": REQUEST,
    "DEFAULT_METADATA_CLASS": REQUEST, "DEFAULT_VERSIONING_CLASS": REQUEST,
    "DEFAULT_PAGINATION_CLASS": REQUEST,
    "DEFAULT_FILTER_BACKENDS": REQUEST, "UNAUTHENTICATED_USER": REQUEST, "UNAUTHENTICATED_TOKEN": REQUEST,
    "DEFAULT_SCHEMA_CLASS": CALL, "EXCEPTION_HANDLER": CALL, "VIEW_NAME_FUNCTION": CALL,
    "VIEW_DESCRIPTION_FUNCTION": CALL,
}


def _worse(*bases: str) -> str:
    return max(bases, key=_RANK.__getitem__)


def load(program) -> Loaded:
    """The edges and start-up calls of Django for ``program``'s closure (module docstring)."""
    out = Loaded()
    found = settings_modules(program)
    for name, sites, basis in found:
        for importer, line, site_basis in sites:
            out.edges.append(Edge(importer, name, line, SETTINGS_VARIABLE, STARTUP,
                                  basis=_worse(basis, site_basis)))
    for loader in _loaders(program, found):
        out.add(loader.loaded)
        out.add(loader.includes_in_closure())
    return out


def _loaders(program, found=None) -> list[_Loader]:
    """The evaluated settings of ``program``'s closure, one ``_Loader`` per settings module (kept between the
    rounds of ``frameworks.close``); none when Django is not in the closure."""
    if "django" not in program.nodes:
        return []
    state = program.frameworks.setdefault("django", {})
    out = []
    for name, _sites, basis in settings_modules(program) if found is None else found:
        key = (name, basis)
        if key not in state:
            state[key] = _Loader(program, name, basis).run()
        out.append(state[key])
    return out


def settings(program) -> list[tuple[Settings, str]]:
    """Django's settings for ``program``'s closure, as the static evaluator knows them, with how sure it is
    that they are the ones Django uses (``base.CERTAIN``, or ``MAYBE`` when several settings modules are
    named): what another loader reads (Celery's ``config_from_object("django.conf:settings")``)."""
    return [(loader.settings, loader.basis) for loader in _loaders(program) if loader.settings is not None]


def installed_apps(program, module: str | None = None) -> list[tuple[str, str]]:
    """The app modules of ``INSTALLED_APPS`` (each configuration's ``name``, as ``AppConfig.create`` finds
    it), with how sure each is to be installed (``base.CERTAIN``, ``DEFAULT``, ``MAYBE``): what Celery's
    ``autodiscover_tasks()`` searches by default. With ``module``, those of that settings module alone, as
    sure as they are when it is the settings module used (the caller knows how sure that is)."""
    out: dict[str, str] = {}
    for loader in _loaders(program):
        if module is not None and loader.module != module:
            continue
        for app in loader.apps:
            if app.name is not None:
                basis = _worse(loader.basis if module is None else CERTAIN,
                               app.basis if app.known else _worse(app.basis, MAYBE))
                if app.name not in out or _RANK[basis] < _RANK[out[app.name]]:
                    out[app.name] = basis
    return list(out.items())


def unknown_commands(program) -> list[tuple[str, str, str]]:
    """The management commands the image's command runs that neither Django nor an installed app provides
    (Django prints "Unknown command" and exits 1): ``[(program, command, entry)]`` (``("manage.py",
    "process_tasks", "manage")``). Only when the settings module and every installed app are certain."""
    return [u for loader in _loaders(program) for u in loader.unknown_commands]


def settings_modules(program) -> list[tuple[str, list[tuple[str, int, str]], str]]:
    """The settings module(s) Django imports: ``[(module, [(importer, line, basis)], basis)]``.

    The environment's ``DJANGO_SETTINGS_MODULE`` when known (the module is then an entry: no importer);
    else the module named by project code of the closure, imported from each place naming it (at start-up:
    ``django.setup()`` and the WSGI/ASGI handler import it). A place names it surely when it runs whenever its
    module does (module-level code, or the function of an entry that runs Django's command line, as
    ``manage.py``'s ``main()``); a function anywhere else (a build step) only possibly. The first place to run
    in a process wins, so when more than one module is surely named, which one is used depends on the order
    the code runs in: each is only possible (``MAYBE``)."""
    environ = program.environ or {}
    given = environ.get(SETTINGS_VARIABLE, "")
    roots = sorted(n for n, node in program.nodes.items() if node.parent is None)
    if given and _dotted(given):
        # usually an entry already; else the entries' process imports it when it sets Django up
        sites = [] if given in program.nodes else [(r, 0, CERTAIN) for r in roots if r != given]
        return [(given, sites, CERTAIN)]
    if given:
        return []
    named: dict[str, list[tuple[str, int, str]]] = {}
    for name, node in program.nodes.items():
        if node.origin != "project" or not node.module.has_source:
            continue
        summ = program.summary(name)
        for site in summ.settings if summ is not None else ():
            sure = not site.conditional and not site.guarded and (
                site.context == MODULE or (site.context == FUNCTION and node.parent is None
                                           and _runs_command_line(summ)))
            named.setdefault(site.module, []).append((name, site.line, CERTAIN if sure else MAYBE))
    surely = [m for m, sites in named.items() if any(b == CERTAIN for _, _, b in sites)]
    out = []
    for module, sites in sorted(named.items()):
        # as sure as the surest place naming it, when no other module is surely named
        basis = min((b for _, _, b in sites), key=_RANK.__getitem__)
        alone = surely == [module] or (not surely and len(named) == 1)
        out.append((module, [(imp, line, b) for imp, line, b in sites], basis if alone else MAYBE))
    return out


def _runs_command_line(summ) -> bool:
    """Does the module import Django's command line (``execute_from_command_line``), as ``manage.py`` does?"""
    return any(site.module == "django.core.management"
               and (not site.names or "execute_from_command_line" in site.names) for site in summ.imports)


def iter_modules(program, package: str) -> list[tuple[str, bool]]:
    """``pkgutil.iter_modules(package.__path__)``: ``(name, is_package)`` of the modules in the package's
    directories, as pkgutil lists them (a directory counts only with an ``__init__`` module; names in
    sorted order, the first location winning)."""
    mod = program.find(package)
    if mod is None or not mod.locations:
        return []
    files = program.finder.files
    suffixes = [s for s, _ in program.finder.suffixes]
    seen: dict[str, bool] = {}
    for loc in mod.locations:
        listing = files.listdir(loc) or {}
        for fname in sorted(listing):
            is_dir = listing[fname]
            if is_dir:
                if "." in fname or fname in seen or not fname.isidentifier():
                    continue
                inner = files.listdir(f"{loc}/{fname}") or {}
                if any(f"__init__{s}" in inner for s in suffixes):
                    seen[fname] = True
                continue
            stem = next((fname[: -len(s)] for s in suffixes if fname.endswith(s)), None)
            if stem and stem != "__init__" and "." not in stem and stem.isidentifier() and stem not in seen:
                seen[stem] = False
    return sorted(seen.items())


# The most modules a template tag package is walked for (``walk_packages``): a real app has a handful; the
# bound keeps a crafted tree of empty packages from costing more than the rest of the check.
MAX_TAG_MODULES = 2000


def walk_packages(program, package: str, limit: int = MAX_TAG_MODULES) -> list[str]:
    """``pkgutil.walk_packages``: every module under ``package``, subpackages included (at most ``limit``)."""
    out: list[str] = []
    todo = [package]
    while todo and len(out) < limit:
        pkg = todo.pop()
        for name, is_pkg in iter_modules(program, pkg):
            out.append(f"{pkg}.{name}")
            if is_pkg:
                todo.append(f"{pkg}.{name}")
    return sorted(out[:limit])


class _App:
    """One ``INSTALLED_APPS`` entry once resolved: the app module's name, its label, its configuration
    class (None: the base ``AppConfig``, or not known), and how sure it is to be installed."""

    def __init__(self, entry: str, name: str | None, config: Class | None, label: str | None, basis: str,
                 where: tuple[str, int], known: bool) -> None:
        self.entry, self.name, self.config, self.label = entry, name, config, label
        self.basis, self.where = basis, where
        self.known = known  # whether the configuration was decided


class _Loader:
    """Everything one settings module makes Django load (module docstring)."""

    def __init__(self, program, settings_module: str, basis: str) -> None:
        self.program = program
        self.module = settings_module
        self.basis = basis
        self.interp = Interpreter(program, watch=INCLUDE)
        self.loaded = Loaded()
        self.settings: Settings | None = None
        self.apps: list[_App] = []
        self._evaluated_for_includes: set[str] = set()
        self._include_edges: dict[str, list[Edge]] = {}
        self._calls_seen = 0
        # (program, command, entry) of the commands no app provides: Django's "Unknown command"
        self.unknown_commands: list[tuple[str, str, str]] = []

    # -- helpers --------------------------------------------------------------------------------------------
    def where(self, where: tuple[str, int] | None) -> tuple[str, int]:
        return where if where is not None else (self.module, 0)

    def edge(self, where, target: str, step: str, phase: str, how: int | str, attribute: str | None = None,
             optional: bool = False) -> None:
        importer, line = self.where(where)
        basis = _worse(self.basis, how if isinstance(how, str) else _BASIS[how])
        self.loaded.edges.append(Edge(importer, target, line, step, phase, attribute, optional, basis))

    def import_string(self, text: str, where, step: str, phase: str, how) -> None:
        """Django's ``import_string``: ``pkg.mod.Name`` imports ``pkg.mod`` and reads ``Name``."""
        module, _, attribute = text.rpartition(".")
        if module and _dotted(text):
            self.edge(where, module, step, phase, how, attribute)

    def import_module(self, text: str, where, step: str, phase: str, how,
                      attribute: str | None = None) -> None:
        if _dotted(text):
            self.edge(where, text, step, phase, how, attribute)

    def value(self, name: str) -> Value:
        assert self.settings is not None
        return self.settings.value(name)

    def installed(self, entry: str) -> str | None:
        """How sure it is that the app module ``entry`` is installed (None: it is not, as far as known)."""
        best = None
        for app in self.apps:
            if (app.name == entry or app.entry == entry) and (best is None or _RANK[app.basis] < _RANK[best]):
                best = app.basis
        return best

    # -- the whole ------------------------------------------------------------------------------------------
    def run(self) -> _Loader:
        program = self.program
        self.interp.prefetch([self.module, "django.conf.global_settings", "django"])
        self.settings = evaluate_settings(self.interp, self.module)
        self.version = self._django_version()
        self.installed_apps()
        self.middleware()
        self.logging()
        self.interp.transitive = False  # from here on only the modules asked for are evaluated
        self.urlconf()
        self.templates()
        self.request_settings()
        self.commands()
        del program
        return self

    def _django_version(self) -> tuple[int, ...]:
        scope = evaluate(self.interp, "django")
        v = scope.vars.get("VERSION") if scope is not None else None
        if isinstance(v, Seq) and v.known() and len(v.items) >= 2 and all(
                isinstance(i, Const) and isinstance(i.value, int) for i, _ in v.items[:2]):
            return tuple(i.value for i, _ in v.items[:2])  # type: ignore[union-attr]
        return (5, 2)

    # -- INSTALLED_APPS ----------------------------------------------------------------------------------
    def installed_apps(self) -> None:
        program = self.program
        items = strings(self.value("INSTALLED_APPS"))
        self.interp.prefetch([e for e, _, _ in items] + [f"{e}.apps" for e, _, _ in items]
                             + [e.rpartition(".")[0] for e, _, _ in items])
        step = "django.setup(): INSTALLED_APPS"
        for entry, where, how in items:
            if not _dotted(entry):
                continue
            app = self.app(entry, self.where(where), _BASIS[how], step)
            if app is not None:
                self.apps.append(app)
        admin = [a for a in self.apps if a.entry in _ADMIN]
        for app in self.apps:
            if app.name is None:
                continue
            basis = app.basis if app.known else _worse(app.basis, MAYBE)
            if app.name != app.entry:
                self.edge(app.where, app.name, step, STARTUP, basis)
            if program.find(f"{app.name}.models") is not None:
                self.edge((app.name, 0), f"{app.name}.models", "django.setup(): import_models()", STARTUP,
                          basis, optional=True)
            for adm in admin[:1]:
                if program.find(f"{app.name}.admin") is not None:
                    self.edge((app.name, 0), f"{app.name}.admin", "django.setup(): admin.autodiscover()",
                              STARTUP, _worse(basis, adm.basis), optional=True)
            if app.config is not None and app.known and app.basis == CERTAIN:
                ready = self.defining(app.config, "ready")
                if ready is not None:
                    importer, line = app.where
                    self.loaded.calls.append(StartupCall(
                        ready.module, f"{ready.qualname}.ready", importer, line,
                        f"django.setup(): {app.config.qualname}.ready()", STARTUP))

    def app(self, entry: str, where: tuple[str, int], basis: str, step: str) -> _App | None:
        """``AppConfig.create(entry)`` (django/apps/config.py) as far as it can be followed statically."""
        program = self.program
        if program.find(entry) is not None:
            self.edge(where, entry, step, STARTUP, basis)
            config: Class | None = None
            known = True
            apps_module = f"{entry}.apps"
            if program.find(apps_module) is not None:
                self.edge(where, apps_module, step, STARTUP, basis)
                config, known = self.auto_config(apps_module)
            if config is None and known and self.version < (4, 1):
                config, known = self.default_app_config(entry, where, basis, step, config)
            if config is None:
                return _App(entry, entry, None, entry.rpartition(".")[2], basis, where, known)
            return self.configured(entry, config, where, basis, known)
        module, _, cls = entry.rpartition(".")
        if module and program.find(module) is not None and program.has_name(module, cls) != MISSING:
            self.edge(where, module, step, STARTUP, basis, attribute=cls)
            scope = evaluate(self.interp, module)
            value = scope.vars.get(cls) if scope is not None else None
            if isinstance(value, Class):
                return self.configured(entry, value, where, basis, self.is_app_config(value) is True)
            return _App(entry, None, None, None, basis, where, False)
        # neither a module nor a class in a module: Django re-raises the import error of the entry (or of
        # the module part, for a capitalized last part)
        target = module if module and cls[:1].isupper() else entry
        self.edge(where, target, step, STARTUP, basis, attribute=cls if target == module else None)
        return None

    def configured(self, entry: str, config: Class, where, basis: str, known: bool) -> _App:
        """The app a configuration class makes: its ``name`` (the app module, required) and ``label``
        (default: the name's last part)."""
        name_value = self.app_attr(config, "name")
        name = _text(name_value)
        if name is not None and name_value.status:  # type: ignore[union-attr]
            basis = _worse(basis, DEFAULT)
        label_value = self.app_attr(config, "label")
        label = _text(label_value) or (name.rpartition(".")[2] if name and label_value is None else None)
        return _App(entry, name, config, label, basis, where, known and name is not None)

    def app_attr(self, cls: Class, name: str, depth: int = 0) -> Value | None:
        """Class attribute ``name`` of an ``AppConfig`` subclass: its value when a class of the hierarchy
        binds it, None when none does (Django's ``AppConfig`` binds none of ``name``, ``label``,
        ``default``), UNKNOWN when a base cannot be seen."""
        if name in cls.attrs:
            return self.interp.bound(cls.attrs[name])
        if depth > 20:
            return UNKNOWN
        for base in cls.bases:
            if isinstance(base, Class):
                got = self.app_attr(base, name, depth + 1)
                if got is not None:
                    return got
            elif not (isinstance(base, External) and base.dotted in _APP_CONFIG):
                return UNKNOWN
        return None

    def auto_config(self, apps_module: str) -> tuple[Class | None, bool]:
        """The ``AppConfig`` subclass Django picks in ``APP.apps`` (``AppConfig.create``: among the classes
        of the module, subclasses of ``AppConfig`` without ``default = False``, the only one, else the only
        one with ``default = True``); (None, True) when there is none (the base ``AppConfig`` is used);
        (None, False) when it cannot be told. An imported name we cannot see counts as a possible
        configuration class only when it is named like one (``...Config``)."""
        scope = evaluate(self.interp, apps_module)
        if scope is None or scope.open:
            return None, False
        candidates: list[tuple[Class, Value | None]] = []
        for name in list(scope.vars):
            value = self.interp.binding(scope, name)
            if isinstance(value, External):
                if value.dotted not in _APP_CONFIG and value.dotted.endswith("Config"):
                    return None, False
                continue
            if value is UNKNOWN and name.endswith("Config"):
                return None, False
            if not isinstance(value, Class):
                continue
            sub = self.is_app_config(value)
            if sub is None:
                return None, False
            if not sub:
                continue
            default = self.app_attr(value, "default")
            if default is UNKNOWN or (default is not None and not isinstance(default, Const)):
                return None, False
            candidates.append((value, default))
        first = [(c, d) for c, d in candidates if d is None or bool(d.value)]  # type: ignore[union-attr]
        if len(first) == 1:
            return first[0][0], True
        second = [c for c, d in first if d is not None and bool(d.value)]  # type: ignore[union-attr]
        if len(second) == 1:
            return second[0], True
        return None, len(second) == 0  # several with default = True: Django raises RuntimeError

    def default_app_config(self, entry: str, where, basis: str, step: str, config):
        """Before Django 4.1: the app module's ``default_app_config`` names its configuration."""
        scope = evaluate(self.interp, entry)
        if scope is None:
            return config, False
        value = scope.vars.get("default_app_config")
        if not (isinstance(value, Const) and isinstance(value.value, str)):
            return config, value is None
        module, _, cls = value.value.rpartition(".")
        if not module:
            return config, False
        self.edge(value.where or where, module, step, STARTUP, basis, attribute=cls)
        other = evaluate(self.interp, module)
        found = other.vars.get(cls) if other is not None else None
        return (found, True) if isinstance(found, Class) else (None, False)

    def is_app_config(self, cls: Class, depth: int = 0) -> bool | None:
        """Is ``cls`` a subclass of ``django.apps.AppConfig``? None when a base cannot be seen."""
        if depth > 20:
            return None
        outcome: bool | None = False
        for base in cls.bases:
            if isinstance(base, External):
                if base.dotted in _APP_CONFIG:
                    return True
                outcome = None if base.dotted.rpartition(".")[2] != "object" else outcome
            elif isinstance(base, Class):
                r = self.is_app_config(base, depth + 1)
                if r:
                    return True
                if r is None:
                    outcome = None
            else:
                outcome = None
        return outcome

    def inherits_unknown(self, cls: Class, depth: int = 0) -> bool:
        for base in cls.bases:
            if isinstance(base, Class):
                if depth < 20 and self.inherits_unknown(base, depth + 1):
                    return True
            elif not (isinstance(base, External) and base.dotted in _APP_CONFIG):
                return True
        return False

    def defining(self, cls: Class, name: str, depth: int = 0) -> Class | None:
        """The class of ``cls``'s hierarchy that defines method ``name`` (None: only Django's ``AppConfig``
        does, or a base cannot be seen)."""
        if name in cls.attrs:
            return cls if isinstance(cls.attrs[name], Function) or name != "ready" else None
        if depth > 20:
            return None
        for base in cls.bases:
            if isinstance(base, Class):
                return self.defining(base, name, depth + 1)
            return None
        return None

    # -- start-up -------------------------------------------------------------------------------------------
    def middleware(self) -> None:
        for text, where, how in strings(self.value("MIDDLEWARE")):
            self.import_string(text, where, "MIDDLEWARE", STARTUP, how)
        for text, where, how in strings(self.value("DEFAULT_AUTO_FIELD")):
            self.import_string(text, where, "django.setup(): DEFAULT_AUTO_FIELD", STARTUP, how)

    def logging(self) -> None:
        config = self.value("LOGGING_CONFIG")
        for text, where, how in strings(config):
            self.import_string(text, where, "django.setup(): LOGGING_CONFIG", STARTUP, how)
        if not (isinstance(config, Const) and config.value == "logging.config.dictConfig"):
            return
        for section in ("handlers", "filters", "formatters"):
            for _, part, presence in entries(_get(self.value("LOGGING"), section)):
                for key in ("class", "()"):
                    for text, where, how in strings(_get(part, key), presence):
                        if "://" not in text:
                            self.dict_config_path(text, where, f"django.setup(): LOGGING {section}", how)

    def dict_config_path(self, text: str, where, step: str, how) -> None:
        """``logging.config.dictConfig`` resolves ``a.b.C`` by importing ``a``, then reading each next part as
        an attribute, importing ``a.b`` where the attribute is missing (``BaseConfigurator.resolve``)."""
        if not _dotted(text) or "." not in text:
            return
        program = self.program
        parts = text.split(".")
        module = parts[0]
        for part in parts[1:-1]:
            if program.find(f"{module}.{part}") is not None:
                module = f"{module}.{part}"
                continue
            found = program.has_name(module, part) if program.find(module) is not None else MISSING
            if found == MISSING:  # neither an attribute nor a module: importing it raises
                self.edge(where, f"{module}.{part}", step, STARTUP, how, None)
            else:  # an attribute chain (``a.Class.factory``) or not known: the module at least is imported
                self.edge(where, module, step, STARTUP, how, part if found == FOUND else None)
            return
        self.edge(where, module, step, STARTUP, how, parts[-1])

    # -- the first request ----------------------------------------------------------------------------------
    def urlconf(self) -> None:
        for text, where, how in strings(self.value("ROOT_URLCONF")):
            if _dotted(text):
                self.edge(where, text, "first request: ROOT_URLCONF", REQUEST, how, "urlpatterns")
                self.includes_from([text])

    def includes_from(self, modules: list[str]) -> None:
        """Follow ``include("...")`` from these modules, transitively through the included modules."""
        todo = list(modules)
        while todo:
            batch = [m for m in dict.fromkeys(todo) if m not in self._evaluated_for_includes]
            todo = []
            self.interp.prefetch(batch)
            for m in batch:
                self._evaluated_for_includes.add(m)
                before = len(self.interp.calls)
                evaluate(self.interp, m, force=self.program.find(m) is not None)
                del before
            for call in self.interp.calls[self._calls_seen:]:
                self._calls_seen += 1
                for text, where, how in self.include_targets(call):
                    e = Edge(where[0], text, where[1], "include()", IMPORT, "urlpatterns", False,
                             _worse(self.basis, _BASIS[how]))
                    self._include_edges.setdefault(call.module, []).append(e)
                    todo.append(text)

    def include_targets(self, call) -> list[tuple[str, tuple[str, int], int]]:
        arg = call.args[0] if call.args else call.kwargs.get("arg")
        if isinstance(arg, Seq) and arg.items:
            arg = arg.items[0][0]
        out = []
        for text, where, how in strings(arg, call.presence) if arg is not None else ():
            if _dotted(text):
                out.append((text, where or (call.module, call.line), how))
        return out

    def includes_in_closure(self) -> Loaded:
        """Edges of ``include()`` calls in modules of the current closure that import ``include`` (a URLconf
        reached by an import statement rather than by a string)."""
        program = self.program
        callers = []
        for name, node in program.nodes.items():
            if name in self._evaluated_for_includes or not node.module.has_source:
                continue
            if node.origin != "project":
                continue
            summ = program.summary(name)
            if summ is not None and any(site.module in ("django.urls", "django.conf.urls")
                                        and "include" in site.names for site in summ.imports):
                callers.append(name)
        if callers:
            self.includes_from(callers)
        out = Loaded()
        for edges in self._include_edges.values():
            out.edges += edges
        return out

    def templates(self) -> None:
        step = "first request: TEMPLATES"
        django_engine: int | None = None
        for _, engine, presence in entries(self.value("TEMPLATES")):
            for text, where, how in strings(_get(engine, "BACKEND"), presence):
                self.import_string(text, where, step, REQUEST, how)
                if text == _DJANGO_TEMPLATES:
                    django_engine = how if django_engine is None else min(django_engine, how)
            options = _get(engine, "OPTIONS")
            for key in ("context_processors", "environment"):
                for text, where, how in strings(_get(options, key), presence):
                    self.import_string(text, where, step, REQUEST, how)
            for _, loader, how_item in entries(_get(options, "loaders"), presence):
                first = loader.items[0][0] if isinstance(loader, Seq) and loader.items else loader
                for text, where, how in strings(first, how_item):
                    self.import_string(text, where, step, REQUEST, how)
            for _, library, how_item in entries(_get(options, "libraries"), presence):
                for text, where, how in strings(library, how_item):
                    self.import_module(text, where, step, REQUEST, how, "register")
            for text, where, how in strings(_get(options, "builtins"), presence):
                self.import_module(text, where, step, REQUEST, how, "register")
        if django_engine is None:
            return
        step = "first request: template tag libraries"
        for app in [None, *self.apps]:
            name = "django" if app is None else app.name
            if name is None:
                continue
            package = f"{name}.templatetags"
            mod = self.program.find(package)
            if mod is None or not mod.is_package:
                continue
            basis = _worse(_BASIS[django_engine], CERTAIN if app is None else app.basis)
            for sub in walk_packages(self.program, package):
                self.edge((name, 0), sub, step, REQUEST, basis)

    def request_settings(self) -> None:
        def paths(setting: str, step: str, phase: str, value: Value | None = None, how: int = 0) -> None:
            for text, where, h in strings(self.value(setting) if value is None else value, how):
                self.import_string(text, where, step, phase, h)

        auth = self.installed("django.contrib.auth")
        if auth is not None:
            paths("AUTHENTICATION_BACKENDS", "first request: AUTHENTICATION_BACKENDS", REQUEST)
            paths("PASSWORD_HASHERS", "first request: PASSWORD_HASHERS", REQUEST)
        # a connection or cache is made on first use: the default one by the first request, another one when
        # the code uses it (``connections["replica"]``, ``caches["sessions"]``)
        for alias, db, presence in entries(self.value("DATABASES")):
            default = alias == "default"
            step = "first request: DATABASES" if default else f"DATABASES['{alias}']"
            for text, where, how in strings(_get(db, "ENGINE"), presence):
                self.import_module(f"{text}.base", where, step, REQUEST if default else CALL, how)
        paths("DATABASE_ROUTERS", "first request: DATABASE_ROUTERS", REQUEST)
        for alias, cache, presence in entries(self.value("CACHES")):
            default = alias == "default"
            step = "first request: CACHES" if default else f"CACHES['{alias}']"
            paths("", step, REQUEST if default else CALL, _get(cache, "BACKEND"), presence)
        if self.installed("django.contrib.sessions") is not None:
            for text, where, how in strings(self.value("SESSION_ENGINE")):
                self.import_module(text, where, "first request: SESSION_ENGINE", REQUEST, how)
            paths("SESSION_SERIALIZER", "first request: SESSION_SERIALIZER", REQUEST)
        if self.installed("django.contrib.messages") is not None:
            paths("MESSAGE_STORAGE", "first request: MESSAGE_STORAGE", REQUEST)
        legacy = self.version < (4, 2) or (self.version < (5, 1) and (
            self.settings.given("DEFAULT_FILE_STORAGE") or self.settings.given("STATICFILES_STORAGE")))
        if legacy:
            paths("DEFAULT_FILE_STORAGE", "first request: DEFAULT_FILE_STORAGE", REQUEST)
            if self.installed("django.contrib.staticfiles") is not None:
                paths("STATICFILES_STORAGE", "first request: STATICFILES_STORAGE", REQUEST)
        else:
            storages = self.value("STORAGES")
            aliases = ["default"] + (["staticfiles"] if self.installed("django.contrib.staticfiles") else [])
            for alias in aliases:
                paths("", "first request: STORAGES", REQUEST, _get(_get(storages, alias), "BACKEND"))
        paths("FORM_RENDERER", "first request: FORM_RENDERER", REQUEST)
        if self.installed("rest_framework") is not None:
            drf = self.value("REST_FRAMEWORK")
            for key, phase in DRF_IMPORT_STRINGS.items():
                step = f"REST_FRAMEWORK['{key}']"
                paths("", f"first request: {step}" if phase == REQUEST else step, phase, _get(drf, key))
        paths("EMAIL_BACKEND", "EMAIL_BACKEND", CALL)
        paths("WSGI_APPLICATION", "runserver: WSGI_APPLICATION", CALL)
        paths("ASGI_APPLICATION", "runserver: ASGI_APPLICATION", CALL)
        paths("FILE_UPLOAD_HANDLERS", "FILE_UPLOAD_HANDLERS", CALL)

    # -- management commands -------------------------------------------------------------------------------
    def commands(self) -> None:
        """``manage.py COMMAND`` loads ``APP.management.commands.COMMAND`` of the app that provides it and
        reads its ``Command`` class (``get_commands``: Django's own commands, overridden by the installed
        apps', an app earlier in ``INSTALLED_APPS`` winning over a later one). The image's command says which
        command runs, at start-up; an entry alone (``--entry manage``) may run any, each when called."""
        runner = self.command_runner()
        if runner is None:
            return
        importer, line = runner
        providers = self.command_providers()
        run = self.launched_commands(importer)
        if run is None:
            for name, package, basis in providers:
                self.loaded.edges.append(Edge(importer, f"{package}.{name}", line, "manage.py COMMAND", CALL,
                                              "Command", False, _worse(self.basis, basis)))
            return
        for prog, command in run:
            if command in _ANSWERED:
                continue
            step = f"{prog} {command}"
            found = [(package, basis) for name, package, basis in providers if name == command]
            shadowed = False  # an app before this one may provide it too: which one wins is not certain
            for package, basis in found:
                how = _worse(self.basis, basis, MAYBE if shadowed else CERTAIN)
                self.loaded.edges.append(Edge(importer, f"{package}.{command}", line, step, STARTUP,
                                              "Command", False, how))
                if basis == CERTAIN:
                    break
                shadowed = True
            if not found and self.all_apps_known():
                self.unknown_commands.append((prog, command, importer))

    def command_providers(self) -> list[tuple[str, str, str]]:
        """``(command, package, how sure)`` for every command module, in the order ``get_commands`` prefers
        them: the installed apps' ``management.commands`` packages in ``INSTALLED_APPS`` order, then Django's
        own (``django.core.management.commands``). A module whose name starts with ``_`` is no command
        (``find_commands``)."""
        packages = [(a.name, a.basis if a.known else _worse(a.basis, MAYBE)) for a in self.apps if a.name]
        packages.append(("django.core", CERTAIN))
        out = []
        for app, basis in packages:
            package = f"{app}.management.commands"
            if self.program.find(package) is None:
                continue
            for name, is_pkg in iter_modules(self.program, package):
                if not is_pkg and not name.startswith("_"):
                    out.append((name, package, basis))
        return out

    def all_apps_known(self) -> bool:
        """Is every installed app, and so every command, known? (Only then can a command be missing.)"""
        value = self.value("INSTALLED_APPS")
        return (self.basis == CERTAIN and isinstance(value, Seq) and value.known()
                and len(self.apps) == len(value.items)
                and all(a.name is not None and a.known and a.basis == CERTAIN for a in self.apps))

    def launched_commands(self, runner: str) -> list[tuple[str, str]] | None:
        """``(program, command)`` for each command the image's command runs with the entry ``runner``
        (``python manage.py migrate``: ``("manage.py", "migrate")``; no argument runs ``help``); None when
        the image's command does not say (the entries were named)."""
        out = []
        for e in getattr(self.program, "launch", ()):
            script = posixpath.basename(e.script) if e.script else None
            name = e.module or (script[:-3] if script and script.endswith(".py") else None)
            if name != runner:
                continue
            prog = script or posixpath.basename(e.program or "") or e.launcher
            out.append((prog, e.arguments[0] if e.arguments else "help"))
        return out or None

    def command_runner(self) -> tuple[str, int] | None:
        """The entry that runs Django's command line (``execute_from_command_line``: ``manage.py``, a
        package's ``__main__``, ``django-admin``), and the line that imports it."""
        program = self.program
        for name, node in sorted(program.nodes.items()):
            if node.parent is not None:
                continue
            if name in ("django.__main__", "django.core.management"):
                return name, 0
            summ = program.summary(name) if node.module.has_source else None
            for site in summ.imports if summ is not None else ():
                if site.module == "django.core.management" and (
                        not site.names or "execute_from_command_line" in site.names):
                    return name, site.line  # the line that imports Django's command line
        return None


def _get(value: Value | None, key: str) -> Value | None:
    if isinstance(value, Map) and key in value.entries:
        v, presence = value.entries[key]
        return v if presence == 0 else _presence_demoted(v, presence)
    return None


def _presence_demoted(v: Value, presence: int) -> Value:
    from deploycheck.frameworks.values import demote

    return demote(v, presence)


def _text(value: Value | None) -> str | None:
    return value.value if isinstance(value, Const) and isinstance(value.value, str) else None


def _dotted(text: str) -> bool:
    return bool(text) and all(p.isidentifier() for p in text.split("."))
