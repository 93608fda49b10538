"""DC505 entry-point-unresolved: the module or attribute an image's command starts does not exist.

Why it crashes: ``uvicorn app.main:app`` fails at start with "Could not import module" or "Attribute app not
found"; ``gunicorn pkg.wsgi:application`` and ``celery -A pkg`` likewise; ``python -m pkg`` with "No module
named"; ``python main.py`` with "can't open file". The command is read from the image config's
``Entrypoint`` and ``Cmd`` (``sh -c`` wrappers and ``${VAR:-default}`` expansions included); the module is
looked up on the image's search path and the attribute with the same resolution as DC102, a script in the
image's files, and the server itself too: ``uvicorn`` on the image's ``PATH`` (the shell's "not found"),
``python -m uvicorn`` as a module. A Django management command the command runs (``python manage.py
process_tasks``) that neither Django nor an installed app provides fails with "Unknown command" (Django's
``ManagementUtility.fetch_command``; which commands exist is the Django loader's, ``frameworks.django``).
Only for image targets, and only when ``--entry`` is not given.

Example (the image's command)::

    uvicorn app.main:application     # app/main.py defines `app`
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator

from deploycheck.findings.finding import ERROR, Finding
from deploycheck.frameworks import django
from deploycheck.index.program import FOUND, MISSING
from deploycheck.rules.context import Context

CODE = "DC505"
NAME = "entry-point-unresolved"


_DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _on_path(files, name: str, path: str | None) -> bool:
    if "/" in name:
        return files.is_file(name)
    return any(files.is_file(posixpath.join(d or "/", name)) for d in (path or _DEFAULT_PATH).split(":"))


def check(ctx: Context) -> Iterator[Finding]:
    program = ctx.program
    files = ctx.distributions.files
    for entry in ctx.launch:
        where = f"<image command: {entry.launcher}>"
        if entry.script is not None and not files.is_file(entry.script):
            yield Finding(CODE, ERROR, f"the image's command runs {entry.script}, which is not in the image",
                          where, 0, 0, symbol=entry.script, origin="project")
            continue
        if entry.program is not None and not _on_path(files, entry.program, entry.path):
            yield Finding(CODE, ERROR, f"the image's command runs {entry.program}, which is not on the image's "
                          f"PATH ({entry.path or _DEFAULT_PATH})", where, 0, 0, symbol=entry.program,
                          origin="project")
            continue
        if entry.runner is not None and program.module_status(entry.runner)[0] == MISSING:
            yield Finding(CODE, ERROR, f"the image's command (python -m {entry.runner}) needs the module "
                          f"'{entry.runner}', which is not installed in the image", where, 0, 0,
                          symbol=entry.runner, module=entry.runner, origin="project")
            continue
        if entry.module is None:
            continue
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
    for prog, command, entry in django.unknown_commands(program):
        mod = program.find(entry)
        yield Finding(CODE, ERROR, f"the image's command runs '{prog} {command}', but neither Django nor an "
                      f"installed app has a management command '{command}' (Django: Unknown command)",
                      mod.path if mod is not None and mod.path else f"<image command: {prog}>", 0, 0,
                      symbol=command, module=entry, origin="project", when="startup")
