"""Rules: one module per rule code, ``dcNNN_name.py``; its docstring is the rule's user documentation.

A rule module defines ``CODE``, ``NAME`` and ``check(ctx) -> Iterable[Finding]``. Adding a rule is adding its
module here (it is found by its file name) and a fixture under ``tests/fixtures/rules/<CODE>/``.
"""

import importlib
import pkgutil
import re

RULES = [
    importlib.import_module(f"{__name__}.{info.name}")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name)
    if re.fullmatch(r"dc\d{3}_\w+", info.name)
]
