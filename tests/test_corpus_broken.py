"""Real dependency-drift incidents, recreated with pinned versions in real environments (tests/oracle/data/
broken.json, each verified against the interpreter when it was recorded). deploycheck must report the failing
statement with the right code, place, symbol, owning distribution, and the chain from the project."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from conftest import check, venv
from oracle.cases import assert_reported

CASES = json.loads((Path(__file__).parent / "oracle" / "data" / "broken.json").read_text())

# Known misses, each for a stated reason; strict, so a fix that starts catching one fails here until listed.
KNOWN_MISSES = {
    "requeststoolbelt0101-urllib3v2": "the failing import is the fallback of a try whose first import goes "
    "through requests.packages, an alias requests creates at run time by copying sys.modules entries",
}

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="cases were recorded on Python 3.11")]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_broken_environment(case, tmp_path):
    if case["id"] in KNOWN_MISSES:
        pytest.xfail(KNOWN_MISSES[case["id"]])
    python = venv(case["requirements"], no_deps=bool(case.get("no_deps")))
    (tmp_path / "service.py").write_text(f"import {case['entry']}\n")
    result = check(tmp_path, python=python)
    assert_reported(case, result)
