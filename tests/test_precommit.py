"""The pre-commit hooks of .pre-commit-hooks.yaml, run for real by pre-commit (installed from PyPI into a
cached throwaway environment) with `pre-commit try-repo` on a throwaway git repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ci_project import FIXTURE, environment
from conftest import ROOT, venv

pytestmark = pytest.mark.slow


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args], cwd=cwd,
                   check=True, capture_output=True)


@pytest.fixture(scope="module")
def pre_commit() -> str:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    return str(Path(venv(["pre-commit==4.7.0"])).with_name("pre-commit"))


def _try(pre_commit: str, repo: Path, hook: str, home: Path) -> subprocess.CompletedProcess:
    # deploycheck as the project's environment has it: this test environment's, first on PATH
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "PRE_COMMIT_HOME": str(home), "HOME": str(home)}
    env.pop("GIT_DIR", None)
    env.pop("GIT_WORK_TREE", None)
    return subprocess.run([pre_commit, "try-repo", str(ROOT), hook, "--all-files", "--verbose"], cwd=repo,
                          env=env, capture_output=True, text=True, timeout=600, check=False)


def test_check_hook_fails_on_findings_and_passes_once_fixed(pre_commit, tmp_path):
    repo = tmp_path / "service"
    shutil.copytree(FIXTURE, repo)
    python = environment(tmp_path)
    (repo / ".venv").symlink_to(Path(python).parent.parent)  # the project's environment, where deploycheck looks
    (repo / ".gitignore").write_text(".venv\n")
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "service")

    proc = _try(pre_commit, repo, "deploycheck", tmp_path / "home")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "deploycheck check" in proc.stdout and "Failed" in proc.stdout
    assert "svc/main.py:4:32: DC102 [error, at import] cannot import name 'missing_name'" in proc.stdout

    (repo / "svc" / "main.py").write_text("from svc import helpers\n\n\ndef handler():\n    return helpers.LIMIT\n")
    (repo / "svc" / "helpers.py").write_text("LIMIT = 10\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "fixed")
    proc = _try(pre_commit, repo, "deploycheck", tmp_path / "home")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Passed" in proc.stdout and "0 errors, 0 warnings" in proc.stdout

    # the migration is under way (references left): migrate status passes; its ban would fail it
    proc = _try(pre_commit, repo, "deploycheck-migrate-status", tmp_path / "home")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "new-limit: svc.helpers.LIMIT → svc.helpers.MAX_ITEMS" in proc.stdout
