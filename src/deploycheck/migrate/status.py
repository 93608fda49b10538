"""``deploycheck migrate status``: the references left of each declared migration, and the fraction done."""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field

from deploycheck.errors import UsageError
from deploycheck.findings.finding import ERROR, WARNING, Finding
from deploycheck.migrate import lock, state, writer
from deploycheck.migrate.config import Migration
from deploycheck.migrate.finder import Reference
from deploycheck.migrate.workspace import Workspace, ensure_declared, open_workspace
from deploycheck.render.escape import EscapedLines
from deploycheck.target.boundary import WITHHELD, quote
from deploycheck.target.patterns import linear_spec
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
            raise UsageError(f"migration `{m.id}`: old `{quote(m.old)}` does not resolve: {problem}")
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
    root = os.path.abspath(path)
    # Read-only toward an interrupted apply: it is named, never completed here (only `apply --write` does).
    with lock.held(root, exclusive=False, shown=path):
        if os.path.isdir(root):
            writer.refuse_pending(root, path)
        project = open_project(path)
        ws = open_workspace(path, python, cache_dir, no_cache, project=project, only=ensure_declared(project))
        result = StatusResult(ws, compute(ws, ensure_declared(ws.project)))
    result.seconds = time.perf_counter() - start
    return result


def count(n: int, noun: str) -> str:
    """``1 file``, ``2 files``."""
    return f"{n} {noun}{'s' * (n != 1)}"


def skipped(ws: Workspace, exclude: tuple[str, ...] = ()) -> list[tuple[str, int, str]]:
    """The files read for references that could not be read or parsed, as ``(path, line, reason)`` sorted by
    path (line 0 when the file could not be read), leaving out files matched by the gitignore-style
    ``exclude`` patterns. Only files the workspace parsed can be listed: ``status`` parses only the files
    that spell the name of ``old`` or of an alias of it (see ``workspace.candidates``); one that spells
    neither cannot hold a reference, whether it parses or not."""
    out = [(p, r.summary.syntax_error[1], r.summary.syntax_error[0]) for p, r in ws.refs.items()
           if r.summary.syntax_error]
    out += [(p, 0, reason) for p, reason in ws.unreadable.items()]
    # a syntax error's message may quote the file (`Did you mean 'x'?`)
    out = [(p, line, WITHHELD if p in ws.outside else reason) for p, line, reason in out]
    if exclude:
        spec = linear_spec(list(exclude))
        out = [t for t in out if not spec.match_file(os.path.relpath(t[0], ws.project.root))]
    return sorted(out)


# Files a refusal names; the rest are counted. `migrate status` (its `skipped`) lists every one it parsed.
MAX_LISTED = 50


def listing(ws: Workspace, bad: list[tuple[str, int, str]]) -> str:
    """``path:line: reason`` of each file, joined with ``; `` on one line: at most ``MAX_LISTED`` of them,
    then how many more."""
    shown = "; ".join(f"{_where(ws, path, line)}: {reason}" for path, line, reason in bad[:MAX_LISTED])
    more = len(bad) - MAX_LISTED
    return shown + (f"; and {count(more, 'more file')}" if more > 0 else "")


def refuse_skipped(ws: Workspace, exclude: tuple[str, ...] = ()) -> None:
    """Raise ``UsageError`` naming every file that could not be read or parsed (see ``skipped`` and
    ``listing``), in one line."""
    bad = skipped(ws, exclude)
    if bad:
        them = "it" if len(bad) == 1 else "them"
        raise UsageError(f"{count(len(bad), 'Python file')} under the root cannot be read or parsed "
                         f"({listing(ws, bad)}): `migrate apply` stops when any cannot, since it may "
                         f"hold references; fix {them} (or add {them} to the migration's `exclude`) first; "
                         "nothing was written")


def _where(ws: Workspace, path: str, line: int) -> str:
    rel = os.path.relpath(path, ws.project.root).replace(os.sep, "/")
    return f"{rel}:{line}" if line else rel


def shown(r: Reference, outside: set[str] | frozenset[str]) -> tuple[str, str | None]:
    """The ``(text, reason)`` of a reference as output shows them: withheld (``target.boundary.WITHHELD``)
    for a file in ``outside`` (links to files outside the project: no text of those is ever shown)."""
    if r.path in outside:
        return WITHHELD, WITHHELD if r.reason else None
    return r.text, r.reason


