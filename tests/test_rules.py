"""One fixture project per rule, with its expected findings beside it (like ruff's snapshot tests).

Set DEPLOYCHECK_UPDATE_SNAPSHOTS=1 to rewrite expected.txt after reviewing a change by hand.
"""

from __future__ import annotations

import os
import sys

import pytest

from conftest import FIXTURES, check, snapshot_lines, write_tree

RULE_DIRS = sorted(p for p in (FIXTURES / "rules").iterdir() if p.is_dir())

pytestmark = pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="fixtures state facts of Python 3.11")


@pytest.mark.parametrize("fixture", RULE_DIRS, ids=[p.name for p in RULE_DIRS])
def test_rule_fixture(fixture):
    result = check(fixture)
    got = snapshot_lines(result, fixture)
    expected_file = fixture / "expected.txt"
    if os.environ.get("DEPLOYCHECK_UPDATE_SNAPSHOTS"):
        expected_file.write_text("\n".join(got) + "\n")
    expected = expected_file.read_text().splitlines()
    assert got == expected
    # A rule's fixture shows that rule (other codes may appear where a case needs them).
    assert fixture.name in {line.split()[1] for line in got}


def test_foreign_extension_files_are_what_the_interpreter_cannot_find():
    # DC504's file-name reading agrees with the import system: each module it names is a ModuleNotFoundError,
    # and the extension modules whose suffix fits are found (they fail later, being four-byte stand-ins)
    import subprocess

    fixture = FIXTURES / "rules" / "DC504"
    named = {line.split()[4] for line in (fixture / "expected.txt").read_text().splitlines() if " DC504 " in line}
    assert named == {"app.native._speedups", "app.native._arm"}
    for module in ("app.native._speedups", "app.native._arm", "app.native._own", "app.native._stable"):
        proc = subprocess.run([sys.executable, "-c", f"import {module}"], cwd=fixture, capture_output=True, text=True)
        error = proc.stderr.strip().splitlines()[-1]
        assert error.startswith("ModuleNotFoundError") == (module in named), error


def test_entries_naming_no_object_are_what_the_interpreter_cannot_find():
    # DC505 on the configuration's entries agrees with the interpreter: the module imported, then the name's
    # first part looked up as a launcher does (MAYBE=1: the conditional binding is on some path)
    import subprocess
    import tomllib

    fixture = FIXTURES / "rules" / "DC505"
    entries = tomllib.loads((fixture / "pyproject.toml").read_text())["tool"]["deploycheck"]["entries"]
    reported = {line.split()[4] for line in (fixture / "expected.txt").read_text().splitlines()}
    assert reported == {"application", "create_app"}
    for entry in entries:
        module, _, attr = entry.partition(":")
        name = attr.split("(")[0].partition(".")[0]
        code = f"import importlib\ngetattr(importlib.import_module({module!r}), {name!r})"
        proc = subprocess.run([sys.executable, "-B", "-c", code], cwd=fixture, capture_output=True, text=True,
                              env={"MAYBE": "1", "PATH": os.environ.get("PATH", "")}, check=False)
        assert (proc.returncode != 0) == (name in reported), (entry, proc.stderr)
        if name in reported:
            assert proc.stderr.strip().splitlines()[-1] == f"AttributeError: module {module!r} has no attribute {name!r}"


def test_an_entry_given_with_entry_names_its_module(tmp_path):
    # --entry has no line to point at: the finding is about the module's file
    write_tree(tmp_path, {"svc/__init__.py": "", "svc/wsgi.py": "app = object()\n",
                          "pyproject.toml": '[tool.deploycheck]\nentries = ["svc.wsgi:app"]\n'})
    got = [(f.code, f.path, f.line, f.symbol, f.when, f.message)
           for f in check(tmp_path, entries=["svc.wsgi:application()"]).findings]
    message = ("the entry 'svc.wsgi:application()' names 'application', but 'svc.wsgi' has no attribute "
               "'application': the launcher fails to find it")
    assert got == [("DC505", str(tmp_path / "svc" / "wsgi.py"), 0, "application", "startup", message)]
    assert check(tmp_path).findings == []  # the configuration's entry names what is there


