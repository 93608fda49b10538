"""audit: the command line — exit codes, formats, redaction, escaping and bad input, on real crashes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from audit_crash import crash
from conftest import cli
from test_audit_explain import deployed_crash, history

SECRET = "s3cr3t-Pa55word"


def test_exit_codes_and_formats(tmp_path):
    repo = tmp_path / "repo"
    _, b, _ = history(repo)
    log = tmp_path / "svc.log"
    log.write_text(deployed_crash(tmp_path, repo, b))
    code, out, err = cli("audit", "--log", log, "--source", repo, "--rev", b, "--format", "json", "--no-rules")
    assert code == 1, err
    doc = json.loads(out)
    assert doc["version"] == 1 and doc["crashed"] and doc["kind"] == "undefined-name"
    assert doc["path"] == "app/settings.py" and doc["revision"] == b and doc["suspect"].startswith(b)
    assert doc["caught_by"].startswith("DC201")
    code, out, _ = cli("audit", "--log", log, "--source", repo, "--rev", b, "--format", "markdown", "--no-rules")
    assert code == 1 and "## Root cause" in out and "rename DATABASE\\_URL to DB\\_URL" in out
    report = tmp_path / "out" / "r.html"
    report.parent.mkdir()
    code, out, _ = cli("audit", "--log", log, "--format", "html", "-o", report)
    assert code == 1 and out == "" and report.read_text().startswith("<!DOCTYPE html>")
    cut = tmp_path / "cut.log"
    cut.write_text("".join(log.read_text().splitlines(keepends=True)[:4]))
    code, out, _ = cli("audit", "--log", cut)
    assert code == 1 and "a traceback cut short before its exception line" in out
    quiet = tmp_path / "quiet.log"
    quiet.write_text("INFO: Application startup complete.\n")
    code, out, _ = cli("audit", "--log", quiet)
    assert code == 0 and "No Python traceback" in out


def test_standard_input(tmp_path):
    err = crash(tmp_path / "svc", {"w.py": "import os\nos.environ['DATABASE_URL']\n"}, "w.py")
    exe = Path(sys.executable).with_name("deploycheck")
    proc = subprocess.run([str(exe), "audit", "--log", "-", "--format", "json"], input=err, capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 1 and json.loads(proc.stdout)["kind"] == "missing-setting"
    assert json.loads(proc.stdout)["log"] == "standard input"


def test_secrets_in_the_log_are_redacted_in_every_format(tmp_path):
    prog = ("import os\n"
            "url = os.environ['DATABASE_URL']\n"
            "raise ConnectionError(f'could not connect to {url}: api_token=' + os.environ['TOKEN'])\n")
    env = {**os.environ, "DATABASE_URL": f"postgresql://app:{SECRET}@db.internal:5432/app",
           "TOKEN": "tok_9f8e7d6c5b4a3210"}
    root = tmp_path / "svc"
    root.mkdir()
    (root / "c.py").write_text(prog)
    proc = subprocess.run([sys.executable, "c.py"], cwd=root, env=env, capture_output=True, text=True, check=False)
    assert SECRET in proc.stderr and "tok_9f8e7d6c5b4a3210" in proc.stderr
    log = tmp_path / "svc.log"
    log.write_text(proc.stderr)
    for fmt in ("text", "json", "markdown", "html"):
        code, out, _ = cli("audit", "--log", log, "--format", fmt)
        assert code == 1
        assert SECRET not in out and "tok_9f8e7d6c5b4a3210" not in out, fmt
        assert "db.internal" in out  # the rest of the URL stays readable


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.urls = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.urls += [v for k, v in attrs if k in ("src", "href") and v]


def test_html_is_escaped_and_self_contained(tmp_path):
    prog = "raise ValueError('<script>alert(1)</script> <img src=http://evil.example/x.png> \\x1b[2J')\n"
    err = crash(tmp_path / "svc", {"x.py": prog}, "x.py")
    log = tmp_path / "svc.log"
    log.write_text(err)
    code, out, _ = cli("audit", "--log", log, "--format", "html")
    assert code == 1
    parsed = _Collect()
    parsed.feed(out)
    assert "script" not in parsed.tags and "img" not in parsed.tags and parsed.urls == []
    assert "&lt;script&gt;" in out and "\x1b" not in out and "\\x1b[2J" in out
    code, md, _ = cli("audit", "--log", log, "--format", "markdown")
    # raw only inside fenced code, which Markdown shows as text
    outside = "".join(part for i, part in enumerate(md.split("```")) if i % 2 == 0)
    assert "<script>" not in outside and "&lt;script&gt;" in outside and "\x1b" not in md


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    binary = tmp_path / "core"
    binary.write_bytes(os.urandom(4096) + b"\0" * 4096)
    repo_less = tmp_path / "plain"
    repo_less.mkdir()
    log = tmp_path / "ok.log"
    log.write_text("nothing\n")
    cases = [
        (["--log", tmp_path / "missing.log"], "cannot read it"),
        (["--log", binary], "not a UTF-8 text log"),
        (["--log", tmp_path], "is a directory"),
        (["--log", log, "--rev", "HEAD"], "--rev needs --source"),
        (["--log", log, "--since", "last tuesday"], "RFC 3339"),
        (["--log", log, "--source", repo_less], "not a git repository"),
        (["--log", ""], "--log is empty: name a log file (`-` for standard input)"),
        (["--log", log, "-o", "/dev/full"], "cannot write it"),
        # opened, then every read fails (EIO): it was an internal error
        (["--log", "/proc/self/mem"], "--log /proc/self/mem: cannot read it (Input/output error)"),
    ]
    for args, message in cases:
        code, _, err = cli("audit", *args)
        assert code == 2, (args, err)
        assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, (args, err)
    repo = tmp_path / "repo"
    _, b, _ = history(repo)
    crashed = tmp_path / "svc.log"
    crashed.write_text(deployed_crash(tmp_path, repo, b))
    code, _, err = cli("audit", "--log", crashed, "--source", repo, "--rev", "no-such-rev")
    assert code == 2 and "no such commit" in err


# A writer of a named pipe: opens it after DELAY seconds, stays silent HOLD seconds, writes the log, leaves.
_WRITER = """import sys, time
path, log, delay, hold = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
time.sleep(delay)
with open(path, "wb") as pipe:
    time.sleep(hold)
    with open(log, "rb") as f:
        pipe.write(f.read())
