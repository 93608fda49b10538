"""Real dependency-drift incidents, recreated with pinned versions in real environments and verified against
the interpreter when recorded: tests/oracle/data/broken.json (recorded while the engine was built) and
heldout.json (recorded by someone who had not seen the engine). Each must be reported with the right code,
place, symbol, owning distribution, and the chain from the project's import."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from conftest import check, prebuild, venv
from oracle.cases import assert_reported

DATA = Path(__file__).parent / "oracle" / "data"
CASES = json.loads((DATA / "broken.json").read_text()) + json.loads((DATA / "heldout.json").read_text())

# Known misses, each for a stated reason. xfail is not strict so that these cases need no install in CI;
# removing an entry here is how a fix is recorded.
KNOWN_MISSES = {
    "requeststoolbelt0101-urllib3v2": "the failing import is the fallback of a try whose first import goes "
    "through requests.packages, an alias requests creates at run time by copying sys.modules entries",
    "pyopenssl2001-crypto38": "the attribute is read from cffi's `lib`, an object filled by an extension module",
    "seaborn0112-mpl39": "matplotlib.cm fills its namespace with globals().update(...) of a computed dict",
    "imblearn0101-sklearn13": "the import sits under a condition on sklearn.__version__, not on the interpreter",
    "ice050-pydantic2": "pydantic's module __getattr__ dispatches through a migration table we do not read",
    "pandas214-numpy2": "the failure is an ABI check inside a compiled extension module",
}

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="cases were recorded on Python 3.11")]


@pytest.fixture(scope="module", autouse=True)
def _environments():
    prebuild([(c["requirements"], bool(c.get("no_deps"))) for c in CASES if c["id"] not in KNOWN_MISSES])


def test_every_known_miss_is_a_recorded_case():
    assert set(KNOWN_MISSES) <= {c["id"] for c in CASES}


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_incident_is_reported(case, tmp_path):
    if case["id"] in KNOWN_MISSES:
        pytest.xfail(KNOWN_MISSES[case["id"]])
    python = venv(case["requirements"], no_deps=bool(case.get("no_deps")))
    (tmp_path / "service.py").write_text(f"import {case['entry']}\n")
    assert_reported(case, check(tmp_path, python=python))
