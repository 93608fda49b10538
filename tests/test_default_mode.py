"""Default mode (no entries named) on repository layouts real services have: directories of scripts, a
top-level directory that an installed distribution shadows, namespace packages, modules the search path
resolves elsewhere. Never exit 2 for them; every file checked the way it runs (the interpreter as oracle)."""

from __future__ import annotations

import json
import subprocess
import sys
from textwrap import dedent

import pytest
from conftest import bare_venv, check, cli, write_tree

pytestmark = pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="fixtures state facts of Python 3.11")


def _tree(root, files: dict[str, str]):
    return write_tree(root, {path: dedent(text).lstrip("\n") for path, text in files.items()})


def _got(result, root) -> list[tuple]:
    return [(f.code, f.severity, str(f.path).replace(str(root) + "/", ""), f.line, f.symbol)
            for f in result.findings]


def _installed(site, name: str, version: str, files: dict[str, str]) -> None:
    """A distribution installed into ``site`` as an installer leaves it: its files and a RECORD."""
    write_tree(site, files)
    info = site / f"{name}-{version}.dist-info"
    record = "".join(f"{path},,\n" for path in files) + f"{info.name}/METADATA,,\n{info.name}/RECORD,,\n"
    write_tree(info, {"METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
                      "RECORD": record})


@pytest.fixture
def alembic_env(tmp_path):
    python, site = bare_venv(tmp_path)
    _installed(site, "alembic", "1.13.1", {"alembic/__init__.py": "", "alembic/context.py": "config = None\n",
                                          "alembic/op.py": "def add_column():\n    pass\n"})
    return python


def test_a_directory_shadowed_by_an_installed_distribution_is_checked_as_scripts(tmp_path, alembic_env):
    # the incident's repository: a top-level alembic/ without __init__.py, beside the installed alembic
    project = _tree(tmp_path / "project", {
        "app/__init__.py": "",
        "app/models.py": "class Base:\n    pass\n",
        "alembic/env.py": "from alembic import context\nfrom app.models import Base\n",
        "alembic/versions/1a2b_add_table.py": "from alembic import op\nfrom app.models import Removed\n",
    })
    code, out, err = cli("check", project, "--python", alembic_env, "--no-cache", "--format", "json")
    assert (code, err) == (1, "")
    doc = json.loads(out)
    assert [(f["code"], f["path"].replace(f"{project}/", ""), f["line"], f["symbol"])
            for f in doc["findings"]] == [("DC102", "alembic/versions/1a2b_add_table.py", 2, "Removed")]
    assert doc["target"]["scripts"] == [
        {"path": "alembic", "modules": ["env"],
         "why": "not importable as alembic: shadowed by the installed alembic 1.13.1"},
        {"path": "alembic/versions", "modules": ["1a2b_add_table"],
         "why": "not importable as alembic.versions: shadowed by the installed alembic 1.13.1"}]
    assert doc["summary"]["notes"] == [
        "checked as scripts, each directory first on its search path: alembic/ (not importable as alembic: "
        "shadowed by the installed alembic 1.13.1), alembic/versions/ (not importable as alembic.versions: "
        "shadowed by the installed alembic 1.13.1)"]
    # the interpreter: `alembic` is the installed one, env.py runs, the revision fails as reported
    env = {"PYTHONPATH": str(project), "PATH": "/usr/bin:/bin"}
    run = subprocess.run([alembic_env, "-c", "import alembic; print(alembic.__file__)"], cwd=project, env=env,
                         capture_output=True, text=True)
    assert "site-packages" in run.stdout
    assert subprocess.run([alembic_env, "alembic/env.py"], cwd=project, env=env).returncode == 0
    run = subprocess.run([alembic_env, "alembic/versions/1a2b_add_table.py"], cwd=project, env=env,
                         capture_output=True, text=True)
    assert run.stderr.strip().splitlines()[-1].startswith("ImportError: cannot import name 'Removed'")
    code, out, _ = cli("check", project, "--python", alembic_env, "--no-cache")
    assert "note: checked as scripts, each directory first on its search path: alembic/ (not import" in out


