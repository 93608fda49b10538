"""Directories the program's own modules put on ``sys.path`` while they run, added to the search path.

``sys.path.insert(0, os.path.dirname(__file__))`` in an application, setuptools' ``sys.path.extend(...
'setuptools/_vendor' ...)`` in its ``__init__``: a module of the import closure that adds a directory
computed from its own ``__file__`` (or an absolute constant) makes what is in that directory importable for
every import that runs after it (the ``sys.path`` documentation). The walker records those additions
(``Summary.path_inserts``, ``index.effects``).

An addition made at module level runs whenever the module is imported: ``extend`` adds those of the
closure's modules to the finder, searched for a top-level name only when the rest of the search path has
nothing by that name, so what they make importable is found and nothing found before is hidden (a regular
module there would win over a namespace package found earlier, once the addition ran; that, and the order,
are not modeled: the model can miss a failure there, never invent one). An addition made in a function runs
only when the function does: it counts for the imports of that same function (``local_dirs``), not for the
whole program.
"""

from __future__ import annotations

from deploycheck.index.effects import evaluate

MAX_ADDED = 256  # directories added to one search path; real programs add a handful


def _dirs(program, path: str, inserts) -> list[str]:
    files = program.finder.files
    out: list[str] = []
    for tree in inserts:
        d = evaluate(tree, path)
        if d is not None:
            d = files.realpath(d)
            if d not in out and files.is_dir(d):
                out.append(d)
    return out


def additions(program, project_only: bool = False) -> list[str]:
    """The directories that the closure's modules (``project_only``: the project's own modules) add to
    ``sys.path`` at module level, existing on the target, in the order of the modules' names, not yet
    searched."""
    present = set(program.finder.entries) | set(program.finder.late)
    out: list[str] = []
    for name in sorted(program.nodes):
        node = program.nodes[name]
        if not (node.module.has_source and node.module.path) or (project_only and node.origin != "project"):
            continue
        summ = program.summary(name)
        found = summ.path_inserts if summ is not None else []
        inserts = [tree for tree, _line, span in found if span is None]
        out += [d for d in _dirs(program, node.module.path, inserts) if d not in present and d not in out]
    return out


def extend(program) -> bool:
    """Add the closure's module-level ``sys.path`` additions to the program's finder (``ModuleFinder.late``).
    Returns True when something was added, so the closure must be walked again."""
    added = additions(program)[:max(MAX_ADDED - len(program.finder.late), 0)]
    if not added:
        return False
    # The project names these: what is found there is the project's business (target.boundary).
    program.search_path.named.extend(d for d in additions(program, project_only=True) if d in added)
    program.finder.late.extend(added)
    program.search_path.added.extend(added)
    program.finder.clear()
    program._aliases.clear()
    program._statuses.clear()
    return True


def local_dirs(program, path: str, summ, line: int) -> list[str]:
    """Directories that the function holding ``line`` (in the module whose file is ``path``) adds to
    ``sys.path`` before its imports run (pgAdmin's ``load_providers()``: ``sys.path.append(path)`` then
    ``__import__("providers." + name)``)."""
    return _dirs(program, path, [tree for tree, at, span in summ.path_inserts
                                 if span is not None and span[0] <= line <= span[1] and at < line])


def found_in(program, module: str, dirs: list[str]) -> bool:
    """Whether the top-level package of ``module`` is in one of ``dirs``."""
    top = module.partition(".")[0]
    return bool(dirs) and program.finder._find_in(top, top, dirs) is not None
