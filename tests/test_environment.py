"""The target environment as the interpreter builds it: editable installs, namespace packages split across
directories, other Python versions, the interpreter named in the configuration."""

from __future__ import annotations

import glob
import os
import subprocess
import sys

import pytest

from conftest import bare_venv, check, cli


def test_editable_install_with_annotated_mapping(tmp_path):
    # setuptools' editable finder (newer versions annotate MAPPING); the .pth runs it, we read it.
    python, site = bare_venv(tmp_path)
    lib = tmp_path / "lib" / "mylib"
    lib.mkdir(parents=True)
    (lib / "__init__.py").write_text("def util():\n    return 1\n")
    (site / "__editable___mylib_1_finder.py").write_text(
        f"MAPPING: dict[str, str] = {{'mylib': {str(lib)!r}}}\nNAMESPACES: dict = {{}}\n"
        "def install():\n    pass\n")
    (site / "__editable__.mylib-1.pth").write_text("import __editable___mylib_1_finder; "
                                                     "__editable___mylib_1_finder.install()\n")
    proj = tmp_path / "svc"
    proj.mkdir()
    (proj / "main.py").write_text("import mylib\nfrom mylib import util, utill\n")
    result = check(proj, python=python)
    assert [(f.code, f.symbol) for f in result.findings] == [("DC102", "utill")]


def test_pkgutil_namespace_split_between_project_and_site(tmp_path):
    python, site = bare_venv(tmp_path)
    (site / "acme").mkdir()
    (site / "acme" / "__init__.py").write_text("__path__ = __import__('pkgutil').extend_path(__path__, __name__)\n")
    (site / "acme" / "lib.py").write_text("X = 1\n")
    proj = tmp_path / "svc"
    (proj / "acme").mkdir(parents=True)
    (proj / "acme" / "__init__.py").write_text("__path__ = __import__('pkgutil').extend_path(__path__, __name__)\n")
    (proj / "main.py").write_text("import acme.lib\nprint(acme.lib.X)\n")
    out = subprocess.run([python, "-c", "import main"], cwd=proj, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr  # the interpreter agrees that this works
    assert [(f.code, f.symbol) for f in check(proj, python=python, entries=["main"]).findings] == []


def test_python_in_configuration_is_relative_to_the_project(tmp_path):
    proj = tmp_path / "svc"
    (proj / "env" / "bin").mkdir(parents=True)
    (proj / "env" / "bin" / "python").symlink_to(sys.executable)
    (proj / "main.py").write_text("import json\n")
    (proj / "pyproject.toml").write_text('[tool.deploycheck]\npython = "env/bin/python"\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code, out, err = cli("check", proj, "--no-cache", cwd=elsewhere)
    assert code == 0, err
    assert str(proj / "env" / "bin" / "python") in out
    (proj / "pyproject.toml").write_text('[tool.deploycheck]\npython = "missing/bin/python"\n')
    code, out, err = cli("check", proj, "--no-cache", cwd=elsewhere)
    assert code == 2 and "python (pyproject.toml [tool.deploycheck])" in err and "no such file" in err


def test_broken_dot_venv_is_an_error_not_a_silent_fallback(tmp_path):
    proj = tmp_path / "svc"
    (proj / ".venv" / "bin").mkdir(parents=True)
    (proj / ".venv" / "bin" / "python").symlink_to(tmp_path / "gone" / "python3")
    (proj / "main.py").write_text("import json\n")
    code, _, err = cli("check", proj, "--no-cache")
    assert code == 2 and "broken link" in err


PYENV = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))  # other Pythons, where pyenv put them
OLDER = sorted(glob.glob(os.path.join(PYENV, "versions/3.10*/bin/python3.10")) + glob.glob("/usr/bin/python3.1[0-9]"))


@pytest.mark.skipif(not OLDER, reason="no Python 3.10 on this machine")
def test_frozen_modules_of_older_interpreters(tmp_path):
    proj = tmp_path / "svc"
    proj.mkdir()
    (proj / "main.py").write_text("import zipimport\nimport importlib.util\n")
    result = check(proj, python=OLDER[0])
    assert result.interp.version[:2] == (3, 10)
    assert [(f.code, f.symbol) for f in result.findings] == []


def test_output_that_cannot_encode_unicode(tmp_path):
    proj = tmp_path / "svc"
    proj.mkdir()
    (proj / "main.py").write_text("import json\n")
    env = dict(os.environ, PYTHONIOENCODING="ascii")
    code, out, err = cli("check", proj, "--python", sys.executable, "--no-cache", env=env)
    assert code == 0 and "Traceback" not in err
    assert "0 errors" in out


@pytest.mark.parametrize("default", ["local", "stdlib"])
def test_setuptools_distutils_shim_follows_its_default(tmp_path, default):
    # setuptools' .pth puts its own distutils first only when SETUPTOOLS_USE_DISTUTILS defaults to 'local'
    from deploycheck.artifact.files import HostFiles
    from deploycheck.environment import interpreter, searchpath

    python, site = bare_venv(tmp_path)
    (site / "setuptools" / "_distutils").mkdir(parents=True)
    (site / "distutils-precedence.pth").write_text(
        "import os; var = 'SETUPTOOLS_USE_DISTUTILS'; "
        f"enabled = os.environ.get(var, '{default}') == 'local'; "
        "enabled and __import__('_distutils_hack').add_shim(); \n")
    sp = searchpath.build(interpreter.probe(python), [str(tmp_path)], HostFiles())
    expected = {"distutils": str(site / "setuptools" / "_distutils")} if default == "local" else {}
    assert sp.overrides == expected