def test_scripts_import_their_siblings(tmp_path):
    # pgAdmin's pgacloud/: no __init__.py; `python pgacloud/pgacloud.py` loads providers/*.py, which import
    # `providers._abstract` and `utils.io` (six false DC101 when checked as modules of a namespace package)
    _tree(tmp_path, {
        "pgacloud/pgacloud.py": """
            import os
            import sys


            def main():
                sys.path.append(os.path.dirname(os.path.realpath(__file__)))
                from providers import aws

                print(aws.NAME)


            if __name__ == "__main__":
                main()
            """,
        "pgacloud/providers/__init__.py": "",
        "pgacloud/providers/_abstract.py": "class AbsProvider:\n    pass\n",
        "pgacloud/providers/aws.py": """
            from providers._abstract import AbsProvider
            from utils.io import debug
            from utils.misc import get_my_ip

            NAME = "aws"
            """,
        "pgacloud/utils/__init__.py": "",
        "pgacloud/utils/io.py": "def debug():\n    pass\n",
        "pgacloud/utils/misc.py": "def get_random_id():\n    pass\n",
    })
    result = check(tmp_path)
    assert _got(result, tmp_path) == [("DC102", "error", "pgacloud/providers/aws.py", 3, "get_my_ip")]
    assert [(d.rel, sorted(d.modules), d.why) for d in result.layout.scripts] == [
        ("pgacloud", ["pgacloud", "providers", "providers._abstract", "providers.aws", "utils", "utils.io",
                      "utils.misc"], "holds scripts")]
    assert result.findings[0].module == "providers.aws"  # its name as the script's search path has it
    run = subprocess.run([sys.executable, "pgacloud/pgacloud.py"], cwd=tmp_path, capture_output=True,
                         text=True)
    assert run.stderr.strip().splitlines()[-1] == \
        f"ImportError: cannot import name 'get_my_ip' from 'utils.misc' ({tmp_path}/pgacloud/utils/misc.py)"


