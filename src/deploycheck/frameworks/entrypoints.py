"""Entry points of the installed distributions that a launcher loads, where the launcher documents it.

Entry points are read as ``importlib.metadata`` reads them (the Python Packaging Authority's "Entry points
specification"): each distribution's ``entry_points.txt`` in the target's site directories, the first
distribution of a name on the search path winning. Followed:

- ``celery.commands``: Celery's command line (``celery.bin.celery``) loads every command of this group when
  it is imported (``click_plugins.with_plugins``); a plugin that fails to load makes its command fail
  (``celery flower``), so this counts when Celery's command line is what runs (an entry, the image's
  command), and when the image's command names Celery's subcommand, only that plugin counts.
- a ``pluggy`` plugin manager's ``load_setuptools_entrypoints(group)`` called at the top level of a module
  (datasette's ``datasette`` group): pluggy imports each entry point of the group there, and a failure
  propagates. Calls in function bodies (pytest's ``pytest11``, loaded when tests run) are not start-up.
- ``console_scripts``: a program the image's command runs that is a console script of an installed
  distribution is that script's ``module:function`` (``resolve_scripts``): the module is an entry and the
  function is called at start-up.
"""

from __future__ import annotations

import ast
import os
import posixpath
import re
from dataclasses import replace

from deploycheck.environment import distributions
from deploycheck.errors import UsageError
from deploycheck.frameworks import syntax
from deploycheck.frameworks.base import IMPORT, STARTUP, Edge, StartupCall
from deploycheck.index.idioms import dotted_name
from deploycheck.inputs import whole_number

SPACE = "pluggy-1"  # the cache space of ``extract``'s results
# Distributions whose entry points are read, at most (each is one small file): a search path holding more is
# not a real environment (a large one holds some hundreds). Raised with DEPLOYCHECK_MAX_DISTRIBUTIONS.
MAX_DISTRIBUTIONS = 20000
MAX_DISTRIBUTIONS_VAR = "DEPLOYCHECK_MAX_DISTRIBUTIONS"
CELERY_CLI = "celery.bin.celery"
CELERY_GROUP = "celery.commands"
CONSOLE_SCRIPTS = "console_scripts"

__all__ = ["entry_points", "extract", "load", "resolve_scripts"]


def max_distributions() -> int:
    """``DEPLOYCHECK_MAX_DISTRIBUTIONS`` when set, else ``MAX_DISTRIBUTIONS``. Raises ``UsageError`` for a
    value that is not a whole number."""
    return whole_number(MAX_DISTRIBUTIONS_VAR, MAX_DISTRIBUTIONS, " of distributions")


def entry_points(directories: list[str], files) -> dict[str, list[tuple[str, str, str]]]:
    """``{group: [(name, value, distribution)]}`` of the distributions found in ``directories`` (the search
    path, in order, as ``importlib.metadata.distributions()`` looks; read through ``files``, each
    ``entry_points.txt`` at most ``MAX_METADATA_BYTES``), the first distribution of a normalized name winning
    (``importlib.metadata.entry_points``). Raises ``UsageError`` past ``max_distributions()`` of them."""
    out: dict[str, list[tuple[str, str, str]]] = {}
    seen: set[str] = set()
    read, limit = 0, max_distributions()
    for site in directories:
        for name, is_dir in sorted((files.listdir(site) or {}).items()):
            if not is_dir or not name.endswith((".dist-info", ".egg-info")):
                continue
            dist = re.sub(r"[-_.]+", "-", name.rsplit(".", 1)[0].partition("-")[0]).lower()
            if dist in seen:
                continue
            seen.add(dist)
            read += 1
            if read > limit:
                raise UsageError(f"{site}: more than {limit} installed distributions on the search path, "
                                 f"whose entry points would be read (raise the limit with "
                                 f"{MAX_DISTRIBUTIONS_VAR})")
            try:  # importlib.metadata's own parser, through the bounded reader
                eps = distributions.entry_points(files, os.path.join(site, name))
            except Exception:  # noqa: BLE001, S112  a malformed file: importlib.metadata fails on it too
                continue
            for ep in eps:
                out.setdefault(ep.group, []).append((ep.name, ep.value, dist))
    return out


def _program_entry_points(program) -> dict[str, list[tuple[str, str, str]]]:
    kept = syntax.memo(program)
    if "entry_points" not in kept:
        kept["entry_points"] = entry_points(program.search_path.entries, program.finder.files)
    return kept["entry_points"]


def _target(value: str) -> tuple[str, str | None]:
    """The module and first attribute an entry point's value names (``mod.sub:obj.attr [extra]``)."""
    module, _, attr = value.partition(":")
    attr = attr.split("[")[0].strip()
    return module.strip(), (attr.partition(".")[0] or None)


def _line_of(program, module: str, text: str) -> int:
    """The first line of ``module``'s source that holds ``text`` (where a launcher names a group), else 0."""
    kept = syntax.memo(program)
    if ("line", module, text) not in kept:
        kept[("line", module, text)] = _find_line(program, module, text)
    return kept[("line", module, text)]


def _find_line(program, module: str, text: str) -> int:
    mod = program.find(module)
    if mod is None or not mod.path:
        return 0
    try:
        data = program.store.read_bytes(mod.path)
    except (OSError, ValueError):
        return 0
    at = data.find(text.encode())
    return data.count(b"\n", 0, at) + 1 if at >= 0 else 0


# -- pluggy ----------------------------------------------------------------------------------------------
def extract(tree: ast.Module) -> dict:
    """``{"loads": [(group, name or None, line)]}``: the ``load_setuptools_entrypoints`` calls that run when
    the module is imported (not those in function bodies)."""
    finder = _Loads()
    finder.visit(tree)
    return {"loads": finder.loads}


