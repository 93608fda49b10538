"""DC203 not-analyzed: a file in the import closure could not be read or analyzed, so nothing in it was checked.

Not a crash by itself (hence a warning): the file is not a regular file, cannot be read, is larger than the
analysis limit (16 MiB), its syntax tree needs more memory than the parse memory limit (192 MiB by
default, ``DEPLOYCHECK_PARSE_MEMORY_MB``), or it is nested too deeply for the analyzer. Whatever it imports
or defines is unknown to the other rules, which therefore stay silent about it.
"""

from __future__ import annotations

from collections.abc import Iterator

from deploycheck.findings.finding import WARNING, Finding
from deploycheck.rules.context import Context

CODE = "DC203"
NAME = "not-analyzed"
MARKERS = ("cannot read file", "too deeply nested to analyze", "not analyzed: ")


def check(ctx: Context) -> Iterator[Finding]:
    program = ctx.program
    for name in sorted(program.nodes):
        node = program.nodes[name]
        if not node.module.has_source or node.origin not in ("project", "third-party"):
            continue
        summ = program.summary(name)
        err = summ.syntax_error if summ is not None else None
        if err and any(err[0].startswith(m) for m in MARKERS):
            reason = err[0].removeprefix("not analyzed: ")
            yield ctx.finding(CODE, WARNING, f"not analyzed: {reason}", name, node, err[1], err[2])
