"""What Jinja imports beyond import statements: the extensions an ``Environment`` is made with (Jinja's
"Extensions" documentation: ``Environment(extensions=["jinja2.ext.i18n"])``; ``Environment.__init__``
imports each string with ``jinja2.utils.import_string``: ``pkg.mod.Name`` or ``pkg.mod:Name``, the module
imported and the name read from it).

Followed where the environment is made at module level, or in a function that runs at start-up
(``index.startup``), by a call of ``jinja2``'s ``Environment`` or of a class whose bases lead to it (a
``SandboxedEnvironment``, prefect's ``UserTemplateEnvironment``), with ``extensions=`` a list or tuple of
constant strings. The extension's module is then imported in that phase, an edge from the module making the
environment at the string's line; a name it lacks is DC106 there.
"""

from __future__ import annotations

import ast

from deploycheck.frameworks import syntax
from deploycheck.frameworks.base import CERTAIN, MAYBE, Edge, later
from deploycheck.index.idioms import dotted_name

SPACE = "jinja-1"  # the cache space of ``extract``'s results
ENVIRONMENT = ("jinja2.environment", "Environment")  # the class every Jinja environment is made from
MAX_BASES = 50  # classes followed up from a callee, at most


def extract(tree: ast.Module) -> dict:
    """``{"environments": [(callee dotted name, [(string, line)], call line, conditional)]}``: calls with an
    ``extensions=`` list or tuple of constant strings, and whether an ``if``, loop, ``try`` or ``with`` of
    their function (or of the module level) stands in front of them."""
    finder = _Calls()
    finder.visit(tree)
    return {"environments": finder.found}


class _Calls(syntax.ConditionDepth):
    def visit_Call(self, node: ast.Call) -> None:
        callee = dotted_name(node.func)
        for k in node.keywords:
            if k.arg == "extensions" and callee and isinstance(k.value, (ast.List, ast.Tuple)) and all(
                    isinstance(e, ast.Constant) and isinstance(e.value, str) for e in k.value.elts):
                self.found.append((callee, [(e.value, e.lineno) for e in k.value.elts], node.lineno,
                                   self.depth > 0))
        self.generic_visit(node)


def _users(program) -> list[str]:
    """Modules of the closure with source that import ``jinja2`` (or a module of it)."""
    if "jinja2" not in program.nodes:
        return []
    out = []
    for name, node in program.nodes.items():
        if not node.module.has_source:
            continue
        summ = program.summary(name)
        if summ is not None and any(s.level == 0 and s.module.split(".")[0] == "jinja2" for s in summ.imports):
            out.append(name)
    return out


def _is_environment(program, module: str, callee: str) -> bool:
    """The callee of a call in ``module`` is Jinja's ``Environment`` or a class made from it."""
    mod = program.find(module)
    if mod is None:
        return False
    root, _, rest = callee.partition(".")
    cls = program.dotted_class(module, mod.is_package, root, rest) if rest else program.class_of(module, root)
    todo, seen = [cls], 0
    while todo and seen < MAX_BASES:
        c = todo.pop()
        seen += 1
        if c is None:
            continue
        if c == ENVIRONMENT:
            return True
        todo.extend(program.class_bases(c))
    return False


def load(program):
    """The extensions of the Jinja environments made at import or start-up (``Loaded``)."""
    from deploycheck.frameworks import Loaded

    found = Loaded()
    for module, facts in sorted(syntax.read(program, _users(program), extract, SPACE).items()):
        node = program.nodes[module]
        for callee, strings, line, conditional in facts["environments"]:
            reach = program.reached_at(module, line)
            if reach is None and _in_function(program, module, line):
                continue  # in a function nothing is known to call at start-up
            if not _is_environment(program, module, callee):
                continue
            phase = node.phase if reach is None else later(node.phase, reach.phase)
            basis = MAYBE if conditional or (reach is not None and reach.shield > 1) else CERTAIN
            for text, at in strings:
                target, sep, attr = text.rpartition(":") if ":" in text else text.rpartition(".")
                if not sep or not all(p.isidentifier() for p in (*target.split("."), attr)):
                    continue
                edge = Edge(module, target, at, f"{callee}(extensions=[...]) imports it", phase, attr, False,
                            basis)
                if edge not in found.edges:
                    found.edges.append(edge)
    return found


def _in_function(program, module: str, line: int) -> bool:
    from deploycheck.index import startup

    table = startup.table(program, module)
    return table is not None and table.innermost(line) >= 0
