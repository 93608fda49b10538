"""Start a service the way its launcher and framework do, inside the service's own interpreter, and record
what it loaded and what failed. Run as ``python started.py SPEC.json OUT.json`` (standard library only: it
runs in the service's environment, not deploycheck's).

The spec is a list of steps (``tests/services/corpus.json``, ``start``); each step is one thing the launcher
or the framework does at start-up or on the first request:

- ``import``: the launcher imports a module (``gunicorn pretix.wsgi``, ``python -m pkg``).
- ``call``: the launcher calls ``module:function`` (``gunicorn 'pkg:create_app()'``, ``uvicorn --factory``).
- ``django``: what Django does at start-up and on the first request: ``django.setup()`` (settings,
  ``INSTALLED_APPS``, their models, ``AppConfig.ready()``), the WSGI handler's middleware, every URL pattern
  of ``ROOT_URLCONF`` with includes resolved and each view imported, every template engine with its tag
  libraries and context processors, the authentication backends and password hashers, the database and
  cache backends (imported, not connected), the session engine and the default file storage.
- ``django-commands``: every management command of the installed apps loaded (``manage.py COMMAND``); a
  command that fails to load is recorded in the step's ``soft`` list (it fails that command only).
- ``celery``: the Celery app (``-A``) finalized and its default modules imported as a worker does at boot
  (``imports``, ``include``, ``autodiscover_tasks()`` through the ``import_modules`` signal).
- ``flask-routes``: every view function of the Flask app that a previous ``call`` step returned.
- ``entry-points``: every entry point of a group loaded, as the launcher does (``celery.commands``).
- ``import-each``: each of ``modules`` imported in turn after the steps before it (the framework set up);
  each outcome is recorded in the step's ``soft`` list (the oracle's verdict on one finding's module).

Output: ``{"baseline": [...], "steps": [{"step", "modules": {name: file}, "failure": {...} | null}]}``
where a failure has ``type``, ``message``, ``file``, ``line`` (the deepest frame outside importlib) and
``frames`` (every frame, outermost first) and ``causes`` (the ``__cause__``/``__context__`` chain).
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import sys
import traceback

_CHAIN_LIMIT = 5


def _frames(tb) -> list[list]:
    return [[f.filename, f.lineno, f.name] for f in traceback.extract_tb(tb)
            if not f.filename.startswith("<frozen")]


def _describe(exc: BaseException) -> dict:
    frames = _frames(exc.__traceback__)
    where = frames[-1][:2] if frames else [None, None]
    if isinstance(exc, SyntaxError) and exc.filename:
        where = [exc.filename, exc.lineno]
    causes = []
    seen = {id(exc)}
    inner = exc.__cause__ or exc.__context__
    while inner is not None and id(inner) not in seen and len(causes) < _CHAIN_LIMIT:
        seen.add(id(inner))
        inner_frames = _frames(inner.__traceback__)
        inner_where = inner_frames[-1][:2] if inner_frames else [None, None]
        if isinstance(inner, SyntaxError) and inner.filename:
            inner_where = [inner.filename, inner.lineno]
        causes.append({"type": type(inner).__name__, "message": str(inner)[:500], "file": inner_where[0],
                       "line": inner_where[1], "frames": inner_frames})
        inner = inner.__cause__ or inner.__context__
    return {"type": type(exc).__name__, "message": str(exc)[:500], "file": where[0], "line": where[1],
            "frames": frames, "causes": causes}


def _resolve(target: str):
    module, _, attr = target.partition(":")
    obj = importlib.import_module(module)
    for part in attr.split(".") if attr else ():
        obj = getattr(obj, part)
    return obj


def _django(step: dict, state: dict) -> None:
    import django
    from django.conf import settings

    django.setup()
    from django.core.handlers.wsgi import WSGIHandler

    WSGIHandler()  # loads MIDDLEWARE, as the WSGI server's first request would find it loaded
    from django.urls import URLPattern, URLResolver, get_resolver

    def walk(patterns):
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns)
            elif isinstance(p, URLPattern):
                p.lookup_str  # noqa: B018 - the view's dotted name, resolved from the callback
    walk(get_resolver().url_patterns)
    from django.template import engines

    for engine in engines.all():
        inner = getattr(engine, "engine", None)
        if inner is not None:  # DjangoTemplates: tag libraries load with the engine, processors lazily
            inner.template_context_processors  # noqa: B018
    from django.contrib.auth import get_backends
    from django.contrib.auth.hashers import get_hashers
    from django.core.cache import caches
    from django.core.files.storage import default_storage
    from django.db import connections

    if "django.contrib.auth" in settings.INSTALLED_APPS:
        get_backends()
        get_hashers()
    for alias in settings.DATABASES:  # the backend module is imported, nothing is connected
        connections[alias]  # noqa: B018
    for alias in settings.CACHES:
        caches[alias]  # noqa: B018
    importlib.import_module(settings.SESSION_ENGINE)
    default_storage._setup()


def _django_commands(step: dict, state: dict) -> None:
    from django.core.management import get_commands, load_command_class

    # Only the command that is run is loaded: one that fails to load is that command's failure, not the
    # service's, so it is recorded beside the step instead of stopping the start.
    for name, app in sorted(get_commands().items()):
        try:
            load_command_class(app, name)
        except Exception as e:
            state["soft"].append({"command": name, **_describe(e)})


def _celery(step: dict, state: dict) -> None:
    app = _resolve(step["app"])
    app.loader.import_default_modules()  # what a worker does at boot: imports, include, autodiscover
    app.finalize(auto=True)
    list(app.tasks)


def _flask_routes(step: dict, state: dict) -> None:
    app = state["app"]
    list(app.view_functions.values())
    list(app.url_map.iter_rules())


def _entry_points(step: dict, state: dict) -> None:
    from importlib.metadata import entry_points

    for ep in entry_points(group=step["group"]):
        if not step.get("names") or ep.name in step["names"]:
            ep.load()


def _import_each(step: dict, state: dict) -> None:
    for name in step["modules"]:
        try:
            importlib.import_module(name)
            state["soft"].append({"module": name, "failure": None})
        except Exception as e:
            state["soft"].append({"module": name, "failure": _describe(e)})


def _run(step: dict, state: dict) -> None:
    kind = step["kind"]
    if kind == "import":
        module = importlib.import_module(step["module"])
        if step.get("app"):  # the object the launcher serves (``gunicorn pgAdmin4:app``)
            state["app"] = getattr(module, step["app"])
    elif kind == "call":
        obj = _resolve(step["target"])(*step.get("args", []), **step.get("kwargs", {}))
        for method in step.get("then", []):  # what the launcher does with the object next (``ds.app()``)
            value = getattr(obj, method)()
            if inspect.iscoroutine(value):
                value = asyncio.run(value)
            obj = value if value is not None else obj
        state["app"] = obj
    elif kind == "django":
        _django(step, state)
    elif kind == "django-commands":
        _django_commands(step, state)
    elif kind == "celery":
        _celery(step, state)
    elif kind == "flask-routes":
        _flask_routes(step, state)
    elif kind == "entry-points":
        _entry_points(step, state)
    elif kind == "import-each":
        _import_each(step, state)
    else:
        raise ValueError(f"unknown step kind {kind}")


def _files(names) -> dict:
    out = {}
    for name in names:
        mod = sys.modules.get(name)
        out[name] = getattr(mod, "__file__", None) if mod is not None else None
    return out


def main() -> None:
    spec_path, out_path = sys.argv[1], sys.argv[2]
    with open(spec_path) as f:
        steps = json.load(f)
    baseline = set(sys.modules)
    report: dict = {"baseline": sorted(baseline), "steps": []}
    state: dict = {}
    seen = set(baseline)
    for step in steps:
        failure = None
        state["soft"] = []
        try:
            _run(step, state)
        except BaseException as e:  # SystemExit from a launcher's argument parsing is a failure too
            failure = _describe(e)
            if isinstance(e, KeyboardInterrupt):
                raise
        new = [n for n in list(sys.modules) if n not in seen]
        seen.update(new)
        report["steps"].append({"step": step, "modules": _files(new), "failure": failure,
                                "soft": state["soft"]})
        if failure is not None and step.get("required", True):
            break  # a step the launcher cannot get past: the service does not start
    with open(out_path, "w") as f:
        json.dump(report, f)


if __name__ == "__main__":
    main()
