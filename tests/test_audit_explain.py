"""audit: explaining a crash from a real git history, with the crash produced by running that history's code."""

from __future__ import annotations

import shutil
import subprocess
import sys

from audit_crash import commit, crash, git

from deploycheck.audit import classify, explain, groups, logs, tracebacks
from deploycheck.audit.run import Options, run

SETTINGS_A = "import os\n\nDATABASE_URL = os.environ.get('DATABASE_URL', 'sqlite://')\nENGINE_URL = DATABASE_URL\n"
# the rename that forgot a use
SETTINGS_B = "import os\n\nDB_URL = os.environ.get('DATABASE_URL', 'sqlite://')\nENGINE_URL = DATABASE_URL\n"
SETTINGS_C = "import os\n\nDB_URL = os.environ.get('DATABASE_URL', 'sqlite://')\nENGINE_URL = DB_URL\n"
MAIN = "from app import settings\n\nprint(settings.ENGINE_URL)\n"


def history(repo):
    a = commit(repo, {"app/__init__.py": "", "app/settings.py": SETTINGS_A, "app/main.py": MAIN,
                      "README.md": "service\n"}, "start the service")
    b = commit(repo, {"app/settings.py": SETTINGS_B}, "rename DATABASE_URL to DB_URL")
    commit(repo, {"README.md": "service, documented\n"}, "docs")
    c = commit(repo, {"app/settings.py": SETTINGS_C}, "finish the rename")
    return a, b, c


def deployed_crash(tmp_path, repo, rev) -> str:
    """Run revision ``rev`` the way an image runs it: its files copied under another prefix (/srv/app-like)."""
    deploy = tmp_path / "srv"
    if deploy.exists():
        shutil.rmtree(deploy)
    deploy.mkdir()
    archive = subprocess.run(["git", "-C", str(repo), "archive", rev], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(deploy)], input=archive, check=True)
    return crash(deploy, {}, "-m", "app.main")


def stopped(tmp_path, text):
    path = tmp_path / "svc.log"
    path.write_text(text)
    grouping = groups.group(tracebacks.collect(logs.read(str(path))))
    return grouping.stopped


def test_rename_left_a_use_suspect_by_pickaxe_and_fixed_at_head(tmp_path):
    repo = tmp_path / "repo"
    _, b, c = history(repo)
    g = stopped(tmp_path, deployed_crash(tmp_path, repo, b))
    kind = classify.classify(g.sample)
    assert (kind.kind, kind.name) == ("undefined-name", "DATABASE_URL")
    ex = explain.explain(g, kind, str(repo), b, run_rules=True)
    assert ex.revision == b and ex.revision_from == f"--rev {b}"
    assert ex.path == "app/settings.py"
    assert ex.line_at_revision == "ENGINE_URL = DATABASE_URL"
    assert ex.suspect is not None and ex.suspect.id == b and ex.suspect.subject == "rename DATABASE_URL to DB_URL"
    assert "git log -S" in ex.suspect_how
    assert f"commit {c[:12]}" in ex.head and "finish the rename" in ex.head
    assert f"`deploycheck check . --python {sys.executable}` at HEAD reports no DC201 in app/settings.py" in ex.head
    blob = git(repo, "rev-parse", f"{b}:app/settings.py").strip()
    assert any(f"blob {blob}" in w.evidence for w in ex.whys)
    assert (ex.rule, ex.command) == ("DC201", "deploycheck check . --python PYTHON")


def test_still_at_head_the_rule_reports_it(tmp_path):
    repo = tmp_path / "repo"
    _, b, _ = history(repo)
    git(repo, "reset", "-q", "--hard", b)
    g = stopped(tmp_path, deployed_crash(tmp_path, repo, b))
    ex = explain.explain(g, classify.classify(g.sample), str(repo), None)
    assert ex.revision == b and ex.revision_from.startswith("HEAD")
    assert any("whether HEAD is what was deployed" in u for u in ex.unknowns)
    assert "HEAD is the deployed revision" in ex.head
    assert "reports it at HEAD: DC201 at app/settings.py:4" in ex.head


