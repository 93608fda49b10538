"""audit on incidents built apart from the others (a rename done file by file, Cloud Run's exit line after a
split traceback, Python too old at run time, a dependency's drift, a restart loop, a refused password, a
stale image, the project installed into site-packages) and on hostile input (authorization headers, long
unended lines, a repository another user owns)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from audit_crash import cloud_run, commit, crash, interleave

from deploycheck.audit import classify, explain, groups, history, logs, tracebacks
from deploycheck.audit.report import redacted

CONFIG_OLD = "def load_settings():\n    return {'currency': 'EUR'}\n"
CONFIG_NEW = "def read_settings():\n    return {'currency': 'EUR'}\n"
WORKER_OLD = "from shop.config import load_settings\n\nSETTINGS = load_settings()\n"
WORKER_NEW = "from shop.config import read_settings\n\nSETTINGS = read_settings()\n"
APP = "from shop.config import *  # noqa\n\nSETTINGS = load_settings()\n"


def _grouping(tmp_path, text):
    path = tmp_path / "svc.log"
    path.write_text(text)
    return groups.group(tracebacks.collect(logs.read(str(path))))


def test_rename_file_by_file_suspect_is_the_step_that_removed_the_definition(tmp_path):
    repo = tmp_path / "repo"
    commit(repo, {"shop/__init__.py": "", "shop/config.py": CONFIG_OLD, "shop/worker.py": WORKER_OLD,
                  "shop/app.py": APP}, "shop service")
    renamed = commit(repo, {"shop/config.py": CONFIG_NEW}, "config: rename load_settings to read_settings")
    commit(repo, {"README.md": "shop\n"}, "docs")
    # the next step of the rename also lowers the count of load_settings, but broke nothing
    worker = commit(repo, {"shop/worker.py": WORKER_NEW}, "worker: use read_settings")
    text = crash(repo, {}, "-m", "shop.app")
    g = _grouping(tmp_path, text).stopped
    kind = classify.classify(g.sample)
    assert (kind.kind, kind.name) == ("undefined-name", "load_settings")
    ex = explain.explain(g, kind, str(repo), worker, run_rules=False)
    assert ex.suspect is not None and ex.suspect.id == renamed


def test_removed_without_a_definition_gone_keeps_the_newest_commit_that_lowered_the_count(tmp_path):
    # the name was never defined in the repository (it came from a library): the newest drop is the suspect
    repo = tmp_path / "repo"
    commit(repo, {"a.py": "from lib import helper\nhelper()\n", "b.py": "from lib import helper\nhelper()\n"},
           "start")
    commit(repo, {"a.py": "from lib import assist\nassist()\n"}, "a: assist")
    last = commit(repo, {"b.py": "from lib import assist\nassist()\n"}, "b: assist")
    assert history.definitions(str(repo), last, "helper") == 0
    assert history.removed(str(repo), last, "helper").id == last


def test_container_exit_after_a_split_traceback_is_the_stop_line(tmp_path):
    text = crash(tmp_path / "svc", {"app.py": "import missing_module_xyz\n"}, "app.py")
    ours = cloud_run(text, "api-00042-kex", "inst-new")
    ours.append({"textPayload": "Container called exit(1).", "severity": "WARNING",
                 "timestamp": "2024-05-01T12:00:59.000000Z", "labels": {"instanceId": "inst-new"},
                 "resource": {"type": "cloud_run_revision", "labels": {"revision_name": "api-00042-kex"}}})
    others = cloud_run("\n".join(f"GET /orders/{i} 200" for i in range(10)), "api-00041-vum", "inst-old")
    grouping = _grouping(tmp_path, interleave(ours, others))
    assert grouping.stopped is not None and grouping.stopped.sample.exc_type == "ModuleNotFoundError"
    exit_line = next(i + 1 for i, line in enumerate(interleave(ours, others).splitlines())
                     if "Container called exit" in line)
    assert f"followed by 'Container called exit(1).' (log line {exit_line})" in grouping.why
    assert [(e.kind, e.text) for e in grouping.timeline] == [
        ("crash", "ModuleNotFoundError: No module named 'missing_module_xyz'"),
        ("stop", "Container called exit(1).")]


def test_union_annotation_on_old_python_is_dc503_not_dc202(tmp_path):
    text = ('Traceback (most recent call last):\n'
            '  File "/usr/local/lib/python3.8/runpy.py", line 194, in _run_module_as_main\n'
            '  File "/app/svc/lookup.py", line 3, in <module>\n'
            '    def find(key: str) -> str | None:\n'
            "TypeError: unsupported operand type(s) for |: 'type' and 'NoneType'\n")
    g = _grouping(tmp_path, text).stopped
    kind = classify.classify(g.sample)
    assert kind.kind == "python-too-old"
    ex = explain.explain(g, kind, None, None)
    assert (ex.rule, ex.command) == ("DC503", "deploycheck check . --python PYTHON")


def test_newer_syntax_on_old_python_stays_dc202(tmp_path):
    text = ('  File "/app/svc/route.py", line 4\n'
            '    match command:\n'
            '          ^\n'
            'SyntaxError: invalid syntax\n')
    g = _grouping(tmp_path, text).stopped
    kind = classify.classify(g.sample)
    assert kind.kind == "python-too-old"
    assert explain.explain(g, kind, None, None).rule == "DC202"


def test_authorization_header_token_masked():
    assert redacted("Authorization: Basic QkFTSUNTRUNSRVQ=") == "Authorization: Basic ***"
    assert redacted("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.c2VjcmV0.sig") == "Authorization: Bearer ***"
    assert redacted("auth=Bearer abcdefgh12345") == "auth=Bearer ***"


def test_authorization_header_masked_in_every_format(tmp_path):
    log = tmp_path / "svc.log"
    log.write_text('Traceback (most recent call last):\n  File "/app/client.py", line 3, in <module>\n'
                   '    fetch()\nRuntimeError: refused: Authorization: Basic QkFTSUNTRUNSRVQ= and '
                   'authorization: Bearer eyJhbGciOiJIUzI1NiJ9.U0VDUkVU.sig\n')
    for fmt in ("text", "json", "markdown", "html"):
        proc = subprocess.run([sys.executable, "-m", "deploycheck", "audit", "--log", str(log), "--format", fmt],
                              capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 1, proc.stderr
        assert "QkFTSUNTRUNSRVQ" not in proc.stdout and "U0VDUkVU" not in proc.stdout, fmt
        if fmt == "json":
            assert "Basic ***" in json.loads(proc.stdout)["error"][-1]


def test_small_log_read_past_its_last_traceback_says_its_size_in_bytes(tmp_path):
    text = crash(tmp_path / "svc", {"app.py": "import missing_module_xyz\n"}, "app.py")
    log = tmp_path / "svc.log"
    entries = cloud_run(text, "api-00042-kex", "inst-new")
    entries += cloud_run("Container called exit(1).", "api-00042-kex", "inst-new", second=30)
    log.write_text(interleave(entries))
    proc = subprocess.run([sys.executable, "-m", "deploycheck", "audit", "--log", str(log), "--format", "json"],
                          capture_output=True, text=True, timeout=120, check=False)
    data = json.loads(proc.stdout)
    proc = subprocess.run([sys.executable, "-m", "deploycheck", "audit", "--log", str(log)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert data["lines_read"] is None  # the lines after the last traceback or server message: passed over
    assert 1024 <= data["bytes_read"] < 2**20
    assert f"\n{data['bytes_read'] / 1024:.1f} KiB of log read (its lines after" in proc.stdout
    assert "0.0 MiB" not in proc.stdout


LEDGER_2 = "def total(xs):\n    return sum(xs)\n\n\ndef round_money(x):\n    return round(x, 2)\n"
INVOICE = "from ledgerlib import round_half_even, total\n\n\ndef invoice(lines):\n    return round_half_even(total(lines))\n"


def _ledger_env(tmp_path):
    """A real environment holding ledgerlib 2.0.0, placed as an installer places it (files and RECORD)."""
    from conftest import bare_venv

    python, site = bare_venv(tmp_path)
    (site / "ledgerlib").mkdir()
    (site / "ledgerlib" / "__init__.py").write_text(LEDGER_2)
    info = site / "ledgerlib-2.0.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ledgerlib\nVersion: 2.0.0\n")
    (info / "RECORD").write_text("ledgerlib/__init__.py,,\nledgerlib-2.0.0.dist-info/METADATA,,\n"
                                 "ledgerlib-2.0.0.dist-info/RECORD,,\n")
    return python


def _run_crash(python, repo, module):
    proc = subprocess.run([python, "-m", module], cwd=repo, capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode == 1, proc.stdout
    return proc.stderr


def test_dependency_drift_names_the_distribution_its_requirement_and_the_commit_that_loosened_it(tmp_path):
    repo = tmp_path / "repo"
    commit(repo, {"billing/__init__.py": "", "billing/invoice.py": INVOICE,
                  "billing/server.py": "from billing.invoice import invoice\n",
                  "requirements.txt": "ledgerlib==1.4.2\n"}, "billing service")
    unpinned = commit(repo, {"requirements.txt": "# money\nledgerlib>=1.4\n"}, "requirements: unpin ledgerlib")
    last = commit(repo, {"README.md": "billing\n"}, "docs")
    python = _ledger_env(tmp_path)
    g = _grouping(tmp_path, _run_crash(python, repo, "billing.server")).stopped
    kind = classify.classify(g.sample)
    assert (kind.kind, kind.distribution, kind.name, kind.module) == (
        "dependency-drift", "ledgerlib", "round_half_even", "ledgerlib")
    ex = explain.explain(g, kind, str(repo), last, python=python, run_rules=True)
    assert ex.suspect is not None and ex.suspect.id == unpinned
    statements = [w.statement for w in ex.whys]
    assert (f"At {last[:12]} the project declares ledgerlib as requirements.txt:2 `ledgerlib>=1.4`: a range that "
            "lets another version of ledgerlib than the code was written for be installed.") in statements
    assert any(s.startswith(f"Commit {unpinned[:12]} ('requirements: unpin ledgerlib'") and
               s.endswith("last changed the requirement on ledgerlib; before it: `ledgerlib==1.4.2`.")
               for s in statements)
    assert ex.rule == "DC102" and "(ledgerlib 2.0.0)" in ex.head
    assert "pin ledgerlib" in ex.fix


def test_dependency_drift_without_a_requirement_naming_it_says_so(tmp_path):
    repo = tmp_path / "repo"
    first = commit(repo, {"billing/__init__.py": "", "billing/invoice.py": INVOICE,
                          "billing/server.py": "from billing.invoice import invoice\n",
                          "requirements.txt": "flask\n"}, "billing service")
    last = commit(repo, {"README.md": "billing\n"}, "docs")
    python = _ledger_env(tmp_path)
    g = _grouping(tmp_path, _run_crash(python, repo, "billing.server")).stopped
    kind = classify.classify(g.sample)
    ex = explain.explain(g, kind, str(repo), last, run_rules=False)
    assert (f"No requirement file at {last[:12]} names ledgerlib (requirements.txt read): whatever version the "
            "build resolved was installed.") in [w.statement for w in ex.whys]
    assert ex.suspect is not None and ex.suspect.id == first and "git blame" in ex.suspect_how


def test_import_name_from_an_installed_single_module_is_drift_and_from_the_app_is_not(tmp_path):
    drift = ('Traceback (most recent call last):\n  File "/app/api/main.py", line 1, in <module>\n'
             '    from six import moves_x\n'
             "ImportError: cannot import name 'moves_x' from 'six' (/usr/lib/python3/dist-packages/six.py)\n")
    kind = classify.classify(_grouping(tmp_path, drift).stopped.sample)
    assert (kind.kind, kind.distribution) == ("dependency-drift", "six")
    own = drift.replace("/usr/lib/python3/dist-packages/six.py", "/app/six.py")
    assert classify.classify(_grouping(tmp_path, own).stopped.sample).kind == "import-name"


def test_a_restart_loop_cites_the_first_lines_of_the_server_giving_up_and_counts_the_rest(tmp_path):
    text = crash(tmp_path / "svc", {"app.py": "import missing_module_xyz\n"}, "app.py")
    giving_up = ("[2024-05-01 12:00:00 +0000] [7] [ERROR] Worker (pid:8) exited with code 3\n"
                 "[2024-05-01 12:00:00 +0000] [7] [ERROR] Shutting down: Master\n"
                 "[2024-05-01 12:00:00 +0000] [7] [ERROR] Reason: Worker failed to boot.\n")
    start = "[2024-05-01 12:00:00 +0000] [8] [INFO] Booting worker with pid: 8\n"
    grouping = _grouping(tmp_path, (start + text + giving_up) * 500)
    followed = [w for w in grouping.why if w.startswith("followed by")]
    n = len(text.splitlines())
    cited = [f"followed by {line!r} (log line {n + 2 + i})" for i, line in enumerate(giving_up.splitlines())]
    assert followed == [*cited, "followed by 1497 more lines of the server giving up (1500 in all)"]
    assert grouping.stopped.count == 500


def test_a_repository_another_user_owns_is_refused_with_git_s_reason(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("giving the repository to another user needs root")
    repo = tmp_path / "repo"
    commit(repo, {"app.py": "import missing_module_xyz\n"}, "start")
    shutil.chown(repo, "nobody")
    log = tmp_path / "svc.log"
    log.write_text(crash(tmp_path / "run", {"app.py": "import missing_module_xyz\n"}, "app.py"))
    env = {**os.environ, "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_SYSTEM": "/dev/null"}
    proc = subprocess.run([sys.executable, "-m", "deploycheck", "audit", "--log", str(log), "--source", str(repo)],
                          capture_output=True, text=True, timeout=120, check=False, env=env)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == (f"deploycheck: error: --source {repo}: git refuses a repository another user owns "
                           "(dubious ownership); if you trust it: git config --global --add safe.directory "
                           f"{repo}\n")


def test_a_refused_password_names_no_suspect_commit(tmp_path):
    from services import start_cluster

    repo = tmp_path / "repo"
    first = commit(repo, {"orders/__init__.py": "",
                          "orders/db.py": "import os\n\nimport psycopg\n\nconn = psycopg.connect(os.environ['DB'])\n"},
                   "orders service")
    commit(repo, {"README.md": "orders\n"}, "docs")
    cluster = start_cluster(["host all all 127.0.0.1/32 scram-sha-256"])
    try:
        cluster.sql("CREATE ROLE orders LOGIN PASSWORD 'right-password'")
        proc = subprocess.run([sys.executable, "-m", "orders.db"], cwd=repo, capture_output=True, text=True,
                              timeout=120, check=False,
                              env={**os.environ, "DB": f"postgresql://orders:Wr0ng@127.0.0.1:{cluster.port}/postgres"})
    finally:
        cluster.stop()
    log = tmp_path / "svc.log"
    log.write_text(proc.stderr)
    out = subprocess.run([sys.executable, "-m", "deploycheck", "audit", "--log", str(log), "--source", str(repo),
                          "--format", "json"], capture_output=True, text=True, timeout=120, check=False)
    data = json.loads(out.stdout)
    assert data["kind"] == "db-auth" and data["suspect"] is None
    assert data["summary"].endswith(" at orders/db.py:5 (db-auth, 1 time); no suspect commit: the cause lies in "
                                    "the environment.")
    assert any(w["statement"].startswith(f"Commit {first[:12]} ('orders service'") and
               w["statement"].endswith("so no commit is the suspect.") for w in data["whys"])


UTILS_OLD = "import re\n\n\ndef slugify(text):\n    return re.sub('[^a-z0-9]+', '-', text.lower())\n"
SLUG = "import re\n\n\ndef slugify(text):\n    return re.sub('[^a-z0-9]+', '-', text.lower())\n"
MODELS_OLD = "from notes.utils import slugify\n"
MODELS_NEW = "from notes.text.slug import slugify\n"


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bwrap to run the image's files at its paths")
def test_stale_image_examines_the_first_commit_holding_its_file_that_lacks_the_name(tmp_path):
    from test_image_layers import _tar, oci_layout

    repo = tmp_path / "repo"
    commit(repo, {"notes/__init__.py": "", "notes/utils.py": UTILS_OLD, "notes/models.py": MODELS_OLD,
                  "notes/main.py": "from notes import models\n"}, "notes service")
    commit(repo, {"notes/text/__init__.py": "", "notes/text/slug.py": SLUG}, "text: add slug module")
    dropped = commit(repo, {"notes/utils.py": "def shout(t):\n    return t.upper()\n"}, "utils: drop slugify")
    built = commit(repo, {"README.md": "notes\n"}, "docs")
    fixed = commit(repo, {"notes/models.py": MODELS_NEW}, "models: import slugify from notes.text.slug")
    # the image: the files of `built`, labelled with the fix (a stale build cache)
    files = {p: subprocess.run(["git", "-C", str(repo), "show", f"{built}:{p}"], capture_output=True,
                               check=True).stdout
             for p in ("notes/__init__.py", "notes/utils.py", "notes/models.py", "notes/main.py",
                       "notes/text/__init__.py", "notes/text/slug.py")}
    layout = tmp_path / "layout"
    oci_layout(layout, [_tar([(f"srv/app/{p}", "file", data) for p, data in files.items()])],
               config={"WorkingDir": "/srv/app", "Labels": {"org.opencontainers.image.revision": fixed}})
    # run those files at the image's paths, as the container did
    app = tmp_path / "app"
    for p, data in files.items():
        (app / p).parent.mkdir(parents=True, exist_ok=True)
        (app / p).write_bytes(data)
    proc = subprocess.run(["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/srv",
                           "--ro-bind", str(app), "/srv/app", "--chdir", "/srv/app", sys.executable, "-B", "-m",
                           "notes.main"], capture_output=True, text=True, timeout=120, check=False)
    assert 'File "/srv/app/notes/models.py", line 1' in proc.stderr, proc.stderr
    log = tmp_path / "svc.log"
    log.write_text(proc.stderr)
    out = subprocess.run([sys.executable, "-m", "deploycheck", "audit", "--log", str(log), "--source", str(repo),
                          "--image", f"oci:{layout}", "--app-dir", "/srv/app", "--no-rules", "--format", "json"],
                         capture_output=True, text=True, timeout=300, check=False)
    data = json.loads(out.stdout)
    # the image's models.py came with the first commit, where utils.py still had slugify: the crash could
    # not happen there; the first commit holding that models.py without slugify is the one examined
    assert data["image"]["stale"] and data["revision"] == dropped
    assert data["revision_from"].startswith("the first commit whose notes/models.py is the image's")
    assert data["suspect"].startswith(f"{dropped} utils: drop slugify (git log -S'slugify'")


def test_head_without_the_failing_line_is_not_said_to_still_hold_it(tmp_path):
    repo = tmp_path / "repo"
    commit(repo, {"notes/__init__.py": "", "notes/utils.py": "def shout(t):\n    return t\n",
                  "notes/models.py": MODELS_OLD, "notes/main.py": "from notes import models\n"}, "notes service")
    text = crash(repo, {}, "-B", "-m", "notes.main")
    commit(repo, {"notes/text/__init__.py": "", "notes/text/slug.py": SLUG, "notes/models.py": MODELS_NEW}, "fix")
    g = _grouping(tmp_path, text).stopped
    ex = explain.explain(g, classify.classify(g.sample), str(repo), None, run_rules=False)
    assert ex.head == ("HEAD is the deployed revision, but its notes/models.py does not hold the failing line: "
                       "the service ran another version of the file.")


def test_the_project_installed_into_site_packages_is_its_own_code_not_a_dependency(tmp_path):
    from conftest import bare_venv

    repo = tmp_path / "repo"
    commit(repo, {"src/notes/__init__.py": "", "src/notes/utils.py": UTILS_OLD, "src/notes/models.py": MODELS_OLD,
                  "src/notes/main.py": "from notes import models\n"}, "notes service")
    dropped = commit(repo, {"src/notes/utils.py": "def shout(t):\n    return t.upper()\n"}, "utils: drop slugify")
    python, site = bare_venv(tmp_path)
    shutil.copytree(repo / "src" / "notes", site / "notes")  # as `pip install .` puts it
    text = _run_crash(python, tmp_path, "notes.main")
    assert f"from 'notes.utils' ({site}/notes/utils.py)" in text
    g = _grouping(tmp_path, text).stopped
    kind = classify.classify(g.sample)
    assert (kind.kind, kind.distribution) == ("dependency-drift", "notes")  # from the log alone
    ex = explain.explain(g, kind, str(repo), dropped, run_rules=False)
    assert (ex.kind.kind, ex.rule) == ("import-name", "DC102")
    assert ex.whys[0].statement.endswith(": the module notes.utils has no name slugify.")
    assert ex.suspect is not None and ex.suspect.id == dropped
    assert ex.fix == "import slugify from where it lives now, or restore it in notes.utils"


def test_a_traceback_printed_after_a_long_unended_line_is_found_in_a_file_and_on_standard_input(tmp_path):
    text = crash(tmp_path / "svc", {"app.py": "import missing_module_xyz\n"}, "app.py")
    progress = "#" * (300 * 1024)  # a progress bar written without a newline, past the 64 KiB a line keeps
    log = tmp_path / "svc.log"
    log.write_text("starting\n" + progress + text)
    # the file is read through ripgrep's or grep's pass (the header lies past 64 KiB into its line), standard
    # input line by line (the header is in the last 64 KiB of the line kept)
    for given, stdin in ((str(log), None), ("-", "starting\n" + progress + text)):
        proc = subprocess.run([sys.executable, "-m", "deploycheck", "audit", "--log", given, "--format", "json"],
                              input=stdin, capture_output=True, text=True, timeout=120, check=False)
        data = json.loads(proc.stdout)
        assert proc.returncode == 1, given
        assert data["error"][-1] == "ModuleNotFoundError: No module named 'missing_module_xyz'", given


def test_a_traceback_past_64_kib_into_a_json_record_is_no_made_up_crash(tmp_path):
    text = crash(tmp_path / "svc", {"app.py": "import missing_module_xyz\n"}, "app.py")
    log = tmp_path / "svc.log"
    log.write_text(json.dumps({"message": "x" * (100 * 1024) + text, "severity": "ERROR"}) + "\n"
                   + json.dumps({"message": "ok"}) + "\n")
    for given, stdin in ((str(log), None), ("-", log.read_text())):
        proc = subprocess.run([sys.executable, "-m", "deploycheck", "audit", "--log", given, "--format", "json"],
                              input=stdin, capture_output=True, text=True, timeout=120, check=False)
        data = json.loads(proc.stdout)
        assert (proc.returncode, data["crashed"], data["groups"]) == (0, False, []), given
