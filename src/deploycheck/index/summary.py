"""Summarize one source file from its ``ast``: what it binds, exports, imports, and reads from modules.

A summary depends only on the file's bytes and the target's facts (version and platform decide which
``if sys.version_info`` / ``sys.platform`` branches exist), so it is cached by content hash and facts.

Execution contexts follow the language reference: module-level code, class bodies, decorators, default
values and (without ``from __future__ import annotations``, PEP 563) module- and class-level annotations run
when the module is imported; function bodies run when called; ``if TYPE_CHECKING:`` bodies, deferred
annotations and annotations of local variables (PEP 526) never run.
"""


from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import NamedTuple

MODULE = "module"
FUNCTION = "function"
TYPING = "typing"

# A binding descriptor: VALUE, ("m", "pkg.mod") for `import pkg.mod as x`, or ("f", "mod", level, "name")
# for `from .mod import name` (the name may be a submodule or any attribute; the resolver decides).
VALUE = "v"
Descriptor = object


class ImportSite(NamedTuple):
    """One import statement (one per alias for ``import a, b``).

    ``module`` is the dotted name as written without leading dots, ``level`` the number of dots (PEP 328),
    ``names`` the names of a ``from`` import (``("*",)`` for a star import, empty for ``import a.b``),
    ``positions`` the (line, column) of each name; lines are 1-based and columns 0-based.
    """

    module: str
    level: int
    names: tuple[str, ...]
    line: int
    col: int
    context: str
    guarded: int  # 0: not guarded; 1: ImportError is caught; 2: every Exception is caught
    conditional: bool
    positions: tuple[tuple[int, int], ...]
    try_id: int = 0  # the innermost `try` catching ImportError whose body holds this import (0: none)
    branch: int = 0  # -N: in a handler of try N (runs if its body failed); +N: in its `else` (runs if not)


class AttrRead(NamedTuple):
    """``target.attrs[0].attrs[1]...`` read where ``target`` is an import binding (a Descriptor)."""

    target: tuple
    attrs: tuple[str, ...]
    positions: tuple[tuple[int, int], ...]
    context: str
    guarded: bool
    conditional: bool
    branch: int = 0  # as ImportSite.branch
    unless: tuple[int, ...] = ()  # branches that, if they run, rebind the name to a value (`x = None`)


@dataclass
class Summary:
    """Everything later stages need from one file. ``quiet_spans`` are ``(line, col, end_line, end_col,
    kind)`` ranges where undefined names do not crash: ``typing`` (never evaluated), ``dead`` (a branch that
    is false on the target) or ``guarded`` (inside ``try`` that catches NameError)."""

    bindings: dict[str, list] = field(default_factory=dict)
    all_names: list[str] | None = None
    all_refs: list[tuple] = field(default_factory=list)
    all_unknown: bool = False
    has_getattr: bool = False
    dynamic: list[str] = field(default_factory=list)
    path_dynamic: bool = False
    syspath_hack: bool = False
    imports: list[ImportSite] = field(default_factory=list)
    reads: list[AttrRead] = field(default_factory=list)
    stores: list[tuple] = field(default_factory=list)
    builtins_added: list[str] = field(default_factory=list)
    quiet_spans: list[tuple[int, int, int, int, str]] = field(default_factory=list)
    registered: list[str] = field(default_factory=list)
    module_aliases: dict[str, tuple] = field(default_factory=dict)  # `sys.modules["os.path"] = path`
    function_spans: list[tuple[int, int]] = field(default_factory=list)
    refusals: list[tuple[int, int, str, int]] = field(default_factory=list)  # line, col, raise text, branch
    getattr_names: list[str] | None = None
    getattr_submodules: int = 0  # the module __getattr__ imports submodules (idioms.lazy_submodules)
    syntax_error: tuple[str, int, int] | None = None
    future_annotations: bool = False
    computed_imports: bool = False  # imports by a computed name (import_module(f"{pkg}.{n}"), autodiscovery)
    settings: list[ImportSite] = field(default_factory=list)  # Django settings modules the file names (environ)
    # What the module does to the import system while it runs (index.effects). sys.path additions: (path
    # tree, line, (first, last line) of the function making it, or None at module level)
    path_inserts: list[tuple] = field(default_factory=list)
    installs: list[int] = field(default_factory=list)  # lines of calls that install distributions at run time
    requires: list[tuple] = field(default_factory=list)  # (line, end line, module): runs only if it imports
    namers: list[str] = field(default_factory=list)  # root names of decorators/bases applied at module level
    made: dict[str, str] = field(default_factory=dict)  # module-level name -> root name of the call making it
    writes_modules: bool = False  # adds names to modules of objects it is handed (sys.modules[o.__module__])
    # Functions and the calls that may reach them, packed (few objects to store and load; index.startup
    # unpacks them for the modules where a function is reached). ``defs``: the qualname of every ``def`` as
    # Python writes it (``Cls.meth``, ``outer.<locals>.inner``), joined by newlines, and its first and last
    # lines as little-endian int32 pairs. ``calls``: the calls whose callee is named statically, as int32
    # quadruples (index of the calling def in ``defs`` or -1 for code that runs at import, line, shield: 0
    # certain, 1 inside ``except ImportError``, 2 under a condition or a broader ``except``; index of the
    # callee), and the callees: a qualname of this module, or (import descriptor, dotted attributes after it).
    defs: tuple = ("", b"")
    calls: tuple = (b"", [])
    # Module-level classes (``idioms.ClassFacts``): name -> (bases, names the class body binds, opaque).
    classes: dict[str, tuple] = field(default_factory=dict)

    def to_plain(self) -> tuple:
        return (
            self.bindings, self.all_names, self.all_refs, self.all_unknown, self.has_getattr, self.dynamic,
            self.path_dynamic, self.syspath_hack, [tuple(i) for i in self.imports],
            [tuple(r) for r in self.reads], self.stores, self.builtins_added, self.quiet_spans,
            self.registered, self.module_aliases, self.function_spans, self.refusals, self.getattr_names,
            self.getattr_submodules, self.syntax_error, self.future_annotations,
            self.computed_imports, [tuple(i) for i in self.settings], self.path_inserts, self.installs,
            self.requires, self.namers, self.made, self.writes_modules, self.defs, self.calls, self.classes,
        )

    @classmethod
    def from_plain(cls, t: tuple) -> Summary:
        if len(t) != _FIELDS:
            raise ValueError("summary of another analyzer version")
        s = cls(*t)
        s.imports = [ImportSite(*i) for i in s.imports]
        s.reads = [AttrRead(*r) for r in s.reads]
        s.settings = [ImportSite(*i) for i in s.settings]
        return s


_FIELDS = len(fields(Summary))  # to tell a summary of another analyzer version
