"""Abuse of the command line (issue 9, sections 3, 4, 5 and 8): signals, a full disk, empty paths, escape
sequences from the checked repository, hostile interpreters. Each runs the real command in the sandbox of
tests/abuse.py, which checks exit code, one-line message, memory, leftovers and surviving processes."""

from __future__ import annotations

import json
import os
import pty
import re
import signal
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deploycheck.environment import interpreter
from deploycheck.errors import UsageError

PY = sys.executable
INTERRUPTED = "deploycheck: interrupted\n"
SIGNALS = [(signal.SIGINT, 130), (signal.SIGTERM, 143)]
PROBE = Path(interpreter.__file__).with_name("probe_script.py")


def _script(path: Path, body: str) -> str:
    """An executable shell script: a fake interpreter."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def _service(sandbox, files: dict[str, str] | None = None) -> None:
    sandbox.write(files or {"app/__init__.py": "", "app/main.py": "from json import no_such_name\n"})


# --- Section 8: SIGINT and SIGTERM -------------------------------------------------------------------------

@pytest.mark.parametrize("group", [False, True], ids=["to-the-command", "to-the-group"])
@pytest.mark.parametrize("signum,code", SIGNALS, ids=["SIGINT", "SIGTERM"])
def test_a_signal_during_the_interpreter_probe(sandbox, signum, code, group):
    # The fake interpreter starts a second process in its group and both sleep: the signal surely lands while
    # deploycheck waits for the probe, and both must be gone afterwards.
    _service(sandbox)
    mark = sandbox.base / "probe-started"
    py = _script(sandbox.base / "bin" / "python", f"sleep 60 &\ntouch {mark}\nsleep 60\n")
    out = sandbox.run("check", ".", "--python", py, "--no-cache", signal_at=(signum, 0.2),
                      signal_when=lambda pid: mark.exists(), signal_group=group)
    out.assert_safe(code=code)
    assert out.stderr == INTERRUPTED and out.stdout == ""


def _big_project(sandbox, modules: int = 200) -> None:
    body = "".join(f"def f{i}(a, b=1, *c, **d):\n    x = [a + b for _ in range(3)]\n    return {{'k': x}}\n\n"
                   for i in range(150))
    files = {"pkg/__init__.py": ""}
    files.update({f"pkg/m{n}.py": "from pkg.old import Old\n" + body for n in range(modules)})
    files["pkg/old.py"] = "class Old:\n    pass\n"
    sandbox.write(files)


def _a_worker_started(pid: int) -> bool:
    """A parse worker runs: a child forked from deploycheck (the same command line)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            own = f.read()
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            kids = f.read().split()
        for kid in kids:
            with open(f"/proc/{kid}/cmdline", "rb") as f:
                if f.read() == own:
                    return True
    except OSError:
        pass
    return False


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="parse workers start only with two cores or more")
@pytest.mark.parametrize("signum,code,group", [(signal.SIGTERM, 143, False), (signal.SIGINT, 130, True)],
                         ids=["SIGTERM", "SIGINT-to-the-group"])
def test_a_signal_while_parsing_stops_the_workers(sandbox, signum, code, group):
    # Ctrl-C on a terminal reaches the workers too: none may print a KeyboardInterrupt traceback, and none
    # may outlive the run (the harness lists every process of the run still alive).
    _big_project(sandbox)
    out = sandbox.run("check", ".", "--python", PY, "--no-cache", signal_at=(signum, 0.3),
                      signal_when=_a_worker_started, signal_group=group)
    out.assert_safe(code=code)
    assert out.stderr == INTERRUPTED


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="parse workers start only with two cores or more")
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
def test_workers_do_not_outlive_a_killed_parent(sandbox):
    # SIGKILL cannot be handled: the kernel ends the workers when their parent dies (PR_SET_PDEATHSIG)
    _big_project(sandbox)
    out = sandbox.run("check", ".", "--python", PY, "--no-cache", signal_at=(signal.SIGKILL, 0.3),
                      signal_when=_a_worker_started)
    assert out.code == 256 - signal.SIGKILL and out.alive == [], out.alive  # the launcher's exit for -SIGKILL


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="scan workers start only with two cores or more")
def test_a_signal_while_migrate_status_scans(sandbox):
    _big_project(sandbox)
    sandbox.write({"pyproject.toml": '[[tool.deploycheck.migrations]]\nid = "m"\nold = "pkg.old.Old"\n'
                                     'new = "pkg.old.New"\n'})
    out = sandbox.run("migrate", "status", ".", "--python", PY, "--no-cache", signal_at=(signal.SIGTERM, 0.3),
                      signal_when=_a_worker_started)
    out.assert_safe(code=143, project_unchanged=False)  # the baseline file may have been written
    assert out.stderr == INTERRUPTED


