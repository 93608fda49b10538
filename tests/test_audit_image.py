"""The image's verdict for `audit --image` (deploycheck.audit.image): a real git history and real images, one
built daemonless with buildah (read through each transport) and small ones written as OCI layouts, each
file's verdict naming the commit its version came from."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from conftest import write_tree
from images.build import CONTAINERFILE, build, tools_missing
from test_image_layers import _tar, oci_layout

from deploycheck.audit import image as verdicts
from deploycheck.errors import UsageError

LABEL = "org.opencontainers.image.revision"


def _git(repo, *args, when="2026-01-05T10:00:00+00:00"):
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t.invalid", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t.invalid", "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when}
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True,
                          env=env).stdout.strip()


DB = ["def pool():\n    return 1\n", "def pool():\n    return 2\n", "def pool():\n    return 3\n",
      "def pool():\n    return 4\n"]


def _history(repo):
    """main: c1 adds app/{main,db}.py, c2..c4 change db.py; branch `feature` (from c2) changes db.py too.
    Fixed dates: the commit ids, hence the images built from them, are the same on every run."""
    repo.mkdir(parents=True)
    _git(repo, "init", "-q", "-b", "main")
    write_tree(repo, {"app/__init__.py": "", "app/main.py": "from app import db\n\nPOOL = db.pool()\n",
                      "app/db.py": DB[0], "Containerfile": "FROM python:3.11\nCOPY app /srv/app/app\n"})
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "db: first pool")
    commits = [_git(repo, "rev-parse", "HEAD")]
    for n, text in enumerate(DB[1:], 2):
        (repo / "app" / "db.py").write_text(text)
        _git(repo, "commit", "-qam", f"db: pool {n}", when=f"2026-01-0{5 + n}T10:00:00+00:00")
        commits.append(_git(repo, "rev-parse", "HEAD"))
    _git(repo, "checkout", "-q", "-b", "feature", commits[1])
    (repo / "app" / "db.py").write_text("def pool():\n    return 99\n")
    _git(repo, "commit", "-qam", "feature: pool 99", when="2026-01-20T10:00:00+00:00")
    branch = _git(repo, "rev-parse", "HEAD")
    _git(repo, "checkout", "-q", "main")
    return commits, branch


def _states(v):
    return {f.rel: f.state for f in v.files}


def _layout(tmp_path, db: str, labels: dict | None = None, name="layout"):
    app = [("srv/app/app/__init__.py", "file", b""),
           ("srv/app/app/main.py", "file", b"from app import db\n\nPOOL = db.pool()\n"),
           ("srv/app/app/db.py", "file", db.encode())]
    root = tmp_path / name
    oci_layout(root, [_tar(app)], config={"WorkingDir": "/srv/app", "Cmd": ["python3", "-m", "app.main"],
                                          "Labels": labels or {}})
    return f"oci:{root}"


FRAMES = ["<frozen runpy>", "/srv/app/app/main.py", "/srv/app/app/db.py"]


@pytest.mark.slow
@pytest.mark.skipif(bool(tools_missing()), reason=f"needs {tools_missing()}")
def test_image_built_from_an_older_commit_than_its_label(tmp_path):
    repo = tmp_path / "repo"
    commits, _ = _history(repo)
    # built from c2's checkout, labelled with c4 (HEAD)
    ctx = write_tree(tmp_path / "context", {"app/__init__.py": "", "app/main.py": "from app import db\n\nPOOL = db.pool()\n",
                                            "app/db.py": DB[1]})
    targets = build(ctx, CONTAINERFILE + f"LABEL {LABEL}={commits[3]}\n", "dc-audit-stale:1", tmp_path / "out")
    for transport, target in targets.items():
        v = verdicts.verdict(target, repo, None, FRAMES)
        assert (v.claimed, v.commit, v.claim_source, v.label) == (commits[3], commits[3], "label", commits[3])
        assert _states(v) == {"app/main.py": "matches", "app/db.py": "older"}, transport
        [db] = [f for f in v.files if f.rel == "app/db.py"]
        assert db.image_path == "/srv/app/app/db.py" and db.origins[0].commit == commits[1]
        assert (db.origins[0].before, db.origins[0].after) == (2, 0)
        assert db.origins[0].subject == "db: pool 2" and db.origins[0].date.startswith("2026-01-07T10:00:00")
        assert f"older code: app/db.py is the file of commit {commits[1][:12]}" in db.sentence
        assert "2 commits before the claimed revision" in db.sentence
        assert v.stale and v.summary().startswith(f"the image held older code than the commit {commits[3][:12]}: older code")
    # --rev overrides the label: at c2 the image is what it should be, and the disagreement is noted
    v = verdicts.verdict(targets["oci-archive"], repo, commits[1], FRAMES)
    assert _states(v) == {"app/main.py": "matches", "app/db.py": "matches"} and not v.stale
    assert v.claim_source == "--rev" and any(f"label {LABEL} is {commits[3]}" in n for n in v.notes)
    # at c1 the image's db.py is newer than the claim
    v = verdicts.verdict(targets["oci-archive"], repo, commits[0], FRAMES)
    [db] = [f for f in v.files if f.rel == "app/db.py"]
    assert db.state == "newer" and db.origins[0].commit == commits[1] and "1 commit after" in db.sentence


def test_the_commit_named_on_another_branch_and_in_no_commit(tmp_path):
    repo = tmp_path / "repo"
    commits, branch = _history(repo)
    v = verdicts.verdict(_layout(tmp_path, "def pool():\n    return 99\n", {LABEL: commits[3]}), repo, None, FRAMES)
    [db] = [f for f in v.files if f.rel == "app/db.py"]
    assert db.state == "elsewhere" and db.origins[0].commit == branch
    doc = json.loads(json.dumps(v.to_json()))
    assert doc["stale"] is True and doc["summary"] == v.summary() and doc["claim_source"] == "label"
    assert [(f["rel"], f["state"]) for f in doc["files"]] == [("app/main.py", "matches"), ("app/db.py", "elsewhere")]
    assert doc["files"][1]["origins"][0]["commit"] == branch
    assert (db.origins[0].before, db.origins[0].after) == (2, 1)  # c3, c4 | the branch commit
    # edited by hand before the build: in no commit; the blob ids are git's
    edited = "def pool():\n    return 5  # hot fix\n"
    v = verdicts.verdict(_layout(tmp_path, edited, {LABEL: commits[3]}, "l2"), repo, "HEAD", FRAMES)
    [db] = [f for f in v.files if f.rel == "app/db.py"]
    assert db.state == "no-commit" and db.origins == ()
    assert db.image_blob == subprocess.run(["git", "hash-object", "--stdin"], input=edited, text=True,
                                           capture_output=True, check=True).stdout.strip()
    assert db.source_blob == _git(repo, "rev-parse", f"{commits[3]}:app/db.py")
    assert "matches no commit of the repository" in db.sentence


def test_a_revision_is_taken_from_the_label_only_when_the_repository_has_it(tmp_path):
    repo = tmp_path / "repo"
    commits, _ = _history(repo)
    # no label, no --rev: the file is still found in the history, with nothing to compare it with
    v = verdicts.verdict(_layout(tmp_path, DB[1]), repo, None, FRAMES)
    assert v.commit is None and v.claim_source is None and not v.stale
    [db] = [f for f in v.files if f.rel == "app/db.py"]
    assert db.state == "in-history" and db.origins[0].commit == commits[1]
    assert "--rev REV would decide it" in v.summary()
    # a label naming a commit the repository lacks is said, not fatal
    v = verdicts.verdict(_layout(tmp_path, DB[1], {LABEL: "0" * 40}, "l2"), repo, None, FRAMES)
    assert v.commit is None and any("which the repository does not have" in n for n in v.notes)
    # an explicit --rev the repository lacks is bad input
    with pytest.raises(UsageError, match="nosuchrev"):
        verdicts.verdict(_layout(tmp_path, DB[1], name="l3"), repo, "nosuchrev", FRAMES)
    # and it is found so before the image is read: named even when there is no image
    with pytest.raises(UsageError, match="nosuchrev"):
        verdicts.verdict(f"oci:{tmp_path / 'absent'}", repo, "nosuchrev", FRAMES)
    v = verdicts.verdict(_layout(tmp_path, DB[1], name="l4"), repo, "HEAD", ["<frozen runpy>"])
    assert v.files == () and v.summary() == \
        f"no path of the crash's frames was given to compare with HEAD ({commits[3][:12]})"


def test_paths_relative_to_the_working_directory_missing_files_and_no_map(tmp_path):
    repo = tmp_path / "repo"
    commits, _ = _history(repo)
    (repo / "Containerfile").unlink()  # no build file: the map is inferred from where the files are
    target = _layout(tmp_path, DB[3], {LABEL: commits[3]})
    v = verdicts.verdict(target, repo, None, ["app/db.py", "/srv/app/app/gone.py", "/usr/lib/python3.11/json/x.py"])
    got = {f.path: (f.image_path, f.rel, f.state) for f in v.files}
    assert got["app/db.py"] == ("/srv/app/app/db.py", "app/db.py", "matches")
    assert got["/srv/app/app/gone.py"][2] == "not-in-image"
    assert got["/usr/lib/python3.11/json/x.py"][2] == "not-in-image"
    # a path from a log is shown on one line, cut short
    v = verdicts.verdict(target, repo, None, ["/srv/app/\x1b[2J\nx" + "y" * 5000 + ".py"])
    [f] = v.files
    assert f.state == "not-in-image" and "\n" not in f.sentence and "\x1b" not in f.sentence
    assert len(f.sentence) < 400
    assert any("taken to be at /srv/app" in n for n in v.notes)


def test_not_a_repository_and_not_an_image(tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(UsageError, match="not a git repository"):
        verdicts.verdict(_layout(tmp_path, DB[0]), plain, None, FRAMES)
    repo = tmp_path / "repo"
    _history(repo)
    with pytest.raises(UsageError, match="unknown transport"):
        verdicts.verdict("podman:thing", repo, None, FRAMES)


def test_a_sha256_repository_is_compared_by_its_own_blob_ids(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main", "--object-format=sha256")
    write_tree(repo, {"app/__init__.py": "", "app/main.py": "from app import db\n\nPOOL = db.pool()\n",
                      "app/db.py": DB[0]})
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "first")
    first = _git(repo, "rev-parse", "HEAD")
    (repo / "app" / "db.py").write_text(DB[1])
    _git(repo, "commit", "-qam", "second", when="2026-01-06T10:00:00+00:00")
    v = verdicts.verdict(_layout(tmp_path, DB[0]), repo, "HEAD", FRAMES, app_dir="/srv/app")
    assert _states(v) == {"app/main.py": "matches", "app/db.py": "older"}
    [db] = [f for f in v.files if f.rel == "app/db.py"]
    assert len(db.image_blob) == 64 and db.origins[0].commit == first


def test_a_revision_starting_with_a_dash_is_refused(tmp_path):
    repo = tmp_path / "repo"
    _history(repo)
    with pytest.raises(UsageError, match="starts with '-'"):
        verdicts.verdict(_layout(tmp_path, DB[0]), repo, "--output=x", FRAMES)
    # from the label it is a note, and the history is still searched
    v = verdicts.verdict(_layout(tmp_path, DB[0], {LABEL: "--all"}, "l2"), repo, None, FRAMES)
    assert v.commit is None and any("which the repository does not have" in n for n in v.notes)


def test_linked_directories_large_files_and_names_alone(tmp_path):
    repo = tmp_path / "repo"
    commits, _ = _history(repo)
    big = b"# padding\n" * (1_700_000)  # 17 MB: over the 16 MiB a source file may have
    app = [("srv/app/app/__init__.py", "file", b""), ("srv/app/app/db.py", "file", DB[1].encode()),
           ("srv/app/app/main.py", "file", big), ("code", "sym", "srv/app/app"),
           ("usr/lib/python3.11/json/__init__.py", "file", b"")]
    root = tmp_path / "layout"
    oci_layout(root, [_tar(app)], config={"WorkingDir": "/", "Labels": {LABEL: commits[3]}})
    read = []
    v = verdicts.verdict(f"oci:{root}", repo, None,
                         ["/code/db.py", "/srv/app/app/main.py", "/usr/lib/python3.11/json/__init__.py"],
                         read.append)
    got = {f.path: (f.rel, f.state) for f in v.files}
    # printed through the link /code -> /srv/app/app, mapped by the Containerfile's COPY app /srv/app/app
    assert got["/code/db.py"] == ("app/db.py", "older")
    assert got["/srv/app/app/main.py"] == ("app/main.py", "unreadable")
    # only a file name in common (the repository's app/__init__.py): not taken for it
    assert got["/usr/lib/python3.11/json/__init__.py"] == (None, "unmapped")
    # progress was told of the layer's compressed bytes (the largest blob; the others are JSON documents)
    assert sum(read) == max(p.stat().st_size for p in (root / "blobs" / "sha256").iterdir())
