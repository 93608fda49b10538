"""``deploycheck migrate apply ID [PATH] [--write]``: rewrite every reference of a migration, or nothing.

Without ``--write`` the unified diff is printed, steps 1 and 2 below are run all the same (their refusals
printed, exit 1), and nothing is written: the dry run answers what ``--write`` would do, so CI can gate on it.
With ``--write``:

1. every edit is computed in memory; a reference that cannot be rewritten (a bare use of ``old``, a string,
   an attribute without a mapping) stops the apply: they are listed, nothing is written, exit 1;
2. the edited tree is checked in memory (an overlay of the files layer): its references must be gone, and the
   ``check`` rules over every project module must find no error the unedited tree does not have; otherwise
   they are shown, nothing is written, exit 1;
3. the files are replaced all-or-nothing (``writer.write_all``), after making sure none changed since it was
   read and each can be replaced; exit 0.

Only ``--write`` completes an apply that was cut short (``writer.recover``); the dry run says there is one
(``writer.refuse_pending``) and does nothing.

A Python file under the root that does not parse (or cannot be read) stops the apply before anything else,
unless the migration's ``exclude`` matches it: it may hold references. Exit 2.
"""

from __future__ import annotations

import ast
import difflib
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

import libcst as cst

from deploycheck import check as check_mod
from deploycheck.errors import UsageError
from deploycheck.findings.finding import ERROR
from deploycheck.index.parsing import NEEDS_MEMORY, TOO_NESTED, Parser, not_analyzed_reason
from deploycheck.migrate import attributes, codemod, lock, state, writer
from deploycheck.migrate.config import Migration
from deploycheck.migrate.finder import ATTRIBUTE, CALL, IMPORT, Reference
from deploycheck.migrate.overlay import OverlayFiles
from deploycheck.migrate.status import count, listing, refuse_skipped
from deploycheck.migrate.workspace import Workspace, find_migration, open_workspace
from deploycheck.target import declared
from deploycheck.target.boundary import quote


@dataclass
class Plan:
    """``references`` found; ``blockers`` those that cannot be rewritten (with a reason each); ``edits`` the
    new bytes of each file to change (absolute path -> bytes)."""

    migration: Migration
    old: str
    references: list[Reference]
    blockers: list[Reference] = field(default_factory=list)
    edits: dict[str, bytes] = field(default_factory=dict)