def test_a_submodule_nothing_imports_is_not_an_attribute_of_its_package(tmp_path):
    # `import app` then `app.jobs.run()`: AttributeError unless something imports app.jobs first
    import subprocess

    (tmp_path / "app" / "jobs").mkdir(parents=True)
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "jobs" / "__init__.py").write_text("def run():\n    return 1\n")
    (tmp_path / "app" / "util.py").write_text("x = 1\n")
    (tmp_path / "app" / "late.py").write_text("y = 2\n")
    (tmp_path / "app" / "typed.py").write_text("z = 3\n")
    (tmp_path / "app" / "main.py").write_text(
        "import app\nimport app.util\n\n\ndef handler():\n    return app.jobs.run() + app.util.x\n\n\n"
        "def later():\n    import app.late\n\n    return app.late.y\n\n\n"
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import app.typed\n\n\n"
        "def typed():\n    return app.typed.z\n")
    result = check(tmp_path, entries=["app.main"])
    got = [(f.code, f.line, f.symbol, f.when) for f in result.findings]
    # app.typed: imported only for type checkers (DC201, ruff's TC004), so not at run time (DC103)
    assert got == [("DC103", 6, "jobs", "call"), ("DC201", 17, "typed", "call"), ("DC103", 21, "typed", "call")]
    assert result.findings[0].message.endswith("the submodule app.jobs exists, but nothing imports it "
                                               "(add `import app.jobs`)")
    # the interpreter agrees: handler() fails, later() does not
    run = ("import app.main as m\nprint(m.later())\nfor f in (m.handler, m.typed):\n    try:\n        f()\n"
           "    except AttributeError as e:\n        print(e)\n")
    out = subprocess.run([sys.executable, "-c", run], cwd=tmp_path, capture_output=True, text=True).stdout
    assert out.splitlines() == ["2", "module 'app' has no attribute 'jobs'", "module 'app' has no attribute 'typed'"]
    # with the default entries every module may be the one a launcher imported first: no DC103 (the DC201 of
    # the type-checking-only import stays)
    assert [f.code for f in check(tmp_path).findings] == ["DC201"]


def test_module_getattr_serving_a_name_through_a_module_constant(tmp_path):
    # starlette.exceptions: `__deprecated__ = "ExceptionMiddleware"` and `if name == __deprecated__:`
    import subprocess

    (tmp_path / "lib.py").write_text(
        '__deprecated__ = "OldName"\n\n\ndef __getattr__(name):\n    if name == __deprecated__:\n'
        '        return 1\n    raise AttributeError(name)\n')
    (tmp_path / "app.py").write_text("from lib import OldName\nfrom lib import WebSocketThing\n")
    got = [(f.code, f.line, f.symbol) for f in check(tmp_path, entries=["app"]).findings]
    assert got == [("DC102", 2, "WebSocketThing")]
    proc = subprocess.run([sys.executable, "-c", "import app"], cwd=tmp_path, capture_output=True, text=True)
    assert "cannot import name 'WebSocketThing' from 'lib'" in proc.stderr


def test_the_django_settings_module_a_service_names_is_imported_by_it(tmp_path):
    # gunicorn ledger.wsgi:application: Django imports DJANGO_SETTINGS_MODULE at start, a string import
    (tmp_path / "ledger").mkdir()
    (tmp_path / "ledger" / "__init__.py").write_text("")
    (tmp_path / "ledger" / "settings.py").write_text('import sentry_sdk_not_installed\n\nSECRET_KEY = "x"\n')
    (tmp_path / "ledger" / "wsgi.py").write_text(
        'import os\n\nos.environ.setdefault("DJANGO_SETTINGS_MODULE", "ledger.settings")\napplication = object()\n')
    got = [(f.code, f.path.rsplit("/", 1)[1], f.line, f.symbol, f.when, tuple((h.module, h.step) for h in f.chain))
           for f in check(tmp_path, entries=["ledger.wsgi"]).findings]
    # imported when Django sets itself up (frameworks/django.py), which the WSGI module's
    # get_wsgi_application() does: at start-up
    assert got == [("DC101", "settings.py", 1, "sentry_sdk_not_installed", "startup",
                    (("ledger.wsgi", "DJANGO_SETTINGS_MODULE"),))]
    # the same by assignment
    (tmp_path / "ledger" / "wsgi.py").write_text(
        'import os\n\nos.environ["DJANGO_SETTINGS_MODULE"] = "ledger.settings"\napplication = object()\n')
    assert [f.symbol for f in check(tmp_path, entries=["ledger.wsgi"]).findings] == ["sentry_sdk_not_installed"]
    # Two settings modules named in one closure: the first setdefault to run wins (here the package's, so
    # ledger.local is never imported, and it need not exist); which one is not known statically: no finding
    (tmp_path / "ledger" / "__init__.py").write_text(
        'import os\n\nos.environ.setdefault("DJANGO_SETTINGS_MODULE", "ledger.prod")\n')
    (tmp_path / "ledger" / "prod.py").write_text('SECRET_KEY = "x"\n')
    (tmp_path / "ledger" / "wsgi.py").write_text(
        'import os\n\nos.environ.setdefault("DJANGO_SETTINGS_MODULE", "ledger.local")\napplication = object()\n')
    assert check(tmp_path, entries=["ledger.wsgi"]).findings == []

