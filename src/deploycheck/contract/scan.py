"""One project module's facts for the contract, from its ``ast`` (nothing is imported or run): imports,
classes, functions, module-level variables, environment reads, calls made, and attribute chains on names
(for DC401), with what ``contract.flow`` finds at each: the values a name may hold there, and the
environment variables the code has set before it.

Environment reads follow the ``os`` docs: ``os.environ[NAME]`` raises ``KeyError`` when unset (required,
unless a ``try`` around it catches ``KeyError``), ``os.environ.get(NAME, default)`` and
``os.getenv(NAME, default)`` return the default (``None`` when not given); ``os.getenv(NAME) or "x"`` has the
default ``"x"``; ``os.environ.setdefault(NAME, default)`` returns the value, else sets and returns the
default. Only names written as string literals are read statically.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from deploycheck.contract import flow as flow_

_ENV_CALLS = {"os.getenv", "os.environ.get", "os.environ.setdefault"}
_CATCH_KEY = {"KeyError", "LookupError", "Exception", "BaseException"}


# A string annotation longer than this is not read (real ones are a few dozen characters): its tree would be
# built in the main process.
MAX_ANNOTATION_CHARS = 10_000


def parse_annotation(text: str) -> ast.expr | None:
    """The expression of a string annotation (PEP 563: ``x: "Optional[int]"``), or None when it is not one,
    is nested too deeply for the parser, or is longer than ``MAX_ANNOTATION_CHARS``."""
    if len(text) > MAX_ANNOTATION_CHARS:
        return None
    try:
        return ast.parse(text, mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


@dataclass
class EnvRead:
    name: str
    line: int
    column: int
    via: str
    required: bool
    has_default: bool
    default: str | None
    when: str
    scope: str | None = None  # the enclosing function (``f``, ``Cls.method``), None at module level or class body
    set_by: tuple[tuple[int, str], ...] = ()  # (line, how) of code that set the name before it on every path


@dataclass
class ClassScan:
    """A class: ``bases`` as written (ast), ``fields`` the annotated class attributes in order
    ``{name: (line, column, annotation, value or None)}``, ``members`` every name an instance has from this
    class body (attributes, annotations, methods, nested classes, ``self.x = ...`` in methods),
    ``properties`` ``{name: return annotation}``; ``config`` the literal keys of ``model_config`` or an inner
    ``class Config``."""

    name: str
    line: int
    bases: list[ast.expr]
    fields: dict[str, tuple[int, int, ast.expr, ast.expr | None]] = field(default_factory=dict)
    members: set[str] = field(default_factory=set)
    properties: dict[str, ast.expr | None] = field(default_factory=dict)
    config: dict[str, object] = field(default_factory=dict)
    dynamic: bool = False  # __getattr__ / __getattribute__: any attribute may exist


@dataclass
class AttrSite:
    """``base.attrs[0].attrs[1]...`` where ``base`` is a call (``("call", func)``) or a name
    (``("name", id, values, local)``: the values that may reach the read, as ``contract.flow`` gives them, and
    whether the name is a local of the function or class body). ``positions`` are (line, column) of each
    attribute; ``scope`` the enclosing function, as in ``EnvRead``."""

    base: tuple
    attrs: tuple[str, ...]
    positions: tuple[tuple[int, int], ...]
    when: str
    scope: str | None = None


@dataclass
class ModuleScan:
    module: str
    path: str
    is_package: bool
    imports: dict[str, str] = field(default_factory=dict)
    classes: dict[str, ClassScan] = field(default_factory=dict)
    functions: dict[str, ast.expr | None] = field(default_factory=dict)  # name -> return annotation
    # module-level name bound other than by an import -> the values it may hold once the module has run
    variables: dict[str, frozenset] = field(default_factory=dict)
    defined: set[str] = field(default_factory=set)
    env_reads: list[EnvRead] = field(default_factory=list)
    # (func, when, scope, the environment variables set before the call: {name: {(line, how)}} or None)
    calls: list[tuple[ast.expr, str, str | None, dict | None]] = field(default_factory=list)
    attr_sites: list[AttrSite] = field(default_factory=list)

    def qualify(self, expr: ast.expr | None) -> str | None:
        """The dotted name an expression refers to, through this module's imports: ``cfg.get`` where
        ``from app.core import config as cfg`` gives ``app.core.config.get``. Unknown names are builtins."""
        if isinstance(expr, ast.Name):
            if expr.id in self.imports:
                return self.imports[expr.id]
            if expr.id in self.defined:
                return f"{self.module}.{expr.id}"
            return f"builtins.{expr.id}"
        if isinstance(expr, ast.Attribute):
            base = self.qualify(expr.value)
            return f"{base}.{expr.attr}" if base else None
        if isinstance(expr, ast.Subscript):  # Generic[T], Optional[X]: the subscripted name
            return self.qualify(expr.value)
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):  # a string annotation
            parsed = parse_annotation(expr.value)
            return self.qualify(parsed) if parsed is not None else None
        return None


def scan(module: str, path: str, is_package: bool, tree: ast.Module) -> ModuleScan:
    """Collect a module's facts; ``tree`` is its parsed ``ast``."""
    out = ModuleScan(module, path, is_package)
    for stmt in ast.walk(tree):
        if isinstance(stmt, ast.Import):
            for a in stmt.names:
                if a.asname:
                    out.imports[a.asname] = a.name
                else:
                    top = a.name.split(".")[0]
                    out.imports[top] = top
        elif isinstance(stmt, ast.ImportFrom):
            base = _absolute(module, is_package, stmt.module or "", stmt.level)
            if base is None:
                continue
            for a in stmt.names:
                if a.name != "*":
                    out.imports[a.asname or a.name] = f"{base}.{a.name}" if base else a.name
    _top_level(out, tree)
    found = flow_.analyze(tree, out.qualify, lambda level, name: _absolute(module, is_package, name, level))
    out.variables = {n: v for n, v in found.final.items() if n in found.assigned}
    _Visitor(out, found).visit(tree)
    return out


