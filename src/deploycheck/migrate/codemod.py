"""The rewrite of one file with LibCST: ``old.ATTR`` becomes ``new.attr``, ``old()`` becomes ``new`` (when
``new`` is a call), imports of ``old`` are removed when nothing uses them any more, and the imports ``new``
needs are added. LibCST keeps every comment, blank line and bit of formatting it does not touch: only the
names that spell ``old`` (and the attribute name after them) are replaced, so parentheses, the whitespace
around the dot and comments inside parentheses stay. When an import statement is removed as a whole, the
comments on it (on the lines above it and at the end of its line) stay where it stood, as comment lines; a
comment that is a directive for that line alone (``# noqa``, ``# type: ignore``, ``# pragma: ...``,
``# pylint: ...``, ``# isort: ...``, ``# fmt: ...``) goes with it, since on a line of its own it would mean
something else (``# type: ignore`` at the top of a module silences mypy for the whole module).

The references to rewrite come from the engine (``finder``), located by line, column and the number of names
of the chain that spells them, so a name that merely looks like ``old`` is never touched.
"""

from __future__ import annotations

import ast
import re

import libcst as cst
from libcst.codemod import CodemodContext, VisitorBasedCodemodCommand
from libcst.codemod.visitors import AddImportsVisitor, RemoveImportsVisitor
from libcst.metadata import PositionProvider

from deploycheck.migrate.finder import ATTRIBUTE, CALL, Reference
from deploycheck.migrate.resolve import Resolver
from deploycheck.migrate.scan import FileRefs


class Conflict(Exception):
    """``new`` cannot be spelled in this file (the names it needs are bound to something else)."""


def _chain(node: ast.expr) -> list[str] | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    parts.reverse()
    return parts


def _build(parts: list[str]) -> ast.expr:
    node: ast.expr = ast.Name(parts[0], ast.Load())
    for p in parts[1:]:
        node = ast.Attribute(node, p, ast.Load())
    return node


def spell_new(new: str, fr: FileRefs, resolver: Resolver, module: str | None, is_pkg: bool
              ) -> tuple[str, list[tuple[str, str | None]]]:
    """``new`` as written in this file, and the imports to add (``(module, name)``; name None for
    ``import module``). Each dotted name in ``new`` that starts with a module (``app.core.config.get_x``) is
    spelled with a name the file already binds to the same object, else with ``from module import name``,
    else with ``import module``. Raises ``Conflict`` when the names needed are bound to something else."""
    bindings = fr.summary.bindings
    free = {u[0] for u in fr.uses if not u[1]}
    program = resolver.program
    needed: list[tuple[str, str | None]] = []

    def bound_to(target: str) -> str | None:
        for name, descs in bindings.items():
            if len(descs) == 1 and resolver.descriptor(module, is_pkg, descs[0]) == target:
                return name
        return None

    def spell(parts: list[str]) -> list[str]:
        i = 0
        while i < len(parts) and program.find(".".join(parts[: i + 1])) is not None:
            i += 1
        if i == 0:
            return parts  # a builtin or a name of the expression itself
        mod, rest = ".".join(parts[:i]), parts[i:]
        if rest:
            name = bound_to(resolver.member(mod, rest[0]))
            if name is not None:
                return [name, *rest[1:]]
        name = bound_to(mod)
        if name is not None:
            return [name, *rest]
        if rest and rest[0] not in bindings and rest[0] not in free:
            needed.append((mod, rest[0]))
            return rest
        top = mod.partition(".")[0]
        if (top not in bindings or bindings[top] == [("m", top)]) and top not in free:
            needed.append((mod, None))
            return [*mod.split("."), *rest]
        raise Conflict(f"`{'.'.join(parts)}` cannot be spelled here: `{rest[0] if rest else top}` and `{top}` "
                       "are bound to something else in this file")

    class _Spell(ast.NodeTransformer):
        def visit_Attribute(self, node):
            parts = _chain(node)
            return _build(spell(parts)) if parts else self.generic_visit(node)

        def visit_Name(self, node):
            return _build(spell([node.id]))

    tree = _Spell().visit(ast.parse(new, mode="eval"))
    return ast.unparse(tree), needed


def _keep_parens(new: cst.BaseExpression, old: cst.BaseExpression) -> cst.BaseExpression:
    """``new`` in ``old``'s parentheses (and the comments in them); its own are not needed inside them."""
    return new.with_changes(lpar=old.lpar, rpar=old.rpar) if old.lpar else new


def _atom(text: str) -> str:
    """``text`` safe to put where a primary expression stood (``x.attr``, ``f()``)."""
    node = ast.parse(text, mode="eval").body
    return text if isinstance(node, (ast.Name, ast.Attribute, ast.Call, ast.Subscript, ast.Constant)) else f"({text})"


