"""The project modules of the service's import closure, found by the ``check`` engine (interpreter probe,
search path, module finder, ``frameworks.close``): only code that the service imports, or that its framework
loads, is read."""

from __future__ import annotations

from dataclasses import dataclass

from deploycheck import frameworks
from deploycheck.artifact.files import HostFiles
from deploycheck.check import check_entries, open_program, target_interpreter
from deploycheck.environment.interpreter import Interpreter
from deploycheck.errors import UsageError
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
    interp = target_interpreter(project, python)
    entries = list(entries) or project.config.entries or project.entry_candidates
    if not entries:
        raise UsageError(f"{project.root}: no Python modules found (roots: {', '.join(project.roots)})")
    check_entries(entries)
    program, cache = open_program(interp, project.roots, files, cache_dir, no_cache)
    store, spath = program.store, program.search_path
    try:
        missing = frameworks.close(program, entries)
    finally:
        store.close()
    cache.flush()
    if missing:
        raise UsageError(f"entry module not found on the target's search path: {', '.join(missing)}")
    mods = [(name, node.module.path, node.module.is_package) for name, node in sorted(program.nodes.items())
            if node.origin == "project" and node.module.path and node.module.path.endswith(".py")]
    return Closure(interp, entries, mods, len(program.nodes), spath.entries)
