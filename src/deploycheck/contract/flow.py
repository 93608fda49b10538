"""What a name holds where it is read, and which environment variables the code has set by then: one forward
pass over the statements of a module in the order Python runs them (the language reference, "Execution
model": names are bound by assignment, ``import``, ``def``, ``class``, ``for``, ``with ... as``, ``except ...
as``, ``:=``, ``match`` patterns and ``del``). Nothing is run.

Two facts flow through each scope (the module body, a function body, a class body):

- **bindings** (what may reach): for each name, every value that can reach this point on some path: the
  function of a call (``cfg = get_config()`` binds the ``get_config`` expression), an import
  (``("import", "app.config.settings")``), ``OTHER`` (any other value) or ``UNBOUND``. ``y = x`` copies what
  ``x`` holds. Branches join by union. A loop body starts with ``OTHER`` added to every name the loop binds
  (no fixed point is computed: the body runs once with what any iteration may hold). An ``except`` handler
  starts from the state before the ``try`` joined with every binding its body makes, as does the code after
  ``with contextlib.suppress(...)``. A name that a function declares ``global`` or ``nonlocal`` and binds may
  change whenever any function runs: it holds ``OTHER`` too, everywhere.
- **environment variables set** (what must hold): the names that ``os.environ[NAME] = ...``,
  ``os.environ.setdefault(NAME, ...)``, ``os.environ.update({NAME: ...}, NAME=...)`` or ``os.environ |=
  {NAME: ...}`` have set on every path to this point, with the line and the form. Branches join by
  intersection, so a write in one branch of an ``if``, in a loop body, in an ``except`` handler or in a part
  of an expression that may not run (``flag and os.environ.setdefault(...)``) does not count after it.
  ``del os.environ[NAME]``, ``os.environ.pop``, ``popitem`` and ``clear`` remove (a name that is not a
  literal: all). ``os.putenv`` is not a write: it does not update ``os.environ`` (Python docs,
  ``os.putenv``), and ``os.getenv`` reads ``os.environ``. A function body starts with nothing set (its
  callers are not followed), and calls to other functions are taken not to remove variables.

Names free in a function (globals, and locals of an enclosing function) may be read at any later time: they
hold every value their scope ever binds to them.

The pass takes time linear in the size of the module (times the nesting depth): a branch is walked on the
state itself, and undone from a journal of the names it changed; only those names are joined. Bounds keep
every step small whatever the input: past ``MAX_VALUES`` values a name holds ``OTHER`` (it is then never a
config object of one class), and past ``MAX_ENV_SET`` variables a further one is not recorded as set (a read
of it is then taken as not set by the code). Both only make the rules report less (DC401) or more (DC402)
than they could: never a value the code does not hold.
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

OTHER = "?"  # a value that is not followed (not a call, a parameter, a loop variable...)
UNBOUND = "-"
_OTHER = frozenset({OTHER})
_UNBOUND = frozenset({UNBOUND})
_NONE: frozenset = frozenset()
ALL = "*"  # removes every variable (``os.environ.clear()``, ``del os.environ[name]``)
# how a variable is set: the form of the statement
ASSIGNMENT, SETDEFAULT, UPDATE = "assignment", "setdefault", "update"

# Values a name may hold at one point, past which it holds OTHER: real code assigns a variable from a few
# calls.
MAX_VALUES = 32
# Environment variables recorded as set at one point: a settings loader sets some dozens.
MAX_ENV_SET = 256
_ABSENT = object()  # in a journal: the name was not bound
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


@dataclass
class Flow:
    """The result for one module.

    ``sites``: ``id`` of a ``Name`` read as the base of an attribute (``cfg`` in ``cfg.db.host``) ->
    (the values that may reach it, whether it is a local of a function or class body).
    ``env_at``: ``id`` of an ``os.environ[...]`` read or of a call -> ``{NAME: {(line, how)}}``, the variables
    set on every path before it (left out when none are).
    ``final``: module-level name -> the values it may hold once the module body has run.
    ``assigned``: module-level names bound other than by an import (assignments, ``def``, ``class``...)."""

    sites: dict[int, tuple[frozenset, bool]] = field(default_factory=dict)
    env_at: dict[int, dict[str, frozenset]] = field(default_factory=dict)
    final: dict[str, frozenset] = field(default_factory=dict)
    assigned: set[str] = field(default_factory=set)


class _State:
    """``binds``: name -> the values that may reach (changed in place, through ``_Walker._put``); ``env``:
    the variables set (a dict never changed in place, so that ``Flow.env_at`` can keep it)."""

    __slots__ = ("binds", "env")

    def __init__(self, binds: dict[str, frozenset], env: dict[str, frozenset]) -> None:
        self.binds = binds
        self.env = env


class _Scope:
    """``kind``: module, function or class; ``parent``: the scope a free name is looked up in (class bodies
    are skipped, as Python does); ``local``: the names bound in this scope; ``events``: every value bound to
    each name here (what a nested function may see later)."""

    def __init__(self, kind: str, parent: _Scope | None, local: set[str],
                 bound: _Bound | None = None, node: ast.AST | None = None) -> None:
        self.kind = kind
        self.parent = parent
        self.node = id(node)  # the module or function node: what `global` and `nonlocal` refer to
        self.globals = bound.globals if bound else set()
        self.local = local - (bound.globals | bound.nonlocals if bound else set())
        self.events: dict[str, set] = {}


@dataclass
class _Bound:
    """What a block binds (nested scopes left out): names; names declared ``global``, ``nonlocal``;
    whether it may remove environment variables."""

    names: set[str] = field(default_factory=set)
    globals: set[str] = field(default_factory=set)
    nonlocals: set[str] = field(default_factory=set)
    kills_env: bool = False


class _Collector:
    """Values bound and variables removed while a ``try`` body runs (for its handlers)."""

    def __init__(self) -> None:
        self.binds: dict[str, set] = {}
        self.kills: set[str] = set()


def _add(into: dict[str, set], name: str, vals: frozenset) -> None:
    got = into.setdefault(name, set())
    got.update(vals)
    if len(got) > MAX_VALUES:
        got.clear()
        got.add(OTHER)


def analyze(tree: ast.Module, qualify: Callable[[ast.expr], str | None],
            absolute: Callable[[int, str], str | None]) -> Flow:
    """Run the pass over a parsed module. ``qualify`` gives the dotted name an expression refers to through
    the module's imports (``os.environ``); ``absolute(level, name)`` the absolute module of a ``from`` import
    (None when it goes beyond the top). May raise ``RecursionError`` on a pathologically deep tree, as the
    ``ast`` module's own walkers do."""
    return _Walker(qualify, absolute).run(tree)


