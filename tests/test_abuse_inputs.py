"""Abuse of the inputs a repository brings (issue 9, sections 3, 5 and 6): what its files point at, how big or
strange they are. Each run is the real command in a sandbox (tests/abuse.py) and must keep every guarantee:
exit code, one-line message, memory of the process tree under the documented bound, nothing changed outside,
nothing left behind, and no text of a file outside the project in any output."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest
from abuse import EXE, OUTSIDE_SECRET
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deploycheck.errors import UsageError
from deploycheck.target import config, containerfile, declared
from deploycheck.target.copymap import Ignore
from deploycheck.target.patterns import gitignore_spec

PY = sys.executable
# An outside module whose text would be quoted by findings if it were shown: an undefined name (DC201) and
# a missing module (DC101) spelled with the secret.
SECRET_NAME = "outside_secret_name_51f0"
SECRET_MODULE = "outside_secret_module_2b9e"
OUTSIDE_MODULE = f"import {SECRET_MODULE}\nvalue = {SECRET_NAME}\n"
SECRETS = (OUTSIDE_SECRET, SECRET_NAME, SECRET_MODULE)


def _check(sandbox, *args):
    """Both output formats of one check of the sandbox's project."""
    return [sandbox.run("check", ".", "--python", PY, "--no-cache", *args),
            sandbox.run("check", ".", "--python", PY, "--no-cache", "--format", "json", *args)]


def _outside(sandbox, name="credentials"):
    return str(sandbox.outside / name)


# --- Section 3: what the repository points at -------------------------------------------------------------


@pytest.mark.parametrize("link", ["secret.py", "pkg/secret.py"])
def test_a_module_linked_outside_is_analyzed_but_never_shown(sandbox, link):
    (sandbox.outside / "mod.py").write_text(OUTSIDE_MODULE)
    sandbox.write({"app.py": f"import {link[:-3].replace('/', '.')}\n", "pkg/__init__.py": ""})
    os.symlink(_outside(sandbox), sandbox.project / "secret.py")  # the credentials file as a module
    os.symlink(sandbox.outside / "mod.py", sandbox.project / "pkg" / "secret.py")
    for run in _check(sandbox):
        run.assert_safe(code=1, one_line=False, secrets=SECRETS)
        # the findings are there, at their place, with their code: only the text is withheld
        assert ("DC202" if link == "secret.py" else "DC201") in run.stdout
        assert "the file is outside the project, so its text is not shown" in run.stdout


def test_a_directory_linked_outside_is_importable_but_never_shown(sandbox):
    (sandbox.outside / "shared").mkdir()
    (sandbox.outside / "shared" / "__init__.py").write_text("")
    (sandbox.outside / "shared" / "util.py").write_text(OUTSIDE_MODULE)
    sandbox.write({"app.py": "from shared import util\n"})
    os.symlink(sandbox.outside / "shared", sandbox.project / "shared")  # as a monorepo links a package in
    for run in _check(sandbox):
        run.assert_safe(code=1, one_line=False, secrets=SECRETS)
        assert "DC101" in run.stdout and "DC201" in run.stdout


@pytest.mark.parametrize("adds", ["sys.path.insert(0, {d!r})", "site.addsitedir({d!r})"])
def test_a_directory_the_project_puts_on_sys_path_outside_is_never_shown(sandbox, adds):
    # The project names the directory: its files are the project's business, and they lie outside. The
    # module there counted as third-party, whose text is shown (as the environment's own files are).
    lib = sandbox.outside / "lib"
    lib.mkdir()
    (lib / "credmod.py").write_text(f"from os import {SECRET_NAME}\n")
    sandbox.write({"app/__init__.py": f"import site\nimport sys\n{adds.format(d=str(lib))}\nimport credmod\n"})
    for run in _check(sandbox):
        run.assert_safe(code=1, one_line=False, secrets=SECRETS)
        assert "DC102" in run.stdout and str(lib / "credmod.py") in run.stdout
        assert "the file is outside the project, so its text is not shown" in run.stdout


@pytest.mark.parametrize("setup", ["requirements.txt", "-r absolute", "-r relative", "-r in include",
                                   "--requirement=", "-c"])
def test_requirements_that_lead_outside_are_read_but_never_quoted(sandbox, setup):
    (sandbox.outside / "reqs.txt").write_text(f"{SECRET_NAME}\n")  # a valid requirement: DC506 would name it
    sandbox.write({"app.py": "x = 1\n"})
    if setup == "requirements.txt":
        os.symlink(_outside(sandbox), sandbox.project / "requirements.txt")
    elif setup == "-r absolute":
        sandbox.write({"requirements.txt": f"-r {_outside(sandbox)}\n"})
    elif setup == "-r relative":
        sandbox.write({"requirements.txt": "-r ../outside/credentials\n"})
    elif setup == "-r in include":
        sandbox.write({"requirements.txt": "-r base.txt\n", "base.txt": "-r ../outside/reqs.txt\n"})
    elif setup == "--requirement=":
        sandbox.write({"requirements.txt": "--requirement=../outside/reqs.txt\n"})
    else:
        sandbox.write({"requirements.txt": "-c ../outside/credentials\n"})
    for run in _check(sandbox):
        if setup in ("-r in include", "--requirement="):  # read, found missing, reported without its name
            run.assert_safe(code=1, one_line=False, secrets=SECRETS)
            assert "DC506" in run.stdout and "requirement-not-installed (the file is outside" in run.stdout
        elif setup == "-c":  # constraints are not read
            run.assert_safe(code=0, one_line=False, secrets=SECRETS)
        else:  # the credentials are not requirements: pip would refuse them, and so does the check
            run.assert_safe(code=2, secrets=SECRETS)
            assert "invalid requirement (the file is outside the project" in run.stderr


def test_an_include_named_only_by_an_outside_file_is_not_named_either(sandbox):
    # the outside file's own text names the next file: that name is its content
    (sandbox.outside / "reqs.txt").write_text(f"-r {SECRET_NAME}.txt\n")
    sandbox.write({"app.py": "x = 1\n", "requirements.txt": "-r ../outside/reqs.txt\n"})
    for run in _check(sandbox):
        run.assert_safe(code=2, secrets=SECRETS)
        assert "outside/reqs.txt:1 (a file it includes)" in run.stderr


