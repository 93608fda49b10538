"""What a framework loader says: the modules a framework imports, and the functions it calls, at start-up or
at the first request.

A launcher or framework imports code that no import statement names: Django imports every app of
``INSTALLED_APPS``, the ``ROOT_URLCONF`` and each middleware class; gunicorn calls an app factory; Celery
imports the modules of ``include=``. A loader reads that statically from the code and settings (nothing of
the project runs) and answers with ``Edge`` and ``StartupCall`` values, which the import closure follows
like import statements (``Program.build_closure``).

Phases order when code runs, from a deploy's point of view: ``import`` (module-level code of what the
entries import), ``startup`` (framework set-up, worker boot, an app factory), ``request`` (what the first
request loads: URLconf, views, templates, middleware), ``call`` (a function body nobody is known to call).
All but ``call`` fail every deploy.
"""

from __future__ import annotations

from dataclasses import dataclass

from deploycheck.index.program import CALL, IMPORT, PHASES, REQUEST, STARTUP

__all__ = ["CALL", "CERTAIN", "DEFAULT", "IMPORT", "MAYBE", "PHASES", "REQUEST", "STARTUP", "Edge",
           "StartupCall", "later"]

# How sure an edge is (``Edge.basis``): the value naming the target is written in the code and always taken;
# it is the default of an environment variable, which the environment may override; or it is taken only
# under a condition that cannot be decided statically.
CERTAIN, DEFAULT, MAYBE = "certain", "default", "maybe"


def later(a: str, b: str) -> str:
    """The later of two phases (``PHASES`` order)."""
    return a if PHASES.index(a) >= PHASES.index(b) else b


@dataclass(frozen=True)
class Edge:
    """The framework imports module ``target`` because module ``importer`` names it at ``line`` (1-based; 0
    when no line names it, e.g. a convention such as ``APP.models``).

    ``step`` is how a chain shows the framework's part (``django.setup(): INSTALLED_APPS``, ``gunicorn loads
    the app``); ``phase`` is ``STARTUP`` or ``REQUEST``. ``attribute``, when given, is the name the framework
    then reads from ``target`` (the class of a dotted path ``pkg.mod.Class``): a path that names nothing is
    reported at ``importer:line``. ``optional`` edges follow a convention the framework tolerates missing
    (Django imports ``APP.models`` only if it exists): a missing target is not a finding. ``basis`` says how
    sure the edge is (``CERTAIN``, ``DEFAULT``, ``MAYBE``): only a certain edge carries an unshielded chain
    (what fails behind the others is not certain to crash), a missing target of a certain edge is an error,
    of a default one a warning, of a maybe one nothing."""

    importer: str
    target: str
    line: int
    step: str
    phase: str = STARTUP
    attribute: str | None = None
    optional: bool = False
    basis: str = CERTAIN


@dataclass(frozen=True)
class StartupCall:
    """The launcher or framework calls function ``qualname`` (``create_app``, ``ShopConfig.ready``) of module
    ``module`` in phase ``phase``; ``caller`` and ``line`` say where that is decided (the module whose code or
    settings names the function, and the line), ``step`` how a chain shows it. The function's body then runs
    in that phase: its imports are edges of the closure and its failing references crash the deploy."""

    module: str
    qualname: str
    caller: str
    line: int
    step: str
    phase: str = STARTUP
