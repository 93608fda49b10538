"""Blueprint discovery (frameworks/blueprints.py) on a fixture (tests/fixtures/frameworks/blueprints: an app
factory whose helper walks the package's directory and imports every ``blueprint.py`` and every module of a
``blueprints`` package, as indico's ``discover_blueprints()`` does), checked against a real Flask 3.1.

The interpreter is the oracle: the launcher's call of ``make_app()`` imports exactly the modules the loader
computes, and each breakage fails where deploycheck reports its error, at start-up."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FIXTURES, check, venv
from test_framework_flask import FLASK

pytestmark = pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="fixtures state facts of Python 3.11")

FIXTURE = FIXTURES / "frameworks" / "blueprints"
ENTRY = "portal.app:make_app()"

_ORACLE = r"""
import json, os, sys, traceback
sys.path.insert(0, os.getcwd())
state = {"failure": None}
before = set(sys.modules)
try:
    import portal.app
    portal.app.make_app()
except Exception as e:
    f = [f for f in traceback.extract_tb(e.__traceback__) if f.filename.startswith(os.getcwd())][-1]
    state["failure"] = [os.path.relpath(f.filename), f.lineno, type(e).__name__]
state["modules"] = sorted(m for m in set(sys.modules) - before if m.startswith("portal"))
print(json.dumps(state))
"""


@pytest.fixture(scope="module")
def flask_python():
    return venv(FLASK, no_deps=True)


def _project(tmp_path: Path, edits: dict[str, tuple[str, str] | None] = {}) -> Path:  # noqa: B006
    dest = tmp_path / "project"
    shutil.copytree(FIXTURE, dest)
    for rel, edit in edits.items():
        p = dest / rel
        if edit is None:
            p.unlink()
        else:
            p.write_text(p.read_text().replace(edit[0], edit[1], 1))
    return dest


def _start(python: str, root: Path) -> dict:
    out = subprocess.run([python, "-c", _ORACLE], cwd=root, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def _errors(result) -> list[tuple]:
    return [(f.code, f.path.rpartition("portal/")[2], f.line, f.when) for f in result.findings
            if f.severity == "error"]


def test_the_discovered_modules_are_those_the_factory_imports(tmp_path, flask_python):
    root = _project(tmp_path)
    started = _start(flask_python, root)
    assert started["failure"] is None
    result = check(root, python=flask_python, entries=[ENTRY])
    assert result.findings == []
    project = {m for m in result.closure if m.startswith("portal")}
    assert project == set(started["modules"])
    assert {"portal.news.blueprint", "portal.admin.blueprints", "portal.admin.blueprints.settings"} <= project
    assert not project & {"portal.legacy.routes", "portal.news.blueprint_test"}


def test_a_renamed_view_breaks_a_discovered_blueprint_at_start_up(tmp_path, flask_python):
    root = _project(tmp_path, {"portal/news/views.py": ("class NewsList(", "class NewsIndex(")})
    assert _start(flask_python, root)["failure"] == ["portal/news/blueprint.py", 3, "ImportError"]
    result = check(root, python=flask_python, entries=[ENTRY])
    assert _errors(result) == [("DC102", "news/blueprint.py", 3, "startup")]
    (f,) = result.findings
    assert f.chain[0].module == "portal.app"
    assert any("discover_blueprints() imports the blueprint modules" in h.step for h in f.chain)


def test_a_deleted_module_breaks_a_blueprints_package_at_start_up(tmp_path, flask_python):
    root = _project(tmp_path, {"portal/admin/forms.py": None})
    assert _start(flask_python, root)["failure"] == ["portal/admin/blueprints/settings.py", 3,
                                                     "ModuleNotFoundError"]
    result = check(root, python=flask_python, entries=[ENTRY])
    assert _errors(result) == [("DC101", "admin/blueprints/settings.py", 3, "startup")]


def test_a_loop_the_evaluator_does_not_model_is_not_followed(tmp_path, flask_python):
    # a name test through `re` is not evaluated: nothing is guessed, the modules are not in the closure
    root = _project(tmp_path, {"portal/discovery.py": ('if segments[-1] == "blueprint":',
                                                       'if re.fullmatch("blue.*", segments[-1]):')})
    (root / "portal/discovery.py").write_text("import re\n" + (root / "portal/discovery.py").read_text())
    result = check(root, python=flask_python, entries=[ENTRY])
    assert "portal.news.blueprint" not in result.closure
    assert result.findings == []
