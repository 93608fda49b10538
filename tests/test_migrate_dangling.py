"""deploycheck migrate on the crash state of the incident: the import of the retired class removed, its uses
left (each a NameError when it runs). Dangling uses and names in `__all__` are leftovers; apply rewrites the
dangling uses, and its re-check refuses a mapping to an attribute the new class lacks (DC401); every file that
does not parse is named."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FIXTURES, cli, venv, write_tree

CRASH = FIXTURES / "migrate" / "crash"
PY = sys.executable

# The eleven uses left in app/db/engine.py after its import was removed: (line, column, text), found by hand.
CRASH_USES = [
    (9, 16, "DatabaseConfig.URL"),
    (10, 22, "DatabaseConfig.POOL_SIZE"),
    (11, 25, "DatabaseConfig.MAX_OVERFLOW"),
    (12, 25, "DatabaseConfig.POOL_TIMEOUT"),
    (13, 25, "DatabaseConfig.POOL_RECYCLE"),
    (14, 17, "DatabaseConfig.ECHO"),
    (16, 32, "DatabaseConfig.CONNECT_TIMEOUT"),
    (17, 33, "DatabaseConfig.APP_NAME"),
    (23, 12, "DatabaseConfig.REPLICA_URL"),
    (27, 34, "DatabaseConfig.STATEMENT_TIMEOUT"),
    (27, 86, "DatabaseConfig.SSL_MODE"),
]
IMPORT_LINE = "from app.db.postgres_config import DatabaseConfig\n"


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts and ".git" not in p.parts}


def _copy(tmp_path: Path) -> Path:
    dst = tmp_path / "proj"
    shutil.copytree(CRASH, dst)
    return dst


def _status(proj: Path, python: str = PY) -> dict:
    code, out, err = cli("migrate", "status", proj, "--python", python, "--format", "json", "--no-cache")
    assert code == 0, err
    return json.loads(out)["migrations"][0]


def _git(proj: Path, *args: str) -> str:
    proc = subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com",
                           "-c", "commit.gpgsign=false", "-C", str(proj), *args],
                          capture_output=True, text=True, check=True)
    return proc.stdout.strip()


def _describe(proj: Path, python: str = PY) -> subprocess.CompletedProcess:
    """The service's code run for real: the engine options are built as the service builds them at start."""
    return subprocess.run([python, "-c", "from app.main import describe; print(describe())"], cwd=proj,
                          capture_output=True, text=True, timeout=120)


def _engine(proj: Path) -> Path:
    return proj / "app" / "db" / "engine.py"


# -- status: the dangling uses are leftovers, with the rule that made each one -------------------------------

def test_crash_state_counts_the_eleven_dangling_uses(tmp_path):
    proj = _copy(tmp_path)
    crash = _describe(proj)
    assert crash.returncode == 1 and "NameError: name 'DatabaseConfig' is not defined" in crash.stderr
    m = _status(proj)
    assert (m["remaining"], m["baseline"], m["completed"]) == (11, 11, False)
    got = [(r["path"], r["line"], r["column"], r["kind"], r["text"], r["rewritable"])
           for r in m["references"]]
    assert got == [("app/db/engine.py", line, col, "attribute", text, True) for line, col, text in CRASH_USES]
    # not a git repository: the name is tied to the migration by being unique to it in the project
    assert {json.dumps(r["dangling"]) for r in m["references"]} == {json.dumps(
        {"rule": "unique-name", "detail": "unbound name unique to the migration"})}
    code, out, _ = cli("migrate", "status", proj, "--python", PY, "--no-cache")
    assert code == 0
    assert "  11 references left of 11 at the baseline (0% done); 11 rewritable" in out
    assert "  11 of them dangling: the name is bound to nothing where it is used" in out
    assert ("  app/db/engine.py:27:86: attribute DatabaseConfig.SSL_MODE (rewritable; dangling: unbound name "
            "unique to the migration)\n") in out


