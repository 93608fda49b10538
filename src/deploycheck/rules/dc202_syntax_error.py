"""DC202 syntax-error: a module in the import closure does not compile on the target's Python version.

Why it crashes: importing it raises ``SyntaxError`` (which ``except ImportError`` does not catch). Covers code
written for a newer Python than the target (``match`` on 3.9, PEP 695 generics on 3.11), syntax removed from
the language, undecodable text or a wrong encoding declaration (PEP 263), and NUL bytes.

Version-aware syntax errors come from ruff run with the target version; encoding and NUL-byte errors from the
standard parser. A file that only the host's (older) parser rejects is not reported.

Example, on a Python 3.9 target::

    match event.kind:
        case "deploy": ...
"""

from __future__ import annotations

from collections.abc import Iterator

from deploycheck.findings.finding import ERROR, Finding
from deploycheck.rules.context import Context

CODE = "DC202"
NAME = "syntax-error"
# Errors the standard parser finds that are real on every version: text that cannot be decoded, NUL bytes,
# and CPython's own nesting limits.
_HOST_ONLY = ("null bytes", "encoding", "decode", "codec", "too many nested", "too many statically nested",
              "too deeply nested for the parser")


def check(ctx: Context) -> Iterator[Finding]:
    program = ctx.program
    for name in sorted(program.nodes):
        node = program.nodes[name]
        path = node.module.path
        if not node.module.has_source or not path or node.origin not in ("project", "third-party"):
            continue
        if node.origin != "project" and node.shield > 1:
            continue
        summ = program.summary(name)
        host = summ.syntax_error if summ is not None else None
        if host and any(k in host[0].lower() for k in _HOST_ONLY):
            yield ctx.finding(CODE, ERROR, host[0], name, node, host[1], host[2])
            continue
        syntax = [d for d in ctx.infile.get(path, []) if d.code == "syntax"]
        if syntax:
            d = syntax[0]
            message = d.message
            if ctx.interp.version[:2] < (3, 7):
                message += " (syntax checked as Python 3.7, the oldest version ruff knows)"
            yield ctx.finding(CODE, ERROR, message, name, node, d.line, d.column)