class _Rewrite(VisitorBasedCodemodCommand):
    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, context: CodemodContext, attrs: dict, calls: dict, add: list) -> None:
        super().__init__(context)
        self.attrs = attrs  # (line, col, parts) -> (text replacing the names that spell old, new attribute)
        self.calls = calls  # (line, col, parts) -> replacement text
        self.add = add
        self.done: set[tuple] = set()

    def _key(self, node: cst.CSTNode) -> tuple[int, int, int] | None:
        n, base = 1, node
        while isinstance(base, cst.Attribute):
            n, base = n + 1, base.value
        if not isinstance(base, cst.Name):
            return None
        pos = self.get_metadata(PositionProvider, base).start
        return (pos.line, pos.column, n)

    def leave_Attribute(self, original_node, updated_node):
        key = self._key(original_node)
        if key in self.attrs:
            self.done.add(key)
            base, attr = self.attrs[key]
            value = _keep_parens(cst.parse_expression(base), updated_node.value)
            return updated_node.with_changes(value=value, attr=updated_node.attr.with_changes(value=attr))
        return updated_node

    def leave_Call(self, original_node, updated_node):
        if not original_node.args and isinstance(original_node.func, (cst.Name, cst.Attribute)):
            key = self._key(original_node.func)
            if key in self.calls:
                self.done.add(key)
                return _keep_parens(cst.parse_expression(self.calls[key]), updated_node)
        return updated_node

    def transform_module_impl(self, tree):
        tree = super().transform_module_impl(tree)
        if self.done:
            for module, name in self.add:
                AddImportsVisitor.add_needed_import(self.context, module, name)
        return tree


# A comment that directs a tool about its own line only.
_DIRECTIVE = re.compile(r"#\s*(noqa\b|type:\s*ignore|pragma\s*:|pylint\s*:|isort\s*:|fmt\s*:|mypy\s*:|pyright\s*:|ruff\s*:|nosec\b)")
_MARK = "__deploycheck_removed_import__"


class _RemoveImports(RemoveImportsVisitor):
    """LibCST's removal of unused imports, keeping the comments of a statement it removes: they move to the
    statement after it (or the end of the block) as comment lines. A blank line that only separated the
    removed statement is not doubled."""

    def leave_SimpleStatementLine(self, original_node, updated_node):
        if original_node.body and not updated_node.body:
            lines = list(updated_node.leading_lines)
            comment = updated_node.trailing_whitespace.comment
            if comment is not None and not _DIRECTIVE.match(comment.value):
                lines.append(cst.EmptyLine(comment=comment))
            # A line that holds only a marker: the block it is in moves its lines on (see _carry).
            return updated_node.with_changes(leading_lines=lines, body=[cst.Expr(cst.Name(_MARK))])
        return updated_node

    def leave_Module(self, original_node, updated_node):
        body, pending = _carry(updated_node.body)
        return updated_node.with_changes(body=body, footer=_join(pending, list(updated_node.footer)))

    def leave_IndentedBlock(self, original_node, updated_node):
        body, pending = _carry(updated_node.body)
        if not body:  # the block held only removed imports: `pass` keeps it, under their comments
            return updated_node.with_changes(body=[cst.SimpleStatementLine(
                [cst.Pass()], leading_lines=_split_tail(pending)[0])])
        return updated_node.with_changes(body=body, footer=_join(pending, list(updated_node.footer)))


def _is_mark(stmt) -> bool:
    return (isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 and isinstance(stmt.body[0], cst.Expr)
            and isinstance(stmt.body[0].value, cst.Name) and stmt.body[0].value.value == _MARK)


def _carry(body) -> tuple[list, list[cst.EmptyLine]]:
    """``body`` without the marker lines, their lines prepended to the next statement's; and the lines of
    markers at the end, which no statement follows."""
    out: list = []
    pending: list[cst.EmptyLine] = []
    for stmt in body:
        if _is_mark(stmt):
            pending.extend(stmt.leading_lines)
            continue
        if pending:
            stmt = stmt.with_changes(leading_lines=_join(pending, list(stmt.leading_lines)))
            pending = []
        out.append(stmt)
    return out, pending


def _join(carried: list[cst.EmptyLine], own: list[cst.EmptyLine]) -> list[cst.EmptyLine]:
    """The carried lines, then the statement's own; where the blank lines of both meet, the longer run only
    (so the blank line that separated the removed statement is not doubled)."""
    core, tail = _split_tail(carried)
    lead = 0
    while lead < len(own) and own[lead].comment is None:
        lead += 1
    return [*core, *(tail if len(tail) > lead else own[:lead]), *own[lead:]]


def _split_tail(lines: list[cst.EmptyLine]) -> tuple[list, list]:
    i = len(lines)
    while i > 0 and lines[i - 1].comment is None:
        i -= 1
    return lines[:i], lines[i:]


def rewrite(source: bytes, refs: list[Reference], attributes: dict[str, str], new_text: str,
            add: list[tuple[str, str | None]], imports: list[tuple[str, str | None, str | None]],
            module: str | None, is_pkg: bool) -> tuple[bytes, set[tuple]]:
    """The new bytes of one file, and the (line, column, parts) of the references actually rewritten.
    ``imports``: imports ``(absolute module, name, asname)`` to remove when nothing uses them afterwards.
    Raises ``libcst.ParserSyntaxError`` for a file LibCST cannot parse."""
    attrs: dict[tuple, tuple[str, str]] = {}
    calls: dict[tuple, str] = {}
    for r in refs:
        key = (r.line, r.column, r.parts)
        if r.kind == ATTRIBUTE and r.attr is not None:
            attrs[key] = (_atom(new_text), attributes[r.attr])
        elif r.kind == CALL:
            calls[key] = _atom(new_text)
    tree = cst.parse_module(source)
    package = (module if is_pkg else module.rpartition(".")[0] or None) if module else None
    ctx = CodemodContext(full_module_name=module, full_package_name=package)
    command = _Rewrite(ctx, attrs, calls, add)
    new = command.transform_module(tree)
    if imports:
        new = _RemoveImports(CodemodContext(full_module_name=module, full_package_name=package),
                             imports).transform_module(new)
    return new.bytes, command.done

