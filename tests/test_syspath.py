"""Directories a program's own modules put on sys.path, relative to their own file, followed as the
interpreter follows them (the interpreter as oracle)."""

from __future__ import annotations

import subprocess
import sys
from textwrap import dedent

import pytest
from conftest import check, venv, write_tree

pytestmark = pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="fixtures state facts of Python 3.11")


def _tree(root, files: dict[str, str]):
    return write_tree(root, {path: dedent(text).lstrip("\n") for path, text in files.items()})


def _got(result, root) -> list[tuple]:
    return [(f.code, f.severity, str(f.path).replace(str(root) + "/", ""), f.line, f.symbol)
            for f in result.findings]


def test_directories_added_relative_to_the_module_file_are_searched(tmp_path):
    _tree(tmp_path, {
        "service/__init__.py": "",
        "service/_vendor/vendored.py": "VALUE = 1\n",
        "service/lib/helpers.py": "HELP = 2\n",
        "service/main.py": """
            import os
            import sys
            from pathlib import Path

            HERE = Path(__file__).resolve().parent
            sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "_vendor"))
            sys.path.append(str(HERE / "lib"))

            import vendored
            from helpers import HELP, GONE
            import not_anywhere
            """,
        "service/dynamic.py": """
            import os
            import sys

            sys.path.insert(0, os.environ.get("PLUGINS", "/nowhere"))

            import plugin_module
            """,
    })
    got = _got(check(tmp_path, entries=["service.main", "service.dynamic"]), tmp_path)
    assert got == [
        # a path from the environment: not followed, so what it may hold is only a warning
        ("DC101", "warning", "service/dynamic.py", 6, "plugin_module"),
        ("DC102", "error", "service/main.py", 10, "GONE"),
        ("DC101", "error", "service/main.py", 11, "not_anywhere")]
    proc = subprocess.run([sys.executable, "-c", "import service.main"], cwd=tmp_path, capture_output=True,
                          text=True)
    assert proc.stderr.strip().splitlines()[-1] == \
        f"ImportError: cannot import name 'GONE' from 'helpers' ({tmp_path}/service/lib/helpers.py)"


def test_a_directory_added_in_a_function_counts_for_what_runs_after(tmp_path):
    # pgAdmin's pgacloud.py: `path = os.path.dirname(os.path.realpath(__file__)); sys.path.append(path)`
    # inside load_providers(), then `__import__("providers." + name)`
    _tree(tmp_path, {
        "tool/__init__.py": "",
        "tool/cli.py": """
            import os
            import sys


            def load():
                path = os.path.dirname(os.path.realpath(__file__))
                sys.path.append(path)
                import providers

                return providers
            """,
        "tool/providers.py": "NAME = 'p'\n",
    })
    assert _got(check(tmp_path, entries=["tool.cli"]), tmp_path) == []
    proc = subprocess.run([sys.executable, "-c", "import tool.cli; print(tool.cli.load().NAME)"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert proc.stdout == "p\n"


@pytest.mark.slow
def test_distutils_served_by_setuptools_finds_its_vendored_packages(tmp_path):
    # On Python 3.12 `distutils` is setuptools' copy: its shim imports setuptools first, whose __init__
    # appends setuptools/_vendor to sys.path, where setuptools._distutils finds jaraco and more_itertools
    python = venv(["setuptools==84.2.1"])
    _tree(tmp_path, {"app.py": 'from distutils.util import strtobool\n\nDEBUG = strtobool("yes")\n'})
    result = check(tmp_path, python=python, entries=["app"])
    assert _got(result, tmp_path) == []
    assert "setuptools" in result.closure and "jaraco.functools" in result.closure
    assert any(p.endswith("site-packages/setuptools/_vendor") for p in result.search_path)
    proc = subprocess.run([python, "-c", "import app, sys; print(app.DEBUG, 'setuptools' in sys.modules)"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert proc.stdout == "True True\n"


def test_a_directory_added_in_a_function_is_not_on_the_path_of_everything_else(tmp_path):
    # pgAdmin: pgacloud/pgacloud.py's load_providers() appends pgacloud/ (which holds pgacloud.py) to
    # sys.path; the service never calls it, and imports pgacloud.utils.azure_cache as a namespace package
    _tree(tmp_path, {
        "pgacloud/pgacloud.py": """
            import os
            import sys


            def load_providers():
                sys.path.append(os.path.dirname(os.path.realpath(__file__)))
            """,
        "pgacloud/utils/__init__.py": "",
        "pgacloud/utils/azure_cache.py": "def load_persistent_cache():\n    pass\n",
        "app/__init__.py": "",
        "app/azure.py": ("import pgacloud.pgacloud\n"
                         "from pgacloud.utils.azure_cache import load_persistent_cache\n"),
    })
    assert _got(check(tmp_path, entries=["app.azure"]), tmp_path) == []
    proc = subprocess.run([sys.executable, "-c", "import app.azure"], cwd=tmp_path, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
