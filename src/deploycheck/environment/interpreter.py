"""Ask the target interpreter, once, for the facts a static check needs."""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from deploycheck.environment import probe_cache
from deploycheck.errors import UsageError

_PROBE = Path(__file__).with_name("probe_script.py")
PROBE_TIMEOUT_S = 30
# the process groups of the probes running now, each with the event that stops it (``stop_probes``); a group
# leaves before its leader is reaped, so no group id here can have been reused
_running: dict[int, threading.Event] = {}
_running_lock = threading.Lock()
# Bytes read from each of the probe's stdout and stderr at most: its answer is under 100 KB even for an
# interpreter with hundreds of extension modules; a program writing without end is stopped here.
PROBE_OUTPUT_LIMIT = 4 << 20


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


def probe(python: str, source: str = "--python", stop: threading.Event | None = None,
          cache_dir: str | None = None) -> Interpreter:
    """Run the probe in ``python`` (``-I -S``: isolated, no site start-up, so no third-party code runs).

    The program is run in a process group of its own, its output read up to ``PROBE_OUTPUT_LIMIT`` bytes per
    stream and for ``PROBE_TIMEOUT_S`` seconds; the whole group is killed beyond either, and when the run
    stops. Raises ``UsageError`` when the program is missing, does not run, writes too much, does not answer
    in time, or is not a Python 3 interpreter (an answer whose fields are not of the probe's types included).
    ``stop``: set by ``stop_probes`` when the answer is no longer wanted (the probe then ends at once).
    ``cache_dir``: where an answer is remembered while nothing it depends on changes (``probe_cache``).
    """
    exe = resolve_executable(python, source)
    try:
        data = probe_cache.recall(cache_dir, exe) if cache_dir else None
        if data is None:
            data = _answer(exe, python, source, stop or threading.Event())
            if cache_dir:
                probe_cache.remember(cache_dir, exe, data)
        return _interpreter(exe, python, source, data)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise UsageError(f"{source} {python}: is not a Python interpreter (unexpected answer: {exc})") from None


def _answer(exe: str, python: str, source: str, stop: threading.Event) -> dict:
    code, out, err = _run([exe, "-I", "-S", str(_PROBE)], python, source, stop)
    if code != 0:
        lines = err.decode(errors="replace").strip().splitlines()
        tail = " / ".join(lines[-3:]) if lines else "no output"
        raise UsageError(f"{source} {python}: is not a usable Python 3 interpreter (exit {code}: {tail})")
    try:
        data = json.loads(out)
    except (ValueError, RecursionError):
        raise UsageError(f"{source} {python}: is not a Python interpreter (unexpected output)") from None
    return data


def _interpreter(exe: str, python: str, source: str, data) -> Interpreter:
    """The probe's answer ``data`` (fresh or remembered), checked field by field."""
    if not isinstance(data, dict) or not isinstance(data.get("version"), list) or data["version"][:1] != [3]:
        raise UsageError(f"{source} {python}: is not a supported Python 3 interpreter")
    wrong = _wrong_field(data)
    if wrong is not None:
        key, expected = wrong
        raise UsageError(f"{source} {python}: is not a Python interpreter (the `{key}` of its answer to the "
                         f"probe is not {expected})")
    return Interpreter(
        executable=data["executable"] or exe,
        version=tuple(data["version"]),  # type: ignore[arg-type]
        implementation=data["implementation"],
        cache_tag=data.get("cache_tag") or "",
        platform=data["platform"],
        os_name=data["os_name"],
        machine=data.get("machine") or "",
        prefix=data["prefix"],
        base_prefix=data["base_prefix"],
        path=list(data["path"]),
        site_packages=list(data["site_packages"]),
        user_site=data.get("user_site"),
        stdlib=data.get("stdlib"),
        builtin_modules=frozenset(data["builtin_modules"]),
        frozen_modules=frozenset(data["frozen_modules"]),
        builtin_attrs={k: frozenset(v)
                       for k, v in {**data.get("dynload_attrs", {}), **data["builtin_attrs"]}.items()},
        builtins=frozenset(data["builtins"]),
        extension_suffixes=tuple(data["extension_suffixes"]),
        soabi=data.get("soabi"),
        system_site_packages=bool(data.get("system_site_packages")),
    )