def test_a_namespace_package_stays_a_package(tmp_path):
    # plugins/ has no __init__.py, but its modules import each other relatively: a PEP 420 namespace
    # package, not a directory of scripts. tools/ holds a json.py that hides the standard library's for a
    # script run there; the app imports tools.report as a namespace module, where `json` is the standard
    # library's: it is checked that way, not as a script (pgAdmin imports pgacloud.utils.azure_cache, while
    # pgacloud/ also holds the pgacloud.py script)
    _tree(tmp_path, {
        "app/__init__.py": "",
        "app/main.py": "import plugins.a\nimport tools.report\n",
        "plugins/a.py": "from . import b\nfrom .b import VALUE\n",
        "plugins/b.py": "VALUE = 1\n",
        "tools/json.py": "SHADOW = True\n",
        "tools/report.py": "from json import dumps\n",
        "tools/cli.py": "from json import SHADOW\n",  # a script: its json is tools/json.py
    })
    result = check(tmp_path)
    assert _got(result, tmp_path) == []
    assert {"plugins.a", "plugins.b"} <= set(result.entries)
    assert [(d.rel, sorted(d.modules)) for d in result.layout.scripts] == [
        ("tools", ["cli", "json", "report"])]
    for run in (["-c", "import app.main"], ["tools/cli.py"]):
        proc = subprocess.run([sys.executable, *run], cwd=tmp_path, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr


def test_modules_the_search_path_loads_from_elsewhere_are_not_entries(tmp_path):
    _tree(tmp_path, {
        "utils.py": "import not_installed_anywhere\n",  # the package utils/ is imported instead
        "utils/__init__.py": "VALUE = 1\n",
        "time.py": "import also_not_installed\n",  # the built-in module wins
        "run-server.py": "import utils\nfrom utils import VALUE, GONE\n",  # a script only a path can run
        "service.py": "import time\n\nprint(time.time() > 0)\n",
    })
    result = check(tmp_path)
    assert _got(result, tmp_path) == [("DC102", "error", "run-server.py", 2, "GONE")]
    assert result.layout.skipped == [("time.py", "shadowed by the built-in module time"),
                                     ("utils.py", "shadowed by utils/__init__.py")]
    assert result.notes == ["not entries, since the search path loads another module by their name: "
                            "time.py (shadowed by the built-in module time), "
                            "utils.py (shadowed by utils/__init__.py)"]
    run = subprocess.run([sys.executable, "run-server.py"], cwd=tmp_path, capture_output=True, text=True)
    assert run.stderr.strip().splitlines()[-1] == \
        f"ImportError: cannot import name 'GONE' from 'utils' ({tmp_path}/utils/__init__.py)"
    run = subprocess.run([sys.executable, "service.py"], cwd=tmp_path, capture_output=True, text=True)
    assert run.stdout == "True\n"


def test_migrate_apply_rechecks_a_repository_with_a_shadowed_directory(tmp_path, alembic_env):
    # `migrate apply` re-checks the edited tree in default mode: the same rule, no refusal
    project = _tree(tmp_path / "project", {
        "pyproject.toml": """
            [[tool.deploycheck.migrations]]
            id = "cfg"
            old = "app.old.Config"
            new = "app.new.get_config()"
            [tool.deploycheck.migrations.attributes]
            SIZE = "size"
            """,
        "app/__init__.py": "",
        "app/old.py": "class Config:\n    SIZE = 1\n",
        "app/new.py": """
            class _Config:
                size = 1


            def get_config():
                return _Config()
            """,
        "app/main.py": "from app.old import Config\n\nSIZE = Config.SIZE\n",
        "alembic/env.py": "from alembic import context\n",
    })
    code, _, err = cli("migrate", "apply", "cfg", project, "--python", alembic_env, "--write", "--no-cache")
    assert (code, err) == (0, "migrate apply cfg: rewrote 2 references in 1 file\n")
    assert (project / "app/main.py").read_text() == \
        "from app.new import get_config\n\nSIZE = get_config().size\n"


def test_a_repository_of_scripts_only(tmp_path):
    _tree(tmp_path, {"deploy-db.py": "import sys\nimport not_installed_here\n"})
    result = check(tmp_path)
    assert _got(result, tmp_path) == [("DC101", "error", "deploy-db.py", 2, "not_installed_here")]
    assert result.entries == ["deploy-db"]
    run = subprocess.run([sys.executable, "deploy-db.py"], cwd=tmp_path, capture_output=True, text=True)
    assert run.stderr.strip().splitlines()[-1] == "ModuleNotFoundError: No module named 'not_installed_here'"


GUNICORN_CONF = {
    "app/__init__.py": "",
    "app/settings.py": "WORKERS = 2\n",
    "gunicorn.conf.py": """
        from app.settings import WORKERS, TIMEOUT
        bind = "0.0.0.0:8000"
        workers = compute_workers(WORKERS)
        """,
}


@pytest.fixture
def gunicorn_env(tmp_path):
    python, site = bare_venv(tmp_path / "env")
    _installed(site, "gunicorn", "23.0.0", {"gunicorn/__init__.py": "version_info = (23, 0, 0)\n",
                                           "gunicorn/glogging.py": "class Logger:\n    pass\n"})
    return python


def test_the_gunicorn_configuration_file_is_checked_as_gunicorn_runs_it(tmp_path, gunicorn_env):
    # gunicorn started in the project root without -c runs ./gunicorn.conf.py as the module __config__ before
    # the application; its name is no module name, and it was skipped without a word
    _tree(tmp_path, GUNICORN_CONF)
    run = ("import runpy, sys\nsys.path.insert(0, '.')\ntry:\n    runpy.run_path('gunicorn.conf.py', "
           "run_name='__config__')\nexcept Exception as e:\n    print(type(e).__name__, e)\n")
    out = subprocess.run([sys.executable, "-c", run], cwd=tmp_path, capture_output=True, text=True).stdout
    assert out.strip() == "ImportError cannot import name 'TIMEOUT' from 'app.settings' " \
                          f"({tmp_path}/app/settings.py)"
    result = check(tmp_path, python=gunicorn_env)
    assert _got(result, tmp_path) == [("DC102", "error", "gunicorn.conf.py", 1, "TIMEOUT"),
                                      ("DC201", "error", "gunicorn.conf.py", 3, "compute_workers")]
    assert [f.when for f in result.findings] == ["startup", "startup"]
    assert [h.step for h in result.findings[0].chain][:1] == ["runs its configuration file (the default "
                                                            "./gunicorn.conf.py)"]
    assert any(n.startswith("gunicorn.conf.py checked as gunicorn runs it") for n in result.notes)


def test_the_configuration_file_imports_gunicorn_which_runs_it(tmp_path, gunicorn_env):
    # `import gunicorn` in the file gunicorn runs cannot fail; with gunicorn installed it is found
    _tree(tmp_path, {**GUNICORN_CONF, "gunicorn.conf.py": "import gunicorn\nfrom gunicorn import glogging\n"
                                                          "from app.settings import WORKERS\n"})
    result = check(tmp_path, python=gunicorn_env)
    assert _got(result, tmp_path) == []
    assert any(n.startswith("gunicorn.conf.py checked as gunicorn runs it") for n in result.notes)


def test_no_gunicorn_to_run_the_configuration_file(tmp_path):
    # an interpreter that cannot import gunicorn never runs gunicorn.conf.py: its `import gunicorn` was two
    # errors "No module named 'gunicorn'", at start-up, though no start-up of gunicorn runs the file
    _tree(tmp_path, {**GUNICORN_CONF,
                     "gunicorn.conf.py": "import gunicorn\nfrom app.settings import TIMEOUT\n"})
    run = subprocess.run([sys.executable, "-c", "import gunicorn"], capture_output=True, text=True,
                         check=False)
    assert run.stderr.strip().splitlines()[-1] == "ModuleNotFoundError: No module named 'gunicorn'"
    result = check(tmp_path)
    assert _got(result, tmp_path) == []
    assert result.entries == ["app", "app.settings"]
    assert ("gunicorn.conf.py not checked: the interpreter cannot import gunicorn, the only program that "
            "runs it") in result.notes


def test_an_excluded_gunicorn_configuration_file_is_not_checked(tmp_path, gunicorn_env):
    _tree(tmp_path, {**GUNICORN_CONF, "pyproject.toml": '[tool.deploycheck]\nextend-exclude = ["gunicorn.conf.py"]\n'})
    result = check(tmp_path, python=gunicorn_env)
    assert _got(result, tmp_path) == []
    assert not any("gunicorn" in n for n in result.notes)


def test_the_application_the_gunicorn_configuration_names_is_loaded_at_start_up(tmp_path, gunicorn_env):
    # gunicorn started without an application on its command line loads the configuration's wsgi_app
    # (gunicorn's settings, "wsgi_app"): a name the module lacks is "Failed to find attribute" at start-up,
    # a factory's body runs at start-up
    _tree(tmp_path, {
        "proj/__init__.py": "",
        "proj/wsgi.py": "def make():\n    return None\n\n\napplication = make()\n",
        "proj/factory.py": "def create_app():\n    return build_app()\n",
        "gunicorn.conf.py": 'wsgi_app = "proj.wsgi:app"\nbind = "0.0.0.0:8000"\n',
    })
    check_app = ("import sys\nsys.path.insert(0, '.')\nimport importlib\nm = importlib.import_module('proj.wsgi')\n"
                 "print(hasattr(m, 'app'))\n")
    out = subprocess.run([sys.executable, "-c", check_app], cwd=tmp_path, capture_output=True, text=True).stdout
    assert out.strip() == "False"
    result = check(tmp_path, python=gunicorn_env)
    assert [(f.code, f.when, str(f.path).replace(str(tmp_path) + "/", ""), f.line, f.symbol)
            for f in result.findings] == [("DC106", "startup", "gunicorn.conf.py", 1, "proj.wsgi.app"),
                                          ("DC201", "call", "proj/factory.py", 2, "build_app")]
    assert "gunicorn loads wsgi_app 'proj.wsgi:app'" in result.findings[0].message
    # the factory form: the factory's body runs when gunicorn starts, so its NameError is a start-up error
    (tmp_path / "gunicorn.conf.py").write_text('wsgi_app = "proj.factory:create_app()"\n')
    result = check(tmp_path, python=gunicorn_env)
    assert [(f.code, f.when, f.line, f.symbol) for f in result.findings] == [("DC201", "startup", 2, "build_app")]


def test_the_server_hooks_of_the_gunicorn_configuration_run_when_gunicorn_starts(tmp_path, gunicorn_env):
    # gunicorn calls post_fork for every worker it starts and pre_request before each request; on_exit only
    # when the arbiter exits: their NameErrors are a start-up, a first-request and a when-called error
    _tree(tmp_path, {
        "proj/__init__.py": "",
        "proj/wsgi.py": "application = None\n",
        "gunicorn.conf.py": """
            wsgi_app = "proj.wsgi:application"


            def post_fork(server, worker):
                worker.log.info(describe(worker))


            def on_exit(server):
                return goodbye()


            def pre_request(worker, req):
                return trace_it(req)
            """,
    })
    run = ("import runpy, types\nns = runpy.run_path('gunicorn.conf.py', run_name='__config__')\n"
           "worker = types.SimpleNamespace(log=types.SimpleNamespace(info=print))\n"
           "try:\n    ns['post_fork'](None, worker)\nexcept NameError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", run], cwd=tmp_path, capture_output=True, text=True).stdout
    assert out.strip() == "name 'describe' is not defined"
    result = check(tmp_path, python=gunicorn_env)
    assert [(f.code, f.when, f.line, f.symbol) for f in result.findings] == [
        ("DC201", "startup", 5, "describe"), ("DC201", "call", 9, "goodbye"), ("DC201", "request", 13, "trace_it")]
    assert [h.step for h in result.findings[0].chain][-1] == "gunicorn calls its post_fork server hook"
