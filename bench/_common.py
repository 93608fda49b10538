"""Shared helpers of the benchmarks: whole-process measurement, statistics, cached environments, and a
description of the machine.

Each command is measured from outside as a whole process: wall time with ``perf_counter``, CPU time and peak
resident memory from ``wait4`` (so they include the command's own child processes, such as deploycheck's
parser pool and its ruff run), and the summed proportional memory (PSS) of the whole process tree, sampled
every 50 ms from /proc. ``ru_maxrss`` is the largest single process; the sampled tree figure is what a
container limit would see. The machine's busy time from /proc/stat, less the command's own CPU time, tells
how many CPUs other processes kept busy meanwhile ("other load"): on a shared machine that is the noise.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CACHE_ROOT = Path(os.environ.get("DEPLOYCHECK_BENCH_CACHE", Path.home() / ".cache" / "deploycheck-bench"))


# --------------------------------------------------------------------------------------------- measuring


@dataclass
class Sample:
    wall: float
    user: float
    sys: float
    maxrss_kb: int  # largest single process (the command or one of its waited-for descendants)
    tree_pss_kb: int  # peak of the summed PSS of the process tree, sampled every 50 ms (0: not available)
    rc: int
    others: float = 0.0  # CPUs kept busy by other processes meanwhile, on average (from /proc/stat)

    @property
    def cpu(self) -> float:
        return self.user + self.sys


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out.extend(int(x) for x in f.read().split())
    except OSError:
        pass
    return out


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    try:  # older kernels: resident pages, shared pages counted in every process
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
    except (OSError, ValueError):
        return 0


class _TreeSampler(threading.Thread):
    def __init__(self, pid: int, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval, self.peak = pid, interval, 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            todo, total, seen = [self.pid], 0, set()
            while todo:
                p = todo.pop()
                if p in seen:
                    continue
                seen.add(p)
                total += _pss_kb(p)
                todo.extend(_children(p))
            self.peak = max(self.peak, total)
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join()


def _busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy since boot (every CPU, everything but idle and iowait)."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return 0.0
    busy = sum(fields[:8]) - fields[3] - fields[4]  # user nice system idle iowait irq softirq steal
    return busy / os.sysconf("SC_CLK_TCK")


QUIET = 0.25  # a sample is "quiet" when other processes kept fewer CPUs than this busy on average


def wait_idle(max_seconds: float, threshold: float = 0.15, window: float = 1.0) -> float:
    """Wait (at most ``max_seconds``) until the machine's CPUs are busy less than ``threshold`` CPUs over two
    consecutive windows; returns the load last seen."""
    deadline, calm, load = time.monotonic() + max_seconds, 0, 0.0
    while True:
        b0 = _busy_seconds()
        time.sleep(window)
        load = (_busy_seconds() - b0) / window
        calm = calm + 1 if load < threshold else 0
        if calm >= 2 or time.monotonic() > deadline:
            return load


# Linux carries a process's peak RSS across exec (the kernel keeps the larger of the old and new memory's high
# water mark) and subprocess starts children with vfork, so a child's ru_maxrss would include this script's own
# peak. Commands are started from a fresh, small interpreter that reports the command's peak alone (in a file,
# since the command's output is the command's).
LAUNCH = ("import os, sys\n"
          "pid = os.posix_spawnp(sys.argv[2], sys.argv[2:], os.environ)\n"
          "_, status, usage = os.wait4(pid, 0)\n"
          "with open(sys.argv[1], 'w') as f:\n"
          "    f.write(str(usage.ru_maxrss))\n"
          "sys.exit(os.waitstatus_to_exitcode(status))\n")


def measure(cmd: list[str], cwd: str | Path | None = None, env: dict | None = None,
            stdout: str | Path | None = None, timeout: float = 3600) -> Sample:
    """Run ``cmd`` once; its output goes to the file ``stdout`` (both streams), else to /dev/null (which some
    programs notice: GNU grep then stops at its first match, like ``-q``; give such a command a file). Peak RSS
    is the command's own (see ``LAUNCH``), with a floor of the launcher's (about 8 MB: posix_spawn is a vfork
    too); CPU time and the process tree's PSS include the small launcher."""
    out = open(stdout, "wb") if stdout else subprocess.DEVNULL
    peak_file = tempfile.NamedTemporaryFile(prefix="dc-bench-rss-", delete=False)
    peak_file.close()
    try:
        busy0 = _busy_seconds()
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-S", "-c", LAUNCH, peak_file.name, *map(str, cmd)], cwd=cwd,
                                env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        sampler = _TreeSampler(proc.pid)
        sampler.start()
        timer = threading.Timer(timeout, lambda: os.killpg(proc.pid, signal.SIGKILL))
        timer.start()
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        busy = _busy_seconds() - busy0
        timer.cancel()
        sampler.stop()
        proc.returncode = os.waitstatus_to_exitcode(status)
        with open(peak_file.name) as f:
            maxrss = int(f.read() or 0)
    finally:
        if stdout:
            out.close()
        os.unlink(peak_file.name)
    others = max(0.0, busy - ru.ru_utime - ru.ru_stime) / wall if wall > 0 else 0.0
    return Sample(wall, ru.ru_utime, ru.ru_stime, maxrss, sampler.peak, proc.returncode, others)


