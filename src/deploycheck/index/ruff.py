"""In-file analysis by ruff: undefined names (pyflakes' F821) and syntax errors for the target version.

Why ruff: it is maintained, fast (Rust, parallel), knows each Python version's builtins, and reports syntax that
the *target* version rejects even when the host's parser accepts it (a 3.11 host checking code for 3.8) or
the reverse (a 3.13 target's syntax on a 3.11 host). It is run with ``--isolated`` (no user configuration can
change its verdicts) and ``--no-cache`` (nothing is written into the target). Results are cached per file
content hash here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass

from deploycheck.artifact.files import HostFiles
from deploycheck.errors import UsageError
from deploycheck.index.store import Cache

_SUPPORTED_MINORS = range(7, 15)
_BATCH = 1000


@dataclass(frozen=True)
class Diagnostic:
    """``code`` is ``F821``, ``TC004`` or ``syntax``; ``line`` is 1-based, ``column`` 0-based."""

    code: str
    message: str
    line: int
    column: int
    end_line: int
    end_column: int


def ruff_binary() -> str:
    try:
        from ruff.__main__ import find_ruff_bin

        return str(find_ruff_bin())
    except Exception:
        raise UsageError("ruff is not installed in deploycheck's environment (pip install ruff)") from None


def target_version(version: tuple[int, ...]) -> str:
    minor = min(max(version[1], _SUPPORTED_MINORS.start), _SUPPORTED_MINORS.stop - 1)
    return f"py3{minor}"


def analyze(paths: dict[str, str], version: tuple[int, ...], cache: Cache, files=None) -> dict[str, list[Diagnostic]]:
    """Run ruff on ``paths`` (path -> content hash) for the target ``version``; returns diagnostics by path.
    With ``files`` (an image's reader) each file's text goes to ruff on standard input; with an overlay reader
    (``files.overlay``: path -> edited bytes) only the overlaid files do."""
    tv = target_version(version)
    binary = ruff_binary()
    space = f"ruff-{tv}-{_ruff_version(binary)}-F821-TC004"
    cached = cache.get_many(space, list(set(paths.values())))
    out: dict[str, list[Diagnostic]] = {}
    todo = []
    for path, digest in paths.items():
        try:
            out[path] = [Diagnostic(*d) for d in json.loads(cached[digest])]
        except Exception:  # not cached, or a damaged entry
            todo.append(path)
    overlay = getattr(files, "overlay", None)  # edited contents not on disk (migrate apply's re-check)
    odd = [p for p in todo if (files is not None and (overlay is None or p in overlay)) or not _utf8(p)]
    todo = [p for p in todo if p not in set(odd)]
    for path in odd:  # ruff reports file names as UTF-8, and image files are not on the host: use stdin
        diags = _run_stdin(binary, tv, path, files)
        out[path] = diags
        cache.put(space, paths[path], json.dumps([list(d.__dict__.values()) for d in diags]).encode())
    for i in range(0, len(todo), _BATCH):
        batch = todo[i : i + _BATCH]
        found = _run(binary, tv, batch)
        for path in batch:
            diags = found.get(path, [])
            out[path] = diags
            cache.put(space, paths[path], json.dumps([list(d.__dict__.values()) for d in diags]).encode())
    return out


_VERSIONS: dict[str, str] = {}


def _ruff_version(binary: str) -> str:
    if binary not in _VERSIONS:
        try:
            _VERSIONS[binary] = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            _VERSIONS[binary] = "unknown"
    return _VERSIONS[binary]


def _utf8(path: str) -> bool:
    try:
        path.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def _command(binary: str, tv: str) -> list[str]:
    return [binary, "check", "--select", "F821,TC004", "--target-version", tv, "--output-format", "json", "--no-cache",
            "--isolated", "--exit-zero", "--quiet"]


def _run_stdin(binary: str, tv: str, path: str, files=None) -> list[Diagnostic]:
    try:
        data = (files or HostFiles()).read_bytes(path)  # a regular file within the source bound, never a FIFO
        proc = subprocess.run(_command(binary, tv) + ["--stdin-filename", "module.py", "-"], input=data,
                              capture_output=True, timeout=600)
    except ValueError:
        return []
    except (OSError, subprocess.SubprocessError) as exc:
        raise UsageError(f"could not run ruff: {exc}") from None
    return [d for diags in _parse(proc).values() for d in diags]


def _run(binary: str, tv: str, paths: list[str]) -> dict[str, list[Diagnostic]]:
    try:
        proc = subprocess.run(_command(binary, tv) + ["--"] + paths, capture_output=True, timeout=600,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as exc:
        raise UsageError(f"could not run ruff: {exc}") from None
    return _parse(proc)


def _parse(proc: subprocess.CompletedProcess) -> dict[str, list[Diagnostic]]:
    try:
        items = json.loads(proc.stdout or b"[]")
    except ValueError:
        sys.stderr.write(proc.stderr.decode(errors="replace"))
        raise UsageError("ruff produced unreadable output") from None
    out: dict[str, list[Diagnostic]] = {}
    for item in items:
        code = item.get("code")
        if code in ("F821", "TC004"):
            kind = code
        elif code in (None, "invalid-syntax") or str(item.get("name")) == "invalid-syntax":
            kind = "syntax"
        else:
            continue
        loc, end = item["location"], item.get("end_location") or item["location"]
        out.setdefault(item["filename"], []).append(
            Diagnostic(kind, item["message"], loc["row"], loc["column"] - 1, end["row"], end["column"] - 1)
        )
    return out
