"""The walk over one module's syntax tree that fills a Summary (see ``summary.py`` for what it records and
the execution contexts it distinguishes)."""

from __future__ import annotations

import ast
import builtins
import struct
import warnings
from dataclasses import dataclass

from deploycheck.index import effects, reach
from deploycheck.index.conditions import TYPE_CHECKING, Evaluator, Facts, is_type_checking
from deploycheck.index.idioms import (
    ClassFacts,
    dotted_name,
    exception_names,
    guard_level,
    handler_raises,
    hasattr_pairs,
    is_dunder_name,
    is_globals_call,
    lazy_submodules,
    literal_strings,
    raise_text,
    reraises,
    served_names,
    suppressed,
)
from deploycheck.index.summary import (
    FUNCTION,
    MODULE,
    TYPING,
    VALUE,
    AttrRead,
    Descriptor,
    ImportSite,
    Summary,
)

_IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}
_ATTRIBUTE_ERRORS = {"AttributeError", "Exception", "BaseException"}
_NAME_ERRORS = {"NameError", "UnboundLocalError", "Exception", "BaseException"}
_DICT_WRITERS = {"update", "setdefault", "__setitem__", "pop", "clear", "popitem"}
_PATH_MUTATORS = {"insert", "append", "extend", "__setitem__", "remove", "clear"}
_ENDS_BLOCK = frozenset((ast.Raise, ast.Return, ast.Continue, ast.Break))
_COMPREHENSIONS = frozenset((ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp))
_MAY_NAME_PACKAGES = {ast.List, ast.Tuple, ast.Constant}  # argument kinds that may name what a call installs


def _is_builtins_dict(node: ast.expr) -> bool:
    """``builtins.__dict__``, ``vars(builtins)``, or ``__builtins__`` (the builtins module's dict in every
    module but ``__main__``: the language reference, "Builtins and restricted execution")."""
    if type(node) is ast.Name:
        return node.id == "__builtins__"
    if type(node) is ast.Attribute:
        return node.attr == "__dict__" and dotted_name(node.value) == "builtins"
    return (type(node) is ast.Call and dotted_name(node.func) == "vars" and len(node.args) == 1
            and dotted_name(node.args[0]) == "builtins")


class _Scope:
    __slots__ = ("declared_global", "imports", "kind", "others", "parent", "paths")

    def __init__(self, kind: str, parent: _Scope | None) -> None:
        self.kind = kind
        self.parent = parent
        self.imports: dict[str, set] = {}
        self.others: set[str] = set()
        self.declared_global: set[str] = set()
        self.paths: dict[str, tuple] | None = None  # variables bound to a directory path (index.effects)


class _Paths:
    """Variables bound to a directory path, seen from a scope: its own, then the module's."""

    __slots__ = ("module", "scope")

    def __init__(self, module: _Scope, scope: _Scope) -> None:
        self.module, self.scope = module, scope

    def get(self, name: str):
        for s in (self.scope, self.module):
            if s.paths and name in s.paths:
                return s.paths[name]
        return None


@dataclass
class _State:
    scope: _Scope
    context: str = MODULE
    guard_import: int = 0
    guard_attr: bool = False
    conditional: bool = False
    has: frozenset = frozenset()  # (name, attr) pairs a `hasattr(name, "attr")` test made safe
    in_try: bool = False
    try_id: int = 0
    branch: int = 0

    def but(self, **kw) -> _State:
        d = dict(self.__dict__)
        d.update(kw)
        return _State(**d)


# Names of a constant loop that ``import_module(name)`` imports, at most (a plugin list holds tens): a longer
# loop (a hostile file) is a computed import, so one statement cannot make the closure huge.
_MAX_LOOP_IMPORTS = 1000
# Calls that import modules found at run time: package walks and framework autodiscovery.
_DISCOVERY = {"walk_packages", "iter_modules", "autodiscover", "autodiscover_modules", "autodiscover_tasks",
              "dictConfig", "fileConfig", "load_entry_point", "entry_points", "import_string", "import_object"}


# Call roots that never name a function we can read: the builtins (shadowing one with a `def` is rare) and
# the conventional names of the instance and the class.
_NOT_CALLEES = frozenset(dir(builtins)) | {"self", "cls"}


