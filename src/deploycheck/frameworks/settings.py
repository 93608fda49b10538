"""A static evaluator of module-level code: what a settings module's names hold, computed the way Python would
compute them where that is knowable without running anything.

Modelled: constants and str/list/tuple/set/dict displays, ``+``, ``+=``, ``|``, ``%`` and f-strings on
constants, names bound earlier (also through ``import`` and ``from m import x`` of evaluated modules), star
imports (``from .base import *``, ``__all__`` honoured), list, set and dict methods (``append``, ``extend``,
``insert``, ``remove``, ``update``, ``setdefault``...), subscript assignment, ``del``, comprehensions over
known values, ``if``/``for``/``while``/``try``/``with`` (an import inside ``try: ... except ImportError:`` is
decided by the import system model of ``index.program``), classes (their attributes; for ``AppConfig``
discovery) and ``def`` (a function is never run). Environment reads give their default, marked as such
(``values.DEFAULT``: the environment may override it): ``os.environ.get(NAME, default)``, ``os.getenv``,
``os.environ.setdefault``, django-environ's ``Env(...)`` schemes and ``env(NAME, default=...)`` /
``env.str/bool/int/list/...``, python-decouple's ``config(NAME, default=..., cast=...)``. Anything else is
``UNKNOWN``: a call to a function that is not modelled (which may also change the containers handed to it),
``os.environ[NAME]``, a condition on an unknown value (both branches may run: ``values.join``).

Only modules of the project are evaluated when reached by an import (and the modules a caller asks for, such
as Django's ``global_settings`` or a third-party app's ``apps`` module); any other module's names are known
only by their dotted name (``values.External``). Module-level code is read from ``frameworks.source`` (parsed
within the memory budget, cached); nothing of the project is run. Work is bounded (``MAX_STEPS``,
``MAX_MODULES``, ``MAX_ITEMS``): past a bound the module is unknown."""

from __future__ import annotations

from dataclasses import dataclass

from deploycheck.frameworks import source
from deploycheck.frameworks.values import (
    CERTAIN,
    DEFAULT,
    MAYBE,
    UNKNOWN,
    Class,
    Const,
    External,
    Function,
    Lazy,
    Map,
    Method,
    ModuleRef,
    Opaque,
    Seq,
    Value,
    copy,
    demote,
    join,
    same_content,
    taint,
    taint_aliased,
)
from deploycheck.index.program import FOUND, MISSING, Program

# Bounds on the work of one evaluation (an ``Interpreter``): statements run, modules evaluated, items of a
# container or iterations of a loop, characters of a computed string. Past one, the module being evaluated
# is unknown: real settings stay far below them (a big settings module runs a few thousand statements).
MAX_STEPS = 200_000
MAX_MODULES = 300
MAX_ITEMS = 10_000
MAX_STR = 100_000

_ENV_GET = {"os.environ.get", "os.getenv", "os.environ.setdefault", "posix.environ.get"}
_ENV_CLASSES = {"environ.Env", "environ.environ.Env"}
_DECOUPLE = {"decouple.config"}
# django-environ methods whose second positional argument is the default (the others take ``cast`` there)
_ENV_DEFAULT_SECOND = {"str", "bool", "int", "float", "json", "url", "path", "bytes", "db_url", "db",
                       "cache_url", "cache", "email_url", "email", "search_url", "parse_value"}
_ENV_URL_METHODS = {"db_url", "db", "cache_url", "cache", "email_url", "email", "search_url"}
_BUILTINS = {"list", "tuple", "set", "frozenset", "dict", "str", "int", "float", "bool", "len", "sorted",
             "reversed", "isinstance", "hasattr", "getattr", "print", "min", "max", "any", "all", "range",
             "enumerate", "zip", "map", "filter", "repr", "open", "object", "type", "Exception",
             "BaseException", "ImportError", "ModuleNotFoundError", "KeyError", "ValueError",
             "AttributeError", "TypeError", "OSError", "IOError", "RuntimeError", "NameError", "LookupError",
             "IndexError", "FileNotFoundError",
             "PermissionError", "NotImplementedError", "SyntaxError", "Warning", "DeprecationWarning"}
_PURE = {"builtins.reversed", "builtins.dict.fromkeys", "builtins.len", "builtins.isinstance", "builtins.hasattr", "builtins.print", "builtins.repr",
         "builtins.any", "builtins.all", "builtins.min", "builtins.max", "builtins.str", "builtins.bool",
         "builtins.int", "builtins.float"}
_IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}


def _hashable(value) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


class _Budget(Exception):
    """A bound of the evaluation was reached: the module is unknown."""


class Scope:
    """A namespace: a module's (``qual`` empty), a class body's, or a comprehension's. ``open``: names not
    bound here may be bound by code that is not evaluated (a star import of an unknown module)."""

    __slots__ = ("module", "open", "parent", "qual", "vars")

    def __init__(self, module: str, qual: str = "", parent: Scope | None = None) -> None:
        self.module, self.qual, self.parent = module, qual, parent
        self.vars: dict[str, Value] = {}
        self.open = False

    def chain(self) -> list[Scope]:
        out, s = [], self
        while s is not None:
            out.append(s)
            s = s.parent
        return out


@dataclass
class Call:
    """A watched call seen at module level (``Interpreter.watch``): the function's dotted name, its
    arguments, where it is, and how sure it is to run (``values.CERTAIN``, ``DEFAULT`` or ``MAYBE``)."""

    name: str
    args: list[Value]
    kwargs: dict[str, Value]
    module: str
    line: int
    presence: int


_IN_PROGRESS = object()


