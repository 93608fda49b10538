"""The harness of the abuse tests: run the real command on hostile input and check what it must never do.

Each run is a real process tree started from a small launcher, in a sandbox of directories made for the test:
``home`` (HOME, where the user cache goes), ``tmp`` (TMPDIR: every private directory is made there),
``outside`` (files that stand for what lies beyond the project: an ``authorized_keys``, a credentials file),
and ``project``. After the run the harness reports the exit code, both streams, the peak memory of the
process tree (PSS summed over the tree, sampled every 20 ms, and the largest single process's peak RSS from
``wait4``), what is left in ``tmp``, which processes of the run are still alive, and what changed outside
the project.
"""

from __future__ import annotations

import hashlib
import os
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

# The documented bound (README, "Limits"): the whole process tree of one run stays under this.
MEMORY_BOUND_MB = 400

EXE = str(Path(sys.executable).with_name("deploycheck"))

# Linux carries a process's peak RSS across exec, so the command is started from a fresh small interpreter
# that reports the command's own peak (``ru_maxrss`` of its waited-for children) in a file.
# It ignores SIGINT and SIGTERM itself (a signal sent to the whole process group, as a terminal's Ctrl-C is,
# is for the command) and starts the command with their default actions.
_LAUNCH = ("import os, signal, sys\n"
           "stops = (signal.SIGINT, signal.SIGTERM)\n"
           "for s in stops:\n"
           "    signal.signal(s, signal.SIG_IGN)\n"
           "pid = os.posix_spawn(sys.argv[2], sys.argv[2:], os.environ, setsigdef=stops)\n"
           "while True:\n"
           "    try:\n"
           "        _, status, usage = os.wait4(pid, 0)\n"
           "        break\n"
           "    except InterruptedError:\n"
           "        continue\n"
           "with open(sys.argv[1], 'w') as f:\n"
           "    f.write(str(usage.ru_maxrss))\n"
           "sys.exit(os.waitstatus_to_exitcode(status))\n")


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
    return 0


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants alive now."""
    todo, seen = [pid], []
    while todo:
        p = todo.pop()
        if p not in seen:
            seen.append(p)
            todo.extend(_children(p))
    return seen


class _Sampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak_kb, self.pids = pid, 0, set()
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            pids = tree(self.pid)
            self.pids.update(pids)
            self.peak_kb = max(self.peak_kb, sum(_pss_kb(p) for p in pids))
            self._halt.wait(0.02)

    def stop(self) -> None:
        self._halt.set()
        self.join()


def snapshot(root: Path) -> dict[str, tuple]:
    """Every path under ``root`` (links not followed): ``(type, mode, size, sha256 or link target)``."""
    out: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, root)
            try:
                st = os.lstat(p)
            except OSError:
                continue
            mode = stat.S_IMODE(st.st_mode)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", mode, 0, os.readlink(p))
            elif stat.S_ISREG(st.st_mode):
                h = hashlib.sha256()
                with open(p, "rb") as f:
                    while chunk := f.read(1 << 20):
                        h.update(chunk)
                out[rel] = ("file", mode, st.st_size, h.hexdigest())
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", mode, 0, "")
            else:
                out[rel] = ("other", mode, 0, stat.S_IFMT(st.st_mode))
    return out


def changes(before: dict, after: dict) -> list[str]:
    """Paths added, removed or changed between two snapshots, sorted."""
    return sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))


@dataclass
class Outcome:
    """What one run did. Memory in KiB; ``left_in_tmp`` names what the run left in TMPDIR; ``alive`` the
    processes of the run still alive after it ended; ``changed_outside`` the paths that changed in the
    sandbox's ``outside`` and ``home`` (the user cache excepted)."""

    code: int
    stdout: str
    stderr: str
    peak_tree_kb: int
    max_rss_kb: int
    wall: float
    left_in_tmp: list[str]
    alive: list[int]
    changed_outside: list[str]
    changed_project: list[str] = field(default_factory=list)

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def message(self) -> str:
        """The one line on stderr."""
        return self.stderr.strip()

    def assert_safe(self, code: int | tuple[int, ...] | None = None, one_line: bool = True,
                    secrets: tuple[str, ...] = (), project_unchanged: bool = True,
                    bound_mb: int = MEMORY_BOUND_MB) -> Outcome:
        """The guarantees of every run on untrusted input; returns self for further assertions."""
        shown = f"exit {self.code}\nstdout: {self.stdout[-2000:]}\nstderr: {self.stderr[-2000:]}"
        if code is not None:
            assert self.code in ((code,) if isinstance(code, int) else code), shown
        assert "Traceback" not in self.output, shown
        assert "internal error" not in self.output, shown
        if one_line:
            assert len(self.stderr.strip().splitlines()) == 1, shown
            assert self.stderr.startswith("deploycheck: "), shown
        for s in secrets:
            assert s not in self.output, f"secret {s!r} shown:\n{shown}"
        assert self.peak_tree_kb < bound_mb * 1024, f"peak {self.peak_tree_kb // 1024} MB\n{shown}"
        assert self.max_rss_kb < bound_mb * 1024, f"max RSS {self.max_rss_kb // 1024} MB\n{shown}"
        assert not self.left_in_tmp, f"left in TMPDIR: {self.left_in_tmp}\n{shown}"
        assert not self.alive, f"processes left: {self.alive}\n{shown}"
        assert not self.changed_outside, f"changed outside the project: {self.changed_outside}\n{shown}"
        if project_unchanged:
            assert not self.changed_project, f"changed in the project: {self.changed_project}\n{shown}"
        return self


