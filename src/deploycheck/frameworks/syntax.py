"""What a framework loader reads from a module's syntax tree, read within the parse memory budget and cached.

A loader needs more than a module's summary (the arguments of ``Celery(..., include=[...])``, the literal
values of a configuration module). It names a module-level ``extract(tree) -> plain data`` function; the
module's file is read through the program's bounded reader, parsed in the parser's memory-limited workers
when it is big (``index.parsing``), and the result is cached by content hash like a summary, so a warm run
parses nothing.
"""

from __future__ import annotations

import ast
import marshal
import warnings
from collections.abc import Callable

from deploycheck import ANALYZER_VERSION
from deploycheck.index.parsing import Parser
from deploycheck.index.store import content_key


def _run(item: tuple[Callable, bytes]):
    extract, data = item
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences and the like: not ours to report
            tree = ast.parse(data)
    except (SyntaxError, ValueError, RecursionError):
        return None
    try:
        return extract(tree)
    except RecursionError:
        return None


def memo(program) -> dict:
    """A dictionary kept with ``program`` for what loaders compute once per check (``frameworks.close`` asks
    each loader again in every round)."""
    return program.__dict__.setdefault("_framework_memo", {})


def read(program, modules: list[str], extract: Callable[[ast.Module], object],
         space: str) -> dict[str, object]:
    """``{module: extract(tree)}`` for each of ``modules`` that has a readable, parsable source file.

    ``extract`` must be a module-level function (it may run in a worker process) returning data that
    ``marshal`` can store (None, numbers, strings, tuples, lists, dicts); ``space`` names it in the cache
    (change it when what ``extract`` returns changes). Modules without source, unreadable files (too large,
    not regular: ``artifact.files``), files that do not parse and files whose tree does not fit in the parse
    budget are left out."""
    kept = memo(program)  # what was read once for this program is not read again in a later round
    out: dict[str, object] = {}
    wanted = [n for n in dict.fromkeys(modules) if (space, n) not in kept]
    for name in modules:
        if kept.get((space, name)) is not None:
            out[name] = kept[(space, name)]
    for name in wanted:
        kept[(space, name)] = None
    store = program.store
    paths: dict[str, str] = {}
    for name in wanted:
        mod = program.find(name)
        if mod is not None and mod.has_source and mod.path:
            paths[name] = mod.path
    if not paths:
        return out
    cache_space = f"framework-{space}-{ANALYZER_VERSION}-{store.facts.key}"
    data: dict[str, bytes] = {}
    keys: dict[str, str] = {}
    for name, path in paths.items():
        try:
            data[name] = store.read_bytes(path)
        except (OSError, ValueError):
            continue
        keys[name] = content_key(data[name])
    cached = store.cache.get_many(cache_space, sorted(set(keys.values())))
    todo: list[str] = []
    for name in data:
        blob = cached.get(keys[name])
        if blob is not None:
            try:
                out[name] = kept[(space, name)] = marshal.loads(blob)
                continue
            except (EOFError, ValueError, TypeError):
                pass
        todo.append(name)
    if todo:
        parser = Parser(_run)
        try:
            results = parser.map([(extract, data[n]) for n in todo], [len(data[n]) for n in todo])
        finally:
            parser.close()
        for name, result in zip(todo, results, strict=True):
            if result is None or isinstance(result, str):  # did not parse, or did not fit (index.parsing)
                continue
            out[name] = kept[(space, name)] = result
            store.cache.put(cache_space, keys[name], marshal.dumps(result))
    return out


class ConditionDepth(ast.NodeVisitor):
    """A visitor that knows, at each node, how many conditional statements or expressions (``if``, loops,
    ``try``, ``with``, ``x if c else y``, ``and``/``or``) surround it within its function (``self.depth``; 0:
    the call runs whenever its function or module body does). Subclasses add ``visit_Call`` and collect."""

    def __init__(self) -> None:
        self.found: list[tuple] = []
        self.depth = 0

    def visit_FunctionDef(self, node) -> None:
        outer, self.depth = self.depth, 0
        self.generic_visit(node)
        self.depth = outer

    visit_AsyncFunctionDef = visit_FunctionDef

    def _nested(self, node) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_If = visit_For = visit_While = visit_Try = visit_With = visit_IfExp = visit_BoolOp = _nested
