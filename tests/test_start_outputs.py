"""The CI formats of `deploycheck start` (SARIF, JUnit, GitHub, GitLab, JSON Lines), its baseline and exit-code
options, on real runs of the tests' service image (built daemonless, run in the bubblewrap sandbox): findings
in the image's files are placed in the repository the image was built from (--source), findings about the
image as a whole at its build file's line, or at the image itself when there is no build file."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import jsonschema
import pytest
from conftest import FIXTURES, cli
from images.start_service import CONTAINERFILE, missing, service_image

SCHEMA = Path(__file__).resolve().parent / "schemas" / "sarif-2.1.0-rtm.5.json"
SNAPSHOTS = Path(__file__).resolve().parent / "snapshots" / "ci"
FORMATS = ["sarif", "junit", "github", "gitlab", "json-lines"]

_missing = missing()
pytestmark = [pytest.mark.slow, pytest.mark.skipif(bool(_missing), reason=f"needs {_missing}")]


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    return service_image(tmp_path_factory)["oci-archive"]


@pytest.fixture
def repo(tmp_path):
    """The repository the image was built from (its files, its Containerfile, a .git marking its root), and
    a project directory in it where `start` runs."""
    root = tmp_path / "repo"
    shutil.copytree(FIXTURES / "start" / "service" / "app", root / "app")
    (root / "Containerfile").write_text(CONTAINERFILE)
    (root / ".git").mkdir()
    return root


def _env(where: Path, mode: str) -> None:
    (where / "prod.env").write_text(f"MODE={mode}\n")


def _normalized(text: str, image: str, root: Path) -> str:
    text = text.replace(image, "IMAGE").replace(root.as_uri(), "file:///ROOT").replace(str(root), "/ROOT")
    return re.sub(r"\b\d+\.\d+ s\b", "N s", text)  # measured times


def _snapshot(name: str, got: str) -> None:
    snap = SNAPSHOTS / name
    if os.environ.get("DEPLOYCHECK_UPDATE_SNAPSHOTS"):  # review the diff before committing it
        snap.parent.mkdir(parents=True, exist_ok=True)
        snap.write_text(got)
    assert snap.exists(), f"no snapshot {snap.name}: run with DEPLOYCHECK_UPDATE_SNAPSHOTS=1 and review it"
    assert got == snap.read_text()


def _sarif_ids_only(out: str) -> str:
    doc = json.loads(out)
    driver = doc["runs"][0]["tool"]["driver"]
    driver["rules"] = [r["id"] for r in driver["rules"]]  # the rules' documentation changes with the rules
    driver["version"] = driver["semanticVersion"] = "VERSION"
    return json.dumps(doc, indent=2) + "\n"


@pytest.mark.parametrize("fmt", FORMATS)
def test_snapshot(image, repo, fmt):
    """A crash mapped to the repository's file (--source), and a service bound to loopback with no build
    file: its findings are about the image as a whole and have no file."""
    _env(repo, "crash")
    code, crashed, err = cli("start", image, "--env-file", "prod.env", "--source", ".", "--format", fmt, cwd=repo)
    assert code == 1, err
    _env(repo, "loopback")
    code, loopback, err = cli("start", image, "--env-file", "prod.env", "--timeout", "2", "--format", fmt, cwd=repo)
    assert code == 1, err
    if fmt == "sarif":
        crashed, loopback = _sarif_ids_only(crashed), _sarif_ids_only(loopback)
    _snapshot(f"start.{fmt}", _normalized(crashed + loopback, image, repo))


def test_sarif_validates_and_places_findings(image, repo, tmp_path):
    _env(repo, "crash")
    out = tmp_path / "crash.sarif"
    code, text, err = cli("start", image, "--env-file", "prod.env", "--source", ".", "--format", "sarif",
                          "--output-file", out, cwd=repo)
    assert code == 1, err
    assert re.search(r"^1 error\(s\), 0 warning\(s\) in ", text, re.MULTILINE), text  # the text still on stdout
    doc = json.loads(out.read_text())
    validator = jsonschema.Draft4Validator(json.loads(SCHEMA.read_text()))
    validator.validate(doc)
    [result] = doc["runs"][0]["results"]
    assert result["ruleId"] == "DC601" and "KeyError: 'DATABASE_URL'" in result["message"]["text"]
    loc = result["locations"][0]["physicalLocation"]
    assert loc == {"artifactLocation": {"uri": "app/settings.py", "uriBaseId": "%SRCROOT%"},
                   "region": {"startLine": 3, "startColumn": 1, "endColumn": 2}}
    assert doc["runs"][0]["automationDetails"]["id"] == "deploycheck/start/"

    _env(repo, "loopback")  # without --source: the image's own paths, and no file for the image as a whole
    code, out, err = cli("start", image, "--env-file", "prod.env", "--timeout", "2", "--format", "sarif", cwd=repo)
    assert code == 1, err
    doc = json.loads(out)
    validator.validate(doc)
    results = doc["runs"][0]["results"]
    assert [(r["ruleId"], r["locations"]) for r in results] == [("DC602", []), ("DC603", [])]
    assert all(f"about the image {image} as a whole" in r["message"]["text"] for r in results)


def test_image_wide_findings_at_the_build_file_line(image, repo):
    """With the build file known, a finding about the whole image is at the line of the instruction it is
    about; the fingerprint stays the one of the run without it, so a baseline matches either."""
    _env(repo, "loopback")
    code, out, err = cli("start", image, "--env-file", "prod.env", "--timeout", "2", "--source", ".",
                         "--format", "github", cwd=repo)
    assert code == 1, err
    assert [line.split("::")[1] for line in out.splitlines()] == [
        "error file=Containerfile,line=6,col=1,endColumn=2,title=DC602",  # CMD: no HEALTHCHECK in the file
        "error file=Containerfile,line=6,col=1,endColumn=2,title=DC603"]
    (repo / "Containerfile").write_text(CONTAINERFILE + "EXPOSE 8080\n")
    _env(repo, "otherport")
    code, out, err = cli("start", image, "--env-file", "prod.env", "--timeout", "2", "--source", ".",
                         "--format", "json-lines", cwd=repo)
    assert code == 1, err
    rows = {r["code"]: r for r in map(json.loads, out.splitlines())}
    assert (rows["DC604"]["path"], rows["DC604"]["line"]) == ("Containerfile", 7)  # EXPOSE says the port
    assert (rows["DC602"]["path"], rows["DC602"]["line"]) == ("Containerfile", 6)
    code, out, err = cli("start", image, "--env-file", "prod.env", "--timeout", "2", "--format", "json-lines",
                         cwd=repo)
    unplaced = {r["code"]: r for r in map(json.loads, out.splitlines())}
    assert unplaced["DC604"]["path"] == image and not unplaced["DC604"]["in_repository"]
    assert unplaced["DC604"]["fingerprint"] == rows["DC604"]["fingerprint"]


def test_baseline_and_exit_code_options(image, repo):
    _env(repo, "crash")
    base = repo / "start-baseline.json"
    code, out, err = cli("start", image, "--env-file", "prod.env", "--source", ".", "--write-baseline", base,
                         cwd=repo)
    assert code == 0, err
    assert f"baseline {base}: 1 finding recorded" in out
    assert [(e["code"], e["path"]) for e in json.loads(base.read_text())["findings"]] == [
        ("DC601", "app/settings.py")]
    code, out, err = cli("start", image, "--env-file", "prod.env", "--source", ".", "--baseline", base,
                         "--format", "github", "--output-file", repo / "gh.txt", cwd=repo)
    assert code == 0, out + err
    assert "1 known finding not reported, 0 new findings" in out and "0 error(s)" in out
    assert (repo / "gh.txt").read_text() == ""
    assert cli("start", image, "--env-file", "prod.env", "--exit-zero", cwd=repo)[0] == 0
    _env(repo, "errors")  # an ERROR line: a warning, which fails only with --fail-on warning
    code, out, err = cli("start", image, "--env-file", "prod.env", "--format", "gitlab", cwd=repo)
    assert code == 0, err
    [issue] = json.loads(out)
    assert (issue["check_name"], issue["severity"], issue["location"]["path"]) == ("DC608", "minor", image)
    assert cli("start", image, "--env-file", "prod.env", "--fail-on", "warning", cwd=repo)[0] == 1
    code, _out, err = cli("start", image, "--env-file", "prod.env", "--write-baseline", base, cwd=repo)
    assert code == 0, err  # an image as a whole is recorded as such, not by this run's archive path
    assert [(e["code"], e["path"]) for e in json.loads(base.read_text())["findings"]] == [("DC608", "<image>")]


def test_bad_source_and_containerfile_are_one_line(image, repo):
    for args, message in [(["--containerfile", "Containerfile"], "--containerfile needs --source"),
                          (["--source", "nope"], "--source nope: not a directory"),
                          (["--source", ".", "--containerfile", "nope"], "--containerfile nope: not a file")]:
        code, out, err = cli("start", image, *args, cwd=repo)
        assert code == 2 and out == "" and err.startswith(f"deploycheck: error: {message}"), err
        assert len(err.strip().splitlines()) == 1, err
