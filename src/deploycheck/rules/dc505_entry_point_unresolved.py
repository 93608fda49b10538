"""DC505 entry-point-unresolved: the module or attribute an image's command starts does not exist.

Why it crashes: ``uvicorn app.main:app`` fails at start with "Could not import module" or "Attribute app not
found"; ``gunicorn pkg.wsgi:application`` and ``celery -A pkg`` likewise; ``python -m pkg`` with "No module
named". The command is read from the image config's ``Entrypoint`` and ``Cmd`` (``sh -c`` wrappers and
``${VAR:-default}`` expansions included); the module is looked up on the image's search path and the
attribute with the same resolution as DC102. Only for image targets, and only when ``--entry`` is not given.

Example (the image's command)::

    uvicorn app.main:application     # app/main.py defines `app`
"""

from __future__ import annotations

from collections.abc import Iterator

from deploycheck.findings.finding import ERROR, Finding
from deploycheck.index.program import FOUND, MISSING
from deploycheck.rules.context import Context

CODE = "DC505"
NAME = "entry-point-unresolved"


def check(ctx: Context) -> Iterator[Finding]:
    program = ctx.program
    for entry in ctx.launch:
        if entry.module is None:
            continue
        where = f"<image command: {entry.launcher}>"
        status, missing = program.module_status(entry.module)
        if status == MISSING:
            yield Finding(CODE, ERROR, f"the image's command ({entry.launcher}) starts '{entry.module}', "
                          f"but there is no module named '{missing}'", where, 0, 0, symbol=entry.module,
                          module=entry.module, origin="project")
            continue
        if status == FOUND and entry.attribute and program.has_name(entry.module, entry.attribute) == MISSING:
            mod = program.find(entry.module)
            yield Finding(CODE, ERROR, f"the image's command ({entry.launcher}) uses '{entry.module}:"
                          f"{entry.attribute}', but '{entry.module}' has no attribute '{entry.attribute}'",
                          (mod.path if mod and mod.path else where), 0, 0, symbol=entry.attribute,
                          module=entry.module, origin="project")