def test_the_history_rule_names_the_commit_that_imported_it(tmp_path):
    proj = _copy(tmp_path)
    engine = _engine(proj)
    crash = engine.read_text()
    _git(proj, "init", "-q")
    engine.write_text(crash.replace("from app.core.config import get_unified_config\n",
                                    "from app.core.config import get_unified_config\n" + IMPORT_LINE))
    _git(proj, "add", "-A")
    _git(proj, "commit", "-qm", "engine on the old class")
    imported = _git(proj, "rev-parse", "HEAD")
    # the removal not committed yet: HEAD still imports it
    engine.write_text(crash)
    m = _status(proj)
    assert m["remaining"] == 11
    rules = {(r["dangling"]["rule"], r["dangling"]["commit"]) for r in m["references"]}
    assert rules == {("history", imported)}
    assert m["references"][0]["dangling"]["detail"] == (
        f"the name is unbound here and app/db/engine.py imported it at {imported[:12]}")
    # the removal committed, and more commits on top: the newest version that imported it is named
    _git(proj, "commit", "-qam", "drop the import (the migration)")
    (proj / "README").write_text("unrelated\n")
    _git(proj, "add", "README")
    _git(proj, "commit", "-qm", "unrelated")
    m = _status(proj)
    assert [(r["line"], r["column"]) for r in m["references"]] == [(line, col) for line, col, _ in CRASH_USES]
    assert {r["dangling"]["commit"] for r in m["references"]} == {imported}
    code, out, _ = cli("migrate", "status", proj, "--python", PY, "--no-cache")
    assert (f"  app/db/engine.py:9:16: attribute DatabaseConfig.URL (rewritable; dangling: the name is "
            f"unbound here and app/db/engine.py imported it at {imported[:12]})\n") in out


def test_an_unbound_name_needs_a_rule_to_be_a_leftover(tmp_path):
    proj = _copy(tmp_path)
    # Another class of the same name in the project: an unbound `DatabaseConfig` may mean either one.
    write_tree(proj, {"app/cache/__init__.py": "",
                      "app/cache/config.py": "class DatabaseConfig:\n    TTL = 3\n"})
    assert _status(proj)["remaining"] == 0
    # ... unless the file's history shows it imported the retired one
    engine = _engine(proj)
    crash = engine.read_text()
    _git(proj, "init", "-q")
    engine.write_text(IMPORT_LINE + crash)
    _git(proj, "add", "-A")
    _git(proj, "commit", "-qm", "old")
    imported = _git(proj, "rev-parse", "HEAD")
    engine.write_text(crash)
    _git(proj, "commit", "-qam", "new")
    (proj / ".deploycheck-migrations.json").unlink()
    m = _status(proj)
    assert m["remaining"] == 11 and {r["dangling"]["commit"] for r in m["references"]} == {imported}
    # History that imported the *other* class does not count.
    engine.write_text("from app.cache.config import DatabaseConfig\n" + crash)
    _git(proj, "commit", "-qam", "the other one")
    engine.write_text(crash)
    _git(proj, "commit", "-qam", "gone again")
    m = _status(proj)
    assert {r["dangling"]["commit"] for r in m["references"]} == {imported}  # still the older version


def test_names_that_are_bound_or_too_plain_are_not_dangling(tmp_path):
    declare = '[[tool.deploycheck.migrations]]\nid = "{}"\nold = "pkg.old.{}"\nnew = "pkg.new.New"\n'
    files = {
        "pyproject.toml": declare.format("x", "Old") + declare.format("y", "LegacyClient")
                          + declare.format("z", "open"),
        "pkg/__init__.py": "",
        "pkg/old.py": "class Old:\n    A = 1\n\n\nclass LegacyClient:\n    A = 1\n\n\ndef open():\n"
                      "    pass\n",
        "pkg/new.py": "class New:\n    a = 1\n",
        "plain.py": "v = Old.A\n",                                   # `Old`: too plain to tie to pkg.old
        "star.py": "from somewhere_unknown import *\n\nv = LegacyClient.A\n",  # the star import may bind it
        "local.py": "def f(LegacyClient):\n    return LegacyClient.A\n",      # a parameter
        "builtin.py": "f = open('x')\n",                                      # the builtin
        "dangling.py": "def g():\n    return LegacyClient.A\n",               # the one leftover
    }
    proj = write_tree(tmp_path / "p", files)
    code, out, err = cli("migrate", "status", proj, "--python", PY, "--format", "json", "--no-cache")
    assert code == 0, err
    got = {m["id"]: [(r["path"], r["line"], r["column"]) for r in m["references"]]
           for m in json.loads(out)["migrations"]}
    assert got == {"x": [], "y": [("dangling.py", 2, 12)], "z": []}


