"""audit: a run of lines read before is replayed (``repeats``), and gives exactly the events reading every
line gives, at its own lines and timestamps. Real crashes of real programs, repeated as a crash loop does."""

from __future__ import annotations

import json
import random
import subprocess
import sys

import pytest
from audit_crash import crash
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deploycheck.audit import logs, repeats, tracebacks
from deploycheck.audit.tracebacks import Note

BOOT = {"wsgi.py": "from app.settings import conf\n", "app/__init__.py": "",
        "app/settings.py": "import os\n\nconf = {'db': DATABSE_URL}\n"}
CHAINED = {"m.py": "def f():\n    try:\n        {}['k']\n    except KeyError as e:\n"
                   "        raise RuntimeError('no key') from e\nf()\n"}


def stamp(second: int, frac: str = ".123456789") -> str:
    return f"2024-05-01T{second // 3600 % 24:02d}:{second // 60 % 60:02d}:{second % 60:02d}{frac}Z"


def seen(path, replay: bool, since: str | None = None):
    """Every event of the log with its spot, and how many replays stood for lines."""
    collector = tracebacks.Collector()
    skip = logs.Skip(collector.idle, tracebacks.TRIGGERS, collector.runs if replay else None)
    count = [0]

    def counted():
        for entry in logs.read(str(path), since=since, skip=skip):
            count[0] += entry.__class__ is repeats.Replay
            yield entry

    out = []
    for e in collector.events(counted()):
        detail = (e.kind, e.text, e.key) if isinstance(e, Note) else (e.exc_type, e.message, e.raw, e.truncated)
        out.append((type(e).__name__, e.spot, detail))
    return out, count[0]


def crash_loop(tmp_path, err: str, rounds: int, stamped: bool = True, vary=None,
               fracs=("", ".5", ".123456", ".123456789")) -> str:
    rng = random.Random(3)
    parts, second = [], 0
    for r in range(rounds):
        for _ in range(rng.randint(1, 30)):
            second += 1
            lead = f"{stamp(second)} " if stamped else ""
            parts.append(f"{lead}10.0.0.{rng.randrange(256)} GET /items/{rng.randrange(999)} 200\n")
        second += 1
        frac = rng.choice(fracs)
        block = [f"[{r}] [INFO] Booting worker with pid: 7", *err.splitlines(),
                 "[1] [ERROR] Reason: Worker failed to boot."]
        if vary is not None:
            block = vary(r, block)
        for line in block:  # each line its own time: an event's spot is its own line's, not its run's first
            second += 1
            parts.append(f"{stamp(second, frac)} {line}\n" if stamped else f"{line}\n")
    return "".join(parts)


