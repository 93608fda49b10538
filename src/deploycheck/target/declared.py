"""What a project declares about its runtime: ``requires-python`` and dependencies (PEP 621 ``[project]`` in
pyproject.toml) and requirements files (pip's format: one requirement per line; options, ``-r``/``-c``
includes, editable and URL lines are skipped)."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field

from packaging.requirements import InvalidRequirement, Requirement

from deploycheck.errors import UsageError

REQUIREMENTS_FILES = ("requirements.txt", "requirements/base.txt", "requirements/prod.txt",
                      "requirements/production.txt", "requirements-prod.txt")


@dataclass
class Declared:
    """``requires_python`` is the specifier text (None when not declared); ``requirements`` pairs each
    requirement with where it was declared (file and line, line 0 for pyproject)."""

    root: str
    requires_python: str | None = None
    requires_python_at: tuple[str, int] | None = None
    requirements: list[tuple[Requirement, str, int]] = field(default_factory=list)


def read(root: str) -> Declared:
    """Read the declarations at ``root``; raises UsageError for a malformed pyproject.toml."""
    out = Declared(root)
    pyproject = os.path.join(root, "pyproject.toml")
    if os.path.isfile(pyproject):
        try:
            with open(pyproject, "rb") as f:
                data = tomllib.load(f)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise UsageError(f"{pyproject}: {exc}") from None
        project = data.get("project") if isinstance(data.get("project"), dict) else {}
        rp = project.get("requires-python")
        if isinstance(rp, str):
            out.requires_python = rp
            out.requires_python_at = (pyproject, _line_of(pyproject, "requires-python"))
        for dep in project.get("dependencies") or []:
            try:
                out.requirements.append((Requirement(str(dep)), pyproject, _line_of(pyproject, str(dep))))
            except InvalidRequirement:
                continue
    for rel in REQUIREMENTS_FILES:
        path = os.path.join(root, rel)
        if os.path.isfile(path):
            out.requirements.extend(_requirements_file(path))
    return out


def _line_of(path: str, needle: str) -> int:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for i, line in enumerate(f, 1):
                if needle in line:
                    return i
    except OSError:
        pass
    return 1


def _requirements_file(path: str) -> list[tuple[Requirement, str, int]]:
    out = []
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return out
    for i, line in enumerate(lines, 1):
        text = line.split(" #", 1)[0].strip()
        if not text or text.startswith(("#", "-", "git+", "http:", "https:", "file:", ".")):
            continue
        try:
            out.append((Requirement(text), path, i))
        except InvalidRequirement:
            continue
    return out
