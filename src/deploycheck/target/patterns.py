"""Gitignore-style patterns read from the project (``.gitignore``, ``exclude`` settings): compiled once,
a bad line handled the way its reader handles it."""

from __future__ import annotations

import pathspec

from deploycheck.errors import UsageError
from deploycheck.target.boundary import quote


def gitignore_spec(lines: list[str], where: str | None = None) -> pathspec.PathSpec:
    """A matcher of ``lines`` with gitignore semantics (git's "PATTERN FORMAT"). A line that is not a
    valid pattern is skipped, as git skips it; with ``where`` (how messages name the setting) it is a
    ``UsageError`` naming the setting and the pattern's position instead."""
    try:
        return pathspec.GitIgnoreSpec.from_lines(lines)
    except Exception:  # pathspec raises ValueError or re.error for one bad line: find it, and keep the rest
        pass
    good = []
    for number, line in enumerate(lines, 1):
        try:
            pathspec.GitIgnoreSpec.from_lines([line])
        except Exception:
            if where is not None:
                raise UsageError(f"{where}: pattern #{number} `{quote(line)}` is not a valid gitignore-style "
                                 "pattern") from None
            continue
        good.append(line)
    return pathspec.GitIgnoreSpec.from_lines(good)
