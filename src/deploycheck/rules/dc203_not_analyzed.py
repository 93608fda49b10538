"""DC203 not-analyzed: a file in the import closure could not be read or analyzed, so nothing in it was checked.

Not a crash by itself (hence a warning): the file is not a regular file, cannot be read, is larger than the
analysis limit (16 MiB), its syntax tree needs more memory than the parse memory limit (192 MiB by
default, ``DEPLOYCHECK_PARSE_MEMORY_MB``), or it is nested too deeply for the analyzer. Whatever it imports
or defines is unknown to the other rules, which therefore stay silent about it.

The same warning names a module where a question about names or imports was cut short: a chain of modules
importing each other, of star imports or of re-exports longer than the analyzer follows (``RESOLVE_DEPTH``
in ``index/program.py``; the interpreter itself imports such chains until its recursion limit). What lies
beyond that module in the chain is unknown to the other rules.
"""

from __future__ import annotations

from collections.abc import Iterator

from deploycheck.findings.finding import WARNING, Finding
from deploycheck.index.program import RESOLVE_DEPTH
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
    for name in sorted(program.too_deep):
        node = program.nodes.get(name)
        if node is None or node.origin not in ("project", "third-party"):
            continue
        yield ctx.finding(CODE, WARNING, f"not analyzed: names and imports reached through a chain longer than "
                          f"{RESOLVE_DEPTH} steps of imports, star imports or re-exports", name, node, 1, 0)