def _sparse_image(root: Path, size: int = 1 << 30) -> str:
    """An OCI layout whose first layer is an uncompressed tar holding one ``size``-byte member of zeros,
    written sparse (no disk used), so that reading it lasts seconds; the second layer is a small service."""
    import hashlib
    import io

    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def put(data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        (blobs / digest).write_bytes(data)
        return "sha256:" + digest

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in [("srv/app/app/__init__.py", b""), ("srv/app/app/main.py", b"import json\n")]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    app = buf.getvalue()
    info = tarfile.TarInfo("data/zeros.bin")
    info.size = size
    header = info.tobuf(format=tarfile.PAX_FORMAT)
    # its digest is not computed (hashing 1 GiB would slow the test): the run is stopped before it could
    # find the mismatch
    big = "0" * 64
    with open(blobs / big, "wb") as f:
        f.write(header)
        f.seek(len(header) + size)
        f.write(b"\0" * 1024)
    layers = [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": "sha256:" + big,
               "size": (blobs / big).stat().st_size},
              {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": put(app), "size": len(app)}]
    config = json.dumps({"os": "linux", "architecture": "amd64",
                         "config": {"WorkingDir": "/srv/app", "Cmd": ["python3", "-m", "app.main"]}}).encode()
    manifest = json.dumps({"schemaVersion": 2, "layers": layers,
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": put(config), "size": len(config)}}).encode()
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": put(manifest),
         "size": len(manifest)}]}))
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    return f"oci:{root}"


@pytest.mark.parametrize("signum,code", SIGNALS, ids=["SIGINT", "SIGTERM"])
def test_a_signal_while_reading_layers(sandbox, signum, code):
    # SIGINT here exited 0; the private directory of the layers' contents must go as well
    target = _sparse_image(sandbox.base / "image")
    reading = lambda pid: any(n.startswith("deploycheck-") for n in os.listdir(sandbox.tmp))
    out = sandbox.run("check", target, "--no-cache", signal_at=(signum, 0.3), signal_when=reading)
    out.assert_safe(code=code)
    assert out.stderr == INTERRUPTED


def test_a_second_signal_while_stopping(sandbox):
    # SIGTERM, then Ctrl-C 50 ms later, while the first is being handled: the first decides, one message
    _service(sandbox)
    mark = sandbox.base / "probe-started"
    py = _script(sandbox.base / "bin" / "python", f"touch {mark}\nsleep 60\n")
    out = sandbox.run("check", ".", "--python", py, signal_at=[(signal.SIGTERM, 0.2), (signal.SIGINT, 0.25)],
                      signal_when=lambda pid: mark.exists())
    out.assert_safe(code=143)
    assert out.stderr == INTERRUPTED


# --- Section 8: the output and the command line ------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ("check", ".", "--python", PY, "--no-cache"),
    ("check", ".", "--python", PY, "--no-cache", "--format", "json"),
    ("rule",),
    ("migrate", "status", ".", "--python", PY, "--no-cache"),
], ids=["check-text", "check-json", "rule", "migrate-status"])
def test_a_full_disk_is_a_one_line_error(sandbox, args):
    _service(sandbox)
    sandbox.write({"pyproject.toml": '[[tool.deploycheck.migrations]]\nid = "m"\nold = "json.dumps"\n'
                                     'new = "json.loads"\n', "app/x.py": "import json\njson.dumps(1)\n"})
    out = sandbox.run(*args, stdout_path="/dev/full")
    out.assert_safe(code=2, project_unchanged=False)
    assert out.stderr == "deploycheck: error: cannot write the output (No space left on device)\n"


