"""Dangling uses of a retired symbol: its name left in a file after the import that bound it was removed.

Such a use resolves to nothing: Python raises ``NameError: name 'DatabaseConfig' is not defined`` when the
line runs (the incident behind this project). Following names cannot tie it to ``old``, so a use counts as a
leftover of a migration when all of these hold:

- it is a name that spells the last name of ``old`` and is unbound where it is used (the engine's scopes:
  no binding in the function, the enclosing functions or the module, LEGB; not a builtin, nor a name the
  code adds to ``builtins``; no star import in the file that may bind it), in a file that does not write its
  namespace through ``globals()`` (then the name may be bound after all);
- and one of two rules ties it to ``old``:

  1. **history**: the file once imported ``old`` under that name: a version of it in its git repository
     (``history.History``: ``HEAD``, then the commits that changed how often the file spells the name)
     binds the name to ``old`` through an import;
  2. **unique name**: the name is distinctive (``distinctive``: two words or more, eight characters or
     more, like ``DatabaseConfig`` or ``get_db_config``) and no module of the project binds it to anything
     but ``old`` (the definition of ``old`` itself and imports of ``old`` are the only bindings).

The first rule that holds is reported with the use (``Why``).
"""

from __future__ import annotations

import ast
import re
import warnings
from dataclasses import dataclass

from deploycheck.index.parsing import Parser
from deploycheck.index.summary import VALUE
from deploycheck.migrate.history import History
from deploycheck.migrate.resolve import Resolver
from deploycheck.migrate.scan import FileRefs

HISTORY = "history"
UNIQUE = "unique-name"

_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
MIN_UNIQUE_CHARS = 8  # shorter names (`Old`, `conf`) are too likely to be meant as something else


@dataclass(frozen=True)
class Why:
    """Why an unbound use is a leftover: ``rule`` ``HISTORY`` (``commit``: the newest commit whose version of
    the file imports ``old`` under the name) or ``UNIQUE``."""

    rule: str
    commit: str = ""

    def text(self, rel: str) -> str:
        """The reason, for the output; ``rel`` is the file's path as shown."""
        if self.rule == HISTORY:
            return f"the name is unbound here and {rel} imported it at {self.commit[:12]}"
        return "unbound name unique to the migration"


def distinctive(name: str) -> bool:
    """Whether ``name`` is specific enough to stand for one symbol of a project: two words or more
    (``DatabaseConfig``, ``HTTPClient``, ``get_db_config``) and at least ``MIN_UNIQUE_CHARS`` characters,
    leading and trailing underscores left out."""
    core = name.strip("_")
    return len(core) >= MIN_UNIQUE_CHARS and len(_WORDS.findall(core)) >= 2


class Rules:
    """The two rules for one migration over the scanned files ``refs`` (path -> scan) of one search."""

    def __init__(self, old: str, resolver: Resolver, refs: dict[str, FileRefs], modules: dict[str, str],
                 history: History | None = None) -> None:
        self.old = old
        self.name = old.rpartition(".")[2]
        self.resolver = resolver
        self.refs = refs
        self.modules = modules
        self.history = history if history is not None else History()
        self._unique: bool | None = None
        builtins = set(getattr(resolver.program.interp, "builtins", ()))
        for fr in refs.values():
            builtins.update(fr.summary.builtins_added)
        self.builtins = frozenset(builtins)

    def unbound(self, name: str) -> bool:
        """``name`` spells ``old``'s last name and is no builtin (the caller knows it is unbound there)."""
        return name == self.name and name not in self.builtins

    def why(self, path: str) -> Why | None:
        """The rule that ties the unbound uses of the name in file ``path`` to ``old``, or None."""
        module, is_pkg = self.modules.get(path), path.endswith("__init__.py")
        commit = self.history.find(path, self.name, lambda data: self._imports_old(data, module, is_pkg))
        if commit:
            return Why(HISTORY, commit)
        if self.unique():
            return Why(UNIQUE)
        return None

    def unique(self) -> bool:
        """Rule 2 (see the module docstring)."""
        if self._unique is None:
            self._unique = distinctive(self.name) and not any(
                self._binds_other(p, fr) for p, fr in self.refs.items())
        return self._unique

    def _binds_other(self, path: str, fr: FileRefs) -> bool:
        descs = fr.summary.bindings.get(self.name)
        if not descs:
            return False
        module = self.modules.get(path)
        for d in descs:
            if d == VALUE:
                if module is None or f"{module}.{self.name}" != self.old:
                    return True
            elif self.resolver.descriptor(module, path.endswith("__init__.py"), d) != self.old:
                return True
        return False

    def _imports_old(self, data: bytes, module: str | None, is_pkg: bool) -> bool:
        """Whether source ``data`` (a version of the file) imports ``old`` under its last name. The version is
        parsed as every untrusted source is (``index.parsing``): a big one in a parse worker, within the
        parse memory budget; one that does not parse or fit imports nothing."""
        if self.name.encode() not in data:
            return False
        found = Parser(_imports).map([data], [len(data)])[0]
        if not isinstance(found, list):
            return False
        for module_name, level, name, asname in found:
            if name is None:
                if module_name == self.old and (asname or module_name) == self.name:
                    return True
            elif (asname or name) == self.name and name != "*" and self.resolver.descriptor(
                    module, is_pkg, ("f", module_name, level, name)) == self.old:
                return True
        return False


def _imports(data: bytes) -> list[tuple[str, int, str | None, str | None]] | None:
    """Every import alias of source ``data``: ``(module, level, name, asname)``, ``name`` None for ``import
    module``; None when it does not parse. Runs in a parse worker (a module-level function)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(data)
    except (SyntaxError, ValueError, RecursionError):
        return None
    out: list[tuple[str, int, str | None, str | None]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            out.extend((node.module or "", node.level or 0, a.name, a.asname) for a in node.names)
        elif isinstance(node, ast.Import):
            out.extend((a.name, 0, None, a.asname) for a in node.names)
    return out