@pytest.mark.parametrize("case, files", [
    ("the package of an entry", {"app/api/__init__.py": 'VERSION = "1"\n',
                                 "app/api/main.py": "from app import util\napp = object()\n",
                                 "app/util.py": 'import app\nBANNER = "v" + app.api.VERSION\n'}),
    ("a computed import_module", {"app/__init__.py": 'import importlib\nfor n in ("jobs",):\n'
                                                     '    importlib.import_module(f"{__name__}.{n}")\n',
                                  "app/jobs.py": "X = 1\n",
                                  "app/api/__init__.py": "", "app/api/main.py": "import app\nY = app.jobs.X\n"}),
    ("import_module with a keyword", {"app/jobs.py": "X = 1\n", "app/api/__init__.py": "",
                                      "app/api/main.py": 'import importlib\nimport app\n'
                                                         'importlib.import_module(".jobs", package="app")\n'
                                                         "Y = app.jobs.X\n"}),
    ("pkgutil autodiscovery", {"app/__init__.py": "import importlib, pkgutil\n"
                                                  "for m in pkgutil.iter_modules(__path__, __name__ + '.'):\n"
                                                  "    if not m.ispkg:\n"
                                                  "        importlib.import_module(m.name)\n",
                               "app/jobs.py": "X = 1\n", "app/api/__init__.py": "",
                               "app/api/main.py": "import app\nY = app.jobs.X\n"}),
])
def test_submodules_imported_other_ways_are_attributes(tmp_path, case, files):
    # each runs: the submodule is set on its package before the read
    import subprocess

    write_tree(tmp_path, {"app/__init__.py": "", **files})
    proc = subprocess.run([sys.executable, "-c", "import app.api.main"], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert [(f.code, f.message) for f in check(tmp_path, entries=["app.api.main"]).findings] == [], case


def test_an_attribute_of_the_project_on_no_path_fails_whenever_its_line_runs(tmp_path):
    # DC103 under a condition that cannot be decided: a renamed function of the project's own module is an
    # error 'when called' (the line fails whenever it runs); a standard-library attribute missing behind a
    # test of versions stays a warning (compatibility code for another Python)
    import subprocess

    write_tree(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/util.py": "def new_name():\n    return 1\n",
        "pkg/main.py": "import enum\nimport os\n\nfrom pkg import util\n\nPY311 = os.environ.get('PY311')\n\n\n"
                       "def run():\n    if os.environ.get('AUDIT'):\n        util.old_name()\n"
                       "    if PY311:\n        return 0\n    else:\n        return enum._decompose(1, 2)\n",
    })
    got = [(f.code, f.severity, f.when, f.line, f.symbol) for f in check(tmp_path, entries=["pkg.main"]).findings]
    assert got == [("DC103", "error", "call", 11, "old_name"), ("DC103", "warning", "call", 15, "_decompose")]
    proc = subprocess.run([sys.executable, "-c", "import pkg.main; pkg.main.run()"], cwd=tmp_path, check=False,
                          capture_output=True, text=True, env={**os.environ, "AUDIT": "1", "PY311": "1"})
    assert "module 'pkg.util' has no attribute 'old_name'" in proc.stderr