def _absolute(module: str, is_package: bool, name: str, level: int) -> str | None:
    if level == 0:
        return name
    parts = (module if is_package else module.rpartition(".")[0]).split(".")
    if level - 1 >= len(parts) or not parts[0]:
        return None
    base = ".".join(parts[: len(parts) - (level - 1)])
    return f"{base}.{name}" if name else base


def _top_level(out: ModuleScan, tree: ast.Module) -> None:
    for stmt in tree.body:
        for node in _flatten(stmt):
            if isinstance(node, ast.ClassDef):
                out.classes[node.name] = _class(node)
                out.defined.add(node.name)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                out.functions[node.name] = node.returns
                out.defined.add(node.name)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for t in targets:
                    for n in ast.walk(t):
                        if isinstance(n, ast.Name):
                            out.defined.add(n.id)


def _flatten(stmt: ast.stmt):
    """A module-level statement, and the statements inside its if/try blocks (they run at import too)."""
    yield stmt
    if isinstance(stmt, (ast.If, ast.Try, ast.TryStar)):
        for body in (stmt.body, stmt.orelse, getattr(stmt, "finalbody", []),
                     *[h.body for h in getattr(stmt, "handlers", [])]):
            for s in body:
                yield from _flatten(s)


def _class(node: ast.ClassDef) -> ClassScan:
    cls = ClassScan(node.name, node.lineno, list(node.bases))
    for stmt in node.body:
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            name = stmt.target.id
            cls.members.add(name)
            if not _classvar(stmt.annotation) and not name.startswith("_") and name != "model_config":
                cls.fields[name] = (stmt.lineno, stmt.col_offset, stmt.annotation, stmt.value)
            if name == "model_config" and stmt.value is not None:
                cls.config.update(_literal_config(stmt.value))
        elif isinstance(stmt, ast.Assign):
            for t in stmt.targets:
                for n in ast.walk(t):
                    if isinstance(n, ast.Name):
                        cls.members.add(n.id)
                        if n.id == "model_config":
                            cls.config.update(_literal_config(stmt.value))
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            cls.members.add(stmt.name)
            if stmt.name in ("__getattr__", "__getattribute__"):
                cls.dynamic = True
            if any(_decorator_name(d) in ("property", "cached_property", "computed_field") for d in stmt.decorator_list):
                cls.properties[stmt.name] = stmt.returns
            for n in ast.walk(stmt):  # self.x = ... anywhere in a method
                if (isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Store) and isinstance(n.value, ast.Name)
                        and n.value.id == "self"):
                    cls.members.add(n.attr)
        elif isinstance(stmt, ast.ClassDef):
            cls.members.add(stmt.name)
            if stmt.name == "Config":  # pydantic v1 style (still read by pydantic-settings 2 with a warning)
                for s in stmt.body:
                    if isinstance(s, ast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], ast.Name):
                        try:
                            cls.config[s.targets[0].id] = ast.literal_eval(s.value)
                        except (ValueError, SyntaxError, TypeError):
                            pass
    return cls