def _run(argv: list[str], python: str, source: str, stop: threading.Event) -> tuple[int, bytes, bytes]:
    """Run ``argv`` with no input, in a new session (its own process group, out of reach of the terminal's
    Ctrl-C: the run stops it); its exit code, stdout and stderr. The group is killed when the program writes
    more than ``PROBE_OUTPUT_LIMIT`` bytes to a stream, is still running after ``PROBE_TIMEOUT_S`` seconds,
    or when the caller is interrupted, and in any case once it has exited (a child it left would run on)."""
    deadline = time.monotonic() + PROBE_TIMEOUT_S
    if stop.is_set():  # no longer wanted: not run at all
        raise UsageError(f"{source} {python}: not probed (stopped)")
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True,
                                env={"PATH": os.environ.get("PATH", ""), "LC_ALL": "C.UTF-8"})
    except OSError as exc:
        raise UsageError(f"{source} {python}: cannot run it ({exc.strerror})") from None
    with _running_lock:
        _running[proc.pid] = stop
        if stop.is_set():  # stopped before it started
            os.killpg(proc.pid, signal.SIGKILL)
    try:
        out, err = _read_both(proc, deadline, python, source)
        try:
            code = proc.wait(max(deadline - time.monotonic(), 0))
        except subprocess.TimeoutExpired:
            raise UsageError(f"{source} {python}: did not answer within {PROBE_TIMEOUT_S} s") from None
    finally:
        with _running_lock:
            _running.pop(proc.pid, None)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        for pipe in (proc.stdout, proc.stderr):
            pipe.close()  # type: ignore[union-attr]
        proc.wait()
    return code, out, err


def stop_probes(stop: threading.Event) -> None:
    """Stop the probes given ``stop`` (run in another thread, their answer no longer wanted): set it, so one
    not started yet is killed when it starts, and kill the process group of each running; its reader sees
    the pipes close and the probe ends at once with a ``UsageError``."""
    with _running_lock:
        stop.set()
        for pid, event in _running.items():
            if event is stop:
                try:
                    os.killpg(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass


def _read_both(proc: subprocess.Popen, deadline: float, python: str, source: str) -> tuple[bytes, bytes]:
    chunks: dict[int, list[bytes]] = {proc.stdout.fileno(): [], proc.stderr.fileno(): []}  # type: ignore[union-attr]
    names = {proc.stdout.fileno(): "stdout", proc.stderr.fileno(): "stderr"}  # type: ignore[union-attr]
    sizes = dict.fromkeys(chunks, 0)
    with selectors.DefaultSelector() as sel:
        for fd in chunks:
            sel.register(fd, selectors.EVENT_READ)
        while sel.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                raise UsageError(f"{source} {python}: did not answer within {PROBE_TIMEOUT_S} s")
            for key, _ in sel.select(left):
                data = os.read(key.fd, 1 << 16)
                if not data:
                    sel.unregister(key.fd)
                    continue
                sizes[key.fd] += len(data)
                if sizes[key.fd] > PROBE_OUTPUT_LIMIT:
                    raise UsageError(f"{source} {python}: wrote more than {PROBE_OUTPUT_LIMIT >> 20} MiB to "
                                     f"{names[key.fd]} (the probe's answer is far smaller): not a Python "
                                     "interpreter answering the probe")
                chunks[key.fd].append(data)
    out_fd, err_fd = list(chunks)
    return b"".join(chunks[out_fd]), b"".join(chunks[err_fd])


def _is_strs(v) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def _is_str_or_none(v) -> bool:
    return v is None or isinstance(v, str)


def _is_attrs(v) -> bool:
    return isinstance(v, dict) and all(_is_strs(names) for names in v.values())


def _is_version(v) -> bool:
    return (isinstance(v, list) and len(v) == 3
            and all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in v))


# Each field of the probe's answer (probe_script.py) and its test; the optional ones may be missing (older
# probes, other implementations). An interpreter that is not what it claims may answer anything.
_FIELDS: dict[str, tuple[Callable[[object], bool], str, bool]] = {
    "executable": (_is_str_or_none, "a string", True),
    "version": (_is_version, "a list of three integers", True),
    "implementation": (lambda v: isinstance(v, str), "a string", True),
    "cache_tag": (_is_str_or_none, "a string", False),
    "platform": (lambda v: isinstance(v, str), "a string", True),
    "os_name": (lambda v: isinstance(v, str), "a string", True),
    "machine": (_is_str_or_none, "a string", False),
    "prefix": (lambda v: isinstance(v, str), "a string", True),
    "base_prefix": (lambda v: isinstance(v, str), "a string", True),
    "path": (_is_strs, "a list of strings", True),
    "site_packages": (_is_strs, "a list of strings", True),
    "system_site_packages": (lambda v: isinstance(v, bool), "true or false", False),
    "user_site": (_is_str_or_none, "a string", False),
    "stdlib": (_is_str_or_none, "a string", False),
    "builtin_modules": (_is_strs, "a list of strings", True),
    "frozen_modules": (_is_strs, "a list of strings", True),
    "builtin_attrs": (_is_attrs, "an object of lists of strings", True),
    "dynload_attrs": (_is_attrs, "an object of lists of strings", False),
    "builtins": (_is_strs, "a list of strings", True),
    "extension_suffixes": (_is_strs, "a list of strings", True),
    "soabi": (_is_str_or_none, "a string", False),
}


def _wrong_field(data: dict) -> tuple[str, str] | None:
    """The first field of the probe's answer that is missing or not of its type: ``(name, what it should
    be)``; None when all are right."""
    for key, (test, expected, required) in _FIELDS.items():
        if key not in data:
            if required:
                return key, "there"
            continue
        if not test(data[key]):
            return key, expected
    return None
