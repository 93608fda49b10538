"""Values of the static evaluator (``frameworks.settings``): what a module-level name holds, as far as it can
be known without running anything, and how sure that is.

Each known value has a *status*: ``CERTAIN`` (it is what the code computes, whatever the environment) or
``DEFAULT`` (it is derived from the default of an environment variable: the environment may override it).
A container's items also have a *presence*: ``CERTAIN``, ``DEFAULT`` (present unless the environment says
otherwise) or ``MAYBE`` (present only on a path that cannot be decided). A container that may hold items
nobody can name (``INSTALLED_APPS.append(entry_point.module)``) is *open*. ``UNKNOWN`` is everything else,
and stays unknown: nothing is guessed.

Two states of the same program point are merged by ``join``: after ``if c:`` with an undecidable ``c``
(``MAYBE``: what both branches agree on stays, the rest is possible), or with a ``c`` derived from a default
(``DEFAULT``: the branch the default takes is what runs unless the environment says otherwise).
"""

from __future__ import annotations

import itertools

CERTAIN, DEFAULT, MAYBE = 0, 1, 2

_oids = itertools.count(1)


class Value:
    """A value; the subclasses below say what is known of it."""

    __slots__ = ()


class _Unknown(Value):
    __slots__ = ()

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = _Unknown()


class Const(Value):
    """A constant (str, bytes, int, float, bool, None, or a tuple of those) and where it was written
    (``(module, line)``, None when computed from several places)."""

    __slots__ = ("status", "value", "where")

    def __init__(self, value, status: int = CERTAIN, where: tuple[str, int] | None = None) -> None:
        self.value = value
        self.status = status
        self.where = where

    def same(self, other: Const) -> bool:
        return type(self.value) is type(other.value) and self.value == other.value

    def __repr__(self) -> str:
        return f"Const({self.value!r}, {self.status})"


class Seq(Value):
    """A list, tuple or set (``kind``): ``items`` are ``[value, presence]``; ``exact`` says the positions are
    those of the real object (every item certain, none inserted where the position is unknown). ``oid``
    follows the object through copies, so the two branches' versions of one list are merged item by item."""

    __slots__ = ("exact", "items", "kind", "oid", "open")

    def __init__(self, kind: str, items: list | None = None, open: bool = False, oid: int | None = None,
                 exact: bool = True) -> None:
        self.kind = kind
        self.items = items if items is not None else []
        self.open = open
        self.oid = oid or next(_oids)
        self.exact = exact

    def known(self) -> bool:
        """Every item is known and certainly there."""
        return not self.open and self.exact and all(p == CERTAIN for _, p in self.items)

    def __repr__(self) -> str:
        return f"Seq({self.kind}, {self.items!r}, open={self.open})"


class Map(Value):
    """A dict: ``entries`` maps a constant key to ``[value, presence]``; ``open``: it may hold other keys."""

    __slots__ = ("entries", "oid", "open")

    def __init__(self, entries: dict | None = None, open: bool = False, oid: int | None = None) -> None:
        self.entries = entries if entries is not None else {}
        self.open = open
        self.oid = oid or next(_oids)

    def __repr__(self) -> str:
        return f"Map({self.entries!r}, open={self.open})"


