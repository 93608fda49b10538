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
    out: list[Migration] = []
    seen: set[str] = set()
    for i, table in enumerate(value, 1):
        where = f"{WHERE} #{i}"
        unknown = sorted(set(table) - _KEYS)
        if unknown:
            raise UsageError(f"{where}: unknown key `{unknown[0]}` (known: {', '.join(sorted(_KEYS))})")
        for key in ("id", "old", "new"):
            if key not in table:
                raise UsageError(f"{where}: missing `{key}`")
            if not isinstance(table[key], str) or not table[key].strip():
                raise UsageError(f"{where}: `{key}` must be a non-empty string")
        mid, old, new = table["id"], table["old"].strip(), table["new"].strip()
        if not _ID.match(mid):
            raise UsageError(f"{where}: id `{mid}` may hold only letters, digits, '-', '_' and '.'")
        if mid in seen:
            raise UsageError(f"{where}: duplicate id `{mid}`")
        seen.add(mid)
        if not _dotted(old):
            raise UsageError(f"{where} `{mid}`: old `{old}` is not a qualified name (like pkg.module.Name)")
        try:
            ast.parse(new, mode="eval")
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            raise UsageError(f"{where} `{mid}`: new `{quote(new)}` is not a Python expression (or one nested "
                             "too deeply to read)") from None
        attrs = table.get("attributes", {})
        if not isinstance(attrs, dict):
            raise UsageError(f"{where} `{mid}`: `attributes` must be a table of OLD_NAME = \"new_name\"")
        for k, v in attrs.items():
            if not isinstance(v, str) or not k.isidentifier() or not v.isidentifier():
                raise UsageError(f"{where} `{mid}`: attributes `{k}` must map an identifier to an identifier string")
        exclude = table.get("exclude", [])
        if not isinstance(exclude, list) or not all(isinstance(p, str) for p in exclude):
            raise UsageError(f"{where} `{mid}`: `exclude` must be a list of strings")
        gitignore_spec(exclude, f"{where} `{mid}` `exclude`")  # a bad pattern is named here, not met later
        out.append(Migration(mid, old, new, dict(attrs), tuple(exclude)))
    return out
