"""One walk per file that yields both the engine's summary and everything in it that may name a symbol.

``RefWalker`` extends the engine's ``Walker`` (same scopes, same import descriptors, same decided conditions),
so each name is looked up exactly as the check looks it up. On top of the summary it records:

- ``uses``: every load, store or delete of a name chain ``a.b.c`` whose base is imported or unbound in the file
  (unbound: it may come from a star import), with the descriptors the base is bound to;
  ``getattr(x, "name")``, ``hasattr``, ``setattr``, ``delattr`` and ``patch.object(x, "name")`` with a
  constant name count as the chain ``x.name``;
- ``imports``: every ``import`` alias with its ``as`` name, anywhere in the file;
- ``strings``: string constants that are dotted names (``mock.patch("pkg.mod.Name")``,
  ``importlib.import_module("pkg.mod")``, string annotations), and the names a module lists in ``__all__``
  (``__all__ = [...]``, ``+=``, ``.append``, ``.extend``: what ``from module import *`` reads).

Code the target never runs (``if sys.version_info < (3, 8):`` on 3.11, statements after ``return``) and
annotations that are never evaluated are searched too: a migration is about the text of the code base, and a
reference in a dead branch comes back to life on another target. Columns are 0-based characters (``ast`` gives
UTF-8 bytes), so the codemod's positions match.
"""

from __future__ import annotations

import ast
import gc
import marshal
import re
import warnings
from dataclasses import dataclass, field

from deploycheck import ANALYZER_VERSION
from deploycheck.index.conditions import Facts
from deploycheck.index.parsing import NEEDS_MEMORY, TOO_NESTED, Parser, not_analyzed_reason
from deploycheck.index.store import Cache, content_key
from deploycheck.index.summary import TYPING, Summary
from deploycheck.index.walker import Walker, _Scope, _State

SCAN_VERSION = "3"  # bumped whenever what a scan records changes (part of the cache key)
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+")
_ATTR_CALLS = {"getattr", "hasattr", "setattr", "delattr"}


@dataclass
class FileRefs:
    """What one file holds that may name a symbol (see the module docstring).

    ``uses``: ``(name, descs, attrs, line, col, store, called, how)``: ``descs`` the import descriptors the
    base ``name`` may be bound to (empty: unbound in the file), ``store`` true for assignment and ``del``
    targets, ``called`` true when the whole chain is called with no arguments, ``how`` ``"expr"``,
    ``"getattr"`` or ``"annotation"``. ``imports``: ``(module, level, name, asname, line, col)`` with
    ``name`` None for ``import module``. ``strings``: ``(value, line, col, how)``, ``how`` ``"string"``,
    ``"import_module"`` or ``"all"`` (a name listed in the module's ``__all__``). ``error``: the syntax
    error message, line and column when the file does not parse.
    Lines are 1-based, columns 0-based characters.
    """

    summary: Summary
    uses: list[tuple] = field(default_factory=list)
    imports: list[tuple] = field(default_factory=list)
    strings: list[tuple] = field(default_factory=list)

    def to_plain(self) -> tuple:
        return (self.summary.to_plain(), self.uses, self.imports, self.strings)

    @classmethod
    def from_plain(cls, t: tuple) -> FileRefs:
        return cls(Summary.from_plain(t[0]), *t[1:])


