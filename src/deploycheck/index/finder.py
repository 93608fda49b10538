"""Find modules on an ordered search path the way importlib does, without importing anything.

Follows importlib's default meta path: ``BuiltinImporter``, ``FrozenImporter``, then ``PathFinder`` whose
``FileFinder`` tries, in each search path entry, a package directory (``__init__`` with an extension-module,
source or bytecode suffix), then a module file with those suffixes in that order; a directory without
``__init__`` is a namespace package portion (PEP 420), used only if no entry has a regular module or package.
Stub files (``.pyi``) are never loaded at run time and are ignored.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from deploycheck.artifact.files import HostFiles

SOURCE = "source"
PACKAGE = "package"
NAMESPACE = "namespace"
EXTENSION = "extension"
BYTECODE = "bytecode"
BUILTIN = "builtin"
FROZEN = "frozen"
UNSEEN = object()  # not in ModuleFinder.answers: not asked yet


@dataclass(frozen=True)
class Module:
    """A found module. ``path`` is its file (``None`` for namespace, built-in and frozen modules);
    ``locations`` is the package's ``__path__`` (empty for plain modules)."""

    name: str
    kind: str
    path: str | None
    locations: tuple[str, ...] = ()
    # decided once: the closure walk and the rules ask these hundreds of thousands of times per run
    is_package: bool = field(init=False, repr=False, compare=False)
    has_source: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "is_package", self.kind in (PACKAGE, NAMESPACE) or (
            self.kind in (EXTENSION, BYTECODE) and bool(self.locations)))
        object.__setattr__(self, "has_source", self.kind in (SOURCE, PACKAGE))


class ModuleFinder:
    """Search ``entries`` (absolute directories) for modules; results are cached per full name.

    ``builtin`` and ``frozen`` are the interpreter's built-in and frozen module names; ``extension_suffixes``
    is ``importlib.machinery.EXTENSION_SUFFIXES`` of the target. ``editable`` maps top-level names to package
    directories served by an editable-install meta path finder (consulted after the path).

    An extension module with a ``.py`` file of the same name beside it (Python compiled by Cython or mypyc:
    pydantic 1, black, charset_normalizer) is read from that source, which defines the same names; the
    interpreter loads the extension, whose names we could not read otherwise.
    """

    def __init__(
        self,
        entries: list[str],
        files: HostFiles,
        extension_suffixes: tuple[str, ...],
        builtin: frozenset[str] = frozenset(),
        frozen: frozenset[str] = frozenset(),
        editable: dict[str, str] | None = None,
        overrides: dict[str, str] | None = None,
    ) -> None:
        self.entries = entries
        self.files = files
        self.suffixes = [(s, EXTENSION) for s in extension_suffixes] + [(".py", SOURCE), (".pyc", BYTECODE)]
        self.builtin = builtin
        self.frozen = frozen
        self.editable = editable or {}
        self.overrides = overrides or {}
        # directories the program's own code adds to sys.path (index.syspath): searched only for a top-level
        # name found nowhere else, so that nothing found before is hidden
        self.late: list[str] = []
        # modules a launcher runs from a file under a name of its own (gunicorn's configuration file runs as
        # ``__config__``, through ``importlib.util.spec_from_file_location``): name -> file
        self.from_files: dict[str, str] = {}
        # every answer given so far, by full name (None: not found); read directly where it is asked most
        self.answers: dict[str, Module | None] = {}

    def find(self, fullname: str) -> Module | None:
        """Return the module named ``fullname`` or ``None`` when it (or a parent package) does not exist.

        A parent that is not a package (a plain module, an extension, a built-in) has no submodules here;
        callers decide whether such a parent may create them dynamically.
        """
        found = self.answers.get(fullname, UNSEEN)
        if found is not UNSEEN:
            return found
        parent_name, _, tail = fullname.rpartition(".")
        if parent_name:
            parent = self.find(parent_name)
            result = self._find_in(tail, fullname, parent.locations) if parent and parent.locations else None
        else:
            result = self._find_top(fullname)
        self.answers[fullname] = result
        return result

    def clear(self) -> None:
        """Forget every answer: the entries changed."""
        self.answers.clear()

    def _find_top(self, name: str) -> Module | None:
        if name in self.from_files:
            path = self.from_files[name]
            return Module(name, SOURCE, path) if self.files.is_file(path) else None
        if name in self.builtin:
            return Module(name, BUILTIN, None)
        if name in self.overrides:
            d = self.overrides[name]
            return self._find_in(os.path.basename(d), name, [os.path.dirname(d)])
        found = self._find_in(name, name, self.entries)
        if found is None and name in self.editable:
            d = self.editable[name]
            found = self._find_in(os.path.basename(d), name, [os.path.dirname(d)])
        if found is None and name in self.frozen:
            return Module(name, FROZEN, None)
        if found is None and self.late:
            found = self._find_in(name, name, self.late)
        return found

    def _find_in(self, tail: str, fullname: str, locations: tuple[str, ...] | list[str]) -> Module | None:
        portions: list[str] = []
        for entry in locations:
            listing = self.files.listdir(entry)
            if not listing:
                continue
            if listing.get(tail) is True:
                pkgdir = os.path.join(entry, tail)
                inner = self.files.listdir(pkgdir) or {}
                for suffix, kind in self.suffixes:
                    init = "__init__" + suffix
                    if init in inner and not inner[init]:
                        if kind == EXTENSION and inner.get("__init__.py") is False:
                            kind, init = SOURCE, "__init__.py"  # compiled from this source: read it instead
                        return Module(fullname, PACKAGE if kind == SOURCE else kind, os.path.join(pkgdir, init), (pkgdir,))
                portions.append(pkgdir)
            for suffix, kind in self.suffixes:
                fname = tail + suffix
                if fname in listing and not listing[fname]:
                    if kind == EXTENSION and listing.get(tail + ".py") is False:
                        kind, fname = SOURCE, tail + ".py"  # compiled from this source: read it instead
                    return Module(fullname, kind, os.path.join(entry, fname))
        if portions:
            return Module(fullname, NAMESPACE, None, tuple(portions))
        return None

    def submodule_names(self, module: Module) -> set[str]:
        """Names of the importable direct submodules of a package (for star imports and diagnostics)."""
        names: set[str] = set()
        for loc in module.locations:
            for fname, is_dir in (self.files.listdir(loc) or {}).items():
                if is_dir:
                    if fname.isidentifier():
                        names.add(fname)
                    continue
                for suffix, _ in self.suffixes:
                    if fname.endswith(suffix):
                        stem = fname[: -len(suffix)]
                        if stem.isidentifier() and stem != "__init__":
                            names.add(stem)
        return names