class Walker:
    def __init__(self, facts: Facts) -> None:
        self.eval = Evaluator(facts)
        self.summary = Summary()
        self.module = _Scope("module", None)
        self._pending_reads: list[tuple] = []
        self._pending_stores: list[tuple] = []
        self._globals_aliases: set[str] = set()
        self._branch_values: dict[str, set[int]] = {}
        self._in_typing = 0
        self._pending_aliases: list[tuple] = []
        self._tries = 0
        self._getattr_defs: list[ast.FunctionDef] = []
        self._getattr_param: str | None = None  # the argument of the module __getattr__ being walked
        self._module_binds: dict[str, int] = {}  # how many statements bind each module-level name
        self._classes: dict[str, tuple] = {}  # module-level classes: name -> (bases, names, opaque)
        self._class: ClassFacts | None = None  # the module-level class statement being walked
        self._name_stores: dict[str, set[str]] = {}  # `Name.attr = ...` anywhere: Name -> attrs
        self._setattr_names: set[str] = set()  # names handed to setattr() as the object
        self._literals: dict[str, set[str]] = {}  # module-level names bound to literal str collections
        self._str_constants: dict[str, list[str]] = {}  # module-level names bound to a str constant, each time
        self._loop_values: dict[str, list[str]] = {}  # `for name in ("a", "b"):`, while in its body
        self._discarded: ast.expr | None = None  # the value of the expression statement being walked
        self._dead_blocks: list[list[ast.stmt]] = []  # statements that never run on the target
        self._in_function: tuple[int, int] | None = None  # lines of the innermost function being walked
        self._qual: list[str] = []  # the qualname prefix of what is being walked (``Cls``, ``f.<locals>``)
        self._def = -1  # index in ``summary.defs`` of the innermost def being walked; -1 import time, -2 lambda
        self._pending_calls: list[tuple] = []
        self._module_defs: set[str] = set()  # names a module-level ``def`` binds
        self._def_names: list[str] = []  # Summary.defs, unpacked while walking
        self._defs: list[int] = []

    # -- driver -------------------------------------------------------------------------------------------
    def run(self, tree: ast.Module) -> None:
        s = self.summary
        s.future_annotations = any(
            isinstance(n, ast.ImportFrom) and n.module == "__future__" and any(a.name == "annotations" for a in n.names)
            for n in tree.body
        )
        self.body(tree.body, _State(self.module))
        for name in self.module.imports.keys() | self.module.others | self._branch_values.keys():
            descs: list = [VALUE] if name in self.module.others else []
            descs.extend(sorted(self.module.imports.get(name, ()), key=repr))
            descs.extend(("b", b) for b in sorted(self._branch_values.get(name, ())))
            s.bindings[name] = descs
        s.has_getattr = "__getattr__" in s.bindings
        if s.has_getattr:
            constants = {k: v[0] for k, v in self._str_constants.items() if len(v) == 1}  # bound once: a constant
            s.getattr_names = served_names(self._getattr_defs, self._literals, constants)
            s.getattr_submodules = lazy_submodules(self._getattr_defs)
        for name, (bases, names, opaque) in self._classes.items():
            opaque = opaque or self._module_binds.get(name, 0) > 1 or name in self._setattr_names
            s.classes[name] = (bases, sorted(set(names) | self._name_stores.get(name, set())), opaque)
        self._unreached(tree)
        for scope, name, attrs, positions, state in self._pending_reads:
            target, unless = self._lookup_full(scope, name)
            if target is not None:
                s.reads.append(AttrRead(target, attrs, positions, state.context, state.guard_attr, state.conditional,
                                        state.branch, unless))
        self._resolve_calls()
        for scope, key, name in self._pending_aliases:
            target = self._lookup(scope, name)
            if target is not None:
                s.module_aliases[key] = target
        for scope, name, attr in self._pending_stores:
            target = self._lookup(scope, name)
            if target is not None:
                s.stores.append((target, attr))
                if target == ("m", "builtins"):
                    s.builtins_added.append(attr)

    def _resolve_calls(self) -> None:
        """Keep the calls whose callee is a module-level function of this module or reached through an import
        binding (``create_app()``, ``factory.create_app()``, ``from x import f; f()``)."""
        packed: list[int] = []
        module = self.module
        callees: dict = {}  # callee -> its index
        for scope, name, attrs, line, shield, caller in self._pending_calls:
            target = self._lookup_scopes(scope, name)
            if target is not None:
                callee: object = (target, ".".join(attrs))
            elif not attrs and name in self._module_defs:
                owner = next((s for s in self.lookup_chain(scope, name) if name in s.others or name in s.imports),
                             None)
                if owner is not module:
                    continue
                callee = name
            else:
                continue
            packed += (caller, line, shield, callees.setdefault(callee, len(callees)))
        if packed:
            self.summary.calls = (struct.pack(f"<{len(packed)}i", *packed), list(callees))
        if self._defs:
            self.summary.defs = ("\n".join(self._def_names), struct.pack(f"<{len(self._defs)}i", *self._defs))

    def _lookup(self, scope: _Scope, name: str) -> tuple | None:
        """The import descriptor ``name`` refers to in ``scope``, or None (not an import, or ambiguous)."""
        target, unless = self._lookup_full(scope, name)
        return None if unless else target

    def _lookup_full(self, scope: _Scope, name: str) -> tuple[tuple | None, tuple[int, ...]]:
        """Like ``_lookup``, but a module-level name also rebound to a value in ``except``/``else`` branches
        (``try: import x`` / ``except ImportError: x = None``) is returned with those branches."""
        target = self._lookup_scopes(scope, name)
        if target is None:
            return None, ()
        s: _Scope | None = scope
        while s is not None and s is not self.module and name not in s.imports:
            s = s.parent
        if s is self.module:
            return target, tuple(sorted(self._branch_values.get(name, ())))
        return target, ()

    def lookup_chain(self, scope: _Scope, name: str):
        """The scopes a read of ``name`` in ``scope`` looks in, in order (Python's LEGB rule: a ``global``
        declaration goes to the module; enclosing class bodies are skipped)."""
        s: _Scope | None = self.module if name in scope.declared_global else scope
        first = True
        while s is not None:
            if first or s.kind != "class":
                yield s
            first = False
            s = s.parent

    def _lookup_scopes(self, scope: _Scope, name: str) -> tuple | None:
        for s in self.lookup_chain(scope, name):
            if name in s.others:
                return None
            found = s.imports.get(name)
            if found:
                return next(iter(found)) if len(found) == 1 else None
        return None

    # -- statements ---------------------------------------------------------------------------------------
    def body(self, stmts: list[ast.stmt], st: _State) -> bool:
        """Walk a block; True when it always ends in raise/return/break/continue on the target."""
        for i, stmt in enumerate(stmts):
            ends = self.stmt(stmt, st)
            if type(stmt) in _ENDS_BLOCK:
                ends = True
                if type(stmt) is ast.Raise and st.scope is self.module and not (st.conditional or st.in_try):
                    self.summary.refusals.append((stmt.lineno, stmt.col_offset, raise_text(stmt), st.branch))
            if ends:
                self._quiet(stmts[i + 1:], "dead")  # nothing after it in this block ever runs
                return True
        return False

    def stmt(self, node: ast.stmt, st: _State) -> bool:
        """Walk one statement; True when it always ends the enclosing block (a decided ``if`` whose taken
        branch raises, for instance)."""
        kind = type(node)
        # the commonest statements first: each would otherwise go through every test below
        if kind is ast.Expr:
            self._discarded = node.value  # a call made for its effect: its value is dropped
            self.expr(node.value, st)
            return None
        if kind is ast.Return:
            if node.value is not None:
                self.expr(node.value, st)
            return None
        if kind is ast.Pass or kind is ast.Break or kind is ast.Continue:
            return None
        if isinstance(node, ast.Import):
            for alias in node.names:
                self._import(alias.name, 0, (), node, st, [alias])
                if alias.asname:
                    self._bind(st.scope, alias.asname, ("m", alias.name))
                else:
                    top = alias.name.partition(".")[0]
                    self._bind(st.scope, top, ("m", top))
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            names = tuple(a.name for a in node.names)
            if module == "__future__":
                return
            self._import(module, node.level or 0, names, node, st, node.names)
            for alias in node.names:
                if alias.name == "*":
                    continue
                self._bind(st.scope, alias.asname or alias.name, ("f", module, node.level or 0, alias.name))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self._function(node, st)
        elif isinstance(node, ast.ClassDef):
            for e in node.decorator_list + node.bases + [k.value for k in node.keywords]:
                self.expr(e, st)
                self._namer(e, st)
            self._bind(st.scope, node.name, VALUE)
            cls = _Scope("class", st.scope)
            self._qual.append(node.name)
            facts = ClassFacts(node) if st.scope is self.module and not self._in_typing else None
            outer_class = self._class
            if facts is not None:
                self._class = facts  # gathered in this one walk (methods and nested classes included)
            self.body(node.body, st.but(scope=cls))
            self._class = outer_class
            self._qual.pop()
            if facts is not None:
                self._classes[node.name] = facts.result(cls.others | cls.imports.keys())
            if any((dotted_name(d.func if isinstance(d, ast.Call) else d) or "").endswith("global_enum") for d in node.decorator_list):
                # enum.global_enum copies the members into the module namespace (Python 3.11+, `re`, `ssl`).
                for name in cls.others:
                    self._bind(st.scope, name, VALUE)
        elif isinstance(node, ast.If):
            return self._if(node, st)
        elif isinstance(node, (ast.Try, getattr(ast, "TryStar", ast.Try))):
            self._try(node, st)
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            self.expr(node.iter, st)
            self._target(node.target, st)
            values = self._constant_loop(node, st.scope is self.module)
            if values is not None:
                self._loop_values[node.target.id] = values  # type: ignore[union-attr]
            self.body(node.body, st)
            if values is not None:
                del self._loop_values[node.target.id]  # type: ignore[union-attr]
            self.body(node.orelse, st)
        elif isinstance(node, ast.While):
            self.expr(node.test, st)
            known = self.eval.truth(node.test)
            self.body(node.body, st if known is True else st.but(conditional=True))
            self.body(node.orelse, st.but(conditional=True))
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            inner = st
            for item in node.items:
                self.expr(item.context_expr, st)
                if item.optional_vars is not None:
                    self._target(item.optional_vars, st)
                caught = suppressed(item.context_expr)
                if caught & _IMPORT_ERRORS:
                    inner = inner.but(guard_import=max(inner.guard_import, guard_level(caught)))
                if caught & _ATTRIBUTE_ERRORS:
                    inner = inner.but(guard_attr=True)
            self.body(node.body, inner)
        elif isinstance(node, ast.Assign):
            if (is_globals_call(node.value) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
                # `g = globals()`: only writes through `g` (or handing `g` to a call) make the namespace dynamic.
                self._globals_aliases.add(node.targets[0].id)
                self._bind(st.scope, node.targets[0].id, VALUE)
                return
            self.expr(node.value, st)
            self._assigned(node, st)
            if self._class is not None:
                self._class.assign(node)
            for t in node.targets:
                added = effects.sys_path_assignment(t, node.value, self._path_names(st)) \
                    if type(t) is not ast.Name and effects.names_sys_path(t) else None
                if added is not None and all(effects.anchored(a) for a in added):
                    self.summary.path_inserts.extend((a, node.lineno, self._in_function) for a in added)
                    continue  # a directory added to sys.path that the program follows (index.syspath)
                self._target(t, st)
                if isinstance(t, ast.Subscript) and (self._dot(t.value) or "").endswith("environ"):
                    self._settings_module(t.slice, node.value, node, st)
                if (isinstance(t, ast.Subscript) and self._dot(t.value) == "sys.modules" and isinstance(node.value, ast.Name)
                        and isinstance(t.slice, ast.Constant) and isinstance(t.slice.value, str)):
                    self._pending_aliases.append((st.scope, t.slice.value, node.value.id))
            self._module_constant(node, st)
            self._dunder_all(node, st)
            if st.scope is self.module and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                keys = literal_strings(node.value)
                if keys is not None:
                    self._literals[node.targets[0].id] = keys
                if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                    # `__deprecated__ = "ExceptionMiddleware"` then `if name == __deprecated__:` (starlette)
                    self._str_constants.setdefault(node.targets[0].id, []).append(node.value.value)
        elif isinstance(node, ast.AugAssign):
            self.expr(node.value, st)
            self._target(node.target, st)
            self._dunder_all(node, st)
        elif isinstance(node, ast.AnnAssign):
            evaluated = st.scope.kind != "function" and not self.summary.future_annotations
            self._annotation(node.annotation, st, evaluated)
            if node.value is not None:
                self.expr(node.value, st)
                self._target(node.target, st)
                self._dunder_all(node, st)
            elif not isinstance(node.target, ast.Name):
                self.expr(node.target, st)
                if self._class is not None and type(node.target) is ast.Attribute:
                    self._class.store(node.target)
        elif isinstance(node, ast.Global):
            st.scope.declared_global.update(node.names)
        elif isinstance(node, ast.Nonlocal):
            st.scope.others.update(())  # nonlocal names are bound in an enclosing function, not here
        elif isinstance(node, ast.Match):
            self.expr(node.subject, st)
            for case in node.cases:
                self._pattern(case.pattern, st)
                if case.guard is not None:
                    self.expr(case.guard, st)
                self.body(case.body, st.but(conditional=True))
        elif isinstance(node, ast.Delete):
            for t in node.targets:
                if not isinstance(t, ast.Name):
                    self.expr(t, st)
        else:
            if isinstance(node, ast.Expr):
                self._discarded = node.value  # a call made for its effect: its value is dropped
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.expr):
                    self.expr(child, st)

    def _constant_loop(self, node: ast.For | ast.AsyncFor, module_level: bool) -> list[str] | None:
        """The strings ``for name in ITEMS:`` goes through, when ``ITEMS`` is a literal sequence of strings,
        or at module level a name bound to one (datasette's ``for plugin in DEFAULT_PLUGINS:``)."""
        if not isinstance(node.target, ast.Name) or node.target.id in self._loop_values:
            return None
        it = node.iter
        if isinstance(it, ast.Name) and module_level:
            found = self._literals.get(it.id)
        else:
            found = literal_strings(it) if isinstance(it, (ast.List, ast.Tuple)) else None
        return sorted(found) if found is not None and len(found) <= _MAX_LOOP_IMPORTS else None

    def _import(self, module: str, level: int, names: tuple, node: ast.stmt, st: _State, aliases: list) -> None:
        positions = tuple((getattr(a, "lineno", node.lineno), getattr(a, "col_offset", node.col_offset)) for a in aliases)
        self.summary.imports.append(
            ImportSite(module, level, names, node.lineno, node.col_offset, st.context, st.guard_import,
                       st.conditional, positions, st.try_id, st.branch)
        )

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef, st: _State) -> None:
        for e in node.decorator_list:
            self.expr(e, st)
            self._namer(e, st)
        args = node.args
        for d in args.defaults + [d for d in args.kw_defaults if d is not None]:
            self.expr(d, st)
        evaluated = not self.summary.future_annotations
        all_args = args.posonlyargs + args.args + args.kwonlyargs + [a for a in (args.vararg, args.kwarg) if a]
        for a in all_args:
            if a.annotation is not None:
                self._annotation(a.annotation, st, evaluated)
        if node.returns is not None:
            self._annotation(node.returns, st, evaluated)
        self._bind(st.scope, node.name, VALUE)
        if node.name == "__getattr__" and st.scope is self.module:
            self._getattr_defs.append(node)  # type: ignore[arg-type]
        fn = _Scope("function", st.scope)
        for a in all_args:
            fn.others.add(a.arg)
        inner = _State(fn, TYPING if st.context == TYPING else FUNCTION)
        if st.scope is self.module or st.scope.kind == "class":
            first = node.body[0]
            self.summary.function_spans.append((first.lineno, node.end_lineno or first.lineno))
        package = effects.protocol_package(node.name)
        if package is not None:
            self.summary.requires.append((node.lineno, node.end_lineno or node.lineno, package))
        if st.scope is self.module:
            self._module_defs.add(node.name)
        qual = self._qual
        self._def_names.append(".".join(qual + [node.name]) if qual else node.name)
        self._defs += (node.lineno, node.end_lineno or node.lineno)
        outer, self._in_function = self._in_function, (node.lineno, node.end_lineno or node.lineno)
        outer_def, self._def = self._def, len(self._def_names) - 1
        qual.extend((node.name, "<locals>"))
        outer_param = self._getattr_param
        if node.name == "__getattr__" and st.scope is self.module and all_args:
            self._getattr_param = all_args[0].arg
        self.body(node.body, inner)
        self._getattr_param = outer_param
        del qual[-2:]
        self._in_function, self._def = outer, outer_def

    def _if(self, node: ast.If, st: _State) -> bool:
        truth = self.eval.truth(node.test)
        if truth == TYPE_CHECKING:
            self._quiet(node.body, "typing")
            self._in_typing += 1  # names bound here do not exist at run time
            self.body(node.body, st.but(context=TYPING))
            self._in_typing -= 1
            return self.body(node.orelse, st)
        if truth is True:
            if _negated_type_checking(node.test):  # its `else` is for type checkers only
                self._quiet(node.orelse, "typing")
                self._in_typing += 1
                self.body(node.orelse, st.but(context=TYPING))
                self._in_typing -= 1
            else:
                self._quiet(node.orelse, "dead")
            return self.body(node.body, st)
        if truth is False:
            self._quiet(node.body, "dead")
            return self.body(node.orelse, st)
        optional = self._optional_test(node.test, st)
        if optional:
            # `if x:` after `try: import x` / `except ImportError: x = None` runs exactly when the import works.
            self.expr(node.test, st)
            self.body(node.body, st.but(branch=optional))
            return self.body(node.orelse, st.but(branch=-optional))
        self.expr(node.test, st)
        inner = st.but(conditional=True)
        ends = self.body(node.body, inner.but(has=st.has | hasattr_pairs(node.test)))
        return self.body(node.orelse, inner) and ends and bool(node.orelse)

    def _optional_test(self, test: ast.expr, st: _State) -> int:
        """+N when ``test`` is true exactly when try N's body succeeded (``x``, ``x is not None``), -N for the
        negation; 0 when it is not such a test (or we are already inside another branch)."""
        sign = 1
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            sign, test = -1, test.operand
        if (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.comparators[0], ast.Constant)
                and test.comparators[0].value is None and isinstance(test.ops[0], (ast.Is, ast.IsNot))):
            sign *= 1 if isinstance(test.ops[0], ast.IsNot) else -1
            test = test.left
        if not isinstance(test, ast.Name) or st.branch or st.conditional:
            return 0
        name = test.id
        if st.scope is not self.module and (name in st.scope.others or name in st.scope.imports):
            return 0
        branches = self._branch_values.get(name, set())
        imports = self.module.imports.get(name, set())
        if name in self.module.others or len(imports) != 1 or len(branches) != 1:
            return 0
        (b,) = branches
        return -b * sign if b < 0 else 0

    def _try(self, node: ast.Try, st: _State) -> None:
        caught: set[str] = set()
        for h in node.handlers:
            caught |= exception_names(h.type)
        inner = st
        try_id = 0
        if caught & _IMPORT_ERRORS:
            inner = inner.but(guard_import=max(inner.guard_import, guard_level(caught)))
            self._tries += 1
            try_id = self._tries
        if caught & _ATTRIBUTE_ERRORS:
            inner = inner.but(guard_attr=True)
        if node.handlers:
            inner = inner.but(in_try=True, try_id=try_id or inner.try_id)
        # A NameError goes to the first handler that catches it; one that raises again (the seed incident's
        # `except Exception as exc: raise RuntimeError(...) from exc`) guards nothing.
        first = next((h for h in node.handlers if exception_names(h.type) & _NAME_ERRORS), None)
        if first is not None and not handler_raises(first):
            self._quiet(node.body, "guarded")
        if caught & {"NameError", "UnboundLocalError"} and node.body:
            # The try exists because a statement may raise NameError; what follows it may never run.
            self.stmt(node.body[0], inner)
            self.body(node.body[1:], inner.but(conditional=True))
        else:
            self.body(node.body, inner)
        # Handlers run when the body failed, `else` when it did not: for a try catching ImportError the
        # resolver decides which (the branch); nested inside another branch, we only know "maybe".
        nested = st.branch != 0 or st.conditional
        for h in node.handlers:
            if h.type is not None:
                self.expr(h.type, st)
            if h.name:
                self._bind(st.scope, h.name, VALUE)
            if try_id and not nested and exception_names(h.type) & _IMPORT_ERRORS:
                self.body(h.body, st.but(branch=-try_id))
            else:
                self.body(h.body, st.but(conditional=True))
        if try_id and any(reraises(h) for h in node.handlers if exception_names(h.type) & _IMPORT_ERRORS):
            # `except ImportError: ...; raise` does not protect the body's imports: they fail as if unguarded.
            self.summary.imports = [
                i._replace(guarded=st.guard_import, try_id=st.try_id) if i.try_id == try_id else i
                for i in self.summary.imports
            ]
        if try_id and not nested:
            self.body(node.orelse, st.but(branch=try_id))
        else:
            self.body(node.orelse, st.but(conditional=True) if try_id else st)
        self.body(node.finalbody, st)

    # -- bindings -----------------------------------------------------------------------------------------
    def _bind(self, scope: _Scope, name: str, desc: Descriptor, branch: int = 0) -> None:
        if name in scope.declared_global:
            scope = self.module
        if self._in_typing and scope is self.module:
            return
        if desc == VALUE and branch and scope is self.module:
            self._branch_values.setdefault(name, set()).add(branch)  # bound only if that branch runs
            return
        if scope is self.module and isinstance(desc, tuple) and desc[0] == "m" and desc[1] != name:
            self.eval.aliases[name] = desc[1]  # `import os as _os`: `_os.name` is `os.name`
        if desc == ("f", "sys", 0, "modules"):
            self.eval.aliases[name] = "sys.modules"  # `from sys import modules as sys_modules`
        if scope is self.module:
            self._module_binds[name] = self._module_binds.get(name, 0) + 1
        if desc == VALUE:
            scope.others.add(name)
        else:
            scope.imports.setdefault(name, set()).add(desc)

    def _target(self, t: ast.expr, st: _State) -> None:
        if isinstance(t, ast.Name):
            self._bind(st.scope, t.id, VALUE, st.branch)
            if t.id == "__path__":
                self.summary.path_dynamic = True  # pkgutil-style namespace: submodules may live elsewhere
        elif isinstance(t, (ast.Tuple, ast.List)):
            for e in t.elts:
                self._target(e, st)
        elif isinstance(t, ast.Starred):
            self._target(t.value, st)
        elif isinstance(t, ast.Attribute):
            if self._class is not None:
                self._class.store(t)
            if isinstance(t.value, ast.Name):
                self._pending_stores.append((st.scope, t.value.id, t.attr))
                if t.value.id != "self":
                    self._name_stores.setdefault(t.value.id, set()).add(t.attr)
            else:
                self.expr(t.value, st)
            self._mutation(t, st)
        elif isinstance(t, ast.Subscript):
            key = t.slice
            if _is_builtins_dict(t.value) and isinstance(key, ast.Constant) and isinstance(key.value, str):
                self.summary.builtins_added.append(key.value)
            self._mutation(t, st)
            if not self._caches_served(t):  # globals() itself is not handed anywhere
                self.expr(t.value, st)
            self.expr(t.slice, st)

    def _pattern(self, p: ast.pattern, st: _State) -> None:
        for node in ast.walk(p):
            name = getattr(node, "name", None) or getattr(node, "rest", None)
            if isinstance(name, str):
                self._bind(st.scope, name, VALUE)
            if isinstance(node, ast.MatchValue):
                self.expr(node.value, st)

    def _module_constant(self, node: ast.Assign, st: _State) -> None:
        # Learn `PY2 = sys.version_info[0] == 2` style constants so later `if PY2:` is decided.
        if st.scope is not self.module or len(node.targets) != 1 or not isinstance(node.targets[0], ast.Name):
            return
        name = node.targets[0].id
        ok, value = self.eval.try_value(node.value)
        if ok and isinstance(value, (bool, int, str, tuple)) and name not in self.eval.names:
            self.eval.names[name] = value
        else:
            self.eval.names.pop(name, None)

    def _dunder_all(self, node: ast.stmt, st: _State) -> None:
        if st.scope is not self.module:
            return
        if isinstance(node, ast.Assign):
            if not any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
                return
            self.summary.all_names = []
            self.summary.all_unknown |= st.conditional or bool(st.branch)  # which list is the last, unknown
            self._all_value(node.value, st)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == "__all__":
            self.summary.all_names = []
            self.summary.all_unknown |= st.conditional or bool(st.branch)
            if node.value is not None:
                self._all_value(node.value, st)
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name) and node.target.id == "__all__":
            if self.summary.all_names is None:
                self.summary.all_names = []
            self._all_value(node.value, st)

    def _all_value(self, value: ast.expr, st: _State) -> None:
        s = self.summary
        if isinstance(value, (ast.List, ast.Tuple)):
            for e in value.elts:
                if isinstance(e, ast.Constant) and isinstance(e.value, str):
                    s.all_names.append(e.value)  # type: ignore[union-attr]
                else:
                    s.all_unknown = True
        elif isinstance(value, ast.BinOp) and isinstance(value.op, ast.Add):
            self._all_value(value.left, st)
            self._all_value(value.right, st)
        elif isinstance(value, ast.Attribute) and value.attr == "__all__" and isinstance(value.value, ast.Name):
            target = self._lookup_now(st.scope, value.value.id)
            # Unbound here, the name may be a submodule: importing `pkg.sub` binds `sub` in `pkg`.
            s.all_refs.append(target if target is not None else ("f", "", 1, value.value.id))
        else:
            s.all_unknown = True

    def _all_call(self, method: str, node: ast.Call, st: _State) -> None:
        """``__all__.append("x")`` / ``__all__.extend([...])`` / ``__all__.extend(mod.__all__)``; anything we cannot
        read (or any change made inside a function) leaves ``__all__`` unknown. Removals are ignored: a larger
        export list only hides errors, never invents them."""
        s = self.summary
        if method in ("remove", "pop", "clear", "sort", "index", "count", "copy"):
            return
        if st.scope is not self.module or len(node.args) != (2 if method == "insert" else 1):
            s.all_unknown = True
            return
        if s.all_names is None:
            s.all_names = []
        arg = node.args[-1]
        if method in ("append", "insert"):
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                s.all_names.append(arg.value)
            else:
                s.all_unknown = True
        elif method == "extend":
            self._all_value(arg, st)
        else:
            s.all_unknown = True

    def _lookup_now(self, scope: _Scope, name: str) -> tuple | None:
        found = scope.imports.get(name)
        if found and len(found) == 1 and name not in scope.others:
            return next(iter(found))
        return None

    # -- expressions --------------------------------------------------------------------------------------
    def _annotation(self, node: ast.expr, st: _State, evaluated: bool) -> None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            self._quiet_node(node, "typing")
            return
        if evaluated:
            self.expr(node, st)
            for sub in ast.walk(node):
                if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
                    self._quiet_node(sub, "typing")
        else:
            self._quiet_node(node, "typing")

    def expr(self, node: ast.expr, st: _State) -> None:
        kind = type(node)
        if kind is ast.Name or kind is ast.Constant:
            return  # the commonest nodes, and leaves: nothing to record
        if kind is ast.Attribute:
            attrs: list[str] = []
            positions: list[tuple[int, int]] = []
            base: ast.expr = node
            while type(base) is ast.Attribute:
                attrs.append(base.attr)
                end_col = base.end_col_offset or 0
                positions.append((base.end_lineno or base.lineno, max(end_col - len(base.attr), 0)))
                base = base.value
            attrs.reverse()
            positions.reverse()
            if type(base) is ast.Name:
                if type(node.ctx) is ast.Load and (base.id, attrs[0]) not in st.has:
                    self._pending_reads.append((st.scope, base.id, tuple(attrs), tuple(positions), st))
            else:
                self.expr(base, st)
            return
        if kind is ast.Call:
            if self._class is not None:
                self._class.call(node.func)
            if self._def != -2 and st.context != TYPING:
                self._note_call(node.func, st)
            if self._call_markers(node, st):
                return
        elif kind is ast.NamedExpr:
            scope = st.scope
            while scope.kind == "comprehension" and scope.parent is not None:
                scope = scope.parent
            self._bind(scope, node.target.id, VALUE)
            self.expr(node.value, st)
            return
        elif kind is ast.Lambda:
            fn = _Scope("function", st.scope)
            a = node.args
            for arg in a.posonlyargs + a.args + a.kwonlyargs + [x for x in (a.vararg, a.kwarg) if x]:
                fn.others.add(arg.arg)
            for d in a.defaults + [d for d in a.kw_defaults if d is not None]:
                self.expr(d, st)
            outer_def, self._def = self._def, -2  # a lambda's calls run when something calls it
            self.expr(node.body, st.but(scope=fn, context=FUNCTION if st.context != TYPING else TYPING))
            self._def = outer_def
            return
        elif kind in _COMPREHENSIONS:
            comp = _Scope("comprehension", st.scope)
            inner = st.but(scope=comp)
            for i, gen in enumerate(node.generators):
                self.expr(gen.iter, st if i == 0 else inner)
                self._comp_target(gen.target, comp)
                for cond in gen.ifs:
                    self.expr(cond, inner)
            if isinstance(node, ast.DictComp):
                self.expr(node.key, inner)
                self.expr(node.value, inner)
            else:
                self.expr(node.elt, inner)
            return
        elif kind is ast.Subscript:
            self._markers(node, st)
            if is_globals_call(node.value) and isinstance(node.ctx, ast.Load):
                self.expr(node.slice, st)  # a read of the namespace changes nothing
                return
        elif kind is ast.BoolOp:
            self._short_circuit(node, st)
            return
        elif kind is ast.IfExp:
            truth = self.eval.truth(node.test)
            self.expr(node.test, st)
            if truth is True or truth is False:
                self.expr(node.body if truth else node.orelse, st)
            else:
                self.expr(node.body, st.but(conditional=True))
                self.expr(node.orelse, st.but(conditional=True))
            return
        elif kind is ast.Compare and any(is_globals_call(c) for c in node.comparators):
            self.expr(node.left, st)
            return
        for field in kind._fields:
            child = getattr(node, field, None)
            if type(child) is list:
                for item in child:
                    if isinstance(item, ast.expr):
                        self.expr(item, st)
                    elif type(item) is ast.keyword:
                        self.expr(item.value, st)
            elif isinstance(child, ast.expr):
                self.expr(child, st)

    def _note_call(self, func: ast.expr, st: _State) -> None:
        """Remember a call of ``name(...)`` or ``name.a.b(...)`` for ``_resolve_calls``."""
        attrs: list[str] = []
        while type(func) is ast.Attribute:
            attrs.append(func.attr)
            func = func.value
        if type(func) is not ast.Name or func.id in _NOT_CALLEES:
            return
        attrs.reverse()
        shield = 2 if st.conditional or st.branch or st.guard_import > 1 else st.guard_import
        self._pending_calls.append((st.scope, func.id, attrs, func.lineno, shield, self._def))

    def _short_circuit(self, node: ast.BoolOp, st: _State) -> None:
        """Later operands of ``and``/``or`` run only if the earlier ones allow it (``hasattr(m, "x") and m.x``)."""
        stop = isinstance(node.op, ast.Or)  # the value that ends evaluation
        inner = st
        for value in node.values:
            self.expr(value, inner)
            truth = self.eval.truth(value)
            if truth is stop:
                return  # the remaining operands never run on the target
            if truth is None or truth == TYPE_CHECKING:
                inner = inner.but(conditional=True)
                if not stop:
                    inner = inner.but(has=inner.has | hasattr_pairs(value))

    def _comp_target(self, t: ast.expr, comp: _Scope) -> None:
        for n in ast.walk(t):
            if isinstance(n, ast.Name):
                comp.others.add(n.id)

    def _settings_module(self, key: ast.expr, value: ast.expr, node: ast.stmt, st: _State) -> None:
        """``os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")`` (or an assignment): Django
        imports that module when the process sets itself up (``django.setup()``, ``get_wsgi_application()``).
        Recorded as an import site apart from the others: whether it is the module Django imports is decided
        for the whole program (``Program.build_closure``), since another ``setdefault`` or the environment
        may win."""
        if (isinstance(key, ast.Constant) and key.value == "DJANGO_SETTINGS_MODULE" and isinstance(value, ast.Constant)
                and isinstance(value.value, str) and all(p.isidentifier() for p in value.value.split("."))):
            self.summary.settings.append(ImportSite(value.value, 0, (), node.lineno, node.col_offset, st.context,
                                                    st.guard_import, st.conditional, (), st.try_id, st.branch))

    # -- dynamic markers ----------------------------------------------------------------------------------
    def _markers(self, node: ast.expr, st: _State) -> None:
        """``sys.modules[__name__]``: the module object itself may be replaced or changed at run time."""
        if isinstance(node, ast.Subscript) and self._dot(node.value) == "sys.modules" and is_dunder_name(node.slice):
            self._dynamic("sys.modules[__name__]")

    def _mutation(self, t: ast.expr, st: _State) -> None:
        base = t.value if isinstance(t, (ast.Attribute, ast.Subscript)) else t
        dotted = self._dot(base)
        if dotted == "sys.path" or dotted_name(t) == "sys.path":
            self.summary.syspath_hack = True
        if isinstance(t, ast.Subscript) and dotted == "sys.modules":
            key = t.slice
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                self.summary.registered.append(key.value)
            elif (isinstance(key, ast.BinOp) and is_dunder_name(key.left) and isinstance(key.right, ast.Constant)
                  and isinstance(key.right.value, str) and key.right.value.startswith(".")):
                self.summary.registered.append(key.right.value)  # relative: `__name__ + ".moves"`
            elif is_dunder_name(key):
                self._dynamic("sys.modules[__name__]")
            else:
                self.summary.path_dynamic = True
        elif isinstance(base, ast.Subscript) and self._dot(base.value) == "sys.modules":
            if effects.writes_given_module(base):
                self.summary.writes_modules = True
            self._dynamic("sys.modules[...]")
        if isinstance(t, ast.Subscript) and (is_globals_call(t.value) or self._is_alias(t.value)) \
                and not self._caches_served(t):
            self._dynamic("globals()")
        if isinstance(t, ast.Name) and t.id == "__path__":
            self.summary.path_dynamic = True

    def _caches_served(self, t: ast.Subscript) -> bool:
        """``globals()[name] = value`` in the module ``__getattr__``, ``name`` its argument: it caches the name
        it serves (PEP 562), and binds nothing the ``__getattr__`` would not serve anyway."""
        return (self._getattr_param is not None and is_globals_call(t.value) and isinstance(t.slice, ast.Name)
                and t.slice.id == self._getattr_param)

    def _call_markers(self, node: ast.Call, st: _State) -> bool:
        """Record dynamic effects of a call; True when the call's children were visited here."""
        func = node.func
        ftype = type(func)
        name = func.id if ftype is ast.Name else None
        dotted = name if name is not None else dotted_name(func) if ftype is ast.Attribute else None
        args = node.args
        keywords = node.keywords
        kinds = {type(a) for a in args}
        if keywords:
            kinds.update(type(k.value) for k in keywords)
        if ftype is ast.Attribute:
            if self._globals_aliases and self._is_alias(func.value) and func.attr in _DICT_WRITERS:
                self._dynamic("globals()")
            if is_globals_call(func.value):
                if func.attr in _DICT_WRITERS:
                    self._dynamic("globals()")
                for a in args:
                    self.expr(a, st)
                return True
        if (name == "globals" or name == "vars") and not args:
            self._dynamic("globals()")  # the namespace escapes into a variable or a call
        if self._globals_aliases and ast.Name in kinds and any(self._is_alias(a) for a in args):
            self._dynamic("globals()")
        if ast.Call in kinds and (any(is_globals_call(a) for a in args)
                                  or any(is_globals_call(k.value) for k in keywords)):
            self._dynamic("globals()")  # the namespace is handed to code that may write into it
        last = dotted.rpartition(".")[2] if dotted else ""
        looped = False
        if last == "import_module" or last == "__import__":
            if (dotted in ("importlib.import_module", "import_module", "__import__") and len(args) == 1
                    and not keywords and isinstance(args[0], ast.Constant) and isinstance(args[0].value, str)
                    and args[0].value and not args[0].value.startswith(".")):
                # importlib.import_module("pkg.mod") with a constant name is an import like any other.
                self._import(args[0].value, 0, (), node, st, [])  # type: ignore[arg-type]
            looped = (dotted in ("importlib.import_module", "import_module") and len(args) == 1
                      and not keywords and isinstance(args[0], ast.Name) and args[0].id in self._loop_values)
            for value in self._loop_values[args[0].id] if looped else ():  # type: ignore[union-attr]
                if value and not value.startswith(".") and all(p.isidentifier() for p in value.split(".")):
                    self._import(value, 0, (), node, st, [])  # type: ignore[arg-type]
            if not looped and not (len(args) == 1 and not keywords and isinstance(args[0], ast.Constant)):
                self.summary.computed_imports = True  # which modules it imports is decided at run time
        elif last in _DISCOVERY:
            self.summary.computed_imports = True
        if last == "setdefault" and dotted.endswith("environ.setdefault") and len(args) == 2 and not keywords:
            self._settings_module(args[0], args[1], node, st)
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "__all__":
            self._all_call(func.attr, node, st)
        if isinstance(func, ast.Attribute) and func.attr in ("extend_path", "declare_namespace"):
            self.summary.path_dynamic = True
        has_dunder = ast.Name in kinds and any(is_dunder_name(a) for a in args)
        if has_dunder and st.scope is self.module:
            # Lazy-module factories replace the module object: apipkg.initpkg(__name__, ...),
            # celery's recreate_module(__name__, ..., __path__=__path__), lazy_module(__name__, ...). A call
            # whose value is kept is an object named after the module (Flask's Blueprint("x", __name__),
            # pgAdmin's PgAdminModule(NAME, __name__)): putting it in sys.modules is a write seen there.
            last = (dotted or "").rpartition(".")[2].lower()
            if (last == "initpkg" or "lazy" in last or ("module" in last and node is self._discarded)
                    or any(k.arg in ("__path__", "__file__") for k in node.keywords)):
                self._dynamic(f"{last}(__name__)")
        if has_dunder and type(func) is ast.Attribute and func.attr in ("_convert_", "_convert"):
            # Enum._convert_("Name", __name__, filter) turns existing globals into members and binds "Name";
            # with source=other_module it copies that module's names in: unknown.
            if any(k.arg == "source" for k in node.keywords):
                self._dynamic("enum._convert_")
            elif node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                self._bind(self.module, node.args[0].value, VALUE)
        if name in ("vars", "locals") and not node.args and st.scope is self.module:
            self._dynamic(f"{name}()")
        elif name == "exec" and st.scope is self.module and len(node.args) < 2:
            self._dynamic("exec()")
        elif name == "setattr" and node.args and dotted_name(node.args[0]) == "builtins":
            self._builtin_from_args(node)
        elif type(node.func) is ast.Attribute and _is_builtins_dict(node.func.value):
            self._builtins_dict_call(node)
        if name == "setattr" and len(args) >= 2:
            self._module_setattr(node)
            if isinstance(args[0], ast.Name):
                self._setattr_names.add(args[0].id)
        if dotted and ("nstall" in dotted or (kinds & _MAY_NAME_PACKAGES and effects.may_install(args, last))) \
                and effects.installs(node, dotted):
            self.summary.installs.append(node.lineno)
        if dotted:
            head, _, method = dotted.rpartition(".")
            if head == "sys.path" and method in _PATH_MUTATORS or dotted == "site.addsitedir":
                added = effects.sys_path_additions(node, dotted, self._path_names(st))
                if added is not None and all(effects.anchored(a) for a in added):
                    self.summary.path_inserts.extend((a, node.lineno, self._in_function) for a in added)
                else:
                    self.summary.syspath_hack = True
            elif head == "sys.modules" and method in ("update", "setdefault", "__setitem__"):
                self.summary.path_dynamic = True
            elif head in ("sys.meta_path", "sys.path_hooks") and method in _PATH_MUTATORS:
                self._dynamic(head)
            elif head == "__path__" and method in _PATH_MUTATORS or method in ("extend_path", "declare_namespace"):
                self.summary.path_dynamic = True
            elif dotted == "gettext.install" or (head.endswith("translation") and method == "install"):
                self.summary.builtins_added.append("_")
        return False

    def _module_setattr(self, node: ast.Call) -> None:
        """``setattr(sys.modules[KEY], NAME, value)``: with a constant module name and attribute, a store like
        ``pkg.mod.NAME = value``; with a key computed from an object (``obj.__module__``), names added to the
        module of whatever object the code is handed."""
        target, attr = node.args[0], node.args[1]
        if not (isinstance(target, ast.Subscript) and self._dot(target.value) == "sys.modules"):
            return
        key = target.slice
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            if isinstance(attr, ast.Constant) and isinstance(attr.value, str):
                self.summary.stores.append((("m", key.value), attr.value))
        elif effects.writes_given_module(target):
            self.summary.writes_modules = True

    def _namer(self, e: ast.expr, st: _State) -> None:
        """The root name of a decorator, base class or metaclass applied at module level: code that is handed
        the module's classes and functions (and may add names to the module, ``writes_modules``)."""
        if st.scope is not self.module:
            return
        root = e.func if isinstance(e, ast.Call) else e
        while isinstance(root, (ast.Attribute, ast.Call, ast.Subscript)):
            root = root.func if isinstance(root, ast.Call) else root.value
        if isinstance(root, ast.Name) and root.id not in self.summary.namers:
            self.summary.namers.append(root.id)

    def _assigned(self, node: ast.Assign, st: _State) -> None:
        """Remember what a simple assignment binds for later recognizers: a directory computed from
        ``__file__`` (for ``sys.path`` changes), and at module level the callable whose call made the
        value."""
        if len(node.targets) != 1 or not isinstance(node.targets[0], ast.Name):
            return
        name, value = node.targets[0].id, node.value
        tree = effects.path_tree(value, _Paths(self.module, st.scope)) if isinstance(
            value, (ast.Call, ast.Attribute, ast.BinOp, ast.Subscript, ast.Name)) else None
        if tree is not None and effects.anchored(tree):
            if st.scope.paths is None:
                st.scope.paths = {}
            st.scope.paths[name] = tree
        elif st.scope.paths:
            st.scope.paths.pop(name, None)
        if st.scope is self.module and isinstance(value, ast.Call):
            root = dotted_name(value.func)
            if root:
                self.summary.made[name] = root.partition(".")[0]
        elif st.scope is self.module:
            self.summary.made.pop(name, None)

    def _path_names(self, st: _State) -> dict[str, tuple]:
        out = dict(self.module.paths or {})
        if st.scope is not self.module:
            out.update(st.scope.paths or {})
        return out

    def _unreached(self, tree: ast.Module) -> None:
        """Private functions and classes that only code never run on the target uses (a Windows-only helper
        called under ``if sys.platform == "win32":``) never run either: their imports and reads are dropped
        and undefined names there are not reported (``reach.unreached``)."""
        if not self._dead_blocks or self.summary.dynamic or self.summary.has_getattr:
            return
        spans = reach.unreached(tree, self._dead_blocks)
        if not spans:
            return
        s = self.summary

        def inside(line: int) -> bool:
            return any(a <= line <= b for a, b in spans)

        s.imports = [i for i in s.imports if not inside(i.line)]
        self._pending_reads = [r for r in self._pending_reads if not (r[3] and inside(r[3][0][0]))]
        for a, b in spans:
            s.quiet_spans.append((a, 0, b + 1, 0, "dead"))

    def _dot(self, node: ast.AST) -> str | None:
        """Dotted name of an expression, seeing through `from sys import modules as m`."""
        if isinstance(node, ast.Name) and self.eval.aliases.get(node.id) == "sys.modules":
            return "sys.modules"
        return dotted_name(node)

    def _is_alias(self, node: ast.AST) -> bool:
        return isinstance(node, ast.Name) and node.id in self._globals_aliases

    def _builtin_from_args(self, node: ast.Call) -> None:
        if len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str):
            self.summary.builtins_added.append(node.args[1].value)

    def _builtins_dict_call(self, node: ast.Call) -> None:
        """``builtins.__dict__.update(name=..., **{"name": ...})``, ``.update({"name": ...})``,
        ``.setdefault("name", ...)``: the constant names it adds to ``builtins``."""
        method = node.func.attr  # type: ignore[attr-defined]
        if method in ("setdefault", "__setitem__"):
            self._builtin_from_args(ast.Call(node.func, [node.func, *node.args], []))
        elif method == "update":
            self.summary.builtins_added.extend(k.arg for k in node.keywords if k.arg)
            for d in [*node.args, *(k.value for k in node.keywords if k.arg is None)]:
                if isinstance(d, ast.Dict):
                    self.summary.builtins_added.extend(
                        k.value for k in d.keys if isinstance(k, ast.Constant) and isinstance(k.value, str))

    def _dynamic(self, reason: str) -> None:
        if reason not in self.summary.dynamic:
            self.summary.dynamic.append(reason)

    # -- spans --------------------------------------------------------------------------------------------
    def _quiet(self, stmts: list[ast.stmt], kind: str) -> None:
        if stmts and kind == "dead":
            self._dead_blocks.append(stmts)
        if stmts:
            first, last = stmts[0], stmts[-1]
            self.summary.quiet_spans.append(
                (first.lineno, first.col_offset, last.end_lineno or last.lineno, last.end_col_offset or 0, kind)
            )

    def _quiet_node(self, node: ast.AST, kind: str) -> None:
        self.summary.quiet_spans.append(
            (node.lineno, node.col_offset, node.end_lineno or node.lineno, node.end_col_offset or 0, kind)  # type: ignore[attr-defined]
        )


