"""The table of names of build-independent built-in and extension modules (scripts/builtin_names.py), against
every real CPython of this machine: pyenv's builds and the ``python3.N`` commands on PATH. Minor versions
with no interpreter here are skipped."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from deploycheck.environment.builtin_names import measured_builds, module_names

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "builtin_names.py"
DATA = Path(__file__).resolve().parent.parent / "src" / "deploycheck" / "environment" / "data" / "builtin_names.json"
MINORS = list(json.loads(DATA.read_text())["modules"])


def _script():
    spec = importlib.util.spec_from_file_location("builtin_names_script", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@cache
def _local_builds() -> dict[str, list[dict]]:
    """``{minor: [measurement, ...]}`` of the distinct local CPython builds."""
    script = _script()
    out: dict[str, list[dict]] = {}
    seen = set()
    for python in script.discover():
        run = script.measure(python)
        if run is None or run["executable"] in seen:
            continue
        seen.add(run["executable"])
        out.setdefault(f"{run['version'][0]}.{run['version'][1]}", []).append(run)
    return out


@pytest.mark.parametrize("minor", MINORS)
def test_table_matches_each_local_interpreter(minor):
    builds = _local_builds().get(minor)
    if not builds:
        pytest.skip(f"no CPython {minor} here")
    major, mnr = map(int, minor.split("."))
    table = module_names(major, mnr)
    for run in builds:
        # the same modules, and no name of this build missing from the table
        assert set(run["names"]) == set(table), run["build"]
        for name, names in run["names"].items():
            assert set(names) <= table[name], (run["build"], name, sorted(set(names) - table[name]))
    # with every build the table was measured on at hand, it is exactly their union
    if set(measured_builds(major, mnr)) <= {run["build"] for run in builds}:
        for name, names in table.items():
            assert names == set().union(*(run["names"][name] for run in builds)), name


def test_tabled_modules_agree_between_builds_of_one_version():
    """The modules were chosen for names that do not depend on the build: two builds of one minor version
    (a distributor's and a source build) define the same names in each of them."""
    pairs = {minor: builds for minor, builds in _local_builds().items() if len(builds) >= 2}
    if not pairs:
        pytest.skip("needs two builds of one CPython minor version")
    for minor, builds in pairs.items():
        first, *others = builds
        for other in others:
            assert set(other["names"]) == set(first["names"]), minor
            for name in first["names"]:
                assert other["names"][name] == first["names"][name], (minor, name, first["build"], other["build"])


def test_generator_reproduces_the_committed_table(tmp_path):
    committed = json.loads(DATA.read_text())
    local = {run["build"] for builds in _local_builds().values() for run in builds}
    wanted = {b for builds in committed["generated_from"].values() for b in builds}
    if not wanted <= local:
        pytest.skip("not every interpreter the table was measured on is here")
    out = tmp_path / "names.json"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--output", str(out)], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    written = json.loads(out.read_text())
    for minor in committed["modules"]:
        assert written["modules"][minor] == committed["modules"][minor], minor
        assert written["generated_from"][minor] == committed["generated_from"][minor], minor


def test_generator_refuses_what_is_not_a_cpython_3(tmp_path):
    proc = subprocess.run([sys.executable, str(SCRIPT), "--output", str(tmp_path / "x.json"), "/bin/true"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert proc.stderr == "/bin/true: not a usable CPython 3 (release, non-debug) interpreter\n"
    assert not (tmp_path / "x.json").exists()
