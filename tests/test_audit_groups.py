"""audit: grouping crashes and picking the one that stopped the service, from real servers' logs."""

from __future__ import annotations

import os
import subprocess

from audit_crash import crash
from conftest import venv, write_tree

from deploycheck.audit import classify, groups, logs, tracebacks

GUNICORN = ["gunicorn==23.0.0"]


def gunicorn_log(root, files) -> str:
    """Start a real gunicorn on ``files`` (module ``wsgi``) and return what it wrote (it must give up)."""
    write_tree(root, files)
    python = venv(GUNICORN)
    proc = subprocess.run([python, "-m", "gunicorn", "wsgi:application", "--bind", "127.0.0.1:0", "--workers", "1"],
                          cwd=root, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 3, proc.stderr  # gunicorn's exit status when a worker failed to boot
    return proc.stderr


def grouped(tmp_path, text):
    path = tmp_path / "svc.log"
    path.write_text(text)
    return groups.group(tracebacks.collect(logs.read(str(path))))


BROKEN = {"wsgi.py": "from app.settings import conf\napplication = None\n", "app/__init__.py": "",
          "app/settings.py": "conf = {'db': DATABSE_URL}\n"}


def test_gunicorn_worker_failed_to_boot_is_the_stopping_crash(tmp_path):
    log = gunicorn_log(tmp_path / "svc", BROKEN)
    result = grouped(tmp_path, log)
    assert result.crashes == 1 and len(result.groups) == 1
    g = result.stopped
    assert g is result.groups[0] and g.sample.exc_type == "NameError"
    assert g.sample.message == "name 'DATABSE_URL' is not defined"
    why = " | ".join(result.why)
    assert "raised while importing" in why and "app/settings.py" in why
    assert "Worker failed to boot" in why and "import_app" in why
    assert [e.kind for e in result.timeline] == ["start", "ready", "start", "crash", "stop", "stop", "stop"]


def test_restart_loop_counts_one_group_across_revisions(tmp_path):
    log = gunicorn_log(tmp_path / "svc", BROKEN)
    result = grouped(tmp_path, log + log + log)
    assert len(result.groups) == 1 and result.stopped.count == 3
    assert any("restart loop" in w for w in result.why)
    assert result.stopped.first_seen.line < result.stopped.last_seen.line


def test_request_crash_is_not_picked_over_a_later_startup_crash(tmp_path):
    request = crash(tmp_path / "req", {"h.py": (
        "import sys, traceback\n"
        "def handle(path):\n    return {'/': 1}[path]\n"
        "for p in ('/a', '/b', '/c'):\n"
        "    print('ERROR:    Exception in ASGI application', file=sys.stderr)\n"
        "    try:\n        handle(p)\n    except KeyError:\n        traceback.print_exc()\n"
        "sys.exit(1)\n")}, "h.py")
    boot = gunicorn_log(tmp_path / "svc", BROKEN)
    result = grouped(tmp_path, request + boot)
    assert [g.sample.exc_type for g in result.groups] == ["KeyError", "NameError"]
    assert result.groups[0].count == 3 and result.groups[0].request is not None
    assert result.stopped is result.groups[1]
    # only request crashes: the most frequent one, said so
    only = grouped(tmp_path, request)
    assert only.stopped is only.groups[0] and "no crash with start-up evidence" in only.why[0]


def test_in_app_frames():
    from deploycheck.audit.model import Frame

    assert groups.in_app(Frame("/app/api/main.py", 3, "f"))
    assert not groups.in_app(Frame("/usr/local/lib/python3.12/site-packages/django/x.py", 3, "f"))
    assert not groups.in_app(Frame("/usr/lib/python3/dist-packages/x.py", 3, "f"))
    assert not groups.in_app(Frame("/usr/local/lib/python3.12/importlib/__init__.py", 3, "f"))
    assert not groups.in_app(Frame("<frozen importlib._bootstrap>", 3, "f"))


def test_uvicorn_lifespan_startup_failure(tmp_path):
    root = write_tree(tmp_path / "svc", {"main.py": (
        "import os\n\n"
        "async def app(scope, receive, send):\n"
        "    if scope['type'] == 'lifespan':\n"
        "        while True:\n"
        "            message = await receive()\n"
        "            if message['type'] == 'lifespan.startup':\n"
        "                dsn = os.environ['DATABASE_URL']\n"
        "                await send({'type': 'lifespan.startup.complete'})\n")})
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    proc = subprocess.run([venv(["uvicorn==0.30.6"]), "-m", "uvicorn", "main:app", "--port", "0", "--lifespan", "on"],
                          cwd=root, capture_output=True, text=True, timeout=120, check=False, env=env)
    assert proc.returncode == 3, proc.stderr
    result = grouped(tmp_path, proc.stderr)
    assert result.stopped.sample.exc_type == "KeyError"
    why = " | ".join(result.why)
    assert "Application startup failed" in why and "Waiting for application startup" in why
    assert classify.classify(result.stopped.sample).kind == "missing-setting"


def test_crashes_that_share_their_frames_are_grouped_by_their_own_chain():
    """Replays of a crash share its parts, and grouping reuses the last fingerprint for them; a crash with
    the same frames and another type, or another cause, is still a group of its own."""
    from deploycheck.audit.model import Frame, LogSpot, Traceback

    frames = (Frame("/app/wsgi.py", 1, "<module>"), Frame("/app/app/settings.py", 3, "<module>"))
    first = Traceback("NameError", "name 'X' is not defined", frames, spot=LogSpot(10))
    again = first.replace(spot=LogSpot(20))
    other = first.replace(exc_type="KeyError", spot=LogSpot(30))
    cause = Traceback("OSError", "boom", (Frame("/app/db.py", 4, "connect"),))
    caused = first.replace(cause=cause, spot=LogSpot(40))
    grouping = groups.group([first, again, other, caused, again])
    assert [(g.key[0], g.count) for g in grouping.groups] == \
        [(("NameError",), 3), (("KeyError",), 1), (("OSError", "NameError"), 1)]
