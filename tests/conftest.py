"""Shared test helpers: running a check, and real throwaway environments cached by their inputs."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from deploycheck.check import Options, run

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
CACHE = Path(os.environ.get("DEPLOYCHECK_TEST_CACHE", Path.home() / ".cache" / "deploycheck-tests"))


def write_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    """Write ``files`` (path relative to ``root`` -> text or bytes) under ``root``; returns ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    for rel, content in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content if isinstance(content, bytes) else content.encode())
    return root


def check(path, python=None, entries=(), cache_dir=None):
    """Run a check in-process; returns the Result."""
    return run(Options(path=str(path), python=python or sys.executable, entries=list(entries),
                       cache_dir=str(cache_dir) if cache_dir else None, no_cache=cache_dir is None))


def cli(*args, cwd=None, env=None):
    """Run the real console script; returns (exit code, stdout, stderr)."""
    exe = Path(sys.executable).with_name("deploycheck")
    proc = subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env, timeout=600)
    return proc.returncode, proc.stdout, proc.stderr


def cli_json(*args, **kw):
    code, out, err = cli(*args, "--format", "json", **kw)
    assert code in (0, 1), err
    return code, json.loads(out)


_STDLIB = re.compile(r"/\S*?/lib/python3\.\d+/")


def snapshot_lines(result, root: Path) -> list[str]:
    out = []
    for f in result.findings:
        msg = f.message.replace(str(root) + "/", "")
        msg = _STDLIB.sub("<stdlib>/", msg)
        # versions of the test environment's own tools drift: redact them as ruff's snapshots redact paths
        msg = re.sub(r"Python 3\.(\d+)\.\d+", r"Python 3.\1.x", msg)
        msg = re.sub(r", but (\S+) [0-9][^ ]* is installed", r", but \1 <version> is installed", msg)
        rel = os.path.relpath(f.path, root) if f.path.startswith(str(root)) else _STDLIB.sub("<stdlib>/", f.path)
        out.append(f"{rel}:{f.line}:{f.column + 1} {f.code} {f.severity} {f.when} {f.symbol} | {msg}")
    return out


def venv(requirements: list[str], no_deps: bool = False) -> str:
    """A virtual environment with exactly ``requirements`` installed by pip, reused across runs.

    Cached under ``DEPLOYCHECK_TEST_CACHE`` (default ``~/.cache/deploycheck-tests``), keyed by the requirement
    list, the install mode and the interpreter version. Returns the environment's python.
    """
    key = hashlib.sha256(json.dumps([sorted(requirements), no_deps, sys.version]).encode()).hexdigest()[:16]
    target = CACHE / "venvs" / key
    python = target / "bin" / "python"
    done = target / ".complete"
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f"venv-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            subprocess.run(["rm", "-rf", str(target)], check=True)
            subprocess.run([sys.executable, "-m", "venv", str(target)], check=True)
            cmd = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
            if no_deps:
                cmd.append("--no-deps")
            proc = subprocess.run(cmd + requirements, capture_output=True, text=True)
            if proc.returncode != 0:
                pytest.fail(f"pip install {requirements} failed:\n{proc.stderr[-3000:]}")
            (target / "requirements.json").write_text(json.dumps(requirements))
            done.touch()
    return str(python)


def bare_venv(tmp_path: Path) -> tuple[str, Path]:
    """A real virtual environment without pip, for tests that place files in site-packages the way an
    installer would. Returns (python, site-packages directory)."""
    target = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(target)], check=True)
    site = next(target.glob("lib/python3*/site-packages"))
    return str(target / "bin" / "python"), site


def prebuild(specs: list[tuple[list[str], bool]], workers: int = 4) -> None:
    """Build many environments at once (pip mostly waits on the network); each is cached as by ``venv``."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(lambda spec: venv(*spec), specs))


@pytest.fixture
def sandbox(tmp_path):
    """The directories of an abuse test and a runner of the real command in them (``tests/abuse.py``)."""
    from abuse import Sandbox

    return Sandbox(tmp_path)