@pytest.mark.parametrize("args", [
    ("check", ".", "--python", PY, "--no-cache"),
    ("check", ".", "--python", PY, "--no-cache", "--format", "json"),
    ("rule", "DC101"),
], ids=["check-text", "check-json", "rule"])
def test_a_closed_stdout_is_a_one_line_error(sandbox, args):
    # `>&-`: sys.stdout was None and the first write was an internal error with a traceback
    _service(sandbox)
    out = sandbox.run(*args, stdout_mode="closed")
    out.assert_safe(code=2)
    assert out.stderr == "deploycheck: error: cannot write the output (standard output is closed)\n"


def test_a_usage_error_on_a_full_stderr_exits_2(sandbox):
    # The message cannot be written; Python's own flush of stderr at exit failed again and made the exit
    # status 120 (the sandbox's environment has no PYTHONUNBUFFERED, which hid it).
    out = sandbox.run("check", str(sandbox.base / "no-such-dir"), stderr_path="/dev/full")
    assert out.code == 2 and out.stderr == "" and out.stdout == ""
    out.assert_safe(code=2, one_line=False)


def test_sigterm_while_the_report_waits_on_a_stalled_pipe(sandbox):
    # `deploycheck check | consumer` where the consumer stalls: the report (over a pipe's 64 KiB) blocks in
    # write(2). SIGTERM must end the run then, not when (if ever) the reader drains the pipe.
    sandbox.write({"app/__init__.py": "".join(f"import nothere_{i}\n" for i in range(3000))})
    out = sandbox.run("check", ".", "--python", PY, "--no-cache", stdout_mode="stalled",
                      signal_at=(signal.SIGTERM, 1.0), signal_when=_blocked_in_write, timeout=60)
    out.assert_safe(code=143)
    assert out.stderr.endswith(INTERRUPTED)


def _blocked_in_write(pid: int) -> bool:
    """The process sleeps in a write to a full pipe (its kernel wait channel)."""
    try:
        with open(f"/proc/{pid}/wchan") as f:
            return "pipe_write" in f.read()
    except OSError:
        return False


@pytest.mark.parametrize("args", [
    ("check", ""), ("check", "", "--format", "json"), ("migrate", "status", ""),
    ("migrate", "apply", "m", ""),
    ("config", "", "--env", "prod"),
])
def test_an_empty_path_is_a_usage_error(sandbox, args):
    # `check ""` checked the working directory
    _service(sandbox)
    out = sandbox.run(*args, "--python", PY)
    out.assert_safe(code=2)
    assert out.stderr == ("deploycheck: error: PATH is empty: name a directory or file (`.` for the working "
                          "directory)\n")


@pytest.mark.parametrize("option", ["--source", "--cache-dir", "--containerfile"])
def test_an_empty_path_option_is_a_usage_error(sandbox, option):
    _service(sandbox)
    out = sandbox.run("check", ".", option, "", "--python", PY)
    out.assert_safe(code=2)
    assert out.message() == f"deploycheck: error: {option} is empty: name a directory or file (`.` for the " \
                            "working directory)"


# --- Section 4: escape sequences from the repository --------------------------------------------------------

ESC_NAME = "\x1b]0;owned\x07\x1b[2J\u202e\x9b31m"
ESC_SHOWN = "\\x1b]0;owned\\x07\\x1b[2J\\u202e\\x9b31m"
RAW = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")  # newline aside: it ends lines


def test_module_names_from_the_source_are_escaped(sandbox):
    sandbox.write({"app/__init__.py": "",
                   "app/main.py": f"import importlib\nimportlib.import_module({ESC_NAME + 'x'!r})\n"})
    for fmt in ("text", "json"):
        out = sandbox.run("check", ".", "--python", PY, "--no-cache", "--format", fmt)
        out.assert_safe(code=1, one_line=False)
        assert not RAW.search(out.stdout), out.stdout
        if fmt == "json":
            doc = json.loads(out.stdout)
            assert doc["findings"][0]["message"] == f"No module named '{ESC_NAME}x'"
        else:
            assert f"DC101 [error, at import] No module named '{ESC_SHOWN}x'\n" in out.stdout


