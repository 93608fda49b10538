"""Entries read from an image's command line, as the usual launchers interpret them."""

from __future__ import annotations

import pytest

from deploycheck.environment.launcher import LaunchEntry, entries, expand

ENV = {"APP_MODULE": "svc.main:app", "PORT": "8080", "EMPTY": ""}


@pytest.mark.parametrize("entrypoint, cmd, expected", [
    (None, ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8000"],
     [LaunchEntry("app.main", "app", None, "uvicorn", "/srv")]),
    (None, ["gunicorn", "-b", "0.0.0.0:8000", "-k", "uvicorn.workers.UvicornWorker", "pkg.wsgi:application"],
     [LaunchEntry("pkg.wsgi", "application", None, "gunicorn", "/srv")]),
    (None, ["gunicorn", "pkg.wsgi"], [LaunchEntry("pkg.wsgi", "application", None, "gunicorn", "/srv")]),
    (None, ["gunicorn", "--chdir", "src", "app:create_app()"],
     [LaunchEntry("app", "create_app", None, "gunicorn", "/srv/src")]),
    (None, ["hypercorn", "--bind", "0.0.0.0:80", "svc.asgi:app"],
     [LaunchEntry("svc.asgi", "app", None, "hypercorn", "/srv")]),
    (None, ["celery", "-A", "proj", "worker", "-l", "info"], [LaunchEntry("proj", None, None, "celery", "/srv")]),
    (["python", "-m"], ["pkg.server"], [LaunchEntry("pkg.server", None, None, "python -m pkg.server", "/srv")]),
    (None, ["python3.11", "-u", "bin/run.py"], [LaunchEntry(None, None, "/srv/bin/run.py", "python", "/srv/bin")]),
    (None, ["python", "-m", "uvicorn", "app.main:app"], [LaunchEntry("app.main", "app", None, "uvicorn", "/srv")]),
    (["/usr/bin/tini", "--"], ["sh", "-c", "alembic upgrade head && exec uvicorn ${APP_MODULE} --port $PORT"],
     [LaunchEntry(None, None, None, "alembic", "/srv"), LaunchEntry("svc.main", "app", None, "uvicorn", "/srv")]),
    (None, ["sh", "-c", "exec gunicorn ${WSGI_APP:-mysite.wsgi:application} -w ${WORKERS:-2}"],
     [LaunchEntry("mysite.wsgi", "application", None, "gunicorn", "/srv")]),
    # a program not recognized may be a console script of the image (frameworks.entrypoints.resolve_scripts)
    (None, ["nginx", "-g", "daemon off;"], [LaunchEntry(None, None, None, "nginx", "/srv")]),
    (None, None, []),
])
def test_launchers(entrypoint, cmd, expected):
    assert entries(entrypoint, cmd, ENV, "/srv") == expected


@pytest.mark.parametrize("cmd, module, attribute, command", [
    (["celery", "-A", "proj", "worker", "-l", "info"], "proj", None, "worker"),
    (["celery", "--broker", "redis://r", "-A", "proj.app:celery", "flower", "--port=5555"], "proj.app", "celery",
     "flower"),
    (["celery", "--app=proj", "-q", "beat"], "proj", None, "beat"),
    (["celery", "flower"], None, None, "flower"),
])
def test_celery_app_and_command(cmd, module, attribute, command):
    [e] = entries(None, cmd, ENV, "/srv")
    assert (e.module, e.attribute, e.launcher, e.command, e.program) == (module, attribute, "celery", command, "celery")


@pytest.mark.parametrize("cmd, script, module, arguments", [
    (["python", "manage.py", "migrate", "--noinput"], "/srv/manage.py", None, ("migrate", "--noinput")),
    (["./manage.py", "process_tasks"], "/srv/manage.py", None, ("process_tasks",)),
    (["python3", "-u", "/app/manage.py"], "/app/manage.py", None, ()),
    (["python", "-m", "django", "check"], None, "django", ("check",)),
    (["sh", "-c", "python manage.py migrate && exec gunicorn mysite.wsgi"], "/srv/manage.py", None, ("migrate",)),
])
def test_arguments_of_a_script_or_module(cmd, script, module, arguments):
    # what the entry's own command line reads (Django's manage.py COMMAND)
    e = entries(None, cmd, ENV, "/srv")[0]
    assert (e.script, e.module, e.arguments) == (script, module, arguments)


def test_parameter_expansion():
    assert expand("${APP_MODULE}|$PORT|${MISSING:-d}|${EMPTY:-e}|${EMPTY-f}|${MISSING-g}", ENV) == \
        "svc.main:app|8080|d|e||g"