# -- apply: the dangling uses are rewritten, and the service runs --------------------------------------------

def test_apply_rewrites_the_dangling_uses_and_the_service_runs(tmp_path):
    proj = _copy(tmp_path)
    code, out, err = cli("migrate", "apply", "unified-config", proj, "--python", PY, "--write", "--no-cache")
    assert code == 0, err
    assert err == "migrate apply unified-config: rewrote 11 references in 1 file\n"
    text = _engine(proj).read_text()
    assert "DatabaseConfig" not in text and text.count("from app.core.config import get_unified_config") == 1
    assert '        "pool_size": get_unified_config().db_pool_size,\n' in text
    assert "    return get_unified_config().db_replica_url\n" in text  # a property of the new class
    ran = _describe(proj)
    assert ran.returncode == 0, ran.stderr
    assert "'pool_size': 5, 'max_overflow': 10" in ran.stdout and "'sslmode': 'prefer'" in ran.stdout
    m = _status(proj)
    assert (m["remaining"], m["completed"]) == (0, True)
    # completed: a dangling use that comes back is banned (DC301), also in a file no entry imports (so no
    # DC201 there: `check` follows the entries' closure, the ban covers every file under the root)
    (proj / "app" / "late.py").write_text("def pool() -> int:\n    return DatabaseConfig.POOL_SIZE\n")
    code, out, _ = cli("check", proj, "--python", PY, "--format", "json", "--no-cache")
    assert code == 1
    found = sorted((f["code"], os.path.relpath(f["path"], proj), f["line"], f["column"])
                   for f in json.loads(out)["findings"] if f["code"] in ("DC201", "DC301"))
    assert found == [("DC301", "app/late.py", 2, 12)]


def test_apply_adds_the_import_of_new_where_a_dangling_use_is_rewritten(tmp_path):
    proj = _copy(tmp_path)
    write_tree(proj, {"app/db/replica.py": "def url() -> str:\n    return DatabaseConfig.REPLICA_URL\n"})
    code, _, err = cli("migrate", "apply", "unified-config", proj, "--python", PY, "--write", "--no-cache")
    assert code == 0, err
    assert (proj / "app/db/replica.py").read_text() == (
        "from app.core.config import get_unified_config\n\n"
        "def url() -> str:\n    return get_unified_config().db_replica_url\n")


def test_a_dangling_bare_use_is_listed_for_a_hand_edit(tmp_path):
    proj = _copy(tmp_path)
    write_tree(proj, {"app/db/registry.py": "def kinds() -> list:\n    return [DatabaseConfig]\n"})
    before = _tree(proj)
    code, out, err = cli("migrate", "apply", "unified-config", proj, "--python", PY, "--write", "--no-cache")
    assert code == 1
    assert err == ("migrate apply unified-config: 1 reference cannot be rewritten; nothing was written:\n"
                   "  app/db/registry.py:2:13: name DatabaseConfig (`DatabaseConfig` used bare: no mapping "
                   "can rewrite it)\n")
    assert _tree(proj) == before


# -- apply: DC401 against the class of `new` ---------------------------------------------------------------

def _drop(proj: Path, rel: str, old: str, new: str = "") -> None:
    p = proj / rel
    text = p.read_text()
    assert old in text
    p.write_text(text.replace(old, new))