class Interpreter:
    """Evaluates module-level code of modules of ``program``, each at most once (as Python imports a module
    once). ``watch``: dotted names of functions whose calls are recorded (``calls``). ``settings``: how
    ``django.conf.settings.NAME`` reads (a ``Settings``), for modules that read settings (URLconfs)."""

    def __init__(self, program: Program, watch: frozenset[str] = frozenset(),
                 settings: Settings | None = None) -> None:
        self.program = program
        self.watch = watch
        self.settings = settings
        self.calls: list[Call] = []
        self.modules: dict[str, object] = {}
        self.steps = 0
        self.presence = CERTAIN
        self.may_raise = False
        self.allowed: set[str] = set()
        self._memo: dict | None = None  # the copies of the current path's state, while running a path
        # Whether project modules reached by imports are evaluated too (a settings module's constants and
        # star imports), or only the modules asked for (a URLconf: only its calls and conditions matter).
        self.transitive = True

    # -- modules --------------------------------------------------------------------------------------------
    def evaluable(self, name: str) -> bool:
        mod = self.program.find(name)
        if mod is None or not mod.has_source or mod.path is None:
            return False
        return name in self.allowed or (self.transitive and self.program.origin(mod) == "project")

    def prefetch(self, names: list[str]) -> None:
        """Read the code of many modules at once (one cache query, one parse batch)."""
        paths = []
        for n in names:
            mod = self.program.find(n)
            if mod is not None and mod.has_source and mod.path:
                paths.append(mod.path)
        if paths:
            source.program_code(self.program, paths)

    def module(self, name: str, force: bool = False) -> Scope | None:
        """The namespace of module ``name`` after its module-level code ran, or None when it cannot be
        evaluated (not a source module, not the project's unless ``force``, unparsable, past a bound)."""
        if force:
            self.allowed.add(name)
        if name in self.modules:
            got = self.modules[name]
            return None if got is _IN_PROGRESS else got  # type: ignore[return-value]
        if not self.evaluable(name) or len(self.modules) >= MAX_MODULES:
            return None
        mod = self.program.find(name)
        code = source.program_code(self.program, [mod.path])[mod.path]  # type: ignore[union-attr]
        if code is None:
            self.modules[name] = None
            return None
        self.modules[name] = _IN_PROGRESS
        scope = Scope(name)
        scope.vars["__name__"] = Const(name)
        saved = (self.presence, self.may_raise)
        self.presence, self.may_raise = CERTAIN, False
        try:
            self.body(code, scope)
        except _Budget:
            self.modules[name] = None
            raise
        except RecursionError:
            self.modules[name] = None
            return None
        except Exception:  # a shape of code the evaluator does not expect: unknown, never a wrong value
            self.modules[name] = None
            return None
        finally:
            self.presence, self.may_raise = saved
        self.modules[name] = scope
        return scope

    def _is_package(self, name: str) -> bool:
        mod = self.program.find(name)
        return bool(mod and mod.is_package)

    # -- statements -----------------------------------------------------------------------------------------
    def body(self, stmts: tuple, scope: Scope) -> bool:
        """Run statements; False when they certainly end by raising (the rest never runs)."""
        for s in stmts:
            if not self.statement(s, scope):
                return False
        return True

    def statement(self, s: tuple, scope: Scope) -> bool:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise _Budget
        kind = s[0]
        if kind == "=":
            value = self.ev(s[3], scope)
            for t in s[2]:
                self.assign(t, value, scope)
        elif kind == "+=":
            self.augassign(s[2], s[3], s[4], scope)
        elif kind == "expr":
            self.ev(s[2], scope)
        elif kind == "if":
            return self.branch(s[2], s[3], s[4], scope)
        elif kind == "for":
            return self.loop_for(s, scope)
        elif kind == "while":
            test = self.truth(self.ev(s[2], scope))
            if test == (False, CERTAIN):
                return self.body(s[4], scope)
            return self.unknown_loop(s[3], s[4], scope)
        elif kind == "try":
            return self.try_(s, scope)
        elif kind == "with":
            return self.with_(s, scope)
        elif kind == "import":
            self.import_(s[2], s[3], scope)
        elif kind == "from":
            self.from_(s[2], s[3], s[4], scope)
        elif kind == "def":
            scope.vars[s[2]] = Function(scope.module, f"{scope.qual}.{s[2]}" if scope.qual else s[2], s[1])
        elif kind == "class":
            self.class_(s, scope)
        elif kind == "del":
            for t in s[2]:
                self.delete(t, scope)
        elif kind == "raise":
            return False
        else:  # "?": a statement that is not modelled changes what it names in ways we do not follow
            for name in s[2]:
                self.forget(name, scope)
        return True

    def forget(self, name: str, scope: Scope) -> None:
        for sc in scope.chain():
            if name in sc.vars:
                taint(sc.vars[name])
                break
        scope.vars[name] = UNKNOWN

    # -- branches -------------------------------------------------------------------------------------------
    def _run(self, stmts: tuple, scope: Scope, presence: int) -> tuple[list[dict], bool]:
        """Run ``stmts`` on a copy of the scopes' state; returns that state afterwards and whether the
        statements completed. The scopes keep their state from before."""
        chain = scope.chain()
        saved = [sc.vars for sc in chain]
        memo: dict = {}
        for sc in chain:
            sc.vars = {k: copy(v, memo) for k, v in sc.vars.items()}
        old, old_memo = self.presence, self._memo
        self.presence, self._memo = max(old, presence), memo
        try:
            done = self.body(stmts, scope)
            after = [sc.vars for sc in chain]
        finally:
            self.presence, self._memo = old, old_memo
            for sc, v in zip(chain, saved, strict=True):
                sc.vars = v
        return after, done

    def _merge(self, scope: Scope, a: tuple[list[dict], bool], b: tuple[list[dict], bool], how: int) -> bool:
        """Set the scopes' state to the meeting of two paths' states (``values.join``); a path that certainly
        raised is not one the code after it can be on."""
        (sa, oka), (sb, okb) = a, b
        chain = scope.chain()
        if not oka and not okb:
            return False
        if oka != okb:
            for sc, state in zip(chain, sa if oka else sb, strict=True):
                self._settle(sc.vars, state)
                sc.vars = state
            return True
        memo: dict = {}
        aliased: set = set()
        merged = []
        for sc, da, db in zip(chain, sa, sb, strict=True):
            out: dict[str, Value] = {}
            for k, va in da.items():
                if k in db:
                    out[k] = join(self.bound(va), self.bound(db[k]), how, memo, aliased)
                else:
                    out[k] = demote(va, DEFAULT) if how == DEFAULT else UNKNOWN
            for k in db:
                if k not in da:
                    out[k] = UNKNOWN
            self._settle(sc.vars, out)
            sc.vars = out
            merged.append(out)
        if aliased:  # a name bound to another container on one path only: what else holds it is unsure
            taint_aliased([v for out in merged for v in out.values()], aliased)
        return True

    def _settle(self, before: dict[str, Value], after: dict[str, Value]) -> None:
        """The paths ran on copies: a container a name held before is either what the name holds after (it
        keeps its identity, which other modules and names share) or, when the paths changed it, stale for
        whoever else holds it: nothing in it stays sure (``values.taint``)."""
        for k, new in after.items():
            old = self.bound(before[k]) if k in before else None
            if isinstance(old, (Seq, Map)) and new is not old:
                if same_content(old, new):
                    after[k] = old
                else:
                    taint(old)

    def branch(self, test: tuple, then: tuple, orelse: tuple, scope: Scope) -> bool:
        truth = self.truth(self.ev(test, scope))
        if truth is not None and truth[1] == CERTAIN:
            return self.body(then if truth[0] else orelse, scope)
        if truth is None:
            return self._merge(scope, self._run(then, scope, MAYBE), self._run(orelse, scope, MAYBE), MAYBE)
        taken, other = (then, orelse) if truth[0] else (orelse, then)
        return self._merge(scope, self._run(taken, scope, DEFAULT), self._run(other, scope, MAYBE), DEFAULT)

    def unknown_loop(self, stmts: tuple, orelse: tuple, scope: Scope, target: tuple | None = None) -> bool:
        """A loop that runs its body an unknown number of times: what holds after it is what holds both
        before it and after one more run of the body (items it adds are possible, not sure)."""
        before = self._run((), scope, MAYBE)
        body = stmts if target is None else (("=", 0, (target,), ("?", ())), *stmts)
        once = self._run(body, scope, MAYBE)
        self._merge(scope, before, (once[0], True), MAYBE)
        if orelse:
            self._merge(scope, self._run((), scope, MAYBE), self._run(orelse, scope, MAYBE), MAYBE)
        return True

    def loop_for(self, s: tuple, scope: Scope) -> bool:
        _, _, target, it, stmts, orelse, jumps = s
        items = self.iterate(self.ev(it, scope))
        if items is None or jumps:
            return self.unknown_loop(stmts, orelse, scope, target)
        for item in items:
            self.assign(target, item, scope)
            if not self.body(stmts, scope):
                return False
        return self.body(orelse, scope)

    def with_(self, s: tuple, scope: Scope) -> bool:
        """``with``: the body runs; a context manager may swallow what the body raises
        (``contextlib.suppress(ImportError)``, or one we cannot see), so the body is run like the body of a
        ``try`` whose handler catches what the manager may suppress (the language reference, 8.5)."""
        caught: set[str] | None = set()
        for value, target in s[2]:
            manager = self.ev(value, scope)
            self.may_raise = True
            if isinstance(manager, Opaque) and manager.kind == "contextlib.suppress":
                if caught is not None:
                    caught |= manager.data
            else:
                caught = None  # a manager we cannot see may suppress anything
            if target is not None:
                self.assign(target, UNKNOWN, scope)
        if caught is not None and not caught:
            return self.body(s[3], scope)
        return self.try_body(s[3], [(caught, None, ())], (), (), scope)

    def try_(self, s: tuple, scope: Scope) -> bool:
        _, _, stmts, handlers, orelse, final = s
        caught = [(None if h[0] is None else self._handler_names(h[0], scope), h[1], h[2]) for h in handlers]
        return self.try_body(stmts, caught, orelse, final, scope)

    def try_body(self, stmts: tuple, handlers: list, orelse: tuple, final: tuple, scope: Scope) -> bool:
        """``try``: ``handlers`` are ``(names of the exceptions caught or None for all, name, body)``."""
        catches_import = any(h[0] is None or h[0] & _IMPORT_ERRORS for h in handlers)
        raised: list[tuple[list[dict], bool]] = []  # states where the body may have raised
        certain = False
        saved_raise = self.may_raise
        chain = scope.chain()
        for st in stmts:
            before = self._run((), scope, CERTAIN)[0]
            self.may_raise = False
            fails = self.import_fails(st, scope) if catches_import and st[0] in ("import", "from") else False
            if fails:
                raised.append((before, True))
                certain = True
                break
            if fails is None:
                raised.append((before, True))
            if not self.statement(st, scope):
                raised.append((before, True))
                certain = True
                break
            if self.may_raise:
                raised.append((before, True))
        self.may_raise = saved_raise
        outcomes = []
        if not certain:
            ok = self.body(orelse, scope)
            outcomes.append(([sc.vars for sc in chain], ok))
        if raised:
            # the states the handlers may start from
            start = raised[0]
            for other in raised[1:]:
                self._merge(scope, start, other, MAYBE)
                start = ([sc.vars for sc in chain], True)
            for types, name, hbody in handlers:
                for sc, st_ in zip(chain, start[0], strict=True):
                    sc.vars = st_
                sure = certain and len(raised) == 1 and (types is None or bool(types & _IMPORT_ERRORS))
                if name:
                    scope.vars[name] = UNKNOWN
                outcomes.append(self._run(hbody, scope, CERTAIN if sure else MAYBE))
                if sure:
                    break
        if not outcomes:
            return False
        state, ok = outcomes[0]
        for sc, st_ in zip(chain, state, strict=True):
            sc.vars = st_
        merged = (state, ok)
        for other in outcomes[1:]:
            ok = self._merge(scope, merged, other, MAYBE)
            merged = ([sc.vars for sc in chain], ok)
        if not merged[1]:
            return False
        return self.body(final, scope)

    def _handler_names(self, types: tuple, scope: Scope) -> set[str]:
        value = self.ev(types, scope)
        values = [v for v, _ in value.items] if isinstance(value, Seq) else [value]
        out = set()
        for v in values:
            if isinstance(v, External) and v.dotted.startswith("builtins."):
                out.add(v.dotted[9:])
            else:
                out.add("Exception")  # a class we cannot see may be any exception: assume it catches
        return out

    def import_fails(self, st: tuple, scope: Scope) -> bool | None:
        """Does this import statement raise ImportError on the target (``index.program``'s model)?"""
        program = self.program
        if st[0] == "import":
            names, base = (), st[2]
        else:
            base = program.absolute(scope.module, self._is_package(scope.module), st[2], st[3])
            names = tuple(n for n, _ in st[4] if n != "*")
            if base is None:
                return True
        status, _ = program.module_status(base)
        if status == MISSING:
            return True
        if status != FOUND:
            return None
        fails = program.module_fails(base)
        if fails is not False:
            return fails
        outcome: bool | None = False
        for n in names:
            if program.find(f"{base}.{n}") is not None:
                continue
            r = program.has_name(base, n)
            if r == MISSING:
                return True
            if r != FOUND:
                outcome = None
        return outcome

    # -- binding --------------------------------------------------------------------------------------------
    def import_(self, name: str, asname: str | None, scope: Scope) -> None:
        if asname:
            scope.vars[asname] = ModuleRef(name)
        else:
            top = name.split(".")[0]
            scope.vars[top] = ModuleRef(top)

    def from_(self, module: str, level: int, names: tuple, scope: Scope) -> None:
        base = self.program.absolute(scope.module, self._is_package(scope.module), module, level)
        if base is None:
            for n, a in names:
                if n != "*":
                    scope.vars[a or n] = UNKNOWN
            return
        for n, a in names:
            if n != "*":
                scope.vars[a or n] = Lazy(base, n)
                continue
            other = self.module(base)
            if other is None:
                scope.open = True  # names we cannot list
                continue
            public = other.vars.get("__all__")
            if isinstance(public, Seq) and public.known() and all(
                    isinstance(v, Const) and isinstance(v.value, str) for v, _ in public.items):
                chosen = [v.value for v, _ in public.items]  # type: ignore[union-attr]
            else:
                chosen = [k for k in other.vars if not k.startswith("_")]
            for k in chosen:
                if k in other.vars:
                    scope.vars[k] = other.vars[k]  # the same object (a pending import stays pending)
            if other.open:
                scope.open = True

    def binding(self, scope: Scope, name: str) -> Value:
        """What ``name`` is bound to in ``scope`` (resolving ``from m import name``); UNKNOWN when it is not
        bound, or when resolving it passes a bound."""
        if name not in scope.vars:
            return UNKNOWN
        try:
            return self._resolved(scope, name)
        except _Budget:
            return UNKNOWN

    def bound(self, value: Value) -> Value:
        """``value`` with a pending ``from m import name`` resolved; UNKNOWN past a bound."""
        if not isinstance(value, Lazy):
            return value
        try:
            return self.resolve(value)
        except _Budget:
            return UNKNOWN

    def _resolved(self, scope: Scope, name: str) -> Value:
        v = scope.vars[name]
        return self.resolve(v) if isinstance(v, Lazy) else v

    def resolve(self, lazy: Lazy) -> Value:
        """What ``from lazy.module import lazy.name`` binds (worked out once, kept in ``lazy``)."""
        if lazy.value is None:
            lazy.value = UNKNOWN  # a cycle: the name is not bound yet while its module runs
            lazy.value = self._resolve(lazy)
        return lazy.value

    def _resolve(self, lazy: Lazy) -> Value:
        sub = f"{lazy.module}.{lazy.name}"
        other = self.module(lazy.module)
        if other is not None and lazy.name in other.vars:
            return self._resolved(other, lazy.name)
        if self.program.find(sub) is not None:
            return ModuleRef(sub)
        if other is not None:
            return UNKNOWN  # bound some way we do not follow (a submodule set up at run time, a star import)
        return External(sub)

    def class_(self, s: tuple, scope: Scope) -> None:
        _, line, name, bases, stmts = s
        base_values = [self.ev(b, scope) for b in bases]
        qual = f"{scope.qual}.{name}" if scope.qual else name
        inner = Scope(scope.module, qual, scope if not scope.qual else scope.parent)
        # A class body sees the module's names, not an enclosing class's (the language reference, 4.2.2).
        if not self.body(stmts, inner):
            scope.vars[name] = UNKNOWN
            return
        scope.vars[name] = Class(scope.module, qual, base_values, inner.vars, line)

    def assign(self, target: tuple, value: Value, scope: Scope) -> None:
        kind = target[0]
        if kind == "n":
            scope.vars[target[1]] = value
        elif kind == "i":
            obj = self.ev(target[1], scope)
            key = self.ev(target[2], scope) if target[2][0] != "slice" else UNKNOWN
            self.setitem(obj, key, value)
        elif kind == "tuple":
            items = self.iterate(value)
            stars = [t for t in target[1] if t[0] == "*"]
            if items is None or stars or len(items) != len(target[1]):
                for t in target[1]:
                    self.assign(t[1] if t[0] == "*" else t, UNKNOWN, scope)
                return
            for t, v in zip(target[1], items, strict=True):
                self.assign(t, v, scope)
        elif kind == "a":
            obj = self.ev(target[1], scope)
            if isinstance(obj, Class):
                obj.attrs[target[2]] = value
        elif kind == "*":
            self.assign(target[1], UNKNOWN, scope)
        else:
            for name in target[1]:
                self.forget(name, scope)

    def delete(self, target: tuple, scope: Scope) -> None:
        if target[0] == "n":
            scope.vars.pop(target[1], None)
        elif target[0] == "i":
            obj = self.ev(target[1], scope)
            key = self.ev(target[2], scope) if target[2][0] != "slice" else UNKNOWN
            if isinstance(obj, Map) and isinstance(key, Const) and key.status == CERTAIN:
                obj.entries.pop(key.value, None)
            else:
                taint(obj)
        elif target[0] == "tuple":
            for t in target[1]:
                self.delete(t, scope)

    def setitem(self, obj: Value, key: Value, value: Value) -> None:
        if isinstance(obj, Map):
            if isinstance(key, Const) and _hashable(key.value):
                if key.status == CERTAIN:
                    obj.entries[key.value] = [value, CERTAIN]
                else:
                    for item in obj.entries.values():
                        item[1] = MAYBE
                    obj.entries[key.value] = [value, max(key.status, DEFAULT)]
                return
            taint(obj)
        elif isinstance(obj, Seq) and obj.kind == "list":
            if isinstance(key, Const) and type(key.value) is int and key.status == CERTAIN and obj.known():
                if -len(obj.items) <= key.value < len(obj.items):
                    obj.items[key.value] = [value, CERTAIN]
                return
            taint(obj)
            obj.items.append([value, MAYBE])

    def augassign(self, op: str, target: tuple, expr: tuple, scope: Scope) -> None:
        current = self.ev(target, scope) if target[0] in ("n", "i", "a") else UNKNOWN
        value = self.ev(expr, scope)
        if isinstance(current, Seq) and current.kind == "list" and op == "+":
            self.extend(current, value)  # in place: every name bound to the list sees it
            result: Value = current
        elif isinstance(current, Seq) and current.kind == "set" and op == "|":
            self.extend(current, value)
            result = current
        elif isinstance(current, Map) and op == "|":
            self.update(current, value)
            result = current
        else:
            result = self.binop(op, current, value)
        if target[0] in ("n", "i", "a"):
            self.assign(target, result, scope)

    # -- expressions ----------------------------------------------------------------------------------------
    def lookup(self, name: str, scope: Scope) -> Value:
        for sc in scope.chain():
            if name in sc.vars:
                value = self._resolved(sc, name)
                imported = isinstance(sc.vars[name], Lazy)
                if self._memo is not None and isinstance(value, (Seq, Map)) and imported:
                    # on a path that may not run, an imported list is changed as a copy (keeping its oid, so
                    # the paths' versions meet item by item), not in the module it comes from
                    value = sc.vars[name] = copy(value, self._memo)
                return value
            if sc.open:
                return UNKNOWN
        if name in _BUILTINS:
            return External(f"builtins.{name}")
        if name in ("True", "False", "None"):
            return Const({"True": True, "False": False, "None": None}[name])
        return UNKNOWN

    def ev(self, e: tuple | None, scope: Scope) -> Value:
        if e is None:
            return Const(None)
        kind = e[0]
        if kind == "c":
            value = e[1]
            if isinstance(value, str) and len(value) > MAX_STR:
                return UNKNOWN
            return Const(value, CERTAIN, (scope.module, e[2]))
        if kind == "n":
            return self.lookup(e[1], scope)
        if kind == "a":
            return self.attr(self.ev(e[1], scope), e[2])
        if kind == "i":
            obj = self.ev(e[1], scope)
            if e[2][0] == "slice":
                return UNKNOWN
            return self.getitem(obj, self.ev(e[2], scope))
        if kind in ("list", "tuple", "set"):
            seq = Seq(kind)
            for item in e[1]:
                if item is not None and item[0] == "*":
                    self.extend(seq, self.ev(item[1], scope))
                else:
                    seq.items.append([self.ev(item, scope), CERTAIN])
                if len(seq.items) > MAX_ITEMS:
                    raise _Budget
            return seq
        if kind == "dict":
            mapping = Map()
            for k, v in zip(e[1], e[2], strict=True):
                if k is None:
                    self.update(mapping, self.ev(v, scope))
                else:
                    self.setitem(mapping, self.ev(k, scope), self.ev(v, scope))
            return mapping
        if kind == "call":
            return self.call_expr(e, scope)
        if kind == "bin":
            return self.binop(e[1], self.ev(e[2], scope), self.ev(e[3], scope))
        if kind == "un":
            return self.unop(e[1], self.ev(e[2], scope))
        if kind == "bool":
            return self.boolop(e[1], e[2], scope)
        if kind == "cmp":
            return self.compare(e, scope)
        if kind == "ifx":
            truth = self.truth(self.ev(e[1], scope))
            if truth is None:
                return UNKNOWN
            chosen = self.ev(e[2] if truth[0] else e[3], scope)
            return demote(chosen, truth[1])
        if kind == "f":
            return self.fstring(e[1], scope)
        if kind == "fv":
            return self.ev(e[1], scope)
        if kind == "comp":
            return self.comprehension(e, scope)
        if kind == ":=":
            value = self.ev(e[2], scope)
            scope.vars[e[1]] = value
            return value
        if kind == "*":
            return UNKNOWN
        for name in e[1] if kind == "?" else ():
            if name in scope.vars:
                self.forget(name, scope)
        self.may_raise = True
        return UNKNOWN

    def attr(self, obj: Value, name: str) -> Value:
        if isinstance(obj, ModuleRef):
            other = self.module(obj.name)
            if other is not None and name in other.vars:
                value = self._resolved(other, name)
                if self._memo is not None and isinstance(value, (Seq, Map)):
                    taint(value)  # another module's list, reached on a path that may not run: it may change
                return value
            sub = f"{obj.name}.{name}"
            if self.program.find(sub) is not None:
                return ModuleRef(sub)
            return UNKNOWN if other is not None else External(sub)
        if isinstance(obj, External):
            if obj.dotted == "django.conf.settings" and self.settings is not None:
                return self.settings.value(name)
            return External(f"{obj.dotted}.{name}")
        if isinstance(obj, Class):
            return self.class_attr(obj, name)
        if isinstance(obj, (Seq, Map, Const, Opaque)):
            return Method(obj, name)
        return UNKNOWN

    def class_attr(self, cls: Class, name: str, depth: int = 0) -> Value:
        """``cls.name`` through the bases, as far as they are evaluated; UNKNOWN otherwise."""
        if name in cls.attrs:
            v = cls.attrs[name]
            return self.resolve(v) if isinstance(v, Lazy) else v
        if depth > 20:
            return UNKNOWN
        for base in cls.bases:
            if isinstance(base, Class):
                v = self.class_attr(base, name, depth + 1)
                if v is not UNKNOWN:
                    return v
            return UNKNOWN  # a base we cannot see may define it
        return UNKNOWN

    def getitem(self, obj: Value, key: Value) -> Value:
        if isinstance(obj, Map) and isinstance(key, Const) and _hashable(key.value):
            if key.value in obj.entries:
                return obj.entries[key.value][0]
            return UNKNOWN
        if isinstance(obj, Seq) and isinstance(key, Const) and type(key.value) is int and obj.known():
            if -len(obj.items) <= key.value < len(obj.items):
                return demote(obj.items[key.value][0], key.status)
            return UNKNOWN
        if (isinstance(obj, Const) and isinstance(obj.value, str) and isinstance(key, Const)
                and type(key.value) is int):
            if -len(obj.value) <= key.value < len(obj.value):
                return Const(obj.value[key.value], max(obj.status, key.status))
        self.may_raise = True
        return UNKNOWN

    def truth(self, value: Value) -> tuple[bool, int] | None:
        """``bool(value)`` and how sure it is; None when unknown."""
        if isinstance(value, Const):
            return bool(value.value), value.status
        if isinstance(value, Seq):
            if any(p == CERTAIN for _, p in value.items):
                return True, CERTAIN
            if not value.items and not value.open:
                return False, CERTAIN
            if not value.open and all(p <= DEFAULT for _, p in value.items):
                return bool(value.items), DEFAULT
            return None
        if isinstance(value, Map):
            if any(p == CERTAIN for _, p in value.entries.values()):
                return True, CERTAIN
            if not value.entries and not value.open:
                return False, CERTAIN
            return None
        if isinstance(value, (ModuleRef, Function, Class)):
            return True, CERTAIN
        return None

    def iterate(self, value: Value) -> list[Value] | None:
        """The items a ``for`` over ``value`` sees, when they are all known and sure; else None."""
        if isinstance(value, Seq) and value.known() and len(value.items) <= MAX_ITEMS:
            return [v for v, _ in value.items]
        if isinstance(value, Map) and not value.open and all(p == CERTAIN for _, p in value.entries.values()):
            return [Const(k) for k in value.entries]
        if isinstance(value, Const) and isinstance(value.value, str) and value.status == CERTAIN:
            return [Const(c) for c in value.value]
        return None

    def extend(self, seq: Seq, value: Value) -> None:
        if isinstance(value, Seq):
            seq.items += [[v, p] for v, p in value.items]
            seq.open = seq.open or value.open
            seq.exact = seq.exact and value.exact
        elif isinstance(value, Map):
            seq.items += [[Const(k), p] for k, (_, p) in value.entries.items()]
            seq.open = seq.open or value.open
        elif isinstance(value, Const) and isinstance(value.value, str):
            seq.items += [[Const(c, value.status), CERTAIN] for c in value.value]
        else:
            seq.open, seq.exact = True, False
        if len(seq.items) > MAX_ITEMS:
            raise _Budget

    def update(self, mapping: Map, value: Value) -> None:
        if isinstance(value, Map):
            for k, (v, p) in value.entries.items():
                mapping.entries[k] = [v, p]
            if value.open:
                taint(mapping)
        else:
            taint(mapping)

    def binop(self, op: str, a: Value, b: Value) -> Value:
        if isinstance(a, Const) and isinstance(b, Const):
            status = max(a.status, b.status)
            try:
                if op == "*" and (isinstance(a.value, (str, bytes)) or isinstance(b.value, (str, bytes))):
                    n = b.value if isinstance(a.value, (str, bytes)) else a.value
                    s = a.value if isinstance(a.value, (str, bytes)) else b.value
                    if not isinstance(n, int) or n * len(s) > MAX_STR:
                        return UNKNOWN
                if op == "**" and (abs(a.value) > 2 ** 64 or abs(b.value) > 64):  # type: ignore[operator]
                    return UNKNOWN
                if op in ("<<",) and abs(b.value) > 64:  # type: ignore[arg-type]
                    return UNKNOWN
                result = _OPS[op](a.value, b.value)
            except Exception:
                return UNKNOWN
            if isinstance(result, (str, bytes)) and len(result) > MAX_STR:
                return UNKNOWN
            if isinstance(result, (str, int, float, bool, bytes)) or result is None:
                return Const(result, status, a.where or b.where)
            return UNKNOWN
        if op == "*" and isinstance(a, Const) and isinstance(b, Seq):
            a, b = b, a
        if op == "*" and isinstance(a, Seq) and a.kind != "set" and isinstance(b, Const) and type(
                b.value) is int:
            if not a.known() or b.status != CERTAIN or len(a.items) * max(b.value, 0) > MAX_ITEMS:
                return UNKNOWN
            return Seq(a.kind, [[v, p] for _ in range(max(b.value, 0)) for v, p in a.items])
        if isinstance(a, Seq) and isinstance(b, Seq) and op == "+" and a.kind == b.kind and a.kind != "set":
            out = Seq(a.kind, [[v, p] for v, p in a.items], a.open, exact=a.exact)
            self.extend(out, b)
            return out
        if isinstance(a, Seq) and isinstance(b, Seq) and op == "|" and a.kind == b.kind == "set":
            out = Seq("set", [[v, p] for v, p in a.items], a.open)
            self.extend(out, b)
            return out
        if isinstance(a, Map) and isinstance(b, Map) and op == "|":
            out_map = Map({k: [v, p] for k, (v, p) in a.entries.items()}, a.open)
            self.update(out_map, b)
            return out_map
        if isinstance(a, Const) and isinstance(a.value, str) and op == "%":
            args = b.items if isinstance(b, Seq) else None
            if args is not None and b.known() and all(isinstance(v, Const) for v, _ in args):  # type: ignore[union-attr]
                try:
                    text = a.value % tuple(v.value for v, _ in args)  # type: ignore[union-attr]
                except Exception:
                    return UNKNOWN
                if len(text) > MAX_STR:
                    return UNKNOWN
                return Const(text, max([a.status] + [v.status for v, _ in args]))  # type: ignore[union-attr]
        return UNKNOWN

    def unop(self, op: str, a: Value) -> Value:
        if op == "not":
            truth = self.truth(a)
            return UNKNOWN if truth is None else Const(not truth[0], truth[1])
        if isinstance(a, Const) and isinstance(a.value, (int, float)) and not isinstance(a.value, bool):
            if op == "~" and not isinstance(a.value, int):
                return UNKNOWN
            return Const({"-": -a.value, "+": +a.value}.get(op, ~a.value), a.status)  # type: ignore[operator]
        return UNKNOWN

    def boolop(self, op: str, exprs: tuple, scope: Scope) -> Value:
        status = CERTAIN
        value: Value = UNKNOWN
        for i, e in enumerate(exprs):
            value = self.ev(e, scope)
            if i == len(exprs) - 1:
                break
            truth = self.truth(value)
            if truth is None:
                return UNKNOWN
            status = max(status, truth[1])
            if truth[0] == (op == "or"):
                break  # the value that ends the evaluation
        return demote(value, status)

    def compare(self, e: tuple, scope: Scope) -> Value:
        left = self.ev(e[1], scope)
        status = CERTAIN
        for op, right_e in zip(e[2], e[3], strict=True):
            right = self.ev(right_e, scope)
            result = self.compare_one(op, left, right)
            if result is None:
                return UNKNOWN
            status = max(status, result[1])
            if not result[0]:
                return Const(False, status)
            left = right
        return Const(True, status)

    def compare_one(self, op: str, a: Value, b: Value) -> tuple[bool, int] | None:
        if isinstance(a, Const) and isinstance(b, Const):
            status = max(a.status, b.status)
            if op in ("is", "is not"):
                if any(v is None or isinstance(v, bool) for v in (a.value, b.value)):
                    same = a.value is b.value
                    return (same if op == "is" else not same), status
                return None
            try:
                return bool(_CMP[op](a.value, b.value)), status
            except Exception:
                return None
        if op in ("in", "not in") and isinstance(a, Const) and isinstance(b, (Seq, Map)):
            found = self.contains(b, a)
            if found is None:
                return None
            return (found[0] if op == "in" else not found[0]), max(found[1], a.status)
        if op in ("is", "is not") and isinstance(b, Const) and b.value is None and isinstance(
                a, (Seq, Map, ModuleRef, Function, Class)):
            return op == "is not", CERTAIN
        return None

    def contains(self, container: Seq | Map, item: Const) -> tuple[bool, int] | None:
        if isinstance(container, Map):
            if item.value in container.entries if _hashable(item.value) else False:
                return True, container.entries[item.value][1]
            return (False, CERTAIN) if not container.open and all(
                p == CERTAIN for _, p in container.entries.values()) else None
        sure = None
        for v, p in container.items:
            if isinstance(v, Const) and v.same(item):
                if p < MAYBE:
                    return True, max(p, v.status)
                sure = False
            elif not isinstance(v, Const):
                sure = False
        if container.open or sure is False or any(p != CERTAIN for _, p in container.items):
            return None
        return False, CERTAIN

    def fstring(self, parts: tuple, scope: Scope) -> Value:
        out, status, where = [], CERTAIN, None
        for p in parts:
            v = self.ev(p, scope)
            if not isinstance(v, Const) or not isinstance(v.value, (str, int, bool)) or v.value is None:
                return UNKNOWN
            out.append(str(v.value))
            status = max(status, v.status)
            where = where or v.where
        text = "".join(out)
        return Const(text, status, where) if len(text) <= MAX_STR else UNKNOWN

    def comprehension(self, e: tuple, scope: Scope) -> Value:
        _, kind, element, gens = e
        inner = Scope(scope.module, scope.qual, scope)
        out = Map() if kind == "dict" else Seq("list" if kind in ("list", "gen") else kind)
        count = [0]

        def run(level: int, presence: int) -> bool:
            if level == len(gens):
                count[0] += 1
                if count[0] > MAX_ITEMS:
                    raise _Budget
                if kind == "dict":
                    key, value = self.ev(element[0], inner), self.ev(element[1], inner)
                    if not (isinstance(key, Const) and _hashable(key.value)):
                        return False
                    out.entries[key.value] = [value, max(presence, key.status)]  # type: ignore[union-attr]
                else:
                    out.items.append([self.ev(element, inner), presence])  # type: ignore[union-attr]
                return True
            target, it, ifs = gens[level]
            items = self.iterate(self.ev(it, inner))
            if items is None:
                return False
            for item in items:
                self.assign(target, item, inner)
                p = presence
                for cond in ifs:
                    truth = self.truth(self.ev(cond, inner))
                    if truth is None:
                        p = MAYBE
                    elif not truth[0]:
                        if truth[1] == CERTAIN:
                            p = -1
                            break
                        p = MAYBE
                    else:
                        p = max(p, truth[1])
                if p >= 0 and not run(level + 1, p):
                    return False
            return True

        if not run(0, CERTAIN):
            return UNKNOWN
        if isinstance(out, Seq):
            out.exact = all(p == CERTAIN for _, p in out.items)
        return out

    # -- calls ----------------------------------------------------------------------------------------------
    def call_expr(self, e: tuple, scope: Scope) -> Value:
        _, line, func_e, args_e, kwargs_e = e
        func = self.ev(func_e, scope)
        args: list[Value] = []
        complete = True
        for a in args_e:
            if a is not None and a[0] == "*":
                items = self.iterate(self.ev(a[1], scope))
                if items is None:
                    complete = False
                else:
                    args += items
            else:
                args.append(self.ev(a, scope))
        kwargs: dict[str, Value] = {}
        for k, v in kwargs_e:
            value = self.ev(v, scope)
            if k is None:
                if isinstance(value, Map) and not value.open:
                    kwargs.update({str(key): val for key, (val, _) in value.entries.items()})
                else:
                    complete = False
            else:
                kwargs[k] = value
        if isinstance(func, External) and func.dotted in self.watch:
            self.calls.append(Call(func.dotted, args, kwargs, scope.module, line, self.presence))
        result = self.call(func, args, kwargs) if complete else None
        if result is None:
            if not (isinstance(func, External) and func.dotted in _PURE):
                for v in [*args, *kwargs.values()]:
                    taint(v)
                if isinstance(func, Method):
                    taint(func.obj)
            self.may_raise = True
            return UNKNOWN
        return result

    def call(self, func: Value, args: list[Value], kwargs: dict[str, Value]) -> Value | None:
        """The value of a modelled call; None for a call that is not modelled."""
        if isinstance(func, External):
            return self.call_external(func.dotted, args, kwargs)
        if isinstance(func, Method):
            return self.call_method(func.obj, func.name, args, kwargs)
        if isinstance(func, Opaque) and func.kind == "environ.Env":
            return self.env_read(func, "__call__", args, kwargs)
        return None

    def call_external(self, name: str, args: list[Value], kwargs: dict[str, Value]) -> Value | None:
        if name in _ENV_GET:
            if not args or not (isinstance(args[0], Const) and isinstance(args[0].value, str)):
                return None
            default = args[1] if len(args) > 1 else kwargs.get("default", Const(None))
            return demote(copy(default, {}), DEFAULT)
        if name in _ENV_CLASSES:
            schemes = {}
            for k, v in kwargs.items():
                if isinstance(v, Seq) and len(v.items) >= 2:
                    schemes[k] = (v.items[0][0], v.items[1][0])
                else:
                    schemes[k] = (v, None)
            return Opaque("environ.Env", schemes)
        if name in _DECOUPLE:
            if "default" not in kwargs:
                return None
            return _cast(kwargs["default"], kwargs.get("cast"))
        if name == "decouple.Csv":
            return Opaque("decouple.Csv")
        if name == "contextlib.suppress":
            caught = set()
            for a in args:
                builtin = isinstance(a, External) and a.dotted.startswith("builtins.")
                caught.add(a.dotted[9:] if builtin else "Exception")  # type: ignore[union-attr]
            return Opaque("contextlib.suppress", caught)
        if not name.startswith("builtins."):
            return None
        fn = name[9:]
        sequences = ("list", "tuple", "set", "frozenset", "sorted")
        if fn in sequences and len(args) <= 1 and not (kwargs and fn != "sorted"):
            out = Seq({"frozenset": "set", "sorted": "list"}.get(fn, fn))
            if args:
                self.extend(out, args[0])
            if fn in ("set", "frozenset", "sorted"):
                out.exact = False
            return out
        if fn == "reversed" and len(args) == 1 and not kwargs:
            # the same items, last first (a list, a tuple or a dict's keys: the reversed() docs)
            out = Seq("list")
            self.extend(out, args[0])
            out.items.reverse()
            out.exact = out.exact and not out.open
            return out
        if fn == "dict.fromkeys" and 1 <= len(args) <= 2 and not kwargs:
            # a dict whose keys are the items, each once (settings dedupe INSTALLED_APPS this way)
            keys = Seq("list")
            self.extend(keys, args[0])
            value = args[1] if len(args) > 1 else Const(None)
            out_map = Map(open=keys.open)
            for item, presence in keys.items:
                if not isinstance(item, Const) or not _hashable(item.value):
                    out_map.open = True
                    continue
                entry = out_map.entries.get(item.value)
                if entry is None or presence < entry[1]:  # certain < default < maybe
                    out_map.entries[item.value] = [value, presence]
            return out_map
        if fn == "dict" and len(args) <= 1:
            out_map = Map()
            if args:
                self.update(out_map, args[0])
            for k, v in kwargs.items():
                out_map.entries[k] = [v, CERTAIN]
            return out_map
        if fn in ("str", "int", "bool", "float") and len(args) == 1 and not kwargs:
            a = args[0]
            if fn == "bool":
                truth = self.truth(a)
                return None if truth is None else Const(truth[0], truth[1])
            if isinstance(a, Const):
                try:
                    return Const({"str": str, "int": int, "float": float}[fn](a.value), a.status)
                except Exception:
                    return None
        if fn == "len" and len(args) == 1 and isinstance(args[0], Seq) and args[0].known():
            return Const(len(args[0].items))
        return None

    def call_method(self, obj: Value, name: str, args: list[Value], kwargs: dict[str, Value]) -> Value | None:
        if isinstance(obj, Opaque):
            return self.env_read(obj, name, args, kwargs) if obj.kind == "environ.Env" else None
        if isinstance(obj, Seq):
            return self.seq_method(obj, name, args, kwargs)
        if isinstance(obj, Map):
            return self.map_method(obj, name, args, kwargs)
        if isinstance(obj, Const) and isinstance(obj.value, str):
            return self.str_method(obj, name, args, kwargs)
        return None

    def seq_method(self, seq: Seq, name: str, args: list[Value], kwargs: dict[str, Value]) -> Value | None:
        if kwargs:
            return None
        if name in ("append", "add") and len(args) == 1:
            seq.items.append([args[0], CERTAIN])
            if name == "add":
                seq.exact = False
            if len(seq.items) > MAX_ITEMS:
                raise _Budget
            return Const(None)
        if name in ("extend", "update") and len(args) == 1:
            self.extend(seq, args[0])
            return Const(None)
        if name == "insert" and len(args) == 2:
            index = args[0]
            if isinstance(index, Const) and type(index.value) is int and index.status == CERTAIN and (
                    seq.known()):
                seq.items.insert(index.value, [args[1], CERTAIN])
            else:
                seq.items.append([args[1], CERTAIN])
                seq.exact = False
            return Const(None)
        if name in ("remove", "discard") and len(args) == 1:
            self.remove(seq, args[0])
            return Const(None)
        if name in ("index", "count") and len(args) == 1:
            if seq.known() and isinstance(args[0], Const):
                matches = [i for i, (v, _) in enumerate(seq.items)
                           if isinstance(v, Const) and v.same(args[0])]
                if name == "count" and all(isinstance(v, Const) for v, _ in seq.items):
                    return Const(len(matches), args[0].status)
                if name == "index" and matches and all(
                        isinstance(v, Const) for v, _ in seq.items[:matches[0]]):
                    return Const(matches[0], args[0].status)
            return UNKNOWN
        if name == "copy" and not args:
            return Seq(seq.kind, [[v, p] for v, p in seq.items], seq.open, exact=seq.exact)
        if name in ("pop", "clear", "sort", "reverse"):
            if name == "clear":
                seq.items, seq.open, seq.exact = [], False, True
                return Const(None)
            if name in ("sort", "reverse"):
                seq.exact = False
                return Const(None)
            taint(seq)
            return UNKNOWN
        return None

    def remove(self, seq: Seq, item: Value) -> None:
        """``seq.remove(item)``: the first equal item goes; when which one that is cannot be told, every
        candidate may be gone."""
        if isinstance(item, Const) and item.status == CERTAIN:
            for i, (v, p) in enumerate(seq.items):
                if isinstance(v, Const) and v.same(item):
                    if p == CERTAIN and not seq.open:
                        del seq.items[i]
                        return
                    break
                if not isinstance(v, Const) or p != CERTAIN:
                    break
            for entry in seq.items:
                if not isinstance(entry[0], Const) or entry[0].same(item):
                    entry[1] = MAYBE
            seq.exact = False
            return
        for entry in seq.items:
            entry[1] = MAYBE
        seq.exact = False

    def map_method(self, mapping: Map, name: str, args: list[Value],
                   kwargs: dict[str, Value]) -> Value | None:
        if name == "update" and len(args) <= 1:
            if args:
                self.update(mapping, args[0])
            for k, v in kwargs.items():
                mapping.entries[k] = [v, CERTAIN]
            return Const(None)
        if name in ("get", "setdefault", "pop") and 1 <= len(args) <= 2 and not kwargs:
            key = args[0]
            default = args[1] if len(args) > 1 else Const(None)
            if not (isinstance(key, Const) and _hashable(key.value)):
                taint(mapping)
                return UNKNOWN
            entry = mapping.entries.get(key.value)
            if entry is not None and entry[1] == CERTAIN:
                if name == "pop":
                    del mapping.entries[key.value]
                return entry[0]
            if entry is None and not mapping.open:
                if name == "setdefault":
                    mapping.entries[key.value] = [default, CERTAIN]
                return default if name != "pop" or len(args) > 1 else UNKNOWN
            if name != "get":
                taint(mapping)
            return UNKNOWN
        if name == "copy" and not args:
            return Map({k: [v, p] for k, (v, p) in mapping.entries.items()}, mapping.open)
        if name in ("keys", "values", "items") and not args:
            seq = Seq("list", open=mapping.open, exact=False)
            for k, (v, p) in mapping.entries.items():
                item = {"keys": Const(k), "values": v,
                        "items": Seq("tuple", [[Const(k), CERTAIN], [v, CERTAIN]])}[name]
                seq.items.append([item, p])
            return seq
        return None

    def str_method(self, s: Const, name: str, args: list[Value], kwargs: dict[str, Value]) -> Value | None:
        if kwargs or not all(isinstance(a, Const) for a in args):
            if name == "join" and len(args) == 1 and isinstance(args[0], Seq) and args[0].known() and all(
                    isinstance(v, Const) and isinstance(v.value, str) for v, _ in args[0].items):
                text = s.value.join(v.value for v, _ in args[0].items)  # type: ignore[union-attr]
                status = max([s.status] + [v.status for v, _ in args[0].items])  # type: ignore[union-attr]
                return Const(text, status) if len(text) <= MAX_STR else UNKNOWN
            return None
        values = [a.value for a in args]  # type: ignore[union-attr]
        status = max([s.status] + [a.status for a in args])  # type: ignore[union-attr]
        if name in ("split", "rsplit") and len(values) <= 2:
            try:
                parts = getattr(s.value, name)(*values)
            except Exception:
                return None
            if len(parts) > MAX_ITEMS:
                return UNKNOWN
            return Seq("list", [[Const(p, status), CERTAIN] for p in parts])
        if name in ("strip", "lstrip", "rstrip", "lower", "upper", "replace", "startswith", "endswith",
                    "removeprefix", "removesuffix", "format", "capitalize", "title"):
            try:
                result = getattr(s.value, name)(*values)
            except Exception:
                return None
            if isinstance(result, str) and len(result) > MAX_STR:
                return UNKNOWN
            return Const(result, status)
        return None

    def env_read(self, env: Opaque, method: str, args: list[Value], kwargs: dict[str, Value]) -> Value | None:
        """django-environ: ``env(NAME, default=...)``, ``env.bool(NAME, default)``...: the default, or the
        scheme's default given to ``Env(NAME=(cast, default))``; None when there is none (an unset variable
        raises ``ImproperlyConfigured``, a set one gives its value: either way not ours to know)."""
        if method in ("read_env", "smart_cast", "escape_proxy", "prefix"):
            return Const(None) if method == "read_env" else None
        if not args or not (isinstance(args[0], Const) and isinstance(args[0].value, str)):
            return None
        if method in _ENV_URL_METHODS:
            return None  # a dict parsed from a URL: not modelled
        if "default" in kwargs:
            default: Value | None = kwargs["default"]
        elif method in _ENV_DEFAULT_SECOND and len(args) > 1:
            default = args[1]
        else:
            scheme = env.data.get(args[0].value)  # type: ignore[union-attr]
            default = scheme[1] if scheme else None
        if default is None:
            return None
        value = demote(copy(default, {}), DEFAULT)
        if method in ("list", "tuple") and isinstance(value, Const) and isinstance(value.value, str):
            return Seq("list" if method == "list" else "tuple",
                       [[Const(p, DEFAULT, value.where), DEFAULT] for p in value.value.split(",") if p])
        if method == "bool" and isinstance(value, Const) and isinstance(value.value, str):
            return Const(value.value.lower() in ("true", "on", "ok", "y", "yes", "1"), DEFAULT, value.where)
        return value


