"""DC106 dotted-path-not-found: a module or dotted path that a framework loads names nothing.

Why it crashes: a framework imports what its configuration names, by string: Django imports each
``INSTALLED_APPS`` entry, each ``MIDDLEWARE`` class, the ``ROOT_URLCONF`` and every ``include("app.urls")``,
the classes of ``LOGGING``, the backends of ``DATABASES``, ``CACHES``, ``TEMPLATES``... (``import_module``, or
``import_string("pkg.mod.Name")``, which imports ``pkg.mod`` and reads ``Name``). When no such module exists,
or the module has no such attribute, that raises ``ModuleNotFoundError``, ``ImportError`` or
``AttributeError`` when the framework gets there: at start-up (``django.setup()``, the WSGI handler), at the
first request, or when the feature is used (a management command, sending mail).

Reported at the line that names it (the settings line, the ``include()`` call), with the framework's step
and when it fails. An error when the value is written in the code; a warning when it is the default of an
environment variable (``os.environ.get("CACHE_BACKEND", "...")``, django-environ, python-decouple), which the
deployment's environment may override. Not reported: a value decided only under a condition that cannot be
decided statically, a module whose parent creates submodules at run time, an attribute a module may define
in ways not followed (``__getattr__``, star imports of unknown modules), and conventions the framework
tolerates missing (an app without ``models`` or ``admin``).

Example::

    MIDDLEWARE = [
        "hijack.middleware.HijackUserMiddleware",   # django-hijack 2 has no such class
    ]
"""

from __future__ import annotations

from collections.abc import Iterator

from deploycheck.findings.finding import Finding
from deploycheck.frameworks.base import CERTAIN, DEFAULT, later
from deploycheck.index.program import FOUND, MISSING
from deploycheck.index.summary import FUNCTION, MODULE
from deploycheck.rules.context import Context, severity

CODE = "DC106"
NAME = "dotted-path-not-found"


def check(ctx: Context) -> Iterator[Finding]:
    program = ctx.program
    for edge in program.edges:
        if edge.optional or edge.basis not in (CERTAIN, DEFAULT):
            continue
        node = program.nodes.get(edge.importer)
        summ = program.summary(edge.importer) if node is not None and node.module.has_source else None
        if node is None or summ is None:
            continue
        status, missing = program.module_status(edge.target)
        if status == MISSING:
            parent = missing.rpartition(".")[0]
            pmod = program.find(parent) if parent else None
            why = f"No module named '{missing}'"
            if pmod is not None and not pmod.is_package:
                why += f"; '{parent}' is not a package"
            symbol = missing
        elif status == FOUND and edge.attribute and program.has_name(edge.target, edge.attribute) == MISSING:
            why = f"module '{edge.target}' has no attribute '{edge.attribute}'"
            symbol = f"{edge.target}.{edge.attribute}"
        else:
            continue
        sev = severity(node, summ, MODULE, 0, edge.basis != CERTAIN)
        if sev is None:
            continue
        if edge.basis == DEFAULT:
            why += " (the default of an environment variable)"
        in_function = program.reached_at(edge.importer, edge.line) is not None  # a start-up function's line
        finding = ctx.finding(CODE, sev, f"{edge.step}: {why}", edge.importer, node, edge.line, 0,
                              symbol=symbol, context=FUNCTION if in_function else MODULE)
        finding.when = later(node.phase, edge.phase)
        yield finding
