"""Decide ``if`` conditions statically against the target: version, platform, implementation, TYPE_CHECKING.

Each evaluation answers ``True``, ``False`` or ``None`` (unknown). Only comparisons whose meaning is fixed by the
language are decided: ``sys.version_info`` against tuples or ints (tuple ordering, PEP 8's recommended idiom),
``sys.platform``, ``os.name``, ``sys.implementation.name``, ``platform.system()``,
``platform.python_implementation()``, ``typing.TYPE_CHECKING``, constants, and module-level names bound to
one of these (``PY2 = sys.version_info[0] == 2``).
"""

from __future__ import annotations

import ast
import hashlib
import operator
from dataclasses import dataclass

from deploycheck.index.idioms import dotted_name

TYPE_CHECKING = "TYPE_CHECKING"

_OPS = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}

_SYSTEMS = {"linux": "Linux", "darwin": "Darwin", "win32": "Windows", "cygwin": "CYGWIN", "emscripten": "Emscripten"}
_IMPLS = {"cpython": "CPython", "pypy": "PyPy", "graalpy": "GraalVM", "ironpython": "IronPython", "jython": "Jython"}


@dataclass(frozen=True)
class Facts:
    """What the target interpreter is: ``version`` is ``(major, minor, micro)``."""

    version: tuple[int, int, int]
    platform: str
    os_name: str
    implementation: str
    builtin_module_names: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        names = hashlib.blake2b(" ".join(self.builtin_module_names).encode(), digest_size=6).hexdigest()
        v = self.version
        return f"{self.implementation}-{v[0]}.{v[1]}.{v[2]}-{self.platform}-{self.os_name}-{names}"


class _Unknown(Exception):
    pass


class Evaluator:
    """Evaluates expressions against ``facts``; ``names`` holds module-level constants learned so far."""

    def __init__(self, facts: Facts) -> None:
        self.facts = facts
        self.names: dict[str, object] = {}
        self.aliases: dict[str, str] = {}

    def truth(self, node: ast.expr) -> bool | None | str:
        """``True``/``False`` when decided, ``TYPE_CHECKING`` for a TYPE_CHECKING test, else ``None``."""
        if is_type_checking(node):
            return TYPE_CHECKING
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not) and is_type_checking(node.operand):
            return True  # `if not TYPE_CHECKING:` runs at run time, whatever module TYPE_CHECKING came from
        try:
            return bool(self.value(node))
        except _Unknown:
            return None
        except Exception:  # a comparison between odd types: not decidable
            return None

    def try_value(self, node: ast.expr) -> tuple[bool, object]:
        try:
            return True, self.value(node)
        except Exception:
            return False, None

    def value(self, node: ast.expr) -> object:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Tuple):
            return tuple(self.value(e) for e in node.elts)
        if isinstance(node, ast.Name):
            if node.id in self.names:
                return self.names[node.id]
            if node.id == "version_info":
                return self.facts.version
            raise _Unknown
        if isinstance(node, ast.Attribute):
            return self._attribute(node)
        if isinstance(node, ast.Subscript):
            base = self.value(node.value)
            if not isinstance(base, (tuple, str)):
                raise _Unknown
            sl = node.slice
            if isinstance(sl, ast.Slice):
                lower = self.value(sl.lower) if sl.lower else None
                upper = self.value(sl.upper) if sl.upper else None
                return base[lower:upper]
            return base[self.value(sl)]  # type: ignore[index]
        if isinstance(node, ast.Compare):
            left = self.value(node.left)
            for op, comp in zip(node.ops, node.comparators):
                right = self.value(comp)
                if isinstance(op, ast.In):
                    ok = left in right  # type: ignore[operator]
                elif isinstance(op, ast.NotIn):
                    ok = left not in right  # type: ignore[operator]
                elif type(op) in _OPS:
                    ok = _OPS[type(op)](left, right)
                else:
                    raise _Unknown
                if not ok:
                    return False
                left = right
            return True
        if isinstance(node, ast.BoolOp):
            # Short-circuit with unknowns: `unknown and False` is False, `unknown or True` is True.
            values = []
            for v in node.values:
                try:
                    values.append(bool(self.value(v)))
                except _Unknown:
                    values.append(None)
            if isinstance(node.op, ast.And):
                if False in values:
                    return False
                if None in values:
                    raise _Unknown
                return True
            if True in values:
                return True
            if None in values:
                raise _Unknown
            return False
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return not self.value(node.operand)
        if isinstance(node, ast.Call):
            return self._call(node)
        raise _Unknown

    def _attribute(self, node: ast.Attribute) -> object:
        dotted = dotted_name(node)
        if dotted:
            head, dot, rest = dotted.partition(".")
            if head in self.aliases:
                dotted = self.aliases[head] + dot + rest
        f = self.facts
        if dotted in ("sys.version_info",):
            return f.version
        if dotted in ("sys.version_info.major",):
            return f.version[0]
        if dotted in ("sys.version_info.minor",):
            return f.version[1]
        if dotted in ("sys.builtin_module_names",) and self.facts.builtin_module_names:
            return self.facts.builtin_module_names
        if dotted in ("sys.platform",):
            return f.platform
        if dotted in ("os.name",):
            return f.os_name
        if dotted in ("sys.implementation.name",):
            return f.implementation
        if dotted in ("six.PY2",):
            return f.version[0] == 2
        if dotted in ("six.PY3",):
            return f.version[0] == 3
        raise _Unknown

    def _call(self, node: ast.Call) -> object:
        func = node.func
        dotted = dotted_name(func) if isinstance(func, (ast.Attribute, ast.Name)) else None
        if dotted:
            head, dot, rest = dotted.partition(".")
            if head in self.aliases:
                dotted = self.aliases[head] + dot + rest
        if dotted in ("platform.system",) and not node.args:
            return _known(_SYSTEMS.get(self.facts.platform))
        if dotted in ("platform.python_implementation",) and not node.args:
            return _known(_IMPLS.get(self.facts.implementation))
        if isinstance(func, ast.Attribute) and func.attr in ("startswith", "endswith") and len(node.args) == 1:
            base = self.value(func.value)
            arg = self.value(node.args[0])
            if isinstance(base, str) and isinstance(arg, (str, tuple)):
                return getattr(base, func.attr)(arg)
        raise _Unknown


def _known(value: object) -> object:
    if value is None:
        raise _Unknown
    return value


def is_type_checking(node: ast.expr) -> bool:
    """``TYPE_CHECKING`` or ``anything.TYPE_CHECKING``: False at run time whatever module it came from
    (``typing``, ``typing_extensions``), true only for static type checkers (PEP 484)."""
    if isinstance(node, ast.Name) and node.id == TYPE_CHECKING:
        return True
    return isinstance(node, ast.Attribute) and node.attr == TYPE_CHECKING
