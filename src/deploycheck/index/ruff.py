"""In-file analysis by ruff: undefined names (pyflakes' F821, and F405 where a star import may bind them),
imports only type checkers see (TC004), and syntax errors for the target version.

Why ruff: it is maintained, fast (Rust, parallel), knows each Python version's builtins, and reports syntax that
the *target* version rejects even when the host's parser accepts it (a 3.11 host checking code for 3.8) or
the reverse (a 3.13 target's syntax on a 3.11 host). It is run with ``--isolated`` (no user configuration can
change its verdicts), ``--ignore-noqa`` (a ``# noqa`` written for linters, such as the ``# noqa: F405`` on each
use of a star import's name, does not hide a crash; deploycheck's own ``# noqa: DC201`` is honoured by
``findings.suppress``) and ``--no-cache`` (nothing is written into the target). Results are cached per file
content hash here.

ruff never opens a file of the target by its name: a name checked as a regular file can be swapped for a
FIFO (ruff would wait on it) or a link to a file outside the project between that check and ruff's read. A
host file is opened as every untrusted file is (``inputs.open_regular``), its content hash compared with the
summary's, and ruff reads that open file through ``/dev/fd/N``: the descriptor is handed to it, so it reads
the very file that was checked. The files of an image (or edited contents) are copied, under plain names,
into a private directory (``deploycheck.private``) and ruff reads the copies, a bounded batch at a time.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from dataclasses import dataclass

from deploycheck import private
from deploycheck.artifact.files import MAX_SOURCE_BYTES, HostFiles
from deploycheck.errors import UsageError
from deploycheck.index.store import Cache, content_key
from deploycheck.inputs import open_regular

_SUPPORTED_MINORS = range(7, 15)
# F405 is F821 in a module with a star import: "may be undefined, or defined from star imports"
# (index.stars decides which)
_CODES = ("F821", "F405", "TC004")
_SELECT = ",".join(_CODES)
_BATCH = 1000
_BATCH_BYTES = 64 * 1024 * 1024  # copies held in the private directory at once


@dataclass(frozen=True)
class Diagnostic:
    """``code`` is ``F821``, ``F405``, ``TC004`` or ``syntax``; ``line`` is 1-based, ``column`` 0-based."""

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
    Host files (``files`` None) are opened once more, checked, and given to ruff as the open files
    themselves; the files of another reader (an image's, an overlay of edited contents) as private copies of
    their bytes (see the module docstring). A file that can no longer be read, or whose content hash changed
    since it was summarized, gets no diagnostics (the check reports it from its summary). Raises
    ``UsageError`` when ruff cannot be run or answers nonsense."""
    tv = target_version(version)
    binary = ruff_binary()
    space = f"ruff-{tv}-{_ruff_version(binary)}-{_SELECT.replace(',', '-')}-all"  # "all": noqa comments ignored
    out: dict[str, list[Diagnostic]] = {}
    reader = files or HostFiles()
    # A package's __init__ goes with the rest: ruff reads it as a plain module then, and on 3,000 real
    # __init__ files that differs only in an F821 for ``__path__``, which DC201 knows a package has.
    by_fd = files is None and os.path.isdir(_FD_DIR)
    run, size = (_run_open, _fd_batch()) if by_fd else (_run_copies, _BATCH)
    cached = cache.get_many(space, list(set(paths.values()))) if paths else {}
    todo = []
    for path, digest in paths.items():
        try:
            out[path] = [Diagnostic(*d) for d in json.loads(cached[digest])]
        except Exception:  # not cached, or a damaged entry
            todo.append(path)
    for i in range(0, len(todo), size):
        found = run(binary, tv, {p: paths[p] for p in todo[i : i + size]}, reader)
        for p in todo[i : i + size]:
            out[p] = found.get(p, [])
            if p in found:
                cache.put(space, paths[p], json.dumps([list(d.__dict__.values()) for d in found[p]]).encode())
    return out


_FD_DIR = "/dev/fd"


