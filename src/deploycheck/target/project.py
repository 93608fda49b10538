"""The project being checked: its roots and its own modules."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import pathspec

from deploycheck.errors import UsageError
from deploycheck.target.boundary import MAX_IGNORE_BYTES, Boundary, quote
from deploycheck.target.config import Config, load
from deploycheck.target.patterns import gitignore_spec

_ROOTS = "pyproject.toml [tool.deploycheck] roots"
# Never project code: tool state, virtual environments, build output.
_SKIP_DIRS = {"__pycache__", "node_modules", "site-packages", "dist-packages", "build", "dist"}


@dataclass
class Project:
    """``root`` is absolute; ``roots`` are the directories holding top-level project modules (the first
    entries of the search path); ``modules`` maps each project module name to its file (namespace packages
    have none and are left out). ``boundary`` is the edge of a project on the host (``target.boundary``:
    no text of a file outside it is shown); None for an image's files."""

    root: str
    roots: list[str]
    config: Config
    modules: dict[str, str]
    entry_candidates: list[str]
    boundary: Boundary | None = None
    # Python files the walk saw whose names are no module names (`run-server.py`, `1a2b_add_table.py`): run by
    # path as scripts (default mode, target.layout), less what the configuration excludes
    scripts: list[str] = field(default_factory=list)


def open_project(path: str) -> Project:
    """Discover the project at ``path``. Raises ``UsageError`` if it is not a readable directory."""
    root = os.path.abspath(path)
    if not os.path.exists(root):
        raise UsageError(f"{path}: no such directory")
    if not os.path.isdir(root):
        raise UsageError(f"{path}: not a directory (give the project root)")
    if not os.access(root, os.R_OK | os.X_OK):
        raise UsageError(f"{path}: permission denied")
    cfg = load(root)
    boundary = Boundary(root)
    if cfg.roots is not None:
        roots = [os.path.normpath(os.path.join(root, r)) for r in cfg.roots]
        for given, r in zip(cfg.roots, roots, strict=True):
            if not os.path.isdir(r):
                raise UsageError(f"{_ROOTS}: {quote(given)} is not a directory")
            if boundary.outside(r):  # a setting may not lead outside the project (target.boundary)
                raise UsageError(f"{_ROOTS}: {quote(given)} is outside the project")
    elif _has_python(os.path.join(root, "src")) and not os.path.exists(os.path.join(root, "src", "__init__.py")):
        # src layout; the root too when it also holds packages (a frontend's src/ must not hide the service)
        roots = [os.path.join(root, "src")]
        if _has_packages(root):
            roots.append(root)
    else:
        roots = [root]
    ignore = _ignore_spec(root)
    exclude = gitignore_spec(cfg.exclude + cfg.extend_exclude, name="`exclude` and `extend-exclude`")
    modules: dict[str, str] = {}
    entries: list[str] = []
    scripts: list[str] = []
    excluding = bool(exclude.patterns)
    for r in roots:
        for name, file, rel, rel_in_root in _walk(r, boundary, ignore):
            kept = not excluding or (not exclude.match_file(rel) and not exclude.match_file(rel_in_root))
            if name is None:
                if kept:
                    scripts.append(file)
                continue
            modules.setdefault(name, file)
            if kept:
                entries.append(name)
    return Project(root, roots, cfg, modules, list(dict.fromkeys(entries)), boundary,
                   list(dict.fromkeys(scripts)))


def _has_python(directory: str) -> bool:
    try:
        with os.scandir(directory) as it:
            return any(e.name.endswith(".py") or (e.is_dir() and os.path.isfile(os.path.join(e.path, "__init__.py")))
                       for e in it)
    except OSError:
        return False


def _has_packages(directory: str) -> bool:
    try:
        with os.scandir(directory) as it:
            return any(e.is_dir() and e.name.isidentifier() and e.name not in ("tests", "test", "docs")
                       and os.path.isfile(os.path.join(e.path, "__init__.py")) for e in it)
    except OSError:
        return False


def _ignore_spec(root: str) -> pathspec.PathSpec:
    """The patterns of the project's ``.gitignore``, read as git reads an in-tree one: never through a
    symbolic link (git 2.32 and later ignore a linked ``.gitignore``); a pattern git cannot use is skipped."""
    path = os.path.join(root, ".gitignore")
    got = Boundary(root).read(path, MAX_IGNORE_BYTES, path, follow=False)
    lines = got[0].decode("utf-8", errors="replace").splitlines() if got else []
    return gitignore_spec(lines, name=path)