class _Walker:
    def __init__(self, qualify, absolute) -> None:
        self.qualify = qualify
        self.absolute = absolute
        self.flow = Flow()
        self.pending: list[tuple[str, int, str]] = []  # writes that take effect at the end of the statement
        self.journals: list[dict[str, object]] = []  # per open branch: name -> its value when it began
        self.collectors: list[_Collector] = []
        self.shadows: list[set[str]] = []  # comprehension variables
        self.queue: deque[tuple[ast.AST, _Scope]] = deque()  # function bodies, after their enclosing scope
        self.volatile: set[tuple[int, str]] = set()  # (scope node, name) rebound by a nested function
        self.since_star: set[str] = set()  # module names bound since the last `from x import *`
        self.module = _Scope("module", None, set())
        self.bound_cache: dict[tuple[int, ...], _Bound] = {}
        self.frozen: dict[tuple[int, str], frozenset] = {}

    # -- driver ------------------------------------------------------------------------------------------
    def run(self, tree: ast.Module) -> Flow:
        self._find_volatile(tree)
        self.module = _Scope("module", None, self._bound(tree.body).names, node=tree)
        st = _State({}, {})
        if self._block(tree.body, st, self.module):
            self.flow.final = {n: self._volatile(self.module, n, v) for n, v in st.binds.items()}
        while self.queue:
            node, parent = self.queue.popleft()
            self._function(node, parent)
        return self.flow

    def _function(self, node: ast.AST, parent: _Scope) -> None:
        if isinstance(node, ast.Lambda):  # one expression
            body: list[ast.stmt] = [ast.Expr(node.body)]
            bound = self._bound([node.body])
        else:
            body = node.body
            bound = self._bound(body)
        params = {a.arg for a in ast.walk(node.args) if isinstance(a, ast.arg)}
        scope = _Scope("function", parent, bound.names | params, bound, node)
        st = _State({}, {})
        self.journals, self.collectors, self.shadows = [], [], []
        for p in params & scope.local:
            self._bind(st, scope, p, _OTHER)
        self._block(body, st, scope)

    def _bound(self, nodes: list) -> _Bound:
        """Names bound by statements or expressions, without entering nested functions, lambdas or class
        bodies (their names, decorators and defaults belong here). ``nodes`` must be nodes of the tree: the
        result is kept by their identity."""
        key = tuple(map(id, nodes))
        if key in self.bound_cache:
            return self.bound_cache[key]
        out = _Bound()
        self.bound_cache[key] = out
        stack: list[ast.AST] = list(nodes)
        while stack:
            node = stack.pop()
            if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
                out.names.add(node.id)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                out.names.add(node.name)
                stack += node.decorator_list
                if isinstance(node, ast.ClassDef):
                    stack += node.bases + [k.value for k in node.keywords]
                else:
                    stack += [d for d in node.args.defaults + node.args.kw_defaults if d is not None]
                continue
            elif isinstance(node, ast.Lambda):
                stack += [d for d in node.args.defaults + node.args.kw_defaults if d is not None]
                continue
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for a in node.names:
                    if a.name != "*":
                        out.names.add(a.asname or a.name.split(".")[0])
            elif isinstance(node, ast.Global):
                out.globals.update(node.names)
            elif isinstance(node, ast.Nonlocal):
                out.nonlocals.update(node.names)
            elif isinstance(node, ast.ExceptHandler) and node.name:
                out.names.add(node.name)
            elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
                out.names.add(node.name)
            elif isinstance(node, ast.MatchMapping) and node.rest:
                out.names.add(node.rest)
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                    node.func.attr in ("pop", "popitem", "clear") and self._environ(node.func.value):
                out.kills_env = True
            elif isinstance(node, ast.Delete) and any(self._environ(t) or (
                    isinstance(t, ast.Subscript) and self._environ(t.value)) for t in node.targets):
                out.kills_env = True
            elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)) and any(
                    isinstance(t, ast.Attribute) and self._environ(t)
                    for t in (node.targets if isinstance(node, ast.Assign) else [node.target])):
                out.kills_env = True
            stack.extend(ast.iter_child_nodes(node))
        return out

    def _find_volatile(self, tree: ast.Module) -> None:
        """The names a nested function rebinds through ``global`` or ``nonlocal``, with the scope that owns
        them: any call may change what they hold."""
        stack: list[tuple[ast.AST, tuple]] = [(tree, ())]
        while stack:
            node, chain = stack.pop()
            for child in ast.iter_child_nodes(node):
                inner = chain
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    bound = self._bound(child.body)
                    self.volatile |= {(id(tree), n) for n in bound.globals & bound.names}
                    for name in bound.nonlocals & bound.names:
                        owner = next((f for f in reversed(chain) if name in self._locals(f)), None)
                        if owner is not None:
                            self.volatile.add((id(owner), name))
                    inner = (*chain, child)
                stack.append((child, inner))

    def _locals(self, fn: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
        bound = self._bound(fn.body)
        params = {a.arg for a in ast.walk(fn.args) if isinstance(a, ast.arg)}
        return (bound.names | params) - bound.globals - bound.nonlocals

    # -- names -------------------------------------------------------------------------------------------
    def _volatile(self, scope: _Scope, name: str, vals: frozenset) -> frozenset:
        return vals | _OTHER if (scope.node, name) in self.volatile else vals

    def _load(self, name: str, scope: _Scope, st: _State) -> tuple[frozenset, bool]:
        """The values that may reach a read of ``name``, and whether it is a local of the scope's body."""
        if any(name in s for s in self.shadows):
            return _OTHER, True
        if scope.kind == "module":
            return self._volatile(scope, name, st.binds.get(name, _UNBOUND)), False
        if scope.kind == "class":
            if name in st.binds:
                own = name in scope.local
                return (st.binds[name] if own else self._volatile(scope.parent, name, st.binds[name])), own
            if scope.parent is not None and scope.parent.kind == "module":
                return _UNBOUND, False  # the module has not bound it yet
            return self._free(name, scope.parent), False
        if name in scope.local:
            return self._volatile(scope, name, st.binds.get(name, _UNBOUND)), True
        return self._free(name, self.module if name in scope.globals else scope.parent), False

    def _free(self, name: str, scope: _Scope | None) -> frozenset:
        """A name read by a nested scope, which may run at any later time: every value bound to it."""
        while scope is not None:
            if scope.kind == "module" or name in scope.local:
                key = (scope.node, name)  # the node outlives the scope object
                if key not in self.frozen:  # the scope has been walked whole: its events are final
                    vals = frozenset(scope.events.get(name, ())) or _UNBOUND
                    self.frozen[key] = self._volatile(scope, name, vals)
                return self.frozen[key]
            scope = scope.parent
        return _UNBOUND

    def _put(self, st: _State, name: str, vals: frozenset) -> None:
        """Set what a name holds, recording its value before in the innermost journal."""
        if len(vals) > MAX_VALUES:
            vals = _OTHER
        if self.journals:
            journal = self.journals[-1]
            if name not in journal:
                journal[name] = st.binds.get(name, _ABSENT)
        st.binds[name] = vals

    def _bind(self, st: _State, scope: _Scope, name: str, vals: frozenset) -> None:
        """A binding the code makes."""
        self._put(st, name, vals)
        _add(scope.events, name, vals)
        for c in self.collectors:
            _add(c.binds, name, vals)
        if scope.kind == "module":
            self.since_star.add(name)
            if not all(isinstance(v, tuple) for v in vals):
                self.flow.assigned.add(name)

    def _value(self, expr: ast.expr, scope: _Scope, st: _State) -> frozenset:
        """What a name assigned ``expr`` holds."""
        if isinstance(expr, ast.Call):
            return frozenset({expr.func})
        if isinstance(expr, ast.Name):
            return self._load(expr.id, scope, st)[0]
        if isinstance(expr, ast.NamedExpr):
            return self._value(expr.value, scope, st)
        if isinstance(expr, ast.IfExp):
            return self._value(expr.body, scope, st) | self._value(expr.orelse, scope, st)
        if isinstance(expr, ast.BoolOp):
            return frozenset().union(*(self._value(v, scope, st) for v in expr.values))
        return _OTHER

    def _assign(self, target: ast.expr, vals: frozenset, scope: _Scope, st: _State, line: int) -> None:
        if isinstance(target, ast.Name):
            self._bind(st, scope, target.id, vals)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for elt in target.elts:
                self._assign(elt, _OTHER, scope, st, line)
        elif isinstance(target, ast.Starred):
            self._assign(target.value, _OTHER, scope, st, line)
        elif isinstance(target, ast.Subscript):
            self._expr(target.value, scope, st)
            self._expr(target.slice, scope, st)
            if self._environ(target.value):
                key = _literal_key(target.slice)
                if key is not None:
                    self._set(st, key, line, ASSIGNMENT)
        elif isinstance(target, ast.Attribute):
            self._expr(target.value, scope, st)
            if self._environ(target):
                self._kill(st, ALL)  # os.environ rebound: nothing known is set

    # -- branches ----------------------------------------------------------------------------------------
    def _fork(self, st: _State, runs: list[Callable[[_State], bool]]) -> bool:
        """Run each branch from the same state (each returns whether its end is reached); leave ``st`` as
        the join of the ends reached: a union of values, an intersection of variables set. False when no
        end is reached."""
        base_env = st.env
        ends: list[tuple[dict[str, object], dict[str, frozenset]]] = []
        touched: dict[str, object] = {}
        for run in runs:
            self.journals.append({})
            st.env = base_env
            reached = run(st)
            journal = self.journals.pop()
            if reached:
                ends.append(({n: st.binds.get(n, _ABSENT) for n in journal}, st.env))
            for n, old in journal.items():  # undo the branch
                if old is _ABSENT:
                    st.binds.pop(n, None)
                else:
                    st.binds[n] = old  # type: ignore[assignment]
                touched.setdefault(n, old)
        st.env = base_env
        if not ends:
            return False
        for n, base in touched.items():
            vals = _NONE
            for changes, _env in ends:
                v = changes.get(n, base)
                vals = vals | (_UNBOUND if v is _ABSENT else v)  # type: ignore[operator]
            self._put(st, n, vals)
        env = ends[0][1]
        for _changes, other in ends[1:]:
            if other is not env:
                env = {k: v | other[k] for k, v in env.items() if k in other}
        st.env = env
        return True

    def _caught(self, st: _State, collector: _Collector) -> bool:
        """Turn the state before a ``try`` body into the state where a handler starts: the exception may
        come from any point of the body."""
        for name, vals in collector.binds.items():
            self._put(st, name, st.binds.get(name, _UNBOUND) | frozenset(vals))
        if ALL in collector.kills:
            st.env = {}
        elif collector.kills & st.env.keys():
            st.env = {k: v for k, v in st.env.items() if k not in collector.kills}
        return True

    def _collected(self, stmts: list[ast.stmt], st: _State, scope: _Scope, collector: _Collector) -> bool:
        self.collectors.append(collector)
        try:
            return self._block(stmts, st, scope)
        finally:
            self.collectors.pop()

    # -- environment -------------------------------------------------------------------------------------
    def _environ(self, expr: ast.expr) -> bool:
        return isinstance(expr, (ast.Name, ast.Attribute)) and self.qualify(expr) == "os.environ"

    def _set(self, st: _State, name: str, line: int, how: str) -> None:
        if name in st.env or len(st.env) < MAX_ENV_SET:
            st.env = {**st.env, name: frozenset({(line, how)})}

    def _kill(self, st: _State, name: str) -> None:
        for c in self.collectors:
            c.kills.add(name)
        if name == ALL:
            st.env = {}
        elif name in st.env:
            st.env = {k: v for k, v in st.env.items() if k != name}

    def _flush(self, st: _State) -> None:
        for name, line, how in self.pending:
            self._set(st, name, line, how)
        self.pending = []

    def _env_call(self, node: ast.Call, st: _State, definite: bool) -> None:
        func = node.func
        if not isinstance(func, ast.Attribute) or not self._environ(func.value):
            return
        if func.attr == "setdefault" and node.args:
            key = _literal_key(node.args[0])
            if key is not None and definite:
                self.pending.append((key, node.lineno, SETDEFAULT))
        elif func.attr == "update":
            keys: list[str] = []
            if node.args and isinstance(node.args[0], ast.Dict):
                keys += [k for k in map(_literal_key, node.args[0].keys) if k is not None]
            keys += [k.arg for k in node.keywords if k.arg is not None]
            if definite:
                self.pending += [(k, node.lineno, UPDATE) for k in keys]
        elif func.attr == "pop":
            key = _literal_key(node.args[0]) if node.args else None
            self._kill(st, key if key is not None else ALL)
        elif func.attr in ("popitem", "clear"):
            self._kill(st, ALL)

    # -- statements --------------------------------------------------------------------------------------
    def _block(self, stmts: list[ast.stmt], st: _State, scope: _Scope) -> bool:
        """Walk statements in order on ``st``; False when the end is not reached (nothing after runs)."""
        for stmt in stmts:
            if not self._stmt(stmt, st, scope):
                return False
        return True

    def _run(self, expr: ast.expr | None, scope: _Scope, st: _State) -> None:
        """Evaluate a whole expression of a statement: its writes take effect once it has run."""
        if expr is not None:
            self._expr(expr, scope, st)
        self._flush(st)

    def _stmt(self, stmt: ast.stmt, st: _State, scope: _Scope) -> bool:  # noqa: C901 - one case per statement
        if isinstance(stmt, ast.Assign):
            self._run(stmt.value, scope, st)
            vals = self._value(stmt.value, scope, st)
            for t in stmt.targets:
                self._assign(t, vals, scope, st, stmt.lineno)
            self._flush(st)
            return True
        if isinstance(stmt, ast.AnnAssign):
            if stmt.value is not None:
                self._run(stmt.value, scope, st)
                self._assign(stmt.target, self._value(stmt.value, scope, st), scope, st, stmt.lineno)
            elif not isinstance(stmt.target, ast.Name):
                self._expr(stmt.target, scope, st)
            return True
        if isinstance(stmt, ast.AugAssign):
            self._run(stmt.value, scope, st)
            if isinstance(stmt.target, ast.Name):
                self._bind(st, scope, stmt.target.id, _OTHER)
            elif self._environ(stmt.target) and isinstance(stmt.value, ast.Dict):  # os.environ |= {...}
                for k in map(_literal_key, stmt.value.keys):
                    if k is not None:
                        self._set(st, k, stmt.lineno, UPDATE)
            else:
                self._assign(stmt.target, _OTHER, scope, st, stmt.lineno)
            return True
        if isinstance(stmt, (ast.Expr, ast.Return)):
            self._run(stmt.value, scope, st)
            return isinstance(stmt, ast.Expr)
        if isinstance(stmt, ast.Raise):
            self._run(stmt.exc, scope, st)
            self._run(stmt.cause, scope, st)
            return False
        if isinstance(stmt, ast.Assert):
            self._run(stmt.test, scope, st)
            self._run(stmt.msg, scope, st)
            return True
        if isinstance(stmt, ast.Delete):
            for t in stmt.targets:
                if isinstance(t, ast.Name):
                    self._bind(st, scope, t.id, _UNBOUND)
                elif isinstance(t, ast.Subscript) and self._environ(t.value):
                    key = _literal_key(t.slice)
                    self._kill(st, key if key is not None else ALL)
                elif self._environ(t):
                    self._kill(st, ALL)
                else:
                    self._expr(t, scope, st)
            return True
        if isinstance(stmt, ast.If):
            self._run(stmt.test, scope, st)
            return self._fork(st, [lambda s: self._block(stmt.body, s, scope),
                                   lambda s: self._block(stmt.orelse, s, scope)])
        if isinstance(stmt, (ast.For, ast.AsyncFor, ast.While)):
            return self._loop(stmt, st, scope)
        if isinstance(stmt, (ast.Break, ast.Continue)):
            return False  # the loop allows for what any iteration binds: see _loop
        if isinstance(stmt, (ast.Try, getattr(ast, "TryStar", ast.Try))):
            return self._try(stmt, st, scope)
        if isinstance(stmt, (ast.With, ast.AsyncWith)):
            return self._with(stmt, st, scope)
        if isinstance(stmt, ast.Match):
            return self._match(stmt, st, scope)
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            self._import(stmt, st, scope)
            return True
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for e in [*stmt.decorator_list, *stmt.args.defaults, *stmt.args.kw_defaults]:
                if e is not None:
                    self._run(e, scope, st)
            self._bind(st, scope, stmt.name, _OTHER)
            self.queue.append((stmt, scope if scope.kind != "class" else scope.parent))  # type: ignore[arg-type]
            return True
        if isinstance(stmt, ast.ClassDef):
            return self._class(stmt, st, scope)
        # Pass, Global, Nonlocal, type aliases...: nothing flows
        return True

    def _import(self, stmt: ast.Import | ast.ImportFrom, st: _State, scope: _Scope) -> None:
        if isinstance(stmt, ast.Import):
            for a in stmt.names:
                name = a.asname or a.name.split(".")[0]
                self._bind(st, scope, name, frozenset({("import", a.name if a.asname else name)}))
            return
        base = self.absolute(stmt.level, stmt.module or "")
        for a in stmt.names:
            if a.name == "*":  # may rebind any name: what was bound before is no longer sure
                for name in list(self.since_star):
                    self._bind(st, scope, name, st.binds.get(name, _UNBOUND) | _OTHER)
                self.since_star = set()
                continue
            q = (f"{base}.{a.name}" if base else a.name) if base is not None else None
            self._bind(st, scope, a.asname or a.name, frozenset({("import", q)}) if q else _OTHER)

    def _loop(self, stmt: ast.For | ast.AsyncFor | ast.While, st: _State, scope: _Scope) -> bool:
        """A loop body is walked once, from a head where every name the loop binds may also hold what a
        later iteration binds (``OTHER``), and where no variable it may remove counts as set; the code after
        the loop starts from the head or from the end of an iteration (a ``break`` leaves from a point whose
        state the head already allows for)."""
        if not isinstance(stmt, ast.While):
            self._run(stmt.iter, scope, st)
        bound = self._bound([*stmt.body, stmt.test if isinstance(stmt, ast.While) else stmt.target])
        for name in bound.names:
            self._put(st, name, st.binds.get(name, _UNBOUND) | _OTHER)
        if bound.kills_env:
            st.env = {}

        def iteration(s: _State) -> bool:
            if isinstance(stmt, ast.While):
                self._run(stmt.test, scope, s)
            else:
                self._assign(stmt.target, _OTHER, scope, s, stmt.lineno)
            return self._block(stmt.body, s, scope)

        self._fork(st, [iteration, lambda s: True])
        if not stmt.orelse:
            return True
        if not _breaks(stmt.body):
            return self._block(stmt.orelse, st, scope)
        return self._fork(st, [lambda s: self._block(stmt.orelse, s, scope), lambda s: True])

    def _try(self, stmt: ast.Try, st: _State, scope: _Scope) -> bool:
        collector = _Collector()
        reached: list[bool] = []

        def normal(s: _State) -> bool:
            ok = self._collected(stmt.body, s, scope, collector) and self._block(stmt.orelse, s, scope)
            reached.append(ok)
            return ok

        def handler(h: ast.ExceptHandler, s: _State) -> bool:
            if h.type is not None:
                self._run(h.type, scope, s)
            if h.name:
                self._bind(s, scope, h.name, _OTHER)
            ok = self._block(h.body, s, scope)
            reached.append(ok)
            return ok

        def raised(s: _State) -> bool:
            self._caught(s, collector)
            runs = [lambda s, h=h: handler(h, s) for h in stmt.handlers]
            if stmt.finalbody:  # an exception no handler takes: the finally body runs, then it goes on up
                runs.append(lambda s: True)
            return self._fork(s, runs)

        if not self._fork(st, [normal, raised]):
            return False
        if stmt.finalbody and not self._block(stmt.finalbody, st, scope):
            return False
        return any(reached)

    def _with(self, stmt: ast.With | ast.AsyncWith, st: _State, scope: _Scope) -> bool:
        suppress = False
        for item in stmt.items:
            self._run(item.context_expr, scope, st)
            ctx = item.context_expr
            if isinstance(ctx, ast.Call) and (self.qualify(ctx.func) or "").rpartition(".")[2] == "suppress":
                suppress = True  # contextlib.suppress: the body may stop at any point, and the code goes on
            if item.optional_vars is not None:
                self._assign(item.optional_vars, _OTHER, scope, st, stmt.lineno)
        if not suppress:
            return self._block(stmt.body, st, scope)
        collector = _Collector()
        return self._fork(st, [lambda s: self._collected(stmt.body, s, scope, collector),
                               lambda s: self._caught(s, collector)])

    def _match(self, stmt: ast.Match, st: _State, scope: _Scope) -> bool:
        self._run(stmt.subject, scope, st)

        def case(c: ast.match_case, s: _State) -> bool:
            for n in ast.walk(c.pattern):
                name = getattr(n, "name", None) or getattr(n, "rest", None)
                if isinstance(name, str):
                    self._bind(s, scope, name, _OTHER)
                if isinstance(n, ast.MatchValue):
                    self._expr(n.value, scope, s)
            if c.guard is not None:
                self._run(c.guard, scope, s)
            return self._block(c.body, s, scope)

        runs = [lambda s, c=c: case(c, s) for c in stmt.cases]
        last = stmt.cases[-1] if stmt.cases else None
        if not (last is not None and last.guard is None and isinstance(last.pattern, ast.MatchAs)
                and last.pattern.pattern is None):  # unless `case _:` or `case name:`, none may match
            runs.append(lambda s: True)
        return self._fork(st, runs)

    def _class(self, stmt: ast.ClassDef, st: _State, scope: _Scope) -> bool:
        for e in [*stmt.decorator_list, *stmt.bases, *[k.value for k in stmt.keywords]]:
            self._run(e, scope, st)
        bound = self._bound(stmt.body)
        parent = scope if scope.kind != "class" else scope.parent
        inner = _Scope("class", parent, bound.names, bound)
        # The body runs now, on the enclosing state: it reads its own names, then the module's as they are now
        # (at module level) or the enclosing function's. In a function or a class, one of its own names read
        # before the body binds it is a global (not followed); an enclosing class's names are not visible.
        self.journals.append({})
        if scope.kind != "module":
            for n in bound.names | (scope.local if scope.kind == "class" else set()):
                self._put(st, n, _OTHER)
        reached = self._block(stmt.body, st, inner)
        env = st.env
        for n, old in self.journals.pop().items():  # the class body's names are the class's, not ours
            if old is _ABSENT:
                st.binds.pop(n, None)
            else:
                st.binds[n] = old  # type: ignore[assignment]
        if not reached:
            return False
        st.env = env
        self._bind(st, scope, stmt.name, _OTHER)
        return True

    # -- expressions -------------------------------------------------------------------------------------
    def _expr(self, node: ast.AST, scope: _Scope, st: _State, definite: bool = True) -> None:  # noqa: C901
        if isinstance(node, ast.Attribute):
            if isinstance(node.value, ast.Name) and isinstance(node.value.ctx, ast.Load):
                vals, local = self._load(node.value.id, scope, st)
                old = self.flow.sites.get(id(node.value))
                self.flow.sites[id(node.value)] = (vals | old[0], local) if old else (vals, local)
            else:
                self._expr(node.value, scope, st, definite)
            return
        if isinstance(node, ast.Name):
            return
        if isinstance(node, ast.Subscript):
            if st.env and isinstance(node.ctx, ast.Load) and self._environ(node.value):
                self.flow.env_at[id(node)] = st.env
        elif isinstance(node, ast.Call):
            if st.env:
                self.flow.env_at[id(node)] = st.env
            self._expr(node.func, scope, st, definite)
            for a in node.args:
                self._expr(a, scope, st, definite)
            for k in node.keywords:
                self._expr(k.value, scope, st, definite)
            self._env_call(node, st, definite)
            return
        elif isinstance(node, ast.NamedExpr):
            self._expr(node.value, scope, st, definite)
            vals = self._value(node.value, scope, st)
            if not definite:
                vals = vals | self._load(node.target.id, scope, st)[0]
            self._bind(st, scope, node.target.id, vals)
            return
        elif isinstance(node, ast.BoolOp):
            self._expr(node.values[0], scope, st, definite)
            for v in node.values[1:]:
                self._expr(v, scope, st, False)
            return
        elif isinstance(node, ast.IfExp):
            self._expr(node.test, scope, st, definite)
            self._expr(node.body, scope, st, False)
            self._expr(node.orelse, scope, st, False)
            return
        elif isinstance(node, ast.Lambda):
            for d in [*node.args.defaults, *node.args.kw_defaults]:
                if d is not None:
                    self._expr(d, scope, st, definite)
            self.queue.append((node, scope if scope.kind != "class" else scope.parent))  # type: ignore[arg-type]
            return
        elif isinstance(node, _COMPREHENSIONS):
            gens = node.generators
            self._expr(gens[0].iter, scope, st, definite)  # the first iterable is evaluated here
            names = {n.id for g in gens for n in ast.walk(g.target) if isinstance(n, ast.Name)}
            self.shadows.append(names)
            for i, g in enumerate(gens):
                if i:
                    self._expr(g.iter, scope, st, False)
                for cond in g.ifs:
                    self._expr(cond, scope, st, False)
            for part in ((node.key, node.value) if isinstance(node, ast.DictComp) else (node.elt,)):
                self._expr(part, scope, st, False)
            self.shadows.pop()
            return
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                self._expr(child, scope, st, definite)
            elif isinstance(child, ast.keyword):
                self._expr(child.value, scope, st, definite)


def _breaks(stmts: list[ast.stmt]) -> bool:
    """Whether a loop body has a ``break`` of its own (not of a nested loop)."""
    stack: list[ast.AST] = list(stmts)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Break):
            return True
        if isinstance(node, (ast.For, ast.AsyncFor, ast.While)):
            stack += node.orelse  # a break in a nested loop's else clause leaves the outer loop
            continue
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda, ast.expr)):
            continue
        stack.extend(ast.iter_child_nodes(node))
    return False


def _literal_key(expr: ast.expr | None) -> str | None:
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return expr.value
    return None
