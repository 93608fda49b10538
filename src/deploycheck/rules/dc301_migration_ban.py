"""DC301 migration-ban: a reference to a symbol that a completed migration retired.

Why it matters: a migration done file by file leaves one use behind, and that use crashes in staging the day
the old symbol is deleted. Once ``deploycheck migrate status`` has seen a declared migration
(``[[tool.deploycheck.migrations]]`` in pyproject.toml) reach zero references, it is recorded as completed in
``.deploycheck-migrations.json`` and the migration becomes a ban: any reference that comes back, in any Python
file under the project root (tests and scripts included, the migration's ``exclude`` patterns left out), is
an error, with the migration's id and the replacement in the message.

References are found by following names through the program, as ``migrate status`` does: imports, aliases,
``import pkg.mod as m; m.Old``, re-exports, star imports, attribute chains, ``getattr`` with a constant
name, and strings that name the symbol (``mock.patch("pkg.mod.Old.X")``).

Example (migration ``unified-config`` retired ``app.db.postgres_config.DatabaseConfig``)::

    from app.db.postgres_config import DatabaseConfig   # DC301
    pool = DatabaseConfig.POOL_SIZE                      # DC301: use get_unified_config().db_pool_size
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from deploycheck.findings.finding import ERROR, Finding
from deploycheck.rules.context import Context
from deploycheck.target.patterns import linear_spec

CODE = "DC301"
NAME = "migration-ban"


def check(ctx: Context) -> Iterator[Finding]:
    project = ctx.project
    migrations = getattr(getattr(project, "config", None), "migrations", None)
    if not migrations:
        return
    from deploycheck.migrate import state
    from deploycheck.migrate.finder import find, source_spans
    from deploycheck.migrate.scan import scan_files
    from deploycheck.migrate.workspace import Workspace, candidates, module_files, read_sources

    banned = [m for m in migrations if state.completed(project.root, m.id, m.old)]
    if not banned:
        return
    program = ctx.program
    files = program.finder.files
    contents, _, _ = read_sources(project.root, files)  # unreadable: DC203 reports it when it matters
    modules = module_files(project)
    ws = Workspace(project, ctx.interp, program, files, contents, {}, {}, modules)

    def scan(batch):
        refs, _, _ = scan_files(batch, program.store.facts, program.store.cache)
        ws.refs.update(refs)

    candidates(ws, banned, scan)
    for m in banned:
        old, _ = ws.canonical(m)
        refs = ws.refs
        if m.exclude:
            spec = linear_spec(list(m.exclude))
            refs = {p: r for p, r in refs.items() if not spec.match_file(os.path.relpath(p, project.root))}
        found = find(m, old, ws.resolver(old), refs, modules)
        by_file: dict[str, list] = {}
        for r in found:
            by_file.setdefault(r.path, []).append(r)
        for path, file_refs in by_file.items():
            summ = program.summary(modules[path]) if path in modules else None
            spans = summ.function_spans if summ is not None else []
            # The symbol is the reference's own source text, so the caret under it covers exactly its span.
            for r, spelled in zip(file_refs, source_spans(contents[path], file_refs)):
                use = m.new
                if r.attr is not None:
                    use = f"{m.new}.{m.attributes[r.attr]}"
                yield ctx.shown(Finding(
                    CODE, ERROR, f"`{r.text}` refers to `{m.old}`, retired by migration `{m.id}`: "
                    f"use `{use}` instead", r.path, r.line, r.column, symbol=spelled,
                    module=modules.get(r.path, ""),
                    origin="project", when="call" if any(a <= r.line <= b for a, b in spans) else "import"))
