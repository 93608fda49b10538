"""Whether an environment value parses as a pydantic-settings field of a simple scalar type (``int``,
``float``, ``bool``, and ``Optional`` of those). pydantic-settings hands such a value to pydantic as a
string, validated in lax mode (pydantic docs, "Conversion Table": str -> int, float, bool). The rules below
were read off pydantic 2 (pydantic-core) itself, value by value:

- int: surrounding white space ignored; ASCII digits with an optional sign, single ``_`` between digits, and
  an optional fraction of zeros only (``10``, `` 10 ``, ``+10``, ``1_000``, ``10.0``); not ``10.5``,
  ``1e3``, ``0x10``, ``10.``, an empty value, nor non-ASCII digits;
- float: surrounding white space ignored; what Python's ``float`` reads in ASCII (``1.5``, ``.5``, ``1e3``,
  ``inf``, ``infinity``, ``nan`` in any case), ``_`` allowed except first, last or doubled; not an empty value,
  ``1,5`` nor ``0x10``;
- bool: exactly (no white space) one of ``1 0 true false yes no on off t f y n``, in any case.
"""

from __future__ import annotations

import re

TYPES = {"int": "integer", "float": "number", "bool": "boolean"}
_INT = re.compile(r"[+-]?[0-9]+(?:_[0-9]+)*(?:\.0+)?")
_BOOL = {"1", "0", "true", "false", "yes", "no", "on", "off", "t", "f", "y", "n"}


def valid(kind: str, value: str) -> bool:
    """Whether pydantic accepts ``value`` (the environment's text) for a field of type ``kind`` (``int``,
    ``float`` or ``bool``)."""
    if kind == "bool":
        return value.lower() in _BOOL
    text = value.strip()
    if not text.isascii():
        return False
    if kind == "int":
        return _INT.fullmatch(text) is not None
    if text.startswith("_") or text.endswith("_") or "__" in text:
        return False
    try:
        float(text.replace("_", ""))
    except ValueError:
        return False
    return True
