"""The CI formats of `check`, `config` and `migrate status` (SARIF, JUnit, GitHub, GitLab, JSON Lines), the
baseline, and the exit-code policy, on a real project run by the real console script."""

from __future__ import annotations

import json
import os
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
from ci_project import project
from conftest import cli

from deploycheck.findings.finding import Finding
from deploycheck.findings.located import Located, Location
from deploycheck.render import github

SCHEMA = Path(__file__).resolve().parent / "schemas" / "sarif-2.1.0-rtm.5.json"
SNAPSHOTS = Path(__file__).resolve().parent / "snapshots" / "ci"


@pytest.fixture
def service(tmp_path):
    root, python = project(tmp_path)
    return root, python


def run(root: Path, python: str, *args: str):
    return cli(*args, "--python", python, "--no-cache", cwd=root)


def sarif(root: Path, python: str, *extra: str) -> dict:
    out = root.parent / "out.sarif"
    code, stdout, err = run(root, python, "check", ".", "--format", "sarif", "--output-file", str(out), *extra)
    assert code == 1, err
    assert re.search(r"^5 errors, 0 warnings in ", stdout, re.MULTILINE), stdout  # the text still on stdout
    return json.loads(out.read_text())


def results(doc: dict) -> list[tuple]:
    out = []
    for r in doc["runs"][0]["results"]:
        loc = r["locations"][0]["physicalLocation"]
        out.append((r["ruleId"], loc["artifactLocation"]["uri"], loc["region"]["startLine"],
                    loc["region"]["startColumn"], loc["region"]["endColumn"], "suppressions" in r))
    return out


def fingerprints(doc: dict) -> list[str]:
    return [r["partialFingerprints"]["deploycheck/v1"] for r in doc["runs"][0]["results"]]


def test_sarif_validates_against_the_schema_with_locations_chain_and_suppressions(service):
    root, python = service
    doc = sarif(root, python)
    jsonschema.Draft4Validator(json.loads(SCHEMA.read_text())).validate(doc)
    run_ = doc["runs"][0]
    driver = run_["tool"]["driver"]
    assert driver["name"] == "deploycheck" and "informationUri" not in driver  # no Project-URL published
    rules = {r["id"]: r for r in driver["rules"]}
    assert rules["DC102"]["name"] == "name-not-found"
    assert rules["DC102"]["shortDescription"]["text"].startswith("DC102 name-not-found:")
    assert "Why it crashes" in rules["DC102"]["fullDescription"]["text"]
    assert run_["originalUriBaseIds"]["%SRCROOT%"]["uri"] == root.as_uri() + "/"
    assert results(doc) == [
        ("DC201", "svc/helpers.py", 6, 12, 23, False),
        ("DC102", "svc/main.py", 4, 32, 44, False),
        ("DC201", "svc/main.py", 9, 40, 53, False),
        ("DC201", "svc/main.py", 9, 56, 69, False),
        # third-party: placed on the requirement line that installed the distribution
        ("DC102", "requirements.txt", 2, 1, 2, False),
        ("DC102", "svc/main.py", 5, 25, 37, True),  # suppressed in the source, reported as such
    ]
    by_rule = run_["results"]
    assert [by_rule[i]["ruleIndex"] for i in range(2)] == [[r["id"] for r in driver["rules"]].index(c)
                                                          for c in ("DC201", "DC102")]
    assert by_rule[5]["suppressions"] == [{"kind": "inSource", "justification": "# noqa: DC102"}]
    third = by_rule[4]
    assert "installed by this requirement" in third["message"]["text"]
    related = third["relatedLocations"]
    assert related[0]["physicalLocation"]["artifactLocation"]["uri"].endswith("/brokenlib/__init__.py")
    assert related[0]["physicalLocation"]["artifactLocation"]["uri"].startswith("file:///")
    assert [r["message"]["text"] for r in related[1:]] == ["svc.main imports the next module"]
    chain = by_rule[0]["relatedLocations"]
    assert chain == [{"id": 0, "message": {"text": "svc.main imports the next module"},
                      "physicalLocation": {"artifactLocation": {"uri": "svc/main.py", "uriBaseId": "%SRCROOT%"},
                                           "region": {"startLine": 3, "startColumn": 1, "endColumn": 2}}}]
    assert len(set(fingerprints(doc))) == 6


