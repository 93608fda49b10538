"""Recognizers for the idioms of real Python code that decide what a module binds or whether a statement
runs: exception guards, ``hasattr`` tests, module ``__getattr__`` shapes (PEP 562), literal name lists."""

from __future__ import annotations

import ast


def dotted_name(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def reraises(handler: ast.excepthandler) -> bool:
    """A handler that ends in a bare ``raise`` (or re-raises its own exception variable) at its top level."""
    for stmt in handler.body:  # type: ignore[attr-defined]
        if isinstance(stmt, ast.Raise) and stmt.cause is None and (
                stmt.exc is None or (isinstance(stmt.exc, ast.Name) and stmt.exc.id == getattr(handler, "name", None))):
            return True
    return False


def handler_raises(handler: ast.excepthandler) -> bool:
    """A handler that raises again whatever it caught: a ``raise`` of any form (``raise``, ``raise exc``,
    ``raise RuntimeError(...) from exc``) at its top level or on both sides of an ``if`` (``always_raises``),
    with no ``return``, ``break`` or ``continue`` anywhere in the statements before it. What it caught still
    ends the call, as another exception."""
    for stmt in handler.body:  # type: ignore[attr-defined]
        if always_raises([stmt]):
            return True
        if any(isinstance(n, (ast.Return, ast.Break, ast.Continue)) for n in ast.walk(stmt)):
            return False
    return False


def guard_level(caught: set[str]) -> int:
    return 2 if caught & {"Exception", "BaseException"} else 1


def literal_strings(node: ast.expr) -> set[str] | None:
    """Strings of a literal list/tuple/set, or the keys of a literal dict; None for anything else."""
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        elts = node.elts
    elif isinstance(node, ast.Dict):
        elts = [k for k in node.keys if k is not None]
        if len(elts) != len(node.keys):
            return None
    else:
        return None
    out = set()
    for e in elts:
        if not (isinstance(e, ast.Constant) and isinstance(e.value, str)):
            return None
        out.add(e.value)
    return out


def always_raises(stmts: list[ast.stmt]) -> bool:
    for st in stmts:
        if isinstance(st, ast.Raise):
            return True
        if isinstance(st, ast.If) and st.orelse and always_raises(st.body) and always_raises(st.orelse):
            return True
    return False


def served_names(defs: list[ast.FunctionDef], literals: dict[str, set[str]],
                 constants: dict[str, str] | None = None) -> list[str] | None:
    """Names a module ``__getattr__`` (PEP 562) can return, when its shape makes that a finite set:
    ``if name == "x": ... return`` / ``if name == CONSTANT`` (a module-level name bound once to a string) /
    ``if name in ("a", "b")`` / ``if name in LITERAL_DICT`` branches, branches that always raise, and a final
    ``raise AttributeError``. None when anything else may serve a name."""
    constants = constants or {}
    if len(defs) != 1:
        return None
    fn = defs[0]
    if not fn.args.args:
        return None
    param = fn.args.args[0].arg
    served: set[str] = set()
    for stmt in fn.body:
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue  # docstring
        if isinstance(stmt, ast.Raise):
            return sorted(served)
        if isinstance(stmt, ast.If):
            if always_raises(stmt.body) and not stmt.orelse:
                continue
            names = compared_names(stmt.test, param, literals, constants)
            if names is None:
                return None
            served |= names
            if not stmt.orelse:
                continue
            if existing_only(stmt.orelse, param):
                return sorted(served)  # the else serves only names already bound (scipy's __getattr__)
            return None
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            continue
        return None
    return None  # falls off the end: returns None for every other name


def existing_only(stmts: list[ast.stmt], param: str) -> bool:
    """``return globals()[name]`` (possibly in ``try``/``except KeyError: raise ...``): serves nothing new."""
    if len(stmts) != 1:
        return False
    stmt = stmts[0]
    if isinstance(stmt, ast.Try):
        return (existing_only(stmt.body, param) and not stmt.orelse and not stmt.finalbody
                and all(always_raises(h.body) for h in stmt.handlers))
    return (isinstance(stmt, ast.Return) and isinstance(stmt.value, ast.Subscript)
            and is_globals_call(stmt.value.value) and isinstance(stmt.value.slice, ast.Name)
            and stmt.value.slice.id == param)


def compared_names(test: ast.expr, param: str, literals: dict[str, set[str]],
                   constants: dict[str, str] | None = None) -> set[str] | None:
    constants = constants or {}
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.Or):
        out: set[str] = set()
        for v in test.values:
            got = compared_names(v, param, literals, constants)
            if got is None:
                return None
            out |= got
        return out
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.left, ast.Name)
            and test.left.id == param):
        return None
    op, right = test.ops[0], test.comparators[0]
    if isinstance(op, ast.Eq) and isinstance(right, ast.Constant) and isinstance(right.value, str):
        return {right.value}
    if isinstance(op, ast.Eq) and isinstance(right, ast.Name) and right.id in constants:
        return {constants[right.id]}
    if isinstance(op, ast.In):
        if isinstance(right, ast.Name):
            return set(literals[right.id]) if right.id in literals else None
        return literal_strings(right)
    return None


