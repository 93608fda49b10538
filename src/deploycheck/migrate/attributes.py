"""DC401 in ``migrate apply``'s re-check: does ``new`` have every attribute the migration maps to?

``old.ATTR`` becomes ``new.attr`` for each ``ATTR = "attr"`` of ``[tool.deploycheck.migrations.attributes]``;
when ``new``'s class has no ``attr``, every rewritten line raises ``AttributeError`` when it runs. The class
of ``new`` is read statically from the edited tree, as ``deploycheck config`` reads the class of a config
object for DC401 (``contract.schema.Index``, nothing imported):

- ``pkg.mod.f()``: the class ``[tool.deploycheck.config] accessors`` gives ``pkg.mod.f``, else the class
  its return annotation names; ``pkg.mod.Cls()``: an instance of ``Cls``;
- ``pkg.mod.Cls``: the class itself; ``pkg.mod``: a module (its attributes as ``check`` knows them);
- ``expr.attr``: the class the annotation of field or property ``attr`` of ``expr``'s class names.

A class has what ``Index.members`` says an instance has: class attributes, annotations, methods and
properties, ``self.x = ...`` in methods, inherited members, pydantic fields and pydantic's own members. A
class whose members cannot be known (an unknown base class, ``__getattr__``, pydantic ``extra = "allow"``)
and an expression whose class cannot be read are not judged.
"""

from __future__ import annotations

import ast
import difflib
import os
import pickle
from dataclasses import dataclass

from deploycheck.contract.reads import SCAN_FRAMES, frames, scan_module
from deploycheck.contract.scan import ModuleScan
from deploycheck.contract.schema import ClassRef, Index, unwrap
from deploycheck.index.parsing import Parser
from deploycheck.index.program import MISSING, Program
from deploycheck.migrate.config import Migration
from deploycheck.migrate.finder import ATTRIBUTE, Reference


@dataclass(frozen=True)
class Missing:
    """A rewritten reference whose mapped attribute ``attr`` the class ``owner`` (qualified name; a module's
    name for a module) lacks. ``hint``: the closest attribute the class has, or empty."""

    ref: Reference
    owner: str
    attr: str
    hint: str = ""

    def line(self, root: str, m: Migration) -> str:
        """The problem as apply prints it: ``path:line:column: DC401 message``."""
        rel = os.path.relpath(self.ref.path, root)
        short = self.owner.rpartition(".")[2]
        hint = f"; did you mean `{self.hint}`?" if self.hint else ""
        return (f"{rel}:{self.ref.line}:{self.ref.column + 1}: DC401 `{short}` ({self.owner}) has no "
                f"attribute `{self.attr}`, read as `{m.new}.{self.attr}` (the mapping of `{self.ref.attr}` "
                f"in [tool.deploycheck.migrations.attributes]){hint}")


class _Modules(dict):
    """Module scans by name, made the first time a name is asked for (``None`` cached for a name that is no
    parsable project module): the index reads only the modules the class of ``new`` leads to."""

    def __init__(self, load) -> None:
        super().__init__()
        self._load = load

    def get(self, name, default=None):
        if not dict.__contains__(self, name):
            dict.__setitem__(self, name, self._load(name))
        value = dict.get(self, name)
        return default if value is None else value

    def __contains__(self, name) -> bool:
        return self.get(name) is not None


def project_index(files: dict[str, str], read) -> Index:
    """A ``contract.schema.Index`` over the project modules ``files`` (module name -> path), each read with
    ``read(path) -> bytes`` and scanned when first needed."""

    def load(name: str) -> ModuleScan | None:
        path = files.get(name)
        if path is None:
            return None
        try:
            data = read(path)
        except (OSError, ValueError):
            return None
        # parsed and scanned as config does it: a big module in a parse worker, within the memory budget
        got = Parser(scan_module).map([(name, path, path.endswith("__init__.py"), data)], [len(data)])[0]
        if not isinstance(got, tuple) or got[0] != "ok":
            return None
        with frames(SCAN_FRAMES):
            return pickle.loads(got[1])

    index = Index([])
    index.modules = _Modules(load)
    return index


def _dotted(node: ast.expr) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def owner_of(new: str, index: Index, program: Program,
             accessors: dict[str, str | None]) -> ClassRef | str | None:
    """What the attributes of ``new`` are looked up on (see the module docstring): a class (``ClassRef``), a
    module name (``str``), or None when that cannot be read."""
    return _owner(ast.parse(new, mode="eval").body, index, program, accessors, 0)


def _owner(node: ast.expr, index: Index, program: Program, accessors: dict[str, str | None],
           depth: int) -> ClassRef | str | None:
    if depth > 10:
        return None
    if isinstance(node, ast.Call):
        name = _dotted(node.func)
        if name is None:
            return None
        q = index.resolve(name)
        for acc, schema in accessors.items():
            if index.resolve(acc) == q and schema is not None:
                return index.cls(schema)
        ref = index.cls(q)
        if ref is not None:
            return ref
        fn = index.function(q) if q else None
        if fn is None or fn[1] is None:
            return None
        return index.cls(index.qualify_in(fn[0], unwrap(fn[1])))
    name = _dotted(node)
    if name is not None:
        if program.find(name) is not None:
            return name
        return index.cls(index.resolve(name))
    if isinstance(node, ast.Attribute):
        base = _owner(node.value, index, program, accessors, depth + 1)
        return index.member_class(base, node.attr) if isinstance(base, ClassRef) else None
    return None


def missing(m: Migration, refs: list[Reference], index: Index, program: Program,
            accessors: dict[str, str | None]) -> list[Missing]:
    """The rewritable attribute references of ``refs`` whose mapped attribute ``new`` lacks, in order."""
    owner = owner_of(m.new, index, program, accessors)
    if owner is None:
        return []
    out: list[Missing] = []
    verdicts: dict[str, tuple[bool, str]] = {}
    for r in refs:
        if r.kind != ATTRIBUTE or not r.rewritable or r.attr is None or r.attr not in m.attributes:
            continue
        attr = m.attributes[r.attr]
        if attr not in verdicts:
            verdicts[attr] = _lacks(owner, attr, index, program)
        lacks, hint = verdicts[attr]
        if lacks:
            out.append(Missing(r, owner if isinstance(owner, str) else owner.qualname, attr, hint))
    return out


def _lacks(owner: ClassRef | str, attr: str, index: Index, program: Program) -> tuple[bool, str]:
    if isinstance(owner, str):
        return program.has_name(owner, attr) == MISSING, ""
    if index.has_member(owner, attr) is not False:
        return False, ""
    names = sorted(n for n in (index.members(owner) or set()) if not n.startswith("_"))
    close = difflib.get_close_matches(attr, names, n=1)
    return True, close[0] if close else ""