def test_paths_with_control_characters_stay_on_their_line(sandbox):
    # a directory name holding an escape sequence and a newline: each finding stays one line, the name shown
    weird = "we\x1b[31mird\nline"
    sandbox.write({f"{weird}/app.py": "from json import no_such_name\n"})
    out = sandbox.run("check", weird, "--python", PY, "--no-cache")
    out.assert_safe(code=1, one_line=False)
    assert not RAW.search(out.stdout)
    first = out.stdout.splitlines()[0]
    assert first.startswith("we\\x1b[31mird\\nline/app.py:1:18: DC102 [error, at import] cannot import name")
    # and on stderr, in a usage error naming the path
    out = sandbox.run("check", weird + "/missing", "--python", PY)
    out.assert_safe(code=2)
    assert out.stderr == "deploycheck: error: we\\x1b[31mird\\nline/missing: no such directory\n"


@pytest.mark.parametrize("name", ["a\nb", "\x1b[2J", "c\rd\x07"])
def test_module_file_names_with_control_characters(sandbox, name):
    # `a\nb.py` is a module Python can import (importlib.import_module("a\nb")): its findings stay on their
    # lines, in text and JSON
    sandbox.write({"app.py": f"import importlib\nimportlib.import_module({name!r})\n",
                   f"{name}.py": "x = undefined_name\n"})
    shown = name.encode("unicode_escape").decode()
    out = sandbox.run("check", ".", "--python", PY, "--no-cache").assert_safe(code=1, one_line=False)
    assert not RAW.search(out.stdout), out.stdout
    assert out.stdout.startswith(f"{shown}.py:1:5: DC201 [error, at import] name 'undefined_name' is not "
                                 "defined\n")
    for line in out.stdout.splitlines():  # every line is one of the report's own
        assert line == "" or line.startswith((f"{shown}.py:", "  |", "1 |", "  =", "1 error")), line
    out = sandbox.run("check", ".", "--python", PY, "--no-cache", "--format", "json")
    out.assert_safe(code=1, one_line=False)
    assert not RAW.search(out.stdout)
    [finding] = json.loads(out.stdout)["findings"]
    assert (finding["path"], finding["symbol"]) == (str(sandbox.project / f"{name}.py"), "undefined_name")


@pytest.mark.parametrize("name, shown", [("x\u2028y", "x\\u2028y"), ("x\x1cy", "x\\x1cy"), ("a\nb", "a\\nb"),
                                         ("\x1b[2J", "\\x1b[2J"), ("x\u2066y", "x\\u2066y")])
def test_script_files_named_with_control_characters_are_checked(sandbox, name, shown):
    # Default mode left such a script out without a word (`python tools/x\u2028y.py` would crash); it is
    # checked like any script run by its path, its name escaped in text and JSON alike.
    sandbox.write({"app/__init__.py": "", "main.py": "import app\n", f"tools/{name}.py": "import nothere\n",
                   "tools/ok.py": "import nothere_either\n"})
    text, js = (sandbox.run("check", ".", "--python", PY, "--no-cache", *fmt) for fmt in ((), ("--format", "json")))
    for out in (text, js):
        out.assert_safe(code=1, one_line=False)
        assert not RAW.search(out.stdout)
    assert sorted(line for line in text.stdout.splitlines() if "DC101" in line) == sorted([
        "tools/ok.py:1:1: DC101 [error, at import] No module named 'nothere_either'",
        f"tools/{shown}.py:1:1: DC101 [error, at import] No module named 'nothere'"])
    found = sorted((f["path"], f["message"]) for f in json.loads(js.stdout)["findings"])
    assert found == sorted([(str(sandbox.project / "tools" / "ok.py"), "No module named 'nothere_either'"),
                            (str(sandbox.project / "tools" / f"{name}.py"), "No module named 'nothere'")])


