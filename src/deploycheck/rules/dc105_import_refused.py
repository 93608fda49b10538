"""DC105 import-refused: a module raises unconditionally while it is imported on the target.

Why it crashes: a ``raise`` at module level that runs on the target's version and platform ends the import
with that exception, e.g. ``if sys.platform != "win32": raise ImportError("win32 only")`` in a module the
service imports on Linux. Conditions are decided as for the other rules (``sys.version_info``,
``sys.platform``, ``os.name``, ...); a ``raise`` under a condition that cannot be decided, or inside ``try``,
is not reported.

Example, on Linux::

    import asyncio.windows_events   # raises ImportError('win32 only')
"""

from __future__ import annotations

from collections.abc import Iterator

from deploycheck.findings.finding import Finding
from deploycheck.index.summary import MODULE
from deploycheck.rules import fallback
from deploycheck.rules.context import Context, severity

CODE = "DC105"
NAME = "import-refused"


def check(ctx: Context) -> Iterator[Finding]:
    yield from fallback.reported(ctx, CODE)  # first: the same statement may also fail on its own
    program = ctx.program
    for name, node, summ in ctx.modules():
        for line, col, text, branch in summ.refusals:
            runs = program.branch_runs(name, branch)
            if runs is False:
                continue
            sev = severity(node, summ, MODULE, False, runs is None, text.split("(")[0].rpartition(".")[2])
            if sev is None:
                continue
            yield ctx.finding(CODE, sev, f"module '{name}' raises when imported on this target: raise {text}",
                              name, node, line, col, symbol=name)
            break