def plan(ws: Workspace, m: Migration) -> Plan:
    """Compute every edit in memory. Raises ``UsageError`` when a file cannot be read or parsed (see
    ``status.refuse_skipped``), when a file to edit is a symbolic link to a file outside the project root
    (a symbolic link inside it is edited through: its target is written), or when ``old`` does not
    resolve (a completed migration whose symbol is gone has nothing to rewrite)."""
    refuse_skipped(ws, m.exclude)
    old, problem = ws.canonical(m)
    recorded = state.entry(state.read(ws.project.root), m.id, m.old)
    if problem and not (recorded and recorded.get("completed")):
        raise UsageError(f"migration `{m.id}`: old `{quote(m.old)}` does not resolve: {problem}")
    refs = ws.references(m, old)
    p = Plan(m, old, refs, [r for r in refs if not r.rewritable])
    by_file: dict[str, list[Reference]] = {}
    for r in refs:
        if r.rewritable:
            by_file.setdefault(r.path, []).append(r)
    resolver = ws.resolver(old)
    program = ws.program
    unparsed: list[tuple[str, int, str]] = []  # files LibCST cannot parse (its grammar lags behind ast's)
    jobs: list[tuple[str, list[Reference], tuple]] = []
    for path, file_refs in sorted(by_file.items()):
        module = ws.modules.get(path)
        is_pkg = path.endswith("__init__.py")
        fr = ws.refs[path]
        try:
            new_text, add = codemod.spell_new(m.new, fr, resolver, module, is_pkg)
        except codemod.Conflict as exc:
            p.blockers.extend(_blocked(r, str(exc)) for r in file_refs if r.kind in (ATTRIBUTE, CALL))
            continue
        # Imports to drop once unused: those of old itself, and those binding the first name of a rewritten chain.
        bases = {(r.line, r.column) for r in file_refs if r.kind in (ATTRIBUTE, CALL)}
        remove = set()
        for r in file_refs:
            if r.binding is None or (r.kind == IMPORT and r.binding is None):
                continue
            mod, level, name, asname = r.binding
            absolute = program.absolute(module or "", is_pkg, mod, level) if (module or not level) else None
            if absolute is not None:
                remove.add((absolute, name, asname))
        if not bases and not remove:
            continue
        jobs.append((path, file_refs, (ws.contents[path], file_refs, m.attributes, new_text, add,
                                       sorted(remove, key=repr), module, is_pkg)))
    # LibCST's tree of a file takes many times ast's: rewrites run in the parse workers, within the budget
    results = Parser(_rewrite, LIBCST_RATIO).map([job for _, _, job in jobs], [len(job[0]) for _, _, job in jobs])
    for (path, file_refs, _), result in zip(jobs, results, strict=True):
        if result in (NEEDS_MEMORY, TOO_NESTED):
            reason = f"not analyzed: {not_analyzed_reason()}" if result == NEEDS_MEMORY else \
                "too deeply nested for LibCST"
            unparsed.append((path, 0, reason))
            continue
        if result[0] == "unparsed":
            unparsed.append((path, result[1], result[2]))
            continue
        _, data, done, error = result
        missed = [r for r in file_refs if r.kind in (ATTRIBUTE, CALL) and (r.line, r.column, r.parts) not in done]
        p.blockers.extend(_blocked(r, "the rewrite could not locate it") for r in missed)
        if error is not None:  # never write code that does not parse
            p.blockers.extend(_blocked(r, f"the rewrite would not parse: {error}") for r in file_refs)
            continue
        if data != ws.contents[path]:
            p.edits[path] = data
    if unparsed:
        raise UsageError(f"{count(len(unparsed), 'file')} to rewrite cannot be parsed by LibCST "
                         f"({listing(ws, unparsed)}); nothing was written")
    p.blockers.sort(key=lambda r: (r.path, r.line, r.column))
    outside = sorted(set(p.edits) & ws.outside)
    if outside:
        path = outside[0]
        raise UsageError(f"{os.path.relpath(path, ws.project.root)} is a symbolic link to {os.path.realpath(path)}, "
                         "outside the project root, and holds references: `migrate apply` does not write outside "
                         "the root; migrate that file where it lives, or add the link to the migration's `exclude`; "
                         "nothing was written")
    return p


# The most memory LibCST's tree takes per byte of source (measured: some 800 for ordinary code, over ten times
# ast's): a 500 KB module needed 400 MB.
LIBCST_RATIO = 2000


def _rewrite(job: tuple) -> tuple:
    """One file's rewrite (``codemod.rewrite``'s arguments), in a parse worker: ``("ok", bytes, done,
    error)`` with ``error`` the message of the syntax error the new text would hold (None when it parses or
    is unchanged), or ``("unparsed", line, reason)`` when LibCST cannot parse the file."""
    source = job[0]
    try:
        data, done = codemod.rewrite(*job)
    except cst.ParserSyntaxError as exc:
        return "unparsed", exc.raw_line, f"LibCST cannot parse it ({exc.message})"
    except RecursionError:
        return "unparsed", 0, "too deeply nested for LibCST"
    error = None
    if data != source:
        try:
            ast.parse(data)
        except SyntaxError as exc:
            error = exc.msg
        except RecursionError:
            error = "too deeply nested"
    return "ok", data, done, error


def _blocked(r: Reference, reason: str) -> Reference:
    return Reference(**{**r.__dict__, "reason": reason})


def diff(ws: Workspace, edits: dict[str, bytes]) -> str:
    """The unified diff of the edits, paths relative to the project root (``a/`` and ``b/`` prefixes)."""
    out: list[str] = []
    for path in sorted(edits):
        rel = os.path.relpath(path, ws.project.root).replace(os.sep, "/")
        before = ws.contents[path].decode("utf-8", errors="replace").splitlines(keepends=True)
        after = edits[path].decode("utf-8", errors="replace").splitlines(keepends=True)
        out.extend(difflib.unified_diff(before, after, f"a/{rel}", f"b/{rel}"))
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in out)