def _fd_batch() -> int:
    """Files open at once for one ruff run: the soft limit on open files is raised to the hard one (at
    most 4096), and a margin is kept for the rest of the run."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 4096 if hard == resource.RLIM_INFINITY else min(hard, 4096)
    if soft != resource.RLIM_INFINITY and soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
            soft = want
        except (ValueError, OSError):
            pass
    return max(16, min(_BATCH, soft - 256))


def _run_open(binary: str, tv: str, digests: dict[str, str], reader=None) -> dict[str, list[Diagnostic]]:
    """ruff's diagnostics for the host files of ``digests`` (path -> content hash). Each is opened as every
    untrusted file is (``inputs.open_regular``), its hash checked, and ruff reads the opened file through
    ``/dev/fd/N`` (the descriptor is passed to it): the file that was checked, whatever its name names
    meanwhile. A file that cannot be opened or changed is left out."""
    opened: dict[str, str] = {}  # /dev/fd/N -> path
    handles = []
    try:
        for path, digest in digests.items():
            try:
                f = open_regular(path, MAX_SOURCE_BYTES)
            except (OSError, ValueError):
                continue
            handles.append(f)
            try:
                data = f.read(MAX_SOURCE_BYTES + 1)
                if content_key(data) != digest:
                    continue
                os.lseek(f.fileno(), 0, os.SEEK_SET)
            except OSError:
                continue
            opened[f"{_FD_DIR}/{f.fileno()}"] = path
        found = _run(binary, tv, list(opened), [f.fileno() for f in handles]) if opened else {}
    finally:
        for f in handles:
            f.close()
    return {path: found.get(name, []) for name, path in opened.items()}


def _run_copies(binary: str, tv: str, digests: dict[str, str], reader) -> dict[str, list[Diagnostic]]:
    """ruff's diagnostics for the files of ``digests`` (path -> content hash), read with ``reader``, from
    copies in a private directory named by number (a stub keeps its ``.pyi``: ruff reads stubs by their own
    rules). A file that cannot be read or changed is left out; the copies held at once are bounded
    (``_BATCH_BYTES``)."""
    out: dict[str, list[Diagnostic]] = {}
    where = private.make("deploycheck-ruff-")
    try:
        names: dict[str, str] = {}
        held = 0
        for n, (path, digest) in enumerate(digests.items()):
            try:
                data = reader.read_bytes(path)  # a regular file within the source bound, never a FIFO
            except (OSError, ValueError):
                continue
            if content_key(data) != digest:
                continue
            copy = os.path.join(where, f"{n}.pyi" if path.endswith(".pyi") else f"{n}.py")
            with open(copy, "xb") as f:
                f.write(data)
            names[copy] = path
            held += len(data)
            if held >= _BATCH_BYTES:
                out.update(_copies_done(binary, tv, names))
                names, held = {}, 0
        out.update(_copies_done(binary, tv, names))
    except OSError as exc:
        raise UsageError(f"could not copy the sources for ruff into {where}: {exc.strerror or exc}") from None
    finally:
        private.remove(where)
    return out


def _copies_done(binary: str, tv: str, names: dict[str, str]) -> dict[str, list[Diagnostic]]:
    """Run ruff on the copies ``names`` (copy -> path), then remove them; diagnostics by path."""
    if not names:
        return {}
    found = _run(binary, tv, list(names))
    for copy in names:
        os.unlink(copy)
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
    return [binary, "check", "--select", _SELECT, "--target-version", tv, "--output-format", "json", "--no-cache",
            "--isolated", "--exit-zero", "--quiet", "--ignore-noqa"]


def _run(binary: str, tv: str, paths: list[str], fds: list[int] = ()) -> dict[str, list[Diagnostic]]:
    try:
        proc = subprocess.run(_command(binary, tv) + ["--"] + paths, capture_output=True, timeout=600,
                              stdin=subprocess.DEVNULL, pass_fds=tuple(fds))
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
        if code in _CODES:
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
