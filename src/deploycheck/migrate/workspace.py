"""The engine set up for migrations: the project, its interpreter and search path, the program (for resolving
modules and names), and every Python file under the project root scanned once."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from deploycheck.artifact.files import HostFiles
from deploycheck.check import open_program, target_interpreter
from deploycheck.environment.interpreter import Interpreter
from deploycheck.errors import UsageError
from deploycheck.index.program import MISSING, Program
from deploycheck.migrate import finder as finder_mod
from deploycheck.migrate.config import Migration
from deploycheck.migrate.resolve import Resolver
from deploycheck.migrate.scan import FileRefs, scan_files
from deploycheck.target.boundary import quote
from deploycheck.target.patterns import linear_spec
from deploycheck.target.project import Project, open_project, python_files


@dataclass
class Workspace:
    """``contents`` and ``hashes`` are what was read of each scanned file (absolute path -> bytes / content
    hash; a symbolic link inside the root is read as the file it points to, see ``read_sources``); ``refs``
    the scan of each; ``modules`` the module name of each file that is a project module; ``outside`` the
    links to files outside the root."""

    project: Project
    interp: Interpreter
    program: Program
    files: object
    contents: dict[str, bytes]
    hashes: dict[str, str]
    refs: dict[str, FileRefs]
    modules: dict[str, str]
    unreadable: dict[str, str] = field(default_factory=dict)
    parsed: int = 0
    outside: set[str] = field(default_factory=set)  # symbolic links to files outside the project root

    def resolver(self, old: str) -> Resolver:
        """A resolver for searching ``old``: modules of origins that cannot import ``old`` are not read."""
        top = self.program.find(old.partition(".")[0])
        origin = self.program.origin(top) if top is not None else "project"
        skip = {"project": frozenset({"stdlib", "third-party"}), "third-party": frozenset({"stdlib"})}.get(origin,
                                                                                                         frozenset())
        return Resolver(self.program, skip)

    def canonical(self, migration: Migration) -> tuple[str, str | None]:
        """``old`` as the canonical path of what it names, and why it does not resolve (None when it does):
        its first part is no module, or the module it names lacks the attribute."""
        return canonical(self.program, self.resolver(migration.old), migration.old)

    def references(self, migration: Migration, old: str) -> list[finder_mod.Reference]:
        """The references of ``migration`` outside its ``exclude`` patterns."""
        refs = self.refs
        if migration.exclude:
            spec = linear_spec(list(migration.exclude))
            refs = {p: r for p, r in refs.items() if not spec.match_file(os.path.relpath(p, self.project.root))}
        return finder_mod.find(migration, old, self.resolver(old), refs, self.modules)


def canonical(program: Program, resolver: Resolver, old: str) -> tuple[str, str | None]:
    """See ``Workspace.canonical``."""
    parts = old.split(".")
    if program.find(parts[0]) is None:
        return old, f"no module `{quote(parts[0])}` on the target's search path"
    i = 1
    while i < len(parts) and program.find(".".join(parts[: i + 1])) is not None:
        i += 1
    module = ".".join(parts[:i])
    if i < len(parts) and program.has_name(module, parts[i]) == MISSING:
        return old, f"module `{quote(module)}` has no attribute `{quote(parts[i])}`"
    return resolver.chain(module, parts[i:])[-1], None


def open_workspace(path: str, python: str | None = None, cache_dir: str | None = None, no_cache: bool = False,
                   files=None, project: Project | None = None, interp: Interpreter | None = None,
                   only: list[Migration] | None = None) -> Workspace:
    """Open the project at ``path``, probe its interpreter (``--python`` or the project's default, as
    ``check`` does), read every Python file under the root through ``files`` (the host's by default; an
    overlay for the in-memory re-check) and scan them: all of them, or with ``only``, the files that can hold a
    reference of those migrations (see ``candidates``). Raises ``UsageError`` for bad input."""
    files = files or HostFiles()
    project = project or open_project(path)
    if interp is None:
        interp = target_interpreter(project, python)
    program, cache = open_program(interp, project.roots, files, cache_dir, no_cache)
    store, facts = program.store, program.store.facts
    contents, unreadable, outside = read_sources(project.root, files)
    modules = module_files(project)
    ws = Workspace(project, interp, program, files, contents, {}, {}, modules, unreadable, outside=outside)

    def scan(batch: dict[str, bytes]) -> None:
        refs, hashes, parsed = scan_files(batch, facts, cache)
        ws.refs.update(refs)
        ws.hashes.update(hashes)
        ws.parsed += parsed
        for p, fr in refs.items():
            # The scan's summary is the engine's summary of the same bytes: the program need not parse them again.
            if p in modules and p not in store.summaries:
                store.summaries[p] = fr.summary
                store.hashes[p] = hashes[p]

    if only is None:
        scan(contents)
    else:
        candidates(ws, only, scan)
    cache.flush()
    return ws


def inside_path(root: str, path: str, real_root: str | None = None) -> tuple[str, bool]:
    """The file ``path`` (under ``root``) names, spelled from ``root`` without a symbolic link, and whether it
    is inside ``root``; a link to a file outside ``root`` is spelled as given. Writing to the path returned
    replaces the file the link points to, and the link stays a link. ``real_root``: ``os.path.realpath(root)``
    when the caller has it."""
    real = os.path.realpath(path)
    if not os.path.exists(real):
        return path, True  # a dangling link: reported (cannot be read) under the name it has
    real_root = real_root or os.path.realpath(root)
    if os.path.commonpath([real, real_root]) != real_root:
        return path, False
    return os.path.normpath(os.path.join(root, os.path.relpath(real, real_root))), True


def read_sources(root: str, files) -> tuple[dict[str, bytes], dict[str, str], set[str]]:
    """Every Python file under ``root`` (``project.python_files``), each file read once: a symbolic link to a
    file inside ``root`` counts as that file (``inside_path``), so a file and a link to it are searched once.
    Returns ``(bytes by path, reason by path of each file that could not be read, paths of links to files
    outside root)``."""
    contents: dict[str, bytes] = {}
    unreadable: dict[str, str] = {}
    outside: set[str] = set()
    real_root = os.path.realpath(root)
    for link in python_files(root):
        p, inside = inside_path(root, link, real_root)
        if not inside:
            outside.add(p)
        if p in contents or p in unreadable:
            continue
        try:
            contents[p] = files.read_bytes(p)
        except (OSError, ValueError) as exc:
            unreadable[p] = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return contents, unreadable, outside


def module_files(project: Project) -> dict[str, str]:
    """Module name by file (as ``read_sources`` spells it); a file that is a module under its own path keeps
    that name rather than the name of a link to it."""
    out = {file: name for name, file in project.modules.items()}
    real_root = os.path.realpath(project.root)
    for name, file in sorted(project.modules.items()):
        p, inside = inside_path(project.root, file, real_root)
        if inside:
            out.setdefault(p, name)
    return out


def candidates(ws: Workspace, migrations: list[Migration], scan) -> None:
    """Scan only the files that can hold a reference: a reference to ``old`` spells, somewhere in its file,
    either the last name of ``old`` or a name some module binds to ``old`` (``from m import Old as O``; a star
    import or an attribute chain keeps the name). So files are scanned in rounds: those that mention a known
    name, then those that mention a name the scanned files bind to ``old``, until no new name turns up."""
    olds: list[str] = []
    needles: set[bytes] = set()
    for m in migrations:
        old, _ = ws.canonical(m)
        olds.append(old)
        needles.update({m.old.rpartition(".")[2].encode(), old.rpartition(".")[2].encode()})
    resolvers = [ws.resolver(old) for old in olds]
    scanned: set[str] = set()
    while True:
        batch = {p: d for p, d in ws.contents.items() if p not in scanned and any(n in d for n in needles)}
        if not batch:
            return
        scanned.update(batch)
        scan(batch)
        for p in batch:
            fr = ws.refs[p]
            module, is_pkg = ws.modules.get(p), p.endswith("__init__.py")
            for name, descs in fr.summary.bindings.items():
                if name.encode() in needles:
                    continue
                for d in descs:
                    if any(r.descriptor(module, is_pkg, d) == old for r, old in zip(resolvers, olds)):
                        needles.add(name.encode())
                        break


def find_migration(project: Project, mid: str) -> Migration:
    """The declared migration ``mid``. Raises ``UsageError`` naming the declared ids."""
    for m in project.config.migrations:
        if m.id == mid:
            return m
    known = ", ".join(m.id for m in project.config.migrations) or "none declared"
    raise UsageError(f"unknown migration `{mid}` (declared in pyproject.toml: {known})")


def ensure_declared(project: Project) -> list[Migration]:
    if not project.config.migrations:
        raise UsageError(f"{project.root}: no migrations declared ([[tool.deploycheck.migrations]] in pyproject.toml)")
    return project.config.migrations
