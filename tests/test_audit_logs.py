"""audit: reading logs and reassembling tracebacks, from real crashes of real programs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from audit_crash import cloud_run, crash, interleave, stamped

from deploycheck.audit import logs, repeats, search, tracebacks
from deploycheck.audit.tracebacks import Note
from deploycheck.errors import UsageError

CHAINED = {
    "app/db.py": "def connect(url):\n    raise ConnectionRefusedError(111, 'Connection refused')\n",
    "app/main.py": (
        "from app import db\n\n"
        "class StartupError(RuntimeError):\n    pass\n\n"
        "def boot():\n    try:\n        db.connect('postgresql://localhost/app')\n"
        "    except OSError as exc:\n        raise StartupError('cannot reach the database\\nsecond line') from exc\n\n"
        "boot()\n"),
    "app/__init__.py": "",
}


def events(tmp_path, text: str, name: str = "log.txt"):
    path = tmp_path / name
    path.write_text(text)
    return list(tracebacks.collect(logs.read(str(path))))


def crashes(tmp_path, text: str):
    return [e for e in events(tmp_path, text) if not isinstance(e, Note)]


def test_plain_stderr_chain_with_cause_and_multiline_message(tmp_path):
    err = crash(tmp_path / "svc", CHAINED, "-m", "app.main")
    [tb] = crashes(tmp_path, "starting\n" + err + "[2024-05-01 12:00:01 +0000] [8] [INFO] Worker exiting (pid: 8)\n")
    assert tb.exc_type == "app.main.StartupError" or tb.exc_type == "StartupError"
    assert tb.message == "cannot reach the database\nsecond line"
    assert tb.cause is not None and tb.context is None
    assert tb.cause.exc_type == "ConnectionRefusedError"
    assert tb.cause.frames[-1].path.endswith("app/db.py") and tb.cause.frames[-1].line == 2
    assert tb.cause.frames[-1].text == "raise ConnectionRefusedError(111, 'Connection refused')"
    assert [t.exc_type for t in tb.chain()] == ["ConnectionRefusedError", tb.exc_type]
    assert tb.frames[-1].function == "boot" and tb.spot.line == 2
    assert not tb.truncated


def test_context_chain_and_311_marker_lines_are_ignored(tmp_path):
    err = crash(tmp_path / "svc", {"m.py": (
        "settings = {'a': [1]}\n"
        "def read():\n    try:\n        return settings['a'][0] + settings['b'][1]\n"
        "    except KeyError:\n        return 1 / 0\nread()\n")}, "m.py")
    assert "~~~~~~~~^^^^^" in err or "^^^^" in err  # the interpreter marks the failing part (PEP 657)
    [tb] = crashes(tmp_path, err)
    assert tb.exc_type == "ZeroDivisionError" and tb.message == "division by zero"
    assert tb.context is not None and tb.context.exc_type == "KeyError" and tb.context.message == "'b'"
    assert all("^" not in (f.text or "") and "~" not in (f.text or "") for t in tb.chain() for f in t.frames)


def test_syntax_error_with_and_without_header(tmp_path):
    files = {"bad.py": "x = 1\ndef f(:\n    pass\n", "main.py": "import bad\n"}
    imported = crash(tmp_path / "svc", files, "main.py")
    direct = crash(tmp_path / "svc", files, "bad.py")
    [a, b] = crashes(tmp_path, imported + "INFO: retrying\n" + direct)
    assert a.exc_type == b.exc_type == "SyntaxError"
    assert [f.function for f in a.frames] == ["<module>", ""]
    assert a.frames[-1].line == 2 and a.frames[-1].text == "def f(:"
    assert b.frames == (a.frames[-1],)


def test_exception_group_boxes_nested(tmp_path):
    err = crash(tmp_path / "svc", {"g.py": (
        "def f():\n    raise ValueError('a')\n"
        "try:\n    raise ExceptionGroup('outer', [TypeError('t'), ExceptionGroup('inner', [f_err := KeyError('k')])])\n"
        "except* TypeError:\n    raise RuntimeError('handled badly')\n")}, "g.py")
    [tb] = crashes(tmp_path, err + "next line of the log\n")
    assert "ExceptionGroup" in tb.exc_type
    flat = []

    def walk(t, depth):
        for c in t.chain():
            flat.append((depth, c.exc_type, c.message))
            for g in c.group:
                walk(g, depth + 1)

    walk(tb, 0)
    types = [t for _, t, _ in flat]
    assert "RuntimeError" in types and "TypeError" in types and "KeyError" in types
    assert ("inner (1 sub-exception)" in [m for _, _, m in flat])
    assert max(d for d, _, _ in flat) >= 2


def test_kubectl_timestamps_and_since(tmp_path):
    err = crash(tmp_path / "svc", CHAINED, "-m", "app.main")
    text = stamped("booting\n" + err, start=0) + stamped(err, start=30)
    all_crashes = crashes(tmp_path, text)
    assert len(all_crashes) == 2
    assert all_crashes[0].spot.timestamp == "2024-05-01T12:00:01.123456789Z"
    path = tmp_path / "k.log"
    path.write_text(text)
    later = [e for e in tracebacks.collect(logs.read(str(path), since="2024-05-01T12:00:29Z"))
             if not isinstance(e, Note)]
    assert len(later) == 1 and later[0].spot.timestamp.startswith("2024-05-01T12:00:30")
    with pytest.raises(UsageError, match="RFC 3339"):
        list(logs.read(str(path), since="yesterday"))


def test_cloud_run_split_lines_interleaved_by_instance(tmp_path):
    err_a = crash(tmp_path / "a", CHAINED, "-m", "app.main")
    err_b = crash(tmp_path / "b", {"w.py": "import os\nos.environ['DATABASE_URL']\n"}, "w.py")
    chatter = [{"textPayload": f"GET /health 200 {i}", "timestamp": f"2024-05-01T12:00:{i:02d}Z",
                "labels": {"instanceId": "i-1"}, "resource": {"labels": {"revision_name": "api-00042-abc"}}}
               for i in range(30)]
    text = interleave(cloud_run(err_a, "api-00042-abc", "i-1"), chatter, cloud_run(err_b, "api-00043-def", "i-2"))
    found = crashes(tmp_path, text)
    by_type = {t.exc_type.rpartition(".")[2]: t for t in found}
    assert set(by_type) == {"StartupError", "KeyError"}
    assert by_type["StartupError"].spot.revision == "api-00042-abc"
    assert by_type["StartupError"].cause.exc_type == "ConnectionRefusedError"
    assert by_type["KeyError"].message == "'DATABASE_URL'"
    assert by_type["KeyError"].spot.revision == "api-00043-def"


def test_structured_logger_exception_field(tmp_path):
    prog = (
        "import json, logging, sys\n"
        "class J(logging.Formatter):\n"
        "    def format(self, r):\n"
        "        d = {'message': r.getMessage(), 'level': r.levelname, 'time': '2024-05-01T12:00:00Z'}\n"
        "        if r.exc_info: d['exc_info'] = self.formatException(r.exc_info)\n"
        "        return json.dumps(d)\n"
        "h = logging.StreamHandler(); h.setFormatter(J()); logging.root.addHandler(h)\n"
        "try:\n    {}['missing']\nexcept KeyError:\n    logging.exception('request failed')\n"
        "logging.error('after')\n"
        "sys.exit(3)\n")
    err = crash(tmp_path / "svc", {"j.py": prog}, "j.py")
    [tb] = crashes(tmp_path, err)
    assert tb.exc_type == "KeyError" and tb.message == "'missing'"
    assert tb.spot.severity == "ERROR" and tb.spot.line == 1


def test_docker_json_file_records(tmp_path):
    err = crash(tmp_path / "svc", {"w.py": "import os\nos.environ['SECRET_KEY']\n"}, "w.py")
    text = "".join(json.dumps({"log": line + "\n", "stream": "stderr", "time": "2024-05-01T12:00:00.1Z"}) + "\n"
                   for line in err.splitlines())
    [tb] = crashes(tmp_path, text)
    assert tb.exc_type == "KeyError" and tb.frames[0].line == 2 and tb.frames[0].path.endswith("/w.py")


def test_gcloud_json_array(tmp_path):
    err = crash(tmp_path / "svc", {"w.py": "import os\nos.environ['SECRET_KEY']\n"}, "w.py")
    text = json.dumps(cloud_run(err, "api-00007-xyz", "i-9"), indent=2)
    [tb] = crashes(tmp_path, text)
    assert tb.exc_type == "KeyError" and tb.spot.revision == "api-00007-xyz"


def test_truncated_traceback_no_traceback_and_notes(tmp_path):
    err = crash(tmp_path / "svc", CHAINED, "-m", "app.main")
    cut = "\n".join(err.splitlines()[:3]) + "\n"
    [tb] = crashes(tmp_path, cut)
    assert tb.truncated and tb.exc_type == ""
    got = events(tmp_path, "[2024-05-01 12:00:00 +0000] [1] [INFO] Starting gunicorn 22.0.0\nhello\n"
                           "[2024-05-01 12:00:01 +0000] [1] [INFO] Reason: Worker failed to boot.\n")
    assert [(e.kind, e.spot.line) for e in got] == [("start", 1), ("stop", 3)]


def test_binary_log_and_long_line(tmp_path):
    blob = tmp_path / "core"
    blob.write_bytes(bytes(range(256)) * 64)
    with pytest.raises(UsageError, match="not a UTF-8 text log"):
        list(logs.read(str(blob)))
    long = tmp_path / "long.log"
    long.write_text("x" * (3 * logs.MAX_LINE) + "\nafter\n")
    stats = logs.Stats()
    got = list(logs.read(str(long), stats=stats))
    assert [len(e.text) for e in got] == [logs.MAX_LINE, 5] and stats.cut == 1
    with pytest.raises(UsageError, match="is a directory"):
        list(logs.read(str(tmp_path)))


def test_huge_traceback_is_bounded(tmp_path):
    # f and g in turn: the interpreter collapses only repeats of one line, so every frame is printed
    err = crash(tmp_path / "svc", {"r.py": "import sys\nsys.setrecursionlimit(3000)\n"
                                           "def f(n):\n    return g(n + 1)\ndef g(n):\n    return f(n + 1)\nf(0)\n"},
                "r.py")
    assert len(err.splitlines()) > tracebacks.HEAD + tracebacks.TAIL
    [tb] = crashes(tmp_path, err)
    assert tb.exc_type == "RecursionError" and tb.truncated
    assert len(tb.raw) <= tracebacks.HEAD + tracebacks.TAIL


@pytest.mark.parametrize("how", ["rg", "rg-split", "grep", "find", "grep-fails"])
def test_skipping_quiet_lines_changes_nothing(tmp_path, monkeypatch, how):
    """The fast paths (``logs.Skip``: ripgrep's or grep's offsets, ripgrep's in two parts at once, or
    bytes.find windows when neither is there or the program fails) give the same events, line numbers
    included, as reading every line."""
    if how.startswith("rg"):  # a dependency: its wheel puts rg beside the interpreter
        assert os.path.basename(logs.searcher() or "") == "rg"
        if how == "rg-split":
            monkeypatch.setattr(search.Search, "SPLIT", 0)
    elif how == "grep":
        monkeypatch.setattr(logs, "searcher", lambda: shutil.which("grep"))
    elif how == "find":
        monkeypatch.setattr(logs, "searcher", lambda: None)
    elif how == "grep-fails":
        monkeypatch.setattr(search.Search, "MEMORY", 64 * 1024)  # grep cannot even start within it
    import random

    err = crash(tmp_path / "svc", CHAINED, "-m", "app.main")
    group_err = crash(tmp_path / "g", {"g.py": "raise ExceptionGroup('eg', [ValueError(1), TypeError(2)])\n"}, "g.py")
    rng = random.Random(7)
    parts = []
    for i in range(3000):
        parts.append(f"2024-05-01T12:00:00Z INFO request {i} served in {rng.randint(1, 999)} ms\n")
        if i % 150 == 7:
            end = "[1] [ERROR] Reason: Worker failed to boot.\n"  # a crash and the line after it repeat
            parts.append([err + end, group_err + end, "[1] [INFO] Booting worker with pid: 9\n",
                          "INFO:     Application startup complete.\n", "x" * 70000 + "\n",
                          "[1] [ERROR] Reason: Worker failed to boot.\n"][i // 150 % 6])
    path = tmp_path / "mixed.log"
    path.write_text("".join(parts))

    replays = []

    def seen(skip):
        collector = tracebacks.Collector()
        entries = logs.read(str(path), skip=logs.Skip(collector.idle, tracebacks.TRIGGERS, collector.runs)
                            if skip else None)
        entries = (replays.append(e) or e if isinstance(e, repeats.Replay) else e for e in entries)
        return [(type(e).__name__, e.spot, getattr(e, "exc_type", getattr(e, "kind", "")))
                for e in collector.events(entries)]

    slow, fast = seen(False), seen(True)
    assert fast == slow and len(slow) >= 15
    assert len(replays) >= 5  # the crashes that come round again are replays of their first reading
    stats = logs.Stats()
    collector = tracebacks.Collector()
    list(collector.events(logs.read(str(path), stats=stats, skip=logs.Skip(collector.idle, tracebacks.TRIGGERS))))
    assert stats.bytes == path.stat().st_size
    if how in ("rg", "rg-split", "grep"):  # the quiet lines after the last trigger were passed over uncounted
        assert not stats.lines_known
    else:
        assert stats.lines_known and stats.lines == path.read_text().count("\n")


def test_a_hard_memory_limit_below_the_search_program_s_is_a_failed_search(tmp_path):
    """A process whose hard address-space limit is below the one the search program gets
    (``search.Search.MEMORY``)
    cannot give it that limit: the search fails and the log is read without it, to the same report (it was
    an internal error: the limit was set in a preexec_fn, whose error Popen raises as SubprocessError)."""
    err = crash(tmp_path / "svc", CHAINED, "-m", "app.main")
    log = tmp_path / "svc.log"
    log.write_text("INFO served\n" * 2000 + err)
    limited = ("import resource, sys\n"
               "resource.setrlimit(resource.RLIMIT_AS, (384 * 2**20, 384 * 2**20))\n"
               "from deploycheck.cli import main\n"
               "sys.exit(main(sys.argv[1:]))\n")
    proc = subprocess.run([sys.executable, "-c", limited, "audit", "--log", str(log), "--format", "json"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert [(g["exc_type"], g["first_line"]) for g in report["groups"]] == [("StartupError", 2001)]
    assert report["lines_read"] == 2000 + len(err.splitlines())  # every line read: no search program ran


def test_every_note_is_found_by_a_trigger():
    missing = [literal for literal in tracebacks.note_literals()
               if not any(t.decode() in literal for t in tracebacks.TRIGGERS)]
    assert missing == []


def test_kubectl_prefix_streams_interleaved(tmp_path):
    err_a = crash(tmp_path / "a", CHAINED, "-m", "app.main")
    err_b = crash(tmp_path / "b", {"w.py": "import os\nos.environ['DATABASE_URL']\n"}, "w.py")
    a = [f"[pod/api-7d9f-abc/api] {line}" for line in stamped(err_a).splitlines()]
    b = [f"[pod/api-7d9f-def/api] {line}" for line in stamped(err_b).splitlines()]
    mixed = [line for pair in zip(a, b) for line in pair] + a[len(b):] + b[len(a):]
    found = crashes(tmp_path, "\n".join(mixed) + "\n")
    assert sorted(t.exc_type.rpartition(".")[2] for t in found) == ["KeyError", "StartupError"]
    assert {t.spot.stream for t in found} == {"pod/api-7d9f-abc/api", "pod/api-7d9f-def/api"}


def test_newest_first_export_is_refused(tmp_path):
    err = crash(tmp_path / "svc", {"w.py": "import os\nos.environ['SECRET_KEY']\n"}, "w.py")
    entries = cloud_run(err, "api-00007-xyz", "i-9")
    path = tmp_path / "desc.json"
    path.write_text(json.dumps(entries[::-1]))
    with pytest.raises(UsageError, match="newest first"):
        list(logs.read(str(path)))
    path.write_text(json.dumps(entries))  # the same entries oldest first are read
    assert len(list(logs.read(str(path)))) == len(entries)


def test_a_log_spot_is_a_frozen_record():
    """``LogSpot`` (a plain class, as the audit's other records) compares, hashes and shows as the frozen
    dataclass it was did, and cannot be changed: assigning or deleting a field raises ``AttributeError``."""
    from deploycheck.audit.model import LogSpot

    spot = LogSpot(7, "2024-05-01T00:00:00Z", stream="pod/a/b")
    same = LogSpot(7, "2024-05-01T00:00:00Z", None, None, "pod/a/b")
    assert spot == same and hash(spot) == hash(same) and spot is not same
    assert repr(spot) == ("LogSpot(line=7, timestamp='2024-05-01T00:00:00Z', revision=None, severity=None, "
                          "stream='pod/a/b')")
    assert spot != LogSpot(8, "2024-05-01T00:00:00Z", stream="pod/a/b")
    assert LogSpot(1) == LogSpot(1, None, None)
    assert LogSpot(1) != (1, None, None, None, "")  # a record equals records of its class only, not a tuple
    assert len({spot, same, LogSpot(1)}) == 2
    with pytest.raises(AttributeError, match="cannot assign to field 'line'"):
        spot.line = 8  # type: ignore[misc]
    with pytest.raises(AttributeError, match="cannot delete field 'stream'"):
        del spot.stream
    with pytest.raises(AttributeError):
        spot.other = 1  # type: ignore[attr-defined]
    assert (spot.line, spot.stream) == (7, "pod/a/b") and not hasattr(spot, "other")


def test_a_record_replaced_is_a_copy_with_the_fields_named_changed():
    """``Frozen.replace`` is ``dataclasses.replace``: a new record, the named fields changed, the others (and
    the original) as they were; a name that is no field is a ``TypeError``."""
    from deploycheck.audit.model import Frame, LogSpot, Traceback

    tb = Traceback("ValueError", "bad", (Frame("app/main.py", 3, "<module>"),), spot=LogSpot(5))
    cut = tb.replace(raw=("line",), truncated=True)
    assert type(cut) is Traceback and cut is not tb
    assert (cut.exc_type, cut.message, cut.frames, cut.spot, cut.raw, cut.truncated) == \
        ("ValueError", "bad", (Frame("app/main.py", 3, "<module>"),), LogSpot(5), ("line",), True)
    assert (tb.raw, tb.truncated) == ((), False) and cut != tb
    assert tb.replace() == tb and Traceback("E", "m").spot == LogSpot(0)
    with pytest.raises(TypeError, match="no field 'nope'"):
        tb.replace(nope=1)
    with pytest.raises(AttributeError):
        cut.truncated = False  # type: ignore[misc]


def test_mutable_records_compare_by_fields_are_unhashable_and_share_no_default_list():
    """The audit's mutable records (``Stats``, ``groups.Group``, ``report.Report``...) are equal when their
    fields are, are not hashable (a dataclass with ``eq`` and without ``frozen``), and each gets its own empty
    lists."""
    from deploycheck.audit.groups import Group, Grouping
    from deploycheck.audit.model import Traceback
    from deploycheck.audit.report import Report

    assert logs.Stats() == logs.Stats() and logs.Stats(lines=2) != logs.Stats()
    assert repr(logs.Stats(cut=1)) == \
        "Stats(lines=0, cut=1, skipped=0, bytes=0, lines_known=True, shapes=None)"
    with pytest.raises(TypeError, match="unhashable"):
        hash(logs.Stats())
    one, two = Group((), Traceback("E", "m")), Group((), Traceback("E", "m"))
    one.revisions.append("api-00001")
    assert two.revisions == [] and one != two and Grouping().groups is not Grouping().groups
    assert Report("a.log", False, "").verify is not Report("a.log", False, "").verify


def test_a_search_started_early_is_claimed_by_the_reader_of_that_file_only(tmp_path):
    """``search.prestart`` (the CLI, before it parses its arguments) starts the search; ``logs.read`` takes
    it for the same unchanged file, and gives the same events as a search it starts itself. A file changed
    since (a line appended) gets a search of its own, and a search nobody claimed is ended."""
    err = crash(tmp_path / "svc", CHAINED, "-m", "app.main")
    path = tmp_path / "svc.log"
    path.write_text("INFO served\n" * 3000 + err + "INFO served\n" * 100)

    def seen():
        collector = tracebacks.Collector()
        entries = logs.read(str(path), skip=logs.Skip(collector.idle, tracebacks.TRIGGERS))
        return [(type(e).__name__, e.spot.line) for e in collector.events(entries)]

    expected = seen()
    assert expected == [("Traceback", 3001)]
    search.prestart(["--format", "json", "--log", str(path)], tracebacks.TRIGGERS)
    [early] = search._started
    assert seen() == expected and search._started == [] and early.done  # claimed, and read to its end
    search.prestart([f"--log={path}"], tracebacks.TRIGGERS)
    [early] = search._started
    with path.open("a") as f:
        f.write(err)
    assert seen() == [("Traceback", 3001), ("Traceback", 3101 + len(err.splitlines()))]
    assert search._started == [] and not early.done and early.proc.poll() is not None
    search.prestart(["--log", str(path)], tracebacks.TRIGGERS)
    [early] = search._started
    search.discard()
    assert search._started == [] and early.proc.poll() is not None
    search.prestart(["--log", "-"], tracebacks.TRIGGERS)  # standard input is read, not searched
    search.prestart(["--log", str(tmp_path / "missing.log")], tracebacks.TRIGGERS)
    assert search._started == []


def test_the_search_never_blocks_on_a_named_pipe(tmp_path):
    # the log's name looked at as a regular file may be a named pipe by the time the search opens it: opened
    # plainly, a pipe nobody writes to would hold the run forever
    import threading

    from deploycheck.audit import search, triggers

    fifo = tmp_path / "app.log"
    os.mkfifo(fifo)
    program = search.searcher()
    if program is None:
        pytest.skip("neither ripgrep nor grep here")
    got = []
    worker = threading.Thread(target=lambda: got.append(search.Search(str(fifo), triggers.TRIGGERS, program)),
                              daemon=True)
    worker.start()
    worker.join(10)
    if worker.is_alive():  # a writer comes, so the blocked thread ends before the test fails
        open(fifo, "wb").close()
    assert not worker.is_alive() and got and got[0].failed


def _first_hits(path, triggers):
    """(line, offset of the leftmost trigger) of each line holding one, found here without a search program."""
    hits, offset = [], 0
    with open(path, "rb") as f:
        for number, raw in enumerate(f, 1):
            found = [i for i in (raw.find(t) for t in triggers) if i >= 0]
            if found:
                hits.append((number, offset + min(found)))
            offset += len(raw)
    return hits


def _searched(path, triggers, split):
    old = search.Search.SPLIT
    search.Search.SPLIT = 0 if split else 1 << 62
    try:
        found = search.Search(str(path), triggers, search.searcher())
    finally:
        search.Search.SPLIT = old
    hits, number = [], 0
    try:
        while (hit := found.next_after(number)) is not None:
            hits.append(hit)
            number = hit[0]
        return hits, found
    finally:
        found.close()


@pytest.mark.parametrize("shape", ["throughout", "first-half-only", "second-half-only", "at-the-middle",
                                   "two-on-a-line", "none"])
def test_a_log_searched_in_two_parts_has_the_hits_of_one_pass(tmp_path, shape):
    """Two ripgrep processes at once, one from the line start past the middle, the other from the start and
    stopped past the middle, give the line numbers and offsets one pass gives, wherever the hits lie."""
    if os.path.basename(search.searcher() or "") != "rg":
        pytest.skip("ripgrep only")
    triggers = tracebacks.TRIGGERS
    lines = [f"2024-05-01T12:00:00Z INFO request {i} served\n" for i in range(40000)]
    middle = len(lines) // 2
    marks = {"throughout": range(5, 40000, 997), "first-half-only": range(5, middle - 10, 997),
             "second-half-only": range(middle + 10, 40000, 997), "at-the-middle": [middle - 1, middle, middle + 1],
             "two-on-a-line": range(11, 40000, 1501), "none": []}[shape]
    for i in marks:
        lines[i] = ('  File "/app/x.py", line 3, in <module> Traceback (most recent call last):\n'
                    if shape == "two-on-a-line" else "[1] [INFO] Booting worker with pid: 9\n")
    path = tmp_path / "app.log"
    path.write_text("".join(lines))
    expected = _first_hits(path, triggers)
    assert len(expected) == len(marks)
    one, single = _searched(path, triggers, split=False)
    two, split = _searched(path, triggers, split=True)
    assert single.rest is None and split.rest is not None and split.middle > path.stat().st_size // 2
    assert one == two == expected and not split.failed


def test_a_long_line_across_the_middle_is_searched_in_one_pass(tmp_path):
    # no line starts within 64 KiB after the middle: the second part would start inside a line
    if os.path.basename(search.searcher() or "") != "rg":
        pytest.skip("ripgrep only")
    path = tmp_path / "app.log"
    path.write_text("Traceback (most recent call last):\n" + "x" * 300_000 + "\nGroup: 1\n")
    hits, found = _searched(path, tracebacks.TRIGGERS, split=True)
    assert found.rest is None and hits == [(1, 0), (3, 300_036)]