def _cast(default: Value, cast: Value | None) -> Value | None:
    """python-decouple's ``config(NAME, default=..., cast=...)``: the default after the cast, when the cast
    is one we know (``bool``, ``int``, ``str``, ``Csv()``); decouple casts string defaults too."""
    value = demote(copy(default, {}), DEFAULT)
    if cast is None:
        return value
    text = value.value if isinstance(value, Const) and isinstance(value.value, str) else None
    if isinstance(cast, Opaque) and cast.kind == "decouple.Csv" and text is not None:
        where = value.where  # type: ignore[union-attr]
        parts = [p.strip() for p in text.split(",") if p.strip()]
        return Seq("list", [[Const(p, DEFAULT, where), DEFAULT] for p in parts])
    casts = {"builtins.bool": bool, "builtins.int": int, "builtins.str": str}
    if isinstance(cast, External) and cast.dotted in casts and isinstance(value, Const):
        if cast.dotted == "builtins.bool" and isinstance(value.value, str):
            text = value.value.lower()
            if text in ("y", "yes", "t", "true", "on", "1"):
                return Const(True, DEFAULT, value.where)
            if text in ("n", "no", "f", "false", "off", "0", ""):
                return Const(False, DEFAULT, value.where)
            return None
        try:
            return Const(casts[cast.dotted](value.value), DEFAULT, value.where)
        except Exception:
            return None
    return None


