"""deploycheck migrate: declared migrations, status with a committed baseline, apply (diff, refusals, in-memory
re-check, all-or-nothing write), and the DC301 ban, on the incident's own shape and on real installed code."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import CACHE, FIXTURES, cli, write_tree

INCIDENT = FIXTURES / "migrate" / "incident"
PY = sys.executable

# The incident project's references, found by hand: (path, line, column, kind, rewritable).
INCIDENT_REFS = [
    ("app/db/__init__.py", 3, 36, "import", True),            # re-export of the class
    ("app/db/session.py", 4, 36, "import", True),             # direct import
    ("app/db/session.py", 11, 22, "attribute", True),         # DatabaseConfig.POOL_SIZE
    ("app/db/session.py", 12, 17, "attribute", True),         # DatabaseConfig.ECHO
    ("app/services/reports.py", 3, 20, "import", True),       # from app.db import DatabaseConfig as DBC
    ("app/services/reports.py", 7, 21, "attribute", True),    # DBC.ECHO
    ("app/services/reports.py", 7, 39, "attribute", True),    # DBC.POOL_SIZE
    ("scripts/show_pool.py", 7, 25, "attribute", True),       # pgc.DatabaseConfig.POOL_SIZE
    ("tests/test_db.py", 8, 21, "string", False),             # mock.patch("...DatabaseConfig.POOL_SIZE")
]


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts and ".pytest_cache" not in p.parts}


def _copy(tmp_path: Path, src: Path = INCIDENT) -> Path:
    dst = tmp_path / "proj"
    shutil.copytree(src, dst)
    return dst


def _status(proj: Path, *extra) -> dict:
    code, out, err = cli("migrate", "status", proj, "--python", PY, "--format", "json", *extra)
    assert code == 0, err
    return json.loads(out)


def _run_tests(proj: Path) -> subprocess.CompletedProcess:
    return subprocess.run([PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=proj,
                          capture_output=True, text=True, timeout=300)


def _fix_string_reference_by_hand(proj: Path) -> None:
    test = proj / "tests" / "test_db.py"
    text = test.read_text()
    text = text.replace("from unittest import mock\n",
                        "from unittest import mock\n\nfrom app.core.config import get_unified_config\n")
    text = text.replace('    with mock.patch("app.db.postgres_config.DatabaseConfig.POOL_SIZE", 17):\n',
                        '    with mock.patch.dict("os.environ", {"DB_POOL_SIZE": "17"}):\n'
                        '        get_unified_config.cache_clear()\n')
    test.write_text(text)


# -- configuration -----------------------------------------------------------------------------------------

def test_configuration_is_validated(tmp_path):
    proj = _copy(tmp_path)
    pyproject = proj / "pyproject.toml"
    base = pyproject.read_text()
    cases = [
        (base.replace('id = "unified-config"\n', ""), "missing `id`"),
        (base.replace('id = "unified-config"', 'id = "unified-config"\nolds = "x"'), "unknown key `olds`"),
        (base.replace('new = "app.core.config.get_unified_config()"', 'new = "get_unified_config("'),
         "new `get_unified_config(` is not a Python expression"),
        (base.replace('old = "app.db.postgres_config.DatabaseConfig"', 'old = "app.db/postgres_config"'),
         "old `app.db/postgres_config` is not a qualified name"),
        (base.replace('POOL_SIZE = "db_pool_size"', 'POOL_SIZE = 3'), "attributes `POOL_SIZE` must map"),
        (base + '\n[[tool.deploycheck.migrations]]\nid = "unified-config"\nold = "a.b"\nnew = "c"\n',
         "duplicate id `unified-config`"),
        (base.replace("[[tool.deploycheck.migrations]]", "[tool.deploycheck.migrations]").replace(
            "[tool.deploycheck.migrations.attributes]", "[tool.deploycheck.migrations.attributes]"),
         "`migrations` must be an array of tables"),
    ]
    before = _tree(proj)
    for text, message in cases:
        pyproject.write_text(text)
        for command in (["migrate", "status", proj], ["check", proj]):
            code, out, err = cli(*command, "--python", PY)
            assert code == 2, (message, err)
            assert message in err and err.startswith("deploycheck: error:") and "Traceback" not in err
    pyproject.write_text(base)
    assert _tree(proj) == before  # nothing written, not even a state file


def test_unknown_id_and_unresolvable_old_exit_2_and_write_nothing(tmp_path):
    proj = _copy(tmp_path)
    before = _tree(proj)
    code, _, err = cli("migrate", "apply", "no-such-id", proj, "--python", PY, "--write")
    assert code == 2 and "unknown migration `no-such-id` (declared in pyproject.toml: unified-config)" in err
    pyproject = proj / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("postgres_config.DatabaseConfig", "postgres_config.DbConfig"))
    before = _tree(proj)
    for command in (["status"], ["apply", "unified-config"]):
        code, _, err = cli("migrate", *command, proj, "--python", PY)
        assert code == 2
        assert "old `app.db.postgres_config.DbConfig` does not resolve: module `app.db.postgres_config` has no " \
               "attribute `DbConfig`" in err
    pyproject.write_text(pyproject.read_text().replace("app.db.postgres_config.DbConfig", "nowhere.DbConfig"))
    code, _, err = cli("migrate", "status", proj, "--python", PY)
    assert code == 2 and "no module `nowhere` on the target's search path" in err
    assert _tree(proj) == {**before, "pyproject.toml": pyproject.read_bytes()}


# -- status ------------------------------------------------------------------------------------------------

def test_status_lists_every_reference_and_records_the_baseline(tmp_path):
    proj = _copy(tmp_path)
    doc = _status(proj)
    (m,) = doc["migrations"]
    assert doc["version"] == 1 and m["id"] == "unified-config"
    got = [(r["path"], r["line"], r["column"], r["kind"], r["rewritable"]) for r in m["references"]]
    assert got == INCIDENT_REFS
    assert (m["remaining"], m["baseline"], m["progress"], m["completed"]) == (9, 9, 0.0, False)
    assert m["directories"] == {"app/db": 4, "app/services": 3, "scripts": 1, "tests": 1}
    state = json.loads((proj / ".deploycheck-migrations.json").read_text())
    assert state == {"version": 1, "migrations": {"unified-config": {
        "old": "app.db.postgres_config.DatabaseConfig", "baseline": 9, "completed": False}}}
    # Fixing the string by hand is progress against the recorded baseline.
    _fix_string_reference_by_hand(proj)
    m = _status(proj)["migrations"][0]
    assert (m["remaining"], m["baseline"], m["progress"]) == (8, 9, round(1 / 9, 4))
    code, out, _ = cli("migrate", "status", proj, "--python", PY)
    assert code == 0
    assert "8 references left of 9 at the baseline (11% done); 8 rewritable" in out
    assert "scripts/show_pool.py:7:25: attribute pgc.DatabaseConfig.POOL_SIZE (rewritable)" in out


def test_status_excludes_are_configurable(tmp_path):
    proj = _copy(tmp_path)
    pyproject = proj / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(
        'new = "app.core.config.get_unified_config()"\n',
        'new = "app.core.config.get_unified_config()"\nexclude = ["tests/", "scripts/"]\n'))
    m = _status(proj)["migrations"][0]
    assert [(r["path"], r["line"]) for r in m["references"]] == [(p, ln) for p, ln, *_ in INCIDENT_REFS[:7]]


SEMANTIC = {
    "pyproject.toml": """
