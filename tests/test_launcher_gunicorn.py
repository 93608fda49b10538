"""gunicorn's configuration file, checked in an image: ``-c``, ``GUNICORN_CMD_ARGS``'s ``-c``, else
``./gunicorn.conf.py`` in the working directory. It runs before the application, so what it imports is
start-up code whose chain begins with gunicorn's step. Real gunicorn (``--check-config``, run in the same tree
on the host) is the oracle for where the file is looked for and what fails in it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import cli_json, venv, write_tree
from test_image_check import python_layer  # noqa: F401  (the fixture)
from test_image_layers import _tar, oci_layout

pytestmark = [
    pytest.mark.skipif(not os.path.isdir("/usr/lib/python3.11"), reason="needs Debian's python3.11 files"),
    pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="the oracle's Python is the image's, 3.11"),
]

APP = {
    "app/__init__.py": "",
    "app/main.py": "def app(environ, start_response):\n    return []\n",
    "app/settings.py": "workers = 2\n",
}


def _gunicorn_fails(root, argv, env=None) -> str:
    """The error real gunicorn stops with, started in ``root`` (its working directory); "" when it starts."""
    gunicorn = os.path.join(os.path.dirname(venv(["gunicorn==23.0.0"])), "gunicorn")
    proc = subprocess.run([gunicorn, "--check-config", *argv], cwd=root, capture_output=True, text=True,
                          env={"PATH": os.environ.get("PATH", ""), **(env or {})}, timeout=120, check=False)
    if proc.returncode == 0:
        return ""
    return proc.stderr.strip().splitlines()[-1]


def _check(tmp_path, layer, tree, argv, env=None):
    """``deploycheck check`` of an image holding ``tree`` in /srv/app (its working directory) and running
    ``argv``: [(code, path in /srv/app, line, symbol, when, chain)]."""
    root = tmp_path / "layout"
    members = [(f"srv/app/{rel}", "file", text.encode()) for rel, text in tree.items()]
    oci_layout(root, [layer, _tar(members)],
               config={"Env": ["PATH=/usr/local/bin:/usr/bin:/bin", *(f"{k}={v}" for k, v in (env or {}).items())],
                       "WorkingDir": "/srv/app", "Cmd": argv})
    code, doc = cli_json("check", f"oci:{root}", "--no-cache")
    assert code == (1 if doc["findings"] else 0)
    return [(f["code"], f["path"].removeprefix("/srv/app/"), f["line"], f["symbol"], f["when"],
             " → ".join(h["module"] + (f" → {h['step']}" if h["step"] else "") for h in f["chain"]))
            for f in doc["findings"]]


CONF = "import json\nfrom app.settings import workers, nothere\n"


def test_the_default_configuration_file_in_the_working_directory_runs_first(tmp_path, python_layer):  # noqa: F811
    tree = {**APP, "gunicorn.conf.py": CONF}
    write_tree(tmp_path / "host", tree)
    argv = ["gunicorn", "app.main:app"]
    assert _gunicorn_fails(tmp_path / "host", argv[1:]) == \
        "ImportError: cannot import name 'nothere' from 'app.settings' (" + str(tmp_path / "host/app/settings.py") + ")"
    assert _check(tmp_path, python_layer, tree, argv) == [
        ("DC102", "gunicorn.conf.py", 2, "nothere", "startup",
         "gunicorn → runs its configuration file (the default ./gunicorn.conf.py)")]


def test_the_default_is_not_looked_for_in_the_chdir_directory(tmp_path, python_layer):  # noqa: F811
    # gunicorn looks for ./gunicorn.conf.py before it applies --chdir: the one in src/ never runs
    tree = {f"src/{rel}": text for rel, text in APP.items()} | {"src/gunicorn.conf.py": CONF}
    write_tree(tmp_path / "host", tree)
    argv = ["gunicorn", "--chdir", "src", "app.main:app"]
    assert _gunicorn_fails(tmp_path / "host", argv[1:]) == ""
    assert _check(tmp_path, python_layer, tree, argv) == []


def test_a_configuration_file_named_in_gunicorn_cmd_args(tmp_path, python_layer):  # noqa: F811
    # the file's own directory is not on the search path: gunicorn runs it by its path
    tree = {**APP, "conf/g.py": "import helper\n", "conf/helper.py": "", "gunicorn.conf.py": CONF}
    write_tree(tmp_path / "host", tree)
    env = {"GUNICORN_CMD_ARGS": "--workers 2 -c conf/g.py"}
    argv = ["gunicorn", "app.main:app"]
    assert _gunicorn_fails(tmp_path / "host", argv[1:], env) == "ModuleNotFoundError: No module named 'helper'"
    assert _check(tmp_path, python_layer, tree, argv, env) == [
        ("DC101", "conf/g.py", 1, "helper", "startup",
         "gunicorn → runs its configuration file (GUNICORN_CMD_ARGS -c conf/g.py)")]
    # -c of the command line wins over the environment's
    write_tree(tmp_path / "host", {"conf/ok.py": "import app.settings\n"})
    argv = ["gunicorn", "-c", "conf/ok.py", "app.main:app"]
    assert _gunicorn_fails(tmp_path / "host", argv[1:], env) == ""
    assert _check(tmp_path / "2", python_layer, {**tree, "conf/ok.py": "import app.settings\n"}, argv, env) == []


def test_a_missing_configuration_file_named_with_c(tmp_path, python_layer):  # noqa: F811
    write_tree(tmp_path / "host", APP)
    argv = ["gunicorn", "-c", "conf/none.py", "app.main:app"]
    assert "conf/none.py' doesn't exist" in _gunicorn_fails(tmp_path / "host", argv[1:])
    assert [f[:2] for f in _check(tmp_path, python_layer, APP, argv)] == [("DC505", "<image command: gunicorn --config>")]


def test_an_image_command_naming_no_object(tmp_path, python_layer):  # noqa: F811
    tree = {**APP, "app/dotted.py": "from app import main as holder  # noqa: F401\n"}
    write_tree(tmp_path / "host", tree)
    argv = ["gunicorn", "app.main:create()"]
    assert _gunicorn_fails(tmp_path / "host", argv[1:]) == \
        "gunicorn.errors.AppImportError: Failed to find attribute 'create' in 'app.main'."
    assert _check(tmp_path, python_layer, tree, argv) == [("DC505", "app/main.py", 0, "create", "startup", "")]
    # uvicorn's MODULE:NAME.ATTR looks up each part in turn: only the first is the module's
    python = venv(["uvicorn==0.30.6"])
    code = "from uvicorn.importer import import_from_string as load\nload('app.dotted:holder.app')"
    assert subprocess.run([python, "-c", code], cwd=tmp_path / "host", check=False).returncode == 0
    assert _check(tmp_path / "2", python_layer, tree, ["uvicorn", "app.dotted:holder.app"]) == []


def test_a_configuration_module_named_with_python(tmp_path, python_layer):  # noqa: F811
    tree = {**APP, "app/gconf.py": "import yaml_gone  # noqa: F401\n"}
    write_tree(tmp_path / "host", tree)
    argv = ["gunicorn", "-c", "python:app.gconf", "app.main:app"]
    assert _gunicorn_fails(tmp_path / "host", argv[1:]) == "Error: No module named 'yaml_gone'"
    assert _check(tmp_path, python_layer, tree, argv) == [
        ("DC101", "app/gconf.py", 1, "yaml_gone", "startup",
         "gunicorn → imports its configuration module (-c python:app.gconf)")]
