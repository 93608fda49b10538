"""Ask the target interpreter, once, for the facts a static check needs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from deploycheck.errors import UsageError

_PROBE = Path(__file__).with_name("probe_script.py")
PROBE_TIMEOUT_S = 30


@dataclass(frozen=True)
class Interpreter:
    """Facts about the interpreter that will run the service.

    ``version`` is ``(major, minor, micro)``; ``path`` is ``sys.path`` before the site module runs (the
    standard library and ``lib-dynload``); ``site_packages`` is what ``site.getsitepackages()`` returns for
    this prefix. ``builtin_attrs`` maps each built-in module, and each standard-library extension module of
    ``lib-dynload``, to ``dir()`` of it. ``builtin_attrs_from_table``: those names come from deploycheck's
    table of the minor version (an image's interpreter, not run), not from this build: a name with a leading
    underscore missing from them is unknown, since bugfix releases may add private helpers.
    """

    executable: str
    version: tuple[int, int, int]
    implementation: str
    cache_tag: str
    platform: str
    os_name: str
    machine: str
    prefix: str
    base_prefix: str
    path: list[str]
    site_packages: list[str]
    user_site: str | None
    stdlib: str | None
    builtin_modules: frozenset[str]
    frozen_modules: frozenset[str]
    builtin_attrs: dict[str, frozenset[str]] = field(repr=False)
    builtins: frozenset[str] = field(repr=False)
    extension_suffixes: tuple[str, ...] = ()
    soabi: str | None = None
    system_site_packages: bool = False
    builtin_attrs_from_table: bool = False

    @property
    def in_venv(self) -> bool:
        # site.py sets sys.prefix to the venv and leaves sys.base_prefix alone (the ``venv`` docs); the
        # strings are compared as is, since an image's paths are not the host's to resolve
        return self.prefix != self.base_prefix

    @property
    def version_text(self) -> str:
        return ".".join(map(str, self.version))

    @property
    def facts_key(self) -> str:
        """The facts a file summary depends on (version conditions, platform conditions)."""
        return f"{self.implementation}-{self.version[0]}.{self.version[1]}-{self.platform}-{self.os_name}"


def resolve_executable(python: str, source: str = "--python") -> str:
    """Return an absolute path for ``python`` (a path or a command on PATH); raise ``UsageError`` if it is
    missing, empty or a directory. ``source`` names where the value came from, for messages."""
    if not python.strip():
        raise UsageError(f"{source}: empty interpreter name")
    if os.sep in python:
        if not os.path.exists(python):
            raise UsageError(f"{source} {python}: no such file")
        if os.path.isdir(python):
            raise UsageError(f"{source} {python}: is a directory, not an interpreter")
        return os.path.abspath(python)
    found = shutil.which(python)
    if not found:
        raise UsageError(f"{source} {python}: not found on PATH")
    return found


def probe(python: str, source: str = "--python") -> Interpreter:
    """Run the probe in ``python`` (``-I -S``: isolated, no site start-up, so no third-party code runs).

    Raises ``UsageError`` when the program is missing, does not run, or is not a Python 3 interpreter.
    """
    exe = resolve_executable(python, source)
    try:
        return _probe(exe, python, source)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise UsageError(f"{source} {python}: is not a Python interpreter (unexpected answer: {exc})") from None


def _probe(exe: str, python: str, source: str) -> Interpreter:
    try:
        proc = subprocess.run(
            [exe, "-I", "-S", str(_PROBE)],
            capture_output=True,
            timeout=PROBE_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
            env={"PATH": os.environ.get("PATH", ""), "LC_ALL": "C.UTF-8"},
        )
    except subprocess.TimeoutExpired:
        raise UsageError(f"{source} {python}: did not answer within {PROBE_TIMEOUT_S} s") from None
    except OSError as exc:
        raise UsageError(f"{source} {python}: cannot run it ({exc.strerror})") from None
    if proc.returncode != 0:
        lines = proc.stderr.decode(errors="replace").strip().splitlines()
        tail = " / ".join(lines[-3:]) if lines else "no output"
        raise UsageError(f"{source} {python}: is not a usable Python 3 interpreter (exit {proc.returncode}: {tail})")
    try:
        data = json.loads(proc.stdout)
    except ValueError:
        raise UsageError(f"{source} {python}: is not a Python interpreter (unexpected output)") from None
    if not isinstance(data, dict) or not isinstance(data.get("version"), list) or data["version"][:1] != [3]:
        raise UsageError(f"{source} {python}: is not a supported Python 3 interpreter")
    return Interpreter(
        executable=data["executable"] or exe,
        version=tuple(data["version"]),  # type: ignore[arg-type]
        implementation=data["implementation"],
        cache_tag=data.get("cache_tag") or "",
        platform=data["platform"],
        os_name=data["os_name"],
        machine=data.get("machine", ""),
        prefix=data["prefix"],
        base_prefix=data["base_prefix"],
        path=list(data["path"]),
        site_packages=list(data["site_packages"]),
        user_site=data.get("user_site"),
        stdlib=data.get("stdlib"),
        builtin_modules=frozenset(data["builtin_modules"]),
        frozen_modules=frozenset(data["frozen_modules"]),
        builtin_attrs={k: frozenset(v) for k, v in {**data.get("dynload_attrs", {}), **data["builtin_attrs"]}.items()},
        builtins=frozenset(data["builtins"]),
        extension_suffixes=tuple(data["extension_suffixes"]),
        soabi=data.get("soabi"),
        system_site_packages=bool(data.get("system_site_packages")),
    )