[[tool.deploycheck.migrations]]
id = "old-module"
old = "lib.legacy"
new = "lib.modern"
[tool.deploycheck.migrations.attributes]
helper = "helper2"

[[tool.deploycheck.migrations]]
id = "old-func"
old = "lib.legacy.helper"
new = "lib.modern.helper2()"
""",
    "lib/__init__.py": "",
    "lib/legacy.py": "def helper():\n    return 1\n\n\ndef other():\n    return 2\n",
    "lib/modern.py": "def helper2():\n    return 1\n",
    "lib/reexport.py": "from lib.legacy import helper as public_helper\n",
    "lib/alias.py": "from lib.legacy import helper as h1\n",
    "uses2.py": "from lib.alias import h1\n\nx = h1()\n",  # never spells `helper`: found through the alias
    "uses.py": (
        "import importlib\n"
        "from lib import legacy\n"                               # 2: import of the module (old-module)
        "from lib.reexport import public_helper\n"               # 3: the function through a re-export
        "from lib.legacy import *\n"                             # 4: star import of the module
        "a = legacy.helper()\n"                                  # 5: attribute (module) / call (function)
        "b = getattr(legacy, 'helper')\n"                        # 6: getattr with a constant
        "c = importlib.import_module('lib.legacy')\n"            # 7: import_module string (module only)
        "d = public_helper\n"                                    # 8: bare use of the function
        "e = helper()\n"                                         # 9: the function through the star import
        "def f(helper):\n    return helper()\n"                  # 10-11: a parameter, not the function
        "g = legacy.other()\n"                                   # 12: module attribute without mapping
    ),
}


def test_references_are_found_semantically(tmp_path):
    proj = tmp_path / "sem"
    for rel, text in SEMANTIC.items():
        (proj / rel).parent.mkdir(parents=True, exist_ok=True)
        (proj / rel).write_text(text)
    doc = {m["id"]: m for m in _status(proj)["migrations"]}
    mod = [(r["path"], r["line"], r["kind"], r["rewritable"]) for r in doc["old-module"]["references"]]
    assert mod == [
        ("lib/alias.py", 1, "import", False),
        ("lib/reexport.py", 1, "import", False),   # imports something inside the module
        ("uses.py", 2, "import", True),
        ("uses.py", 3, "import", False),            # `public_helper` is lib.legacy.helper
        ("uses.py", 4, "star-import", False),
        ("uses.py", 5, "attribute", True),
        ("uses.py", 6, "getattr", False),
        ("uses.py", 7, "import_module", False),
        ("uses.py", 12, "attribute", False),        # no mapping for `other`
        ("uses2.py", 1, "import", False),
    ]
    func = [(r["path"], r["line"], r["kind"], r["rewritable"]) for r in doc["old-func"]["references"]]
    assert func == [
        ("lib/alias.py", 1, "import", True),
        ("lib/reexport.py", 1, "import", True),
        ("uses.py", 3, "import", True),
        ("uses.py", 5, "call", True),
        ("uses.py", 6, "getattr", False),
        ("uses.py", 8, "name", False),
        ("uses.py", 9, "call", True),
        ("uses2.py", 1, "import", True),
        ("uses2.py", 3, "call", True),
    ]
    # status reads only the files that can hold a reference; it finds exactly what a scan of every file finds
    from deploycheck.migrate.workspace import open_workspace
    from deploycheck.target.project import open_project

    project = open_project(str(proj))
    full = open_workspace(str(proj), PY, no_cache=True, project=project)
    some = open_workspace(str(proj), PY, no_cache=True, project=project, only=project.config.migrations)
    assert len(full.refs) == 7 and len(some.refs) == 6  # lib/__init__.py names neither `helper` nor an alias
    for m in project.config.migrations:
        old, problem = full.canonical(m)
        assert problem is None and full.references(m, old) == some.references(m, old)


# -- apply -------------------------------------------------------------------------------------------------

def test_incident_goes_to_zero_through_status_fix_apply(tmp_path):
    proj = _copy(tmp_path)
    original = _tree(proj)
    before = _run_tests(proj)
    assert before.returncode == 0 and "2 passed" in before.stdout, before.stdout + before.stderr
    assert _status(proj)["migrations"][0]["remaining"] == 9
    original = _tree(proj)  # now with the state file

    # apply refuses while the string reference remains, and writes nothing
    code, out, err = cli("migrate", "apply", "unified-config", proj, "--python", PY, "--write")
    assert code == 1
    assert "1 reference cannot be rewritten; nothing was written" in err
    assert "tests/test_db.py:8:21: string 'app.db.postgres_config.DatabaseConfig.POOL_SIZE'" in err
    assert _tree(proj) == original

    _fix_string_reference_by_hand(proj)
    fixed = _tree(proj)
    # without --write: the diff, and nothing written
    code, out, err = cli("migrate", "apply", "unified-config", proj, "--python", PY)
    assert code == 0 and _tree(proj) == fixed
    assert '-        "pool_size": DatabaseConfig.POOL_SIZE,\n' in out
    assert '+        "pool_size": get_unified_config().db_pool_size,\n' in out
    assert "--- a/scripts/show_pool.py\n+++ b/scripts/show_pool.py\n" in out

    code, out, err = cli("migrate", "apply", "unified-config", proj, "--python", PY, "--write")
    assert code == 0, err
    assert "rewrote 8 references in 4 files" in err
    m = _status(proj)["migrations"][0]
    assert (m["remaining"], m["baseline"], m["progress"], m["completed"]) == (0, 9, 1.0, True)
    after = _run_tests(proj)
    assert after.returncode == 0 and "2 passed" in after.stdout, after.stdout + after.stderr
    # formatting and comments kept; the unused imports gone, the needed one added once
    assert (proj / "app/services/reports.py").read_text() == (
        '"""Reports, written against the old configuration through an alias and the package re-export."""\n\n'
        "from app.core.config import get_unified_config\n\n\n"
        "def report_settings() -> dict:\n"
        '    return {"echo": get_unified_config().db_echo, "pool": get_unified_config().db_pool_size}'
        "  # both settings from the old class\n")
    # the removed re-export's comment stays, as a comment line, for the reviewer to keep or delete
    assert (proj / "app/db/__init__.py").read_text() == '"""Database access."""\n\n# re-exported for older callers\n'
    script = (proj / "scripts/show_pool.py").read_text()
    assert "import app.db.postgres_config" not in script and "get_unified_config().db_pool_size" in script
    session = (proj / "app/db/session.py").read_text()
    assert session.count("from app.core.config import get_unified_config") == 1
    assert "# pool sizing still on the old class" in session

    # apply twice is a no-op
    done = _tree(proj)
    code, _, err = cli("migrate", "apply", "unified-config", proj, "--python", PY, "--write")
    assert code == 0 and "no references left; nothing to do" in err and _tree(proj) == done

    # the migration is now a ban: a reference that comes back is DC301 in check
    (proj / "app/late.py").write_text("from app.db.postgres_config import DatabaseConfig\n\n"
                                      "SIZE = DatabaseConfig.POOL_SIZE\n")
    code, out, _ = cli("check", proj, "--python", PY, "--format", "json", "--no-cache")
    assert code == 1
    dc301 = [(os.path.relpath(f["path"], proj), f["line"], f["column"]) for f in json.loads(out)["findings"]
             if f["code"] == "DC301"]
    assert dc301 == [("app/late.py", 1, 36), ("app/late.py", 3, 8)]
    messages = [f["message"] for f in json.loads(out)["findings"] if f["code"] == "DC301"]
    assert "retired by migration `unified-config`: use `app.core.config.get_unified_config().db_pool_size`" \
           in messages[1]


def test_apply_refuses_an_edit_that_adds_an_error(tmp_path):
    proj = _copy(tmp_path)
    _fix_string_reference_by_hand(proj)
    pyproject = proj / "pyproject.toml"
    # `app.core` has no `settings`: the rewrite would add `from app.core import settings`, a new DC102
    pyproject.write_text(pyproject.read_text().replace('new = "app.core.config.get_unified_config()"',
                                                       'new = "app.core.settings.get_unified_config()"'))
    before = _tree(proj)
    code, out, err = cli("migrate", "apply", "unified-config", proj, "--python", PY, "--write")
    assert code == 1, err
    assert "the edited tree fails the check; nothing was written" in err
    assert "DC102 cannot import name 'settings' from 'app.core'" in err
    assert _tree(proj) == before


def test_apply_bad_input_writes_nothing(tmp_path):
    proj = _copy(tmp_path)
    _fix_string_reference_by_hand(proj)
    # a file that does not parse aborts the whole apply
    broken = proj / "scripts" / "broken.py"
    broken.write_text("def f(:\n")
    before = _tree(proj)
    code, _, err = cli("migrate", "apply", "unified-config", proj, "--python", PY, "--write")
    assert code == 2 and err == (
        "deploycheck: error: 1 Python file under the root cannot be read or parsed (scripts/broken.py:1: "
        "invalid syntax): `migrate apply` stops when any cannot, since it may hold references; fix it (or "
        "add it to the migration's `exclude`) first; nothing was written\n")
    assert _tree(proj) == before
    broken.unlink()
    # a read-only file among those to rewrite
    target = proj / "app" / "services" / "reports.py"
    target.chmod(0o444)
    before = _tree(proj)
    code, _, err = cli("migrate", "apply", "unified-config", proj, "--python", PY, "--write")
    assert code == 2 and "app/services/reports.py is read-only; nothing was written" in err
    assert _tree(proj) == before
    assert not any(p.name.endswith(".deploycheck-tmp") for p in proj.rglob("*"))


def test_a_file_changed_between_reading_and_writing_is_refused(tmp_path):
    from deploycheck.errors import UsageError
    from deploycheck.migrate import apply
    from deploycheck.migrate.workspace import find_migration, open_workspace

    proj = _copy(tmp_path)
    _fix_string_reference_by_hand(proj)
    ws = open_workspace(str(proj), PY, no_cache=True)
    plan = apply.plan(ws, find_migration(ws.project, "unified-config"))
    assert not plan.blockers and len(plan.edits) == 4
    session = proj / "app" / "db" / "session.py"
    session.write_text(session.read_text() + "\n# edited by someone else meanwhile\n")
    before = _tree(proj)
    with pytest.raises(UsageError, match="app/db/session.py changed since it was read; nothing was written"):
        apply.write_plan(ws, plan)
    assert _tree(proj) == before


def _strace_usable() -> bool:
    if shutil.which("strace") is None:
        return False
    # ptrace may be forbidden (a container's seccomp profile): then strace cannot run anything
    return subprocess.run(["strace", "-f", "-o", os.devnull, "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _strace_usable(), reason="strace (Debian package strace) not installed or cannot trace here")
@pytest.mark.parametrize("renamed, completed", [  # `completed`: renames left, finished by the next --write
    (["app/db/__init__.py", "app/db/session.py"], "2 files"),
    (["app/db/__init__.py", "app/db/session.py", "app/services/reports.py"], "1 file"),
])
def test_a_crash_mid_write_leaves_the_new_tree_once_recovered(tmp_path, monkeypatch, renamed, completed):
    from deploycheck.migrate import journal

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # where the journal goes
    proj = _copy(tmp_path)
    _fix_string_reference_by_hand(proj)
    before = _tree(proj)
    # The real process is killed (SIGKILL, on strace's request) as it enters a rename(2): after the journal's
    # two renames (prepared, committed) and `renamed` of the four file renames (in path order). strace counts
    # renames per process.
    exe = Path(sys.executable).with_name("deploycheck")
    renames = "rename,renameat,renameat2"
    proc = subprocess.run(["strace", "-f", "-o", os.devnull, "-e", f"trace={renames}",
                           "-e", f"inject={renames}:signal=KILL:when={len(renamed) + 3}",
                           str(exe), "migrate", "apply", "unified-config", str(proj), "--python", PY, "--write"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == -9, proc.stderr
    jpath = Path(journal.location(os.path.realpath(proj)))
    assert json.loads(jpath.read_text())["state"] == "committed"
    mixed = _tree(proj)
    changed = sorted(p for p, data in mixed.items() if before.get(p) != data and p.endswith(".py"))
    assert changed == renamed  # a mix, until `apply --write` completes it
    # The read-only commands say so, and do nothing.
    left = 4 - len(renamed)
    for command in (["status"], ["apply", "unified-config"]):
        code, out, err = cli("migrate", *command, proj, "--python", PY)
        assert (code, out) == (2, "")
        files = f"{left} file{'s' * (left != 1)}"
        assert err == (f"deploycheck: error: an interrupted `migrate apply --write` of `unified-config` left "
                       f"{files} of 4 to replace; `deploycheck migrate apply unified-config {proj} --write` "
                       "completes it (nothing was done now)\n")
        assert _tree(proj) == mixed and jpath.exists()
    code, out, err = cli("migrate", "apply", "unified-config", proj, "--python", PY, "--write")
    assert code == 0, err
    assert err == (f"deploycheck: completed an interrupted `migrate apply` of `unified-config` ({completed})\n"
                   "migrate apply unified-config: no references left; nothing to do\n")
    assert not jpath.exists()
    assert not any(p.name.endswith(".deploycheck-tmp") for p in proj.rglob("*"))
    code, out, err = cli("migrate", "status", proj, "--python", PY)
    assert code == 0 and "no references left" in out
    assert _run_tests(proj).returncode == 0


# -- a real deprecation over real installed code -----------------------------------------------------------

def _sdist(requirement: str, name: str) -> Path:
    """The source distribution of ``requirement`` as pip downloads it, unpacked (cached like the venvs)."""
    target = CACHE / "sdists" / requirement.replace("=", "-")
    done = target / ".complete"
    if not done.exists():
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        proc = subprocess.run([PY, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
                               "-d", str(target), requirement], capture_output=True, text=True)
        if proc.returncode != 0:
            pytest.fail(f"pip download {requirement} failed:\n{proc.stderr[-2000:]}")
        (archive,) = target.glob("*.tar.gz")
        shutil.unpack_archive(archive, target)
        done.touch()
    return next(p for p in target.iterdir() if p.is_dir() and p.name.lower().startswith(name.lower()))


def _utcnow_calls(root: Path) -> list[tuple[str, int]]:
    """An independent count: ``.utcnow`` tokens (tokenize, so comments and strings are not counted)."""
    import tokenize

    out = []
    for path in sorted(root.rglob("*.py")):
        with open(path, "rb") as f:
            toks = list(tokenize.tokenize(f.readline))
        for prev, tok in zip(toks, toks[1:]):
            if tok.type == tokenize.NAME and tok.string == "utcnow" and prev.string == ".":
                out.append((str(path.relative_to(root)), tok.start[0]))
    return out


@pytest.mark.slow
def test_real_deprecation_utcnow_in_pyjwt(tmp_path):
    src = _sdist("pyjwt==1.7.1", "PyJWT")
    proj = tmp_path / "pyjwt"
    shutil.copytree(src, proj)
    (proj / "pyproject.toml").write_text(
        '[[tool.deploycheck.migrations]]\nid = "utcnow"\nold = "datetime.datetime.utcnow"\n'
        'new = "datetime.datetime.now(datetime.UTC).replace(tzinfo=None)"\n')
    m = _status(proj)["migrations"][0]
    found = [(r["path"], r["line"]) for r in m["references"]]
    # every one is `from datetime import datetime` ... `datetime.utcnow()`: the token count is exact here
    assert found == _utcnow_calls(proj) and len(found) == 6
    assert {r["kind"] for r in m["references"]} == {"call"}

    def suite():
        proc = subprocess.run([PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=", "tests"],
                              cwd=proj, capture_output=True, text=True, timeout=600)
        return proc.returncode, proc.stdout.strip().splitlines()[-1]

    code_before, summary_before = suite()
    code, _, err = cli("migrate", "apply", "utcnow", proj, "--python", PY, "--write")
    assert code == 0, err
    assert "rewrote 6 references in 3 files" in err
    assert _status(proj)["migrations"][0]["remaining"] == 0
    assert "utcnow" not in (proj / "jwt" / "api_jwt.py").read_text()
    code_after, summary_after = suite()
    assert code_after == code_before == 0
    assert summary_after.split(" in ")[0] == summary_before.split(" in ")[0]  # same passed/skipped counts
    proc = subprocess.run([PY, "-c", "import jwt, jwt.api_jwt; print(jwt.encode({'a': 1}, 'k'))"], cwd=proj,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


# -- regressions -------------------------------------------------------------------------------------------

SMALL = {
    "pkg/__init__.py": "",
    "pkg/old.py": "class Old:\n    A = 1\n    B = 2\n",
    "pkg/new.py": "class New:\n    a = 1\n    b = 2\n",
    "pyproject.toml": '[[tool.deploycheck.migrations]]\nid = "x"\nold = "pkg.old.Old"\nnew = "pkg.new.New"\n'
                      '[tool.deploycheck.migrations.attributes]\nA = "a"\nB = "b"\n',
}


def _project(root: Path, files: dict[str, str]) -> Path:
    return write_tree(root, files)


def test_apply_keeps_parentheses_and_comments(tmp_path):
    proj = _project(tmp_path / "p", {**SMALL, "use.py": (
        "from pkg.old import Old  # keep me\n"
        "d = dict(\n    a=(\n        Old.A  # important comment\n    ),\n)\n"),
        "other.py": (
        '"""Doc."""\n\nimport os\n\n# about Old, above the line\nfrom pkg.old import Old  # noqa: F401\n\n'
        "x = (Old  # on the dot\n     .A)\ny = ((Old.B))\n"),
        "block.py": "try:\n    # the old one\n    from pkg.old import Old  # legacy\nexcept ImportError:\n    pass\n"
                    "v = Old.A\n",
    })
    code, _, err = cli("migrate", "apply", "x", proj, "--python", PY, "--write")
    assert code == 0, err
    assert "rewrote 7 references in 3 files" in err
    # only the names are replaced; the comment of the removed import line stays as a comment line
    assert (proj / "use.py").read_text() == (
        "# keep me\nfrom pkg.new import New\n\n"
        "d = dict(\n    a=(\n        New.a  # important comment\n    ),\n)\n")
    # comments above a removed import stay; a directive for the removed line alone (noqa) goes with it
    assert (proj / "other.py").read_text() == (
        '"""Doc."""\n\nimport os\n\n# about Old, above the line\nfrom pkg.new import New\n\n'
        "x = (New  # on the dot\n     .a)\ny = ((New.b))\n")
    # a block left with no statement gets `pass`, under the comments
    assert (proj / "block.py").read_text() == (
        "from pkg.new import New\n\ntry:\n    # the old one\n    # legacy\n    pass\nexcept ImportError:\n    pass\n"
        "v = New.a\n")


def test_dry_run_refuses_what_write_refuses(tmp_path):
    files = {k: v for k, v in SMALL.items() if k != "pkg/new.py"}  # `new` does not resolve
    proj = _project(tmp_path / "p", {**files, "use.py": "from pkg.old import Old\n\nv = Old.A\n"})
    before = _tree(proj)
    code, out, err = cli("migrate", "apply", "x", proj, "--python", PY)
    assert code == 1
    assert "+v = new.New.a\n" in out  # the diff of what would be written
    assert err == ("migrate apply x: the edited tree fails the check; --write would write nothing:\n"
                   "  use.py:1:17: DC102 cannot import name 'new' from 'pkg' (pkg/__init__.py)\n")
    assert _tree(proj) == before
    code, _, err_write = cli("migrate", "apply", "x", proj, "--python", PY, "--write")
    assert code == 1
    assert err_write == err.replace("--write would write nothing", "nothing was written")
    assert _tree(proj) == before
    # a reference that cannot be rewritten: the dry run refuses too
    proj = _project(tmp_path / "q", {**SMALL, "use.py": "from pkg.old import Old\n\nv = Old\n"})
    code, out, err = cli("migrate", "apply", "x", proj, "--python", PY)
    assert code == 1 and out == ""
    assert err == ("migrate apply x: 1 reference cannot be rewritten; --write would write nothing:\n"
                   "  use.py:3:5: name Old (`Old` used bare: no mapping can rewrite it)\n")


def test_apply_messages_count_in_the_singular(tmp_path):
    proj = _project(tmp_path / "p", {**SMALL, "use.py": "import pkg.old\n\nv = pkg.old.Old.A\n"})
    code, out, err = cli("migrate", "apply", "x", proj, "--python", PY)
    assert code == 0, err
    assert err == "migrate apply x: 1 reference in 1 file would be rewritten (nothing written; --write to apply)\n"
    code, _, err = cli("migrate", "apply", "x", proj, "--python", PY, "--write")
    assert (code, err) == (0, "migrate apply x: rewrote 1 reference in 1 file\n")
    assert (proj / "use.py").read_text() == "from pkg.new import New\n\nv = New.a\n"


def test_status_names_the_files_it_could_not_read_or_parse(tmp_path):
    proj = _project(tmp_path / "p", {**SMALL,
                                     "ok.py": "from pkg.old import Old\n\nv = Old.A\n",
                                     "app/broken.py": "from pkg.old import Old\n\nv = Old.A\ndef f(:\n"})
    (proj / "gone.py").symlink_to(proj / "nowhere.py")  # a dangling link: cannot be read
    doc = _status(proj)
    assert doc["skipped"] == [
        {"path": "app/broken.py", "line": 4, "reason": "invalid syntax"},
        {"path": "gone.py", "line": 0, "reason": "No such file or directory"},
    ]
    assert doc["migrations"][0]["remaining"] == 2
    code, out, _ = cli("migrate", "status", proj, "--python", PY)
    assert code == 0
    assert ("warning: 2 files could not be read or parsed and were not searched (a reference may hide there):\n"
            "  app/broken.py:4: invalid syntax\n"
            "  gone.py: No such file or directory\n"
            "5 files searched · ") in out
    assert "  2 references left of 2 at the baseline" in out
    # apply stops, naming every one in one line, and says why
    code, _, err = cli("migrate", "apply", "x", proj, "--python", PY, "--write")
    assert code == 2
    assert err == ("deploycheck: error: 2 Python files under the root cannot be read or parsed "
                   "(app/broken.py:4: invalid syntax; gone.py: No such file or directory): `migrate apply` "
                   "stops when any cannot, since it may hold references; fix them (or add them to the "
                   "migration's `exclude`) first; nothing was written\n")
    (proj / "gone.py").unlink()
    code, out, _ = cli("migrate", "status", proj, "--python", PY)
    assert ("warning: 1 file could not be read or parsed and was not searched (a reference may hide there):\n"
            "  app/broken.py:4: invalid syntax\n5 files searched · ") in out


def test_dc301_caret_covers_exactly_the_reference(tmp_path):
    proj = _project(tmp_path / "p", SMALL)
    assert _status(proj)["migrations"][0]["completed"]  # no reference: the migration is a ban from now on
    (proj / "late.py").write_text(
        'from pkg.old import Old as O  # back\nimport pkg.old\n\n'
        'é = O.A; v = (pkg.old.Old\n              .B)\nw = getattr(pkg.old, "Old")\ns = "pkg.old.Old"\n')
    code, out, _ = cli("check", proj, "--python", PY, "--no-cache", "--format", "json")
    assert code == 1
    got = [(f["line"], f["column"], f["symbol"]) for f in json.loads(out)["findings"] if f["code"] == "DC301"]
    assert got == [(1, 21, "Old as O"), (4, 5, "O.A"), (4, 15, "pkg.old.Old"),  # the first line of a wrapped one
                   (6, 5, 'getattr(pkg.old, "Old")'), (7, 5, '"pkg.old.Old"')]
    code, out, _ = cli("check", proj, "--python", PY, "--no-cache")
    lines = out.splitlines()
    carets = [(lines[i - 1], line) for i, line in enumerate(lines) if line.startswith("  | ") and "^" in line]
    assert carets == [
        ("1 | from pkg.old import Old as O  # back", "  |                     ^^^^^^^^"),
        ("4 | é = O.A; v = (pkg.old.Old", "  |     ^^^"),
        ("4 | é = O.A; v = (pkg.old.Old", "  |               ^^^^^^^^^^^"),
        ('6 | w = getattr(pkg.old, "Old")', "  |     ^^^^^^^^^^^^^^^^^^^^^^^"),
        ('7 | s = "pkg.old.Old"', "  |     ^^^^^^^^^^^^^"),
    ]


def test_a_symbolic_link_inside_the_root_is_written_through(tmp_path):
    proj = _project(tmp_path / "p", {**SMALL, "shared/real.py": "from pkg.old import Old\n\nv = Old.A\n"})
    (proj / "app").mkdir()
    (proj / "app" / "link.py").symlink_to(Path("..") / "shared" / "real.py")
    m = _status(proj)["migrations"][0]  # the file and the link to it are searched once
    assert [(r["path"], r["line"], r["kind"]) for r in m["references"]] == [
        ("shared/real.py", 1, "import"), ("shared/real.py", 3, "attribute")]
    code, out, err = cli("migrate", "apply", "x", proj, "--python", PY, "--write")
    assert code == 0, err
    assert err == "migrate apply x: rewrote 2 references in 1 file\n"
    assert (proj / "app" / "link.py").is_symlink()
    assert os.readlink(proj / "app" / "link.py") == os.path.join("..", "shared", "real.py")
    assert (proj / "shared" / "real.py").read_text() == "from pkg.new import New\n\nv = New.a\n"
    assert _status(proj)["migrations"][0]["remaining"] == 0
    # a reference that comes back is one DC301, not one per path to the file
    (proj / "shared" / "real.py").write_text("from pkg.old import Old\n")
    code, out, _ = cli("check", proj, "--python", PY, "--no-cache", "--format", "json")
    assert [(os.path.relpath(f["path"], proj), f["line"]) for f in json.loads(out)["findings"]
            if f["code"] == "DC301"] == [("shared/real.py", 1)]


def test_a_symbolic_link_outside_the_root_is_refused(tmp_path):
    elsewhere = _project(tmp_path / "elsewhere", {"ext.py": "from pkg.old import Old\n\nv = Old.A\n"})
    proj = _project(tmp_path / "p", SMALL)
    (proj / "ext.py").symlink_to(elsewhere / "ext.py")
    assert len(_status(proj)["migrations"][0]["references"]) == 2  # read through the link: reported
    before, before_elsewhere = _tree(proj), _tree(elsewhere)
    for write in ([], ["--write"]):
        code, out, err = cli("migrate", "apply", "x", proj, "--python", PY, *write)
        assert (code, out) == (2, "")
        assert err == (f"deploycheck: error: ext.py is a symbolic link to {elsewhere / 'ext.py'}, outside the project "
                       "root, and holds references: `migrate apply` does not write outside the root; migrate that "
                       "file where it lives, or add the link to the migration's `exclude`; nothing was written\n")
        assert _tree(proj) == before and _tree(elsewhere) == before_elsewhere
        assert (proj / "ext.py").is_symlink()