def recheck(ws: Workspace, p: Plan, cache_dir: str | None = None, no_cache: bool = False) -> list[str]:
    """Check the edited tree in memory. Returns the problems: references the edit would leave, each rewritten
    attribute that the class of ``new`` lacks (DC401, ``attributes.missing``), and error findings of the
    ``check`` rules (over every project module) that the unedited tree does not have."""
    overlay = OverlayFiles(p.edits)
    after = open_workspace(ws.project.root, files=overlay, project=ws.project, interp=ws.interp,
                           cache_dir=cache_dir, no_cache=no_cache)
    problems = [f"{os.path.relpath(r.path, ws.project.root)}:{r.line}:{r.column + 1}: {r.kind} {r.text} would be left"
                for r in after.references(p.migration, p.old)]
    # DC401 against the class of `new`: an attribute it lacks is an AttributeError on each rewritten line.
    index = attributes.project_index(dict(ws.project.modules), overlay.read_bytes)
    accessors = ws.project.config.config_accessors
    lacking = attributes.missing(p.migration, p.references, index, after.program, accessors)
    problems += [miss.line(ws.project.root, p.migration) for miss in lacking]
    entries: list[str] = []  # default mode, as `check` without entries: scripts as scripts, nothing refused
    opts = check_mod.Options(path=ws.project.root, cache_dir=cache_dir, no_cache=no_cache)
    decl = declared.read(ws.project.root)

    def errors(files) -> list:
        result = check_mod._analyze(opts, ws.project, ws.interp, files, entries, [], time.perf_counter(), decl)
        return [f for f in result.findings if f.severity == ERROR]

    def key(f) -> tuple:
        return (f.code, f.path, f.symbol, f.message)

    before = Counter(key(f) for f in errors(ws.files))
    for f in errors(overlay):
        k = key(f)
        if before[k] > 0:
            before[k] -= 1
            continue
        problems.append(f"{os.path.relpath(f.path, ws.project.root)}:{f.line}:{f.column + 1}: {f.code} {f.message}")
    return problems


def write_plan(ws: Workspace, p: Plan) -> None:
    """Write the plan's edits all-or-nothing (``writer.write_all``: each file must still hold what was read)
    and record the migration as completed. Raises ``UsageError`` with the tree as it was."""
    files = {path: (ws.contents[path], data) for path, data in p.edits.items()}
    writer.write_all(ws.project.root, p.migration.id, files)
    recorded = state.read(ws.project.root)
    entry = state.entry(recorded, p.migration.id, p.migration.old) or {
        "old": p.migration.old, "baseline": len(p.references), "completed": False}
    entry["completed"] = True
    recorded[p.migration.id] = entry
    state.write(ws.project.root, recorded)


def run(mid: str, path: str, write: bool = False, python: str | None = None, cache_dir: str | None = None,
        no_cache: bool = False, out=None, err=None) -> int:
    """The command. Returns the exit code (0 done or nothing to do, 1 refused); raises ``UsageError`` (2).
    Holds the project lock (``lock``) throughout: exclusive with ``write``, shared without."""
    out, err = out or sys.stdout, err or sys.stderr
    root = os.path.abspath(path)
    with lock.held(root, exclusive=write, shown=path):
        if os.path.isdir(root):
            if write:
                writer.recover(root, err)
            else:
                writer.refuse_pending(root, path)
        return _run(mid, path, write, python, cache_dir, no_cache, out, err)


def _run(mid: str, path: str, write: bool, python: str | None, cache_dir: str | None, no_cache: bool, out,
         err) -> int:
    ws = open_workspace(path, python, cache_dir, no_cache)
    m = find_migration(ws.project, mid)
    p = plan(ws, m)
    root = ws.project.root
    if not p.references:
        err.write(f"migrate apply {mid}: no references left; nothing to do\n")
        return 0
    text = diff(ws, p.edits)
    out.write(text)
    # The dry run makes the same refusals as --write, so it can gate CI: exit 1 when --write would refuse.
    refused = "nothing was written" if write else "--write would write nothing"
    if p.blockers:
        n = len(p.blockers)
        err.write(f"migrate apply {mid}: {count(n, 'reference')} cannot be rewritten; {refused}:\n")
        for r in p.blockers:
            err.write(f"  {os.path.relpath(r.path, root)}:{r.line}:{r.column + 1}: {r.kind} {r.text} ({r.reason})\n")
        return 1
    problems = recheck(ws, p, cache_dir, no_cache)
    if problems:
        err.write(f"migrate apply {mid}: the edited tree fails the check; {refused}:\n")
        for line in problems:
            err.write(f"  {line}\n")
        return 1
    done = f"{count(len(p.references), 'reference')} in {count(len(p.edits), 'file')}"
    if not write:
        err.write(f"migrate apply {mid}: {done} would be rewritten (nothing written; --write to apply)\n")
        return 0
    write_plan(ws, p)
    err.write(f"migrate apply {mid}: rewrote {done}\n")
    return 0