@pytest.mark.parametrize("name", ["pyproject.toml", ".gitignore"])
def test_settings_linked_outside(sandbox, name):
    sandbox.write({"app.py": "x = 1\n"})
    os.symlink(_outside(sandbox), sandbox.project / name)
    for run in _check(sandbox):
        if name == ".gitignore":  # git does not read a linked .gitignore: neither does the check
            run.assert_safe(code=0, one_line=False, secrets=SECRETS)
        else:
            run.assert_safe(code=2, secrets=SECRETS)
            assert run.stderr.endswith("pyproject.toml is a link to a file outside the project: deploycheck "
                                       "reads the project's settings and build files only from inside it\n")


def test_roots_outside_the_project_are_refused(sandbox):
    sandbox.write({"app.py": "x = 1\n", "pyproject.toml": '[tool.deploycheck]\nroots = ["../outside"]\n'})
    run = sandbox.run("check", ".", "--python", PY, "--no-cache").assert_safe(code=2)
    assert "roots: ../outside is outside the project" in run.stderr


def test_a_link_to_the_root_of_the_machine_is_not_walked(sandbox):
    sandbox.write({"app.py": "x = 1\n"})
    os.symlink("/", sandbox.project / "machine")
    os.symlink("/usr/lib", sandbox.project / "lib")
    run = sandbox.run("check", ".", "--python", PY, "--no-cache", timeout=60)
    run.assert_safe(code=0, one_line=False)
    assert "1 module of the import closure of app" in run.stdout


OUTSIDE_READS = (f"import os\nX = os.environ['{SECRET_NAME}']\n"
                 f"Y = os.environ.get('OTHER_{SECRET_NAME}', '{SECRET_MODULE}')\n")


def test_config_withholds_the_text_of_a_module_linked_outside(sandbox):
    (sandbox.outside / "mod.py").write_text(OUTSIDE_READS)
    (sandbox.outside / "bad.py").write_text(f"{SECRET_NAME} = (\n")  # a syntax error
    sandbox.write({"app.py": "import os\nimport linked, creds, bad\nMODE = os.environ['APP_MODE']\n",
                   ".env": "APP_MODE=x\n"})
    os.symlink(sandbox.outside / "mod.py", sandbox.project / "linked.py")
    os.symlink(sandbox.outside / "bad.py", sandbox.project / "bad.py")
    os.symlink(_outside(sandbox), sandbox.project / "creds.py")
    for fmt in ("text", "json"):
        run = sandbox.run("config", ".", "--env", "staging", "--env-file", ".env", "--python", PY, "--no-cache",
                          "--format", fmt)
        run.assert_safe(code=1, one_line=False, secrets=SECRETS)
        # the reads are analyzed (the missing one is an error, at its place), only their text is withheld
        assert "linked.py" in run.stdout and "DC402" in run.stdout and "APP_MODE" in run.stdout
        assert "setting-not-provided (the file is outside the project, so its text is not shown)" in run.stdout
        assert "(withheld: outside the project)" in run.stdout
        assert "X = os.environ" not in run.stdout  # no source line under the finding


def test_migrate_status_withholds_the_references_of_a_module_linked_outside(sandbox):
    (sandbox.outside / "mod.py").write_text(f"from pkg.old import Old\n{SECRET_NAME} = Old.A\n"
                                            f"{SECRET_MODULE} = Old.A(\n")  # and a syntax error
    (sandbox.outside / "ok.py").write_text(f"from pkg.old import Old\n{SECRET_NAME} = Old.A\n")
    sandbox.write({"app.py": "import linked, fine\n", "pkg/__init__.py": "", "pkg/old.py": "class Old:\n    A = 1\n",
                   "pkg/new.py": "class New:\n    a = 1\n",
                   "pyproject.toml": '[[tool.deploycheck.migrations]]\nid = "x"\nold = "pkg.old.Old"\n'
                                     'new = "pkg.new.New"\n[tool.deploycheck.migrations.attributes]\nA = "a"\n'})
    os.symlink(sandbox.outside / "mod.py", sandbox.project / "linked.py")
    os.symlink(sandbox.outside / "ok.py", sandbox.project / "fine.py")
    for fmt in ("text", "json"):
        run = sandbox.run("migrate", "status", ".", "--python", PY, "--no-cache", "--format", fmt)
        run.assert_safe(code=0, one_line=False, secrets=SECRETS + ("Old.A",), project_unchanged=False)
        if fmt == "text":
            assert "  fine.py:2:" in run.stdout and "linked.py:3: the file is outside the project" in run.stdout
            assert "fine.py:1:21: import (the file is outside the project, so its text is not shown; " \
                   "rewritable)" in run.stdout
        else:
            refs = json.loads(run.stdout)["migrations"][0]["references"]
            assert {r["text"] for r in refs} == {"the file is outside the project, so its text is not shown"}
            assert len(refs) == 2


def test_build_file_and_ignore_file_linked_outside(tmp_path):
    (tmp_path / "outside").write_text(f"COPY {SECRET_NAME} /x\n")
    repo = tmp_path / "repo"
    repo.mkdir()
    os.symlink(tmp_path / "outside", repo / "Containerfile")
    with pytest.raises(UsageError) as err:
        containerfile.parse(containerfile.find(str(repo)), str(repo))
    assert str(err.value) == ("Containerfile is a link to a file outside the repository: deploycheck reads "
                              "the project's settings and build files only from inside it")
    os.unlink(repo / "Containerfile")
    (repo / "Containerfile").write_text("FROM scratch\nCOPY . /app\n")
    os.symlink(tmp_path / "outside", repo / ".dockerignore")
    with pytest.raises(UsageError, match=r"^\.dockerignore is a link to a file outside the repository"):
        containerfile.parse(str(repo / "Containerfile"), str(repo))
    # a build file the user names outside the repository is the user's own
    os.unlink(repo / ".dockerignore")
    (tmp_path / "elsewhere.Containerfile").write_text("FROM scratch\nCOPY . /app\n")
    mapping = containerfile.parse(str(tmp_path / "elsewhere.Containerfile"), str(repo))
    assert [(c.context, c.image) for c in mapping.copies] == [("", "/app")]


# --- Section 5: memory, FIFOs, devices and time ----------------------------------------------------------