def test_migrate_status_text_escapes_paths(sandbox):
    weird = "sc\x1b]2;x\x07ripts"
    sandbox.write({"pyproject.toml": '[[tool.deploycheck.migrations]]\nid = "m"\nold = "json.dumps"\n'
                                     'new = "json.loads"\n',
                   "app/__init__.py": "", f"{weird}/run.py": "import json\njson.dumps(1)\n"})
    out = sandbox.run("migrate", "status", ".", "--python", PY, "--no-cache")
    out.assert_safe(code=0, one_line=False, project_unchanged=False)
    assert not RAW.search(out.stdout)
    assert "  sc\\x1b]2;x\\x07ripts/run.py:2:1: " in out.stdout


def test_config_text_escapes_paths(sandbox):
    env_file = "prod\x1b[2J.env"
    sandbox.write({"app/__init__.py": "", "app/main.py": "import os\nQUEUE = os.environ['WORKER_QUEUE']\n",
                   env_file: "OTHER=1\n"})
    out = sandbox.run("config", ".", "--env", "prod", "--env-file", env_file, "--python", PY, "--no-cache")
    out.assert_safe(code=1, one_line=False)
    assert not RAW.search(out.stdout)
    assert out.stdout.startswith("environment prod (not local) · sources: prod\\x1b[2J.env (dotenv)\n")


def test_a_usage_error_quoting_the_configuration_is_escaped(sandbox):
    # pyproject.toml is the repository's: its entries reach the one-line message on stderr
    _service(sandbox)
    sandbox.write({"pyproject.toml": '[tool.deploycheck]\nentries = ["app\\u001b]0;t\\u0007"]\n'})
    out = sandbox.run("check", ".", "--python", PY)
    out.assert_safe(code=2)
    assert out.stderr == ("deploycheck: error: entry `app\\x1b]0;t\\x07` is not a module name: give dotted "
                          "module names such as app.main, or MODULE:NAME, or MODULE:FACTORY() for an application "
                          "factory\n")


MIGRATION = {"pyproject.toml": '[[tool.deploycheck.migrations]]\nid = "m"\nold = "app.old.Old"\n'
                               'new = "app.new.make()"\n',
             "app/__init__.py": "", "app/old.py": "class Old:\n    pass\n",
             "app/new.py": "def make():\n    return 1\n",
             "app/use.py": 'from app.old import Old\nCLEAR = "\x1b[2J"\nx = Old()\n'}


def test_migrate_apply_diff_is_escaped_on_a_terminal_only(sandbox):
    # the diff quotes the source: raw for `git apply` through a pipe, escaped on a terminal
    sandbox.write(MIGRATION)
    out = sandbox.run("migrate", "apply", "m", ".", "--python", PY, "--no-cache")
    out.assert_safe(code=0, one_line=False, project_unchanged=False)
    assert ' CLEAR = "\x1b[2J"\n' in out.stdout
    _, shown = _on_a_terminal(sandbox, {}, "migrate", "apply", "m", ".", "--python", PY, "--no-cache", code=0)
    assert "\x1b[2J" not in shown and ' CLEAR = "\\x1b[2J"\r\n' in shown  # a terminal ends lines with CR LF
    assert "-from app.old import Old\r\n" in shown


def _sgr_parameters(shown: str) -> set[str]:
    return {p for seq in re.findall(r"\x1b\[([0-9;]*)m", shown) for p in seq.split(";") if p}


