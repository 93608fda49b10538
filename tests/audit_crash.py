"""Helpers for the audit tests: real crashes of real Python programs, and real git histories."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import write_tree


def crash(root: Path, files: dict[str, str], *args: str, cwd: Path | None = None) -> str:
    """Write ``files`` under ``root``, run ``python ARGS`` there, and return its stderr (it must fail)."""
    write_tree(root, files)
    proc = subprocess.run([sys.executable, *args], cwd=cwd or root, capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode != 0, proc.stdout
    return proc.stderr


def stamped(text: str, start: int = 0) -> str:
    """``text`` as ``kubectl logs --timestamps`` shows it: an RFC 3339 time before every line."""
    return "".join(f"2024-05-01T12:00:{(start + i) % 60:02d}.123456789Z {line}\n"
                   for i, line in enumerate(text.splitlines()))


def cloud_run(text: str, revision: str, instance: str, second: int = 0) -> list[dict]:
    """``text`` as Cloud Run's agent logs a container's stderr: one entry per line."""
    return [{"textPayload": line, "timestamp": f"2024-05-01T12:00:{(second + i) % 60:02d}.000000Z",
             "severity": "ERROR", "labels": {"instanceId": instance},
             "resource": {"type": "cloud_run_revision", "labels": {"revision_name": revision,
                                                                    "service_name": "api"}}}
            for i, line in enumerate(text.splitlines())]


def interleave(*streams: list[dict]) -> str:
    """JSON lines taking one entry of each stream in turn."""
    out = []
    longest = max(len(s) for s in streams)
    for i in range(longest):
        for s in streams:
            if i < len(s):
                out.append(json.dumps(s[i]))
    return "\n".join(out) + "\n"


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo`` with a fixed identity and dates; returns stdout."""
    env = {"GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "dev@example.com", "GIT_COMMITTER_NAME": "Dev",
           "GIT_COMMITTER_EMAIL": "dev@example.com", "GIT_AUTHOR_DATE": "2024-05-01T10:00:00Z",
           "GIT_COMMITTER_DATE": "2024-05-01T10:00:00Z", "PATH": "/usr/bin:/bin", "HOME": str(repo)}
    proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, env=env, timeout=60,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def commit(repo: Path, files: dict[str, str | None], message: str) -> str:
    """Write (or, for None, delete) ``files`` in ``repo``, commit them, and return the commit id."""
    if not (repo / ".git").exists():
        repo.mkdir(parents=True, exist_ok=True)
        git(repo, "init", "-q", "-b", "main")
    for rel, content in files.items():
        path = repo / rel
        if content is None:
            path.unlink()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()