def _generated_table(sandbox, head: str = "") -> None:
    """``table.py``: ``head``, then a 15 MB literal table whose syntax tree needs some 4 GB."""
    line = "    (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16),\n"
    with open(sandbox.project / "table.py", "w") as f:
        f.write(head + "T = [\n")
        f.writelines(line for _ in range(15 * 1024 * 1024 // len(line)))
        f.write("]\n")


def test_a_15_mb_generated_module_is_not_analyzed_within_the_memory_bound(sandbox):
    _generated_table(sandbox)
    sandbox.write({"app.py": "import table\n"})
    run = sandbox.run("check", ".", "--python", PY, "--no-cache", "--format", "json")
    run.assert_safe(code=0, one_line=False)
    assert ('"message": "not analyzed: its syntax tree needs more than the 192 MiB parse memory limit '
            '(raise it with DEPLOYCHECK_PARSE_MEMORY_MB)"') in run.stdout


def test_a_15_mb_generated_module_through_config(sandbox):
    # config parsed the closure's modules in its own process: 4.4 GB and two minutes for this one
    _generated_table(sandbox, "import os\nX = os.environ['TABLE_X']\n")
    sandbox.write({"app.py": "import os\nimport table\nMODE = os.environ['APP_MODE']\n", ".env": "APP_MODE=prod\n"})
    run = sandbox.run("config", ".", "--env", "staging", "--env-file", ".env", "--python", PY, "--no-cache",
                      timeout=90)
    run.assert_safe(code=0)
    assert run.stderr == (f"deploycheck: warning: {sandbox.project}/table.py: not analyzed: its syntax tree needs "
                          "more than the 192 MiB parse memory limit (raise it with DEPLOYCHECK_PARSE_MEMORY_MB): "
                          "its reads are not known\n")
    assert "APP_MODE" in run.stdout and "TABLE_X" not in run.stdout


def test_a_15_mb_generated_module_through_migrate_status(sandbox):
    _generated_table(sandbox, "from pkg.old import Old\n")  # it spells the name: status must parse it
    sandbox.write({"app.py": "import table\n", "pkg/__init__.py": "", "pkg/old.py": "class Old:\n    A = 1\n",
                   "pkg/new.py": "class New:\n    a = 1\n",
                   "pyproject.toml": '[[tool.deploycheck.migrations]]\nid = "x"\nold = "pkg.old.Old"\n'
                                     'new = "pkg.new.New"\n'})
    run = sandbox.run("migrate", "status", ".", "--python", PY, "--no-cache", timeout=90)
    run.assert_safe(code=0, one_line=False, project_unchanged=False)  # the baseline file is written
    assert ("warning: 1 file could not be read or parsed and was not searched (a reference may hide there):\n"
            "  table.py:1: not analyzed: its syntax tree needs more than the 192 MiB parse memory limit (raise it "
            "with DEPLOYCHECK_PARSE_MEMORY_MB)\n") in run.stdout


def test_a_big_dense_module_is_still_analyzed_within_the_bound(sandbox):
    # its tree (about 110 MB) does not fit a worker's share of the budget: it is parsed again alone
    line = "    (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16),\n"
    sandbox.write({"app.py": "import table\n",
                   "table.py": "T = [\n" + line * (400 * 1024 // len(line)) + "]\nU = undefined_name\n"})
    run = sandbox.run("check", ".", "--python", PY, "--no-cache", "--format", "json")
    run.assert_safe(code=1, one_line=False)
    assert "\"message\": \"name 'undefined_name' is not defined\"" in run.stdout


def _findings(run) -> list[tuple[str, str, str]]:
    return sorted((f["code"], f["module"], f["message"]) for f in json.loads(run.stdout)["findings"])


def test_a_chain_of_700_modules_importing_each_other(sandbox):
    # The walk that decides whether importing a module fails recursed once per module: RecursionError
    # (an internal error) at about 300. Every module's own missing import is still found.
    files = {"app/__init__.py": "from app import m0\n"}
    for i in range(700):
        files[f"app/m{i}.py"] = (f"from app import m{i + 1}\n" if i < 699 else "") + f"import missing_{i}\n"
    sandbox.write(files)
    run = sandbox.run("check", ".", "--python", PY, "--entry", "app", "--no-cache", "--format", "json")
    run.assert_safe(code=1, one_line=False)
    assert [f[:2] for f in _findings(run)] == sorted(("DC101", f"app.m{i}") for i in range(700))


@pytest.mark.parametrize("line", ["from app.m{prev} import *\n", "from app.m{prev} import x\n"],
                         ids=["star-imports", "re-exports"])
def test_chains_of_3000_star_imports_or_re_exports(sandbox, line):
    # Too long to follow (the interpreter itself gives up at about 100: RecursionError): the names are
    # unknown, said by a DC203 where the walk stops, and the first link's own error is still found.
    files = {"app/__init__.py": "from app.m2999 import x\n", "app/m0.py": "y = 1\n"}
    files.update({f"app/m{i}.py": line.format(prev=i - 1) for i in range(1, 3000)})
    sandbox.write(files)
    run = sandbox.run("check", ".", "--python", PY, "--entry", "app", "--no-cache", "--format", "json")
    run.assert_safe(code=(0, 1), one_line=False)
    found = _findings(run)
    deep = ("DC203", ("not analyzed: names and imports reached through a chain longer than 2000 steps of "
                      "imports, star imports or re-exports"))
    assert found and all((f[0], f[2]) == deep for f in found if f[0] != "DC102")
    if "*" in line:
        assert run.code == 0 and len(found) >= 1
    else:  # m1 asks m0 for x, which m0 does not define: the one real error, as Python says
        assert run.code == 1
        assert [f for f in found if f[0] == "DC102"] == [
            ("DC102", "app.m1", "cannot import name 'x' from 'app.m0' (app/m0.py)")]


def test_an_import_chain_the_interpreter_can_import_keeps_its_finding_and_chain(sandbox):
    # The interpreter as the oracle: 60 modules each importing the next, the last asking json for a name
    # it lacks. Python raises that ImportError; deploycheck reports it with the whole chain.
    files = {"app/__init__.py": "from app import m0\n"}
    for i in range(60):
        files[f"app/m{i}.py"] = f"from app import m{i + 1}\n" if i < 59 else "from json import nothere\n"
    sandbox.write(files)
    oracle = subprocess.run([PY, "-c", "import app"], cwd=sandbox.project, capture_output=True, text=True,
                            check=False)
    assert oracle.stderr.splitlines()[-1].startswith("ImportError: cannot import name 'nothere' from 'json'")
    run = sandbox.run("check", ".", "--python", PY, "--entry", "app", "--no-cache", "--format", "json")
    run.assert_safe(code=1, one_line=False)
    (finding,) = json.loads(run.stdout)["findings"]
    assert (finding["code"], finding["module"], finding["line"]) == ("DC102", "app.m59", 1)
    assert [hop["module"] for hop in finding["chain"]] == ["app"] + [f"app.m{i}" for i in range(59)]


@pytest.mark.parametrize("where, expect", [
    ("requirements.txt", "requirements file {p}/requirements.txt: not a regular file"),
    ("include", "requirements file {p}/./inc.txt: not a regular file"),
    ("pyproject.toml", "{p}/pyproject.toml: not a regular file"),
    (".gitignore", "{p}/.gitignore: not a regular file"),
    ("source", None),
])
def test_fifos_where_a_file_is_expected(sandbox, where, expect):
    sandbox.write({"app.py": "import fifo\n" if where == "source" else "x = 1\n"})
    name = {"include": "inc.txt", "source": "fifo.py"}.get(where, where)
    if where == "include":
        sandbox.write({"requirements.txt": "-r ./inc.txt\n"})
    os.mkfifo(sandbox.project / name)
    run = sandbox.run("check", ".", "--python", PY, "--no-cache", timeout=60)
    if expect is None:  # a module that is a FIFO is a DC203 "not analyzed"
        run.assert_safe(code=0, one_line=False, project_unchanged=False)
        assert "DC203" in run.stdout and "not a regular file" in run.stdout
    else:
        run.assert_safe(code=2, project_unchanged=False)
        assert run.stderr == f"deploycheck: error: {expect.format(p=sandbox.project)}\n"


@pytest.mark.parametrize("where", ["requirements.txt", "-r", ".gitignore", "pyproject.toml", "module"])
def test_links_to_dev_zero(sandbox, where):
    sandbox.write({"app.py": "import zero\n" if where == "module" else "x = 1\n"})
    if where == "-r":
        sandbox.write({"requirements.txt": "-r /dev/zero\n"})
    else:
        name = {"module": "zero.py"}.get(where, where)
        os.symlink("/dev/zero", sandbox.project / name)
    run = sandbox.run("check", ".", "--python", PY, "--no-cache", timeout=60)
    if where in (".gitignore", "module"):  # not read (git's rule), a DC203
        run.assert_safe(code=0, one_line=False)
    elif where == "pyproject.toml":
        run.assert_safe(code=2)
        assert run.stderr == f"deploycheck: error: {sandbox.project}/pyproject.toml: not a regular file\n"
    else:  # named as the project names it
        run.assert_safe(code=2)
        named = "/dev/zero" if where == "-r" else f"{sandbox.project}/requirements.txt"
        assert run.stderr == f"deploycheck: error: requirements file {named}: not a regular file\n"


def test_twenty_thousand_dependencies(sandbox):
    deps = "".join(f'  "pkg{i}>=1.0",\n' for i in range(20000))
    pyproject = f"[project]\nname = 'x'\ndependencies = [\n{deps}]\n"
    sandbox.write({"app.py": "x = 1\n", "pyproject.toml": pyproject})
    # reading them was quadratic (52 s): the timeout is the guard against that coming back
    run = sandbox.run("check", ".", "--python", PY, "--no-cache", "--format", "json", timeout=60)
    run.assert_safe(code=1, one_line=False)
    assert run.stdout.count('"code": "DC506"') == 20000
    assert '"path": "' + str(sandbox.project / "pyproject.toml") + '",\n      "line": 20003,' in run.stdout


def test_an_include_graph_that_doubles_at_each_level(sandbox):
    files = {"app.py": "x = 1\n", "requirements.txt": "-r r0.txt\n-r r0.txt\n"}
    for i in range(40):  # each file includes the next twice: 2**40 reads if each include were read again
        files[f"r{i}.txt"] = f"-r r{i + 1}.txt\n-r r{i + 1}.txt\n"
    files["r40.txt"] = "pip\n"
    sandbox.write(files)
    sandbox.run("check", ".", "--python", PY, "--no-cache", timeout=60).assert_safe(code=0, one_line=False)


@pytest.mark.parametrize("name, content, message", [
    ("pyproject.toml", "# padding\n" * (110 * 1024),
     "pyproject.toml: 1126400 bytes, over the 1048576-byte limit"),
    ("requirements.txt", "pip\n" * (1100 * 1024),
     "requirements.txt: 4505600 bytes, over the 4194304-byte limit"),
    (".gitignore", "*.tmp\n" * (200 * 1024), ".gitignore: 1228800 bytes, over the 1048576-byte limit"),
])
def test_inputs_over_their_bound(sandbox, name, content, message):
    sandbox.write({"app.py": "x = 1\n", name: content})
    run = sandbox.run("check", ".", "--python", PY, "--no-cache").assert_safe(code=2)
    assert run.stderr.rstrip().endswith(message + " for it")


def test_build_file_variables_that_double_line_after_line(tmp_path):
    lines = ["FROM python:3.11", "ARG A=aaaaaaaaaaaaaaaa"] + ["ARG A=$A$A"] * 40 + ["COPY $A /app"]
    (tmp_path / "Containerfile").write_text("\n".join(lines) + "\n")
    with pytest.raises(UsageError, match=r"^Containerfile:2\d: ARG and ENV values would expand the build "
                                         r"file past 16777216 bytes$"):
        containerfile.parse(str(tmp_path / "Containerfile"), str(tmp_path))


@pytest.mark.parametrize("name", ["Containerfile", ".dockerignore"])
def test_build_inputs_that_are_fifos_or_devices(tmp_path, name):
    (tmp_path / "Containerfile").write_text("FROM scratch\nCOPY . /app\n")
    if name == "Containerfile":
        os.unlink(tmp_path / "Containerfile")
    os.mkfifo(tmp_path / name)
    with pytest.raises(UsageError, match="not a regular file"):
        containerfile.parse(containerfile.find(str(tmp_path)), str(tmp_path))
    os.unlink(tmp_path / name)
    os.symlink("/dev/zero", tmp_path / name)  # outside the repository, and no regular file either
    with pytest.raises(UsageError):
        containerfile.parse(containerfile.find(str(tmp_path)), str(tmp_path))


# --- Section 6: malformed shapes ---------------------------------------------------------------------------


def test_toml_nested_100000_levels(sandbox):
    sandbox.write({"app.py": "x = 1\n",
                   "pyproject.toml": "[tool.deploycheck]\nentries = " + "[" * 100000 + "]" * 100000 + "\n"})
    run = sandbox.run("check", ".", "--python", PY, "--no-cache").assert_safe(code=2)
    assert run.stderr.endswith("pyproject.toml: invalid TOML: nested too deeply to read\n")


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"').encode("unicode_escape").decode() + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{_toml_value(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"


_scalars = st.one_of(st.booleans(), st.integers(-5, 5), st.floats(allow_nan=False, allow_infinity=False),
                     st.text(max_size=12),
                     st.sampled_from(["DC102", "flask>=2", "*.py", ">=3.8", "app.main"]))
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=8)
_tool_keys = st.sampled_from(sorted(config.KNOWN_KEYS) + ["unknown-key"])
_project_keys = st.sampled_from(["dependencies", "requires-python", "name", "optional-dependencies"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tool=st.dictionaries(_tool_keys, _values, max_size=4), project=st.dictionaries(_project_keys, _values,
                                                                                       max_size=3))
def test_generated_pyproject_shapes_are_read_or_refused_in_one_line(tmp_path, tool, project):
    text = "[project]\n" + "".join(f'"{k}" = {_toml_value(v)}\n' for k, v in project.items())
    text += "[tool.deploycheck]\n" + "".join(f'"{k}" = {_toml_value(v)}\n' for k, v in tool.items())
    (tmp_path / "pyproject.toml").write_text(text)
    for read in (config.load, declared.read):
        try:
            read(str(tmp_path))
        except UsageError as exc:  # anything else is an internal error
            assert "\n" not in str(exc) and "\x1b" not in str(exc)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.one_of(st.text(max_size=30), st.sampled_from(
    ["-r", "-r ", "--requirement", "-r nope.txt", "-c x", "-e .", "flask[", "a @ b", "x ; python_version <",
     "\\", "#", "flask==2.0 \\", "git+https://x", "pkg --hash=sha256:00", "-r requirements.txt"])),
    max_size=8))
def test_generated_requirements_files_are_read_or_refused_in_one_line(tmp_path, lines):
    (tmp_path / "requirements.txt").write_text("\n".join(lines) + "\n", errors="surrogatepass")
    try:
        declared.read(str(tmp_path))
    except UsageError as exc:
        assert "\n" not in str(exc) and "\x1b" not in str(exc)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.one_of(st.text(max_size=20), st.sampled_from(
    ["!", "\\", "[z-a]", "[", "**", "/**/", "!*.py", "#x", "a/**/b", "*.py[", "\\!x"])), max_size=8))
def test_generated_ignore_patterns_never_fail(tmp_path, lines):
    spec = gitignore_spec(lines)  # .gitignore: git skips the lines it cannot use
    spec.match_file("app/main.py")
    (tmp_path / ".dockerignore").write_text("\n".join(lines) + "\n", errors="surrogatepass")
    try:  # .dockerignore: a pattern the build refuses is refused, naming the file and line
        ignore = Ignore.read(str(tmp_path))
    except UsageError as exc:
        assert str(exc).startswith(".dockerignore:") and str(exc).endswith(": not a valid pattern")
    else:
        ignore.excluded_by("app/main.py")


_globs = st.lists(st.sampled_from(["a", "b", "*", "**", "?", "[ab]", "[!a]", "\\*"]), min_size=1, max_size=4)


@settings(max_examples=300, deadline=None)
@given(segments=st.lists(_globs, min_size=1, max_size=4), lead=st.sampled_from(["", "/", "!"]),
       trail=st.sampled_from(["", "/"]),
       path=st.lists(st.text(alphabet="ab*", min_size=1, max_size=3), min_size=1, max_size=5))
def test_linear_patterns_mean_what_pathspec_means(segments, lead, trail, path):
    import pathspec

    pattern = lead + "/".join("".join(s) for s in segments) + trail
    try:  # in git a bracket never matches '/' (wildmatch) and pathspec's [!a] does: over the paths' alphabet
        # (a, b, *, /) git's [!a] is [b*], which pathspec reads as git does ([!a/] would split the segment)
        expected = pathspec.GitIgnoreSpec.from_lines([pattern.replace("[!a]", "[b*]")])
    except Exception:  # noqa: BLE001 -- whatever pathspec refuses, there is nothing to compare
        return
    file = "/".join(path)
    assert gitignore_spec([pattern]).match_file(file) == expected.match_file(file), (pattern, file)


def test_a_negated_bracket_after_a_globstar_never_takes_a_slash():
    # found by the generated comparison above: pathspec matches '**/*[!a]*a' against '*/a' (its [!a] takes
    # the '/'); `git check-ignore` does not, nor do we
    assert not gitignore_spec(["**/*[!a]*a"]).match_file("*/a")
    assert gitignore_spec(["**/*[!a]*a"]).match_file("x/*ba")
    # and in a pattern of one segment, which matches at any depth: pathspec's regex let [!a] take the '/'
    assert not gitignore_spec(["a[!a]a"]).match_file("a/a")
    assert gitignore_spec(["a[!a]a"]).match_file("x/aba")


def test_patterns_that_backtrack_are_matched_in_linear_time(sandbox):
    # Each line cost seconds per path with the engine trying every way to share a long name among the stars
    stars = "*a" * 12 + "b"
    deep = "**/a*/" * 8 + "b"
    name = "a" * 200
    sandbox.write({"app.py": "x = 1\n", ".gitignore": f"{stars}\n{deep}\n",
                   "pyproject.toml": f'[tool.deploycheck]\nextend-exclude = ["{stars}", "{deep}"]\n',
                   "/".join([name] * 12) + f"/{name}.py": "y = 1\n"})
    sandbox.run("check", ".", "--python", PY, "--no-cache", timeout=60).assert_safe(code=0, one_line=False)
    (sandbox.project / ".dockerignore").write_text(f"{stars}\n{deep}\n")
    (sandbox.project / "Containerfile").write_text(f"FROM scratch\nCOPY {name} /app/\n")
    mapping = containerfile.parse(str(sandbox.project / "Containerfile"), str(sandbox.project))
    assert mapping.excluded_by("/".join([name] * 12) + f"/{name}.py") is None


def test_patterns_of_every_setting_are_matched_in_linear_time(sandbox):
    # per-file-ignores and a migration's exclude were matched by pathspec's own patterns: each pattern
    # against the long path of a finding or a reference took longer than any CI job waits
    stars = "*a" * 12 + "b"
    deep = "**/a*/" * 8 + "b"
    name = "a" * 200
    path = "/".join([name] * 12) + f"/{name}.py"
    sandbox.write({"app.py": "x = 1\n", path: "from pkg.old import Old\ny = undefined_name\n",
                   "pkg/__init__.py": "", "pkg/old.py": "class Old:\n    A = 1\n",
                   "pkg/new.py": "class New:\n    a = 1\n",
                   "pyproject.toml": f'[tool.deploycheck]\nper-file-ignores = {{"{stars}" = ["DC201"], '
                                     f'"{deep}" = ["DC201"]}}\n'
                                     '[[tool.deploycheck.migrations]]\nid = "x"\nold = "pkg.old.Old"\n'
                                     f'new = "pkg.new.New"\nexclude = ["{stars}", "{deep}"]\n'})
    run = sandbox.run("check", ".", "--python", PY, "--no-cache", "--format", "json", timeout=60)
    run.assert_safe(code=1, one_line=False)
    assert "\"message\": \"name 'undefined_name' is not defined\"" in run.stdout  # no pattern matches it
    run = sandbox.run("migrate", "status", ".", "--python", PY, "--no-cache", timeout=60)
    run.assert_safe(code=0, one_line=False, project_unchanged=False)
    assert f"{path}:1:" in run.stdout


def test_a_migration_exclude_pattern_that_is_not_valid_is_named(sandbox):
    sandbox.write({"app.py": "x = 1\n", "pyproject.toml": '[[tool.deploycheck.migrations]]\nid = "x"\n'
                   'old = "pkg.old.Old"\nnew = "pkg.new.New"\nexclude = ["ok/*", "[z-a]"]\n'})
    run = sandbox.run("migrate", "status", ".", "--python", PY, "--no-cache").assert_safe(code=2)
    assert run.stderr.endswith("`x` `exclude`: pattern #2 `[z-a]` is not a valid gitignore-style pattern\n")


STRACE = shutil.which("strace")


def _traced_pids(log: str, program: str) -> set[int]:
    """The processes and threads of an ``strace -f`` log that executed ``program``, with those they cloned."""
    pids: set[int] = set()
    for line in log.splitlines():
        m = re.match(r"(\d+)\s+(.*)$", line)
        if not m:
            continue
        pid, call = int(m.group(1)), m.group(2).rstrip()
        if re.match(rf'execve\("[^"]*/{program}"', call):
            pids.add(pid)
        elif pid in pids and re.search(r"\b(clone3?|vfork|fork)\b", call):
            child = re.search(r"= (\d+)$", call)
            if child:
                pids.add(int(child.group(1)))
    return pids


@pytest.mark.skipif(STRACE is None or subprocess.run([STRACE, "-f", "-o", os.devnull, "true"],
                                                     capture_output=True).returncode != 0,
                    reason="strace (Debian package strace) not installed or cannot trace here")
def test_ruff_never_opens_a_file_of_the_project(sandbox):
    # ruff was given the project's paths: a module swapped for a FIFO after deploycheck read it (ruff waits
    # on it forever) or for a link to a file outside. It reads the files deploycheck opened, through /dev/fd.
    sandbox.write({"app.py": "import b\nx = undefined_one\n", "b.py": "y = undefined_two\n"})
    log = sandbox.base / "strace.log"
    run = sandbox.run("-f", "-qq", "-o", str(log), "-e", "trace=openat,open,execve,clone,clone3,fork,vfork",
                      EXE, "check", ".", "--python", PY, "--no-cache", exe=STRACE)
    run.assert_safe(code=1, one_line=False)
    assert "name 'undefined_one' is not defined" in run.stdout  # ruff's F821, from the copies
    assert "name 'undefined_two' is not defined" in run.stdout
    text = log.read_text()
    ruff = _traced_pids(text, "ruff")
    assert ruff, "ruff did not run"
    opened = [line for line in text.splitlines() if str(sandbox.project) in line
              and (m := re.match(r"(\d+)\s+open(at)?\(", line)) and int(m.group(1)) in ruff]
    assert opened == []
    # it read the files deploycheck had opened and checked, handed to it
    assert sum(bool(re.match(r'(\d+)\s+openat\(AT_FDCWD, "/dev/fd/\d+"', line)) and
               int(line.split()[0]) in ruff for line in text.splitlines()) == 2


# --- Section 6: adversarial trees, names and interpreters ----------------------------------------------------


def test_a_requirements_file_linked_to_a_file_the_kernel_makes_up(sandbox):
    # /proc/self/environ says it is an empty regular file and holds the environment of the reader
    sandbox.write({"app.py": "x = 1\n"})
    os.symlink("/proc/self/environ", sandbox.project / "requirements.txt")
    run = sandbox.run("check", ".", "--python", PY, "--no-cache", env={"PLANTED": OUTSIDE_SECRET})
    run.assert_safe(code=2, secrets=(OUTSIDE_SECRET,))
    assert run.stderr == f"deploycheck: error: requirements file {sandbox.project}/requirements.txt: not a regular file\n"


def test_the_project_directory_itself_is_a_link(sandbox):
    real = sandbox.base / "real"
    sandbox.write({"app.py": "import b\n", "b.py": "y = undefined_name\n",
                   "pkg/__init__.py": "", "pkg/old.py": "class Old:\n    A = 1\n",
                   "pkg/new.py": "class New:\n    a = 1\n", "c.py": "from pkg.old import Old\n",
                   ".env": "APP_MODE=x\n",
                   "pyproject.toml": '[[tool.deploycheck.migrations]]\nid = "x"\nold = "pkg.old.Old"\n'
                                     'new = "pkg.new.New"\n'}, root=real)
    link = sandbox.base / "link"
    os.symlink(real, link)
    run = sandbox.run("check", str(link), "--python", PY, "--no-cache").assert_safe(code=1, one_line=False)
    # its files are the project's own: their text is shown
    assert "b.py:1:5: DC201 [error, at import] name 'undefined_name' is not defined" in run.stdout
    assert "1 | y = undefined_name" in run.stdout
    run = sandbox.run("migrate", "status", str(link), "--python", PY, "--no-cache")
    run.assert_safe(code=0, one_line=False)
    assert "  c.py:1:21: import from pkg.old import Old (rewritable)" in run.stdout
    run = sandbox.run("config", str(link), "--env", "s", "--env-file", str(link / ".env"), "--python", PY,
                      "--no-cache")
    run.assert_safe(code=0, one_line=False)
    assert "settings read by" in run.stdout


def test_link_loops_and_a_link_to_the_root_in_every_command(sandbox):
    sandbox.write({"app.py": "x = 1\n", "pkg/__init__.py": "", "pkg/old.py": "class Old:\n    A = 1\n",
                   "pkg/new.py": "class New:\n    a = 1\n", ".env": "APP_MODE=x\n",
                   "pyproject.toml": '[[tool.deploycheck.migrations]]\nid = "x"\nold = "pkg.old.Old"\n'
                                     'new = "pkg.new.New"\n'})
    os.symlink(".", sandbox.project / "self")
    os.symlink("l2", sandbox.project / "l1")
    os.symlink("l1", sandbox.project / "l2")
    os.symlink("../pkg", sandbox.project / "pkg" / "up")
    os.symlink("/", sandbox.project / "machine")
    os.symlink("l1", sandbox.project / "loop.py")  # a module name that is a loop
    run = sandbox.run("check", ".", "--python", PY, "--no-cache", timeout=60).assert_safe(code=0, one_line=False)
    assert "modules of the import closure" in run.stdout
    run = sandbox.run("migrate", "status", ".", "--python", PY, "--no-cache", timeout=60)
    run.assert_safe(code=0, one_line=False, project_unchanged=False)
    assert "no references left" in run.stdout
    run = sandbox.run("config", ".", "--env", "s", "--env-file", ".env", "--python", PY, "--no-cache", timeout=60)
    run.assert_safe(code=0, one_line=False)


@pytest.mark.parametrize("how", ["setting a FIFO", "setting /dev/zero", "venv FIFO", "venv /dev/zero",
                                 "option FIFO"])
def test_an_interpreter_that_is_a_fifo_or_a_device(sandbox, how):
    sandbox.write({"app.py": "x = 1\n"})
    os.mkfifo(sandbox.base / "fifo")
    args = ["check", ".", "--no-cache"]
    if how.startswith("setting"):
        target = str(sandbox.base / "fifo") if "FIFO" in how else "/dev/zero"
        sandbox.write({"pyproject.toml": f'[tool.deploycheck]\npython = "{target}"\n'})
        shown = f"python (pyproject.toml [tool.deploycheck]) {target}"
    elif how.startswith("venv"):
        (sandbox.project / ".venv" / "bin").mkdir(parents=True)
        python = sandbox.project / ".venv" / "bin" / "python"
        if "FIFO" in how:
            os.mkfifo(python)
            os.chmod(python, 0o755)  # executable bits do not make a FIFO a program
        else:
            os.symlink("/dev/zero", python)
        shown = f"the project's .venv {python}"
    else:
        os.chmod(sandbox.base / "fifo", 0o755)
        args += ["--python", str(sandbox.base / "fifo")]
        shown = f"--python {sandbox.base / 'fifo'}"
    run = sandbox.run(*args, timeout=60).assert_safe(code=2, project_unchanged=False)
    assert run.stderr == f"deploycheck: error: {shown}: cannot run it (Permission denied)\n"


def test_a_pth_file_naming_a_fifo_and_a_huge_directory(sandbox, tmp_path_factory):
    venv = sandbox.base / "venv"
    subprocess.run([PY, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next(venv.glob("lib/python3*/site-packages"))
    os.mkfifo(sandbox.base / "fifo")
    huge = sandbox.base / "huge"
    huge.mkdir()
    for i in range(100_000):
        (huge / f"m{i}.py").touch()
    (site / "odd.pth").write_text(f"{sandbox.base / 'fifo'}\n{huge}\n")
    sandbox.write({"app.py": "import m99999\nimport missing_module_q\n"})
    run = sandbox.run("check", ".", "--python", str(venv / "bin" / "python"), "--no-cache", "--format", "json",
                      timeout=60)
    run.assert_safe(code=1, one_line=False)
    found = json.loads(run.stdout)["findings"]
    assert [(f["code"], f["symbol"]) for f in found] == [("DC101", "missing_module_q")]  # m99999 is found


@pytest.mark.parametrize("source", [
    "x = " + "(" * 100_000 + "1" + ")" * 100_000 + "\n",
    "x = " + "a+" * 1_000_000 + "a\n",
    "x = " + "[" * 1000 + "]" * 1000 + "\n",  # within the parser's limit, deep for every walker
    "def f():\n" + "".join("    " * (i + 1) + "if x:\n" for i in range(99)) + "    " * 100 + "pass\n",
])
def test_deeply_nested_source(sandbox, source):
    sandbox.write({"app.py": "import deep\nimport fine\n", "deep.py": source, "fine.py": "y = undefined_name\n",
                   ".env": "APP_MODE=x\n", "pkg/__init__.py": "", "pkg/old.py": "class Old:\n    A = 1\n",
                   "pkg/new.py": "class New:\n    a = 1\n",
                   "pyproject.toml": '[[tool.deploycheck.migrations]]\nid = "x"\nold = "pkg.old.Old"\n'
                                     'new = "pkg.new.New"\n'})
    with open(sandbox.project / "deep.py", "a") as f:
        f.write("z = Old\n")  # spells the migration's name: migrate status parses it too
    run = sandbox.run("check", ".", "--python", PY, "--no-cache", "--format", "json", timeout=120)
    run.assert_safe(code=1, one_line=False)
    found = {(f["code"], f["path"].rpartition("/")[2]) for f in json.loads(run.stdout)["findings"]}
    assert ("DC201", "fine.py") in found  # the rest of the run is checked
    run = sandbox.run("migrate", "status", ".", "--python", PY, "--no-cache", timeout=120)
    run.assert_safe(code=0, one_line=False, project_unchanged=False)
    run = sandbox.run("config", ".", "--env", "s", "--env-file", ".env", "--python", PY, "--no-cache", timeout=120)
    run.assert_safe(code=0, one_line=False)


def test_a_tree_of_many_tiny_files(sandbox):
    # 20,000 files in 50 directories of 400, and one directory of 10,000 entries (1,000 of them modules of a
    # package): the walk, the listing and the finder stay linear (quadratic was minutes), within the bound
    for d in range(50):
        sub = sandbox.project / "data" / f"d{d}"
        sub.mkdir(parents=True)
        for i in range(400):
            (sub / f"f{i}.txt").touch()
    flat = sandbox.project / "pkg"
    flat.mkdir()
    for i in range(9_000):
        (flat / f"f{i}.txt").touch()
    for i in range(1_000):
        (flat / f"m{i}.py").touch()
    (flat / "__init__.py").write_text("from . import m999\n")
    sandbox.write({"app.py": "import pkg\nfrom pkg import m7\n"})
    for entry in ((), ("--entry", "app")):  # default mode walks the whole tree for entries
        run = sandbox.run("check", ".", "--python", PY, "--no-cache", *entry, "--format", "json", timeout=120)
        run.assert_safe(code=0, one_line=False)
        assert json.loads(run.stdout)["summary"]["modules"] == (4 if entry else 1002), run.stdout[-500:]


_pattern = st.builds(lambda lead, segs, trail: lead + "/".join("".join(s) for s in segs) + trail,
                     st.sampled_from(["", "/", "!"]), st.lists(_globs, min_size=1, max_size=3),
                     st.sampled_from(["", "/"]))


@settings(max_examples=100, deadline=None)
@given(patterns=st.lists(_pattern, min_size=33, max_size=60),
       paths=st.lists(st.lists(st.text(alphabet="ab*", min_size=1, max_size=3), min_size=1, max_size=4),
                      min_size=1, max_size=10))
def test_many_patterns_tried_at_once_mean_what_one_by_one_means(patterns, paths):
    # From 33 patterns a path is first tried against all of them joined: only the paths none matches are
    # answered without the per-pattern loop, so the answer (negations, directories, the last match) is the
    # loop's. (The loop's patterns are git's, not pathspec's: see the test below.)
    import pathspec

    try:
        pathspec.GitIgnoreSpec.from_lines(patterns)
    except Exception:  # noqa: BLE001 -- a list pathspec refuses: nothing to compare
        return
    spec = gitignore_spec(patterns)
    for path in paths:
        file = "/".join(path)
        assert spec.match_file(file) == spec.spec.match_file(file), (patterns, file)


def test_a_bracket_never_matches_a_slash_as_in_git():
    # git's wildmatch (WM_PATHNAME) never lets a bracket expression match '/'; pathspec's regex lets
    # `[!a]` take it, so `aaa*/**[!a]*a` matched `aaa/a*/a*a` for pathspec, not for git (found by the test
    # above when it compared with pathspec)
    import pathspec

    patterns, file = ["aaa*/**[!a]*a"], "aaa/a*/a*a"
    assert pathspec.GitIgnoreSpec.from_lines(patterns).match_file(file) is True  # pathspec's reading
    assert gitignore_spec(patterns).match_file(file) is False
    assert gitignore_spec(["aaa*/**[!a]*a"]).match_file("aaa/xa") is True


def test_forty_thousand_exclude_patterns_are_over_the_limit(sandbox):
    # Every pattern was tried on every file, in Python: 40,000 over 1,000 modules ran for minutes.
    pats = ",".join(f"'p{i}/*a*a*a*b'" for i in range(40000))
    sandbox.write({"pyproject.toml": f"[tool.deploycheck]\nexclude = [{pats}]\n", "app/__init__.py": ""})
    run = sandbox.run("check", ".", "--python", PY, "--no-cache")
    run.assert_safe(code=2)
    assert run.stderr == ("deploycheck: error: pyproject.toml [tool.deploycheck] `exclude`: 40000 patterns, over "
                          "the limit of 5000 (raise it with DEPLOYCHECK_MAX_PATTERNS)\n")
    (sandbox.project / "pyproject.toml").unlink()
    sandbox.write({".gitignore": "".join(f"q{i}/*a*a*b\n" for i in range(30000))})
    run = sandbox.run("check", ".", "--python", PY, "--no-cache")
    run.assert_safe(code=2)
    assert run.stderr == (f"deploycheck: error: {sandbox.project}/.gitignore: 30000 patterns, over the limit "
                          "of 5000 (raise it with DEPLOYCHECK_MAX_PATTERNS)\n")


def test_five_thousand_exclude_patterns_over_a_thousand_modules(sandbox):
    # Within the limit: the files no pattern matches are answered in one pass each, those of app/d3 as
    # pathspec answers them (excluded, but for the one a negation takes back).
    pats = [f"p{i}/*a*a*a*b" for i in range(4998)] + ["app/d3/*.py", "!app/d3/mod7.py"]
    sandbox.write({"pyproject.toml": "[tool.deploycheck]\nexclude = [" + ",".join(f"'{p}'" for p in pats) + "]\n",
                   "app/__init__.py": "", **{f"app/d{i}/__init__.py": "" for i in range(20)},
                   **{f"app/d{i}/mod{j}.py": "import json\n" for i in range(20) for j in range(50)},
                   "app/d3/mod7.py": "import missing_here\n", "app/d4/mod9.py": "import missing_too\n"})
    run = sandbox.run("check", ".", "--python", PY, "--no-cache", "--format", "json")
    run.assert_safe(code=1, one_line=False)
    assert [f[:2] for f in _findings(run)] == [("DC101", "app.d3.mod7"), ("DC101", "app.d4.mod9")]
    assert '"app.d3.mod6"' not in run.stdout and '"app.d4.mod6"' in run.stdout
