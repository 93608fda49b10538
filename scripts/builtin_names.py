"""Write the table of names of the standard library's build-independent built-in and extension modules.

deploycheck never runs an image's interpreter, so it cannot ask an image's Python what ``itertools`` or
``math`` define (they are compiled into the interpreter or shipped as ``lib-dynload`` shared objects, with no
source to read). This script runs real CPython interpreters of this machine, records ``dir()`` of each module
of ``MODULES`` per minor version, and writes ``src/deploycheck/environment/data/builtin_names.json``, which
image checks use (``deploycheck.environment.builtin_names``).

Usage::

    python scripts/builtin_names.py [PYTHON ...] [--output FILE]

Without PYTHON arguments it measures every CPython 3 found under the pyenv root (``$PYENV_ROOT``, default
``~/.pyenv``) and every ``python3.N`` on ``PATH`` (pyenv shims skipped), one per distinct executable.
Debug and free-threaded builds (ABI flags ``d``, ``t``) are skipped: their names may differ, and the table is
not used for them. When several builds of one minor version are measured (another patch release, another
distributor's build), the table holds the union of their names, so no name of any measured build is reported
as missing; the names that differ between builds are printed, and a module listed here whose names differ
between builds is a sign that it does not belong in ``MODULES``. Dunder names (``__file__`` is there only
for shared objects) are left out: deploycheck treats every dunder name of a module as present.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

# Modules whose names are fixed by the CPython minor version alone: they define the same names whatever the
# build's configure flags, C library or linked library versions (checked by comparing builds of one version:
# Debian's and a source build). Measured and used on Linux only.
MODULES = (
    "_abc", "_ast", "_asyncio", "_bisect", "_codecs", "_collections", "_contextvars", "_csv", "_datetime",
    "_decimal", "_elementtree", "_functools", "_heapq", "_io", "_json", "_operator", "_pickle", "_queue",
    "_random", "_sre", "_statistics", "_string", "_struct", "_typing", "_warnings", "_weakref", "_zoneinfo",
    "array", "atexit", "binascii", "cmath", "gc", "itertools", "marshal", "math", "unicodedata",
)
# Left out on purpose (their names depend on the platform, the C library, configure flags or linked library
# versions, or they are interpreter internals): sys, builtins, posix, _thread, _signal, _socket, select,
# errno, time, resource, fcntl, termios, mmap, _stat, _locale, _posixsubprocess, _multiprocessing, faulthandler,
# _ssl, _hashlib, the _md5/_sha*/_blake2 hashes, zlib, _bz2, _lzma, pyexpat, _sqlite3, _dbm, _uuid, _ctypes,
# readline, _curses, _tkinter, _imp, _opcode (Py_STATS builds), _tracemalloc, _symtable, _tokenize, _lsprof,
# the CJK codecs.

OUTPUT = Path(__file__).resolve().parent.parent / "src" / "deploycheck" / "environment" / "data" / "builtin_names.json"

# Run by each measured interpreter (Python 3.6+ syntax): its version, build and the names of MODULES.
_MEASURE = r"""
import json, os, sys, warnings
warnings.simplefilter("ignore")
names = {}
for name in sys.argv[1:]:
    try:
        module = __import__(name)
    except ImportError:
        continue
    names[name] = sorted(n for n in dir(module) if not (n.startswith("__") and n.endswith("__")))
print(json.dumps({"version": list(sys.version_info[:3]), "releaselevel": sys.version_info.releaselevel,
                  "implementation": sys.implementation.name, "abiflags": getattr(sys, "abiflags", ""),
                  "build": " ".join(sys.version.split()), "executable": os.path.realpath(sys.executable),
                  "names": names}))
"""


def discover() -> list[str]:
    """Interpreter paths: ``bin/python3`` of each pyenv version, then each ``python3.N`` on PATH."""
    found = []
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    if root.is_dir():
        found += [str(p / "bin" / "python3") for p in sorted(root.iterdir()) if (p / "bin" / "python3").exists()]
    for d in os.environ.get("PATH", "").split(os.pathsep):
        if not d or Path(d).name == "shims" or not Path(d).is_dir():
            continue
        found += [str(Path(d) / n) for n in sorted(os.listdir(d))
                  if n.startswith("python3.") and n[len("python3."):].isdigit() and os.access(Path(d) / n, os.X_OK)]
    return found


def measure(python: str) -> dict | None:
    """What interpreter ``python`` reports (the ``_MEASURE`` JSON), or None when it is not a usable CPython 3."""
    try:
        proc = subprocess.run([python, "-I", "-S", "-c", _MEASURE, *MODULES], capture_output=True, timeout=60,
                              stdin=subprocess.DEVNULL, check=False, env={"PATH": os.environ.get("PATH", ""), "LC_ALL": "C.UTF-8"})
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    try:
        data = json.loads(proc.stdout)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("implementation") != "cpython" or data["version"][0] != 3 or set(data["abiflags"]) & {"d", "t"}:
        return None
    return data


def build_table(runs: list[dict]) -> tuple[dict, list[str]]:
    """The table (``generated_from`` and ``modules`` per minor version) and the differences between builds."""
    by_minor: dict[str, list[dict]] = {}
    for run in sorted(runs, key=lambda r: (r["version"], r["build"])):
        by_minor.setdefault(f"{run['version'][0]}.{run['version'][1]}", []).append(run)
    generated, modules, notes = {}, {}, []
    for minor in sorted(by_minor, key=lambda m: tuple(map(int, m.split(".")))):
        group = by_minor[minor]
        generated[minor] = [r["build"] for r in group]
        table: dict[str, set[str]] = {}
        for name in MODULES:
            present = [r for r in group if name in r["names"]]
            if len(present) != len(group) and present:
                notes.append(f"{minor} {name}: missing from {len(group) - len(present)} build(s)")
            if not present:
                continue
            table[name] = set().union(*(r["names"][name] for r in present))
            for r in present:
                extra = sorted(table[name] - set(r["names"][name]))
                if extra:
                    notes.append(f"{minor} {name}: {r['build']} lacks {', '.join(extra)}")
        modules[minor] = {name: sorted(table[name]) for name in sorted(table)}
    return {"generated_from": generated, "modules": modules}, notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("python", nargs="*", help="interpreters to measure (default: discover)")
    parser.add_argument("--output", type=Path, default=OUTPUT, help=f"file to write (default: {OUTPUT.name})")
    args = parser.parse_args(argv)
    runs, seen = [], set()
    for python in args.python or discover():
        data = measure(python)
        if data is None:
            if args.python:
                print(f"{python}: not a usable CPython 3 (release, non-debug) interpreter", file=sys.stderr)
                return 2
            continue
        if data["executable"] in seen:
            continue
        seen.add(data["executable"])
        runs.append(data)
    if not runs:
        print("no CPython 3 interpreter found", file=sys.stderr)
        return 2
    table, notes = build_table(runs)
    for note in notes:
        print(f"differs between builds: {note}", file=sys.stderr)
    doc = {"about": "Names (dir() without dunder names) of standard-library modules whose names depend only on "
                    "the CPython minor version; the union over the builds in generated_from. Written by "
                    "scripts/builtin_names.py; do not edit.", **table}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(doc, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    for minor, builds in table["generated_from"].items():
        print(f"{minor}: {len(table['modules'][minor])} modules from {len(builds)} build(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
