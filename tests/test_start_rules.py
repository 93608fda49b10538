"""The DC6xx rules on recorded observations (one fixture per rule: ``tests/fixtures/start/DC6xx``), the
output reader on real output, and `deploycheck start`'s bad input: fast, no image, no sandbox."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from conftest import FIXTURES, cli

from deploycheck.start.logs import LogReader
from deploycheck.start.observation import Observation
from deploycheck.start.run import _rules

RULE_DIRS = sorted(p for p in (FIXTURES / "start").iterdir() if p.name.startswith("DC"))


@pytest.mark.parametrize("fixture", RULE_DIRS, ids=[p.name for p in RULE_DIRS])
def test_rule_fixture(fixture: Path):
    obs = Observation.from_json(json.loads((fixture / "observation.json").read_text()))
    got = [f"{f.path}:{f.line}: {f.code} [{f.severity}] {f.message}" if f.line else
           f"{f.path}: {f.code} [{f.severity}] {f.message}" for f in _rules(obs)]
    assert got == (fixture / "expected.txt").read_text().splitlines()
    assert fixture.name in {line.split(": ", 1)[1].split()[0] for line in got}


def test_every_start_rule_has_a_fixture():
    from deploycheck.rules import RULES

    codes = {r.CODE for r in RULES if getattr(r, "COMMAND", "check") == "start"}
    assert codes == {p.name for p in RULE_DIRS}


def test_a_command_imports_exactly_its_own_rules():
    """`start` and `config` import only the rule modules of their series (rules.SERIES): every rule of the
    command must be named in it, or it would never run."""
    from deploycheck.rules import RULES, SERIES, of_command

    for command in SERIES:
        expected = [r.__name__ for r in RULES if getattr(r, "COMMAND", "check") == command]
        assert expected and [r.__name__ for r in of_command(command)] == expected
    assert not [r.CODE for r in of_command("check") if r.CODE[:3].lower() in SERIES.values()]


def test_output_reader_groups_tracebacks_and_errors_and_scrubs():
    import subprocess
    import sys

    program = ("import logging, sys\nlogging.basicConfig()\n"
               "for i in range(3):\n    logging.getLogger('db').error('retry %d of 3 failed', i)\n"
               "print('token s3cr3t-value', flush=True)\n"
               "try:\n    {}['x']\nexcept KeyError:\n    logging.exception('boom')\n"
               "raise RuntimeError('at the end')\n")
    proc = subprocess.run([sys.executable, "-c", program], capture_output=True, check=False)
    reader = LogReader(io.BytesIO(proc.stderr + proc.stdout), lambda s: s.replace("s3cr3t-value", "***"))
    reader.join(10)
    tail, tracebacks, errors = reader.snapshot()
    assert errors == {"ERROR:db:retry 0 of 3 failed": 3, "ERROR:root:boom": 1}
    assert [t.exception for t in tracebacks] == ["KeyError: 'x'", "RuntimeError: at the end"]
    assert tracebacks[1].frames == [("<string>", 10, "<module>", "")]
    assert "token ***" in tail


@pytest.mark.parametrize("args, message", [
    (["--health", "nonsense"], "--health nonsense: expected a port, a path (/healthz) or an http:// URL"),
    (["--timeout", "0"], "--timeout: expected seconds"),
    (["--timeout", "-3"], "--timeout: expected seconds"),
])
def test_bad_options_are_one_line_and_exit_2(tmp_path, args, message):
    code, out, err = cli("start", "oci-archive:/nonexistent.tar", *args, cwd=tmp_path)
    assert code == 2 and out == "" and message in err and len(err.strip().splitlines()) == 1


def test_bad_budgets_and_missing_image(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.deploycheck.start]\nmemory = "lots"\n')
    code, _, err = cli("start", "oci-archive:/nonexistent.tar", cwd=tmp_path)
    assert code == 2 and "[tool.deploycheck.start] memory: expected a positive amount of bytes" in err
    (tmp_path / "pyproject.toml").write_text('[tool.deploycheck.start]\nstartup = 3\n')
    code, _, err = cli("start", "oci-archive:/nonexistent.tar", cwd=tmp_path)
    assert code == 2 and "unknown setting `startup`" in err
    (tmp_path / "pyproject.toml").unlink()
    code, _, err = cli("start", "oci-archive:/nonexistent.tar", cwd=tmp_path)
    assert code == 2 and "no such file" in err and "Traceback" not in err


def test_import_probe_batches_survive_hangs_exits_and_failures(tmp_path, monkeypatch):
    """The import probe's process handling, with the host's interpreter as the image's: a module that hangs
    at import, one that ends the interpreter, one that fails, and the rest imported all the same."""
    import subprocess
    import sys

    from deploycheck.start import imports

    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "hangs.py").write_text("import time\ntime.sleep(60)\n")
    (pkg / "quits.py").write_text("import os\nos._exit(3)\n")
    (pkg / "fails.py").write_text("import os\n\nTOKEN = os.environ['API_TOKEN_s3cr3t-value']\n")
    for name in ("a", "b", "c"):
        (pkg / f"{name}.py").write_text(f"print('{name} imported')\n")
    monkeypatch.setattr(imports, "BATCH_SECONDS", 3.0)
    monkeypatch.setattr(imports, "BATCH", 4)
    steps = ["pkg.a", "pkg.hangs", "pkg.b", "pkg.quits", "pkg.fails", "pkg.c"]
    plan = imports.Plan(sys.executable, [str(tmp_path)], ["svc"], steps,
                        check=[("DC402", str(pkg / "fails.py"), 3)])

    def spawn(argv):
        return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=tmp_path,
                                start_new_session=True)

    failures, attempted = imports.run(plan, spawn, lambda s: s.replace("s3cr3t-value", "***"), 60)
    got = {f.modules[0]: (f.exception, f.check, [fr[:2] for fr in f.frames]) for f in failures}
    assert attempted == 6
    assert got == {
        "pkg.hangs": ("TimeoutError: the import did not finish within 3 s", "", []),
        "pkg.quits": ("the interpreter ended with code 3", "", []),
        "pkg.fails": ("KeyError: 'API_TOKEN_***'", f"DC402 at {pkg / 'fails.py'}:3", [[str(pkg / "fails.py"), 3]]),
    }


def test_import_probe_is_bounded_as_a_whole(tmp_path, monkeypatch):
    import subprocess
    import sys

    from deploycheck.start import imports

    (tmp_path / "slow.py").write_text("import time\ntime.sleep(60)\n")
    monkeypatch.setattr(imports, "BATCH", 1)
    plan = imports.Plan(sys.executable, [str(tmp_path)], ["svc"], ["slow", "json", "email"])

    def spawn(argv):
        return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)

    failures, attempted = imports.run(plan, spawn, str, 2.0)
    assert attempted == 1 and [f.modules for f in failures] == [["slow"]]  # json and email: out of time


def test_import_probe_that_cannot_run_is_one_failure(tmp_path):
    import subprocess

    from deploycheck.start import imports

    plan = imports.Plan(str(tmp_path / "no-python"), [], ["svc"], ["a", "b", "c"])

    def spawn(argv):
        return subprocess.Popen(["sh", "-c", 'echo "sh: 1: $0: not found"; exit 127', argv[0]],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    failures, attempted = imports.run(plan, spawn, str, 60)
    assert attempted == 3 and [f.modules for f in failures] == [["a", "b", "c"]]
    assert failures[0].exception == f"the interpreter ended with code 127: sh: 1: {tmp_path / 'no-python'}: not found"


def test_image_directories_are_read_inside_the_tree(tmp_path):
    """`start.place.is_dir` answers for the image's tree: links are followed inside it (an absolute target is
    the tree's root), never to the host's directories."""
    import os

    from deploycheck.start.place import is_dir

    root = tmp_path / "root"
    (root / "srv" / "app").mkdir(parents=True)
    (root / "srv" / "file").write_text("x")
    os.symlink("/srv/app", root / "app")  # absolute: the tree's /srv/app
    os.symlink("../srv", root / "srv" / "up")
    os.symlink(str(tmp_path), root / "host")  # a host directory by name: not in the tree
    os.symlink("loop", root / "loop")
    assert is_dir(str(root), "/srv/app") and is_dir(str(root), "/app") and is_dir(str(root), "/srv/up/app")
    assert not is_dir(str(root), "/srv/file") and not is_dir(str(root), "/nope")
    assert not is_dir(str(root), "/host") and not is_dir(str(root), "/loop")
    assert is_dir(str(root), "/../../srv")  # '..' stops at the tree's root, as in the container
