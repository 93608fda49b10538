"""The project modules of the service's import closure, found by the ``check`` engine (interpreter probe,
search path, module finder, ``frameworks.close``): only code that the service imports, or that its framework
loads, is read."""

from __future__ import annotations

from dataclasses import dataclass

from deploycheck import frameworks, scripts
from deploycheck.artifact.files import HostFiles
from deploycheck.check import check_entries, open_program, program_on, target_interpreter
from deploycheck.environment.distributions import Distributions
from deploycheck.environment.interpreter import Interpreter
from deploycheck.errors import UsageError
from deploycheck.target import layout
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
    else default mode as ``check`` has it: every module of the project's packages, and each directory of
    scripts with its own search path). Raises ``UsageError`` as ``check`` does."""
    interp = target_interpreter(project, python)
    entries = list(entries) or project.config.entries
    if not entries and not project.entry_candidates and not project.scripts:
        raise UsageError(f"{project.root}: no Python modules found (roots: {', '.join(project.roots)})")
    starts = check_entries(entries)
    entries = list(dict.fromkeys(s.module for s in starts))
    program, cache = open_program(interp, project.roots, files, cache_dir, no_cache)
    program.starts = [s for s in starts if s.attribute]
    store, spath = program.store, program.search_path
    programs = [program]
    try:
        if entries:
            missing = frameworks.close(program, entries)
        else:
            owner = layout.describe(program, Distributions(spath.site_dirs, files))
            default = scripts.run(project, program, owner,
                                  lambda roots: program_on(interp, roots + project.roots, files, store))
            entries, missing = default.entries, []
            programs += [sp.program for sp in default.programs]
    finally:
        store.close()
    cache.flush()
    if missing:
        raise UsageError(f"entry module not found on the target's search path: {', '.join(missing)}")
    mods: dict[str, tuple[str, str, bool]] = {}
    paths: set[str] = set()
    for p in programs:  # a script's module keeps its name unless a module of the packages has it
        for name, node in sorted(p.nodes.items()):
            path = node.module.path
            if node.origin != "project" or not path or not path.endswith(".py"):
                continue
            if name not in mods and path not in paths:
                mods[name] = (name, path, node.module.is_package)
                paths.add(path)
    return Closure(interp, entries, sorted(mods.values()), len(program.nodes), spath.entries)