class ModuleRef(Value):
    """A module object (``import pkg.mod as m``)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"ModuleRef({self.name})"


class External(Value):
    """Something known only by where it comes from: attribute ``dotted`` of a module that is not evaluated
    (``django.urls.include``, ``os.environ.get``, ``builtins.list``)."""

    __slots__ = ("dotted",)

    def __init__(self, dotted: str) -> None:
        self.dotted = dotted

    def __repr__(self) -> str:
        return f"External({self.dotted})"


class Function(Value):
    """A function defined by ``def`` (never run by the evaluator): ``qualname`` in ``module``."""

    __slots__ = ("line", "module", "qualname")

    def __init__(self, module: str, qualname: str, line: int) -> None:
        self.module, self.qualname, self.line = module, qualname, line


class Class(Value):
    """A class defined by ``class``: its bases (values), the names its body binds, its line."""

    __slots__ = ("attrs", "bases", "line", "module", "qualname")

    def __init__(self, module: str, qualname: str, bases: list[Value], attrs: dict[str, Value],
                 line: int) -> None:
        self.module, self.qualname, self.bases, self.attrs, self.line = module, qualname, bases, attrs, line

    def __repr__(self) -> str:
        return f"Class({self.module}.{self.qualname})"


class Method(Value):
    """``obj.name`` where ``obj`` is a container, a constant or another value whose methods are modelled."""

    __slots__ = ("name", "obj")

    def __init__(self, obj: Value, name: str) -> None:
        self.obj, self.name = obj, name


class Lazy(Value):
    """``from module import name`` not looked at yet: resolved on first read, and kept here (every copy of
    the namespace holding it then reads the same value)."""

    __slots__ = ("module", "name", "value")

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name
        self.value: Value | None = None


class Opaque(Value):
    """An object the evaluator models by kind (``kind``) with some state (``data``): a django-environ ``Env``
    (its schemes), a python-decouple ``Csv`` cast."""

    __slots__ = ("data", "kind")

    def __init__(self, kind: str, data=None) -> None:
        self.kind, self.data = kind, data


_IMMUTABLE = (Const, ModuleRef, External, Function, Class, Method, Opaque, Lazy, _Unknown)


def copy(value: Value, memo: dict) -> Value:
    """A copy of ``value`` whose containers are new objects (keeping their ``oid``); objects shared within
    what is copied with one ``memo`` stay shared."""
    if isinstance(value, _IMMUTABLE):
        return value
    key = id(value)
    if key in memo:
        return memo[key]
    if isinstance(value, Seq):
        out = Seq(value.kind, [], value.open, value.oid, value.exact)
        memo[key] = out
        out.items = [[copy(v, memo), p] for v, p in value.items]
        return out
    if isinstance(value, Map):
        out = Map({}, value.open or not value.entries, value.oid)
        memo[key] = out
        out.entries = {k: [copy(v, memo), p] for k, (v, p) in value.entries.items()}
        return out
    return value


def demote(value: Value, level: int, memo: dict | None = None) -> Value:
    """``value`` as no surer than ``level`` (``DEFAULT`` for what an environment variable's default gives)."""
    if level == CERTAIN:
        return value
    memo = {} if memo is None else memo
    if isinstance(value, Const):
        return value if value.status >= level else Const(value.value, level, value.where)
    key = id(value)
    if key in memo:
        return memo[key]
    if isinstance(value, Seq):
        # the positions of the default's world; an empty one has no item to say that it is only the default
        # (`X if os.environ.get("X") else []`), so it may hold items: a loop over it may run
        out = Seq(value.kind, [], value.open or not value.items, value.oid, value.exact)
        memo[key] = out
        out.items = [[demote(v, level, memo), max(p, level)] for v, p in value.items]
        return out
    if isinstance(value, Map):
        out = Map({}, value.open, value.oid)
        memo[key] = out
        out.entries = {k: [demote(v, level, memo), max(p, level)] for k, (v, p) in value.entries.items()}
        return out
    return value


def taint(value: Value, seen: set | None = None) -> None:
    """``value`` was handed to code that is not evaluated, which may change it: nothing in it stays sure."""
    seen = set() if seen is None else seen
    if id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, Lazy) and value.value is not None:
        taint(value.value, seen)
    elif isinstance(value, Seq):
        value.open, value.exact = True, False
        for item in value.items:
            item[1] = MAYBE
            taint(item[0], seen)
    elif isinstance(value, Map):
        value.open = True
        for item in value.entries.values():
            item[1] = MAYBE
            taint(item[0], seen)


def same_content(a: Value, b: Value, seen: set | None = None) -> bool:
    """Do two containers hold the same (constants equal, containers alike, items as sure)?"""
    seen = set() if seen is None else seen
    if (id(a), id(b)) in seen or a is b:
        return True
    seen.add((id(a), id(b)))
    if isinstance(a, Seq) and isinstance(b, Seq):
        return (a.kind, a.open, a.exact, len(a.items)) == (b.kind, b.open, b.exact, len(b.items)) and all(
            pa == pb and _alike(va, vb, seen) for (va, pa), (vb, pb) in zip(a.items, b.items, strict=True))
    if isinstance(a, Map) and isinstance(b, Map):
        return a.open == b.open and a.entries.keys() == b.entries.keys() and all(
            a.entries[k][1] == b.entries[k][1] and _alike(a.entries[k][0], b.entries[k][0], seen)
            for k in a.entries)
    return False


def _alike(a: Value, b: Value, seen: set) -> bool:
    if isinstance(a, Const) and isinstance(b, Const):
        return a.same(b) and a.status == b.status
    if isinstance(a, (Seq, Map)):
        return same_content(a, b, seen)
    return _same_object(a, b)


def _same_object(a: Value, b: Value) -> bool:
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, Const):
        return a.same(b)  # type: ignore[arg-type]
    if isinstance(a, (Seq, Map)):
        return a.oid == b.oid  # type: ignore[union-attr]
    if isinstance(a, ModuleRef):
        return a.name == b.name  # type: ignore[union-attr]
    if isinstance(a, External):
        return a.dotted == b.dotted  # type: ignore[union-attr]
    if isinstance(a, Lazy):
        return (a.module, a.name) == (b.module, b.name)  # type: ignore[union-attr]
    return False