def _on_a_terminal(sandbox, env: dict[str, str], *args: str, code: int = 1) -> tuple[int, str]:
    """Run with stdout on a pseudo-terminal; the exit code and what the terminal received."""
    master, slave = pty.openpty()
    got = bytearray()

    def read() -> None:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                return
            if not chunk:
                return
            got.extend(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        out = sandbox.run(*args, stdout_path=os.ttyname(slave), env={"TERM": "xterm-256color", **env})
    finally:
        os.close(slave)
        reader.join(5)
        os.close(master)
    out.assert_safe(code=code, one_line=False, project_unchanged=False)
    return out.code, got.decode(errors="replace")


COLOURS = {str(n) for n in [*range(30, 39), *range(40, 49), *range(90, 98), *range(100, 108)]}


@pytest.mark.parametrize("no_color,coloured", [(None, True), ("", True), ("1", False)],
                         ids=["unset", "empty", "set"])
def test_no_color_on_a_terminal(sandbox, no_color, coloured):
    # https://no-color.org: present and non-empty turns colour off (bold stays); it was ignored on a terminal
    _service(sandbox)
    env = {} if no_color is None else {"NO_COLOR": no_color}
    _, shown = _on_a_terminal(sandbox, env, "check", ".", "--python", PY, "--no-cache")
    assert "DC102" in shown and "1" in _sgr_parameters(shown)  # bold either way
    assert bool(_sgr_parameters(shown) & COLOURS) == coloured, repr(shown)


_CONTROLS = [chr(c) for c in [*range(0x20), *range(0x7f, 0xa0)]] + list("\u061c\u200e\u200f\u2028\u2029") + \
    [chr(c) for c in [*range(0x202a, 0x202f), *range(0x2066, 0x206a)]]


@settings(max_examples=200, deadline=None)
@given(pieces=st.lists(st.tuples(st.text(alphabet=st.sampled_from(_CONTROLS) | st.characters(), max_size=12),
                                 st.sampled_from(["", "bold", "red"])), max_size=5))
def test_escaping_leaves_no_control_character_and_keeps_the_rest(pieces):
    from rich.text import Text

    from deploycheck.render.escape import escape, escape_text

    for piece, _ in pieces:
        shown = escape(piece)
        assert not any(c in shown for c in _CONTROLS)
        if not any(c in piece for c in _CONTROLS):
            assert shown == piece
    text = Text.assemble(*pieces)  # rich itself drops a few controls (CR, BS, BEL, VT, FF) from a Text
    shown = escape_text(text)
    assert shown.plain == escape(text.plain)
    for span in shown.spans:  # each style still covers the escaped form of what it covered
        covered = {escape(Text(p).plain) for p, style in pieces if style == span.style}
        assert shown.plain[span.start:span.end] in covered


# --- Section 5: hostile interpreters ------------------------------------------------------------------------

@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_an_interpreter_writing_without_end(sandbox, stream):
    # it took 6 GB; now the probe's output is read up to a bound and the program's whole group is killed
    _service(sandbox)
    py = _script(sandbox.base / "bin" / "python", "exec yes\n" if stream == "stdout" else "exec yes >&2\n")
    out = sandbox.run("check", ".", "--python", py)
    out.assert_safe(code=2)
    assert out.stderr == (f"deploycheck: error: --python {py}: wrote more than 4 MiB to {stream} (the "
                          "probe's answer is far smaller): not a Python interpreter answering the probe\n")


def _real_answer() -> dict:
    proc = subprocess.run([PY, "-I", "-S", str(PROBE)], capture_output=True, check=True)
    return json.loads(proc.stdout)


ANSWER = _real_answer()
WRONG = [
    ("version", [3, "11", 0], "a list of three integers"),
    ("version", [3, 11], "a list of three integers"),
    ("version", [3, 11, True], "a list of three integers"),
    ("path", "/usr/lib/python3.11", "a list of strings"),
    ("site_packages", [1, 2], "a list of strings"),
    ("builtin_attrs", ["sys"], "an object of lists of strings"),
    ("builtin_attrs", {"sys": "argv"}, "an object of lists of strings"),
    ("builtins", {"len": 1}, "a list of strings"),
    ("platform", None, "a string"),
    ("executable", 7, "a string"),
    ("system_site_packages", "yes", "true or false"),
    ("extension_suffixes", None, "a list of strings"),
    ("frozen_modules", None, "a list of strings"),
]


@pytest.mark.parametrize("key,value,expected", WRONG, ids=[f"{k}={v!r}" for k, v, _ in WRONG])
def test_a_probe_answer_of_the_wrong_type(tmp_path, key, value, expected):
    answer = tmp_path / "answer.json"
    answer.write_text(json.dumps({**ANSWER, key: value}))
    py = _script(tmp_path / "python", f"exec cat {answer}\n")
    with pytest.raises(UsageError) as err:
        interpreter.probe(py)
    assert str(err.value) == (f"--python {py}: is not a Python interpreter (the `{key}` of its answer to the "
                              f"probe is not {expected})")


def test_a_probe_answer_of_the_wrong_type_from_the_command_line(sandbox):
    # it was an internal error
    _service(sandbox)
    answer = sandbox.base / "answer.json"
    answer.write_text(json.dumps({**ANSWER, "version": [3, "11", 0]}))
    py = _script(sandbox.base / "bin" / "python", f"exec cat {answer}\n")
    out = sandbox.run("check", ".", "--python", py)
    out.assert_safe(code=2)
    assert out.stderr == (f"deploycheck: error: --python {py}: is not a Python interpreter (the `version` of "
                          "its answer to the probe is not a list of three integers)\n")


_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8)
_JSON = st.recursive(_SCALARS,
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                 max_size=4),
                     max_leaves=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=st.dictionaries(st.sampled_from(sorted(ANSWER) + ["extra"]), _JSON | st.just("<missing>"),
                               min_size=1, max_size=3))
