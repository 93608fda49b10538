"""DC503 python-version: the target's Python is outside the project's ``requires-python``.

Why it crashes: code written for a newer Python fails on an older one (syntax, removed or missing names),
and the reverse; the project said which versions it supports (PEP 621 ``requires-python``, a PEP 440
specifier) and the environment that will run it is not one of them. Checked with ``packaging.specifiers``
against the target interpreter's version (for an image, its own Python; the declaration is read from the
project root, or from ``--source`` for an image).

Example: ``requires-python = ">=3.12"`` and an image based on ``python:3.11-slim``.
"""

from __future__ import annotations

from collections.abc import Iterator

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from deploycheck.findings.finding import ERROR, Finding
from deploycheck.rules.context import Context

CODE = "DC503"
NAME = "python-version"


def check(ctx: Context) -> Iterator[Finding]:
    declared = ctx.declared
    if declared is None or not declared.requires_python:
        return
    path, line = declared.requires_python_at or ("pyproject.toml", 1)
    version = ".".join(map(str, ctx.interp.version))
    try:
        spec = SpecifierSet(declared.requires_python)
    except InvalidSpecifier:
        yield Finding(CODE, ERROR, f"requires-python = {declared.requires_python!r} is not a valid specifier",
                      path, line, 0, symbol="requires-python", origin="project")
        return
    if not spec.contains(version, prereleases=True):
        yield Finding(CODE, ERROR, f"the target runs Python {version}, but the project requires-python "
                      f"{declared.requires_python}", path, line, 0, symbol="requires-python", origin="project")