def join(a: Value, b: Value, how: int, memo: dict, aliased: set | None = None) -> Value:
    """The value after two paths meet, one having made ``a`` and the other ``b``. ``how`` is ``MAYBE`` (either
    path may have run) or ``DEFAULT`` (``a``'s path runs unless the environment overrides a default).

    Two different containers (``x = y`` on one path only) meet as a new one; their ``oid`` go to ``aliased``:
    whatever else holds either may be changed through the new one, so the caller makes those unsure."""
    if a is b:
        return a
    key = (id(a), id(b))
    if key in memo:
        return memo[key]
    if isinstance(a, Const) and isinstance(b, Const):
        if a.same(b):
            out: Value = Const(a.value, max(a.status, b.status), a.where or b.where)
        else:
            out = Const(a.value, max(a.status, DEFAULT), a.where) if how == DEFAULT else UNKNOWN
        memo[key] = out
        return out
    if isinstance(a, (Seq, Map)) and isinstance(b, (Seq, Map)) and a.oid != b.oid and aliased is not None:
        aliased.update((a.oid, b.oid))
    fresh = a.oid if isinstance(b, (Seq, Map)) and getattr(a, "oid", None) == b.oid else None
    if isinstance(a, Seq) and isinstance(b, Seq) and a.kind == b.kind:
        seq = Seq(a.kind, [], a.open or b.open, fresh)
        memo[key] = seq
        used = [False] * len(b.items)
        in_order = len(a.items) == len(b.items)
        for i, (va, pa) in enumerate(a.items):
            match = None
            for j, (vb, _) in enumerate(b.items):
                if not used[j] and _same_object(va, vb):
                    match = j
                    break
            if match is None:
                seq.items.append([demote(va, DEFAULT) if how == DEFAULT else va,
                                  max(pa, DEFAULT) if how == DEFAULT else MAYBE])
                in_order = False
                continue
            used[match] = True
            in_order = in_order and match == i
            vb, pb = b.items[match]
            seq.items.append([join(va, vb, how, memo, aliased), max(pa, pb)])
        seq.items += [[vb, MAYBE] for j, (vb, _) in enumerate(b.items) if not used[j]]
        seq.exact = a.exact and b.exact and in_order and all(used)
        return seq
    if isinstance(a, Map) and isinstance(b, Map):
        out_map = Map({}, a.open or b.open, fresh)
        memo[key] = out_map
        for k, (va, pa) in a.entries.items():
            if k in b.entries:
                vb, pb = b.entries[k]
                out_map.entries[k] = [join(va, vb, how, memo, aliased), max(pa, pb)]
            elif how == DEFAULT:
                out_map.entries[k] = [demote(va, DEFAULT), max(pa, DEFAULT)]
            else:
                out_map.entries[k] = [va, MAYBE]
        for k, (vb, _) in b.entries.items():
            if k not in a.entries:
                out_map.entries[k] = [vb, MAYBE]
        return out_map
    if _same_object(a, b):
        return a
    out = demote(a, DEFAULT) if how == DEFAULT and a is not UNKNOWN else UNKNOWN
    memo[key] = out
    return out


def taint_aliased(values, aliased: set) -> None:
    """Make unsure every container among ``values`` (and inside them) whose ``oid`` is in ``aliased``."""
    seen: set = set()
    stack = list(values)
    while stack:
        v = stack.pop()
        if not isinstance(v, (Seq, Map)) or id(v) in seen:
            continue
        seen.add(id(v))
        if v.oid in aliased:
            taint(v)
        stack += [x for x, _ in (v.items if isinstance(v, Seq) else v.entries.values())]


def strings(value: Value, presence: int = CERTAIN) -> list[tuple[str, tuple[str, int] | None, int]]:
    """The strings a setting names: ``value`` itself if it is a string, else the string items of a list,
    tuple or set; each as ``(text, where, how sure)``, how sure being the worse of its presence and its
    status. Items that are not strings are left out."""
    if isinstance(value, Const):
        if not isinstance(value.value, str):
            return []
        return [(value.value, value.where, max(presence, value.status))]
    if isinstance(value, Seq):
        return [(v.value, v.where, max(presence, p, v.status)) for v, p in value.items
                if isinstance(v, Const) and isinstance(v.value, str)]
    return []


def entries(value: Value, presence: int = CERTAIN) -> list[tuple[object, Value, int]]:
    """A dict's ``(key, value, presence)``, or a list's ``(index, value, presence)``; [] for anything else."""
    if isinstance(value, Map):
        return [(k, v, max(presence, p)) for k, (v, p) in value.entries.items()]
    if isinstance(value, Seq):
        return [(i, v, max(presence, p)) for i, (v, p) in enumerate(value.items)]
    return []
