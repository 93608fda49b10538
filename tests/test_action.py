"""The GitHub Action (action.yml): its run step (ci/github/run.py) executed as the runner executes it, with
the files the runner gives a step (GITHUB_OUTPUT, GITHUB_STEP_SUMMARY) and the inputs as INPUT_ variables."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import yaml
from ci_project import project
from conftest import ROOT

SCHEMA = Path(__file__).resolve().parent / "schemas" / "sarif-2.1.0-rtm.5.json"


def _step(root: Path, tmp: Path, **inputs: str) -> tuple[subprocess.CompletedProcess, dict, str]:
    out, summary = tmp / "github_output", tmp / "step_summary"
    out.write_text("")
    summary.write_text("")
    env = {**os.environ, "GITHUB_OUTPUT": str(out), "GITHUB_STEP_SUMMARY": str(summary),
           "RUNNER_TEMP": str(tmp), "GITHUB_WORKSPACE": str(root), "GITHUB_ACTIONS": "true",
           "INPUT_DEPLOYCHECK": f"{sys.executable} -m deploycheck"}
    env.update({f"INPUT_{k.upper().replace('_', '-')}": v for k, v in inputs.items()})
    proc = subprocess.run([sys.executable, str(ROOT / "ci" / "github" / "run.py")], cwd=root, env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    outputs = dict(line.split("=", 1) for line in out.read_text().splitlines())
    return proc, outputs, summary.read_text()


def test_action_step_annotates_writes_outputs_summary_and_sarif(tmp_path):
    root, python = project(tmp_path)
    proc, outputs, summary = _step(root, tmp_path, args=f". --python {python} --no-cache")
    assert proc.returncode == 0, proc.stderr  # the step passes; the action's last step fails the job
    annotations = [line for line in proc.stdout.splitlines() if line.startswith("::")]
    assert len(annotations) == 5 and all(a.startswith("::error file=") for a in annotations)
    assert outputs == {"exit-code": "1", "errors": "5", "warnings": "0",
                       "sarif-file": str(tmp_path / "deploycheck.sarif")}
    doc = json.loads(Path(outputs["sarif-file"]).read_text())
    jsonschema.Draft4Validator(json.loads(SCHEMA.read_text())).validate(doc)
    assert summary.startswith("### deploycheck check\n\n5 errors, 0 warnings\n")
    rows = [line for line in summary.splitlines() if line.startswith("| DC")]
    assert rows[1] == ("| DC102 | error | svc/main.py:4 | cannot import name 'missing_name' from 'svc.helpers' "
                       "(svc/helpers.py) |")
    assert len(rows) == 5


def test_action_step_with_a_baseline_and_bad_input(tmp_path):
    root, python = project(tmp_path)
    base = root / "baseline.json"
    subprocess.run([sys.executable, "-m", "deploycheck", "check", ".", "--python", python, "--no-cache",
                    "--write-baseline", str(base)], cwd=root, check=True, capture_output=True)
    proc, outputs, summary = _step(root, tmp_path, args=f". --python {python} --no-cache", baseline=str(base))
    assert outputs["exit-code"] == "0" and outputs["errors"] == "0", proc.stdout + proc.stderr
    assert "::error" not in proc.stdout and "0 errors, 0 warnings" in summary

    proc, outputs, summary = _step(root, tmp_path, args=". --no-such-option")
    assert proc.returncode == 0 and outputs["exit-code"] == "2"
    assert "could not run (exit code 2)" in summary


def test_action_yml_passes_every_input_the_step_reads():
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    steps = {s["name"]: s for s in action["runs"]["steps"]}
    run_env = steps["Run deploycheck"]["env"]
    script = (ROOT / "ci" / "github" / "run.py").read_text()
    read = set(re.findall(r'_input\("([a-z-]+)"', script))
    assert {f"INPUT_{name.upper()}" for name in read} <= set(run_env)
    for name in ("command", "args", "baseline", "fail-on", "sarif-file"):
        assert run_env[f"INPUT_{name.upper()}"] == "${{ inputs." + name + " }}"
    assert set(action["outputs"]) == {"exit-code", "errors", "warnings", "sarif-file"}
    upload = steps["Upload SARIF"]
    assert upload["uses"].startswith("github/codeql-action/upload-sarif@")
    assert "inputs.upload-sarif == 'true'" in upload["if"]


def test_gitlab_template_job_script_run_as_a_runner_would(tmp_path):
    """The template's script lines in one shell, as GitLab's runner runs them (any failing line fails the
    job), on a service with one error; deploycheck itself comes from this test environment, not the index."""
    job = yaml.safe_load((ROOT / "ci" / "gitlab" / "deploycheck.gitlab-ci.yml").read_text())["deploycheck"]
    assert job["artifacts"]["reports"] == {"codequality": "gl-code-quality-report.json",
                                           "junit": "deploycheck-junit.xml"}
    lines = [line for line in job["script"] if '"deploycheck${DEPLOYCHECK_VERSION}"' not in line]
    assert len(lines) == len(job["script"]) - 1
    proj = tmp_path / "svc"
    (proj / "app").mkdir(parents=True)
    (proj / "app" / "__init__.py").write_text("")
    (proj / "app" / "main.py").write_text("from app.util import nope\n")
    (proj / "app" / "util.py").write_text("X = 1\n")
    env = {**os.environ, **{k: str(v) for k, v in job["variables"].items()},
           "DEPLOYCHECK_INSTALL": "true", "DEPLOYCHECK_ARGS": ". --no-cache",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(["bash", "-e", "-c", "\n".join(lines)], cwd=proj, env=env, capture_output=True,
                          text=True, timeout=600, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr  # the gate fails the job
    assert "app/main.py:1:22: DC102" in proc.stdout
    (issue,) = json.loads((proj / "gl-code-quality-report.json").read_text())
    assert (issue["check_name"], issue["location"]) == ("DC102", {"path": "app/main.py", "lines": {"begin": 1}})
    suite = ET.parse(proj / "deploycheck-junit.xml").getroot().find("testsuite")
    assert [(c.get("classname"), c.get("name")) for c in suite.findall("testcase")] == [("DC102", "app/main.py")]


def test_gitlab_template_migrate_status_job(tmp_path):
    """The template's migrate status job, run as the runner would: the references left are Code Quality
    findings (warnings while the migration is under way), and the job fails only on DEPLOYCHECK_MIGRATE_FAIL_ON."""
    job = yaml.safe_load((ROOT / "ci" / "gitlab" / "deploycheck.gitlab-ci.yml").read_text())[
        "deploycheck-migrate-status"]
    assert job["artifacts"]["reports"] == {"codequality": "gl-code-quality-migrations.json"}
    lines = [line for line in job["script"] if '"deploycheck${DEPLOYCHECK_VERSION}"' not in line]
    assert len(lines) == len(job["script"]) - 1
    root, _python = project(tmp_path)

    def run(**variables: str) -> subprocess.CompletedProcess:
        env = {**os.environ, **{k: str(v) for k, v in job["variables"].items()}, "DEPLOYCHECK_INSTALL": "true",
               "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", **variables}
        return subprocess.run(["bash", "-e", "-c", "\n".join(lines)], cwd=root, env=env, capture_output=True,
                              text=True, timeout=600, check=False)

    proc = run(DEPLOYCHECK_MIGRATE_ARGS=". --no-cache")
    assert proc.returncode == 0, proc.stdout + proc.stderr  # a migration under way fails nothing
    assert "2 references left of 2" in proc.stdout  # the progress report in the job's log
    issues = json.loads((root / "gl-code-quality-migrations.json").read_text())
    assert [(i["check_name"], i["severity"]) for i in issues] == [("DC301", "minor")] * 2
    assert all(i["location"]["path"].startswith("svc/") for i in issues)
    proc = run(DEPLOYCHECK_MIGRATE_ARGS=". --no-cache", DEPLOYCHECK_MIGRATE_FAIL_ON="warning")
    assert proc.returncode == 1, proc.stdout + proc.stderr
