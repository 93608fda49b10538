"""A clean environment of widely used distributions (tests/oracle/data/clean.json, ``ci_subset``): no error
findings over the import closure of their top-level modules, and the interpreter agrees with every finding
when every module of every distribution is an entry."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from conftest import check, venv
from deploycheck.render.json import document
from oracle.harness import compare, site_modules

CLEAN = json.loads((Path(__file__).parent / "oracle" / "data" / "clean.json").read_text())
SUBSET = CLEAN["ci_subset"]

# Failures deploycheck does not see, each for a stated reason (the test fails if the list is wrong either way).
KNOWN_MISSES = {
    "dateutil.tz.win": "six.moves creates its attributes at run time through a meta path importer",
    "dateutil.tzwin": "six.moves creates its attributes at run time through a meta path importer",
}

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="pins were resolved for Python 3.11")]


def _site(python: str) -> str:
    return str(next(Path(python).parent.parent.glob("lib/python3*/site-packages")))


def test_clean_closure_has_no_error_findings(tmp_path):
    python = venv(SUBSET["requirements"])
    (tmp_path / "service.py").write_text("".join(f"import {m}\n" for m in SUBSET["entries"]))
    result = check(tmp_path, python=python)
    assert [(f.code, f.path, f.line, f.message) for f in result.findings] == []
    report = json.loads(json.dumps(document(result)))
    firm = sorted(m for m, (origin, shield) in result.closure.items() if origin == "third-party" and shield == 0)
    assert len(firm) > 150
    cmp = compare(report, python, str(tmp_path), modules=firm)
    assert cmp.failed == {}
    assert cmp.false_alarms == []


def test_every_module_agrees_with_the_interpreter(tmp_path):
    python = venv(SUBSET["requirements"])
    modules = site_modules(_site(python))
    (tmp_path / "service.py").write_text("x = 1\n")
    result = check(tmp_path, python=python, entries=modules)
    report = json.loads(json.dumps(document(result)))
    cmp = compare(report, python, str(tmp_path), modules=modules)
    assert cmp.imported >= len(modules)
    assert cmp.false_alarms == []
    assert sorted(m["module"] for m in cmp.missed) == sorted(KNOWN_MISSES)
    # Some modules of these distributions really cannot be imported here (optional extras, other platforms):
    # each of those must be reported.
    assert cmp.failed and result.errors >= len([m for m, r in cmp.failed.items() if r[0] in ("ModuleNotFoundError",)])
