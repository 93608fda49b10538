"""What a project declares about its runtime: ``requires-python`` and dependencies (PEP 621 ``[project]`` in
pyproject.toml) and requirements files (pip's format: one requirement per line; options, ``-r``/``-c``
includes, editable and URL lines are skipped)."""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field

from packaging.requirements import InvalidRequirement, Requirement

from deploycheck.errors import UsageError

_INCLUDE = re.compile(r"^(?:-r\s*|--requirement(?:\s+|=))(\S+)")
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
        deps = project.get("dependencies") or []
        if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
            raise UsageError(f"{pyproject}: [project] dependencies must be a list of strings (PEP 621)")
        for dep in deps:
            line = _line_of(pyproject, str(dep))
            try:
                out.requirements.append((Requirement(str(dep)), pyproject, line))
            except InvalidRequirement as exc:  # pip refuses to install such a project (PEP 508)
                raise UsageError(f"{pyproject}:{line}: invalid requirement {str(dep)!r}: {str(exc).splitlines()[0]}") from None
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


def _requirements_file(path: str, seen: frozenset[str] = frozenset()) -> list[tuple[Requirement, str, int]]:
    """Requirements of a pip requirements file, following ``-r``/``--requirement`` includes relative to the
    file (pip's "Requirements File Format"); constraints (``-c``), options, editable and URL-only lines are
    skipped. Raises ``UsageError`` where pip would refuse the file: an include that cannot be read, an include
    cycle, an invalid requirement."""
    real = os.path.realpath(path)
    if real in seen:
        raise UsageError(f"{path}: includes itself (through -r)")
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError as exc:
        raise UsageError(f"cannot read requirements file {path}: {exc.strerror or exc}") from None
    out = []
    joined: list[tuple[int, str]] = []
    pending, start = "", 0
    for i, line in enumerate(lines, 1):  # a trailing backslash continues a line, as pip joins them
        if not pending:
            start = i
        if line.endswith("\\"):
            pending += line[:-1]
            continue
        joined.append((start, pending + line))
        pending = ""
    if pending:
        joined.append((start, pending))
    for i, line in joined:
        text = line.split(" #", 1)[0].strip()
        include = _INCLUDE.match(text)
        if include:
            out.extend(_requirements_file(os.path.join(os.path.dirname(path), include.group(1)), seen | {real}))
            continue
        if not text or text.startswith(("#", "-", "git+", "http:", "https:", "file:", ".")):
            continue
        text = text.split(" --", 1)[0].split(";--", 1)[0].strip()  # per-requirement options (--hash=...)
        try:
            out.append((Requirement(text), path, i))
        except InvalidRequirement as exc:
            raise UsageError(f"{path}:{i}: invalid requirement {text!r}: {str(exc).splitlines()[0]}") from None
    return out
