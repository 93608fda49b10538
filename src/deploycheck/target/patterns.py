"""Gitignore-style patterns read from the project (``.gitignore``, ``.dockerignore``, ``exclude`` settings):
compiled once, matched without catastrophic backtracking, a bad line handled the way its reader handles it."""

from __future__ import annotations

import pathspec

from deploycheck.errors import UsageError
from deploycheck.target.boundary import quote

try:
    from pathspec.patterns.gitignore.spec import GitIgnoreSpecPattern
except ImportError:  # an older pathspec: its own patterns
    GitIgnoreSpecPattern = None

_STAR = "[^/]*"  # what pathspec makes of a `*` within a path segment
_DEEP = "(?:/.+)?/"  # what it makes of a `/**/` between segments


def _linear_segment(regex: str) -> str:
    """A segment's regular expression in which no two `*` backtrack against each other.

    ``*a*a*b`` became ``[^/]*a[^/]*a[^/]*b``: against a long name that does not match, the regex engine tries
    every way to share the name among the stars (seconds per path for a handful of stars). Every chunk but
    the last is matched at its earliest place, atomically (``(?>[^/]*?chunk)``, Python 3.11): for a glob,
    whose chunks each match a fixed number of characters, the earliest place is never worse, so the meaning
    is unchanged and the matching is linear."""
    parts = regex.split(_STAR)
    if len(parts) <= 2:
        return regex
    middle = "".join(f"(?>[^/]*?{chunk})" for chunk in parts[1:-1] if chunk)
    return parts[0] + middle + _STAR + parts[-1]


def _linear_deep(regex: str) -> str:
    """The same for ``/**/``: with several, ``.+`` against ``.+`` tried every way to share a deep path among
    them. Every run of whole segments but the last is matched at its earliest place, atomically; the last
    stays greedy, so the match found (a directory or the path itself) is the one pathspec finds."""
    parts = regex.split(_DEEP)
    if len(parts) <= 2:
        return regex
    middle = "".join(f"(?>(?:/.+?)??/{chunk}(?=/))" for chunk in parts[1:-1])
    return parts[0] + middle + _DEEP + parts[-1]


if GitIgnoreSpecPattern is not None:
    class _LinearPattern(GitIgnoreSpecPattern):
        """pathspec's gitignore pattern, matched in time linear in the path for each placement of its
        leading and last ``**`` (``_linear_segment``, ``_linear_deep``)."""

        __slots__ = ()

        @staticmethod
        def _translate_segment_glob(pattern, range_error):
            return _linear_segment(GitIgnoreSpecPattern._translate_segment_glob(pattern, range_error))

        @classmethod
        def pattern_to_regex(cls, pattern):
            regex, include = super().pattern_to_regex(pattern)
            if isinstance(regex, str):
                regex = _linear_deep(regex)
            return regex, include
else:  # pragma: no cover
    _LinearPattern = None


def linear_spec(lines: list[str]) -> pathspec.PathSpec:
    """pathspec's ``GitIgnoreSpec`` of ``lines``, each pattern matched without catastrophic backtracking.
    Raises what pathspec raises for an invalid line (``ValueError``, ``re.error``)."""
    return pathspec.GitIgnoreSpec.from_lines(lines, _LinearPattern)


def gitignore_spec(lines: list[str], where: str | None = None) -> pathspec.PathSpec:
    """A matcher of ``lines`` with gitignore semantics (git's "PATTERN FORMAT"). A line that is not a
    valid pattern is skipped, as git skips it; with ``where`` (how messages name the setting) it is a
    ``UsageError`` naming the setting and the pattern's position instead."""
    try:
        return linear_spec(lines)
    except Exception:  # pathspec raises ValueError or re.error for one bad line: find it, and keep the rest
        pass
    good = []
    for number, line in enumerate(lines, 1):
        try:
            linear_spec([line])
        except Exception:
            if where is not None:
                raise UsageError(f"{where}: pattern #{number} `{quote(line)}` is not a valid gitignore-style "
                                 "pattern") from None
            continue
        good.append(line)
    return linear_spec(good)