class RefWalker(Walker):
    """The engine's walker, recording name chains, imports and dotted strings as it goes."""

    def __init__(self, facts: Facts, source: bytes) -> None:
        super().__init__(facts)
        self._lines = source.split(b"\n")
        self._pending_uses: list[tuple] = []
        self._noarg: set[tuple[int, int, int]] = set()
        self.imports_: list[tuple] = []
        self.strings: list[tuple] = []
        self._st: _State | None = None
        self._dead = 0
        self._recorded: set[int] = set()  # string constants already recorded as import_module arguments
        self._covered: set[int] = set()

    def col(self, line: int, col: int) -> int:
        """A character column from ``ast``'s UTF-8 byte offset."""
        if 0 < line <= len(self._lines):
            text = self._lines[line - 1]
            if not text.isascii():
                return len(text[:col].decode("utf-8", errors="replace"))
        return col

    # -- hooks into the engine's walk ---------------------------------------------------------------------
    def body(self, stmts, st):
        prev, self._st = self._st, st
        try:
            return super().body(stmts, st)
        finally:
            self._st = prev

    def stmt(self, node, st):
        if isinstance(node, ast.Import):
            for alias in node.names:
                self.imports_.append((alias.name, 0, None, alias.asname, alias.lineno, self.col(alias.lineno, alias.col_offset)))
        elif isinstance(node, ast.ImportFrom) and node.module != "__future__":
            for alias in node.names:
                self.imports_.append((node.module or "", node.level or 0, alias.name, alias.asname, alias.lineno,
                                      self.col(alias.lineno, alias.col_offset)))
        prev, self._st = self._st, st
        try:
            return super().stmt(node, st)
        finally:
            self._st = prev

    def _quiet(self, stmts, kind):
        super()._quiet(stmts, kind)
        if kind == "dead" and stmts and self._st is not None:
            # Walk code the target never runs in a scope of its own, so its bindings change nothing outside.
            st = self._st
            self._dead += 1
            try:
                self.body(stmts, st.but(scope=_Scope("dead", st.scope)))
            finally:
                self._dead -= 1

    def _import(self, module, level, names, node, st, aliases):
        if not self._dead:  # the summary keeps only imports that can run
            super()._import(module, level, names, node, st, aliases)

    def _all_value(self, value, st):
        if isinstance(value, (ast.List, ast.Tuple)):
            for e in value.elts:
                self._all_string(e)
        super()._all_value(value, st)

    def _all_call(self, method, node, st):
        if method in ("append", "insert") and st.scope is self.module and node.args:
            self._all_string(node.args[-1])
        super()._all_call(method, node, st)

    def _all_string(self, e: ast.expr) -> None:
        if isinstance(e, ast.Constant) and isinstance(e.value, str):
            self.strings.append((e.value, e.lineno, self.col(e.lineno, e.col_offset), "all"))

    def _annotation(self, node, st, evaluated):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            self._string_annotation(node, st)
        elif not evaluated:
            self.expr(node, st.but(context=TYPING))
            return
        super()._annotation(node, st, evaluated)

    def _target(self, t, st):
        if isinstance(t, ast.Attribute):
            self._chain(t, st, store=True)
        super()._target(t, st)

    def expr(self, node, st):
        kind = type(node)
        if id(node) in self._covered:  # the object of a getattr(...) already recorded with its attribute
            if kind is not ast.Name:
                super().expr(node, st)
            return
        if kind is ast.Name:
            if isinstance(node.ctx, ast.Load):
                self._use(node.id, (), node, st, False)
            return
        if kind is ast.Constant:
            if type(node.value) is str and id(node) not in self._recorded and _DOTTED.fullmatch(node.value):
                self.strings.append((node.value, node.lineno, self.col(node.lineno, node.col_offset), "string"))
            return
        if kind is ast.Attribute:
            self._chain(node, st, store=not isinstance(node.ctx, ast.Load))
        elif kind is ast.Call:
            self._call(node, st)
        super().expr(node, st)

    # -- recording ----------------------------------------------------------------------------------------
    def _chain(self, node: ast.Attribute, st: _State, store: bool) -> None:
        attrs: list[str] = []
        base: ast.expr = node
        while isinstance(base, ast.Attribute):
            attrs.append(base.attr)
            base = base.value
        if isinstance(base, ast.Name):
            attrs.reverse()
            self._use(base.id, tuple(attrs), base, st, store)

    def _use(self, name: str, attrs: tuple, base: ast.expr, st: _State, store: bool, how: str = "expr",
             at: ast.AST | None = None) -> None:
        pos = at or base
        line, col = pos.lineno, pos.col_offset  # type: ignore[attr-defined]
        called = (line, col, len(attrs) + 1) in self._noarg
        self._pending_uses.append((st.scope, name, attrs, line, self.col(line, col), store, called, how))

    def _call(self, node: ast.Call, st: _State) -> None:
        func = node.func
        if not node.args and not node.keywords and isinstance(func, (ast.Name, ast.Attribute)):
            n, base = 1, func
            while isinstance(base, ast.Attribute):
                n, base = n + 1, base.value
            if isinstance(base, ast.Name):
                self._noarg.add((func.lineno, func.col_offset, n))
        fname = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
        args = node.args
        if len(args) >= 2 and isinstance(args[1], ast.Constant) and isinstance(args[1].value, str) and (
                fname in _ATTR_CALLS or (fname == "object" and isinstance(func, ast.Attribute)
                                         and isinstance(func.value, (ast.Name, ast.Attribute))
                                         and (func.value.id if isinstance(func.value, ast.Name) else func.value.attr) == "patch")):
            obj, attr = args[0], args[1].value
            if attr.isidentifier():
                self._covered.add(id(obj))
                chain: list[str] = [attr]
                while isinstance(obj, ast.Attribute):
                    chain.append(obj.attr)
                    obj = obj.value
                if isinstance(obj, ast.Name):
                    chain.reverse()
                    self._use(obj.id, tuple(chain), obj, st, False, "getattr", node)
        if (fname in ("import_module", "__import__") and args and isinstance(args[0], ast.Constant)
                and isinstance(args[0].value, str) and args[0].value.replace(".", "").isidentifier()):
            a = args[0]
            self.strings.append((a.value, a.lineno, self.col(a.lineno, a.col_offset), "import_module"))
            self._recorded.add(id(a))

    def _string_annotation(self, node: ast.Constant, st: _State) -> None:
        """``"DatabaseConfig"`` or ``"pkg.Name"`` as an annotation: each name chain in it, at the string."""
        try:
            tree = ast.parse(node.value.strip(), mode="eval")
        except (SyntaxError, ValueError, RecursionError):
            return
        line, col = node.lineno, self.col(node.lineno, node.col_offset)
        stack: list[ast.AST] = [tree.body]
        while stack:
            sub = stack.pop()
            attrs: list[str] = []
            base = sub
            while isinstance(base, ast.Attribute):
                attrs.append(base.attr)
                base = base.value
            if isinstance(base, ast.Name):
                attrs.reverse()
                self._pending_uses.append((st.scope, base.id, tuple(attrs), line, col, False, False, "annotation"))
            else:
                stack.extend(ast.iter_child_nodes(base))

    def _bases(self, scope: _Scope, name: str) -> tuple | None:
        """The import descriptors ``name`` may be bound to in ``scope``; ``()`` when nothing in the file binds
        it (a builtin, or a name from a star import); None when it is a value of the file's own."""
        for s in self.lookup_chain(scope, name):
            if name in s.others:
                return None
            found = s.imports.get(name)
            if found:
                return tuple(sorted(found, key=repr))
            if s is self.module and name in self._branch_values:
                return None
        return ()

    def refs(self) -> FileRefs:
        uses = []
        for scope, name, attrs, line, col, store, called, how in self._pending_uses:
            descs = self._bases(scope, name)
            if descs is None or (not descs and not attrs and how == "expr" and name in _NOISE):
                continue
            uses.append((name, descs, attrs, line, col, store, called, how))
        return FileRefs(self.summary, uses, self.imports_, self.strings)


