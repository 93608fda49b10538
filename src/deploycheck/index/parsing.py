"""Parsing many files within one memory budget.

A module's syntax tree takes about 60 times the module's size for ordinary code and close to 300 times for a
dense generated table (a 15 MB module needed 4 GB). A size limit alone would leave big real generated
modules unanalyzed (protobuf's ``_pb2``, Qt resource modules, Unicode tables), and a size small enough to be
safe for dense tables would leave out ordinary big modules too. So the memory itself is bounded: files are
parsed in worker processes whose address space is limited (``setrlimit(RLIMIT_AS)``, POSIX); the workers
together never hold more than the parse budget (``PARSE_MEMORY_MB``). A file that needs more than its worker's
share is parsed again alone, with the whole budget, once the other workers are gone; a file that needs more
than that is not analyzed (DC203 names the limit). Only files too small for their tree to matter
(``INLINE_PARSE_BYTES``) may be parsed in the main process.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import resource
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from deploycheck.inputs import whole_number

# The memory all parser processes together may add to what they inherit, in MiB; the documented bound of a
# whole run (README, "Limits on untrusted input") is this plus the main process. Raised with the variable.
PARSE_MEMORY_MB = 192
PARSE_MEMORY_VAR = "DEPLOYCHECK_PARSE_MEMORY_MB"
# Files up to this size (bytes) may be parsed in the main process: their tree stays under about 20 MB even
# for the densest code.
INLINE_PARSE_BYTES = 64 * 1024
# Below this many files to parse at once, handing them to worker processes costs more than it saves.
POOL_THRESHOLD = 16
# The most memory a syntax tree takes per byte of source (measured: about 60 for ordinary code, 280 for a
# dense generated table), used to tell the two causes of MemoryError apart: CPython's parser also raises it
# when its stack overflows on deeply nested code, whatever the memory.
DENSEST_RATIO = 400
# What ``Parser.map`` gives for an item whose tree did not fit in the budget, and for one that overflowed
# the parser's stack (a MemoryError that the item's size cannot explain: importing it fails the same way).
NEEDS_MEMORY = "deploycheck: needs more memory"
TOO_NESTED = "deploycheck: too deeply nested"


def parse_memory_mb() -> int:
    """The parse budget in MiB: ``DEPLOYCHECK_PARSE_MEMORY_MB`` when set (0: no limit), else
    ``PARSE_MEMORY_MB``. Raises ``UsageError`` for a value that is not a whole number."""
    return whole_number(PARSE_MEMORY_VAR, PARSE_MEMORY_MB, " of MiB (0 for no limit)")


def not_analyzed_reason() -> str:
    """The reason given for a file whose tree did not fit: names the limit and how to raise it."""
    return (f"its syntax tree needs more than the {parse_memory_mb()} MiB parse memory limit "
            f"(raise it with {PARSE_MEMORY_VAR})")


def _vm_size() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _start_worker(limit: int) -> None:
    # Syntax trees are acyclic and short-lived: the cyclic collector only costs time in a parser process.
    gc.disable()
    # A worker has nothing to say to the user (results and errors go back to the parent), and a native parser
    # that fails an allocation (LibCST's) prints its own abort message before the parent sees the worker gone.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
    except OSError:
        pass
    if limit > 0:
        # Relative to what the process already maps (it is forked from the main process).
        hard = resource.getrlimit(resource.RLIMIT_AS)[1]
        soft = _vm_size() + limit
        if hard != resource.RLIM_INFINITY:
            soft = min(soft, hard)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _guarded(fn: Callable, item):
    try:
        return fn(item)
    except MemoryError:
        return NEEDS_MEMORY


def _chunk(fn: Callable, items: list) -> list:
    return [_guarded(fn, item) for item in items]


def _context():
    try:
        return multiprocessing.get_context("fork")
    except ValueError:
        return multiprocessing.get_context()


# The one pool of parse workers of a run, shared by every ``Parser``: two pools alive at once (the summary
# store's and a framework loader's) would each take the whole budget.
_POOL: ProcessPoolExecutor | None = None


def _shared_pool(share: int, workers: int) -> ProcessPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ProcessPoolExecutor(max_workers=workers, mp_context=_context(), initializer=_start_worker,
                                    initargs=(share,))
    return _POOL


def shutdown(killed: bool = False) -> None:
    """End the run's pool of parse workers, when there is one: the CLI's last step, and what gives the
    memory of the pool back before one file is parsed alone with the whole budget. A later ``Parser.map``
    starts a new pool. ``killed``: the workers were killed (a signal): the pool's thread is left to find
    them gone and end; cancelling its work as well would race it (Python 3.11's thread then fails setting
    the error of a cancelled item, and never ends)."""
    global _POOL
    pool, _POOL = _POOL, None
    if pool is not None:
        if killed:
            pool.shutdown(wait=False)
        else:
            pool.shutdown(cancel_futures=True)


class Parser:
    """Runs ``fn`` (a module-level function: ``item -> result``) over items, within the parse budget.

    ``map(items, sizes)`` returns the results in order, with ``NEEDS_MEMORY`` for each item whose work did not
    fit in the budget and ``TOO_NESTED`` for one whose MemoryError its size cannot explain (``sizes``, in
    bytes, also decide which items may run in the main process; ``densest`` is the most memory ``fn`` takes
    per byte, ``DENSEST_RATIO`` for ``ast``). Every parser of a run uses one pool of
    worker processes (one per core), forked when first needed and kept for the next parser: every command
    (``check``, ``config``, ``migrate``) parses untrusted source this way. ``shutdown`` ends the pool.
    """

    def __init__(self, fn: Callable, densest: int = DENSEST_RATIO) -> None:
        self.fn = fn
        self.densest = densest  # the most memory ``fn`` takes per byte of an item (see DENSEST_RATIO)
        self.budget = parse_memory_mb() * 1024 * 1024
        self.workers = os.cpu_count() or 1

    def map(self, items: list, sizes: list[int]) -> list:
        results: list = [None] * len(items)
        many = len(items) >= POOL_THRESHOLD and self.workers >= 2
        pooled = [i for i, size in enumerate(sizes) if many or (self.budget and size > INLINE_PARSE_BYTES)]
        inline = sorted(set(range(len(items))) - set(pooled))
        for i in inline:
            results[i] = _guarded(self.fn, items[i])
        broken = False
        if pooled:
            work = [items[i] for i in pooled]
            chunk = max(1, min(64, len(work) // 16))
            try:
                # Submitted by hand, not with Executor.map: on a signal, map cancels what is pending while the
                # pool's thread finds the killed workers gone, and Python 3.11's thread then fails and never
                # releases its queue (the run would hang on exit).
                pool = self._workers()
                futures = [pool.submit(_chunk, self.fn, work[i : i + chunk]) for i in range(0, len(work), chunk)]
                done = [result for future in futures for result in future.result()]
            except BrokenProcessPool:  # a worker died (killed, or a crash on an allocation that failed)
                shutdown()
                broken = True
                done = [NEEDS_MEMORY] * len(work)
            for i, result in zip(pooled, done, strict=True):
                results[i] = result
        share = self.budget // self.workers
        retry = [i for i in pooled if results[i] == NEEDS_MEMORY and sizes[i] * self.densest >= share]
        if retry and (self.workers > 1 or broken):
            shutdown()  # the pool's memory is given back before one file gets the whole budget
            for i in retry:
                results[i] = self._alone(items[i])
        for i, size in enumerate(sizes):
            if results[i] == NEEDS_MEMORY and (not self.budget or size * self.densest < self.budget):
                results[i] = TOO_NESTED
        return results

    def _workers(self) -> ProcessPoolExecutor:
        return _shared_pool(self.budget // self.workers, self.workers)

    def _alone(self, item):
        pool = ProcessPoolExecutor(max_workers=1, mp_context=_context(), initializer=_start_worker,
                                   initargs=(self.budget,))
        try:
            result = pool.submit(_guarded, self.fn, item).result()
        except BrokenProcessPool:
            result = NEEDS_MEMORY
        except BaseException:  # a signal, whose handler killed the worker: see shutdown
            pool.shutdown(wait=False)
            raise
        pool.shutdown()
        return result

    def close(self) -> None:
        """Nothing of this parser's own to release: the pool stays for the run's next parser."""
