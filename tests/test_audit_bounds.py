"""audit: hostile and large logs stay within bounded memory and never end in a traceback of ours."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import cli

from deploycheck.audit import groups, logs, tracebacks


def test_deeply_nested_json_line_is_text(tmp_path):
    log = tmp_path / "nested.log"
    log.write_text("{" + '"a":[' * 30000 + "\n" + "[" * 60000 + "\n")
    code, out, err = cli("audit", "--log", log)
    assert code == 0 and "No Python traceback" in out, err
    array = tmp_path / "array.json"
    array.write_text("[" + "[" * 100000 + "]" * 100000 + "]\n")
    code, _, err = cli("audit", "--log", array)
    assert code in (0, 2) and "Traceback" not in err and "internal error" not in err


def test_many_streams_each_with_an_open_traceback_are_bounded(tmp_path, monkeypatch):
    # 300 instances each printing a traceback whose lines are long, none finished before the next starts
    log = tmp_path / "streams.jsonl"
    with log.open("w") as f:
        for line in range(60):
            for instance in range(300):
                text = "Traceback (most recent call last):" if line == 0 else \
                    f'  File "/app/m{line}.py", line {line}, in f' if line % 2 else "    x = '" + "y" * 3000 + "'"
                f.write(json.dumps({"textPayload": text, "labels": {"instanceId": f"i-{instance}"},
                                    "resource": {"labels": {"revision_name": "api-1"}}}) + "\n")
        for instance in range(300):
            f.write(json.dumps({"textPayload": "ValueError: boom", "labels": {"instanceId": f"i-{instance}"},
                                "resource": {"labels": {"revision_name": "api-1"}}}) + "\n")
    grouping = groups.group(tracebacks.collect(logs.read(str(log))))
    assert grouping.crashes == 300
    finished = [g for g in grouping.groups if g.sample.exc_type == "ValueError"]
    cut = [g for g in grouping.groups if g.sample.exc_type == ""]
    # the streams closed early to stay within the bound are cut short, said so; the rest end as ValueError
    assert finished and sum(g.count for g in finished) + sum(g.count for g in cut) == 300
    assert all(g.sample.truncated for g in cut)
    closed_by_count = sum(g.count for g in cut)
    # with less room for open tracebacks, more are closed early; none is lost
    monkeypatch.setattr(tracebacks, "MAX_HELD", 2_000_000)
    tight = groups.group(tracebacks.collect(logs.read(str(log))))
    assert tight.crashes == 300
    assert sum(g.count for g in tight.groups if g.sample.exc_type == "") > closed_by_count


def _peak_rss_mb(args: list[str]) -> tuple[int, float]:
    """Run ``deploycheck ARGS`` in a child and return its exit code and peak resident memory in MiB."""
    exe = str(Path(sys.executable).with_name("deploycheck"))
    probe = ("import resource, subprocess, sys\n"
             "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode\n"
             "print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)\n")
    out = subprocess.run([sys.executable, "-c", probe, exe, *args], capture_output=True, text=True, check=True,
                         timeout=600).stdout.split()
    return int(out[0]), float(out[1])


def test_a_log_larger_than_the_memory_it_takes(tmp_path):
    log = tmp_path / "big.log"
    chunk = ("x" * 200_000 + "\n") * 50  # lines longer than MAX_LINE: each is cut, the rest skipped
    crash = ("Traceback (most recent call last):\n  File \"/app/main.py\", line 3, in <module>\n"
             "    boot()\nRuntimeError: boom\n")
    with log.open("w") as f:
        for _ in range(25):
            f.write(chunk)
            f.write(crash)
    size_mb = log.stat().st_size / 2**20
    assert size_mb > 230
    code, peak = _peak_rss_mb(["audit", "--log", str(log), "--format", "json"])
    assert code == 1
    assert peak < 150, f"{peak:.0f} MiB for a {size_mb:.0f} MiB log"


def test_exception_groups_nested_past_any_real_depth(tmp_path):
    # what CPython would print for groups nested 1500 deep, were it not limited to 10
    lines = []
    for depth in range(1500):
        pad = "  " * depth
        lines += [f"{pad}  | ExceptionGroup: level {depth} (1 sub-exception)", f"{pad}  +-+---------------- 1 ----------------"]
    lines.append("  " * 1500 + "  | ValueError: bottom")
    log = tmp_path / "deep.log"
    log.write_text("\n".join(lines) + "\n")
    code, out, err = cli("audit", "--log", log, "--format", "json")
    assert code == 1 and "internal error" not in err, err
    assert json.loads(out)["groups"][0]["exc_type"] == "ExceptionGroup"


def test_long_words_in_messages_are_redacted_without_backtracking(tmp_path):
    # a message of long words built of secret-looking names: the redaction must stay linear in them
    word = "token" * 800
    lines = ["Traceback (most recent call last):", '  File "/app/main.py", line 1, in <module>',
             f"ValueError: {word}", *([word] * 90), f"api_token={'a1' * 20}"]
    log = tmp_path / "words.log"
    log.write_text("\n".join(lines) + "\n")
    code, out, err = cli("audit", "--log", log, "--format", "json")
    assert code == 1, err
    assert "a1a1a1a1" not in out


def test_a_line_cut_short_never_shows_half_a_secret(tmp_path):
    # an adversary's log: the cut at MAX_TRACEBACK_LINE went through a URL's password, which then lacked its
    # '@' and was shown nearly whole by every report format
    for pad in (4058, 4064, 4070):
        log = tmp_path / f"l{pad}.log"
        log.write_text("Traceback (most recent call last):\n  File \"/app/a.py\", line 1, in <module>\n    x\n"
                       f"ValueError: {'B' * pad} https://bob:BOBPASSWORDXYZ@host/\n")
        for fmt in ("text", "json", "markdown", "html"):
            code, out, _ = cli("audit", "--log", str(log), "--no-rules", "--format", fmt)
            assert code == 1 and "BOBPASS" not in out, (pad, fmt)
    assert tracebacks.MAX_TRACEBACK_LINE < 4058 + len("ValueError: ") + 40
