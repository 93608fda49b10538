"""Gitignore-style patterns read from the project (``.gitignore``, ``.dockerignore``, ``exclude`` settings):
compiled once, matched without catastrophic backtracking, a bad line handled the way its reader handles it.

pathspec tries every pattern on every path (in Python): 40,000 patterns over 1,000 files took minutes. So
one list holds at most ``MAX_PATTERNS`` patterns (``DEPLOYCHECK_MAX_PATTERNS`` raises it; real ignore files
have a few hundred), and a path is first tried against all of them at once, as one regular expression per
few hundred patterns: only a path that some pattern matches goes through pathspec's own rules (the last
match wins, a negation, a directory)."""

from __future__ import annotations

import re

import pathspec
from pathspec.util import normalize_file

from deploycheck.errors import UsageError
from deploycheck.inputs import whole_number
from deploycheck.target.boundary import quote

try:
    from pathspec.patterns.gitignore.spec import GitIgnoreSpecPattern
except ImportError:  # an older pathspec: its own patterns
    GitIgnoreSpecPattern = None

_STAR = "[^/]*"  # what pathspec makes of a `*` within a path segment
_DEEP = "(?:/.+)?/"  # what it makes of a `/**/` between segments


_NEGATED_CLASS = re.compile(r"(?<!\\)\[\^(?!/\])")  # a negated class, not a star's [^/]


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
            regex = GitIgnoreSpecPattern._translate_segment_glob(pattern, range_error)
            # git's wildmatch never lets a bracket take '/'; pathspec's negated class ([!a] -> [^a]) does
            return _NEGATED_CLASS.sub("[^/", _linear_segment(regex))

        @classmethod
        def pattern_to_regex(cls, pattern):
            regex, include = super().pattern_to_regex(pattern)
            if isinstance(regex, str):
                regex = _linear_deep(regex)
            return regex, include
else:  # pragma: no cover
    _LinearPattern = None


MAX_PATTERNS = 5000
MAX_PATTERNS_VAR = "DEPLOYCHECK_MAX_PATTERNS"
_JOIN_FROM = 32  # patterns from which a path is first tried against all at once
_CHUNK = 256  # patterns per combined expression: the compile stays quick and within re's code size limit


def max_patterns() -> int:
    """The most patterns one list may hold: ``DEPLOYCHECK_MAX_PATTERNS`` when set, else ``MAX_PATTERNS``.
    Raises ``UsageError`` for a value that is not a whole number."""
    return whole_number(MAX_PATTERNS_VAR, MAX_PATTERNS, " of patterns")


class _Prefiltered:
    """A ``GitIgnoreSpec`` whose ``match_file`` first asks whether any pattern matches the path at all,
    with the patterns' own expressions joined by ``|`` (the answer pathspec would give when none does:
    not matched). Every other attribute is the spec's."""

    def __init__(self, spec: pathspec.PathSpec) -> None:
        self.spec = spec
        # a few patterns are quicker tried one by one than compiled a second time
        self.any: list[re.Pattern] | None = _joined(spec) if len(spec.patterns) > _JOIN_FROM else None

    def match_file(self, file, separators=None) -> bool:
        if self.any is not None:
            norm = normalize_file(file, separators)
            if all(r.search(norm) is None for r in self.any):
                return False
        return self.spec.match_file(file, separators)

    def __getattr__(self, name: str):
        return getattr(self.spec, name)


def _joined(spec: pathspec.PathSpec) -> list[re.Pattern] | None:
    sources = []
    for pattern in spec.patterns:
        regex = getattr(pattern, "regex", None)
        if pattern.include is None or regex is None:
            continue
        if not isinstance(regex.pattern, str) or regex.flags & ~re.UNICODE:
            return None  # not an expression that can be joined as is: no shortcut
        sources.append(regex.pattern.replace("(?P<ps_d>", "(?:"))
    try:
        return [re.compile("|".join(f"(?:{r})" for r in sources[i:i + _CHUNK]))
                for i in range(0, len(sources), _CHUNK)]
    except (re.error, OverflowError, RecursionError):
        return None


def linear_spec(lines: list[str]) -> pathspec.PathSpec:
    """pathspec's ``GitIgnoreSpec`` of ``lines``, each pattern matched without catastrophic backtracking,
    paths no pattern matches answered in one pass (``_Prefiltered``). Raises what pathspec raises for an
    invalid line (``ValueError``, ``re.error``)."""
    return _Prefiltered(pathspec.GitIgnoreSpec.from_lines(lines, _LinearPattern))  # type: ignore[return-value]


def check_count(lines: list[str], where: str) -> None:
    """Raise ``UsageError`` when ``lines`` hold more patterns (lines that are neither blank nor comments)
    than ``max_patterns()``; ``where`` names the list in the message."""
    limit = max_patterns()
    if len(lines) <= limit:
        return
    count = sum(1 for line in lines if line.strip() and not line.startswith("#"))
    if count > limit:
        raise UsageError(f"{where}: {count} patterns, over the limit of {limit} (raise it with "
                         f"{MAX_PATTERNS_VAR})")


def gitignore_spec(lines: list[str], where: str | None = None, name: str = "") -> pathspec.PathSpec:
    """A matcher of ``lines`` with gitignore semantics (git's "PATTERN FORMAT"). A line that is not a
    valid pattern is skipped, as git skips it; with ``where`` (how messages name the setting) it is a
    ``UsageError`` naming the setting and the pattern's position instead. More patterns than
    ``max_patterns()`` is a ``UsageError`` naming ``where`` (else ``name``)."""
    check_count(lines, where or name or "patterns")
    try:
        return linear_spec(lines)
    except Exception:  # noqa: BLE001, S110 -- pathspec raises ValueError or re.error for one bad line: find it
        pass
    good = []
    for number, line in enumerate(lines, 1):
        try:
            linear_spec([line])
        except Exception:  # noqa: BLE001 -- as above, for this line alone
            if where is not None:
                raise UsageError(f"{where}: pattern #{number} `{quote(line)}` is not a valid gitignore-style "
                                 "pattern") from None
            continue
        good.append(line)
    return linear_spec(good)
