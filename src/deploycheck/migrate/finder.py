"""The references of one migration: every place in the scanned files that names its ``old`` symbol.

A reference is found by following names to the object they name (``resolve.Resolver``), never by matching
text: ``from pkg.mod import Old as O; O.X``, ``import pkg.mod as m; m.Old.X``, a re-export through another
module, a name from a star import, ``getattr(m, "Old")``, ``mock.patch("pkg.mod.Old.X")`` and
``importlib.import_module("pkg.mod")`` (when ``old`` is the module), a name in a module's ``__all__`` that
the module binds to ``old`` all count; an unrelated ``Old`` does not. A use of ``old``'s name that is bound to
nothing any more (its import was removed: a ``NameError`` when it runs) counts when ``dangling`` ties it to
``old`` (the file's git history, or a name unique to ``old`` in the project).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from deploycheck.index.program import FOUND, MISSING
from deploycheck.index.summary import TYPING
from deploycheck.migrate.config import Migration
from deploycheck.migrate.dangling import Rules, Why
from deploycheck.migrate.history import History
from deploycheck.migrate.resolve import Resolver
from deploycheck.migrate.scan import FileRefs

# Kinds of reference, as reported.
IMPORT = "import"            # an import statement that binds old (or something inside old)
ATTRIBUTE = "attribute"      # old.ATTR
CALL = "call"                # old() with no arguments, when new is a call
NAME = "name"                # old used bare: passed, stored, compared
GETATTR = "getattr"          # getattr(module, "Old") and friends with a constant name
STRING = "string"            # a string constant that names old (mock.patch, settings, ...)
IMPORT_MODULE = "import_module"  # importlib.import_module("old.module") / __import__
ANNOTATION = "annotation"    # a string annotation that names old
STAR = "star-import"         # from old_module import *
EXPORT = "__all__"           # "Old" listed in the __all__ of a module that binds it to old


@dataclass(frozen=True)
class Reference:
    """One reference. ``line`` 1-based, ``column`` 0-based characters. ``reason`` says why ``apply`` cannot
    rewrite it (empty when it can). For the codemod: ``parts`` is the number of names of the chain that
    starting at (line, column) spells the expression to replace; ``attr`` the attribute of ``old`` it reads
    (None for ``old`` itself); ``called``: the expression is ``old()`` and the call is replaced too;
    ``binding`` the import ``(module, level, name, asname)`` for import references and for the import
    binding the chain's first name. ``dangling``: why a use of a name bound to nothing is a reference
    (``dangling.Why``; None for a use that resolves)."""

    path: str
    line: int
    column: int
    kind: str
    reason: str = ""
    parts: int = 0
    attr: str | None = None
    called: bool = False
    binding: tuple | None = None
    text: str = ""
    dangling: Why | None = None

    @property
    def rewritable(self) -> bool:
        return not self.reason


def _within(path: str | None, old: str) -> bool:
    return path is not None and (path == old or path.startswith(old + "."))


def _new_is_call(new: str) -> bool:
    return isinstance(ast.parse(new, mode="eval").body, ast.Call)


def find(migration: Migration, old: str, resolver: Resolver, refs: dict[str, FileRefs],
         modules: dict[str, str], history: History | None = None) -> list[Reference]:
    """References to ``old`` (the canonical path of ``migration.old``) in ``refs`` (scanned files by path).
    ``modules`` maps a file to its module name (files that are not modules, such as scripts, have none).
    ``history`` reads earlier versions of files for dangling uses (a new one by default). Sorted by path,
    line and column."""
    old_is_module = resolver.is_module(old)
    new_call = _new_is_call(migration.new)
    rules = Rules(old, resolver, refs, modules, history)
    program = resolver.program
    out: dict[tuple, Reference] = {}
    for path, fr in refs.items():
        if fr.summary.syntax_error:
            continue
        module = modules.get(path)
        is_pkg = path.endswith("__init__.py")
        bound: dict[str, tuple] = {}
        for imp in fr.imports:
            name, line, col = imp[2], imp[4], imp[5]
            imp_module, level, asname = imp[0], imp[1], imp[3]
            bound[asname or (name if name else imp_module.partition(".")[0])] = imp[:4]
            if name is None:
                target = imp_module
            elif name == "*":
                base = program.absolute(module or "", is_pkg, imp_module, level) if (module or not level) \
                    else None
                if base is not None and _within(base, old) and old_is_module:
                    out[(line, col, STAR, path)] = Reference(path, line, col, STAR, "a star import of the retired module",
                                                           text=f"from {'.' * level}{imp_module} import *")
                continue
            else:
                target = resolver.descriptor(module, is_pkg, ("f", imp_module, level, name))
            if not _within(target, old):
                continue
            shown = f"from {'.' * level}{imp_module} import {name}" if name else f"import {imp_module}"
            reason = "" if target == old else f"imports `{target}` from inside `{old}`"
            out[(line, col, IMPORT, path)] = Reference(path, line, col, IMPORT, reason, binding=imp[:4],
                                                     text=shown + (f" as {asname}" if asname else ""))
        stars = [s for s in fr.summary.imports if s.names == ("*",) and s.context != TYPING]
        dangling: list[Reference] = []  # uses of old's name bound to nothing, until a rule ties them to old
        for name, descs, attrs, line, col, store, called, how in fr.uses:
            if descs:
                bases = {resolver.descriptor(module, is_pkg, d) for d in descs}
            else:
                bases, maybe = set(), False
                for s in stars:
                    target = (program.absolute(module or "", is_pkg, s.module, s.level)
                              if (module or not s.level) else None)
                    found = program.exports(target, name) if target is not None else None
                    if found == FOUND:
                        bases.add(resolver.member(target, name))
                    elif found != MISSING:
                        maybe = True
                if not bases and not maybe and rules.unbound(name):
                    dangling.append(_classify(migration, path, name, attrs, 0, line, col, store, called, how,
                                              new_call))
                    continue
            for base in bases:
                if base is None or not (base == old or old.startswith(base + ".") or base.startswith(old + ".")):
                    continue
                if base.startswith(old + "."):
                    break  # bound by `from old_module import X`: the import is the reference
                paths = resolver.chain(base, attrs)
                k = next((i for i, p in enumerate(paths) if p == old), None)
                if k is None:
                    continue
                ref = _classify(migration, path, name, attrs, k, line, col, store, called, how, new_call)
                ref = Reference(**{**ref.__dict__, "binding": bound.get(name)})
                out[(line, col, ref.kind, path)] = ref
                break
        for value, line, col, how in fr.strings:
            if how == "all":
                ref = _export(value, path, line, col, module, is_pkg, fr, stars, old, resolver, rules)
                if ref is not None and ref.dangling is None:
                    out[(line, col, EXPORT, path)] = ref
                elif ref is not None:
                    dangling.append(ref)
                continue
            paths = resolver.dotted(value)
            if paths is None or not any(_within(p, old) for p in paths):
                continue
            kind = IMPORT_MODULE if how == "import_module" else STRING
            out[(line, col, kind, path)] = Reference(path, line, col, kind, "a string reference: edit it by hand",
                                                     text=repr(value))
        if dangling and not fr.summary.dynamic:
            why = rules.why(path)
            if why is not None:
                for ref in dangling:
                    out.setdefault((ref.line, ref.column, ref.kind, path),
                                   Reference(**{**ref.__dict__, "dangling": why}))
    return sorted(out.values(), key=lambda r: (r.path, r.line, r.column, r.kind))


_PENDING = Why("")  # marks a dangling __all__ entry until a rule is found for its file


def _export(value: str, path: str, line: int, col: int, module: str | None, is_pkg: bool, fr: FileRefs,
            stars: list, old: str, resolver: Resolver, rules: Rules) -> Reference | None:
    """A name listed in ``__all__``: a reference when the module binds it to ``old`` (or to something inside
    ``old``), except in the module that defines ``old`` (exporting it is part of defining it); a dangling
    one (``dangling`` set to a placeholder) when it spells ``old``'s name and the module binds it to nothing,
    so ``from module import *`` raises ``AttributeError``. Only a module has an ``__all__`` that counts."""
    if module is None or not value.isidentifier():
        return None
    reason = "a name in `__all__`: remove it, or export the replacement, by hand"
    if value in fr.summary.bindings or stars:
        target = resolver.member(module, value)
        if _within(target, old) and f"{module}.{value}" != old:
            return Reference(path, line, col, EXPORT, reason, text=repr(value))
        return None
    if (value not in fr.summary.bindings and not stars and rules.unbound(value)
            and not (is_pkg and resolver.program.find(f"{module}.{value}") is not None)):
        return Reference(path, line, col, EXPORT, reason, text=repr(value), dangling=_PENDING)
    return None


def _classify(m: Migration, path: str, name: str, attrs: tuple, k: int, line: int, col: int, store: bool,
              called: bool, how: str, new_call: bool) -> Reference:
    """The kind of a use whose first ``k + 1`` names spell ``old``, and whether it can be rewritten."""
    spelled = ".".join((name, *attrs[:k]))
    if how == "getattr":
        return Reference(path, line, col, GETATTR, "getattr with a constant name: edit it by hand",
                         text=f"getattr(…, {attrs[-1]!r})")
    if how == "annotation":
        return Reference(path, line, col, ANNOTATION, "a string annotation: edit it by hand", text=repr(spelled))
    if k == len(attrs):
        if called and new_call and not store:
            return Reference(path, line, col, CALL, parts=k + 1, called=True, text=spelled + "()")
        return Reference(path, line, col, NAME, f"`{spelled}` used bare: no mapping can rewrite it", text=spelled)
    attr = attrs[k]
    text = f"{spelled}.{attr}"
    if store and k + 1 == len(attrs):
        return Reference(path, line, col, ATTRIBUTE, f"assignment to `{text}`: edit it by hand", text=text)
    if attr not in m.attributes:
        return Reference(path, line, col, ATTRIBUTE, f"no mapping for attribute `{attr}` in [attributes]", text=text)
    return Reference(path, line, col, ATTRIBUTE, parts=k + 2, attr=attr, text=text)


def source_spans(source: bytes, refs: list[Reference]) -> list[str]:
    """The source text each reference of one file spans (parallel to ``refs``), as far as the end of its first
    line: the imported name with its ``as`` name for an import, ``*`` for a star import, the name chain (and
    ``()`` for a call) for a use, the whole string literal for a string, the call for ``getattr``. Positions
    are ``ast``'s end positions (Python 3.8+), turned from UTF-8 bytes into characters. A reference whose
    node cannot be found again (the file changed) spans its ``text``, cut at the end of the line."""
    lines = source.decode("utf-8", errors="replace").split("\n")
    raw = source.split(b"\n")

    def char(line: int, col: int) -> int:
        return len(raw[line - 1][:col].decode("utf-8", errors="replace")) if 0 < line <= len(raw) else col

    starts: dict[tuple[int, int], list[ast.AST]] = {}
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError):
        tree = None
    for node in ast.walk(tree) if tree is not None else ():
        if getattr(node, "end_col_offset", None) is not None:
            starts.setdefault((node.lineno, char(node.lineno, node.col_offset)), []).append(node)

    def names(node: ast.AST) -> int | None:
        n = 1
        while isinstance(node, ast.Attribute):
            n, node = n + 1, node.value
        return n if isinstance(node, ast.Name) else None

    def node_for(r: Reference) -> ast.AST | None:
        here = starts.get((r.line, r.column), [])
        if r.kind in (IMPORT, STAR):
            want: tuple = (ast.alias,)
        elif r.kind in (STRING, IMPORT_MODULE, ANNOTATION):
            want = (ast.Constant,)
        elif r.kind == GETATTR:
            want = (ast.Call,)
        else:
            spelled = r.text.removesuffix("()")
            n = spelled.count(".") + 1
            for node in here:
                if r.text.endswith("()") and isinstance(node, ast.Call) and not node.args and names(node.func) == n:
                    return node
                if not r.text.endswith("()") and isinstance(node, (ast.Name, ast.Attribute)) and names(node) == n:
                    return node
            return None
        return next((node for node in here if isinstance(node, want)), None)

    out = []
    for r in refs:
        text = lines[r.line - 1] if 0 < r.line <= len(lines) else ""
        node = node_for(r)
        if node is None:
            end = r.column + len(r.text)
        elif node.end_lineno == r.line:  # type: ignore[attr-defined]
            end = char(r.line, node.end_col_offset)  # type: ignore[attr-defined]
        else:
            end = len(text.rstrip())
        out.append(text[r.column:end].rstrip("\r"))
    return out