def test_any_probe_answer_is_an_interpreter_or_a_usage_error(tmp_path, changes):
    answer = {**ANSWER, **changes}
    for key, value in changes.items():
        if value == "<missing>":
            del answer[key]
    path = tmp_path / "answer.json"
    path.write_text(json.dumps(answer))
    py = _script(tmp_path / "python", f"exec cat {path}\n")
    try:
        found = interpreter.probe(py)
    except UsageError as exc:
        assert "\n" not in str(exc) and str(exc).startswith(f"--python {py}: ")
        return
    assert all(isinstance(x, int) for x in found.version) and all(isinstance(p, str) for p in found.path)
    assert all(isinstance(n, str) for names in found.builtin_attrs.values() for n in names)


def test_an_interpreter_that_does_not_answer_is_killed_with_its_group(tmp_path, monkeypatch):
    # the probe's whole process group goes: a child it started in the background as well
    monkeypatch.setattr(interpreter, "PROBE_TIMEOUT_S", 1)
    pid_file = tmp_path / "child.pid"
    py = _script(tmp_path / "python", f"sleep 60 &\necho $! > {pid_file}\nexec >&- 2>&-\nsleep 60\n")
    with pytest.raises(UsageError) as err:
        interpreter.probe(py)
    assert str(err.value) == f"--python {py}: did not answer within 1 s"
    child = int(pid_file.read_text())
    for _ in range(250):  # SIGKILL is delivered asynchronously: give the kernel a moment to end it
        if _state(child) in ("", "Z", "X"):
            break
        time.sleep(0.02)
    assert _state(child) in ("", "Z", "X")


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0]
    except OSError:
        return ""


# --- Section 3: the project's interpreter -------------------------------------------------------------------

def _venv_that_records(sandbox) -> Path:
    """A project (with a migration and an environment file) whose .venv/bin/python records that it ran,
    then runs the real interpreter."""
    _service(sandbox)
    sandbox.write({"pyproject.toml": '[[tool.deploycheck.migrations]]\nid = "m"\nold = "json.dumps"\n'
                                     'new = "json.loads"\n', "prod.env": "A=1\n"})
    ran = sandbox.base / "project-python-ran"
    _script(sandbox.project / ".venv" / "bin" / "python", f"touch {ran}\nexec {PY} \"$@\"\n")
    return ran


REFUSED = ("deploycheck: error: the project's .venv {py}: not run, since --no-project-python "
           "(DEPLOYCHECK_NO_PROJECT_PYTHON) forbids running an interpreter the project names; pass the "
           "target's interpreter with --python\n")


@pytest.mark.parametrize("how", ["flag", "variable"])
@pytest.mark.parametrize("command", [("check", "."), ("migrate", "status", "."),
                                     ("config", ".", "--env", "prod", "--env-file", "prod.env")],
                         ids=["check", "migrate", "config"])
def test_ci_can_refuse_the_project_interpreter(sandbox, how, command):
    ran = _venv_that_records(sandbox)
    args = (*command, "--no-cache") + (("--no-project-python",) if how == "flag" else ())
    env = {"DEPLOYCHECK_NO_PROJECT_PYTHON": "1"} if how == "variable" else {}
    out = sandbox.run(*args, env=env)
    out.assert_safe(code=2)
    assert out.stderr == REFUSED.format(py=sandbox.project / ".venv" / "bin" / "python")
    assert not ran.exists()


