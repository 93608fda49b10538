"""The command line as users and CI see it: exit codes, text and JSON output, the bundled example."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT, cli, cli_json

EXAMPLE = ROOT / "examples" / "seed-incident"


def test_example_reports_the_incident(tmp_path):
    code, out, err = cli("check", EXAMPLE, "--python", sys.executable, "--cache-dir", tmp_path)
    assert code == 1, err
    assert "app/db/postgres_core.py:13:26: DC201 [error, when called] name 'DatabaseConfig' is not defined" in out
    assert ("app/services/reports.py:3:29: DC102 [error, at import] cannot import name 'DatabaseConfig' from "
            "'app.core.config' (app/core/config.py)") in out
    # the source line, a caret under the symbol, and the chain from the entry
    assert '13 |     return {"pool_size": DatabaseConfig.POOL_SIZE, "max_overflow": 10}' in out
    assert "   |                          ^^^^^^^^^^^^^^" in out
    assert "= imported via: app.main (" in out and "app/main.py:4) → app.services.reports" in out
    assert out.rstrip().splitlines()[-1].startswith("2 errors, 0 warnings in ")


def test_example_json_schema(tmp_path):
    code, doc = cli_json("check", EXAMPLE, "--python", sys.executable, "--cache-dir", tmp_path)
    assert code == 1
    assert doc["version"] == 1
    assert set(doc) == {"version", "target", "python", "findings", "summary"}
    assert doc["python"]["version"] == ".".join(map(str, sys.version_info[:3]))
    assert doc["target"]["entries"] == ["app.main"]
    assert doc["summary"]["errors"] == 2 and doc["summary"]["warnings"] == 0
    codes = [(f["code"], f["symbol"], f["line"], f["column"], f["when"]) for f in doc["findings"]]
    assert codes == [("DC201", "DatabaseConfig", 13, 26, "call"), ("DC102", "DatabaseConfig", 3, 29, "import")]
    first = doc["findings"][0]
    assert set(first) >= {"code", "severity", "message", "path", "line", "column", "symbol", "module",
                          "distribution", "chain"}
    assert first["module"] == "app.db.postgres_core" and first["distribution"] is None
    assert [h["module"] for h in first["chain"]] == ["app.main"]
    assert first["chain"][0]["line"] == 3


def test_clean_project_exits_zero(tmp_path):
    proj = tmp_path / "proj"
    (proj / "svc").mkdir(parents=True)
    (proj / "svc" / "__init__.py").write_text("")
    (proj / "svc" / "main.py").write_text("import json\nfrom svc import helpers\n\nprint(json.dumps(helpers.X))\n")
    (proj / "svc" / "helpers.py").write_text("X = 1\n")
    code, out, err = cli("check", proj, "--python", sys.executable, "--no-cache")
    assert code == 0, out + err
    assert out.rstrip().splitlines()[-1].startswith("0 errors, 0 warnings in ")


def test_entry_option_limits_the_closure(tmp_path):
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "good.py").write_text("import json\n")
    (proj / "bad.py").write_text("import not_installed_anywhere\n")
    assert cli("check", proj, "--python", sys.executable, "--no-cache", "--entry", "good")[0] == 0
    code, doc = cli_json("check", proj, "--python", sys.executable, "--no-cache")
    assert code == 1 and [f["symbol"] for f in doc["findings"]] == ["not_installed_anywhere"]


def test_src_layout_and_default_python_from_dot_venv(tmp_path):
    proj = tmp_path / "proj"
    (proj / "src" / "pkg").mkdir(parents=True)
    (proj / "src" / "pkg" / "__init__.py").write_text("from pkg.core import run\n")
    (proj / "src" / "pkg" / "core.py").write_text("def run():\n    return missing_name\n")
    (proj / ".venv" / "bin").mkdir(parents=True)
    (proj / ".venv" / "bin" / "python").symlink_to(sys.executable)
    code, doc = cli_json("check", proj, "--no-cache")
    assert code == 1
    assert doc["python"]["executable"] == str(proj / ".venv" / "bin" / "python")
    assert doc["target"]["roots"] == [str(proj / "src")]
    assert [(f["code"], f["module"], f["symbol"]) for f in doc["findings"]] == [("DC201", "pkg.core", "missing_name")]


def test_usage_errors_exit_2(tmp_path):
    code, out, err = cli("check", tmp_path / "nope")
    assert code == 2 and "no such directory" in err and "Traceback" not in err
    code, out, err = cli("check", "--format", "xml")
    assert code == 2 and "invalid choice" in err
    code, out, err = cli("frobnicate")
    assert code == 2
    # options that only mean something for an image are refused on a directory, not silently ignored
    code, _, err = cli("check", EXAMPLE, "--source", EXAMPLE, "--platform", "linux/arm64")
    assert (code, err) == (2, f"deploycheck: error: --source, --platform apply to an image target only, not to "
                              f"the directory {EXAMPLE}\n")


def test_a_command_line_is_parsed_as_with_every_command_built(tmp_path):
    # only the named command's parser is built; an error the top parser reports still shows its whole usage
    wide = {**os.environ, "COLUMNS": "200"}  # the usage on one line
    full = "usage: deploycheck [-h] [--version] {check,migrate,config,start,audit,rule} ...\n"
    code, _, err = cli("--bogus", env=wide)
    assert (code, err.splitlines(keepends=True)[0]) == (2, full)
    log = tmp_path / "one.log"
    log.write_text("hello\n")
    code, _, err = cli("audit", "--log", log, "extra", env=wide)
    assert (code, err) == (2, full + "deploycheck: error: unrecognized arguments: extra\n")
    code, _, err = cli("rule", "DC102", "extra", env=wide)
    assert (code, err) == (2, full + "deploycheck: error: unrecognized arguments: extra\n")
    code, out, _ = cli("audit", "--help", env=wide)
    assert code == 0 and out.startswith("usage: deploycheck audit [-h] --log FILE")


@pytest.mark.parametrize("columns", ["100", "37", "0", "-5", "wide", "", None])
def test_help_is_as_wide_as_shutil_says(monkeypatch, columns):
    # the parser sizes its help without importing shutil, to the width argparse would take from it
    from deploycheck.cli import _terminal_columns

    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    assert _terminal_columns() == shutil.get_terminal_size().columns


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_version_flag():
    code, out, _ = cli("--version")
    assert code == 0 and out.startswith("deploycheck ")


def test_src_directory_of_a_frontend_does_not_hide_the_service(tmp_path):
    proj = tmp_path / "proj"
    (proj / "app").mkdir(parents=True)
    (proj / "app" / "__init__.py").write_text("")
    (proj / "app" / "util.py").write_text("from json import no_such_function\n")
    (proj / "src").mkdir()
    (proj / "src" / "index.js").write_text("console.log(1)\n")
    (proj / "src" / "build_helper.py").write_text("x = 1\n")
    code, doc = cli_json("check", proj, "--python", sys.executable, "--no-cache")
    assert doc["target"]["roots"] == [str(proj / "src"), str(proj)]
    assert code == 1 and [f["symbol"] for f in doc["findings"]] == ["no_such_function"]


def test_a_reader_that_goes_away_stops_the_output_quietly(tmp_path):
    # `deploycheck check | head -1` in CI: the pipe closes before deploycheck writes; no traceback follows
    import subprocess

    for fmt in ("text", "json"):  # JSON output was an "internal error: BrokenPipeError", exit 2
        proc = subprocess.Popen([sys.executable, "-m", "deploycheck", "check", str(EXAMPLE), "--format", fmt,
                                 "--cache-dir", str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        proc.stdout.close()
        err = proc.stderr.read().decode()
        assert (proc.wait(), err) == (1, ""), fmt


def test_rule_list_gives_each_rule_a_whole_one_line_summary():
    """`deploycheck rule` lists the first line of each rule's docstring: that line must be the whole first
    paragraph (a summary cut mid-sentence otherwise), ``CODE name: ...`` ending with a period."""
    from deploycheck.rules import RULES

    code, out, err = cli("rule")
    assert code == 0, err
    summaries = []
    for rule in RULES:
        first_paragraph = rule.__doc__.strip().split("\n\n")[0]
        assert "\n" not in first_paragraph, f"{rule.CODE}: the summary spans lines: {first_paragraph!r}"
        assert first_paragraph.startswith(f"{rule.CODE} {rule.NAME}: ") and first_paragraph.endswith("."), rule.CODE
        summaries.append(first_paragraph)
    assert out.splitlines() == summaries
    assert len(summaries) == len(list((ROOT / "src" / "deploycheck" / "rules").glob("dc[0-9][0-9][0-9]_*.py")))


def test_a_credential_on_a_reported_line_is_never_printed(tmp_path):
    # bug: the text output printed the source line of a finding as it is, password included
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text(
        "def f():\n    return connect('postgresql://admin:hunter2secret@db.internal/x', DatabaseConfig)\n")
    code, out, err = cli("check", tmp_path, "--no-cache", env={"NO_COLOR": "1", "COLUMNS": "200"})
    assert code == 1, err
    assert "hunter2secret" not in out + err
    lines = out.splitlines()
    masked = "2 |     return connect('postgresql://admin:***@db.internal/x', DatabaseConfig)"
    # the caret still sits under the name each finding is about, in the masked line
    marked = [line[lines[i + 1].index("^"):lines[i + 1].rindex("^") + 1]
              for i, line in enumerate(lines) if line == masked]
    assert marked == ["connect", "DatabaseConfig"]
    for fmt in ("json", "sarif", "junit", "github", "gitlab", "json-lines"):
        code, out, err = cli("check", tmp_path, "--no-cache", "--format", fmt)
        assert code == 1 and "hunter2secret" not in out + err, fmt


def test_main_freezes_what_is_left_only_for_the_program_s_own_command_line(tmp_path):
    """``cli.main()`` (the console script: the process's last call) freezes the objects left, which Python's
    collections at exit would walk for nothing; ``cli.main(argv)`` from a caller that may call again does
    not (each call's garbage would stay for good)."""
    log = tmp_path / "one.log"
    log.write_text("INFO started\n")
    script = ("import gc, io, sys, contextlib\n"
              "from deploycheck import cli\n"
              "with contextlib.redirect_stdout(io.StringIO()):\n"
              "    cli.main(['audit', '--log', sys.argv[1]])\n"
              "    given = gc.get_freeze_count()\n"
              "    sys.argv = ['deploycheck', 'audit', '--log', sys.argv[1]]\n"
              "    cli.main()\n"
              "print(given, gc.get_freeze_count())\n")
    proc = subprocess.run([sys.executable, "-c", script, str(log)], capture_output=True, text=True, timeout=120,
                          check=False)
    given, own = map(int, proc.stdout.split())
    assert given == 0 and own > 1000, proc.stderr
