"""Strawberry's lazy types: ``Annotated["Name", strawberry.lazy("pkg.module")]`` names a type of another module.

Strawberry's documentation ("Lazy types"): the string is not looked up in the module that writes it; when the
schema is built, strawberry imports the module given to ``lazy()`` (a leading dot makes it relative to the
writing module's package) and takes the name from it. So a name that only a type checker sees in the writing
module (GraphQL types of NetBox's apps refer to each other so, to avoid import cycles) is no undefined name
there: it is defined when the other module binds it.
"""

from __future__ import annotations

import ast


def lazy_names(tree: ast.AST) -> list[tuple[int, int, int, int, str, str]]:
    """The strings of ``Annotated[...]`` subscripts that also hold a ``lazy("module")`` call, as ``(line,
    column, end line, end column, name, module as written)``: 1-based lines, 0-based columns of the string
    literal, the name it holds and the module text given to ``lazy``."""
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Subscript) or not isinstance(node.slice, ast.Tuple):
            continue
        base = node.value
        if not ((isinstance(base, ast.Name) and base.id == "Annotated")
                or (isinstance(base, ast.Attribute) and base.attr == "Annotated")):
            continue
        first, *rest = node.slice.elts or [None]
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
            continue
        module = None
        for extra in rest:
            if isinstance(extra, ast.Call) and len(extra.args) == 1 and not extra.keywords:
                f = extra.func
                named = (isinstance(f, ast.Attribute) and f.attr == "lazy") or (isinstance(f, ast.Name)
                                                                                and f.id == "lazy")
                arg = extra.args[0]
                if named and isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    module = arg.value
        if module is not None and first.value.strip().isidentifier():
            out.append((first.lineno, first.col_offset, first.end_lineno or first.lineno,
                        first.end_col_offset or 0, first.value.strip(), module))
    return out


def resolve(program, importer: str, is_package: bool, written: str) -> str | None:
    """The absolute name of the module ``lazy(written)`` imports from module ``importer``; None when a
    relative one goes above the top-level package."""
    level = len(written) - len(written.lstrip("."))
    return program.absolute(importer, is_package, written.lstrip("."), level) if level else written
