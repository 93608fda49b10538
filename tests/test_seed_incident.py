"""The incident that started deploycheck, rebuilt by scripts/seed_incident.py: the migration history, the stale
image (files of the commit that left a use of DatabaseConfig, label naming the fix) and the Cloud Run logs of
its real crash; and the image's verdict naming the older commit."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import cli, cli_json
from images import registry
from images.build import CACHE, tools_missing

from deploycheck.audit import image as verdicts

pytestmark = [pytest.mark.slow, pytest.mark.skipif(bool(tools_missing()), reason=f"needs {tools_missing()}")]

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "seed_incident.py"
CRASH = "RuntimeError: Database engine creation failed: name 'DatabaseConfig' is not defined"


@pytest.fixture(scope="module")
def incident():
    spec = importlib.util.spec_from_file_location("seed_incident", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up
    spec.loader.exec_module(module)
    stale = CACHE / "seed-incident-000000000000"  # what an earlier version of the script left
    (stale / "repo").mkdir(parents=True, exist_ok=True)
    built = module.build(CACHE)
    built.evicted = not stale.exists()
    return built


def _git(repo, *args):
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


def test_builds_are_kept_under_their_key_and_others_removed(incident):
    assert incident.root.parent == CACHE and incident.evicted
    assert (incident.root / ".complete").exists() and Path(incident.image["oci-archive"][12:]).is_file()


def test_the_repository_holds_the_migration_history(incident):
    commits, repo = incident.facts["commits"], incident.repo
    assert _git(repo, "log", "--format=%H", "--reverse").split() == [commits[s] for s in incident.facts["steps"]]
    assert incident.facts["steps"] == ["class", "unified", "reports", "left-use", "class-removed", "fix"]

    def at(step, path):
        return _git(repo, "show", f"{commits[step]}:{path}")

    assert "class DatabaseConfig" in at("class", "app/core/config.py")
    assert "def get_unified_config" in at("unified", "app/core/config.py") and \
        "class DatabaseConfig" in at("unified", "app/core/config.py")
    assert "DatabaseConfig" not in at("reports", "app/services/reports.py")
    # the import went, a use stayed
    left = at("left-use", "app/db/postgres_core.py")
    assert "import DatabaseConfig" not in left and "DatabaseConfig.POOL_SIZE" in left
    assert "class DatabaseConfig" not in at("class-removed", "app/core/config.py")
    assert "DatabaseConfig" not in at("fix", "app/db/postgres_core.py")
    # the last commit to change the file before the fix is the one that left the use
    assert _git(repo, "log", "-1", "--format=%H", f"{commits['fix']}~1", "--", "app/db/postgres_core.py").strip() \
        == commits["left-use"]


def test_the_crash_is_real_and_the_fix_starts(incident, tmp_path):
    for run in incident.facts["runs"]:
        assert run["status"] == 1 and run["stdout"] == "orders-api: starting\n"
        lines = run["stderr"].splitlines()
        assert lines[-1] == CRASH and "The above exception was the direct cause of the following exception:" in lines
        assert 'File "/srv/app/app/db/postgres_core.py", line 9, in create_engine' in run["stderr"]
        assert "NameError: name 'DatabaseConfig' is not defined" in lines
    # the fix's tree starts: the same command, run here on its files
    for step, status in (("fix", 0), ("left-use", 1)):
        tree = tmp_path / step
        tree.mkdir()
        archive = subprocess.run(["git", "-C", str(incident.repo), "archive", incident.facts["commits"][step]],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
        proc = subprocess.run([sys.executable, "-m", "app.main"], cwd=tree, capture_output=True,
                              text=True, check=False)
        assert proc.returncode == status, proc.stderr
        assert (CRASH in proc.stderr) == (status == 1)


def _entries(incident):
    return [json.loads(line) for line in incident.logs.read_text().splitlines()]


def test_the_logs_are_cloud_run_entries_with_the_traceback_split_and_interleaved(incident):
    entries = _entries(incident)
    failing, serving = incident.facts["failing"], incident.facts["serving"]
    assert all(e["resource"]["type"] == "cloud_run_revision" for e in entries)
    assert [e["timestamp"] for e in entries] == sorted(e["timestamp"] for e in entries)
    by_instance: dict[str, list[int]] = {}
    for i, e in enumerate(entries):
        if e["resource"]["labels"]["revision_name"] == failing and e["logName"].endswith("%2Fstderr"):
            by_instance.setdefault(e["labels"]["instanceId"], []).append(i)
    assert len(by_instance) == 2
    for (instance, spots), run in zip(by_instance.items(), incident.facts["runs"], strict=True):
        # one entry per line of the real stderr, in order, severity ERROR
        assert [entries[i]["textPayload"] for i in spots] == run["stderr"].splitlines()
        assert all(entries[i]["severity"] == "ERROR" for i in spots)
        # the serving revision's request logs fall between the traceback's first and last line
        between = [entries[i] for i in range(spots[0], spots[-1]) if i not in spots]
        assert any(e["resource"]["labels"]["revision_name"] == serving and "httpRequest" in e for e in between)
        exits = [e["textPayload"] for e in entries if e.get("labels", {}).get("instanceId") == instance
                 and e["logName"].endswith("varlog%2Fsystem")]
        assert "Container called exit(1)." in exits


def test_the_verdict_names_the_commit_the_image_came_from(incident):
    commits = incident.facts["commits"]
    entries = _entries(incident)
    frames = [m.group(1) for e in entries if (m := re.match(r'\s+File "([^"]+)", line \d+', e.get("textPayload", "")))]
    assert set(frames) == {"<frozen runpy>", "/srv/app/app/main.py", "/srv/app/app/db/postgres_core.py"}
    v = verdicts.verdict(incident.image["oci-archive"], incident.repo, None, frames)
    assert (v.label, v.commit, v.claim_source) == (commits["fix"], commits["fix"], "label")
    got = {f.rel: (f.state, [o.commit for o in f.origins]) for f in v.files}
    assert got == {"app/main.py": ("matches", []), "app/db/postgres_core.py": ("older", [commits["left-use"]])}
    [stale] = [f for f in v.files if f.state == "older"]
    assert (stale.origins[0].before, stale.origins[0].after) == (2, 0)
    assert stale.origins[0].subject == "db: postgres_core reads get_unified_config(), DatabaseConfig import dropped"
    assert v.summary().startswith(f"the image held older code than the commit {commits['fix'][:12]}")


@pytest.mark.skipif(registry.missing(), reason="needs the docker-registry package")
def test_the_verdict_through_a_registry(incident, tmp_path):
    commits = incident.facts["commits"]
    with registry.running(tmp_path / "registry") as addr:
        ref = f"{addr}/orders-api:{commits['fix'][:12]}"
        subprocess.run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", incident.image["oci-archive"],
                        f"docker://{ref}"], check=True, capture_output=True)
        v = verdicts.verdict(f"docker://{ref}", incident.repo, None, ["/srv/app/app/db/postgres_core.py"],
                             tls_verify=False)
    [f] = v.files
    assert (v.commit, f.state, f.origins[0].commit) == (commits["fix"], "older", commits["left-use"])


def test_check_would_have_caught_the_stale_image(incident):
    # before the deploy: the image holds the use of DatabaseConfig (DC201) and is not the fix it claims (DC501)
    commits = incident.facts["commits"]
    code, doc = cli_json("check", incident.image["oci-archive"], "--source", incident.repo, "--no-cache")
    got = sorted((f["code"], f["path"], f["symbol"]) for f in doc["findings"])
    assert code == 1 and got == [
        ("DC201", "/srv/app/app/db/postgres_core.py", "DatabaseConfig"),
        ("DC501", "/srv/app/app/core/config.py", "app/core/config.py"),
        ("DC501", "/srv/app/app/db/postgres_core.py", "app/db/postgres_core.py")]
    [stale] = [f for f in doc["findings"] if f["code"] == "DC501" and "postgres_core" in f["path"]]
    assert f"the image's version is from commit {commits['left-use'][:12]}" in stale["message"]


def _audit(incident, *extra):
    code, doc = cli_json("audit", "--log", str(incident.logs), "--source", str(incident.repo), "--no-rules", *extra)
    assert code == 1
    return doc


def test_audit_with_the_image_finds_the_code_that_ran_and_the_commit_that_broke_it(incident):
    commits = incident.facts["commits"]
    doc = _audit(incident, "--image", incident.image["oci-archive"])
    assert doc["kind"] == "undefined-name" and doc["path"] == "app/db/postgres_core.py"
    # the label claims the fix, the image ran the files of the commit that left the use: that is the revision
    assert doc["revision"] == commits["left-use"] and "image's verdict" in doc["revision_from"]
    assert doc["suspect"].startswith(f"{commits['left-use']} db: postgres_core reads get_unified_config()")
    assert "removed or renamed DatabaseConfig" in doc["suspect"]
    v = doc["image"]
    assert (v["commit"], v["claim_source"], v["stale"]) == (commits["fix"], "label", True)
    assert v["summary"].startswith(f"the image held older code than the commit {commits['fix'][:12]}")
    got = {f["rel"]: (f["state"], [o["commit"] for o in f["origins"]]) for f in v["files"]}
    assert got == {"app/db/postgres_core.py": ("older", [commits["left-use"]]), "app/main.py": ("matches", [])}
    [why] = [w for w in doc["whys"] if w["statement"].startswith("The image held older code")]
    [stale] = [f for f in v["files"] if f["state"] == "older"]
    assert f"/srv/app/app/db/postgres_core.py in the image: blob {stale['image_blob']}" in why["evidence"]
    assert f"app/db/postgres_core.py at {commits['fix'][:12]}: blob {stale['source_blob']}" in why["evidence"]
    # the line the traceback printed is the one of the commit examined, and HEAD (the fix) removed it
    [line] = [w for w in doc["whys"] if w["statement"].startswith("app/db/postgres_core.py line 9 at")]
    assert "the same line the traceback printed" in line["statement"]
    assert f"commit {commits['fix'][:12]} " in doc["whys"][-1]["statement"] and "removed it" in doc["whys"][-1]["statement"]
    assert not any("which revision the service ran" in u or "whether HEAD is what was deployed" in u
                   for u in doc["unknowns"])


def test_audit_without_the_image_cannot_see_past_the_label(incident):
    # the known limit --image lifts: the tree examined is HEAD (the fix), whose line is not the one that ran
    commits = incident.facts["commits"]
    doc = _audit(incident)
    assert doc["image"] is None and doc["revision"] == commits["fix"]
    assert any("which revision the service ran" in u for u in doc["unknowns"])
    # --no-rules leaves HEAD unchecked: said so, not blamed on the environment (the crash is the code's)
    assert any("--no-rules" in u for u in doc["unknowns"])
    assert not any("lies in the environment" in u for u in doc["unknowns"])


def test_audit_with_the_image_in_every_format(incident, tmp_path):
    commits = incident.facts["commits"]
    common = ("audit", "--log", str(incident.logs), "--source", str(incident.repo), "--no-rules",
              "--image", incident.image["oci-archive"])
    for fmt in ("text", "markdown", "html"):
        code, out, err = cli(*common, "--format", fmt)
        assert code == 1, err
        out = out.replace("\\_", "_") if fmt == "markdown" else out
        assert f"older code than the commit {commits['fix'][:12]}" in out
        assert f"app/db/postgres_core.py: older: older code: app/db/postgres_core.py is the file of commit " \
               f"{commits['left-use'][:12]}" in out
        assert ('<section id="image">' in out) == (fmt == "html")


def test_audit_image_bad_input(incident, tmp_path):
    code, out, err = cli("audit", "--log", str(incident.logs), "--image", incident.image["oci-archive"])
    assert (code, out) == (2, "") and err.strip().endswith("--image needs --source (the repository its files "
                                                           "are compared with)")
    missing = tmp_path / "none.tar"
    code, out, err = cli("audit", "--log", str(incident.logs), "--source", str(incident.repo), "--no-rules",
                         "--image", f"oci-archive:{missing}")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_audit_with_the_image_and_the_revision_it_really_holds(incident):
    # --rev naming the commit the image was built from: its files match, and the audit examines that commit
    commits = incident.facts["commits"]
    doc = _audit(incident, "--image", incident.image["oci-archive"], "--rev", commits["left-use"][:12])
    v = doc["image"]
    assert (v["commit"], v["claim_source"], v["stale"]) == (commits["left-use"], "--rev", False)
    assert {f["rel"]: f["state"] for f in v["files"]} == {"app/db/postgres_core.py": "matches",
                                                          "app/main.py": "matches"}
    assert any(n.startswith("the image's label org.opencontainers.image.revision is " + commits["fix"])
               for n in v["notes"])
    assert doc["revision"] == commits["left-use"] and doc["revision_from"].startswith("--rev")
    assert doc["suspect"].startswith(commits["left-use"]) and "older code" not in doc["summary"]