@pytest.mark.parametrize("cmd, env, expected", [
    # gunicorn calls a factory written with its parentheses; uvicorn with --factory; otherwise the object is used
    (["gunicorn", "app:create_app()"], {}, [("app", "create_app", "gunicorn", True)]),
    (["gunicorn", "'app:create_app(\"prod\")'"], {}, []),
    (["gunicorn", "app:create_app('prod')"], {}, [("app", "create_app", "gunicorn", True)]),
    (["gunicorn", "app:application"], {}, [("app", "application", "gunicorn", False)]),
    (["uvicorn", "--factory", "svc.main:build", "--port", "80"], {}, [("svc.main", "build", "uvicorn", True)]),
    (["uvicorn", "svc.main:build"], {}, [("svc.main", "build", "uvicorn", False)]),
    # Flask's command line: --app, else FLASK_APP; a name is called if it is a function (None: decided later)
    (["flask", "--app", "shop:create_app", "run"], {}, [("shop", "create_app", "flask", None)]),
    (["flask", "run", "--host", "0.0.0.0"], {"FLASK_APP": "shop"}, [("shop", None, "flask", None)]),
    (["flask", "run"], {"FLASK_APP": "src/shop.py"}, [("src.shop", None, "flask", None)]),
    (["python", "-m", "flask", "--app=shop:make()", "run"], {}, [("shop", "make", "flask", True)]),
    (["flask", "run"], {}, []),
    # gunicorn runs its configuration file before the application
    (["gunicorn", "-c", "conf/gunicorn_conf.py", "app:app"], {},
     [(None, None, "gunicorn --config", False), ("app", "app", "gunicorn", False)]),
    (["gunicorn", "--config=python:svc.gconf", "app:app"], {},
     [("svc.gconf", None, "gunicorn --config", False), ("app", "app", "gunicorn", False)]),
    (["gunicorn", "-c", "gunicorn.conf.py", "app:app"], {},
     [(None, None, "gunicorn --config", False), ("app", "app", "gunicorn", False)]),
])
def test_factories_and_configuration_files(cmd, env, expected):
    got = entries(None, cmd, env, "/srv")
    assert [(e.module, e.attribute, e.launcher, e.call) for e in got] == expected
    scripts = [e.script for e in got if e.script]
    assert scripts == ([f"/srv/{cmd[2]}"] if cmd[1] == "-c" else [])


def _config(cmd, env=None, present=()):
    got = entries(None, cmd, env or {}, "/srv", is_file=lambda p: p in present)
    return [(e.script or e.module, e.loaded_as, e.search_dir, e.step) for e in got if e.launcher == "gunicorn --config"]


def test_gunicorn_configuration_file_and_where_it_is_looked_for():
    # Application.load_config: -c of the command line, else -c of GUNICORN_CMD_ARGS, else ./gunicorn.conf.py
    # in the working directory when it exists; a file runs as the module __config__ with the working
    # directory (not --chdir's) on the search path, since gunicorn applies --chdir after reading it
    default = ("/srv/gunicorn.conf.py", "__config__", "/srv",
               "runs its configuration file (the default ./gunicorn.conf.py)")
    assert _config(["gunicorn", "app:app"], present={"/srv/gunicorn.conf.py"}) == [default]
    assert _config(["gunicorn", "--chdir", "src", "app:app"], present={"/srv/gunicorn.conf.py"}) == [default]
    assert _config(["gunicorn", "--chdir", "src", "app:app"], present={"/srv/src/gunicorn.conf.py"}) == []
    assert _config(["gunicorn", "app:app"]) == []
    assert entries(None, ["gunicorn", "app:app"], {}, "/srv")[0].module == "app"  # not looked for: no files
    env = {"GUNICORN_CMD_ARGS": "--workers 2 -c 'etc/g conf.py'"}
    assert _config(["gunicorn", "app:app"], env, {"/srv/gunicorn.conf.py"}) == [
        ("/srv/etc/g conf.py", "__config__", "/srv", "runs its configuration file (GUNICORN_CMD_ARGS -c etc/g conf.py)")]
    assert _config(["gunicorn", "--chdir", "src", "-c", "file:conf/g.py", "app:app"], env) == [
        ("/srv/conf/g.py", "__config__", "/srv", "runs its configuration file (-c file:conf/g.py)")]
    assert _config(["gunicorn", "-cconf.py", "-c", "last.py", "app:app"]) == [
        ("/srv/last.py", "__config__", "/srv", "runs its configuration file (-c last.py)")]
    assert _config(["python", "-m", "gunicorn", "app:app"], {"GUNICORN_CMD_ARGS": "-c python:svc.gconf"}) == [
        ("svc.gconf", None, "/srv", "imports its configuration module (GUNICORN_CMD_ARGS -c python:svc.gconf)")]
    assert _config(["gunicorn", "app:app"], {"GUNICORN_CMD_ARGS": "-c 'unclosed"}) == []
    # the other servers have no such file
    assert _config(["uvicorn", "app:app"], present={"/srv/gunicorn.conf.py"}) == []
