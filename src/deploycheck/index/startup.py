"""Functions that run at start-up: called by code that runs at import, by a launcher or a framework while it
sets up (``frameworks.base.StartupCall``), or by such a function, transitively.

The language reference's execution model: a function's body runs when it is called. A call made by
module-level code runs while the module is imported; a call the launcher makes (``gunicorn
'pkg:create_app()'``) or the framework makes (Django's ``AppConfig.ready()``) runs while the service starts.
Such a body is start-up code: its imports are edges of the import closure in that phase, and what fails in it
fails every deploy. Only calls whose callee is named statically are followed (``create_app()``,
``factory.create_app()``, ``from x import f; f()``, see ``Summary.calls``); bodies of the standard library
are not read (they are not where a deploy breaks, and following them would read much of it).

Per-function facts are kept flat in the summary (``Summary.defs``, ``Summary.calls``) and grouped by
function only for the modules where some function is reached (``Table``).
"""

from __future__ import annotations

import struct
from bisect import bisect_right
from typing import NamedTuple

from deploycheck.index.summary import FUNCTION, ImportSite

MAX_DEPTH = 20  # re-exports followed to find where a function is defined
MAX_FUNCTIONS = 20000  # functions read per walk: a bound for hostile call graphs


class Reach(NamedTuple):
    """How a function is reached: its body runs in ``phase`` (``program.PHASES``), behind ``shield`` (as
    ``Node.shield``); ``caller`` calls it at ``line`` (a module, or the module naming a start-up call), and
    ``step`` is how a chain shows that (``django.setup(): ShopConfig.ready()``, ``create_app() called at
    import``)."""

    phase: str
    shield: int
    caller: str
    line: int
    step: str


class Table:
    """A module's functions grouped: ``names`` maps a qualname to its index in ``Summary.defs``; ``sites`` and
    ``calls`` map an index to the import statements and calls its own body makes (not those of functions
    nested in it)."""

    __slots__ = ("calls", "defs", "ends", "names", "order", "sites", "starts")

    def __init__(self, defs: list[tuple[str, int, int]], imports: list[ImportSite], calls: list[tuple]) -> None:
        self.defs = defs
        self.names = {q: i for i, (q, _a, _b) in enumerate(defs)}
        self.order = sorted(range(len(defs)), key=lambda i: defs[i][1])
        self.starts = [defs[i][1] for i in self.order]
        self.sites: dict[int, list[ImportSite]] = {}
        for site in imports:
            if site.context == FUNCTION:
                i = self.innermost(site.line)
                if i >= 0:
                    self.sites.setdefault(i, []).append(site)
        self.calls: dict[int, list[tuple]] = {}
        for call in calls:
            if call[0] >= 0:
                self.calls.setdefault(call[0], []).append(call)

    def innermost(self, line: int) -> int:
        """Index of the innermost def whose lines hold ``line``, or -1."""
        k = bisect_right(self.starts, line) - 1
        while k >= 0:
            i = self.order[k]
            if self.defs[i][2] >= line:
                return i
            k -= 1
        return -1


def defs(summ) -> list[tuple[str, int, int]]:
    """``Summary.defs`` unpacked: ``[(qualname, first line, last line)]``."""
    names, spans = summ.defs
    if not spans:
        return []
    lines = struct.unpack(f"<{len(spans) // 4}i", spans)
    return [(q, lines[2 * i], lines[2 * i + 1]) for i, q in enumerate(names.split("\n"))]


def calls(summ, only_import_time: bool = False) -> list[tuple]:
    """``Summary.calls`` unpacked: ``[(calling def's index or -1, line, shield, callee)]``; with
    ``only_import_time``, the calls that run at import (-1)."""
    packed, callees = summ.calls
    if not packed:
        return []
    return [(c, line, shield, callees[i]) for c, line, shield, i in struct.iter_unpack("<4i", packed)
            if c == -1 or not only_import_time]


def table(program, module: str) -> Table | None:
    """The function table of ``module`` (cached on ``program``), None without a parsed summary."""
    cached = program._fn_tables.get(module, False)
    if cached is not False:
        return cached
    summ = program.summary(module)
    t = None if summ is None or summ.syntax_error else Table(defs(summ), summ.imports, calls(summ))
    program._fn_tables[module] = t
    return t


def function_of(program, module: str, name: str, depth: int = 0) -> tuple[str, str] | None:
    """Where function ``name`` of ``module`` is defined, following re-exports (``from .app import
    create_app`` in a package's ``__init__``): ``(module, qualname)``, or None when ``name`` is no function
    defined by a ``def`` (a class, a value, or unknown) or is the standard library's."""
    if depth > MAX_DEPTH:
        return None
    mod = program.find(module)
    if mod is None or program.origin(mod) == "stdlib":
        return None  # the standard library's bodies are not read (above)
    t = table(program, module)
    if t is None:
        return None
    if name in t.names:
        return module, name
    summ = program.summary(module)
    descs = summ.bindings.get(name) if summ is not None else None
    if not descs or len(descs) != 1 or not isinstance(descs[0], (tuple, list)) or descs[0][0] != "f":
        return None
    _, src, level, attr = descs[0]
    base = program.absolute(module, mod.is_package, src, level)
    if base is None or program.member_module(base, attr) is not None:
        return None
    return function_of(program, base, attr, depth + 1)


def callee(program, module: str, is_package: bool, target) -> tuple[str, str] | None:
    """The function a call of ``module`` reaches (``Summary.calls``' callee), as ``(module, qualname)``; None
    when it is not a function defined by a ``def`` we can read."""
    if isinstance(target, str):
        return module, target
    desc, attrs = target
    if desc[0] == "m":
        current, names = desc[1], attrs.split(".") if attrs else []
        if program.find(current) is None:
            return None
    elif desc[0] == "f":
        base = program.absolute(module, is_package, desc[1], desc[2])
        if base is None:
            return None
        current, names = base, [desc[3], *(attrs.split(".") if attrs else [])]
    else:
        return None
    if not names:
        return None
    for name in names[:-1]:
        sub = program.member_module(current, name)
        if sub is None:
            return None
        current = sub
    return function_of(program, current, names[-1])