# What stands outside the project: a run must never read these into its output nor change them.
OUTSIDE_SECRET = "outside-secret-7c1e5b0d9a"
OUTSIDE_FILES = {
    ".ssh/authorized_keys": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOriginalKey user@host\n",
    ".ssh/id_ed25519": f"-----BEGIN OPENSSH PRIVATE KEY-----\n{OUTSIDE_SECRET}\n-----END OPENSSH PRIVATE KEY-----\n",
    "credentials": f"[default]\naws_secret_access_key = {OUTSIDE_SECRET}\n",
}


class Sandbox:
    """The directories of one abuse test (see the module docstring), made under ``base``."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.home = base / "home"
        self.tmp = base / "tmp"
        self.outside = base / "outside"
        self.project = base / "project"
        for d in (self.home, self.tmp, self.outside, self.project):
            d.mkdir(parents=True, exist_ok=True)
        for rel, text in OUTSIDE_FILES.items():
            p = self.outside / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text)

    def write(self, files: dict[str, str | bytes], root: Path | None = None) -> Path:
        """Write files (path relative to ``root``, the project by default -> text or bytes)."""
        root = root or self.project
        for rel, content in files.items():
            p = root / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(content if isinstance(content, bytes) else content.encode())
        return root

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.home), "TMPDIR": str(self.tmp),
               "LC_ALL": "C.UTF-8"}
        env.update(extra or {})
        return env

    def _outside_state(self) -> dict:
        snap = {f"outside/{k}": v for k, v in snapshot(self.outside).items()}
        for k, v in snapshot(self.home).items():
            if not k.startswith(".cache"):  # the user cache is the one place in HOME a run may write
                snap[f"home/{k}"] = v
        return snap

    def run(self, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 120,
            stdin: bytes | None = None, signal_at: tuple[int, float] | list[tuple[int, float]] | None = None,
            exe: str = EXE, stdout_path: str | None = None, signal_when: Callable[[int], bool] | None = None,
            signal_group: bool = False, stdout_mode: str | None = None,
            stderr_path: str | None = None) -> Outcome:
        """Run ``deploycheck ARGS`` (or ``exe ARGS``) in the sandbox. ``signal_at`` = (signal, seconds), or a
        list of them: send that signal to the command (not its process group: as ``timeout`` and Kubernetes
        do) after that long. ``signal_when(pid)``, polled every 20 ms with the command's pid, makes the
        seconds count from when it first holds (a file the run makes exists, a worker has started) rather
        than from the start. ``signal_group``: send to the whole process group instead, as a terminal's Ctrl-C
        does. ``stdout_path``: where stdout goes (``/dev/full``), else it is captured; ``stdout_mode``
        ``"closed"`` starts the command with no descriptor 1 (``>&-``), ``"stalled"`` gives it a pipe nobody
        reads (captured ``stdout`` is then empty). ``stderr_path``: where stderr goes, else captured. A run still going after
        ``timeout`` seconds is killed and fails the test: nothing may hang."""
        outside0, project0 = self._outside_state(), snapshot(self.project)
        with tempfile.NamedTemporaryFile(prefix="abuse-rss-", dir=self.base, delete=False) as pf:
            peak_file = pf.name
        out_target = open(stdout_path, "wb") if stdout_path else subprocess.PIPE  # noqa: SIM115 -- closed below
        stalled = os.pipe() if stdout_mode == "stalled" else None
        if stalled is not None:
            out_target = stalled[1]
        elif stdout_mode == "closed":
            out_target = subprocess.DEVNULL
        err_target = open(stderr_path, "wb") if stderr_path else subprocess.PIPE  # noqa: SIM115 -- closed below
        start = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-S", "-c", _LAUNCH, peak_file, exe, *map(str, args)],
                                cwd=str(cwd or self.project), env=self.env(env),
                                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                                stdout=out_target, stderr=err_target, start_new_session=True,
                                # only os.close runs between fork and exec: safe with threads
                                preexec_fn=(lambda: os.close(1)) if stdout_mode == "closed" else None)  # noqa: PLW1509
        if stalled is not None:
            os.close(stalled[1])
        sampler = _Sampler(proc.pid)
        sampler.start()
        halt = threading.Event()
        sender = None
        if signal_at is not None:
            plan = list(signal_at) if isinstance(signal_at, list) else [signal_at]

            def send() -> None:
                base = start
                if signal_when is not None:
                    while not halt.is_set():
                        kids = _children(proc.pid)
                        if kids and signal_when(kids[0]):
                            base = time.monotonic()
                            break
                        halt.wait(0.02)
                for signum, seconds in plan:
                    if halt.wait(max(base + seconds - time.monotonic(), 0)):
                        return
                    kids = _children(proc.pid)
                    try:
                        if signal_group:
                            os.killpg(proc.pid, signum)
                        elif kids:
                            os.kill(kids[0], signum)
                    except ProcessLookupError:
                        return

            sender = threading.Thread(target=send, daemon=True)
            sender.start()
        try:
            out, err = proc.communicate(stdin, timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise AssertionError(f"deploycheck {' '.join(map(str, args))}: still running after {timeout} s")
        finally:
            halt.set()
            if sender is not None:
                sender.join()
            sampler.stop()
            if stdout_path:
                out_target.close()
            if stderr_path:
                err_target.close()
            if stalled is not None:
                os.close(stalled[0])
        wall = time.monotonic() - start
        time.sleep(0.05)
        alive = [p for p in sampler.pids if p != proc.pid and os.path.exists(f"/proc/{p}")
                 and _state(p) not in ("Z", "X", "")]
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # never leave a test's process behind, whatever happened
        except ProcessLookupError:
            pass
        with open(peak_file) as f:
            max_rss = int(f.read() or 0)
        os.unlink(peak_file)
        left = sorted(os.listdir(self.tmp))
        return Outcome(proc.returncode, (out or b"").decode(errors="replace"), (err or b"").decode(errors="replace"),
                       sampler.peak_kb, max_rss, wall, left, alive,
                       changes(outside0, self._outside_state()), changes(project0, snapshot(self.project)))


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return ""
