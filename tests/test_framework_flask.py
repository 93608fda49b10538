"""The Flask loader (frameworks/flask.py), the launchers' factories (frameworks/launchers.py) and start-up
functions (index/startup.py) on a fixture project (tests/fixtures/frameworks/flask: an app factory that
imports and registers its blueprints, one through a helper it calls, and reads its configuration class by a
dotted string), checked against a real Flask 3.1.

The interpreter is the oracle: the project copy is started as a server starts it (``import wsgi``, whose
module level calls the factory, or the factory called by the launcher); each breakage must fail exactly where
deploycheck reports its error, in the phase it says.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import FIXTURES, check, cli, venv

FIXTURE = FIXTURES / "frameworks" / "flask"
FLASK = ["Flask==3.1.3", "Werkzeug==3.1.9", "Jinja2==3.1.6", "MarkupSafe==3.0.4", "itsdangerous==2.2.0",
         "click==8.5.1", "blinker==1.9.0"]

# Run by the project's interpreter in the project copy: import the module, or call the factory as a launcher.
_ORACLE = r"""
import importlib, json, os, sys, traceback
out, what = sys.argv[1], sys.argv[2]
root = os.getcwd()
sys.path.insert(0, root)
state = {"failure": None}
try:
    module, _, factory = what.partition(":")
    mod = importlib.import_module(module)
    if factory:
        getattr(mod, factory)()
except Exception as e:
    frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename.startswith(root + os.sep)]
    where = [os.path.relpath(frames[-1].filename, root), frames[-1].lineno] if frames else None
    state["failure"] = {"where": where, "message": f"{type(e).__name__}: {e}"[:2000]}
with open(out, "w") as f:
    json.dump(state, f)
