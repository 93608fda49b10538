"""The rewrite of one file with LibCST: ``old.ATTR`` becomes ``new.attr``, ``old()`` becomes ``new`` (when
``new`` is a call), imports of ``old`` are removed when nothing uses them any more, and the imports ``new``
needs are added. LibCST keeps every comment, blank line and bit of formatting it does not touch.

The references to rewrite come from the engine (``finder``), located by line, column and the number of names
of the chain that spells them, so a name that merely looks like ``old`` is never touched.
"""

from __future__ import annotations

import ast

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


def _atom(text: str) -> str:
    """``text`` safe to put where a primary expression stood (``x.attr``, ``f()``)."""
    node = ast.parse(text, mode="eval").body
    return text if isinstance(node, (ast.Name, ast.Attribute, ast.Call, ast.Subscript, ast.Constant)) else f"({text})"


class _Rewrite(VisitorBasedCodemodCommand):
    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, context: CodemodContext, attrs: dict, calls: dict, add: list, remove: list) -> None:
        super().__init__(context)
        self.attrs = attrs  # (line, col, parts) -> replacement text
        self.calls = calls  # (line, col, parts) -> replacement text
        self.add = add
        self.remove = remove
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
            return cst.parse_expression(self.attrs[key])
        return updated_node

    def leave_Call(self, original_node, updated_node):
        if not original_node.args and isinstance(original_node.func, (cst.Name, cst.Attribute)):
            key = self._key(original_node.func)
            if key in self.calls:
                self.done.add(key)
                return cst.parse_expression(self.calls[key])
        return updated_node

    def transform_module_impl(self, tree):
        tree = super().transform_module_impl(tree)
        if self.done:
            for module, name in self.add:
                AddImportsVisitor.add_needed_import(self.context, module, name)
        for module, name, asname in self.remove:
            RemoveImportsVisitor.remove_unused_import(self.context, module, name, asname)
        return tree


def rewrite(source: bytes, refs: list[Reference], attributes: dict[str, str], new_text: str,
            add: list[tuple[str, str | None]], imports: list[tuple[str, str | None, str | None]],
            module: str | None, is_pkg: bool) -> tuple[bytes, set[tuple]]:
    """The new bytes of one file, and the (line, column, parts) of the references actually rewritten.
    ``imports``: imports ``(absolute module, name, asname)`` to remove when nothing uses them afterwards.
    Raises ``libcst.ParserSyntaxError`` for a file LibCST cannot parse."""
    attrs: dict[tuple, str] = {}
    calls: dict[tuple, str] = {}
    for r in refs:
        key = (r.line, r.column, r.parts)
        if r.kind == ATTRIBUTE and r.attr is not None:
            attrs[key] = f"{_atom(new_text)}.{attributes[r.attr]}"
        elif r.kind == CALL:
            calls[key] = _atom(new_text)
    tree = cst.parse_module(source)
    package = (module if is_pkg else module.rpartition(".")[0] or None) if module else None
    ctx = CodemodContext(full_module_name=module, full_package_name=package)
    command = _Rewrite(ctx, attrs, calls, add, imports)
    new = command.transform_module(tree)
    if len(tree.body) > 1 and len(new.body) > 1 and tree.body[1].leading_lines and not new.body[1].leading_lines:
        # A removed import takes its blank lines along; the statement now in its place gets them back.
        new = new.with_changes(body=[new.body[0], new.body[1].with_changes(leading_lines=tree.body[1].leading_lines),
                                     *new.body[2:]])
    return new.bytes, command.done