def _decorator_name(d: ast.expr) -> str:
    if isinstance(d, ast.Call):
        d = d.func
    if isinstance(d, ast.Attribute):
        return d.attr
    return d.id if isinstance(d, ast.Name) else ""


def _classvar(annotation: ast.expr) -> bool:
    target = annotation.value if isinstance(annotation, ast.Subscript) else annotation
    name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
    return name == "ClassVar"


def _literal_config(value: ast.expr) -> dict[str, object]:
    """The literal keys of ``SettingsConfigDict(...)``, ``ConfigDict(...)`` or ``{...}``."""
    out: dict[str, object] = {}
    if isinstance(value, ast.Call):
        for kw in value.keywords:
            if kw.arg:
                try:
                    out[kw.arg] = ast.literal_eval(kw.value)
                except (ValueError, SyntaxError, TypeError):
                    out[kw.arg] = ...
    elif isinstance(value, ast.Dict):
        for k, v in zip(value.keys, value.values):
            if isinstance(k, ast.Constant) and isinstance(k.value, str):
                try:
                    out[k.value] = ast.literal_eval(v)
                except (ValueError, SyntaxError, TypeError):
                    out[k.value] = ...
    return out


def literal(expr: ast.expr | None) -> tuple[bool, str | None]:
    """(is a literal, its text): ``"x"`` -> (True, "x"), ``5`` -> (True, "5"), ``None`` -> (True, None)."""
    if expr is None:
        return False, None
    try:
        value = ast.literal_eval(expr)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False, None
    if value is None:
        return True, None
    if isinstance(value, (str, int, float, bool)):
        return True, str(value)
    return False, None


