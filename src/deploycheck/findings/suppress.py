"""Suppressions: ``# noqa: DC102`` on the finding's line in project code, and ``ignore`` / ``per-file-ignores``
from the configuration.

A bare ``# noqa`` (or one naming only other tools' codes) does not silence deploycheck: it is usually there
for a linter, and third-party code is full of them; a crash is not a style issue."""

from __future__ import annotations

import os
import re

from deploycheck.artifact.files import source_lines
from deploycheck.findings.finding import Finding
from deploycheck.target.config import Config
from deploycheck.target.patterns import linear_spec

_NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*))?", re.IGNORECASE)


def noqa_codes(line: str) -> set[str] | None:
    """Codes a source line suppresses: ``None`` for no noqa comment, an empty set for a bare ``# noqa``."""
    m = _NOQA.search(line)
    if not m:
        return None
    codes = m.group("codes")
    return set(re.split(r"[,\s]+", codes.upper().strip())) if codes else set()


class Suppressor:
    """Decides whether a finding is suppressed; reads each file's lines once."""

    def __init__(self, config: Config, root: str, site_dirs: list[str], files=None) -> None:
        self.files = files
        self.ignore = set(config.ignore)
        self.per_file = [(linear_spec([p]), set(c)) for p, c in config.per_file_ignores.items()]
        self.root = root
        self.site_dirs = site_dirs
        self._lines: dict[str, list[str]] = {}

    def line(self, path: str, lineno: int) -> str:
        if path not in self._lines:
            self._lines[path] = source_lines(path, self.files)
        lines = self._lines[path]
        return lines[lineno - 1] if 0 < lineno <= len(lines) else ""

    def suppressed(self, f: Finding) -> bool:
        return self.reason(f) is not None

    def reason(self, f: Finding) -> tuple[str, str] | None:
        """Why ``f`` is suppressed, as SARIF's suppression ``kind`` and a justification: ``("external",
        "ignore = [...] in the configuration")`` or ``("inSource", "# noqa: DC102")``; None when it is not."""
        if f.code in self.ignore:
            return "external", f"{f.code} in ignore (configuration)"
        for spec, codes in self.per_file:
            if f.code in codes and any(spec.match_file(p) for p in self._relative(f.path)):
                return "external", f"{f.code} in per-file-ignores (configuration)"
        if f.origin != "project":
            return None
        codes = noqa_codes(self.line(f.path, f.line))
        return ("inSource", f"# noqa: {f.code}") if codes is not None and f.code in codes else None

    def _relative(self, path: str) -> list[str]:
        out = [os.path.relpath(path, self.root)]
        for d in self.site_dirs:
            if path.startswith(d.rstrip(os.sep) + os.sep):
                out.append(os.path.relpath(path, d))
        return out
