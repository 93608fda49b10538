"""The interpreter as oracle over the whole standard library of the interpreter running the tests."""

from __future__ import annotations

import glob
import json
import os
import re
import subprocess
import sys
import sysconfig

import pytest

from conftest import check
from deploycheck.render.json import document
from oracle.harness import compare

_SKIP_TOP = {"test", "idlelib", "turtledemo", "tkinter", "turtle", "lib2to3", "ensurepip", "venv", "pydoc_data",
             "site-packages", "dist-packages", "antigravity", "this", "__phello__", "__hello__"}


def stdlib_modules(root: str | None = None) -> list[str]:
    root = root or sysconfig.get_paths()["stdlib"]
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        parts = [] if rel == "." else rel.split(os.sep)
        if parts and (parts[0] in _SKIP_TOP or not all(p.isidentifier() for p in parts)):
            dirnames[:] = []
            continue
        if parts and "__init__.py" not in filenames:
            dirnames[:] = []
            continue
        dirnames[:] = [d for d in dirnames if d.isidentifier() and d not in ("tests", "test", "idle_test")]
        for f in filenames:
            if not f.endswith(".py") or f == "__main__.py":
                continue
            stem = f[:-3]
            if parts and stem == "__init__":
                out.append(".".join(parts))
            elif stem.isidentifier() and (parts or stem not in _SKIP_TOP):
                out.append(".".join(parts + [stem]))
    return sorted(out)


# Failures decided by run-time values, with the reason.
KNOWN_MISSES = {"_ios_support": "raises ImportError when ctypes.util.find_library('objc') finds nothing (3.13)"}

PYENV = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))  # other Pythons, where pyenv put them
OTHER_PYTHONS = sorted(glob.glob(os.path.join(PYENV, "versions/3.*/bin/python3")) + glob.glob("/usr/bin/python3.[0-9]*"))
OTHER_PYTHONS = [p for p in OTHER_PYTHONS if re.search(r"python3(\.(8|9|1[0-9]))?$", p) and "3.11" not in p]


@pytest.mark.parametrize("python", [sys.executable] + OTHER_PYTHONS)
def test_stdlib_no_false_alarms_and_no_misses(tmp_path, python):
    (tmp_path / "main.py").write_text("x = 1\n")
    stdlib = subprocess.run([python, "-I", "-c", "import sysconfig; print(sysconfig.get_paths()['stdlib'])"],
                            capture_output=True, text=True, check=True).stdout.strip()
    modules = stdlib_modules(stdlib)
    if python != sys.executable:  # their setuptools' distutils shim replaces the standard one (checked on 3.11)
        modules = [m for m in modules if m.split(".")[0] != "distutils"]
    assert len(modules) > 300
    result = check(tmp_path, python=python, entries=modules)
    report = json.loads(json.dumps(document(result)))
    cmp = compare(report, python, str(tmp_path), modules=modules)
    assert cmp.imported >= len(modules) - 5
    assert cmp.false_alarms == []
    assert [m["module"] for m in cmp.missed if m["module"] not in KNOWN_MISSES] == []


_LISTER = """
import importlib, keyword, sys, json, warnings
warnings.simplefilter("ignore")
skip = ("test", "idlelib", "tkinter", "turtle", "turtledemo", "antigravity", "this", "__hello__", "__phello__")
out = {}
for name in sorted(sys.stdlib_module_names):
    if name.startswith("_") or name in skip:
        continue
    try:
        mod = importlib.import_module(name)
    except Exception:
        continue
    out[name] = sorted(n for n in dir(mod) if not n.startswith("_") and n.isidentifier() and not keyword.iskeyword(n))
print(json.dumps(out))
"""


@pytest.mark.parametrize("python", [sys.executable] + [p for p in OTHER_PYTHONS if re.search(r"3\.1\d", p)],
                         ids=lambda p: p.split("/")[-3])  # sys.stdlib_module_names: Python 3.10 and later
def test_every_public_name_of_the_standard_library_is_found(tmp_path, python):
    # The interpreter lists each public stdlib module's names; reading every one of them must give no DC102 or
    # DC103 (locale.LC_ALL was one: locale binds it with `from _locale import *` and, in an except branch that
    # does not run, by assignment)
    listing = json.loads(subprocess.run([python, "-I", "-c", _LISTER], capture_output=True, text=True,
                                        check=True).stdout)
    lines = []
    for module, names in listing.items():
        lines.append(f"import {module}")
        lines += [f"{module}.{n}" for n in names]
    (tmp_path / "service.py").write_text("\n".join(lines) + "\n")
    result = check(tmp_path, python=python)
    assert len(listing) > 150 and result.modules > 150  # the file parsed and its imports were followed
    found = [(f.code, f.message) for f in result.findings if f.module == "service"]
    assert found == []
