"""The names of the standard library's build-independent built-in and extension modules, per CPython minor
version, for interpreters deploycheck does not run (an image's).

The table (``data/builtin_names.json``) is written by ``scripts/builtin_names.py`` from real interpreters: for
each minor version, ``dir()`` without dunder names of modules such as ``itertools``, ``math``, ``_datetime``
and ``_functools`` whose names depend on the minor version alone, never on the platform, the C library,
configure flags or linked libraries. Where several builds of a minor version were measured, each module's
names are their union.
"""

from __future__ import annotations

import json
from functools import cache


@cache
def _table() -> dict:
    from importlib import resources  # only images need the table

    text = resources.files("deploycheck.environment").joinpath("data/builtin_names.json").read_text("utf-8")
    return json.loads(text)


def module_names(major: int, minor: int) -> dict[str, frozenset[str]]:
    """``{module: names}`` for CPython ``major.minor``; ``{}`` when the table has no such version."""
    modules = _table()["modules"].get(f"{major}.{minor}", {})
    return {name: frozenset(names) for name, names in modules.items()}


def measured_builds(major: int, minor: int) -> list[str]:
    """The ``sys.version`` strings of the builds the table of ``major.minor`` was measured on."""
    return list(_table()["generated_from"].get(f"{major}.{minor}", []))