def test_apply_refuses_a_mapping_to_an_attribute_the_new_class_lacks(tmp_path):
    proj = _copy(tmp_path)
    # The incident: the new class had no `db_pool_size` (here it is gone from the base class), and one more
    # mapping names an attribute spelt otherwise in the class.
    _drop(proj, "app/core/config.py", '    db_pool_size: int = int(os.environ.get("DB_POOL_SIZE", "5"))\n')
    _drop(proj, "app/core/config.py", "db_ssl_mode", "db_sslmode")
    before = _tree(proj)
    lines = [
        "  app/db/engine.py:10:22: DC401 `UnifiedConfig` (app.core.config.UnifiedConfig) has no attribute "
        "`db_pool_size`, read as `app.core.config.get_unified_config().db_pool_size` (the mapping of "
        "`POOL_SIZE` in [tool.deploycheck.migrations.attributes]); did you mean `db_pool_timeout`?",
        "  app/db/engine.py:27:86: DC401 `UnifiedConfig` (app.core.config.UnifiedConfig) has no attribute "
        "`db_ssl_mode`, read as `app.core.config.get_unified_config().db_ssl_mode` (the mapping of "
        "`SSL_MODE` in [tool.deploycheck.migrations.attributes]); did you mean `db_sslmode`?",
    ]
    for write, refused in (([], "--write would write nothing"), (["--write"], "nothing was written")):
        code, out, err = cli("migrate", "apply", "unified-config", proj, "--python", PY, *write, "--no-cache")
        assert code == 1
        assert err.startswith(f"migrate apply unified-config: the edited tree fails the check; {refused}:\n"
                              + "\n".join(lines) + "\n"), err
        assert _tree(proj) == before
    # once the class has them, the same mapping is accepted
    _drop(proj, "app/core/config.py", "db_sslmode", "db_ssl_mode")
    _drop(proj, "app/core/config.py", "    database_url: str\n",
          "    database_url: str\n    db_pool_size: int\n")
    _drop(proj, "app/core/config.py", "        db_echo=",
          '        db_pool_size=int(os.environ.get("DB_POOL_SIZE", "5")),\n        db_echo=')
    code, _, err = cli("migrate", "apply", "unified-config", proj, "--python", PY, "--write", "--no-cache")
    assert code == 0, err
    assert _describe(proj).returncode == 0


def test_dc401_in_apply_reads_pydantic_fields_accessors_and_modules(tmp_path):
    python = venv(["pydantic-settings>=2.3,<3"])
    proj = _copy(tmp_path)
    (proj / "app/core/config.py").write_text(
        '"""Unified configuration as pydantic settings."""\n\n'
        "from pydantic_settings import BaseSettings, SettingsConfigDict\n\n\n"
        "class PoolSettings(BaseSettings):\n"
        "    db_pool_size: int = 5\n    db_max_overflow: int = 10\n    db_pool_timeout: float = 30\n"
        "    db_pool_recycle: int = 1800\n\n\n"
        "class UnifiedConfig(PoolSettings):\n"
        '    model_config = SettingsConfigDict(env_prefix="")\n\n'
        '    database_url: str = "postgresql://localhost/app"\n    db_echo: bool = False\n'
        "    db_connect_timeout: int = 10\n"
        '    db_application_name: str = "app"\n    db_statement_timeout: int = 30\n'
        '    db_ssl_mode: str = "prefer"\n\n'
        "    @property\n    def db_replica_url(self) -> str:\n        return self.database_url\n\n\n"
        "_config = None\n\n\n"
        "def get_unified_config():\n"  # no return annotation: the accessor is declared in pyproject.toml
        "    global _config\n    if _config is None:\n        _config = UnifiedConfig()\n"
        "    return _config\n")
    pyproject = proj / "pyproject.toml"
    declared = pyproject.read_text().replace(
        "[[tool.deploycheck.migrations]]",
        '[tool.deploycheck.config]\naccessors = { "app.core.config.get_unified_config" = '
        '"app.core.config.UnifiedConfig" }\n\n[[tool.deploycheck.migrations]]', 1)
    pyproject.write_text(declared)
    # a mapping to a field pydantic would not have
    pyproject.write_text(declared.replace('ECHO = "db_echo"', 'ECHO = "db_echoes"'))
    code, _, err = cli("migrate", "apply", "unified-config", proj, "--python", python, "--no-cache")
    assert code == 1
    assert ("  app/db/engine.py:14:17: DC401 `UnifiedConfig` (app.core.config.UnifiedConfig) has no "
            "attribute `db_echoes`, read as `app.core.config.get_unified_config().db_echoes`") in err
    assert err.count("DC401") == 1
    # fields, inherited fields and the property: accepted, and the service runs on the new class
    pyproject.write_text(declared)
    code, _, err = cli("migrate", "apply", "unified-config", proj, "--python", python, "--write",
                       "--no-cache")
    assert code == 0, err
    ran = _describe(proj, python)
    assert ran.returncode == 0, ran.stderr
    assert "'pool_size': 5" in ran.stdout

    # `new` a module: its attributes are what `check` knows of the module
    files = {
        "pyproject.toml": '[[tool.deploycheck.migrations]]\nid = "m"\nold = "pkg.legacy"\n'
                          'new = "pkg.modern"\n[tool.deploycheck.migrations.attributes]\n'
                          'helper = "helper2"\nother = "gone"\n',
        "pkg/__init__.py": "",
        "pkg/legacy.py": "def helper():\n    return 1\n\n\ndef other():\n    return 2\n",
        "pkg/modern.py": "def helper2():\n    return 1\n",
        "use.py": "from pkg import legacy\n\na = legacy.helper()\nb = legacy.other()\n",
    }
    proj = write_tree(tmp_path / "mod", files)
    code, _, err = cli("migrate", "apply", "m", proj, "--python", PY, "--no-cache")
    assert code == 1
    assert "  use.py:4:5: DC401 `modern` (pkg.modern) has no attribute `gone`, read as `pkg.modern.gone`" \
        in err
    assert "helper2" not in err


