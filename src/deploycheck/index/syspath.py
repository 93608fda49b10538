"""Directories the program's own modules put on ``sys.path`` while they run, added to the search path.

``sys.path.insert(0, os.path.dirname(__file__))`` in an application, setuptools' ``sys.path.extend(...
'setuptools/_vendor' ...)`` in its ``__init__``: a module of the import closure that adds a directory
computed from its own ``__file__`` (or an absolute constant) makes what is in that directory importable for
every import that runs after it (the ``sys.path`` documentation). The walker records those additions
(``Summary.path_inserts``, ``index.effects``); ``extend`` evaluates them for the closure's modules and adds
the directories that exist on the target to the finder.

Each directory is added after the rest of the search path, wherever the code inserts it: what it makes
importable is found, and nothing found before is hidden. An insertion at the front that would shadow a
module of the same name elsewhere is not modeled (nor is the order: a module imported before the insertion
ran is still resolved with it), so the model can miss a failure there, never invent one.
"""

from __future__ import annotations

from deploycheck.index.effects import evaluate

MAX_ADDED = 256  # directories added to one search path; real programs add a handful


def additions(program) -> list[str]:
    """The directories that the closure's modules add to ``sys.path``, existing on the target, in the order
    of the modules' names, not yet on the search path."""
    files = program.finder.files
    present = set(program.finder.entries)
    out: list[str] = []
    for name in sorted(program.nodes):
        node = program.nodes[name]
        if not (node.module.has_source and node.module.path):
            continue
        summ = program.summary(name)
        for tree, _line in summ.path_inserts if summ is not None else ():
            d = evaluate(tree, node.module.path)
            if d is None or d in present or d in out:
                continue
            d = files.realpath(d)
            if d not in present and d not in out and files.is_dir(d):
                out.append(d)
    return out


def extend(program) -> bool:
    """Add the closure's ``sys.path`` additions to the program's search path (after its entries). Returns
    True when the search path changed, so the closure must be walked again."""
    added = additions(program)[:max(MAX_ADDED - len(program.search_path.added), 0)]
    if not added:
        return False
    program.finder.entries.extend(added)  # the search path's own list: the result shows them
    program.search_path.added.extend(added)
    program.finder.clear()
    program._aliases.clear()
    return True
