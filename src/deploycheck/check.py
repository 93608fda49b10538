"""The pipeline of ``deploycheck check``: target → files → environment → module index → rules → findings."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from deploycheck.artifact.files import HostFiles
from deploycheck.environment import interpreter as interp_mod
from deploycheck.environment import searchpath
from deploycheck.environment.distributions import Distributions
from deploycheck.environment.interpreter import Interpreter
from deploycheck.errors import UsageError
from deploycheck.findings.finding import ERROR, WARNING, Finding
from deploycheck.findings.suppress import Suppressor
from deploycheck.index import ruff
from deploycheck.index.conditions import Facts
from deploycheck.index.finder import ModuleFinder
from deploycheck.index.program import Program
from deploycheck.index.store import Cache, SummaryStore, default_cache_dir
from deploycheck.rules import RULES
from deploycheck.rules.context import Context
from deploycheck.target.project import Project, open_project


@dataclass
class Options:
    path: str = "."
    python: str | None = None
    entries: list[str] = field(default_factory=list)
    cache_dir: str | None = None
    no_cache: bool = False


@dataclass
class Result:
    """The outcome of one check: findings after suppression, and what was looked at."""

    project: Project
    interp: Interpreter
    findings: list[Finding]
    modules: int
    files: int
    parsed: int
    entries: list[str]
    seconds: float
    search_path: list[str]
    closure: dict[str, tuple[str, int]] = field(default_factory=dict)  # module name -> (origin, shield)

    @property
    def errors(self) -> int:
        return sum(f.severity == ERROR for f in self.findings)

    @property
    def warnings(self) -> int:
        return sum(f.severity == WARNING for f in self.findings)


def default_python(project: Project) -> tuple[str, str]:
    """The interpreter and where it was named: ``python`` in the configuration (relative to the project
    root), else PATH/.venv/bin/python when present, else ``python3`` on PATH. Raises ``UsageError`` for a
    ``.venv`` whose interpreter link is broken (checking with another Python would check the wrong thing)."""
    if project.config.python:
        py = project.config.python
        if os.sep in py and not os.path.isabs(py):
            py = os.path.join(project.root, py)
        return py, "python (pyproject.toml [tool.deploycheck])"
    venv = os.path.join(project.root, ".venv", "bin", "python")
    if os.path.lexists(venv) and not os.path.exists(venv):
        raise UsageError(f"{venv} is a broken link: repair the virtual environment or pass --python")
    if os.path.exists(venv):
        return venv, "the project's .venv"
    return "python3", "python3 on PATH"


def run(opts: Options) -> Result:
    """Run every rule over the import closure of the entries. Raises ``UsageError`` for bad input."""
    start = time.perf_counter()
    project = open_project(opts.path)
    if opts.python is not None:
        interp = interp_mod.probe(opts.python)
    else:
        python, source = default_python(project)
        interp = interp_mod.probe(python, source)
    files = HostFiles()
    spath = searchpath.build(interp, project.roots, files)
    finder = ModuleFinder(spath.entries, files, interp.extension_suffixes, interp.builtin_modules,
                          interp.frozen_modules, spath.editable, spath.overrides)
    cache = Cache(None if opts.no_cache else (opts.cache_dir or default_cache_dir()))
    facts = Facts(interp.version, interp.platform, interp.os_name, interp.implementation,
                  tuple(sorted(interp.builtin_modules)))
    store = SummaryStore(facts, cache, files.read_bytes)
    program = Program(finder, spath, interp, store)

    entries = opts.entries or project.config.entries or project.entry_candidates
    for e in entries:
        if not all(part.isidentifier() for part in e.split(".")):
            raise UsageError(f"entry `{e}` is not a module name: give dotted module names such as app.main")
    if not entries:
        raise UsageError(f"{opts.path}: no Python modules found (roots: {', '.join(project.roots)})")
    try:
        missing = program.build_closure(entries)
    finally:
        store.close()
    if missing:
        raise UsageError(f"entry module not found on the target's search path: {', '.join(missing)}")

    checked = {
        n.module.path: store.hashes[n.module.path]
        for n in program.nodes.values()
        if n.module.path and n.origin in ("project", "third-party") and n.module.path in store.hashes
    }
    infile = ruff.analyze(checked, interp.version, cache)
    ctx = Context(program, interp, Distributions(spath.site_dirs, files), infile)
    suppressor = Suppressor(project.config, project.root, spath.site_dirs)
    findings: list[Finding] = []
    seen: set[tuple] = set()
    for rule in RULES:
        for f in rule.check(ctx):
            key = (f.code, f.path, f.line, f.column, f.symbol)
            if key in seen or suppressor.suppressed(f):
                continue
            seen.add(key)
            findings.append(f)
    cache.flush()
    findings.sort(key=Finding.sort_key)
    return Result(project, interp, findings, len(program.nodes), len(store.summaries), store.parsed, entries,
                  time.perf_counter() - start, spath.entries,
                  {name: (node.origin, node.shield) for name, node in program.nodes.items()})