# -- names in __all__ ---------------------------------------------------------------------------------------

def test_a_name_in_all_is_a_reference(tmp_path):
    files = {
        "pyproject.toml": '[[tool.deploycheck.migrations]]\nid = "x"\nold = "pkg.old.OldClient"\n'
                          'new = "pkg.new.New"\n',
        "pkg/__init__.py": "",
        # the module that defines it exports it as part of defining it: not a leftover
        "pkg/old.py": '__all__ = ["OldClient"]\n\n\nclass OldClient:\n    A = 1\n',
        "pkg/new.py": "class New:\n    a = 1\n",
        # a re-export listed in __all__ (besides the import itself)
        "pkg/api.py": 'from pkg.old import OldClient\n\n__all__ = ["OldClient", "other"]\nother = 1\n',
        # a name left in __all__ after its import was removed: `from pkg.facade import *` raises
        # AttributeError
        "pkg/facade.py": '"""Facade."""\n\n__all__ = ("helper",)\n__all__ += ["OldClient"]\n\n\n'
                         "def helper():\n    return 1\n",
    }
    proj = write_tree(tmp_path / "p", files)
    code, out, err = cli("migrate", "status", proj, "--python", PY, "--format", "json", "--no-cache")
    assert code == 0, err
    refs = json.loads(out)["migrations"][0]["references"]
    got = [(r["path"], r["line"], r["column"], r["kind"], r["rewritable"], "dangling" in r) for r in refs]
    assert got == [
        ("pkg/api.py", 1, 21, "import", True, False),
        ("pkg/api.py", 3, 12, "__all__", False, False),
        ("pkg/facade.py", 4, 13, "__all__", False, True),
    ]
    assert refs[1]["reason"] == "a name in `__all__`: remove it, or export the replacement, by hand"
    assert refs[2]["dangling"]["rule"] == "unique-name"
    before = _tree(proj)
    code, _, err = cli("migrate", "apply", "x", proj, "--python", PY, "--write", "--no-cache")
    assert code == 1
    assert err == ("migrate apply x: 2 references cannot be rewritten; nothing was written:\n"
                   "  pkg/api.py:3:12: __all__ 'OldClient' (a name in `__all__`: remove it, or export the "
                   "replacement, by hand)\n"
                   "  pkg/facade.py:4:13: __all__ 'OldClient' (a name in `__all__`: remove it, or export the "
                   "replacement, by hand)\n")
    assert _tree(proj) == before


# -- files that do not parse: all of them named --------------------------------------------------------------

