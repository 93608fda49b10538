"""Framework loaders: what Django, Flask, Celery and the launchers import and call beyond import statements.

One module per framework, each with a ``load(program) -> Loaded`` function, listed in ``LOADERS``. A loader
looks at the import closure built so far (``program.nodes``) and answers with edges and start-up calls
(``base``); ``close`` rebuilds the closure with them until no loader has anything new to add, so a loader
sees what the others made reachable (Celery's autodiscovery sees Django's installed apps).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from deploycheck.frameworks.base import Edge, StartupCall  # noqa: F401  (the loaders' vocabulary)
from deploycheck.index import syspath

# Each loader: a module of this package with ``load(program) -> Loaded``. Order does not matter: ``close``
# runs them all until nothing changes.
LOADERS: list = []

MAX_ROUNDS = 8  # each round can only add what the previous one made reachable; real stacks need 2 or 3


@dataclass
class Loaded:
    """What loaders found: edges and start-up calls, each at most once."""

    edges: list[Edge] = field(default_factory=list)
    calls: list[StartupCall] = field(default_factory=list)

    def add(self, other: Loaded) -> None:
        seen_e, seen_c = set(self.edges), set(self.calls)
        self.edges += [e for e in other.edges if e not in seen_e]
        self.calls += [c for c in other.calls if c not in seen_c]


def close(program, entries: list[str], settings_given: bool = False, loaders=None) -> list[str]:
    """Build ``program``'s import closure from ``entries`` with what the framework loaders add, and with the
    directories its modules put on ``sys.path`` (``index.syspath``), until a round adds nothing (at most
    ``MAX_ROUNDS``). Returns the entries that were not found (``build_closure``). ``settings_given`` is kept
    for callers: the target's environment, when known, is ``program.environ``."""
    loaders = LOADERS if loaders is None else loaders
    found = Loaded()
    missing = program.build_closure(entries)
    for _ in range(MAX_ROUNDS):
        new = Loaded()
        for loader in loaders:
            new.add(loader.load(program))
        before = (len(found.edges), len(found.calls))
        found.add(new)
        grew = syspath.extend(program)  # directories the closure's own code puts on sys.path
        if (len(found.edges), len(found.calls)) == before and not grew:
            break
        program.edges, program.calls = list(found.edges), list(found.calls)
        missing = program.build_closure(entries)
    return missing


# The loaders, imported once the vocabulary they use (``Loaded``) is defined.
from deploycheck.frameworks import (  # noqa: E402
    blueprints,
    celery,
    django,
    entrypoints,
    flask,
    jinja,
    launchers,
    shims,
)

LOADERS.extend([shims, django, celery, entrypoints, launchers, flask, blueprints, jinja])