def test_fingerprints_survive_an_unrelated_edit(service):
    root, python = service
    before = sarif(root, python)
    main = root / "svc" / "main.py"
    main.write_text("# a comment\n\n\n" + main.read_text())
    helpers = root / "svc" / "helpers.py"
    helpers.write_text(helpers.read_text().replace("    return not_defined", "    x = 1\n        \n    return  not_defined"))
    after = sarif(root, python)
    moved = [(rule, uri, line) for rule, uri, line, *_ in results(after)]
    assert moved[:4] == [("DC201", "svc/helpers.py", 8, ), ("DC102", "svc/main.py", 7), ("DC201", "svc/main.py", 12),
                         ("DC201", "svc/main.py", 12)]
    assert fingerprints(after) == fingerprints(before)


def test_baseline_round_trip(service):
    root, python = service
    base = root / ".deploycheck-baseline.json"
    code, out, err = run(root, python, "check", ".", "--write-baseline", str(base))
    assert code == 0, err  # recording is adopting: not a failure
    assert "baseline " + str(base) + ": 5 findings recorded" in out
    doc = json.loads(base.read_text())
    assert doc["version"] == 1
    umask = os.umask(0)
    os.umask(umask)
    assert base.stat().st_mode & 0o777 == 0o666 & ~umask  # a file to commit: was mkstemp's private 0600
    entries = doc["findings"]
    assert [(e["path"], e["code"], e["symbol"]) for e in entries] == [
        ("requirements.txt", "DC102", "not_in_json"), ("svc/helpers.py", "DC201", "not_defined"),
        ("svc/main.py", "DC102", "missing_name"), ("svc/main.py", "DC201", "undefined_one"),
        ("svc/main.py", "DC201", "undefined_one")]
    assert entries == sorted(entries, key=lambda e: (e["path"], e["code"], e["symbol"], e["fingerprint"]))

    code, out, err = run(root, python, "check", ".", "--baseline", str(base))
    assert code == 0, out + err
    assert "5 known findings not reported, 0 new findings" in out
    assert out.count(": DC") == 0

    # every line of main.py shifted: still matched
    main = root / "svc" / "main.py"
    main.write_text("\n\n# moved\n" + main.read_text())
    code, out, _ = run(root, python, "check", ".", "--baseline", str(base))
    assert code == 0 and "5 known findings not reported, 0 new findings" in out

    # helpers.py renamed (helpers re-exports it): its finding is new, its old entry stale
    (root / "svc" / "helpers.py").rename(root / "svc" / "helpers2.py")
    (root / "svc" / "helpers.py").write_text("from svc.helpers2 import *\n")
    code, out, err = run(root, python, "check", ".", "--baseline", str(base))
    assert code == 1, err
    assert "svc/helpers2.py:6:12: DC201" in out and out.count(": DC") == 1
    assert "4 known findings not reported, 1 new finding" in out
    assert "1 entry stale (fixed since; --write-baseline drops them):\n  DC201 svc/helpers.py not_defined" in out
    assert re.search(r"^1 error, 0 warnings in ", out, re.MULTILINE)

    # formats see the baseline too: the known findings are suppressed results in SARIF
    doc = sarif_with(root, python, "--baseline", str(base))
    shown = [r for r in doc["runs"][0]["results"] if "suppressions" not in r]
    assert [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in shown] == ["svc/helpers2.py"]
    justified = {s["justification"] for r in doc["runs"][0]["results"] for s in r.get("suppressions", [])}
    assert justified == {"# noqa: DC102", f"in the baseline {base}"}


def sarif_with(root: Path, python: str, *extra: str) -> dict:
    code, out, err = run(root, python, "check", ".", "--format", "sarif", *extra)
    assert code in (0, 1), err
    return json.loads(out)


def test_gitlab_fingerprints_unique_and_stable(service):
    root, python = service
    code, out, err = run(root, python, "check", ".", "--format", "gitlab")
    assert code == 1, err
    issues = json.loads(out)
    assert [(i["check_name"], i["location"]["path"], i["location"]["lines"]["begin"], i["severity"])
            for i in issues] == [("DC201", "svc/helpers.py", 6, "critical"), ("DC102", "svc/main.py", 4, "critical"),
                                 ("DC201", "svc/main.py", 9, "critical"), ("DC201", "svc/main.py", 9, "critical"),
                                 ("DC102", "requirements.txt", 2, "critical")]
    prints = [i["fingerprint"] for i in issues]
    assert len(set(prints)) == 5  # the two undefined_one on one line differ
    main = root / "svc" / "main.py"
    main.write_text("import os\n" + main.read_text())
    assert [i["fingerprint"] for i in json.loads(run(root, python, "check", ".", "--format", "gitlab")[1])] == prints