# Unbound names that are never a star-imported symbol worth recording (keeps records small).
_NOISE = frozenset({"self", "cls", "print", "len", "isinstance", "str", "int", "dict", "list", "range", "super",
                    "True", "False", "None", "tuple", "set", "bool", "type", "getattr", "hasattr", "object"})


def scan(source: bytes, facts: Facts) -> FileRefs:
    """Walk ``source`` once (PEP 263 encodings honoured). Never raises for bad input: a file that does not parse
    gets a summary with ``syntax_error`` set and no references. A ``MemoryError`` goes to the caller: whether a
    tree fits is a matter of the parse memory budget (``index.parsing``), not of the file's syntax."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(source)
    except SyntaxError as exc:
        return FileRefs(Summary(syntax_error=(str(exc.msg), exc.lineno or 1, max((exc.offset or 1) - 1, 0))))
    except (ValueError, UnicodeError) as exc:
        return FileRefs(Summary(syntax_error=(str(exc), 1, 0)))
    except RecursionError:
        return FileRefs(Summary(syntax_error=("too deeply nested for the parser", 1, 0)))
    walker = RefWalker(facts, source)
    try:
        walker.run(tree)
    except RecursionError:
        return FileRefs(Summary(syntax_error=("too deeply nested to analyze", 1, 0), dynamic=["too deeply nested"]))
    return walker.refs()


def _work(item: tuple[str, bytes, Facts]) -> tuple[str, bytes]:
    path, data, facts = item
    return path, marshal.dumps(scan(data, facts).to_plain())


_BATCH = 512


def scan_files(contents: dict[str, bytes], facts: Facts, cache: Cache) -> tuple[dict[str, FileRefs], dict[str, str], int]:
    """Scan many files (``path -> bytes``) in the run's parse workers (``index.parsing``: on every core,
    within the parse memory budget), with results cached by content hash and target facts. Returns ``(refs
    by path, content hash by path, number parsed)``. A file whose tree does not fit in the budget gets a
    summary whose ``syntax_error`` says it was not analyzed and names the limit (not cached: the outcome
    depends on the limit)."""
    space = f"migrate-{ANALYZER_VERSION}.{SCAN_VERSION}-{facts.key}"
    hashes = {p: content_key(d) for p, d in contents.items()}
    cached = cache.get_many(space, list(set(hashes.values())))
    out: dict[str, FileRefs] = {}
    todo: list[tuple[str, bytes, Facts]] = []
    for p, d in contents.items():
        blob = cached.get(hashes[p])
        if blob is not None:
            try:
                out[p] = FileRefs.from_plain(marshal.loads(blob))
                continue
            except Exception:  # a damaged or foreign entry: parse again
                pass
        todo.append((p, d, facts))
    enabled = gc.isenabled()
    gc.disable()  # syntax trees are acyclic and short-lived (see index/store.py)
    parser = Parser(_work)
    try:
        for i in range(0, len(todo), _BATCH):
            batch = todo[i : i + _BATCH]
            results = parser.map(batch, [len(d) for _, d, _ in batch])
            for (p, _, _), result in zip(batch, results, strict=True):
                if result == NEEDS_MEMORY:
                    out[p] = FileRefs(Summary(syntax_error=(f"not analyzed: {not_analyzed_reason()}", 1, 0),
                                              dynamic=["not analyzed"]))
                    continue
                if result == TOO_NESTED:
                    result = (p, marshal.dumps(FileRefs(Summary(
                        syntax_error=("too deeply nested for the parser", 1, 0))).to_plain()))
                out[p] = FileRefs.from_plain(marshal.loads(result[1]))
                cache.put(space, hashes[p], result[1])
    finally:
        parser.close()
        if enabled:
            gc.enable()
    return out, hashes, len(todo)
