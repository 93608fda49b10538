"""DC104 relative-import-beyond-top: a relative import climbs above the top-level package.

Why it crashes: ``from ... import x`` in a module whose package has fewer than two parents raises
``ImportError: attempted relative import beyond top-level package``; any relative import in a top-level module
raises ``ImportError: attempted relative import with no known parent package`` (PEP 328, PEP 366).

Example, in ``app/views.py`` (package ``app``)::

    from ..settings import DEBUG
"""

from __future__ import annotations

from collections.abc import Iterator

from deploycheck.findings.finding import Finding
from deploycheck.rules.context import Context, import_sites

CODE = "DC104"
NAME = "relative-import-beyond-top"


def check(ctx: Context) -> Iterator[Finding]:
    program = ctx.program
    for name, node, _summ, site, sev in import_sites(ctx):
        if site.level == 0 or program.absolute(name, node.module.is_package, site.module, site.level) is not None:
            continue
        package = name if node.module.is_package else name.rpartition(".")[0]
        dots = "." * site.level
        if not package:
            msg = f"attempted relative import with no known parent package ('{name}' is a top-level module)"
        else:
            msg = f"attempted relative import beyond top-level package ('{dots}{site.module}' from package '{package}')"
        yield ctx.finding(CODE, sev, msg, name, node, site.line, site.col, symbol=dots + site.module, context=site.context)
