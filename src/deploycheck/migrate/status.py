"""``deploycheck migrate status``: the references left of each declared migration, and the fraction done."""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field

from deploycheck.errors import UsageError
from deploycheck.migrate import journal, state
from deploycheck.migrate.config import Migration
from deploycheck.migrate.finder import Reference
from deploycheck.migrate.workspace import Workspace, ensure_declared, open_workspace
from deploycheck.target.project import open_project


@dataclass
class MigrationStatus:
    """``baseline`` is the count the first status run recorded; ``progress`` the fraction of it done (0 to 1;
    1 when the baseline was 0); ``directories`` counts references per directory (relative, POSIX)."""

    migration: Migration
    old: str
    references: list[Reference]
    baseline: int
    completed: bool

    @property
    def remaining(self) -> int:
        return len(self.references)

    @property
    def progress(self) -> float:
        if self.baseline <= 0:
            return 1.0 if self.remaining == 0 else 0.0
        return round(max(0.0, (self.baseline - self.remaining) / self.baseline), 4)

    def directories(self, root: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.references:
            d = os.path.dirname(os.path.relpath(r.path, root)).replace(os.sep, "/") or "."
            out[d] = out.get(d, 0) + 1
        return dict(sorted(out.items()))


@dataclass
class StatusResult:
    workspace: Workspace
    migrations: list[MigrationStatus] = field(default_factory=list)
    seconds: float = 0.0


def compute(ws: Workspace, migrations: list[Migration], record: bool = True) -> list[MigrationStatus]:
    """Find each migration's references; with ``record``, write the baseline of migrations seen for the
    first time, and ``completed`` once none is left, to the state file. Raises ``UsageError`` for an ``old``
    that does not resolve (unless the migration is already completed: a ban outlives the retired symbol)."""
    recorded = state.read(ws.project.root)
    changed = False
    out: list[MigrationStatus] = []
    for m in migrations:
        old, problem = ws.canonical(m)
        entry = state.entry(recorded, m.id, m.old)
        if problem and not (entry and entry.get("completed")):
            raise UsageError(f"migration `{m.id}`: old `{m.old}` does not resolve: {problem}")
        refs = ws.references(m, old)
        if entry is None:
            entry = {"old": m.old, "baseline": len(refs), "completed": False}
            recorded[m.id] = entry
            changed = True
        if not refs and not entry.get("completed"):
            entry["completed"] = True
            changed = True
        out.append(MigrationStatus(m, old, refs, entry["baseline"], bool(entry.get("completed"))))
    if record and changed:
        state.write(ws.project.root, recorded)
    return out


def run(path: str, python: str | None = None, cache_dir: str | None = None, no_cache: bool = False) -> StatusResult:
    """Status of every declared migration of the project at ``path``."""
    start = time.perf_counter()
    journal.recover(os.path.abspath(path))
    project = open_project(path)
    ws = open_workspace(path, python, cache_dir, no_cache, project=project, only=ensure_declared(project))
    result = StatusResult(ws, compute(ws, ensure_declared(ws.project)))
    result.seconds = time.perf_counter() - start
    return result


def _refuse_syntax_errors(ws: Workspace, fatal: bool) -> list[str]:
    bad = [p for p, r in ws.refs.items() if r.summary.syntax_error] + list(ws.unreadable)
    if bad and fatal:
        first = bad[0]
        err = ws.refs[first].summary.syntax_error if first in ws.refs else (ws.unreadable[first], 1, 0)
        raise UsageError(f"{os.path.relpath(first, ws.project.root)}:{err[1]}: {err[0]}"
                         f"{f' (and {len(bad) - 1} more files)' if len(bad) > 1 else ''}: "
                         "a file that cannot be parsed may hold references; fix it first")
    return bad


def reference_dict(r: Reference, root: str) -> dict:
    return {"path": os.path.relpath(r.path, root).replace(os.sep, "/"), "line": r.line, "column": r.column + 1,
            "kind": r.kind, "rewritable": r.rewritable, "text": r.text, **({"reason": r.reason} if r.reason else {})}


def document(result: StatusResult) -> dict:
    root = result.workspace.project.root
    return {
        "version": 1,
        "path": root,
        "migrations": [
            {"id": s.migration.id, "old": s.migration.old, "new": s.migration.new, "baseline": s.baseline,
             "remaining": s.remaining, "progress": s.progress, "completed": s.completed,
             "directories": s.directories(root),
             "references": [reference_dict(r, root) for r in s.references]}
            for s in result.migrations
        ],
        "unparsed": sorted(os.path.relpath(p, root) for p in _refuse_syntax_errors(result.workspace, fatal=False)),
    }


def render_json(result: StatusResult, stream=None) -> None:
    (stream or sys.stdout).write(json.dumps(document(result), indent=2) + "\n")


def render_text(result: StatusResult, stream=None) -> None:
    out = stream or sys.stdout
    root = result.workspace.project.root
    for s in result.migrations:
        m = s.migration
        out.write(f"{m.id}: {m.old} → {m.new}\n")
        done = f"{s.progress:.0%} done"
        if s.remaining == 0:
            out.write(f"  no references left ({done}; banned from now on: DC301)\n\n" if s.completed else
                      f"  no references left ({done})\n\n")
            continue
        rewritable = sum(r.rewritable for r in s.references)
        out.write(f"  {s.remaining} reference{'s' * (s.remaining != 1)} left of {s.baseline} at the baseline ({done});"
                  f" {rewritable} rewritable by `deploycheck migrate apply {m.id}`\n")
        out.write("  by directory: " + ", ".join(f"{d}/ {n}" for d, n in s.directories(root).items()) + "\n")
        for r in s.references:
            rel = os.path.relpath(r.path, root)
            how = "rewritable" if r.rewritable else f"not rewritable: {r.reason}"
            out.write(f"  {rel}:{r.line}:{r.column + 1}: {r.kind} {r.text} ({how})\n")
        out.write("\n")
    bad = _refuse_syntax_errors(result.workspace, fatal=False)
    if bad:
        out.write(f"warning: {len(bad)} file{'s' * (len(bad) != 1)} could not be parsed and were not searched: "
                  + ", ".join(os.path.relpath(p, root) for p in bad[:5]) + ("…" if len(bad) > 5 else "") + "\n")
    n = len(result.workspace.contents)
    out.write(f"{n} files searched · {result.seconds:.2f} s\n")
