"""Default mode (no entries named): every module of the project's packages is an entry, and each directory of
scripts is checked with the search path its scripts run with (``target.layout``).

A script directory's program has the directory first on its search path, then the project roots, then the
target environment. Directories whose module names neither collide with each other nor hide a module of the
environment share one program (it can only find more than each script would: a miss, never a false alarm);
any other directory gets a program of its own, up to ``MAX_SCRIPT_PROGRAMS`` (the others are named in the
summary as not checked).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from deploycheck import frameworks
from deploycheck.inputs import whole_number
from deploycheck.target import layout as layout_mod
from deploycheck.target.layout import Layout, ScriptDir

# Programs for script directories with module names of their own (each walks its closure again, a few seconds
# on a large repository); past it they share one program, with a note. Real repositories have a handful.
MAX_SCRIPT_PROGRAMS = 32
MAX_SCRIPT_PROGRAMS_VAR = "DEPLOYCHECK_MAX_SCRIPT_PROGRAMS"
MAX_LISTED = 6  # directories named in a summary line; the rest are counted


@dataclass
class ScriptProgram:
    """A program for script directories: its closure was walked from ``entries`` (the directories'
    modules); ``only`` are the modules its findings may be about (those under its directories and those the
    project's own program does not reach)."""

    program: object
    dirs: list[ScriptDir]
    entries: list[str]
    only: set[str] = field(default_factory=set)


@dataclass
class DefaultRun:
    """What default mode walked: the package entries, the script programs, and the summary lines."""

    entries: list[str]
    layout: Layout
    programs: list[ScriptProgram] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def run(project, program, owner, make_program, settings_given: bool = False, extra: list[str] = ()) -> DefaultRun:
    """Walk ``program`` (the project's packages) from every module of them, then each script directory's
    program (``make_program(roots)`` builds one sharing the summary store). A file of a script directory that
    a module of the packages imports by its namespace name (pgAdmin imports ``pgacloud.utils.azure_cache``,
    whose directory also holds the ``pgacloud.py`` script) is checked where the packages import it, not as a
    script. ``extra``: entries walked with the packages' (a launcher's configuration file)."""
    layout = layout_mod.plan(project, program, owner)
    entries = list(layout.entries) + [e for e in extra if e not in layout.entries]
    frameworks.close(program, entries, settings_given)
    out = DefaultRun(entries, layout)
    out.programs = _programs(layout.scripts, program, make_program, settings_given, out.notes)
    out.notes[:0] = _summary(layout)
    return out


def max_script_programs() -> int:
    """``DEPLOYCHECK_MAX_SCRIPT_PROGRAMS`` when set, else ``MAX_SCRIPT_PROGRAMS``. Raises ``UsageError`` for
    a value that is not a whole number."""
    return whole_number(MAX_SCRIPT_PROGRAMS_VAR, MAX_SCRIPT_PROGRAMS, "")


def _programs(dirs: list[ScriptDir], main, make_program, settings_given: bool, notes: list[str]):
    shared: list[ScriptDir] = []
    own: list[ScriptDir] = []
    taken: set[str] = set()
    for d in dirs:
        names = d.top_names()
        if names & taken or any((m := main.find(n)) is not None and m.kind != "namespace" for n in names):
            own.append(d)
        else:
            shared.append(d)
            taken |= names
    limit = max_script_programs()
    if len(own) > limit:
        left = ", ".join(f"{d.rel}/" for d in own[limit:limit + MAX_LISTED])
        more = f" and {len(own) - limit - MAX_LISTED} more" if len(own) - limit > MAX_LISTED else ""
        notes.append(f"script directories not checked: {left}{more} (at most {limit} script directories with "
                     f"module names of their own are; {MAX_SCRIPT_PROGRAMS_VAR} raises it)")
        own = own[:limit]
    groups = ([shared] if shared else []) + [[d] for d in own]
    reached = {n.module.path for n in main.nodes.values() if n.module.path}
    out = []
    for group in groups:
        p = make_program([d.path for d in group])
        entries = sorted({m for d in group for m in d.modules})
        frameworks.close(p, entries, settings_given)
        only = {name for name, node in p.nodes.items() if node.module.path not in reached}
        out.append(ScriptProgram(p, group, entries, only))
    return out


def _summary(layout: Layout) -> list[str]:
    """One line for the script directories, one for what is not an entry."""
    lines = []
    if layout.scripts:
        shown = [f"{d.rel}/" + ("" if d.why == "holds scripts" else f" ({d.why})")
                 for d in layout.scripts[:MAX_LISTED]]
        more = f" and {len(layout.scripts) - MAX_LISTED} more" if len(layout.scripts) > MAX_LISTED else ""
        lines.append(f"checked as scripts, each directory first on its search path: {', '.join(shown)}{more}")
    if layout.skipped:
        shown = [f"{path} ({why})" for path, why in layout.skipped[:MAX_LISTED]]
        more = f" and {len(layout.skipped) - MAX_LISTED} more" if len(layout.skipped) > MAX_LISTED else ""
        lines.append(f"not entries, since the search path loads another module by their name: "
                     f"{', '.join(shown)}{more}")
    return lines
