"""The Jinja loader (frameworks/jinja.py): the extensions a Jinja environment is made with are imported when
it is made (tests/fixtures/frameworks/jinja: a module-level ``SandboxedEnvironment`` subclass with a project
extension and one of Jinja's), checked against a real Jinja 3.1."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FIXTURES, check, venv

pytestmark = pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="fixtures state facts of Python 3.11")

FIXTURE = FIXTURES / "frameworks" / "jinja"
JINJA = ["Jinja2==3.1.6", "MarkupSafe==3.0.4"]


@pytest.fixture(scope="module")
def jinja_python():
    return venv(JINJA, no_deps=True)


def _project(tmp_path: Path, path: str, old: str, new: str) -> Path:
    dest = tmp_path / "project"
    shutil.copytree(FIXTURE, dest)
    p = dest / path
    p.write_text(p.read_text().replace(old, new, 1))
    return dest


def _run(python: str, root: Path) -> str:
    code = "import sys; sys.path.insert(0, '.'); import pages.templates as t; print(sorted(t.environment.extensions))"
    proc = subprocess.run([python, "-c", code], cwd=root, capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else proc.stderr.strip().splitlines()[-1]


def _errors(result) -> list[tuple]:
    return [(f.code, f.path.rpartition("pages/")[2], f.line, f.when) for f in result.findings if f.severity == "error"]


def test_the_extensions_are_imported_with_the_environment(tmp_path, jinja_python):
    root = _project(tmp_path, "pages/ext.py", "", "")
    assert _run(jinja_python, root) == "['jinja2.ext.ExprStmtExtension', 'pages.ext.ShoutExtension']"
    result = check(root, python=jinja_python, entries=["pages.templates"])
    assert result.findings == []
    assert {"pages.ext", "jinja2.ext"} <= set(result.closure)
    assert "pages.preview" not in result.closure  # made in a function nothing calls at start-up


def test_a_renamed_extension_class_is_reported_where_it_is_named(tmp_path, jinja_python):
    root = _project(tmp_path, "pages/ext.py", "class ShoutExtension(", "class LoudExtension(")
    assert _run(jinja_python, root).startswith("AttributeError: module 'pages.ext' has no attribute 'ShoutExtension'")
    result = check(root, python=jinja_python, entries=["pages.templates"])
    assert _errors(result) == [("DC106", "templates.py", 10, "import")]


def test_a_failing_extension_module_fails_the_import(tmp_path, jinja_python):
    root = _project(tmp_path, "pages/ext.py", "from jinja2.ext import Extension",
                    "from jinja2.ext import Extension\nfrom jinja2.ext import autoescape")
    assert _run(jinja_python, root).startswith("ImportError: cannot import name 'autoescape'")
    result = check(root, python=jinja_python, entries=["pages.templates"])
    assert _errors(result) == [("DC102", "ext.py", 2, "import")]
    (f,) = result.findings
    assert [(h.module, h.line) for h in f.chain] == [("pages.templates", 10)]
    assert "SiteEnvironment(extensions=[...]) imports it" in f.chain[-1].step
