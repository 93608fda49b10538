"""What Flask loads beyond import statements (Flask 3.1's documentation: "Application Discovery", "Application
Factories", "Configuration Handling").

- ``flask --app APP`` and ``FLASK_APP`` (``environment.launcher``): Flask imports the module; with
  ``MODULE:NAME`` it calls ``NAME`` when that is a function (``MODULE:NAME(args)`` always); with a module
  only, it uses ``app`` or ``application`` when the module has one, else calls ``create_app`` or
  ``make_app``. A factory's body is start-up code (``index.startup``): the blueprints it imports and
  registers (``app.register_blueprint(bp)``) are imported at start-up, their failures fail the deploy.
- A factory called at module level (``app = create_app()``) runs at import: that is ``index.startup``'s.
- ``app.config.from_object("pkg.settings.Prod")``: werkzeug's ``import_string`` imports ``pkg.settings``
  and reads ``Prod`` (or imports the submodule ``pkg.settings.Prod``). Read where the call runs: at module
  level, or in a function called at start-up; a string naming nothing is a finding at that line (DC106).
"""

from __future__ import annotations

import ast

from deploycheck.frameworks import launchers, syntax
from deploycheck.frameworks.base import CERTAIN, MAYBE, Edge, later
from deploycheck.index import startup
from deploycheck.index.idioms import dotted_name
from deploycheck.index.program import FOUND

SPACE = "flask-1"  # the cache space of ``extract``'s results
STEP = "app.config.from_object()"
APPS = ("app", "application")  # what Flask's discovery uses as the app, in order
FACTORIES = ("create_app", "make_app")  # the factories it calls when the module has no app


def extract(tree: ast.Module) -> dict:
    """``{"objects": [(dotted string, line, conditional)]}``: the ``X.config.from_object("...")`` calls with
    a constant string, and whether an ``if``, loop, ``try`` or ``with`` of their function (or of the module
    level) stands in front of them."""
    finder = _Objects()
    finder.visit(tree)
    return {"objects": finder.found}


class _Objects(syntax.ConditionDepth):
    def visit_Call(self, node: ast.Call) -> None:
        if ((dotted_name(node.func) or "").endswith(".config.from_object") and len(node.args) == 1
                and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            self.found.append((node.args[0].value, node.lineno, self.depth > 0))
        self.generic_visit(node)


def flask_users(program) -> list[str]:
    """Project modules of the closure that import Flask."""
    if "flask" not in program.nodes:
        return []
    users = []
    for name, node in program.nodes.items():
        if node.origin != "project" or not node.module.has_source:
            continue
        summ = program.summary(name)
        if summ is not None and any(s.level == 0 and s.module.split(".")[0] == "flask" for s in summ.imports):
            users.append(name)
    return users


def _config_edges(program) -> list[Edge]:
    edges = []
    for module, facts in sorted(syntax.read(program, flask_users(program), extract, SPACE).items()):
        node = program.nodes[module]
        for text, line, conditional in facts["objects"]:
            parts = text.split(".")
            if not all(p.isidentifier() for p in parts):
                continue
            table_reach = program.reached_at(module, line)
            if table_reach is None and _in_function(program, module, line):
                continue  # in a function nothing is known to call at start-up
            phase = node.phase if table_reach is None else later(node.phase, table_reach.phase)
            basis = MAYBE if conditional or (table_reach is not None and table_reach.shield > 1) else CERTAIN
            if len(parts) == 1 or program.find(text) is not None:
                edges.append(Edge(module, text, line, STEP, phase, None, False, basis))
            else:
                target, _, attr = text.rpartition(".")
                edges.append(Edge(module, target, line, STEP, phase, attr, False, basis))
    return edges


def _in_function(program, module: str, line: int) -> bool:
    table = startup.table(program, module)
    return table is not None and table.innermost(line) >= 0


def _discovered(program, start) -> object | None:
    """Flask's discovery in a module named without an object (``flask --app pkg``): the start it makes."""
    for name in APPS:
        if program.has_name(start.module, name) == FOUND:
            return None  # the app object: nothing is called
    for name in FACTORIES:
        if program.has_name(start.module, name) == FOUND:
            return start._replace(attribute=name, call=True)
    return None


def load(program):
    """The factories Flask's command line calls and the configuration objects Flask imports (``Loaded``)."""
    from deploycheck.frameworks import Loaded

    found = Loaded()
    for start in launchers.starts(program):
        if start.who != "flask" or start.module not in program.nodes:
            continue
        if start.attribute is None:
            start = _discovered(program, start)
            if start is None:
                continue
        call = launchers.factory(program, start, "flask")
        if call is not None and call not in found.calls:
            found.calls.append(call)
    found.edges.extend(e for e in _config_edges(program) if e not in found.edges)
    return found

