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
     [LaunchEntry("svc.main", "app", None, "uvicorn", "/srv")]),
    (None, ["sh", "-c", "exec gunicorn ${WSGI_APP:-mysite.wsgi:application} -w ${WORKERS:-2}"],
     [LaunchEntry("mysite.wsgi", "application", None, "gunicorn", "/srv")]),
    (None, ["nginx", "-g", "daemon off;"], []),
    (None, None, []),
])
def test_launchers(entrypoint, cmd, expected):
    assert entries(entrypoint, cmd, ENV, "/srv") == expected


def test_parameter_expansion():
    assert expand("${APP_MODULE}|$PORT|${MISSING:-d}|${EMPTY:-e}|${EMPTY-f}|${MISSING-g}", ENV) == \
        "svc.main:app|8080|d|e||g"
