"""In-file analysis by ruff: undefined names (pyflakes' F821) and syntax errors for the target version.

Why ruff: it is maintained, fast (Rust, parallel), knows each Python version's builtins, and reports syntax that
the *target* version rejects even when the host's parser accepts it (a 3.11 host checking code for 3.8) or
the reverse (a 3.13 target's syntax on a 3.11 host). It is run with ``--isolated`` (no user configuration can
change its verdicts) and ``--no-cache`` (nothing is written into the target). Results are cached per file
content hash here.

ruff never opens a file of the target: a name checked as a regular file can be swapped for a FIFO (ruff would
wait on it) or a link to a file outside the project between that check and ruff's read. The bytes deploycheck
has read (``inputs.read_regular``, and the same content hash as the summary) are copied, under plain names,
into a private directory (``deploycheck.private``), and ruff reads the copies, a bounded batch at a time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass

from deploycheck import private
from deploycheck.artifact.files import HostFiles
from deploycheck.errors import UsageError
from deploycheck.index.store import Cache, content_key

_SUPPORTED_MINORS = range(7, 15)
_BATCH = 1000
_BATCH_BYTES = 64 * 1024 * 1024  # copies held in the private directory at once


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
    Each file is read with ``files`` (an image's reader, an overlay of edited contents; the host's by
    default) and ruff is given a private copy of those bytes (see the module docstring). A file that can no
    longer be read, or whose content hash changed since it was summarized, gets no diagnostics (the check
    reports it from its summary). Raises ``UsageError`` when ruff cannot be run or answers nonsense."""
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
    reader = files or HostFiles()
    batch: dict[str, bytes] = {}
    held = 0
    for path in todo:
        try:
            data = reader.read_bytes(path)  # a regular file within the source bound, never a FIFO
        except (OSError, ValueError):
            data = None
        if data is None or content_key(data) != paths[path]:
            out[path] = []
            continue
        batch[path] = data
        held += len(data)
        if len(batch) >= _BATCH or held >= _BATCH_BYTES:
            for p, diags in _run_copies(binary, tv, batch).items():
                out[p] = diags
                cache.put(space, paths[p], json.dumps([list(d.__dict__.values()) for d in diags]).encode())
            batch, held = {}, 0
    if batch:
        for p, diags in _run_copies(binary, tv, batch).items():
            out[p] = diags
            cache.put(space, paths[p], json.dumps([list(d.__dict__.values()) for d in diags]).encode())
    return out


def _run_copies(binary: str, tv: str, contents: dict[str, bytes]) -> dict[str, list[Diagnostic]]:
    """ruff's diagnostics for each file of ``contents`` (path -> bytes), from copies in a private directory
    named by number (a stub keeps its ``.pyi``: ruff reads stubs by their own rules)."""
    where = private.make("deploycheck-ruff-")
    try:
        names: dict[str, str] = {}
        for n, (path, data) in enumerate(contents.items()):
            copy = os.path.join(where, f"{n}.pyi" if path.endswith(".pyi") else f"{n}.py")
            with open(copy, "xb") as f:
                f.write(data)
            names[copy] = path
        found = _run(binary, tv, list(names))
    except OSError as exc:
        raise UsageError(f"could not copy the sources for ruff into {where}: {exc.strerror or exc}") from None
    finally:
        private.remove(where)
    return {path: found.get(copy, []) for copy, path in names.items()}


_VERSIONS: dict[str, str] = {}


def _ruff_version(binary: str) -> str:
    if binary not in _VERSIONS:
        try:
            _VERSIONS[binary] = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            _VERSIONS[binary] = "unknown"
    return _VERSIONS[binary]


def _command(binary: str, tv: str) -> list[str]:
    return [binary, "check", "--select", "F821,TC004", "--target-version", tv, "--output-format", "json", "--no-cache",
            "--isolated", "--exit-zero", "--quiet"]


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