"""


def _audit_pipe(fifo, wait: str, writer: list[str] | None):
    proc = None
    if writer is not None:
        proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(fifo), *writer])
    exe = Path(sys.executable).with_name("deploycheck")
    try:  # a minute at most: a run that waits forever for the writer fails here rather than hangs
        done = subprocess.run([str(exe), "audit", "--log", str(fifo), "--format", "json"], capture_output=True,
                              text=True, timeout=60, check=False, env={**os.environ, "DEPLOYCHECK_LOG_WAIT": wait})
        return done.returncode, done.stdout, done.stderr
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()


def test_log_as_a_named_pipe_with_and_without_a_writer(tmp_path):
    err = crash(tmp_path / "svc", {"w.py": "import os\nos.environ['DATABASE_URL']\n"}, "w.py")
    log = tmp_path / "svc.log"
    log.write_text(err)
    fifo = tmp_path / "logs.pipe"
    os.mkfifo(fifo)
    # no program ever opens it for writing: a one-line error after the wait, not a hang
    code, out, err = _audit_pipe(fifo, "1", None)
    assert (code, out) == (2, "")
    assert err == (f"deploycheck: error: --log {fifo}: a named pipe that no program opened for writing within "
                   "1 s; start the program that writes it first, or give a file (DEPLOYCHECK_LOG_WAIT=SECONDS "
                   "sets another bound)\n")
    # a writer that comes after 0.3 s and is silent 1.5 s more: past the 1 s bound, but it is there
    code, out, err = _audit_pipe(fifo, "1", [str(log), "0.3", "1.5"])
    assert code == 1, err
    assert json.loads(out)["kind"] == "missing-setting"
    # a writer that opens it and leaves without a word: an empty log
    empty = tmp_path / "empty.log"
    empty.write_text("")
    code, out, err = _audit_pipe(fifo, "5", [str(empty), "0.2", "0"])
    assert code == 0, err
    assert json.loads(out)["crashed"] is False
    # a shell's <(command): a pipe whose writer is there from the start
    exe = Path(sys.executable).with_name("deploycheck")
    proc = subprocess.run(["bash", "-c", '"$0" audit --log <(sleep 0.5; cat "$1") --format json', str(exe),
                           str(log)], capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, "DEPLOYCHECK_LOG_WAIT": "0.2"})
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)["kind"] == "missing-setting"


def test_bad_log_wait_is_one_line_and_exit_2(tmp_path):
    fifo = tmp_path / "logs.pipe"
    os.mkfifo(fifo)
    for value in ("abc", "0", "-1", "nan", "1e9"):
        code, _, err = _audit_pipe(fifo, value, None)
        assert code == 2, value
        assert err == ("deploycheck: error: DEPLOYCHECK_LOG_WAIT must be a number of seconds, more than 0 "
                       "and at most 86400\n")


def _chromium() -> str | None:
    import shutil

    return shutil.which("chromium") or shutil.which("chromium-browser")


class _Dom(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.pre, self.sections, self._in_pre = [], [], [], False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "pre":
            self._in_pre = True
            self.pre.append("")
        if tag == "section":
            self.sections.append(dict(attrs).get("id"))

    def handle_endtag(self, tag):
        if tag == "pre":
            self._in_pre = False

    def handle_data(self, data):
        if self._in_pre:
            self.pre[-1] += data


@pytest.mark.skipif(_chromium() is None, reason="needs chromium (make system-tools)")
def test_html_report_in_a_real_headless_browser(tmp_path):
    prog = ("def boot():\n    raise RuntimeError('<script>document.title=\"pwned\"</script>"
            "<img src=x onerror=alert(1)> </pre><b>bold</b>')\nboot()\n")
    err = crash(tmp_path / "svc", {"x.py": prog}, "x.py")
    log = tmp_path / "svc.log"
    log.write_text(err)
    page = tmp_path / "report.html"
    code, _, _ = cli("audit", "--log", log, "--format", "html", "-o", page)
    assert code == 1
    home = tmp_path / "home"
    home.mkdir()
    browser = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={home}"]
    proc = subprocess.run([*browser, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=180,
                          check=False, env={**os.environ, "HOME": str(home)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = _Dom()
    dom.feed(proc.stdout)
    # the browser built the page: no element came from the log, the traceback kept its lines
    assert not {"script", "img", "b", "iframe", "link"} & set(dom.tags)
    assert ["summary", "error", "groups", "timeline", "root-cause", "caught-by", "fix", "test", "verify",
            "unknown"] == dom.sections
    assert len(dom.pre) == 1 and len(dom.pre[0].splitlines()) >= 5
    assert "<script>document.title" in dom.pre[0] and dom.pre[0].splitlines()[-1].startswith("RuntimeError:")
    assert "<title>Incident report:" in proc.stdout and "pwned</title>" not in proc.stdout
    shot = tmp_path / "shot.png"
    subprocess.run([*browser, f"--screenshot={shot}", "--window-size=1200,1600", page.as_uri()],
                   capture_output=True, timeout=180, check=False, env={**os.environ, "HOME": str(home)})
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_audit_imports_neither_dataclasses_nor_inspect(tmp_path):
    """An audit (each format; a log with a crash and one without; ``--source`` without the rule's run at HEAD)
    imports neither ``dataclasses`` nor ``inspect``: together with making the records they were a fixed
    cost of every run, on a command meant to read a log about as fast as grep does."""
    repo = tmp_path / "repo"
    _, b, _ = history(repo)
    crashed = tmp_path / "svc.log"
    crashed.write_text(deployed_crash(tmp_path, repo, b))
    quiet = tmp_path / "quiet.log"
    quiet.write_text("INFO: Application startup complete.\n")
    runs = [["--log", log, "--format", form]
            for log in (crashed, quiet) for form in ("text", "json", "markdown", "html")]
    runs.append(["--log", crashed, "--source", repo, "--rev", b, "--no-rules", "--format", "json"])
    program = ("import json, sys\nfrom deploycheck import cli\ncode = cli.main(sys.argv[1:])\n"
               "print(json.dumps([code, sorted({'dataclasses', 'inspect'} & set(sys.modules))]))\n")
    for args in runs:
        out = tmp_path / "report"
        proc = subprocess.run([sys.executable, "-c", program, "audit", *map(str, args), "-o", str(out)],
                              capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout) == [1 if args[1] == crashed else 0, []], args
        assert out.stat().st_size > 0


def test_an_audit_without_a_repository_imports_no_subprocess(tmp_path):
    """Its only program is the log's search, started with ``os.posix_spawn``: ``subprocess`` (some 8 ms to
    import, before the search could start) is not loaded, nor by git's module that the explanation imports."""
    log = tmp_path / "svc.log"
    log.write_text(deployed_crash(tmp_path, tmp_path / "repo", history(tmp_path / "repo")[1]))
    program = ("import json, sys\nfrom deploycheck import cli\ncode = cli.main(sys.argv[1:])\n"
               "print(json.dumps([code, 'subprocess' in sys.modules]))\n")
    for form in ("text", "json", "markdown", "html"):
        proc = subprocess.run([sys.executable, "-c", program, "audit", "--log", str(log), "--format", form, "-o",
                               str(tmp_path / "report")], capture_output=True, text=True, timeout=120, check=False)
        assert json.loads(proc.stdout) == [1, False], proc.stderr