def _negated_type_checking(test: ast.expr) -> bool:
    return isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not) and \
        is_type_checking(test.operand)


def summarize(source: bytes, facts: Facts) -> Summary:
    """Parse ``source`` (bytes; PEP 263 encoding declarations honoured) and summarize it for ``facts``.

    Never raises for bad input: syntax errors, bad encodings, NUL bytes and too-deep nesting are reported in
    ``Summary.syntax_error`` and the summary is otherwise empty.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences and the like are not ours to report
            tree = ast.parse(source)
    except SyntaxError as exc:
        return Summary(syntax_error=(str(exc.msg), exc.lineno or 1, max((exc.offset or 1) - 1, 0)))
    except (ValueError, UnicodeError) as exc:  # NUL bytes, undecodable source
        return Summary(syntax_error=(str(exc), 1, 0))
    except RecursionError:
        return Summary(syntax_error=("too deeply nested for the parser", 1, 0))
    # MemoryError goes to the caller: a tree that does not fit is a matter of the memory budget
    # (index.parsing), not of the file's syntax.
    walker = Walker(facts)
    try:
        walker.run(tree)
    except RecursionError:
        return Summary(syntax_error=("too deeply nested to analyze", 1, 0), dynamic=["too deeply nested"])
    return walker.summary