@pytest.mark.parametrize("stamped", [True, False])
def test_a_crash_loop_is_replayed_to_the_same_events(tmp_path, stamped):
    err = crash(tmp_path / "svc", BOOT, "-c", "import wsgi")
    path = tmp_path / "loop.log"
    path.write_text(crash_loop(tmp_path, err, 300, stamped))
    slow, none = seen(path, replay=False)
    fast, replays = seen(path, replay=True)
    assert none == 0 and fast == slow
    assert len([e for e in slow if e[0] == "Traceback"]) == 300
    # the boot line names its round ([r]), so only the traceback and its closing line repeat: all but the
    # first round's are replays, minus those read before the log's order could be judged (timestamps)
    assert replays >= 300 - 1 - (200 // 12 if stamped else 0)
    if stamped:
        stamps = [e[1].timestamp for e in fast if e[0] == "Traceback"]
        assert len(set(stamps)) == 300  # each crash its own time, from its own line


def test_lines_that_differ_past_the_timestamp_are_not_replayed(tmp_path):
    """A message that changes (a request id), an extra space after the timestamp, a non-ASCII byte: each is
    read line by line, so its events are its own."""
    err = crash(tmp_path / "svc", CHAINED, "m.py")

    def vary(r, block):
        block = list(block)
        if r % 3 == 1:
            block[-2] = block[-2] + f" (request {r})"  # the exception's message
        if r % 3 == 2:
            block[2] = " " + block[2]
        if r % 5 == 4:
            block[3] = block[3] + " é"
        return block

    path = tmp_path / "loop.log"
    path.write_text(crash_loop(tmp_path, err, 60, vary=vary))
    slow, _ = seen(path, replay=False)
    fast, replays = seen(path, replay=True)
    assert fast == slow and replays > 0
    messages = [e[2][1] for e in fast if e[0] == "Traceback"]
    assert sum("(request " in m for m in messages) == 20


def test_digits_that_change_in_the_text_are_not_a_repeat(tmp_path):
    """Timestamps of one width and a message whose number changes at the same width: the lines have the
    run's shape (digits where it has digits) and still other texts, each read and reported as its own."""
    err = crash(tmp_path / "svc", CHAINED, "m.py")

    def vary(r, block):  # and the message's second line starts with a digit that changes
        return [*block[:-2], block[-2] + f" (request {1000 + r // 3 % 7})", f"{r % 3} retries left", block[-1]]

    path = tmp_path / "loop.log"
    path.write_text(crash_loop(tmp_path, err, 70, vary=vary, fracs=(".123456789",)))
    slow, _ = seen(path, replay=False)
    fast, replays = seen(path, replay=True)
    assert fast == slow and replays >= 40  # each of the 21 texts comes round every 21st crash
    messages = [e[2][1] for e in fast if e[0] == "Traceback"]
    assert messages == [f"no key (request {1000 + r // 3 % 7})\n{r % 3} retries left" for r in range(70)]


def test_a_timestamp_whose_space_belongs_to_the_text_is_not_a_repeat(tmp_path):
    """``2024-...Z  msg`` (two spaces) and ``2024-...Z msg`` differ in their text (" msg" and "msg"): the
    reader takes one space with the timestamp, so a run of the first is no replay of the second."""
    err = crash(tmp_path / "svc", CHAINED, "m.py")
    lines = err.splitlines()
    one = "".join(f"{stamp(i)} {line}\n" for i, line in enumerate(lines))
    two = "".join(f"{stamp(100 + i)}  {line}\n" for i, line in enumerate(lines))
    path = tmp_path / "spaces.log"
    up = f"{stamp(99)} INFO up\n"  # no traceback open after it: each traceback is a run of its own
    # each repeats: the second time through ``split``, then line by line against the run (``Run.at``)
    path.write_text("".join(f"{stamp(i)} INFO up\n" for i in range(300)) + (one + up + two + up) * 3)
    slow, _ = seen(path, replay=False)
    fast, replays = seen(path, replay=True)
    assert fast == slow and replays == 4
    raws = [e[2][2] for e in fast if e[0] == "Traceback"]
    assert raws[0] == raws[2] == raws[4] and raws[1] == raws[3] == raws[5] != raws[0]
    assert raws[1][0].startswith(" Traceback")


def test_since_and_crlf(tmp_path):
    err = crash(tmp_path / "svc", BOOT, "-c", "import wsgi")
    text = crash_loop(tmp_path, err, 40)
    path = tmp_path / "crlf.log"
    path.write_bytes(text.replace("\n", "\r\n").encode())
    slow, _ = seen(path, replay=False)
    fast, replays = seen(path, replay=True)
    assert fast == slow and replays > 20
    later = stamp(400)
    slow, _ = seen(path, replay=False, since=later)
    fast, replays = seen(path, replay=True, since=later)
    assert fast == slow and replays == 0 and 0 < len(fast) < 120  # --since: every line compared with it


def test_the_runs_kept_are_bounded(tmp_path):
    """Distinct crashes past ``KEPT`` push the oldest runs out; what is kept stays within its bounds."""
    err = crash(tmp_path / "svc", CHAINED, "m.py")

    def vary(r, block):
        return [*block[:-2], block[-2] + f" #{r % (repeats.KEPT + 10)}", block[-1]]

    path = tmp_path / "many.log"
    path.write_text(crash_loop(tmp_path, err, 3 * (repeats.KEPT + 10), vary=vary))
    collector = tracebacks.Collector()
    slow, _ = seen(path, replay=False)
    fast, _ = seen(path, replay=True)
    assert fast == slow
    entries = logs.read(str(path), skip=logs.Skip(collector.idle, tracebacks.TRIGGERS, collector.runs))
    list(collector.events(entries))
    kept = collector.runs.kept
    assert len(kept) == repeats.KEPT and sum(collector.runs.heads.values()) == repeats.KEPT
    assert sum(collector.runs.lengths.values()) == repeats.KEPT
    assert all(len(r.raws) <= repeats.MAX_RUN_LINES for r in kept.values())


def test_split_takes_off_what_the_reader_takes_off():
    """``repeats.split`` gives the timestamp and text the reader gives (``logs._Plain``), or None."""
    plain = logs._Plain(logs.Stats())
    for raw in [b"2024-05-01T12:00:00Z hello\n", b"2024-05-01T12:00:00.5+02:00 x\r\n", b"2024-05-01 12:00:00 x\n",
                b"2024-05-01T12:00:00Z  two spaces\n", b"plain line\n", b"1234 not a time\n",
                b"2024-05-01T12:00:00Zhello\n"]:
        stamp_, rest = repeats.split(raw)
        entry = plain.entry(1, raw.decode().rstrip("\r\n"))
        assert (stamp_, rest.decode().rstrip("\r\n")) == (entry.spot.timestamp, entry.text)
    for raw in [b'{"message": "x"}\n', b"[pod/a/b] x\n", b"no newline", b"x" * (logs.MAX_LINE + 1) + b"\n",
                "2024-05-01T12:00:00Z é\n".encode(), "٢٠٢٤-05-01T12:00:00Z x\n".encode()]:
        assert repeats.split(raw) is None


@pytest.fixture(scope="module")
def blocks(tmp_path_factory):
    """Lines a crash-looping service writes: real tracebacks (a boot crash, a chained one, a SyntaxError
    without its header, an exception group) and server notes, each a list of lines."""
    root = tmp_path_factory.mktemp("crashes")
    group = {"g.py": "raise ExceptionGroup('eg', [ValueError(1), TypeError(2)])\n"}
    syntax = {"bad.py": "x = 1\ndef f(:\n    pass\n"}
    return [crash(root / "boot", BOOT, "-c", "import wsgi").splitlines(),
            crash(root / "chained", CHAINED, "m.py").splitlines(),
            crash(root / "syntax", syntax, "bad.py").splitlines(),
            crash(root / "group", group, "g.py").splitlines(),
            ["[1] [INFO] Booting worker with pid: 9"], ["[1] [ERROR] Reason: Worker failed to boot."],
            ["INFO:     Application startup complete."], ["GET /items 200"], [""], ["  indented"]]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_replays_give_what_reading_every_line_gives(blocks, tmp_path, data):
    """Any sequence of those blocks, each line with or without a timestamp (fractions of any length, one or
    two spaces after it), CRLF or not: the events with replays are those of reading every line."""
    picks = data.draw(st.lists(st.integers(0, len(blocks) - 1), min_size=1, max_size=40))
    stamping = data.draw(st.sampled_from(["none", "all", "mixed"]))
    crlf = data.draw(st.booleans())
    lines, second = [], 0
    for i in picks:
        for line in blocks[i]:
            second += 1
            if stamping == "all" or stamping == "mixed" and data.draw(st.booleans()):
                frac = data.draw(st.sampled_from(["", ".5", ".123456789", ",25"]))
                gap = data.draw(st.sampled_from([" ", "  ", ""]))
                line = f"{stamp(second, frac)}{gap}{line}"
            lines.append(line)
    path = tmp_path / f"log-{len(picks)}-{second}.txt"
    path.write_bytes(("\r\n" if crlf else "\n").join(lines).encode() + b"\n")
    assert seen(path, replay=True)[0] == seen(path, replay=False)[0]


def test_tracebacks_back_to_back_keep_no_growing_run(tmp_path):
    """A script restarted in a loop with its stderr appended to one file prints tracebacks back to back: the
    collector is never idle between them, so the run being read never ends. It stops being kept at
    ``MAX_RUN_LINES`` lines or ``MAX_RUN_BYTES`` bytes: it held every line of the log (146 MB of memory for
    a 40 MiB log, 48 MB for 10 MiB); the audit of 24 MiB stays within what a small log takes."""
    err = crash(tmp_path / "svc", CHAINED, "m.py")
    path = tmp_path / "loop.log"
    path.write_text(err * (24 * 2**20 // len(err)))
    # the peak of this process's own memory (VmHWM): ru_maxrss would also count the parent's, which an exec
    # carries over (a test runner's 100 MB)
    script = ("import sys\n"
              "from deploycheck.cli import main\n"
              "code = main(['audit', '--log', sys.argv[1], '--format', 'json'])\n"
              "peak = [line for line in open('/proc/self/status') if line.startswith('VmHWM:')][0]\n"
              "print(peak.split()[1], file=sys.stderr)\n"
              "sys.exit(code)\n")
    proc = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)["crashes"] == 24 * 2**20 // len(err)
    assert int(proc.stderr.split()[-1]) < 40 * 1024, proc.stderr[-2000:]  # KiB


def test_standard_input_read_from_past_its_start(tmp_path):
    """``{ read -r first; deploycheck audit --log -; } < app.log``: standard input is the file, already
    read past its start. A run looked for past the buffer is read and then sought back relatively (an
    absolute seek sent the reader back over lines already read: more crashes than the file held)."""
    err = crash(tmp_path / "svc", BOOT, "-c", "import wsgi")
    path = tmp_path / "loop.log"
    path.write_text(crash_loop(tmp_path, err, 3000))  # 4 MB: runs cross the reader's 1 MiB buffer
    data = path.read_bytes()
    skip = data.index(b"\n", len(data) // 3) + 1
    script = ("import os, sys\n"
              f"os.lseek(0, {skip}, os.SEEK_SET)\n"
              "from deploycheck.cli import main\n"
              "sys.exit(main(['audit', '--log', '-', '--format', 'json']))\n")
    with path.open("rb") as stdin:
        proc = subprocess.run([sys.executable, "-c", script], stdin=stdin, capture_output=True, timeout=120,
                              check=False)
    tail = tmp_path / "tail.log"
    tail.write_bytes(data[skip:])
    with tail.open("rb") as stdin:
        whole = subprocess.run([sys.executable, "-c", script.replace(f"{skip}", "0")], stdin=stdin,
                               capture_output=True, timeout=120, check=False)
    got, want = json.loads(proc.stdout), json.loads(whole.stdout)
    assert got["crashes"] == want["crashes"] == data[skip:].count(b"Traceback (most recent")
    assert got["lines_read"] == want["lines_read"] and got["bytes_read"] == want["bytes_read"]