def _listing(directory: str, rel_dir: str, boundary: Boundary, seen: set[tuple[int, int]],
             linked: bool = True) -> list[tuple[os.DirEntry, str, bool, bool]]:
    """The entries of ``directory`` (``rel_dir`` relative to the project root, "" for the root itself) as
    ``(entry, path relative to the project root, is a directory, is a link)``, sorted by name; empty for an
    unreadable directory, one already seen (through a link: link loops end here), or one outside the
    project. A directory linked in from outside is importable (the module finder follows links as Python
    does), but it is not the project's to walk: a link to ``/`` would have every Python file of the machine
    taken for an entry. ``linked``: whether ``directory`` may lie outside (it was reached through a link, or
    it is where the walk starts); a plain subdirectory of a directory inside the project is inside, so its
    links need not be resolved again (a third of a listing's time on Django's tree)."""
    if linked and boundary.outside(directory):
        return []
    try:
        st = os.stat(directory)
        if (st.st_dev, st.st_ino) in seen:
            return []
        seen.add((st.st_dev, st.st_ino))
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError:
        return []
    prefix = rel_dir + os.sep if rel_dir else ""
    out = []
    for e in entries:
        try:
            is_dir = e.is_dir()
            is_link = e.is_symlink()
        except OSError:
            continue
        out.append((e, prefix + e.name, is_dir, is_link))
    return out


def _relative(path: str, root: str) -> str:
    rel = os.path.relpath(path, root)
    return "" if rel == os.curdir else rel


def _skipped_dir(e: os.DirEntry, rel: str, ignore: pathspec.PathSpec) -> bool:
    """Hidden directories, build output, virtual environments and what ``.gitignore`` excludes."""
    return (e.name.startswith(".") or e.name in _SKIP_DIRS or os.path.exists(os.path.join(e.path, "pyvenv.cfg"))
            or (bool(ignore.patterns) and ignore.match_file(rel + "/")))


def _walk(base: str, boundary: Boundary, ignore: pathspec.PathSpec):
    """Yield ``(module name, file, path relative to the project root, path relative to base)`` for every
    importable module under ``base``, within the project, and ``(None, ...)`` for a Python file whose name
    is no module name (a script run by its path)."""
    seen: set[tuple[int, int]] = set()
    ignoring = bool(ignore.patterns)
    base_rel = _relative(base, boundary.root)
    cut = len(base_rel) + 1 if base_rel else 0

    def visit(directory: str, rel_dir: str, prefix: str, linked: bool):
        for e, rel, is_dir, is_link in _listing(directory, rel_dir, boundary, seen, linked):
            name = e.name
            if is_dir:
                if not name.isidentifier() or _skipped_dir(e, rel, ignore):
                    continue
                pkg = f"{prefix}{name}"
                init = os.path.join(e.path, "__init__.py")
                if os.path.isfile(init):
                    yield pkg, init, rel + os.sep + "__init__.py", rel[cut:] + os.sep + "__init__.py"
                yield from visit(e.path, rel, pkg + ".", is_link)
            elif name.endswith(".py") and name != "__init__.py":
                if ignoring and ignore.match_file(rel):
                    continue
                yield (f"{prefix}{name[:-3]}" if name[:-3].isidentifier() else None), e.path, rel, rel[cut:]

    yield from visit(base, base_rel, "", True)


def python_files(root: str, exclude: list[str] | tuple[str, ...] = ()) -> list[str]:
    """Every ``*.py`` file under ``root`` (absolute paths, sorted): tests and scripts included, whatever their
    names; hidden directories, virtual environments, build output and files matched by the project's
    ``.gitignore`` or by the gitignore-style ``exclude`` patterns (relative to ``root``) left out. Links into
    directories already seen are not followed again, so link loops end, and neither are links to directories
    outside ``root``; a file linked in from outside is listed."""
    ignore = _ignore_spec(root)
    boundary = Boundary(root)
    spec = gitignore_spec(list(exclude), name="exclude patterns")
    out: list[str] = []
    seen: set[tuple[int, int]] = set()
    stack = [(root, "", True)]
    while stack:
        directory, rel_dir, linked = stack.pop()
        for e, rel, is_dir, is_link in _listing(directory, rel_dir, boundary, seen, linked):
            if is_dir:
                if not _skipped_dir(e, rel, ignore) and not spec.match_file(rel + "/"):
                    stack.append((e.path, rel, is_link))
            elif e.name.endswith(".py") and not ignore.match_file(rel) and not spec.match_file(rel):
                out.append(e.path)
    return sorted(out)
