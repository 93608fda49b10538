"""DC505 entry-point-unresolved: the module or attribute an entry or an image's command starts does not exist.

Why it crashes: ``uvicorn app.main:app`` fails at start with "Could not import module" or 'Attribute "app" not
found in module "app.main"'; ``gunicorn pkg.wsgi:application`` with "Failed to find attribute 'application'
in 'pkg.wsgi'", ``gunicorn 'pkg:create_app()'`` likewise, and ``celery -A pkg``; ``python -m pkg`` with "No
module named"; ``python main.py`` with "can't open file". The command is read from the image config's
``Entrypoint`` and ``Cmd`` (``sh -c`` wrappers and ``${VAR:-default}`` expansions included); the module is
looked up on the image's search path and the attribute with the same resolution as DC102, a script in the
image's files, and the server itself too: ``uvicorn`` on the image's ``PATH`` (the shell's "not found"),
``python -m uvicorn`` as a module. A Django management command the command runs (``python manage.py
process_tasks``) that neither Django nor an installed app provides fails with "Unknown command" (Django's
``ManagementUtility.fetch_command``; which commands exist is the Django loader's, ``frameworks.django``).
An entry naming an object (``--entry pkg.wsgi:app``, ``pkg.app:create_app()``, or the same in the
configuration's ``entries``) whose module has that name on no path is reported too, at the configuration's
line when it comes from there. A name the module may bind at run time (a star import, a module
``__getattr__``, an assignment under a condition, a write through ``globals()``) is not reported; of a dotted
name (``pkg:obj.attr``, uvicorn's form) only the first part is looked up.

Example (the image's command, or ``entries = ["app.main:application"]``)::

    uvicorn app.main:application     # app/main.py defines `app`
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator

from deploycheck.findings.finding import ERROR, Finding
from deploycheck.frameworks import django
from deploycheck.index.program import FOUND, MISSING, STARTUP
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
        name = (entry.attribute or "").partition(".")[0]
        if status == FOUND and name and program.has_name(entry.module, name) == MISSING:
            mod = program.find(entry.module)
            yield Finding(CODE, ERROR, f"the image's command ({entry.launcher}) uses '{entry.module}:"
                          f"{entry.attribute}', but '{entry.module}' has no attribute '{name}'",
                          (mod.path if mod and mod.path else where), 0, 0, symbol=name,
                          module=entry.module, origin="project", when=STARTUP)
    for start in program.starts:  # the entries (--entry, the configuration's) that name an object
        name = (start.attribute or "").partition(".")[0]
        mod = program.find(start.module)
        if not name or mod is None or program.has_name(start.module, name) != MISSING:
            continue
        path, line = start.declared or (mod.path or start.module, 0)
        text = start.text or f"{start.module}:{start.attribute}"
        yield Finding(CODE, ERROR, f"the entry '{text}' names '{name}', but '{start.module}' has no attribute "
                      f"'{name}': the launcher fails to find it", path, line, _column(files, path, line, text),
                      symbol=name, module=start.module, origin="project", when=STARTUP)
    for prog, command, entry in django.unknown_commands(program):
        mod = program.find(entry)
        yield Finding(CODE, ERROR, f"the image's command runs '{prog} {command}', but neither Django nor an "
                      f"installed app has a management command '{command}' (Django: Unknown command)",
                      mod.path if mod is not None and mod.path else f"<image command: {prog}>", 0, 0,
                      symbol=command, module=entry, origin="project", when="startup")


def _column(files, path: str, line: int, text: str) -> int:
    """The 0-based column of the name after ``:`` in the entry ``text`` written at ``line`` of ``path``, else 0."""
    if not line:
        return 0
    try:
        lines = files.read_bytes(path).decode("utf-8", errors="replace").splitlines()
    except (OSError, ValueError):
        return 0
    at = lines[line - 1].find(text) if line <= len(lines) else -1
    return at + text.index(":") + 1 if at >= 0 and ":" in text else 0