@dataclass
class Series:
    """The samples of one benchmark row."""

    name: str
    command: str
    samples: list[Sample] = field(default_factory=list)
    note: str = ""
    extra: dict = field(default_factory=dict)

    def median(self, attr: str = "wall") -> float:
        return statistics.median(getattr(s, attr) for s in self.samples)

    def spread(self, attr: str = "wall") -> tuple[float, float]:
        vals = [getattr(s, attr) for s in self.samples]
        return min(vals), max(vals)

    def quiet(self) -> list[Sample]:
        return [s for s in self.samples if s.others < QUIET]

    def quiet_median(self) -> float | None:
        q = self.quiet()
        return statistics.median(s.wall for s in q) if q else None

    def peak(self, attr: str) -> int:
        return max(getattr(s, attr) for s in self.samples)

    def to_json(self) -> dict:
        return {"name": self.name, "command": self.command, "note": self.note, "extra": self.extra,
                "samples": [asdict(s) | {"cpu": s.cpu} for s in self.samples]}


def fmt_s(x: float) -> str:
    return f"{x:.3f}" if x < 1 else f"{x:.2f}" if x < 100 else f"{x:.0f}"


def fmt_mb(kb: int) -> str:
    return f"{kb / 1024:.0f}" if kb else "-"


def table(rows: list[Series]) -> str:
    """A Markdown table: wall time (all runs, quiet runs), CPU time, peak memory, other load, exit codes."""
    lines = [("| benchmark | runs | wall s, median (min-max) | wall s, quiet runs: median (n) "
              "| CPU s, median | peak RSS MB (largest process) | peak PSS MB (process tree) "
              "| other load (CPUs) | exit |"),
             "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        if not r.samples:
            continue
        lo, hi = r.spread()
        rcs = ",".join(sorted({str(s.rc) for s in r.samples}))
        qm = r.quiet_median()
        quiet = f"{fmt_s(qm)} ({len(r.quiet())})" if qm is not None else "- (0)"
        lines.append(f"| {r.name} | {len(r.samples)} | {fmt_s(r.median())} ({fmt_s(lo)}-{fmt_s(hi)}) "
                     f"| {quiet} | {fmt_s(r.median('cpu'))} | {fmt_mb(r.peak('maxrss_kb'))} "
                     f"| {fmt_mb(r.peak('tree_pss_kb'))} | {r.median('others'):.2f} | {rcs} |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------- environments


def run_quiet(cmd: list[str], what: str, cwd: str | Path | None = None, timeout: float = 1800) -> str:
    """Run a set-up step; on failure print its output and stop the benchmark."""
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        sys.stderr.write(f"{what} failed ({' '.join(cmd)}):\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}\n")
        raise SystemExit(2)
    return proc.stdout


def cached_venv(name: str, requirements: list[str]) -> Path:
    """A virtual environment of this interpreter with ``requirements`` installed by pip, under the benchmark
    cache, keyed by the requirement list and the interpreter version. Returns its python."""
    key = hashlib.sha256(json.dumps([sorted(requirements), sys.version]).encode()).hexdigest()[:12]
    target = CACHE_ROOT / "venvs" / f"{name}-{key}"
    python = target / "bin" / "python"
    CACHE_ROOT.mkdir(parents=True, exist_ok=True)
    with open(CACHE_ROOT / f"venv-{name}-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / ".complete").exists():
            print(f"  creating {name} environment: {' '.join(requirements)}", flush=True)
            shutil.rmtree(target, ignore_errors=True)
            run_quiet([sys.executable, "-m", "venv", str(target)], "venv")
            run_quiet([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                       *requirements], f"pip install into {name}")
            (target / "requirements.json").write_text(json.dumps(requirements))
            (target / ".complete").touch()
    return python


def site_packages(python: Path | str) -> str:
    return str(next(Path(python).parent.parent.glob("lib/python3*/site-packages")))


def dist_versions(python: Path | str, names: list[str]) -> dict[str, str]:
    code = ("import json, sys\nfrom importlib.metadata import version, PackageNotFoundError\nout = {}\n"
            "for n in sys.argv[1:]:\n    try: out[n] = version(n)\n"
            "    except PackageNotFoundError: out[n] = None\nprint(json.dumps(out))")
    return json.loads(run_quiet([str(python), "-c", code, *names], "version query"))


def deploycheck_command() -> list[str]:
    exe = Path(sys.executable).with_name("deploycheck")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "deploycheck"]


# ------------------------------------------------------------------------------------------- machine


def machine() -> dict:
    info: dict = {"nproc": os.cpu_count(), "python": platform.python_version(), "kernel": platform.release(),
                  "date": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
    try:
        with open("/proc/cpuinfo") as f:
            info["cpu"] = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "?")
    except OSError:
        info["cpu"] = platform.processor() or "?"
    try:
        with open("/proc/meminfo") as f:
            kb = int(next(ln for ln in f if ln.startswith("MemTotal")).split()[1])
        info["memory_gib"] = round(kb / 1024 / 1024, 1)
    except (OSError, StopIteration, ValueError):
        pass
    try:
        info["load_avg"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    import deploycheck

    where = Path(deploycheck.__file__).resolve().parent
    if where == REPO / "src" / "deploycheck":
        try:
            rev = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                                 capture_output=True, text=True).stdout.strip()
            dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "src"],
                                   capture_output=True, text=True).stdout.strip()
            info["deploycheck"] = f"commit {rev}" + (" (src/ has uncommitted changes)" if dirty else "")
        except OSError:
            pass
    else:
        info["deploycheck"] = f"{deploycheck.__version__} installed at {where} (not this checkout's src/)"
    info["deploycheck_analyzer"] = deploycheck.ANALYZER_VERSION
    return info


def describe_machine(info: dict) -> str:
    return (f"{info['date']}; {info['nproc']} CPUs ({info['cpu']}), {info.get('memory_gib', '?')} GiB, "
            f"Linux {info['kernel']}, Python {info['python']}, load average at start {info.get('load_avg')}, "
            f"deploycheck {info.get('deploycheck', '?')} (analyzer {info.get('deploycheck_analyzer')})")
