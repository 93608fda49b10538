"""An import statement is judged with the modules being imported while it runs already in ``sys.modules``:
``from app.m4 import x, nothere`` in ``app/__init__.py`` imports ``app.m4`` without running ``app`` again, so
it fails on ``nothere`` even though importing ``app`` from outside fails (because of that very line). The
interpreter is the oracle: the innermost line of the project in its traceback is what is reported."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import check, write_tree

pytestmark = pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="fixtures state facts of Python 3.11")


def _crash(root, module: str) -> tuple[str, str] | None:
    """(``path:line`` of the innermost project frame, the exception's line) when importing ``module`` fails."""
    code = ("import os, sys, traceback\nsys.path.insert(0, os.getcwd())\ntry:\n    __import__(sys.argv[1])\n"
            "except Exception as e:\n    f = [f for f in traceback.extract_tb(e.__traceback__)\n"
            "         if f.filename.startswith(os.getcwd())][-1]\n"
            "    print(f'{os.path.relpath(f.filename)}:{f.lineno}')\n"
            "    print(traceback.format_exception_only(e)[-1].strip())\n")
    out = subprocess.run([sys.executable, "-B", "-c", code, module], cwd=root, capture_output=True, text=True,
                         check=True, env={"PATH": os.environ.get("PATH", "")}).stdout.splitlines()
    return (out[0], out[1]) if out else None


STAR = {"app/m4.py": "from app.m3 import *  # noqa: F403\n", "app/m3.py": "from app.m2 import *  # noqa: F403\n",
        "app/m2.py": "x = 1\n", "main.py": "import app  # noqa: F401\n"}


@pytest.mark.parametrize("files, crash", [
    # app.m4 gets x over a star-import chain that imports `app` again (already in sys.modules): it runs fine
    ({"app/__init__.py": "from app.m4 import x, nothere  # noqa: F401\n", **STAR},
     ("app/__init__.py:1", "ImportError: cannot import name 'nothere' from 'app.m4' (app/m4.py)")),
    # a cycle: app.m4 takes a name the partially initialised app has bound already
    ({"app/__init__.py": "helper = 1\nfrom app.m4 import x, nothere  # noqa: F401,E402\n",
      "app/m4.py": "from app import helper  # noqa: F401\n\nx = 1\n", "main.py": "import app  # noqa: F401\n"},
     ("app/__init__.py:2", "ImportError: cannot import name 'nothere' from 'app.m4' (app/m4.py)")),
    # a cycle that fails inside: app.m4 takes a name app binds nowhere; the outer line fails because of it
    ({"app/__init__.py": "from app.m4 import x  # noqa: F401\n",
      "app/m4.py": "from app import nothere_either  # noqa: F401\n\nx = 1\n", "main.py": "import app  # noqa: F401\n"},
     ("app/m4.py:1", ("ImportError: cannot import name 'nothere_either' from partially initialized module 'app' "
                      "(most likely due to a circular import) (app/__init__.py)"))),
])
def test_an_import_in_a_package_being_imported(tmp_path, files, crash):
    write_tree(tmp_path, files)
    got = _crash(tmp_path, "main")
    assert got is not None and (got[0], got[1].replace(str(tmp_path) + "/", "")) == crash
    findings = check(tmp_path, entries=["main"]).findings
    assert [(f.code, f.severity, f"{os.path.relpath(f.path, tmp_path)}:{f.line}") for f in findings] == \
        [("DC102", "error", crash[0])]
    name = crash[1].split("'")[1]
    assert findings[0].symbol == name


def test_a_name_bound_after_the_importing_line_is_not_predicted(tmp_path):
    # a circular import that fails on a name app binds later: not predicted, and not blamed on another line
    write_tree(tmp_path, {"app/__init__.py": "from app.m4 import x  # noqa: F401\n\nlate = 1\n",
                          "app/m4.py": "from app import late  # noqa: F401\n\nx = 1\n",
                          "main.py": "import app  # noqa: F401\n"})
    assert _crash(tmp_path, "main")[1].startswith("ImportError: cannot import name 'late' from partially "
                                                  "initialized module 'app'")
    assert check(tmp_path, entries=["main"]).findings == []


def test_an_attribute_read_in_a_package_being_imported(tmp_path):
    # DC103 likewise: app fails later on (line 5), but app.m4 imports fine while app runs, so the read on
    # line 3 fails first; each line is the interpreter's crash once the lines before it are fixed
    init = "import app.m4\n\nY = app.m4.nothere\n\nfrom app.m4 import gone  # noqa: E402,F401\n"
    write_tree(tmp_path, {"app/__init__.py": init, **STAR})
    assert _crash(tmp_path, "main") == ("app/__init__.py:3", "AttributeError: module 'app.m4' has no attribute 'nothere'")
    got = [(f.code, f.line, f.symbol) for f in check(tmp_path, entries=["main"]).findings]
    assert got == [("DC103", 3, "nothere"), ("DC102", 5, "gone")]
    write_tree(tmp_path, {"app/__init__.py": init.replace("Y = app.m4.nothere", "")})
    assert _crash(tmp_path, "main")[0] == "app/__init__.py:5"