class _Loads(ast.NodeVisitor):
    def __init__(self) -> None:
        self.loads: list[tuple[str, str | None, int]] = []

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        for d in getattr(node, "decorator_list", []):
            self.visit(d)  # decorators run at import; the body when called

    visit_AsyncFunctionDef = visit_Lambda = visit_FunctionDef

    def visit_Call(self, node: ast.Call) -> None:
        if (dotted_name(node.func) or "").endswith(".load_setuptools_entrypoints"):
            args = list(node.args) + [k.value for k in node.keywords if k.arg in ("group", "name")]
            group = args[0] if args else None
            name = args[1] if len(args) > 1 else None
            if isinstance(group, ast.Constant) and isinstance(group.value, str):
                only = name.value if isinstance(name, ast.Constant) and isinstance(name.value, str) else None
                self.loads.append((group.value, only, node.lineno))
        self.generic_visit(node)


def _pluggy_loads(program) -> list[tuple[str, str, str | None, int]]:
    """``(module, group, name, line)`` of each plugin group a closure module loads when imported."""
    users = []
    for name, node in program.nodes.items():
        if node.origin == "stdlib" or not node.module.has_source or name.split(".")[0] == "pluggy":
            continue
        summ = program.summary(name)
        if summ is not None and any(site.level == 0 and site.module.split(".")[0] == "pluggy"
                                    for site in summ.imports):
            users.append(name)
    out = []
    for module, facts in sorted(syntax.read(program, users, extract, SPACE).items()):
        out.extend((module, group, only, line) for group, only, line in facts["loads"])
    return out


# -- the loader -------------------------------------------------------------------------------------------
def _celery_cli_runs(program) -> bool:
    """Whether the program run is Celery's command line: an entry (``celery.bin.celery``, or
    ``celery.__main__`` of ``python -m celery``) or the image's command (``celery ...``). Code that merely
    imports the command line (to add a command of its own) does not run the plugins' commands: a plugin that
    fails to load breaks only its own command (``click_plugins`` catches the failure)."""
    if {CELERY_CLI, "celery.__main__"} & set(getattr(program, "entries", ())):
        return True
    return any(e.launcher.startswith("celery") or e.runner == "celery"
               for e in getattr(program, "launch", ()))



def load(program):
    """The edges and start-up calls of launchers loading entry points in ``program``'s closure
    (``Loaded``)."""
    from deploycheck.frameworks import Loaded

    found = Loaded()
    wanted: list[tuple[str, str, str | None, int, str, str]] = []  # (importer, group, only, line, phase, who)
    if CELERY_CLI in program.nodes and _celery_cli_runs(program):
        commands = {e.command for e in getattr(program, "launch", ()) if getattr(e, "command", None)
                    and (e.launcher.startswith("celery") or e.runner == "celery")}
        line = _line_of(program, CELERY_CLI, CELERY_GROUP)
        if commands:
            wanted.extend((CELERY_CLI, CELERY_GROUP, c, line, STARTUP, "celery") for c in sorted(commands))
        else:
            wanted.append((CELERY_CLI, CELERY_GROUP, None, line, STARTUP, "celery"))
    wanted.extend((m, g, only, line, IMPORT, "pluggy") for m, g, only, line in _pluggy_loads(program))
    if wanted:
        eps = _program_entry_points(program)
        for importer, group, only, line, phase, who in wanted:
            for name, value, _dist in eps.get(group, ()):
                if only is not None and name != only:
                    continue
                module, attr = _target(value)
                if not module or not all(p.isidentifier() for p in module.split(".")):
                    continue
                step = f"{who} loads entry point {name} = {value}" if who == "celery" else \
                    f"{who} loads entry point {group}: {name} = {value}"
                found.edges.append(Edge(importer, module, line, step, phase, attr))
    for e in getattr(program, "launch", ()):
        script = getattr(e, "console_script", None)
        if script and e.module and e.attribute:
            step = f"the console script {script} calls {e.module}:{e.attribute}"
            found.calls.append(StartupCall(e.module, e.attribute, e.module, 0, step, STARTUP))
    return found


# -- console scripts --------------------------------------------------------------------------------------
def resolve_scripts(launch: list, site_dirs: list[str], files) -> list:
    """``launch`` (``environment.launcher.LaunchEntry``) with each program that is a console script of an
    installed distribution resolved to its ``module:function``: an unrecognized program becomes that entry;
    a recognized launcher (``celery``, ``gunicorn``) keeps its entries and gains it. A name two
    distributions declare is left alone (which script is installed is not known)."""
    programs = {posixpath.basename(e.program) for e in launch if e.program}
    if not programs:
        return launch
    scripts: dict[str, set[str]] = {}
    for name, value, _dist in entry_points(site_dirs, files).get(CONSOLE_SCRIPTS, ()):
        if name in programs:
            scripts.setdefault(name, set()).add(value)
    out = []
    added: set[str] = set()
    for e in launch:
        prog = posixpath.basename(e.program) if e.program else None
        values = scripts.get(prog or "", set())
        keep = e.module is not None or e.script is not None
        if keep:
            out.append(e)
        if len(values) != 1 or prog in added:
            if not keep:
                out.append(e)
            continue
        added.add(prog)
        module, attr = _target(next(iter(values)))
        out.append(replace(e, module=module, attribute=attr, script=None, launcher=f"{prog} (console script)",
                           console_script=f"{prog} = {next(iter(values))}"))
    return out
