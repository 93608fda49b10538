"""The project the CI output tests check: tests/fixtures/ci/service (findings of four rules, one
suppressed by ``# noqa``, two that differ only by column, one in a third-party distribution its
requirements.txt installs, a migration under way), copied into a throwaway directory with an environment
holding that distribution."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "ci" / "service"


def environment(where: Path) -> str:
    """A virtual environment with the installed distribution brokenlib 1.0, whose module imports a name the
    standard library does not have (DC102 in third-party code); returns its python. The distribution is
    installed as an installer lays one out (a package and its ``.dist-info`` with METADATA and RECORD,
    PEP 376 and PEP 627), without an index: the test needs no network."""
    env = where / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    site = next(env.glob("lib/python3*/site-packages"))
    (site / "brokenlib").mkdir()
    (site / "brokenlib" / "__init__.py").write_text("from json import not_in_json\n")
    info = site / "brokenlib-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: brokenlib\nVersion: 1.0\n")
    (info / "INSTALLER").write_text("pip\n")
    (info / "RECORD").write_text("brokenlib/__init__.py,,\nbrokenlib-1.0.dist-info/METADATA,,\n"
                                 "brokenlib-1.0.dist-info/INSTALLER,,\nbrokenlib-1.0.dist-info/RECORD,,\n")
    return str(env / "bin" / "python")


def project(where: Path) -> tuple[Path, str]:
    """A copy of the fixture under ``where`` and the python of its environment."""
    root = where / "service"
    shutil.copytree(FIXTURE, root)
    return root, environment(where)