def _hashable(v: object) -> bool:
    return isinstance(v, (str, int, float, bool, bytes)) or v is None


_OPS = {
    "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b, "%": lambda a, b: a % b,
    "|": lambda a, b: a | b, "&": lambda a, b: a & b, "/": lambda a, b: a / b, "//": lambda a, b: a // b,
    "**": lambda a, b: a ** b, "^": lambda a, b: a ^ b, "<<": lambda a, b: a << b, ">>": lambda a, b: a >> b,
}
_CMP = {
    "==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b, ">=": lambda a, b: a >= b, "in": lambda a, b: a in b,
    "not in": lambda a, b: a not in b,
}

# Django reads only the upper-case names of a settings module (django/conf/__init__.py, ``Settings``).
GLOBAL_SETTINGS = "django.conf.global_settings"


class Settings:
    """Django's settings as ``django.conf.settings`` would hold them (the Django docs, "Settings": the
    settings module's upper-case names over ``django.conf.global_settings``), as far as they are known.

    ``module`` is the settings module; ``scope`` its namespace after its code ran (None: it could not be
    evaluated, every value is unknown); ``defaults`` the namespace of ``global_settings``."""

    def __init__(self, module: str, scope: Scope | None, defaults: Scope | None) -> None:
        self.module, self.scope, self.defaults = module, scope, defaults

    def given(self, name: str) -> bool:
        """Does the settings module itself bind ``name``?"""
        return self.scope is not None and name in self.scope.vars

    def value(self, name: str) -> Value:
        """The value Django sees for setting ``name``: the settings module's, else the global default (only
        when nothing we cannot see may have bound it), else UNKNOWN."""
        if not name.isupper() or self.scope is None:
            return UNKNOWN
        if name in self.scope.vars:
            return _settled(self.scope.vars[name])
        if self.scope.open or self.defaults is None:
            return UNKNOWN
        return _settled(self.defaults.vars.get(name, UNKNOWN))


def _settled(v: Value) -> Value:
    """A value as read after the evaluation: an import not resolved by then is unknown."""
    if isinstance(v, Lazy):
        return v.value if v.value is not None else UNKNOWN
    return v


def evaluate_settings(interp: Interpreter, module: str) -> Settings:
    """The settings of settings module ``module``, evaluated with ``interp`` (whose ``settings`` it becomes,
    so that modules evaluated later read them through ``django.conf.settings``)."""
    try:
        scope = interp.module(module, force=True)
    except _Budget:
        scope = None
    if scope is not None:  # resolve what the settings bind by `from x import NAME` while nothing else ran
        for name in [n for n in scope.vars if n.isupper()]:
            try:
                interp._resolved(scope, name)
            except _Budget:
                scope.vars[name] = UNKNOWN
    try:
        defaults = interp.module(GLOBAL_SETTINGS, force=True)
    except _Budget:
        defaults = None
    settings = Settings(module, scope, defaults)
    interp.settings = settings
    return settings


def evaluate(interp: Interpreter, module: str, force: bool = True) -> Scope | None:
    """Module ``module``'s namespace, or None (``Interpreter.module``), never raising for a bound."""
    try:
        return interp.module(module, force=force)
    except _Budget:
        return None
