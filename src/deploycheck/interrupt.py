"""Stopping on SIGINT and SIGTERM, with no child process left behind.

SIGINT (Ctrl-C) and SIGTERM (what CI cancellation, ``timeout`` and Kubernetes send) raise ``Interrupted`` in
the main thread, once: the run unwinds through its ``finally`` blocks and the CLI removes every private
directory and exits 128 + the signal number (130, 143), the status a shell gives a command a signal ended.
Before raising, the handler kills (SIGKILL) every process the run started and has not reaped: the
interpreter probe, ruff, git, skopeo, the parse workers. A child may be busy for minutes (a worker parsing a
huge module, skopeo copying a layer) and the run must neither wait for it nor leave it running. Later
signals are only recorded: a second Ctrl-C while cleaning up cannot cut the cleanup short nor print a
traceback. An ``Interrupted`` raised where Python cannot propagate it (a ``__del__`` method, a weakref
callback: the import system has some) is raised again 20 ms later, from SIGALRM, until it lands.

Processes forked by the run (the ``ProcessPoolExecutor`` parse workers, started by ``fork``) ignore SIGINT
(a terminal sends it to the whole foreground process group: the parent decides, and a worker's
KeyboardInterrupt would print a traceback), take the default action of SIGTERM, and on Linux ask the kernel
to kill them when the parent dies (``prctl(PR_SET_PDEATHSIG)``, prctl(2)), so none outlives a parent killed
by SIGKILL.
"""

from __future__ import annotations

import os
import signal
import sys

SIGNALS = (signal.SIGINT, signal.SIGTERM)

_main_pid: int | None = None  # the process that installed the handlers (forked children inherit them)
_received: int | None = None  # the first signal received
_raising = False  # whether the first signal raises Interrupted (False once the run is cleaning up)
_lost = False  # the Interrupted raised was swallowed (see _unraisable): raise it again
_fork_hook = False
_TICK = 0.02  # seconds between two attempts to raise again an Interrupted that was lost (_unraisable)


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived; ``signum`` is the signal. A ``BaseException``, like ``KeyboardInterrupt``,
    so that no ``except Exception`` takes it for an error of the input."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"signal {signum}")
        self.signum = signum


def install():
    """Handle SIGINT and SIGTERM as the module docstring says, in this (the main) thread of this process
    (SIGALRM and ``sys.unraisablehook`` are taken too). Returns a function that puts back what was there."""
    global _main_pid, _received, _raising, _lost, _fork_hook, _previous_hook
    _main_pid, _received, _raising, _lost = os.getpid(), None, True, False
    previous = {s: signal.getsignal(s) for s in (*SIGNALS, signal.SIGALRM)}
    for s in SIGNALS:
        signal.signal(s, _handle)
    signal.signal(signal.SIGALRM, _again)
    _previous_hook = sys.unraisablehook
    sys.unraisablehook = _unraisable
    if not _fork_hook and hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_in_forked_child)
        _fork_hook = True

    def restore() -> None:
        global _main_pid
        for s, handler in previous.items():
            signal.signal(s, handler)
        sys.unraisablehook = _previous_hook
        _main_pid = None

    return restore


def hold() -> None:
    """From now on a first signal is recorded (``received``) instead of raising: the run is finishing."""
    global _raising
    _raising = False
    signal.setitimer(signal.ITIMER_REAL, 0)


def ignore() -> None:
    """Ignore SIGINT and SIGTERM from now on: the run was interrupted and is exiting. (Python puts back the
    default action of a signal with a handler when it exits, not of an ignored one: a second Ctrl-C then
    would end the process by the signal, with another exit status.)"""
    for s in SIGNALS:
        signal.signal(s, signal.SIG_IGN)


def received() -> int | None:
    """The first signal received since ``install``, or None."""
    return _received


def _handle(signum: int, frame) -> None:
    global _received, _lost
    if os.getpid() != _main_pid:  # a forked child that has not yet run _in_forked_child
        if signum == signal.SIGTERM:
            os._exit(128 + signum)
        return
    if _received is not None:
        return
    _received = signum
    kill_children()
    if _raising:
        signal.setitimer(signal.ITIMER_REAL, _TICK, _TICK)  # for _again, until hold()
        raise Interrupted(signum)


def _unraisable(unraisable) -> None:
    # A handler runs between any two bytecodes of the main thread, also inside a __del__ method or a weakref
    # callback (the import system's module locks have one), where Python cannot propagate an exception and
    # reports it here as "Exception ignored in ...". Interrupted lost so is not reported: _again raises it
    # anew on the next tick of the timer the first signal started.
    global _lost
    if isinstance(unraisable.exc_value, Interrupted) and os.getpid() == _main_pid:
        _lost = True
        return
    _previous_hook(unraisable)


_previous_hook = sys.unraisablehook


def _again(signum: int, frame) -> None:
    global _lost
    if not (_lost and _raising and os.getpid() == _main_pid):
        return
    if frame is not None and frame.f_code is _unraisable.__code__:
        return  # raised here, it would be lost for good: the next tick
    _lost = False
    raise Interrupted(_received)  # type: ignore[arg-type]


def _in_forked_child() -> None:
    if _main_pid is None:  # deploycheck used as a library: the caller's signal handling stays
        return
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            return
        if os.getppid() != _main_pid:  # the parent died before prctl: nobody would send the signal
            os._exit(1)


def children() -> list[int]:
    """The process ids of this process's descendants now (Linux: from ``/proc``, ``descendants``; elsewhere
    the ``multiprocessing`` children only), children before grandchildren."""
    if not os.path.isdir("/proc/self"):
        mp = sys.modules.get("multiprocessing")
        return [p.pid for p in mp.active_children()] if mp is not None else []
    return descendants(os.getpid())


def descendants(root: int) -> list[int]:
    """The process ids of every process below ``root`` now (Linux), children before grandchildren. Each
    process's children are read from its threads' ``/proc/PID/task/TID/children`` (proc(5)), so the cost grows
    with the tree, not with every process of the host (a scan of every process's ``stat`` took 9 to 15 ms
    on a busy machine); a kernel without those files gets that scan."""
    out: list[int] = []
    todo, seen = [root], {root}
    while todo:
        kids = _children_of(todo.pop(0))
        if kids is None:
            return _scan(root)
        kids = [k for k in kids if k not in seen]
        seen.update(kids)
        out.extend(kids)
        todo.extend(kids)
    return out


def _children_of(pid: int) -> list[int] | None:
    """The children of ``pid`` from its threads' ``children`` files; None when the kernel has none."""
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:  # gone since its parent listed it
        return []
    except OSError:
        return None
    kids: list[int] = []
    for tid in threads:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as f:
                kids.extend(int(k) for k in f.read().split())
        except FileNotFoundError:
            if os.path.isdir(f"/proc/{pid}/task/{tid}"):  # the thread is there, its file is not
                return None
        except (OSError, ValueError):
            continue
    return kids


def _scan(root: int) -> list[int]:
    """``descendants`` from every process's parent in ``/proc/PID/stat``."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                # the command name may hold spaces and parentheses: the fields follow the last ')'
                fields = f.read().rpartition(b")")[2].split()
            parents.setdefault(int(fields[1]), []).append(int(entry))
        except (OSError, IndexError, ValueError):
            continue
    out: list[int] = []
    todo = [root]
    while todo:
        kids = parents.get(todo.pop(0), [])
        out.extend(kids)
        todo.extend(kids)
    return out


def kill_children() -> None:
    """SIGKILL every descendant of this process (``children``); those already gone are skipped."""
    for pid in children():
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