def test_a_type_checking_import_with_an_alias_is_judged_by_the_alias(tmp_path):
    # ruff's TC004 names the module (`json`); the name bound is the alias. Bound at run time by a function
    # that declares it global (the interpreter runs this module), it is no error; used at run time and bound
    # nowhere else, the message names the alias the code reads
    import subprocess

    (tmp_path / "loaded.py").write_text(
        "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    import json as js\n\n\n"
        "def _load():\n    global js\n    import json as js\n\n\n_load()\n\n\ndef f():\n    return js.dumps(1)\n\n\n"
        "VALUE = f()\n")
    (tmp_path / "typed.py").write_text(
        "import typing\n\nif typing.TYPE_CHECKING:\n    import collections.abc as cabc\n\n\n"
        "def f(x):\n    return isinstance(x, cabc.Mapping)\n")
    run = "import loaded, typed\nprint(loaded.VALUE)\ntry:\n    typed.f(1)\nexcept NameError as e:\n    print(e)\n"
    out = subprocess.run([sys.executable, "-c", run], cwd=tmp_path, capture_output=True, text=True).stdout
    assert out.splitlines() == ["1", "name 'cabc' is not defined"]
    result = check(tmp_path, entries=["loaded", "typed"])
    assert [(f.code, f.module, f.line, f.symbol, f.when) for f in result.findings] == [
        ("DC201", "typed", 4, "cabc", "call")]
    assert result.findings[0].message == ("name 'cabc' is imported only under `if TYPE_CHECKING:` but used at run "
                                          "time (line 8)")


def test_a_type_checking_import_read_by_an_evaluated_annotation_fails_at_import(tmp_path):
    # flaskbb's plugins/manager.py: `def __init__(self, dist: Distribution)` in a class body, with Distribution
    # imported only for type checkers. The annotation is evaluated when the def runs, so the import of the
    # module fails (it was "when called"); a read only in a function body stays "when called", and with
    # `from __future__ import annotations` the annotation never runs (ruff reports nothing)
    import subprocess

    head = "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from decimal import Decimal\n\n\n"
    (tmp_path / "signature.py").write_text(head + "class Meta:\n    def __init__(self, d: Decimal) -> None:\n"
                                           "        self.d = d\n")
    (tmp_path / "field.py").write_text(head + "class Row:\n    price: list[Decimal] = []\n")
    (tmp_path / "body.py").write_text(head + "def price(d: 'Decimal'):\n    return Decimal(d)\n")
    (tmp_path / "lazy.py").write_text("from __future__ import annotations\n\n" + head +
                                      "def price(d: Decimal):\n    return d\n")
    run = ("import importlib\nfor m in ('signature', 'field', 'body', 'lazy'):\n    try:\n"
           "        importlib.import_module(m)\n        print(m, 'ok')\n    except NameError as e:\n"
           "        print(m, e)\n")
    out = subprocess.run([sys.executable, "-c", run], cwd=tmp_path, capture_output=True, text=True).stdout
    assert out.splitlines() == ["signature name 'Decimal' is not defined", "field name 'Decimal' is not defined",
                                "body ok", "lazy ok"]
    result = check(tmp_path, entries=["signature", "field", "body", "lazy"])
    got = [(f.code, f.module, f.line, f.symbol, f.when, f.severity) for f in result.findings]
    assert got == [("DC201", "body", 4, "Decimal", "call", "error"),
                   ("DC201", "field", 4, "Decimal", "import", "error"),
                   ("DC201", "signature", 4, "Decimal", "import", "error")]
    assert [f.message.rpartition("(")[2] for f in result.findings] == ["line 8)", "line 8)", "line 8)"]


def test_a_type_checking_import_named_only_in_all_or_read_where_a_local_shadows_it(tmp_path):
    # ruff's TC004 counts a name in __all__ as a run-time use: the module imports and its functions run (only
    # `from m import *` fails, DC102's finding); it was an error "when called" with no line. And a read in
    # a function that imports the name itself is that function's local: the message named it (line 9), not
    # the read that fails (line 13)
    import subprocess

    head = "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    import decimal\n"
    (tmp_path / "exported.py").write_text(head + "\n__all__ = ['decimal']\n\n\ndef f(x: 'decimal.Decimal'):\n"
                                          "    return x\n")
    (tmp_path / "local.py").write_text(head + "\n\ndef f(x):\n    import decimal\n"
                                       "    return decimal.Decimal(x)\n\n\ndef g():\n    return decimal\n")
    run = ("import exported, local\nprint(exported.f(1), local.f(2))\ntry:\n    local.g()\n"
           "except NameError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", run], cwd=tmp_path, capture_output=True, text=True,
                         check=False).stdout
    assert out.splitlines() == ["1 2", "name 'decimal' is not defined"]
    result = check(tmp_path, entries=["exported", "local"])
    assert [(f.code, f.module, f.line, f.symbol, f.when) for f in result.findings] == [
        ("DC201", "local", 4, "decimal", "call")]
    assert result.findings[0].message.endswith("used at run time (line 13)")


