"""A process tree as the host sees it (``/proc``, proc(5)): its processes, resident memory and CPU time."""

from __future__ import annotations

import os

from deploycheck import interrupt

_PAGE = os.sysconf("SC_PAGE_SIZE")
_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[bytes] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rpartition(b")")[2].split()  # the fields after the command name
    except OSError:
        return None


def descendants(root: int) -> list[int]:
    """``root`` and every process below it now (``interrupt.descendants``: from each thread's ``children``
    file, so the cost grows with the tree, not with every process of the host)."""
    return [root, *interrupt.descendants(root)]


def _pss(pid: int) -> int | None:
    """The proportional set size of ``pid`` in bytes (``/proc/PID/smaps_rollup``: shared pages divided
    among the processes sharing them, so that forked workers are not counted many times)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def sample(root: int) -> tuple[int, float, int]:
    """``(memory bytes, CPU seconds, processes)`` of the tree under ``root`` now. Memory is the sum of the
    proportional set sizes (resident size where that is unreadable); CPU seconds count the children each
    process has reaped (``cutime``, ``cstime``), so work of processes gone is kept."""
    rss = ticks = count = 0
    for pid in descendants(root):
        fields = _stat(pid)
        if fields is None or len(fields) < 22:
            continue
        count += 1
        pss = _pss(pid)
        rss += pss if pss is not None else int(fields[21]) * _PAGE  # field 24, rss, in pages
        ticks += sum(int(x) for x in fields[11:15])  # fields 14-17: utime stime cutime cstime
    return rss, ticks / _TICK, count


def child(pid: int) -> int | None:
    """The first child of ``pid`` (bwrap's program, PID 1 of the sandbox), or None."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            kids = f.read().split()
    except OSError:
        return None
    return int(kids[0]) if kids else None