def test_apply_names_every_file_that_does_not_parse(tmp_path):
    proj = _copy(tmp_path)
    write_tree(proj, {f"scripts/broken_{i:02}.py": "def f(:\n" for i in range(52)})
    write_tree(proj, {"app/db/half.py": "x = (\n"})
    code, out, err = cli("migrate", "apply", "unified-config", proj, "--python", PY, "--no-cache")
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == 1
    listed = "; ".join(["app/db/half.py:1: '(' was never closed"]
                       + [f"scripts/broken_{i:02}.py:1: invalid syntax" for i in range(49)])
    assert err == (f"deploycheck: error: 53 Python files under the root cannot be read or parsed ({listed}; "
                   "and 3 more files): `migrate apply` stops when any cannot, since it may hold references; "
                   "fix them (or add them to the migration's `exclude`) first; nothing was written\n")
    # status names each of those it parsed (those that spell the name), and still counts the leftovers
    write_tree(proj, {"app/db/other.py": "DatabaseConfig = (\n"})
    m_doc = cli("migrate", "status", proj, "--python", PY, "--format", "json", "--no-cache")
    doc = json.loads(m_doc[1])
    assert doc["skipped"] == [{"path": "app/db/other.py", "line": 1, "reason": "'(' was never closed"}]
    assert doc["migrations"][0]["remaining"] == 11


# -- the history of an untrusted repository ------------------------------------------------------------------

@pytest.mark.parametrize("attack", ["drivers", "partial-clone"])
def test_a_hostile_repository_runs_nothing_while_its_history_is_read(sandbox, attack):
    """A repository's own configuration can name programs for git to run: a textconv driver (run by
    `git log -S`), a file-system monitor, a pager, an external diff, a signature program ("drivers"), and the
    transport of a partial clone's promisor remote, run to fetch an object that is missing ("partial-clone").
    None may run."""
    shutil.copytree(CRASH, sandbox.project, dirs_exist_ok=True)
    proj, out = sandbox.project, sandbox.outside
    engine = _engine(proj)
    crash = engine.read_text()
    _git(proj, "init", "-q")
    (proj / ".gitattributes").write_text("*.py diff=evil\n")
    engine.write_text(IMPORT_LINE + crash)
    _git(proj, "add", "-A")
    _git(proj, "commit", "-qm", "old")
    blob = _git(proj, "rev-parse", "HEAD:app/db/engine.py")
    engine.write_text(crash)
    _git(proj, "commit", "-qam", "new")
    if attack == "drivers":
        rule = "history"
        config = [
            ("diff.evil.textconv", f"sh -c 'touch {out}/textconv; cat \"$0\"'"),
            ("core.fsmonitor", f"touch {out}/fsmonitor"),
            ("core.pager", f"touch {out}/pager"),
            ("diff.external", f"touch {out}/external-diff"),
            ("log.showSignature", "true"),
            ("gpg.program", f"touch {out}/gpg"),
        ]
    else:
        rule = "unique-name"  # the version that imported it cannot be read
        (proj / ".git" / "objects" / blob[:2] / blob[2:]).unlink()
        config = [
            ("core.repositoryformatversion", "1"),
            ("extensions.partialClone", "origin"),
            ("remote.origin.url", f"ext::sh -c touch% {out}/fetched"),
            ("remote.origin.promisor", "true"),
            ("protocol.ext.allow", "always"),
        ]
    for key, value in config:
        _git(proj, "config", key, value)
    # The dry run writes nothing: the whole tree (the repository included) must be as it was.
    outcome = sandbox.run("migrate", "apply", "unified-config", ".", "--python", PY)
    outcome.assert_safe(code=0, one_line=False)
    assert outcome.stderr == ("migrate apply unified-config: 11 references in 1 file would be rewritten "
                              "(nothing written; --write to apply)\n")
    outcome = sandbox.run("migrate", "status", ".", "--python", PY, "--format", "json")
    outcome.assert_safe(code=0, one_line=False, project_unchanged=False)
    refs = json.loads(outcome.stdout)["migrations"][0]["references"]
    assert len(refs) == 11 and {r["dangling"]["rule"] for r in refs} == {rule}
    assert sorted(os.listdir(out)) == [".ssh", "credentials"]