def test_junit_as_a_ci_reads_it(service):
    root, python = service
    code, out, err = run(root, python, "check", ".", "--format", "junit")
    assert code == 1, err
    suites = ET.fromstring(out)
    assert suites.tag == "testsuites"
    (suite,) = suites.findall("testsuite")
    assert suite.get("name") == "deploycheck check" and suite.get("tests") == "4" and suite.get("failures") == "4"
    cases = [(c.get("classname"), c.get("name")) for c in suite.findall("testcase")]
    assert cases == [("DC102", "requirements.txt"), ("DC102", "svc/main.py"), ("DC201", "svc/helpers.py"),
                     ("DC201", "svc/main.py")]
    failure = suite.findall("testcase")[3].find("failure")
    assert failure.get("type") == "DC201"
    assert failure.get("message") == "svc/main.py:9:40: name 'undefined_one' is not defined"
    assert failure.text.splitlines() == ["svc/main.py:9:40: DC201 [error] name 'undefined_one' is not defined",
                                         "svc/main.py:9:56: DC201 [error] name 'undefined_one' is not defined"]


def test_github_commands_and_json_lines(service):
    root, python = service
    code, out, err = run(root, python, "check", ".", "--format", "github")
    assert code == 1, err
    assert out.splitlines()[1] == ("::error file=svc/main.py,line=4,col=32,endColumn=44,title=DC102::cannot import "
                                   "name 'missing_name' from 'svc.helpers' (svc/helpers.py)")
    assert out.splitlines()[4].startswith("::error file=requirements.txt,line=2,col=1,endColumn=2,title=DC102::")
    code, out, err = run(root, python, "check", ".", "--format", "json-lines")
    rows = [json.loads(line) for line in out.splitlines()]
    assert [(r["code"], r["path"], r["line"], r["column"], r["end_column"]) for r in rows][:2] == [
        ("DC201", "svc/helpers.py", 6, 12, 23), ("DC102", "svc/main.py", 4, 32, 44)]
    assert len({r["fingerprint"] for r in rows}) == 5


def _located(path: str, message: str, code: str = "DC102") -> Located:
    f = Finding(code, "error", message, "/abs/" + path, 3, 4, symbol="X")
    return Located(f, Location(path, True, 3, 5, 6), "0" * 32)


def test_github_escaping_as_the_runner_reads_it():
    line = github.command(_located("dir,x/a:b.py", "50% done\r\nnext \x1b[2J"))
    assert line == "::error file=dir%2Cx/a%3Ab.py,line=3,col=5,endColumn=6,title=DC102::50%25 done%0D%0Anext \\x1b[2J"
    assert github.prop("a:b,c%") == "a%3Ab%2Cc%25"
    outside = _located("x.py", "m")
    outside.location = Location("/usr/lib/x.py", False, 3, 5, 6)
    assert github.command(outside) == "::error title=DC102::/usr/lib/x.py:3:5: m"


def test_exit_code_policy_and_migrate_status_formats(service):
    root, python = service
    assert run(root, python, "check", ".", "--exit-zero", "--format", "github")[0] == 0
    code, out, err = run(root, python, "migrate", "status", ".", "--format", "sarif")
    assert code == 0, err  # migrate status fails on nothing unless asked
    doc = json.loads(out)
    assert [(r["ruleId"], r["level"]) for r in doc["runs"][0]["results"]] == [("DC301", "warning")] * 2
    assert run(root, python, "migrate", "status", ".", "--fail-on", "warning")[0] == 1
    assert run(root, python, "migrate", "status", ".", "--fail-on", "error")[0] == 0
    base = root / "b.json"
    assert run(root, python, "migrate", "status", ".", "--write-baseline", str(base))[0] == 0
    code, out, _ = run(root, python, "migrate", "status", ".", "--baseline", str(base), "--fail-on", "warning")
    assert code == 0 and "2 known findings not reported, 0 new findings" in out
    assert "2 references left of 2" in out  # the progress report stays whole


