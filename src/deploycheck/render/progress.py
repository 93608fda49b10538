"""A progress bar for reading an image's layers, on stderr, only on a terminal and only once reading has
taken more than a moment (a fast check stays quiet)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from deploycheck.render.escape import underlying

DELAY_SECONDS = 0.5


@contextmanager
def layer_bytes(total: int, enabled: bool) -> Iterator[Callable[[int], None]]:
    """Yield ``on_bytes(n)``, to be called for every ``n`` compressed layer bytes read; ``total`` is the sum of
    the layer blob sizes in bytes (0 when unknown: the bar then counts without an end). Draws nothing unless
    ``enabled`` and stderr is a terminal."""
    if not enabled or not sys.stderr.isatty():
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    progress = Progress(TextColumn("reading image layers"), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
                        console=Console(file=underlying(sys.stderr)), transient=True)
    task = progress.add_task("layers", total=total or None)
    start = time.monotonic()
    state = {"started": False, "pending": 0}

    def on_bytes(n: int) -> None:
        state["pending"] += n
        if not state["started"]:
            if time.monotonic() - start < DELAY_SECONDS:
                return
            progress.start()
            state["started"] = True
        if state["pending"] >= 1 << 20 or n == 0:
            progress.advance(task, state["pending"])
            state["pending"] = 0

    try:
        yield on_bytes
    finally:
        # Unconditionally: SIGINT may arrive inside start(), before "started" is set, with the bar already
        # drawn and stderr redirected through it; stop() of a Progress that never started does nothing.
        progress.stop()
