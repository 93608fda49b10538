"""``importlib.import_module(name)`` in a module-level loop over a constant sequence of module names imports
each of them (datasette's ``for plugin in DEFAULT_PLUGINS:``), checked against the interpreter."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import check, write_tree

pytestmark = pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="fixtures state facts of Python 3.11")


def _crash(root, module: str) -> str | None:
    """``path:line`` of the innermost frame in the project when the interpreter imports ``module``."""
    code = ("import os, sys, traceback\nsys.path.insert(0, os.getcwd())\ntry:\n    __import__(sys.argv[1])\n"
            "except Exception as e:\n    f = [f for f in traceback.extract_tb(e.__traceback__)\n"
            "         if f.filename.startswith(os.getcwd())][-1]\n"
            "    print(f'{os.path.relpath(f.filename)}:{f.lineno}')\n")
    out = subprocess.run([sys.executable, "-c", code, module], cwd=root, capture_output=True, text=True,
                         check=True).stdout.strip()
    return out or None


@pytest.mark.parametrize("loop", [
    'PLUGINS = ("pkg.a", "pkg.gone")\n\nfor name in PLUGINS:\n    importlib.import_module(name)\n',
    'for name in ["pkg.a", "pkg.gone"]:\n    importlib.import_module(name)\n',
    'PLUGINS = {"pkg.a": 1, "pkg.gone": 2}\n\nfor name in PLUGINS:\n    mod = import_module(name)\n',
])
def test_each_name_of_the_loop_is_imported(tmp_path, loop):
    head = "import importlib\n" if "importlib." in loop else "from importlib import import_module\n"
    write_tree(tmp_path, {"pkg/__init__.py": "", "pkg/a.py": "X = 1\n", "pkg/main.py": head + "\n" + loop})
    lines = (head + "\n" + loop).splitlines()
    line = next(i for i, x in enumerate(lines, 1) if "import_module(" in x and "from" not in x)
    result = check(tmp_path, entries=["pkg.main"])
    got = [(f.code, f.line, f.when, f.severity) for f in result.findings]
    assert got == [("DC101", line, "import", "error")]
    assert "pkg.a" in result.closure
    assert _crash(tmp_path, "pkg.main") == f"pkg/main.py:{line}"


def test_a_computed_sequence_is_not_followed_and_a_function_fails_when_called(tmp_path):
    write_tree(tmp_path, {"pkg/__init__.py": "", "pkg/main.py":
                          "import importlib\nimport os\n\n"
                          "for name in os.environ.get('PLUGINS', '').split():\n"
                          "    importlib.import_module(name)\n\n\ndef later():\n"
                          "    for name in ('pkg.gone',):\n        importlib.import_module(name)\n"})
    result = check(tmp_path, entries=["pkg.main"])
    assert [(f.code, f.line, f.when, f.severity) for f in result.findings] == [("DC101", 10, "call", "error")]
    assert _crash(tmp_path, "pkg.main") is None
    code = "import sys; sys.path.insert(0, '.'); import pkg.main; pkg.main.later()"
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert "No module named 'pkg.gone'" in proc.stderr


def test_a_huge_constant_loop_is_not_followed(tmp_path):
    names = ", ".join(f'"pkg.m{i}"' for i in range(1001))  # past the bound: as if computed at run time
    write_tree(tmp_path, {"pkg/__init__.py": "", "pkg/main.py":
                          f"import importlib\n\nfor name in ({names}):\n    importlib.import_module(name)\n"})
    assert check(tmp_path, entries=["pkg.main"]).findings == []
