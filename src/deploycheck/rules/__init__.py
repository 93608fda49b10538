"""Rules: one module per rule code, ``dcNNN_name.py``; its docstring is the rule's user documentation.

A rule module defines ``CODE``, ``NAME`` and ``check(ctx) -> Iterable[Finding]``; a rule of another command
than ``check`` also defines ``COMMAND`` and takes a code of that command's series (``SERIES``). Adding a
rule is adding its module here (it is found by its file name) and a fixture under
``tests/fixtures/rules/<CODE>/``.
"""

import importlib
import pkgutil
import re

# The codes of each command's rules (README, "Rules"), so that a command imports its own rules only: the
# static check's rules import most of the analyzer, which `deploycheck start` does not otherwise need.
SERIES = {"config": "dc4", "start": "dc6"}


def _modules(prefix: str = "dc") -> list:
    return [importlib.import_module(f"{__name__}.{info.name}")
            for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name)
            if re.fullmatch(r"dc\d{3}_\w+", info.name) and info.name.startswith(prefix)]


def of_command(command: str) -> list:
    """The rule modules whose ``COMMAND`` is ``command`` (``check`` when they name none), in code order;
    for a command of ``SERIES``, only the modules of its series are imported."""
    return [r for r in _modules(SERIES.get(command, "dc")) if getattr(r, "COMMAND", "check") == command]


def __getattr__(name: str) -> list:
    """``RULES``, every rule module in code order, imported when first asked for (PEP 562)."""
    if name == "RULES":
        global RULES
        RULES = _modules()
        return RULES
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