class _Visitor(ast.NodeVisitor):
    def __init__(self, out: ModuleScan, found: flow_.Flow) -> None:
        self.out = out
        self.flow = found
        self.function: ast.AST | None = None
        self.names: list[str] = []  # enclosing classes and functions, outermost first
        self.scope: str | None = None  # dotted name of the enclosing function within the module
        self.catch_key = 0
        self.done: set[int] = set()
        self.parents: dict[int, ast.AST] = {}

    @property
    def when(self) -> str:
        return "call" if self.function is not None else "import"

    def generic_visit(self, node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            self.parents[id(child)] = node
        super().generic_visit(node)

    def visit_FunctionDef(self, node) -> None:
        for d in node.decorator_list:
            self.visit(d)
        for d in node.args.defaults + [d for d in node.args.kw_defaults if d is not None]:
            self.visit(d)
        outer, self.function = self.function, node
        outer_scope, self.scope = self.scope, ".".join([*self.names, node.name])
        self.names.append(node.name)
        for stmt in node.body:
            self.parents[id(stmt)] = node
            self.visit(stmt)
        self.names.pop()
        self.function, self.scope = outer, outer_scope

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        # the body runs where the class statement runs (module level: at import); methods are `Cls.method`
        for part in (*node.decorator_list, *node.bases, *node.keywords):
            self.visit(part)
        self.names.append(node.name)
        for stmt in node.body:
            self.parents[id(stmt)] = node
            self.visit(stmt)
        self.names.pop()

    def visit_Try(self, node: ast.Try) -> None:
        catches = any(h.type is None or any(_exc_name(t) in _CATCH_KEY for t in _exc_types(h.type))
                      for h in node.handlers)
        self.catch_key += catches
        for s in node.body:
            self.visit(s)
        self.catch_key -= catches
        for part in (node.handlers, node.orelse, node.finalbody):
            for s in part:
                self.visit(s)

    visit_TryStar = visit_Try

    def visit_BoolOp(self, node: ast.BoolOp) -> None:
        if isinstance(node.op, ast.Or) and len(node.values) >= 2:
            first = node.values[0]
            read = self._env_call(first)
            if read is not None and not read[2]:
                is_lit, text = literal(node.values[1])
                self._record(first, read[0], read[1], required=False, has_default=True,
                             default=text if is_lit else None)
                self.done.add(id(first))
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        if id(node) not in self.done:
            read = self._env_call(node)
            if read is not None:
                name, via, _has_default, default = read
                self._record(node, name, via, required=False, has_default=True, default=default)
        self.out.calls.append((node.func, self.when, self.scope, self.flow.env_at.get(id(node))))
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if (isinstance(node.ctx, ast.Load) and self.out.qualify(node.value) == "os.environ"
                and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str)):
            self._record(node, node.slice.value, "os.environ[]", required=not self.catch_key, has_default=False,
                         default=None)
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        parent = self.parents.get(id(node))
        if isinstance(node.ctx, ast.Load) and not (isinstance(parent, ast.Attribute) and parent.value is node):
            attrs: list[str] = []
            positions: list[tuple[int, int]] = []
            cur: ast.expr = node
            while isinstance(cur, ast.Attribute):
                attrs.append(cur.attr)
                positions.append((cur.end_lineno or cur.lineno, (cur.end_col_offset or 0) - len(cur.attr)))
                cur = cur.value
            attrs.reverse()
            positions.reverse()
            base = None
            if isinstance(cur, ast.Call):
                base = ("call", cur.func)
            elif isinstance(cur, ast.Name) and id(cur) in self.flow.sites:  # else: code that never runs
                base = ("name", cur.id, *self.flow.sites[id(cur)])
            if base is not None:
                self.out.attr_sites.append(AttrSite(base, tuple(attrs), tuple(positions), self.when,
                                                    self.scope))
        self.generic_visit(node)

    def _env_call(self, node: ast.expr):
        """(name, via, has explicit default, default text) for an ``os.getenv``/``os.environ.get`` call."""
        if not isinstance(node, ast.Call) or self.out.qualify(node.func) not in _ENV_CALLS:
            return None
        if not node.args or not isinstance(node.args[0], ast.Constant) or not isinstance(node.args[0].value, str):
            return None
        via = self.out.qualify(node.func) or ""
        default_expr = node.args[1] if len(node.args) > 1 else next(
            (k.value for k in node.keywords if k.arg in ("default", "value")), None)
        if default_expr is None:
            return node.args[0].value, via, False, None
        is_lit, text = literal(default_expr)
        return node.args[0].value, via, not (is_lit and text is None), text if is_lit else None

    def _record(self, node: ast.expr, name: str, via: str, required: bool, has_default: bool,
                default: str | None) -> None:
        set_by = tuple(sorted(self.flow.env_at.get(id(node), {}).get(name, ())))
        self.out.env_reads.append(EnvRead(name, node.lineno, node.col_offset, via, required, has_default,
                                          default, self.when, self.scope, set_by))


def _exc_types(t: ast.expr) -> list[ast.expr]:
    return list(t.elts) if isinstance(t, ast.Tuple) else [t]


def _exc_name(t: ast.expr) -> str:
    return t.attr if isinstance(t, ast.Attribute) else getattr(t, "id", "")
