"""CI formats for an image target: findings in the image's files are placed on the repository file they were
copied from when the map is known (here inferred from --source), else keep the image path and say so."""

from __future__ import annotations

import json

from conftest import cli
from test_image_check import _python_layer, pytestmark  # noqa: F401  (the same Debian Python files)
from test_image_map import _layout, _repo

REPO = {"app/__init__.py": "", "app/main.py": "from app import helpers\nfrom app.helpers import nope\napp = 1\n",
        "app/helpers.py": "X = 1\n"}
IMAGE_FILES = [("srv/app/app/__init__.py", "file", b""),
               ("srv/app/app/main.py", "file", REPO["app/main.py"].encode()),
               ("srv/app/app/helpers.py", "file", REPO["app/helpers.py"].encode())]


def _sarif_results(*args) -> list[dict]:
    code, out, err = cli("check", *args, "--no-cache", "--format", "sarif")
    assert code == 1, err
    return json.loads(out)["runs"][0]["results"]


def test_image_findings_placed_in_the_repository_or_said_to_be_image_paths(tmp_path):
    repo = _repo(tmp_path, REPO)
    image = _layout(tmp_path, _python_layer(), IMAGE_FILES)
    (r,) = [r for r in _sarif_results(image, "--source", repo) if r["ruleId"] == "DC102"]
    loc = r["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"] == {"uri": "app/main.py", "uriBaseId": "%SRCROOT%"}
    assert loc["region"] == {"startLine": 2, "startColumn": 25, "endColumn": 29}

    (r,) = [r for r in _sarif_results(image) if r["ruleId"] == "DC102"]
    loc = r["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"] == {"uri": "file:///srv/app/app/main.py"}
    assert r["message"]["text"].endswith("(a path in the image, not mapped to the repository)")
    code, out, _ = cli("check", image, "--no-cache", "--format", "github")
    assert code == 1
    assert "::error title=DC102::/srv/app/app/main.py:2:25: cannot import name 'nope'" in out
