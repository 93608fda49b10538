"""What object a name names: the dotted path of its definition, followed through the program.

``from a import X`` binds whatever ``a.X`` is once ``a`` is imported: a value ``a`` defines, something ``a``
itself imports (a re-export, followed further), a name a star import brings in, or the submodule ``a.X``
(the language reference's import statement and importlib's ``_handle_fromlist``). Modules and bindings come
from the engine's ``Program`` (search path, summaries, ``__all__``, try/except ImportError branches).
"""

from __future__ import annotations

from deploycheck.index import finder as F
from deploycheck.index.program import FOUND, Program
from deploycheck.index.summary import TYPING, VALUE


class Resolver:
    """Canonical dotted paths. ``skip_origins``: origins (``stdlib``, ``third-party``) whose modules cannot
    hold the symbol being searched (the standard library never imports a project's code), so their names are
    taken as defined where they are, without reading the module."""

    def __init__(self, program: Program, skip_origins: frozenset[str] = frozenset()) -> None:
        self.program = program
        self.skip_origins = skip_origins
        self._memo: dict[tuple[str, str], str] = {}
        self._origins: dict[str, str] = {}

    def is_module(self, path: str) -> bool:
        return self.program.find(path) is not None

    def _origin(self, module: F.Module) -> str:
        top = module.name.partition(".")[0]
        if top not in self._origins:
            self._origins[top] = self.program.origin(module)
        return self._origins[top]

    def member(self, module: str, name: str) -> str:
        """The canonical path of attribute ``name`` of module ``module``."""
        key = (module, name)
        if key in self._memo:
            return self._memo[key]
        self._memo[key] = f"{module}.{name}"  # cycle guard: a name reached again through a cycle is its own
        result = self._member(module, name)
        self._memo[key] = result
        return result

    def _member(self, module: str, name: str) -> str:
        program = self.program
        own = f"{module}.{name}"
        mod = program.find(module)
        if mod is None or not mod.has_source or self._origin(mod) in self.skip_origins:
            return own
        summ = program.summary(module)
        if summ is None or summ.syntax_error:
            return own
        descs = summ.bindings.get(name)
        if descs:
            if VALUE in descs:
                return own
            live = [d for d in descs if not (isinstance(d, (tuple, list)) and d[0] == "b")]
            paths = {self.descriptor(module, mod.is_package, d) for d in live}
            if len(paths) != 1 or None in paths:
                return own
            path = paths.pop()
            if len(live) < len(descs) and any(program.branch_runs(module, d[1]) is not False
                                               for d in descs if d not in live):
                return own  # a value bound in an except/else branch that may run instead
            return path  # type: ignore[return-value]
        if mod.is_package and program.find(own) is not None:
            return own
        for site in summ.imports:
            if site.names != ("*",) or site.context == TYPING:
                continue
            target = program.absolute(module, mod.is_package, site.module, site.level)
            if target is not None and program.exports(target, name) == FOUND:
                return self.member(target, name)
        return own

    def descriptor(self, importer: str | None, is_package: bool, desc) -> str | None:
        """The canonical path a binding descriptor of module ``importer`` names (``None``: unknown, such as a
        relative import in a file that is not a module)."""
        if not isinstance(desc, (tuple, list)):
            return None
        if desc[0] == "m":
            return desc[1]
        if desc[0] != "f":
            return None
        _, module, level, name = desc
        if level and importer is None:
            return None
        base = self.program.absolute(importer or "", is_package, module, level)
        return None if base is None else self.member(base, name)

    def chain(self, path: str, attrs: tuple[str, ...] | list[str]) -> list[str]:
        """Canonical paths of ``path``, ``path.attrs[0]``, ... (one more than ``attrs``)."""
        out = [path]
        for attr in attrs:
            path = self.member(path, attr) if self.is_module(path) else f"{path}.{attr}"
            out.append(path)
        return out

    def dotted(self, value: str) -> list[str] | None:
        """Canonical paths of each prefix of a dotted name such as ``"pkg.mod.Name.attr"`` that starts with a
        module (the longest importable prefix, as ``mock.patch`` and ``pkgutil.resolve_name`` import it); None
        when its first part is no module."""
        parts = value.split(".")
        program = self.program
        first = program.find(parts[0])
        if first is None or (self._origin(first) in self.skip_origins):
            return None
        i = 1
        while i < len(parts) and program.find(".".join(parts[: i + 1])) is not None:
            i += 1
        prefixes = [".".join(parts[:j]) for j in range(1, i)]
        return prefixes + self.chain(".".join(parts[:i]), parts[i:])