def raise_text(node: ast.Raise) -> str:
    try:
        return ast.unparse(node.exc) if node.exc is not None else "raise"
    except Exception:
        return "raise"


def hasattr_pairs(test: ast.expr) -> frozenset:
    """``(name, attr)`` for each ``hasattr(name, "attr")`` that must be true for ``test`` to be true."""
    out = set()
    parts = test.values if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And) else [test]
    for p in parts:
        if (isinstance(p, ast.Call) and isinstance(p.func, ast.Name) and p.func.id == "hasattr" and len(p.args) == 2
                and isinstance(p.args[0], ast.Name) and isinstance(p.args[1], ast.Constant)
                and isinstance(p.args[1].value, str)):
            out.add((p.args[0].id, p.args[1].value))
    return frozenset(out)


def is_dunder_name(node: ast.AST) -> bool:
    return isinstance(node, ast.Name) and node.id == "__name__"


def is_globals_call(node: ast.AST) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("globals", "vars")
            and not node.args)


def exception_names(node: ast.expr | None) -> set[str]:
    if node is None:
        return {"BaseException"}
    if isinstance(node, ast.Tuple):
        out: set[str] = set()
        for e in node.elts:
            out |= exception_names(e)
        return out
    if isinstance(node, ast.Name):
        return {node.id}
    if isinstance(node, ast.Attribute):
        return {node.attr}
    return {"BaseException"}  # a computed exception tuple: assume it may catch anything


def suppressed(node: ast.expr) -> set[str]:
    if isinstance(node, ast.Call) and (dotted_name(node.func) or "").rpartition(".")[2] == "suppress":
        out: set[str] = set()
        for a in node.args:
            out |= exception_names(a)
        return out
    return set()


# How a module ``__getattr__`` serves submodules (``lazy_submodules``): not at all; a submodule for some
# names (others may be served otherwise); every submodule and nothing else.
NO_SUBMODULES, SOME_SUBMODULES, ONLY_SUBMODULES = 0, 1, 2


def lazy_submodules(defs: list[ast.FunctionDef]) -> int:
    """Whether a module ``__getattr__`` (PEP 562) imports the submodule its argument names, as lazy packages
    do (prefect's ``importlib.import_module(f"{__name__}.{name}")``; importlib's documentation of
    ``import_module`` for the relative form ``import_module(f".{name}", package=__name__)``).

    ``ONLY_SUBMODULES`` when that import is the function's only way to a value: nothing before it returns,
    and every handler of the ``try`` around it raises (a name with no submodule raises ``AttributeError``,
    or the import's own error). ``SOME_SUBMODULES`` when the import is there but other paths may serve other
    names; ``NO_SUBMODULES`` otherwise."""
    if len(defs) != 1 or not defs[0].args.args:
        return NO_SUBMODULES
    fn = defs[0]
    param = fn.args.args[0].arg
    names: set[str] = set()  # local names bound to the submodule's name
    for stmt in ast.walk(fn):
        if (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)
                and _submodule_name(stmt.value, param, absolute=True)):
            names.add(stmt.targets[0].id)
    found = [n for n in ast.walk(fn) if isinstance(n, ast.Call) and _imports_submodule(n, param, names)]
    if not found:
        return NO_SUBMODULES
    for stmt in fn.body:
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue  # docstring
        if (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)
                and stmt.targets[0].id in names):
            continue
        if (isinstance(stmt, ast.Try) and not stmt.finalbody and stmt.handlers and len(stmt.body) == 1
                and all(always_raises(h.body) for h in stmt.handlers)
                and any(n in found for n in ast.walk(stmt.body[0]))):
            return ONLY_SUBMODULES
        if (isinstance(stmt, (ast.Assign, ast.Return)) and stmt.value is not None
                and any(n in found for n in ast.walk(stmt.value))):
            return ONLY_SUBMODULES  # no try: a name with no submodule raises ModuleNotFoundError
        break
    return SOME_SUBMODULES