"""


@pytest.fixture(scope="module")
def flask_python():
    return venv(FLASK, no_deps=True)


@pytest.fixture(scope="module")
def summaries(tmp_path_factory):
    return tmp_path_factory.mktemp("summaries")


def project(tmp_path: Path, edits: dict[str, tuple[str, str]]) -> Path:
    """A copy of the fixture with ``edits`` applied: ``{path: (old, new)}`` replaces the first ``old``."""
    dest = tmp_path / "project"
    shutil.copytree(FIXTURE, dest)
    for rel, (old, new) in edits.items():
        path = dest / rel
        text = path.read_text()
        assert old in text, (rel, old)
        path.write_text(text.replace(old, new, 1))
    return dest


def started(python: str, root: Path, what: str) -> dict | None:
    out = root.parent / "oracle.json"
    env = {"PATH": os.environ.get("PATH", "/usr/bin"), "HOME": str(root.parent)}
    subprocess.run([python, "-c", _ORACLE, str(out), what], cwd=root, env=env, check=True, timeout=300,
                   capture_output=True)
    return json.loads(out.read_text())["failure"]


def brief(result, root: Path) -> list[tuple]:
    from deploycheck.render.text import chain_text

    return [(f.code, f.severity, f.when, os.path.relpath(f.path, root), f.line, f.symbol,
             chain_text(f).replace(str(root) + "/", "")) for f in result.findings]


FACTORY = "shopapp:create_app()"


def test_the_clean_project_starts_and_has_no_finding(tmp_path, flask_python, summaries):
    root = project(tmp_path, {})
    assert started(flask_python, root, "wsgi") is None
    assert started(flask_python, root, "shopapp:create_app") is None
    for entries in (["wsgi"], [FACTORY], []):
        assert brief(check(root, flask_python, entries, summaries), root) == []


def test_the_factory_s_imports_are_start_up_edges(tmp_path, flask_python, summaries):
    # the blueprints imported inside create_app() and inside the helper it calls load unshielded; the audit
    # module, imported under a condition, stays shielded
    root = project(tmp_path, {})
    for entries in (["wsgi"], [FACTORY]):
        closure = check(root, flask_python, entries, summaries).closure
        ours = {m: shield for m, (origin, shield) in closure.items() if origin == "project"}
        assert ours == {"shopapp": 0, "shopapp.settings": 0, "shopapp.views": 0, "shopapp.models": 0,
                        "shopapp.admin": 0, "shopapp.audit": 2, **({"wsgi": 0} if entries == ["wsgi"] else {})}


BREAKAGES = {
    # a blueprint renamed: the factory's import fails when it runs
    "blueprint renamed": (
        {"shopapp/views.py": ("bp = shop", "blueprint = shop")},
        ("DC102", "shopapp/__init__.py", 11, "bp"), ["shopapp/__init__.py", 11]),
    # a blueprint the helper called by the factory imports, renamed
    "helper's blueprint renamed": (
        {"shopapp/admin.py": ('admin_bp = Blueprint("admin", __name__)\n\n\n@admin_bp',
                              'dashboard_bp = Blueprint("admin", __name__)\n\n\n@dashboard_bp')},
        ("DC102", "shopapp/__init__.py", 23, "admin_bp"), ["shopapp/__init__.py", 23]),
    # what a blueprint module imports at its module level, renamed
    "model renamed": (
        {"shopapp/models.py": ("class Product:", "class Item:")},
        ("DC102", "shopapp/views.py", 3, "Product"), ["shopapp/views.py", 3]),
    # the configuration class named by a string, renamed
    "configuration class renamed": (
        {"shopapp/settings.py": ("class Production(Base)", "class Prod(Base)")},
        ("DC106", "shopapp/__init__.py", 10, "shopapp.settings.Production"), ["shopapp/__init__.py", 10]),
}


@pytest.mark.parametrize("name", sorted(BREAKAGES))
def test_each_breakage_fails_where_and_when_the_check_says(tmp_path, flask_python, summaries, name):
    edits, (code, path, line, symbol), where = BREAKAGES[name]
    root = project(tmp_path, edits)
    for what, entries, when, step in (("wsgi", ["wsgi"], "import", "create_app() called at import"),
                                      ("shopapp:create_app", [FACTORY], "startup",
                                       "the launcher calls shopapp:create_app()")):
        failure = started(flask_python, root, what)
        assert failure is not None and failure["where"] == where, failure
        got = [f for f in brief(check(root, flask_python, entries, summaries), root) if f[1] == "error"]
        assert [f[:6] for f in got] == [(code, "error", when, path, line, symbol)], got
        assert step in got[0][6], got[0][6]
    # with every module as an entry (default mode), the factory still runs at wsgi's import
    got = [f[:6] for f in brief(check(root, flask_python, [], summaries), root) if f[1] == "error"]
    assert (code, "error", "import", path, line, symbol) in got


def test_a_factory_nobody_calls_is_only_a_function(tmp_path, flask_python, summaries):
    # with shopapp alone as the entry nothing calls create_app(): its failing import is an error when called
    root = project(tmp_path, {"shopapp/views.py": ("bp = shop", "blueprint = shop")})
    got = brief(check(root, flask_python, ["shopapp"], summaries), root)
    assert [f[:5] for f in got] == [("DC102", "error", "call", "shopapp/__init__.py", 11)]


def test_a_renamed_function_under_a_condition_fails_when_called(tmp_path, flask_python, summaries):
    # `audit.install` renamed: the line sits under an `if`, but the attribute exists on no path
    root = project(tmp_path, {"shopapp/audit.py": ("def install(app)", "def setup(app)")})
    for entries in ([FACTORY], ["shopapp"]):
        got = brief(check(root, flask_python, entries, summaries), root)
        assert [f[:6] for f in got] == [("DC103", "error", "call", "shopapp/__init__.py", 18, "install")]
    env = {"PATH": os.environ.get("PATH", "/usr/bin"), "SHOP_AUDIT": "1"}
    proc = subprocess.run([flask_python, "-c", "import wsgi"], cwd=root, env=env, capture_output=True, text=True,
                          check=False)
    assert "has no attribute 'install'" in proc.stderr


def test_flask_app_discovery_calls_the_factory(tmp_path, flask_python, summaries):
    # `flask --app shopapp run`: the module has no `app`, so Flask calls create_app(); `--app shopapp:create_app`
    # calls it because it is a function
    from deploycheck import frameworks
    from deploycheck.artifact.files import HostFiles
    from deploycheck.check import open_program
    from deploycheck.environment import interpreter, launcher
    from deploycheck.target.project import open_project

    root = project(tmp_path, {})
    for argv, env in ((["flask", "--app", "shopapp", "run"], {}), (["flask", "run"], {"FLASK_APP": "shopapp:create_app"}),
                      (["python", "-m", "flask", "--app", "shopapp:create_app()", "run"], {})):
        program, _ = open_program(interpreter.probe(flask_python), open_project(str(root)).roots, HostFiles(),
                                  None, True)
        try:
            program.launch = launcher.entries(argv, None, env, str(root))
            frameworks.close(program, [e.module for e in program.launch])
            assert ("shopapp", "create_app") in program.reached, argv
            assert program.reached[("shopapp", "register_admin")].phase == "startup"
            assert program.nodes["shopapp.admin"].step == "flask calls shopapp:create_app()"
        finally:
            program.store.close()


def test_entries_naming_objects(tmp_path, flask_python, summaries):
    root = project(tmp_path, {})
    code, _, err = cli("check", root, "--python", flask_python, "--entry", "shopapp:create_app", "--no-cache")
    assert (code, err) == (0, "")
    for bad in ("shopapp:", "shopapp:create_app(", "shop-app:create_app()", "shopapp:1app"):
        code, _, err = cli("check", root, "--python", flask_python, "--entry", bad, "--no-cache")
        assert code == 2 and "is not a module name" in err and len(err.strip().splitlines()) == 1, (bad, err)


def test_the_configuration_s_entries_name_factories_too(tmp_path, flask_python, summaries):
    root = project(tmp_path, {"shopapp/views.py": ("bp = shop", "blueprint = shop")})
    (root / "pyproject.toml").write_text('[tool.deploycheck]\nentries = ["shopapp:create_app()"]\n')
    got = brief(check(root, flask_python, [], summaries), root)
    assert [f[:5] for f in got] == [("DC102", "error", "startup", "shopapp/__init__.py", 11)]
    assert got[0][6] == "shopapp → the launcher calls shopapp:create_app() → shopapp"
