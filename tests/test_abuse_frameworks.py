"""Abuse of what the Celery and entry-point loaders read (issue 9's guarantees on issue 10's new inputs): a
configuration module or an ``entry_points.txt`` that is a FIFO, huge, malformed or linked outside the
project. Each run is the real command in a sandbox (tests/abuse.py) with a real Celery environment."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from abuse import OUTSIDE_SECRET
from conftest import bare_venv, venv
from test_frameworks_celery import PINS

pytestmark = pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="the environment is pinned for 3.11")

APP = {"proj/__init__.py": "",
       "proj/celery.py": "from celery import Celery\n\napp = Celery('proj', include=['proj.jobs'])\n"
                         "app.config_from_object('proj.celeryconfig')\n",
       "proj/jobs.py": "import proj_gone\n"}
SECRET_TASK = "task_named_in_secret_9d2e"


@pytest.fixture(scope="module")
def base():
    return venv(PINS, no_deps=True)


def test_a_configuration_module_that_is_a_fifo(sandbox, base):
    sandbox.write(APP)
    os.mkfifo(sandbox.project / "proj" / "celeryconfig.py")
    out = sandbox.run("check", ".", "--python", base, "--entry", "proj.celery", "--no-cache")
    out.assert_safe(code=1, one_line=False)
    assert "proj/jobs.py:1:1: DC101" in out.stdout  # the rest of the boot is still followed


def test_a_configuration_linked_outside_is_followed_but_never_quoted(sandbox, base):
    (sandbox.outside / "celeryconfig.py").write_text(
        f"imports = ('{OUTSIDE_SECRET.replace('-', '_')}',)\n"
        f"beat_schedule = {{'x': {{'task': 'proj.jobs.{SECRET_TASK}'}}}}\n")
    sandbox.write(APP)
    os.symlink(sandbox.outside / "celeryconfig.py", sandbox.project / "proj" / "celeryconfig.py")
    secrets = (OUTSIDE_SECRET, OUTSIDE_SECRET.replace("-", "_"), SECRET_TASK)
    for fmt in ("text", "json"):
        out = sandbox.run("check", ".", "--python", base, "--entry", "proj.celery", "--no-cache",
                          "--format", fmt)
        out.assert_safe(code=1, one_line=False, secrets=secrets)


@pytest.mark.parametrize("kind", ["fifo", "huge", "garbage", "directory"])
def test_entry_points_files_that_are_not_what_they_say(sandbox, base, tmp_path, kind):
    python, site = bare_venv(tmp_path)
    (site / "base.pth").write_text(f"{next(Path(base).parent.parent.glob('lib/python3*/site-packages'))}\n")
    info = site / "bad_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Name: bad-plugin\nVersion: 1.0\n")
    target = info / "entry_points.txt"
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "huge":
        with open(target, "wb") as f:  # sparse: no disk is written for it
            f.truncate(64 * 1024 * 1024)
    elif kind == "garbage":
        target.write_bytes(b"[celery.commands\n\xff\xfe=\x00 = :\n[\n" * 1000)
    else:
        target.mkdir()
    sandbox.write({"svc.py": "X = 1\n"})
    out = sandbox.run("check", ".", "--python", python, "--entry", "celery.bin.celery", "--no-cache")
    out.assert_safe(code=(0, 1), one_line=False)