def reference_dict(r: Reference, root: str, outside: set[str] | frozenset[str] = frozenset()) -> dict:
    """One reference of ``--format json`` (see README: Migrations). A dangling one has ``dangling``:
    ``{"rule": "history", "commit": ID, "detail": ...}`` or ``{"rule": "unique-name", "detail": ...}``.
    The text of a reference in a file of ``outside`` is withheld (``shown``)."""
    rel = os.path.relpath(r.path, root).replace(os.sep, "/")
    text, reason = shown(r, outside)
    out = {"path": rel, "line": r.line, "column": r.column + 1, "kind": r.kind, "rewritable": r.rewritable,
           "text": text, **({"reason": reason} if reason else {})}
    if r.dangling is not None:
        commit = {"commit": r.dangling.commit} if r.dangling.commit else {}
        out["dangling"] = {"rule": r.dangling.rule, **commit, "detail": r.dangling.text(rel)}
    return out


def document(result: StatusResult) -> dict:
    root = result.workspace.project.root
    return {
        "version": 1,
        "path": root,
        "migrations": [
            {"id": s.migration.id, "old": s.migration.old, "new": s.migration.new, "baseline": s.baseline,
             "remaining": s.remaining, "progress": s.progress, "completed": s.completed,
             "directories": s.directories(root),
             "references": [reference_dict(r, root, result.workspace.outside) for r in s.references]}
            for s in result.migrations
        ],
        "skipped": [{"path": os.path.relpath(p, root).replace(os.sep, "/"), "line": line, "reason": reason}
                    for p, line, reason in skipped(result.workspace)],
    }


def render_json(result: StatusResult, stream=None) -> None:
    (stream or sys.stdout).write(json.dumps(document(result), indent=2) + "\n")


def render_text(result: StatusResult, stream=None) -> None:
    out = EscapedLines(stream or sys.stdout)  # control characters of the input escaped
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
        out.write(f"  {count(s.remaining, 'reference')} left of {s.baseline} at the baseline ({done});"
                  f" {rewritable} rewritable by `deploycheck migrate apply {m.id}`\n")
        out.write("  by directory: " + ", ".join(f"{d}/ {n}" for d, n in s.directories(root).items()) + "\n")
        dangling = sum(r.dangling is not None for r in s.references)
        if dangling:
            out.write(f"  {dangling} of them dangling: the name is bound to nothing where it is used "
                      "(NameError, or AttributeError for `from module import *`, when it runs)\n")
        for r in s.references:
            rel = os.path.relpath(r.path, root)
            text, reason = shown(r, result.workspace.outside)
            how = "rewritable" if r.rewritable else "not rewritable" if reason == WITHHELD else \
                f"not rewritable: {reason}"
            if r.dangling is not None:
                how += f"; dangling: {r.dangling.text(rel)}"
            said = f"({WITHHELD}; {how})" if text == WITHHELD else f"{text} ({how})"
            out.write(f"  {rel}:{r.line}:{r.column + 1}: {r.kind} {said}\n")
        out.write("\n")
    bad = skipped(result.workspace)
    if bad:
        were = "was" if len(bad) == 1 else "were"
        out.write(f"warning: {count(len(bad), 'file')} could not be read or parsed and {were} not searched "
                  "(a reference may hide there):\n")
        for p, line, reason in bad:
            out.write(f"  {_where(result.workspace, p, line)}: {reason}\n")
    n = len(result.workspace.contents)
    out.write(f"{count(n, 'file')} searched · {result.seconds:.2f} s\n")


def findings(result: StatusResult) -> list[tuple[Finding, Reference]]:
    """Each reference as a finding, for the machine formats and baselines: DC301, an error once its
    migration is completed (the ban), a warning while it is under way."""
    out = []
    for s in result.migrations:
        m = s.migration
        for r in s.references:
            if s.completed:
                message = f"{m.old} is banned since migration {m.id} completed: use {m.new}"
            else:
                message = f"{m.old} is still referenced ({r.kind}); migration {m.id} replaces it with {m.new}"
            f = Finding("DC301", ERROR if s.completed else WARNING, message, r.path, r.line, r.column,
                        symbol=r.text, when="import")
            out.append((f, r))
    return out

