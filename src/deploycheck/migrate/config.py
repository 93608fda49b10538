"""``[[tool.deploycheck.migrations]]``: the migrations a project declares (TOML array of tables).

Each table has ``id`` (letters, digits, ``-``, ``_``, ``.``), ``old`` (the retired symbol's qualified name: a
module, a class or a function), ``new`` (the Python expression that replaces it, such as
``app.core.config.get_unified_config()``), and optionally ``attributes`` (``ATTR = "attr"``: ``old.ATTR``
becomes ``new.attr``) and ``exclude`` (gitignore-style patterns of files not searched).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from deploycheck.errors import UsageError
from deploycheck.target.boundary import quote
from deploycheck.target.patterns import gitignore_spec

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_KEYS = {"id", "old", "new", "attributes", "exclude"}
WHERE = "pyproject.toml [[tool.deploycheck.migrations]]"

# Bounds on what a project declares; real projects declare a handful of migrations of short names. Every
# migration is looked for in every file, and a name is resolved one prefix at a time: past these, the time
# grows faster than the input (12,000 migrations, a 100,000-part name: minutes).
MAX_MIGRATIONS = 1000
MAX_NAME_PARTS = 64  # dotted parts of ``old``
MAX_NAME_CHARS = 1024


@dataclass(frozen=True)
class Migration:
    """One declared migration. ``old`` is a dotted name; ``new`` an expression (validated as Python syntax);
    ``attributes`` maps attribute names of ``old`` to attribute names of ``new``."""

    id: str
    old: str
    new: str
    attributes: dict[str, str] = field(default_factory=dict)
    exclude: tuple[str, ...] = ()


def _dotted(value: str) -> bool:
    return bool(value) and all(part.isidentifier() for part in value.split("."))


def parse(value: object) -> list[Migration]:
    """Validate the ``migrations`` value of ``[tool.deploycheck]``. Raises ``UsageError`` naming the first
    problem: not an array of tables, a missing or unknown key, a wrongly typed value, a duplicate ``id``,
    an ``old`` that is not a dotted name, a ``new`` that is not a Python expression, an attribute mapping
    that is not identifier to identifier."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        raise UsageError(f"{WHERE}: `migrations` must be an array of tables ([[tool.deploycheck.migrations]])")
    if len(value) > MAX_MIGRATIONS:
        raise UsageError(f"{WHERE}: {len(value)} migrations, over the limit of {MAX_MIGRATIONS}")
    out: list[Migration] = []
    seen: set[str] = set()
    for i, table in enumerate(value, 1):
        where = f"{WHERE} #{i}"
        unknown = sorted(set(table) - _KEYS)
        if unknown:
            raise UsageError(f"{where}: unknown key `{quote(unknown[0])}` (known: {', '.join(sorted(_KEYS))})")
        for key in ("id", "old", "new"):
            if key not in table:
                raise UsageError(f"{where}: missing `{key}`")
            if not isinstance(table[key], str) or not table[key].strip():
                raise UsageError(f"{where}: `{key}` must be a non-empty string")
        mid, old, new = table["id"], table["old"].strip(), table["new"].strip()
        if not _ID.match(mid):
            raise UsageError(f"{where}: id `{quote(mid)}` may hold only letters, digits, '-', '_' and '.'")
        if mid in seen:
            raise UsageError(f"{where}: duplicate id `{quote(mid)}`")
        seen.add(mid)
        where = f"{where} `{quote(mid)}`"
        if len(old) > MAX_NAME_CHARS or old.count(".") >= MAX_NAME_PARTS:
            raise UsageError(f"{where}: old `{quote(old)}` is longer than the limit of {MAX_NAME_PARTS} dotted "
                             f"parts and {MAX_NAME_CHARS} characters")
        if not _dotted(old):
            raise UsageError(f"{where}: old `{quote(old)}` is not a qualified name (like pkg.module.Name)")
        try:
            ast.parse(new, mode="eval")
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            raise UsageError(f"{where}: new `{quote(new)}` is not a Python expression (or one nested too deeply "
                             "to read)") from None
        attrs = table.get("attributes", {})
        if not isinstance(attrs, dict):
            raise UsageError(f"{where}: `attributes` must be a table of OLD_NAME = \"new_name\"")
        for k, v in attrs.items():
            if not isinstance(v, str) or not k.isidentifier() or not v.isidentifier():
                raise UsageError(f"{where}: attributes `{quote(k)}` must map an identifier to an identifier string")
        exclude = table.get("exclude", [])
        if not isinstance(exclude, list) or not all(isinstance(p, str) for p in exclude):
            raise UsageError(f"{where}: `exclude` must be a list of strings")
        gitignore_spec(exclude, f"{where} `exclude`")  # a bad pattern is named here, not met later
        out.append(Migration(mid, old, new, dict(attrs), tuple(exclude)))
    return out