def test_suspects_never_come_after_the_deployed_revision(tmp_path):
    repo = tmp_path / "repo"
    a = commit(repo, {"app/__init__.py": "", "app/db.py": "def get_db():\n    return 1\n",
                      "app/main.py": "from app.db import get_db\nget_db()\n"}, "db helper")
    b = commit(repo, {"app/db.py": "def get_session():\n    return 1\n"}, "rename get_db")
    # after the deployed revision: restored, then removed again; neither may be blamed
    commit(repo, {"app/db.py": "def get_db():\n    return 1\n"}, "restore get_db")
    commit(repo, {"app/db.py": "def connect():\n    return 1\n"}, "remove get_db again")
    g = stopped(tmp_path, deployed_crash(tmp_path, repo, b))
    kind = classify.classify(g.sample)
    assert (kind.kind, kind.name, kind.module) == ("import-name", "get_db", "app.db")
    ex = explain.explain(g, kind, str(repo), b, run_rules=False)
    assert ex.suspect.id == b and ex.path == "app/main.py"
    assert a != b


def test_blame_when_no_name_was_removed(tmp_path):
    repo = tmp_path / "repo"
    commit(repo, {"app/__init__.py": "", "app/main.py": "import os\n\nprint('hi')\n"}, "hello")
    b = commit(repo, {"app/main.py": "import os\n\nTOKEN = os.environ['API_TOKEN']\n"}, "read the API token")
    g = stopped(tmp_path, deployed_crash(tmp_path, repo, b))
    kind = classify.classify(g.sample)
    assert (kind.kind, kind.name) == ("missing-setting", "API_TOKEN")
    ex = explain.explain(g, kind, str(repo), b)
    assert ex.suspect.id == b and "git blame" in ex.suspect_how
    assert ex.rule == "DC402" and any("deploycheck config" in u for u in ex.unknowns)


def test_log_revision_label_naming_a_commit_is_used(tmp_path):
    repo = tmp_path / "repo"
    _, b, _ = history(repo)
    err = deployed_crash(tmp_path, repo, b)
    import json

    text = "".join(json.dumps({"textPayload": line, "resource": {"labels": {"revision_name": f"api-{b[:9]}"}}})
                   + "\n" for line in err.splitlines())
    g = stopped(tmp_path, text)
    ex = explain.explain(g, classify.classify(g.sample), str(repo), None, run_rules=False)
    assert ex.revision == b and ex.revision_from == f"the log's revision label api-{b[:9]}"


def test_run_without_source_says_unknown_and_no_crash_is_exit_zero_shape(tmp_path):
    repo = tmp_path / "repo"
    _, b, _ = history(repo)
    log = tmp_path / "svc.log"
    log.write_text(deployed_crash(tmp_path, repo, b))
    report = run(Options(log=str(log)))
    assert report.crashed and report.kind == "undefined-name" and report.revision is None
    assert any("--source" in u for u in report.unknowns)
    quiet = tmp_path / "quiet.log"
    quiet.write_text("INFO all good\n" * 10)
    empty = run(Options(log=str(quiet), source=str(repo)))
    assert not empty.crashed and empty.summary.startswith("No Python traceback")


def test_a_wrong_rev_is_noticed_from_the_printed_line(tmp_path):
    repo = tmp_path / "repo"
    _, b, c = history(repo)
    commit(repo, {"app/settings.py": "import os\n\nDB_URL = os.environ.get('DATABASE_URL')\nENGINE_URL = DB_URL or ''\n"},
           "tidy")
    g = stopped(tmp_path, deployed_crash(tmp_path, repo, b))
    ex = explain.explain(g, classify.classify(g.sample), str(repo), c, run_rules=False)
    assert ex.line_at_revision == "ENGINE_URL = DB_URL"
    assert any("the service ran another version of the file" in w.statement for w in ex.whys)
    assert any(u.startswith("which revision the service ran") for u in ex.unknowns)
