"""`deploycheck audit` benchmark: a generated log (1 GiB by default) read by ``deploycheck audit`` against
``grep -c Traceback`` on the same file, in the same run, rounds interleaved, each writing its output to a file
(grep's count checked against the log's). Target (issue 12): within 1.5x of
grep's wall time, with memory that does not grow with the log.

The log is what a crash-looping service behind a busy load balancer writes with ``kubectl logs
--timestamps``: access-log lines, and every few thousand of them a gunicorn worker that boots, crashes on
import with a real traceback (captured once from a real ``python`` run), and gives up. It is generated once
and cached under ``~/.cache/deploycheck-bench/audit`` (or ``$DEPLOYCHECK_BENCH_CACHE``), keyed by its size.

    .venv/bin/python bench/audit.py [--size-mb 1024] [--runs 3] [--wait-idle SECONDS]
    .venv/bin/python bench/audit.py --quick     # 200 MiB, 1 round
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from _common import CACHE_ROOT, Series, deploycheck_command, machine, measure, table, wait_idle

CRASHING = {"wsgi.py": "from app.settings import conf\napplication = None\n", "app/__init__.py": "",
            "app/settings.py": "import os\n\nconf = {'db': DATABSE_URL}\n"}


def real_traceback() -> str:
    """The stderr of a real import-time crash (``python -c 'import wsgi'`` on a misspelt setting)."""
    with tempfile.TemporaryDirectory(prefix="dc-bench-audit-") as tmp:
        for rel, text in CRASHING.items():
            path = Path(tmp) / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        proc = subprocess.run([sys.executable, "-c", "import wsgi"], cwd=tmp, capture_output=True, text=True,
                              check=False)
    assert "NameError" in proc.stderr, proc.stderr
    return proc.stderr.replace(tmp, "/app")


def generate(path: Path, size: int) -> None:
    """Write a log of about ``size`` bytes to ``path`` (through a temporary name, renamed when complete)."""
    rng = random.Random(12)
    crash = real_traceback()
    part = path.with_suffix(".part")
    second = 0
    pid = 7
    with part.open("w") as f:
        while f.tell() < size:
            lines = []
            for _ in range(5000):
                second += 1
                stamp = f"2024-05-01T{second // 3600 % 24:02d}:{second // 60 % 60:02d}:{second % 60:02d}.{rng.randrange(10**9):09d}Z"
                lines.append(f'{stamp} 10.0.{rng.randrange(256)}.{rng.randrange(256)} - - "GET /api/items/'
                             f'{rng.randrange(10**6)} HTTP/1.1" 200 {rng.randrange(10**5)} "-" "python-httpx/0.27"\n')
            stamp = f"2024-05-01T{second // 3600 % 24:02d}:{second // 60 % 60:02d}:{second % 60:02d}.000000000Z"
            pid += 1  # each worker gunicorn boots has a pid of its own
            lines.append(f"{stamp} [2024-05-01 00:00:00 +0000] [{pid}] [INFO] Booting worker with pid: {pid}\n")
            lines += [f"{stamp} {line}\n" for line in crash.splitlines()]
            lines.append(f"{stamp} [2024-05-01 00:00:00 +0000] [1] [ERROR] Reason: Worker failed to boot.\n")
            f.write("".join(lines))
    part.rename(path)


def traceback_lines(log: Path) -> int:
    """How many lines of ``log`` hold "Traceback", counted here (what ``grep -c Traceback`` must print)."""
    data = log.read_bytes()  # the bench's own process, once; the commands measured stream the file
    count, at, line_end = 0, data.find(b"Traceback"), -1
    while at >= 0:
        if at > line_end:  # a line with two is one line for grep -c
            count += 1
            line_end = data.find(b"\n", at)
            if line_end < 0:
                break
        at = data.find(b"Traceback", at + 1)
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="200 MiB, 1 round")
    parser.add_argument("--wait-idle", type=float, default=0, metavar="SECONDS",
                        help="before each round, wait up to SECONDS for the CPUs to be idle")
    args = parser.parse_args()
    if args.quick:
        args.size_mb, args.runs = 200, 1
    cache = CACHE_ROOT / "audit"
    cache.mkdir(parents=True, exist_ok=True)
    log = cache / f"service-{args.size_mb}m-v2.log"  # v2: a pid per worker (v1 repeated pid 7)
    if not log.exists():
        print(f"generating {log} ...", file=sys.stderr)
        generate(log, args.size_mb * 2**20)
    grep = Series("grep -c Traceback", f"grep -c Traceback {log.name}")
    audit = Series("deploycheck audit", f"deploycheck audit --log {log.name} --format json")
    # deploycheck as installed from a wheel: its bytecode compiled (PYTHONDONTWRITEBYTECODE would otherwise make
    # every run compile the modules it imports again)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "src" / "deploycheck")],
                   stdout=subprocess.DEVNULL, check=True)
    expected = traceback_lines(log)  # also warms the page cache: both commands start from it
    with tempfile.TemporaryDirectory(prefix="dc-bench-audit-") as tmp:
        # Both outputs go to a file. Not to /dev/null: GNU grep, seeing its output is /dev/null, stops at the
        # first match as with -q (grep.c, "dev_null_output"), and would be timed reading a few kilobytes.
        counted, report = Path(tmp) / "grep.out", Path(tmp) / "audit.json"
        for _ in range(args.runs):
            if args.wait_idle:
                wait_idle(args.wait_idle)
            grep.samples.append(measure(["grep", "-c", "Traceback", str(log)], stdout=counted))
            printed = counted.read_text().strip()
            if printed != str(expected):
                raise SystemExit(f"grep -c Traceback printed {printed!r}, the log has {expected} such lines")
            audit.samples.append(measure([*deploycheck_command(), "audit", "--log", str(log), "--format", "json"],
                                         stdout=report))
    info = machine()
    print(f"log: {log.stat().st_size / 2**20:.0f} MiB, {args.runs} rounds; {info['nproc']} CPUs ({info['cpu']}), "
          f"load average at the end {info.get('load_avg')}, deploycheck {info.get('deploycheck', '?')}\n")
    print(table([grep, audit]))
    ratio = audit.median() / grep.median()
    print(f"\ndeploycheck audit / grep -c Traceback, median wall time: {ratio:.1f}x (target: under 1.5x)")
    print(f"peak memory of deploycheck audit: {audit.peak('maxrss_kb') / 1024:.0f} MB "
          f"for a {log.stat().st_size / 2**20:.0f} MiB log")
    codes = {s.rc for s in audit.samples}
    if codes != {1}:
        print(f"unexpected exit codes of deploycheck audit: {sorted(codes)} (1: a crash reported)")


if __name__ == "__main__":
    main()