@pytest.mark.parametrize("args, message", [
    (["--baseline", "nope.json"], "--baseline nope.json: cannot read it"),
    (["--baseline", "bad.json"], "--baseline bad.json: not JSON"),
    (["--baseline", "other.json"], "--baseline other.json: written with fingerprint version 99"),
    (["--format", "sarif", "--output-file", "svc"], "--output-file svc: is a directory"),
    (["--output-file", ""], "--output-file is empty"),
    (["--baseline", "fifo"], "--baseline fifo: not a regular file"),
    (["--format", "sarif", "--output-file", "fifo"], "--output-file fifo: cannot write it"),
    (["--write-baseline", "no/such/dir/b.json"], "--write-baseline no/such/dir/b.json: cannot write it"),
])
def test_bad_output_options(service, args, message):
    root, python = service
    (root / "bad.json").write_text("{nope")
    (root / "other.json").write_text('{"version": 99, "findings": []}')
    os.mkfifo(root / "fifo")  # nobody reads or writes it: must not hang
    code, out, err = run(root, python, "check", ".", *args)
    assert code == 2, out + err
    assert err.startswith(f"deploycheck: error: {message}") and len(err.splitlines()) == 1, err


def _normalized(text: str, root: Path, python: str) -> str:
    text = text.replace(root.as_uri(), "file:///ROOT").replace(str(root), "/ROOT")
    env = str(Path(python).parent.parent)
    return text.replace(Path(env).as_uri(), "file:///ENV").replace(env, "/ENV")


@pytest.mark.parametrize("fmt", ["sarif", "junit", "github", "gitlab", "json-lines"])
def test_snapshot(service, fmt):
    root, python = service
    code, out, err = run(root, python, "check", ".", "--format", fmt)
    assert code == 1, err
    if fmt == "sarif":  # the rules' documentation changes with the rules: ids only here
        doc = json.loads(out)
        driver = doc["runs"][0]["tool"]["driver"]
        driver["rules"] = [r["id"] for r in driver["rules"]]
        driver["version"] = driver["semanticVersion"] = "VERSION"
        out = json.dumps(doc, indent=2) + "\n"
    got = _normalized(out, root, python)
    got = re.sub(r"python3\.\d+", "python3.X", re.sub(r"Python 3\.\d+", "Python 3.X", got))
    snap = SNAPSHOTS / f"check.{fmt}"
    if os.environ.get("DEPLOYCHECK_UPDATE_SNAPSHOTS"):  # review the diff before committing it
        snap.parent.mkdir(parents=True, exist_ok=True)
        snap.write_text(got)
    assert snap.exists(), f"no snapshot {snap.name}: run with DEPLOYCHECK_UPDATE_SNAPSHOTS=1 and review it"
    assert got == snap.read_text()


@pytest.mark.parametrize("fmt", ["sarif", "junit", "github", "gitlab", "json-lines"])
def test_config_findings_in_every_format_without_their_secrets(tmp_path, fmt):
    proj = tmp_path / "c"
    (proj / "app").mkdir(parents=True)
    (proj / "app" / "__init__.py").write_text("")
    (proj / "app" / "main.py").write_text(
        'import os\nL = os.getenv("LOCAL_DSN", "http://CodeSentryKey11@localhost:9000/2")\n')
    (proj / ".env.p").write_text("OTHER=1\n")
    code, out, err = cli("config", "--env", "prod", "--env-file", ".env.p", "--python", sys.executable,
                         "--no-cache", "--entry", "app.main", "--format", fmt, cwd=proj)
    assert code == 1, err
    assert "CodeSentryKey11" not in out + err
    assert "http://***@localhost:9000/2" in out
    assert {"sarif": '"uri": "app/main.py"', "junit": 'name="app/main.py"', "github": "file=app/main.py,line=2",
            "gitlab": '"path": "app/main.py"', "json-lines": '"path": "app/main.py"'}[fmt] in out


def test_paths_are_relative_to_the_git_repository_holding_the_project(tmp_path):
    """A project in a directory of a repository (a monorepo): annotations name files from the repository's
    root, where the CI's checkout is."""
    monorepo = tmp_path / "mono"
    (monorepo / ".git").mkdir(parents=True)  # what marks a repository's root (a worktree has a file)
    root, python = project(monorepo / "services")
    code, out, err = cli("check", root, "--python", python, "--no-cache", "--format", "github")
    assert code == 1, err
    assert out.splitlines()[1].startswith("::error file=services/service/svc/main.py,line=4,col=32,")
    assert "file=services/service/requirements.txt,line=2" in out.splitlines()[4]
