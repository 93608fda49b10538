"""DC103 attribute-not-found: ``M.attr`` read on an imported module ``M`` that has no attribute ``attr``.

Why it crashes: ``AttributeError: module 'M' has no attribute 'attr'`` when the expression runs: at import for
module-level code, class bodies and decorators (``@asyncio.coroutine`` on Python 3.11), when called for code in
function bodies of the project.

Only names bound by an import are followed (``import asyncio``, ``import a.b as c``, ``from pkg import mod``),
and only while they are not rebound in the same scope. Reads guarded by ``try: ... except AttributeError`` (or
broader), ``hasattr`` checks and other undecidable conditions are not reported as errors. Resolution is the
same as DC102's.

Example::

    import asyncio

    @asyncio.coroutine          # removed in Python 3.11
    def legacy(): ...
"""

from __future__ import annotations

from collections.abc import Iterator

from deploycheck.findings.finding import Finding
from deploycheck.index.program import MISSING
from deploycheck.rules.context import Context, severity

CODE = "DC103"
NAME = "attribute-not-found"


def check(ctx: Context) -> Iterator[Finding]:
    program = ctx.program
    for name, node, summ in ctx.modules():
        for read in summ.reads:
            if any(program.branch_runs(name, b) is not False for b in read.unless):
                continue  # the name may be the fallback value of an `except ImportError` branch
            runs = program.branch_runs(name, read.branch)
            if runs is False:
                continue  # in an `except ImportError` handler whose try succeeds on the target, or the like
            sev = severity(node, summ, read.context, read.guarded, read.conditional or runs is None, "AttributeError")
            if sev is None:
                continue
            current = program.descriptor_module(name, node.module.is_package, read.target)
            for attr, (line, col) in zip(read.attrs, read.positions):
                if current is None:
                    break
                status = program.has_name(current, attr)
                if status == MISSING and program.module_fails(current):
                    break  # the import of `current` itself fails; that is the finding, not this read
                if status == MISSING:
                    yield ctx.finding(CODE, sev, f"module '{current}' ({ctx.provider(current)}) has no attribute '{attr}'",
                                      name, node, line, col, symbol=attr, context=read.context)
                    break
                if status != "found":
                    break
                current = program.member_module(current, attr)