def test_a_bare_noqa_does_not_hide_a_crash(tmp_path):
    # the README: a bare `# noqa`, or one naming other tools' codes, does not silence deploycheck (ruff would
    # drop its own F821 there before deploycheck saw it); `# noqa: DC201` does
    import subprocess

    (tmp_path / "app.py").write_text("import os\n\nVALUE = load_settings()  # noqa\nOTHER = other()  # noqa: F821\n"
                                     "KEPT = kept()  # noqa: DC201\n")
    proc = subprocess.run([sys.executable, "-c", "import app"], cwd=tmp_path, capture_output=True, text=True)
    assert proc.stderr.strip().splitlines()[-1] == "NameError: name 'load_settings' is not defined"
    result = check(tmp_path, entries=["app"])
    assert [(f.code, f.line, f.symbol) for f in result.findings] == [("DC201", 3, "load_settings"),
                                                                    ("DC201", 4, "other")]


def test_a_bare_noqa_hides_nothing_with_a_cache_written_before(tmp_path):
    # the verdicts ruff gave with its noqa comments applied were cached by the content of the file: a cache
    # entry of such a run must not be reused by one that ignores them
    from deploycheck.index import ruff
    from deploycheck.index.store import Cache, content_key

    project = tmp_path / "p"
    project.mkdir()
    source = "VALUE = load_settings()  # noqa\n"
    (project / "app.py").write_text(source)
    cache = Cache(str(tmp_path / "cache"))
    tv = ruff.target_version(sys.version_info[:3])
    old_space = f"ruff-{tv}-{ruff._ruff_version(ruff.ruff_binary())}-{ruff._SELECT.replace(',', '-')}"
    cache.put(old_space, content_key(source.encode()), b"[]")  # what a run that applied noqa cached
    cache.close()
    result = check(project, entries=["app"], cache_dir=tmp_path / "cache")
    assert [(f.code, f.symbol) for f in result.findings] == [("DC201", "load_settings")]


def test_deferred_annotations_read_nothing_at_import():
    # Python 3.14 evaluates annotations only when asked (PEP 649), like `from __future__ import annotations`:
    # a type-checking-only name read by an annotation then fails only where a function body reads it
    import ast

    from deploycheck.rules.dc201_undefined_name import _reads

    tree = ast.parse("def f(x: Decimal = Decimal(0)) -> Decimal:\n    return Decimal(x)\n\n\n"
                     "class Row:\n    price: Decimal\n    zero: Decimal = Decimal(0)\n")
    assert sorted(_reads(tree, "Decimal")) == [(1, 9, False), (1, 19, False), (1, 34, False), (2, 11, True),
                                               (6, 11, False), (7, 10, False), (7, 20, False)]
    assert sorted(_reads(tree, "Decimal", lazy=True)) == [(1, 19, False), (2, 11, True), (7, 20, False)]


def test_an_alias_bound_by_a_run_time_import_before_the_type_checking_one(tmp_path):
    # datasette's vendored pint: `from ...compat import np`, then `if TYPE_CHECKING: if HAS_NUMPY: import
    # numpy as np  # noqa`; ruff says TC004 (with its noqa ignored), the interpreter runs it: np is bound
    import subprocess

    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "compat.py").write_text("HAS_JSON = True\nimport json as js\n")
    (tmp_path / "pkg" / "util.py").write_text(
        "from typing import TYPE_CHECKING\n\nfrom .compat import HAS_JSON, js\n\nif TYPE_CHECKING:\n"
        "    if HAS_JSON:\n        import json as js  # noqa\n\n\ndef dump(x):\n    return js.dumps(x)\n\n\n"
        "VALUE = dump(1)\n")
    out = subprocess.run([sys.executable, "-c", "import pkg.util as u; print(u.VALUE)"], cwd=tmp_path,
                         capture_output=True, text=True).stdout
    assert out.strip() == "1"
    assert check(tmp_path, entries=["pkg.util"]).findings == []
