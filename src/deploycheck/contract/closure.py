"""The project modules of the service's import closure, found by the ``check`` engine (interpreter probe,
search path, module finder, ``Program.build_closure``): only code that the service imports is read."""

from __future__ import annotations

from dataclasses import dataclass

from deploycheck.artifact.files import HostFiles
from deploycheck.check import default_python
from deploycheck.environment import interpreter as interp_mod
from deploycheck.environment import searchpath
from deploycheck.environment.interpreter import Interpreter
from deploycheck.errors import UsageError
from deploycheck.index.conditions import Facts
from deploycheck.index.finder import ModuleFinder
from deploycheck.index.program import Program
from deploycheck.index.store import Cache, SummaryStore, default_cache_dir
from deploycheck.target.project import Project


@dataclass
class Closure:
    interp: Interpreter
    entries: list[str]
    modules: list[tuple[str, str, bool]]  # (module, file, is_package) of project modules, in name order
    size: int  # modules of the whole closure
    search_path: list[str]


def build(project: Project, python: str | None, entries: list[str], cache_dir: str | None, no_cache: bool,
          files: HostFiles) -> Closure:
    """Probe the interpreter and walk the closure from the entries (``--entry``, else the configuration's,
    else every project module). Raises ``UsageError`` as ``check`` does."""
    if python is not None:
        interp = interp_mod.probe(python)
    else:
        py, source = default_python(project)
        interp = interp_mod.probe(py, source)
    entries = list(entries) or project.config.entries or project.entry_candidates
    if not entries:
        raise UsageError(f"{project.root}: no Python modules found (roots: {', '.join(project.roots)})")
    for e in entries:
        if not all(part.isidentifier() for part in e.split(".")):
            raise UsageError(f"entry `{e}` is not a module name: give dotted module names such as app.main")
    spath = searchpath.build(interp, project.roots, files)
    finder = ModuleFinder(spath.entries, files, interp.extension_suffixes, interp.builtin_modules,
                          interp.frozen_modules, spath.editable, spath.overrides)
    cache = Cache(None if no_cache else (cache_dir or default_cache_dir()))
    facts = Facts(interp.version, interp.platform, interp.os_name, interp.implementation,
                  tuple(sorted(interp.builtin_modules)))
    store = SummaryStore(facts, cache, files.read_bytes)
    program = Program(finder, spath, interp, store)
    try:
        missing = program.build_closure(entries)
    finally:
        store.close()
    cache.flush()
    if missing:
        raise UsageError(f"entry module not found on the target's search path: {', '.join(missing)}")
    mods = [(name, node.module.path, node.module.is_package) for name, node in sorted(program.nodes.items())
            if node.origin == "project" and node.module.path and node.module.path.endswith(".py")]
    return Closure(interp, entries, mods, len(program.nodes), spath.entries)
