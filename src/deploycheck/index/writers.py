"""Modules whose names another module adds at run time through ``sys.modules[obj.__module__]``.

django-hierarkey's ``@settings_hierarkey.set_global()`` and ``.add()`` create a model class and bind it in the
module of the class they decorate: ``setattr(sys.modules[wrapped_class.__module__], model_name, kv_model)``.
The name is computed, so which names appear is not known statically; what is known is which modules are
handed to such code. A module is *opened* when a decorator, base class or metaclass it applies at module level
comes from a module that writes into the module of objects it is handed (``Summary.writes_modules``),
directly, through re-exports, or through a module-level object made by calling something from there
(``settings_hierarkey = Hierarkey(...)``). A name missing from an opened module is UNKNOWN, not MISSING.
"""

from __future__ import annotations

from deploycheck.index.summary import VALUE

MAX_DEPTH = 8  # re-exports and factories followed from the decorator's name; real chains are two or three


def opened(program, modname: str) -> bool:
    """Whether code from a module that adds names to the modules of the objects it is handed is applied to
    ``modname``'s classes or functions (its decorators, bases or metaclasses). Cached on ``program``."""
    cache = program._opened
    if modname not in cache:
        cache[modname] = False  # cycle guard
        summ = program.summary(modname)
        cache[modname] = summ is not None and any(_from_writer(program, modname, root, 0, set())
                                                  for root in summ.namers)
    return cache[modname]


def _writes(program, modname: str | None) -> bool:
    summ = program.summary(modname) if modname else None
    return summ is not None and summ.writes_modules


def _from_writer(program, modname: str, name: str, depth: int, seen: set) -> bool:
    """Does ``name`` in module ``modname`` come from a module that writes into the given modules?"""
    if depth > MAX_DEPTH or (modname, name) in seen:
        return False
    seen.add((modname, name))
    mod = program.find(modname)
    summ = program.summary(modname)
    if mod is None or summ is None:
        return False
    for desc in summ.bindings.get(name, ()):
        if desc == VALUE:
            made = summ.made.get(name)
            if made and _from_writer(program, modname, made, depth + 1, seen):
                return True
        elif isinstance(desc, (tuple, list)) and desc[0] == "m":
            if _writes(program, desc[1]):
                return True
        elif isinstance(desc, (tuple, list)) and desc[0] == "f":
            base = program.absolute(modname, mod.is_package, desc[1], desc[2])
            if base is None or program.find(base) is None:
                continue
            if _writes(program, base) or _writes(program, program.member_module(base, desc[3])):
                return True
            if _from_writer(program, base, desc[3], depth + 1, seen):
                return True
    return False