def _imports_submodule(call: ast.Call, param: str, names: set[str]) -> bool:
    if (dotted_name(call.func) or "").rpartition(".")[2] != "import_module" or not call.args:
        return False
    arg = call.args[0]
    if isinstance(arg, ast.Name) and arg.id in names or _submodule_name(arg, param, absolute=True):
        return len(call.args) == 1 and not call.keywords
    package = call.args[1] if len(call.args) > 1 else next(
        (k.value for k in call.keywords if k.arg == "package"), None)
    return package is not None and is_dunder_name(package) and _submodule_name(arg, param, absolute=False)


def _submodule_name(e: ast.expr, param: str, absolute: bool) -> bool:
    """``e`` is ``f"{__name__}.{param}"`` / ``__name__ + "." + param`` (absolute), or ``f".{param}"`` /
    ``"." + param`` (relative to the package)."""
    if isinstance(e, ast.JoinedStr):
        parts: list[ast.expr] = [v.value if isinstance(v, ast.FormattedValue) and v.conversion == -1
                                 and v.format_spec is None else v for v in e.values]
    elif isinstance(e, ast.BinOp) and isinstance(e.op, ast.Add):
        parts = []
        stack: list[ast.expr] = [e]
        while stack:
            x = stack.pop()
            if isinstance(x, ast.BinOp) and isinstance(x.op, ast.Add):
                stack += [x.right, x.left]
            else:
                parts.append(x)
    else:
        return False
    want: list = (["__name__"] if absolute else []) + [".", param]
    if len(parts) != len(want):
        return False
    for got, w in zip(parts, want):
        if w == ".":
            if not (isinstance(got, ast.Constant) and got.value == "."):
                return False
        elif not (isinstance(got, ast.Name) and got.id == w):
            return False
    return True


# Class-body calls that may bind names no statement shows.
_CLASS_DYNAMIC = {"locals", "vars", "exec", "setattr", "eval"}


class ClassFacts:
    """What a module-level class statement makes, for reading its attributes (the language reference's
    "Class definitions": the body's namespace becomes the class's ``__dict__``; attributes not there are
    looked up along the bases), gathered while the walker goes through the class statement once (its body,
    methods and nested classes): the walker calls ``call`` for each call, ``store`` for each attribute
    assigned to and ``assign`` for each assignment, then ``result``."""

    __slots__ = ("bases", "name", "names", "opaque")

    def __init__(self, node: ast.ClassDef) -> None:
        self.name = node.name
        self.opaque = bool(node.decorator_list or node.keywords)
        self.bases: list[tuple] = []
        for b in node.bases:
            d = dotted_name(b)
            if d is None:
                self.opaque = True
            elif d != "object":
                root, _, rest = d.partition(".")
                self.bases.append(("a", root, rest) if rest else ("n", root))
        self.names: set[str] = set()

    def call(self, func: ast.expr) -> None:
        """A call in the class statement: ``setattr``/``locals()``/``exec`` may bind names no statement shows."""
        if type(func) is ast.Name and func.id in _CLASS_DYNAMIC:
            self.opaque = True

    def store(self, target: ast.Attribute) -> None:
        """``cls.X = ...`` or ``Name.X = ...`` binds X on the class; ``self.__class__.x = ...`` and
        ``type(self).x = ...`` change the class in ways we do not follow."""
        v = target.value
        if type(v) is ast.Name:
            if v.id == "cls" or v.id == self.name:
                self.names.add(target.attr)
        elif (type(v) is ast.Attribute and v.attr == "__class__") or (
                type(v) is ast.Call and type(v.func) is ast.Name and v.func.id == "type"):
            self.opaque = True

    def assign(self, node: ast.Assign) -> None:
        """``__slots__ = (...)``: each entry is a descriptor on the class."""
        if not any(type(t) is ast.Name and t.id == "__slots__" for t in node.targets):
            return
        v = node.value
        slots = literal_strings(v) if not isinstance(v, ast.Constant) else (
            {v.value} if isinstance(v.value, str) else None)
        if slots is None:
            self.opaque = True
        else:
            self.names |= slots

    def result(self, bound: set[str]) -> tuple:
        """``(bases, names, opaque)``. ``bases``: each ``("n", name)`` (a module-level name) or ``("a", root,
        "dotted.rest")``, ``object`` left out; ``names``: what the body binds (``bound``), with ``__slots__``
        entries and ``cls.X = ...`` stores in its methods, sorted; ``opaque`` when more may be bound than that
        (decorators, a metaclass or class keywords, ``__init_subclass__``/``__set_name__``-style hooks,
        ``setattr``/``locals()`` in the body, a base that is not a plain name)."""
        names = self.names | bound
        # hooks that change classes made from this one (and its own lookups)
        opaque = self.opaque or bool(names & {"__init_subclass__", "__getattr__", "__class_getitem__", "__prepare__"})
        return self.bases, sorted(names), opaque
