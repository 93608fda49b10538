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