def test_an_explicit_python_wins_over_the_refusal(sandbox):
    ran = _venv_that_records(sandbox)
    out = sandbox.run("check", ".", "--no-cache", "--no-project-python", "--python", PY)
    out.assert_safe(code=1, one_line=False)
    assert "DC102" in out.stdout and not ran.exists()
    # without the refusal the project's interpreter is what runs (as the README says)
    out = sandbox.run("check", ".", "--no-cache")
    out.assert_safe(code=1, one_line=False)
    assert ran.exists()


def test_the_refusal_covers_the_python_setting(sandbox):
    _service(sandbox)
    ran = sandbox.base / "setting-python-ran"
    _script(sandbox.project / "tools" / "py", f"touch {ran}\nexec {PY} \"$@\"\n")
    sandbox.write({"pyproject.toml": '[tool.deploycheck]\npython = "tools/py"\n'})
    out = sandbox.run("check", ".", "--no-cache", env={"DEPLOYCHECK_NO_PROJECT_PYTHON": "1"})
    out.assert_safe(code=2)
    assert out.stderr.startswith("deploycheck: error: python (pyproject.toml [tool.deploycheck]) ")
    assert "pass the target's interpreter with --python" in out.stderr and not ran.exists()


def test_a_probe_no_longer_wanted_is_killed_at_once(tmp_path, monkeypatch):
    # `check` probes --python in a thread while it lists the project; when the listing fails (or Ctrl-C) the
    # probe is stopped, not waited for: a --python that never answered held the project's error for the
    # probe's whole time limit (here an hour, so a wait would never end within the test)
    from deploycheck.check import Options, run

    monkeypatch.setattr(interpreter, "PROBE_TIMEOUT_S", 3600)
    pid_file = tmp_path / "probe.pid"
    py = _script(tmp_path / "python", f"echo $$ > {pid_file}\nexec sleep 3600\n")
    stop = threading.Event()
    outcome: list = []

    def probe():
        try:
            interpreter.probe(py, stop=stop)
        except UsageError as exc:
            outcome.append(str(exc))

    worker = threading.Thread(target=probe, daemon=True)
    worker.start()
    for _ in range(500):  # until the program runs
        if pid_file.exists() and pid_file.read_text().strip():
            break
        time.sleep(0.02)
    pid = int(pid_file.read_text())
    interpreter.stop_probes(stop)
    worker.join(120)
    assert not worker.is_alive() and outcome and outcome[0].startswith(f"--python {py}: ")
    assert _state(pid) in ("", "Z", "X")

    missing = tmp_path / "missing"
    errors: list = []

    def check():
        try:
            run(Options(path=str(missing), python=py, no_cache=True))
        except UsageError as exc:
            errors.append(str(exc))

    worker = threading.Thread(target=check, daemon=True)
    worker.start()
    worker.join(120)
    assert not worker.is_alive() and errors == [f"{missing}: no such directory"]


def test_descendants_are_found_from_the_children_files_as_from_every_process_s_parent():
    """``interrupt.children`` (what every command kills on its way out) reads each process's threads'
    ``children`` files; a scan of every process's parent finds the same processes, in the same order. A child
    started from a second thread is a child of that thread, and found too."""
    import subprocess
    import threading
    import time

    from deploycheck import interrupt

    assert interrupt.children() == interrupt._scan(os.getpid()) == []
    tree = subprocess.Popen(["sh", "-c", "sleep 60 & sleep 60 & wait"])
    started = []
    thread = threading.Thread(target=lambda: started.append(subprocess.Popen(["sleep", "60"])))
    thread.start()
    thread.join()
    try:
        for _ in range(100):  # until sh has started both
            if len(interrupt._scan(os.getpid())) == 4:
                break
            time.sleep(0.05)
        found = interrupt.children()
        assert found == interrupt._scan(os.getpid()) and len(found) == 4
        assert set(found[:2]) == {tree.pid, started[0].pid}  # children before grandchildren
    finally:
        interrupt.kill_children()
        tree.wait()
        started[0].wait()
    assert interrupt.children() == []
