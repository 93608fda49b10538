"""Which names a module's star imports can bind: ``from m import *`` followed through chains and cycles.

The language reference (the import statement) and CPython (``import_all_from``, Python/ceval.c up to 3.11,
Python/intrinsics.c since 3.12) say what ``from m import *`` binds: the names of ``m.__all__`` when ``m``
has one, each fetched with ``getattr`` (so a module ``__getattr__``, PEP 562, may serve a listed name that
the module lacks, and a listed name nothing serves raises AttributeError at the star import); else every key
of ``m.__dict__`` that does not start with ``_``, taken as it is when the statement runs: the module
``__getattr__`` is not asked for those, only for ``__all__`` itself when the module binds none.

Whether a name *is* there depends on the order modules run in (in a cycle, a partially initialized module
exports what it bound so far). The search here ignores order and asks only whether the name can come from
anywhere the star imports lead: a module along the way that binds it, an ``__all__`` listing it, or
something the analysis cannot read. So MISSING is certain (no order of execution binds the name), FOUND means
"may be bound", and UNKNOWN means something on the way decides its names at run time (writes through
``globals()``, ``exec``, a sourceless or compiled module, a star import whose module is not found).
"""

from __future__ import annotations

from deploycheck.index import finder as F
from deploycheck.index import writers
from deploycheck.index.program import FOUND, MISSING, UNKNOWN, Program
from deploycheck.index.summary import TYPING, Summary


def sites(summ: Summary) -> list:
    """The star imports of a module that may run (``ImportSite``s; those under ``if TYPE_CHECKING:`` never
    do), in source order."""
    return [s for s in summ.imports if s.names == ("*",) and s.context != TYPING]


def written(site) -> str:
    """A star import as its source wrote it: ``from .config import *``."""
    return f"from {'.' * site.level}{site.module} import *"


def provided(program: Program, modname: str, is_package: bool, summ: Summary,
             name: str) -> tuple[str, list[str]]:
    """Can the star imports of module ``modname`` (summary ``summ``) bind ``name`` in its namespace?

    Returns (FOUND, MISSING or UNKNOWN; the modules searched, in the order searched, breadth first from the
    module's own star imports). FOUND: some module the star imports reach may give the name; MISSING: none
    can, whatever the order of execution; UNKNOWN: a module on the way decides its names at run time, or
    is not found (``module_status`` MISSING is DC101's to report, and a guarded one may be a file the
    deploy writes)."""
    todo = [_target(program, modname, is_package, s) for s in sites(summ)]
    searched: list[str] = []
    seen: set[str] = set()
    unknown = False
    while todo:
        target = todo.pop(0)
        if target is None:
            unknown = True
            continue
        if target in seen:
            continue  # a cycle: what it can give is what the modules already searched can
        seen.add(target)
        searched.append(target)
        verdict, more = _exports(program, target, name)
        if verdict == FOUND:
            return FOUND, searched
        unknown |= verdict == UNKNOWN
        todo.extend(more)
    return (UNKNOWN if unknown else MISSING), searched


def _target(program: Program, importer: str, is_package: bool, site) -> str | None:
    """The module a star import loads, or None when it cannot be followed."""
    base = program.absolute(importer, is_package, site.module, site.level)
    if base is None or program.find(base) is None:
        return None
    return base


def _exports(program: Program, modname: str, name: str) -> tuple[str, list[str | None]]:
    """Does ``from modname import *`` give ``name``, as far as ``modname`` itself decides? Returns the
    verdict and, when the module has no ``__all__``, the modules of its own star imports (their exports are
    its names too; None for one that cannot be followed)."""
    mod = program.find(modname)
    if mod is None:
        return UNKNOWN, []
    if not mod.has_source:
        return _compiled(program, mod, modname, name), []
    summ = program.summary(modname)
    if summ is None or summ.syntax_error or summ.dynamic or writers.opened(program, modname):
        return UNKNOWN, []
    if summ.all_names is not None:
        if name in summ.all_names:
            return FOUND, []  # bound, served by __getattr__, or an AttributeError at the star (DC102)
        if summ.all_unknown:
            return UNKNOWN, []
        for ref in summ.all_refs:  # `__all__ = base.__all__ + [...]`
            target = program.descriptor_module(modname, mod.is_package, ref)
            r = program.exports(target, name) if target is not None else UNKNOWN
            if r != MISSING:
                return r, []
        return MISSING, []
    if summ.has_getattr and (summ.getattr_names is None or "__all__" in summ.getattr_names):
        return UNKNOWN, []  # without an __all__ of its own, the star asks __getattr__ for one
    if name.startswith("_"):
        return MISSING, []
    if (name in summ.bindings or "." + name in summ.registered or (modname, name) in program.stores
            or f"{modname}.{name}" in program.registered
            or (mod.is_package and program.find(f"{modname}.{name}") is not None)):
        return FOUND, []  # bound at module level (maybe), put there from outside, or a submodule
    if mod.is_package and summ.path_dynamic:
        return UNKNOWN, []  # its submodules may be anywhere
    return MISSING, [_target(program, modname, mod.is_package, s) for s in sites(summ)]


def _compiled(program: Program, mod: F.Module, modname: str, name: str) -> str:
    """What a module without source exports: a built-in or standard-library extension module's names are
    ``dir()`` of it (``Interpreter.builtin_attrs``), whose ``__all__`` we do not know the contents of; a
    namespace package's are its imported submodules; anything else is unknown."""
    if mod.kind == F.NAMESPACE:
        return program.has_name(modname, name)
    if mod.kind == F.BUILTIN or (mod.kind == F.EXTENSION and program.origin(mod) == "stdlib"):
        attrs = program.interp.builtin_attrs.get(modname)
        if attrs is None:
            return UNKNOWN
        if name in attrs:  # a private name is given only when an __all__ we cannot read lists it
            return FOUND if not name.startswith("_") or "__all__" in attrs else MISSING
        # the table of names per Python version leaves private names out
        return UNKNOWN if program.interp.builtin_attrs_from_table and name.startswith("_") else MISSING
    return UNKNOWN
