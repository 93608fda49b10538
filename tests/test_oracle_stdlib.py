"""The interpreter as oracle over the whole standard library of the interpreter running the tests."""

from __future__ import annotations

import json
import os
import sys
import sysconfig

from conftest import check
from deploycheck.render.json import document
from oracle.harness import compare

_SKIP_TOP = {"test", "idlelib", "turtledemo", "tkinter", "turtle", "lib2to3", "ensurepip", "venv", "pydoc_data",
             "site-packages", "dist-packages", "antigravity", "this", "__phello__", "__hello__"}


def stdlib_modules() -> list[str]:
    root = sysconfig.get_paths()["stdlib"]
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


def test_stdlib_no_false_alarms_and_no_misses(tmp_path):
    (tmp_path / "main.py").write_text("x = 1\n")
    modules = stdlib_modules()
    assert len(modules) > 400
    result = check(tmp_path, entries=modules)
    report = json.loads(json.dumps(document(result)))
    cmp = compare(report, sys.executable, str(tmp_path), modules=modules)
    assert cmp.imported >= len(modules) - 5
    assert cmp.false_alarms == []
    assert cmp.missed == []
