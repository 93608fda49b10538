"""DC506 requirement-not-installed: a declared requirement is missing or outside its specifier.

The project declares a requirement that the target environment lacks, or has at a version outside its
specifier.

Why it crashes: the code was written and tested against the declared dependencies; an environment without
one dies with ``ModuleNotFoundError`` on first import, and one with a version outside the range meets the
API drift the other rules look for. Requirements come from PEP 621 ``dependencies`` in pyproject.toml and
from ``requirements.txt`` (and ``requirements/base.txt``, ``prod.txt``, ``production.txt``,
``requirements-prod.txt``); environment markers are evaluated for the target (PEP 508); names are compared
normalized (PEP 503); versions with ``packaging.specifiers``.

Example: ``werkzeug>=2.2,<3`` declared, ``Werkzeug 3.0.1`` installed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from deploycheck.findings.finding import ERROR, Finding
from deploycheck.rules.context import Context

CODE = "DC506"
NAME = "requirement-not-installed"


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def marker_environment(ctx: Context) -> dict[str, str]:
    """PEP 508 marker variables for the target interpreter."""
    i = ctx.interp
    return {
        "python_version": f"{i.version[0]}.{i.version[1]}",
        "python_full_version": ".".join(map(str, i.version)),
        "sys_platform": i.platform,
        "os_name": i.os_name,
        "platform_system": {"linux": "Linux", "darwin": "Darwin", "win32": "Windows"}.get(i.platform, i.platform),
        "platform_machine": i.machine,
        "implementation_name": i.implementation,
        "platform_python_implementation": {"cpython": "CPython", "pypy": "PyPy"}.get(i.implementation, i.implementation),
        "extra": "",
    }


def check(ctx: Context) -> Iterator[Finding]:
    declared = ctx.declared
    if declared is None or not declared.requirements:
        return
    installed = {_norm(name): version for name, version in ctx.distributions.installed()}
    env = marker_environment(ctx)
    seen = set()
    for req, path, line in declared.requirements:
        key = (_norm(req.name), str(req.specifier))
        if key in seen:
            continue
        seen.add(key)
        if req.marker is not None and not req.marker.evaluate(env):
            continue
        version = installed.get(_norm(req.name))
        # a requirement declared in a file outside the project is checked, but not quoted (target.boundary)
        if version is None:
            message = f"{req} is declared but not installed in the target environment"
            yield ctx.shown(Finding(CODE, ERROR, message, path, line, 0, symbol=req.name, origin="project"),
                            declared.boundary)
        elif req.specifier and not req.specifier.contains(version, prereleases=True):
            message = f"{req} is declared, but {req.name} {version} is installed"
            yield ctx.shown(Finding(CODE, ERROR, message, path, line, 0, symbol=req.name,
                                    distribution=(req.name, version), origin="project"), declared.boundary)
