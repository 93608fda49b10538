"""What a project declares about its runtime: ``requires-python`` and dependencies (PEP 621 ``[project]`` in
pyproject.toml) and requirements files (pip's format: one requirement per line; options, ``-r``/``-c``
includes, editable and URL lines are skipped)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from packaging.requirements import InvalidRequirement, Requirement

from deploycheck.errors import UsageError
from deploycheck.inputs import read_regular
from deploycheck.target.boundary import MAX_REQUIREMENTS_BYTES, MAX_SETTINGS_BYTES, WITHHELD, Boundary, quote
from deploycheck.target.config import read_pyproject

_INCLUDE = re.compile(r"^(?:-r\s*|--requirement(?:\s+|=))(\S+)")
_KEY = re.compile(r"^\s*[\"']?([A-Za-z0-9_.-]+)[\"']?\s*=")
_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"|\'([^\']*)\'')
MAX_REQUIREMENTS_FILES = 1000  # requirements files read through -r includes in one project
REQUIREMENTS_FILES = ("requirements.txt", "requirements/base.txt", "requirements/prod.txt",
                      "requirements/production.txt", "requirements-prod.txt")


@dataclass
class Declared:
    """``requires_python`` is the specifier text (None when not declared); ``requirements`` pairs each
    requirement with where it was declared (file and line, the line of the ``dependencies`` entry for
    pyproject). ``boundary`` is the project's edge: requirements declared in a file outside it (an include
    or a link leading out) are used, but their text is never shown (``target.boundary``)."""

    root: str
    requires_python: str | None = None
    requires_python_at: tuple[str, int] | None = None
    requirements: list[tuple[Requirement, str, int]] = field(default_factory=list)
    boundary: Boundary | None = None

    def shows(self, path: str) -> bool:
        """Whether text of the declaring file ``path`` may be shown."""
        return self.boundary is None or self.boundary.shows(path)


def read(root: str) -> Declared:
    """Read the declarations at ``root``. Raises UsageError for a pyproject.toml that cannot be read or is
    malformed (``config.read_pyproject``), a ``[project]`` table of the wrong shape (PEP 621: ``dependencies``
    a list of PEP 508 strings, ``requires-python`` a string), and a requirements file pip would refuse."""
    out = Declared(root, boundary=Boundary(root))
    found = read_pyproject(root)
    if found is not None:
        pyproject, data = found
        project = data.get("project", {})
        if not isinstance(project, dict):
            raise UsageError(f"{pyproject}: [project] must be a table (PEP 621)")
        lines = _Lines(pyproject)
        rp = project.get("requires-python")
        if rp is not None:
            if not isinstance(rp, str):
                raise UsageError(f"{pyproject}: [project] requires-python must be a string (PEP 621)")
            out.requires_python = rp
            out.requires_python_at = (pyproject, lines.key("requires-python"))
        deps = project.get("dependencies", [])
        if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
            raise UsageError(f"{pyproject}: [project] dependencies must be a list of strings (PEP 621)")
        for dep in deps:
            line = lines.value(dep)
            try:
                out.requirements.append((Requirement(dep), pyproject, line))
            except InvalidRequirement as exc:  # pip refuses to install such a project (PEP 508)
                raise UsageError(f"{pyproject}:{line}: invalid requirement '{quote(dep)}': "
                                 f"{_first_line(exc)}") from None
    includes = _Includes(out.boundary)
    for rel in REQUIREMENTS_FILES:
        path = os.path.join(root, rel)
        if os.path.lexists(path):
            out.requirements.extend(includes.read(path, required=False))
    return out


def _first_line(exc: Exception) -> str:
    return quote(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)


class _Lines:
    """Where keys and string values sit in a TOML file, indexed once (a lookup per dependency made reading
    a pyproject.toml with 20,000 dependencies quadratic). Line numbers are 1-based; 1 when not found (a value
    written with escapes, a multi-line string)."""

    def __init__(self, path: str) -> None:
        self._keys: dict[str, int] = {}
        self._values: dict[str, int] = {}
        try:
            text = read_regular(path, MAX_SETTINGS_BYTES).decode("utf-8", errors="replace")
        except (OSError, ValueError):
            return
        for number, line in enumerate(text.splitlines(), 1):
            key = _KEY.match(line)
            if key:
                self._keys.setdefault(key.group(1), number)
            for m in _STRING.finditer(line):
                self._values.setdefault(m.group(1) if m.group(1) is not None else m.group(2), number)

    def key(self, name: str) -> int:
        return self._keys.get(name, 1)

    def value(self, text: str, key: str = "dependencies") -> int:
        """The line of the string ``text``, else of ``key``."""
        return self._values.get(text, self._keys.get(key, 1))


def value_line(path: str, text: str, key: str) -> int:
    """The 1-based line of TOML file ``path`` where the string ``text`` is written, else where ``key`` is, else
    1 (a value written with escapes, a multi-line string)."""
    return _Lines(path).value(text, key)


class _Includes:
    """Reads requirements files and their ``-r`` includes, each file once (a file included from many places
    is read once: an include graph that doubles at every level must not be read exponentially often), at
    most ``MAX_REQUIREMENTS_FILES`` of them."""

    def __init__(self, boundary: Boundary) -> None:
        self.boundary = boundary
        self.done: set[tuple[int, int]] = set()

    def read(self, path: str, chain: tuple = (), required: bool = True,
             named: tuple[str, int] | None = None) -> list[tuple[Requirement, str, int]]:
        """Requirements of a pip requirements file, following ``-r``/``--requirement`` includes relative to
        the file (pip's "Requirements File Format"); constraints (``-c``), options, editable and URL-only
        lines are skipped. Raises ``UsageError`` where pip would refuse the file: an include that cannot be
        read, an include cycle, an invalid requirement; and for a file that is not a regular file or is over
        ``MAX_REQUIREMENTS_BYTES``. A file that is not ``required`` (one of ``REQUIREMENTS_FILES``) may be
        missing (a dangling link).

        Text of a file outside the project is never quoted, and a file that only such a file names (an
        include inside it) is never named either: ``named`` is then the ``(file, line)`` of the include in
        the outermost file the project itself names, and its requirements and errors are placed there."""
        where = path if named is None else f"{named[0]}:{named[1]} (a file it includes)"
        try:
            st = os.stat(path)
            ident = (st.st_dev, st.st_ino)
        except OSError:
            ident = None
        if ident is not None and ident in chain:
            raise UsageError(f"{where}: includes itself (through -r)")
        if ident is not None and ident in self.done:
            return []
        got = self.boundary.read(path, MAX_REQUIREMENTS_BYTES, f"requirements file {where}")
        if got is None:
            if not required:
                return []
            raise UsageError(f"cannot read requirements file {where}: No such file or directory")
        data, outside = got
        if ident is not None:
            self.done.add(ident)
            if len(self.done) > MAX_REQUIREMENTS_FILES:
                raise UsageError(f"{where}: more than {MAX_REQUIREMENTS_FILES} requirements files included")
        out = []
        for i, line in _logical_lines(data.decode("utf-8", errors="replace")):
            at = named or (path, i)
            text = line.split(" #", 1)[0].strip()
            include = _INCLUDE.match(text)
            if include:
                inner = named or ((path, i) if outside else None)
                out.extend(self.read(os.path.join(os.path.dirname(path), include.group(1)), chain + (ident,),
                                     named=inner))
                continue
            if not text or text.startswith(("#", "-", "git+", "http:", "https:", "file:", ".")):
                continue
            text = text.split(" --", 1)[0].split(";--", 1)[0].strip()  # per-requirement options (--hash=...)
            try:
                out.append((Requirement(text), *at))
            except InvalidRequirement as exc:
                what = f"({WITHHELD})" if outside or named else f"'{quote(text)}': {_first_line(exc)}"
                raise UsageError(f"{at[0]}:{at[1]}: invalid requirement {what}") from None
        return out


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """``(first line number, text)`` of each logical line: a trailing backslash continues a line, as pip
    joins them."""
    joined: list[tuple[int, str]] = []
    pending, start = "", 0
    for i, line in enumerate(text.splitlines(), 1):
        if not pending:
            start = i
        if line.endswith("\\"):
            pending += line[:-1]
            continue
        joined.append((start, pending + line))
        pending = ""
    if pending:
        joined.append((start, pending))
    return joined
