"""Values whose placeholders are left unresolved (``${VAR}``, ``$(VAR)``, Helm ``{{ .Values.x }}``). Each
reader marks the placeholders of its own syntax, so that the literal parts around them can still be analyzed
(DC404: the scheme, host and query of a URL whose password is ``${DB_PASSWORD}``) without guessing what a
placeholder holds.

A marked template is the text as written, each placeholder enclosed in two private-use characters. For
parsing, ``holes`` replaces each placeholder by a token of private-use characters and digits, which contains
none of the characters that give a URL its structure (``:/?@&=#%``), so it stays inside the part that
holds it.
"""

from __future__ import annotations

import re

from deploycheck.regexes import compiled

_OPEN, _CLOSE = "\ue000", "\ue001"
# compiled when first used (``regexes.compiled``)
_MARKED = f"(?s){_OPEN}(.*?){_CLOSE}"
_TOKEN = f"{_OPEN}(\\d+){_CLOSE}"
_TOKEN_SPLIT = f"{_OPEN}\\d+{_CLOSE}"


def mark(placeholder: str) -> str:
    """A placeholder as written (``${TRACKER_PW}``), marked."""
    return f"{_OPEN}{placeholder}{_CLOSE}"


def written(template: str) -> str:
    """The template as written in its file."""
    return template.replace(_OPEN, "").replace(_CLOSE, "")


def holes(template: str) -> tuple[str, list[str]]:
    """``(text with each placeholder replaced by a token, the placeholders as written)``."""
    found: list[str] = []

    def token(m: re.Match) -> str:
        found.append(m.group(1))
        return f"{_OPEN}{len(found) - 1}{_CLOSE}"

    return compiled(_MARKED).sub(token, template), found


def literal_parts(text: str) -> list[str]:
    """The parts of a text made by ``holes`` between its tokens (what is known of it)."""
    return compiled(_TOKEN_SPLIT).split(text)


def unknown(part: str | None) -> bool:
    """Whether a part of a text made by ``holes`` holds a placeholder (its value is not known)."""
    return part is not None and _OPEN in part


def fill(text: str, placeholders: list[str]) -> str:
    """``text`` (a message about a text made by ``holes``) with each token written back as its placeholder."""
    return compiled(_TOKEN).sub(lambda m: placeholders[int(m.group(1))], text)
