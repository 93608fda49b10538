"""Findings placed in the repository, for the machine formats (SARIF, JUnit, GitHub, GitLab) and baselines.

A code review annotates files of the repository, so each finding gets a location relative to the repository
root (POSIX separators) whenever one exists: its own file when that is in the repository; for an image
target, the repository file the image's file was copied from (``target.copymap``); for a third-party file,
the requirement line that installed its distribution (PEP 508 name, compared normalized as PEP 503 does).
Otherwise the location is the file's own path, and ``in_repository`` says it is not one of the repository.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from deploycheck.findings import fingerprint
from deploycheck.findings.finding import Finding


@dataclass
class Location:
    """``uri``: POSIX path relative to the repository root when ``in_repository``, else the absolute path
    (on the host, or in the image when ``in_image``). ``line`` 1-based (0: the file as a whole),
    ``column`` and ``end_column`` 1-based, the end exclusive (the symbol's extent). ``whole``: the finding
    is about the image as a whole and no file holds it; ``uri`` is then the image as the user named it."""

    uri: str
    in_repository: bool
    line: int = 0
    column: int = 1
    end_column: int = 2
    in_image: bool = False
    whole: bool = False


@dataclass
class Located:
    """A finding with its location, the import chain as locations with a message each, and its fingerprint
    (``findings.fingerprint``). ``via``: how the location was found when not the finding's own file
    (``requirement``, ``image map`` or ``build file``); ``suppression``: ``inSource`` (``# noqa``), ``external``
    (configuration, baseline) or None, with its ``justification``."""

    finding: Finding
    location: Location
    fingerprint: str = ""
    related: list[tuple[Location, str]] = field(default_factory=list)
    via: str = ""
    suppression: str | None = None
    justification: str = ""


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()  # PEP 503


class Placer:
    """Places findings. ``root``: the repository root (absolute); ``line_of(path, line)``: the text of a
    source line ('' when unknown or not to be read); ``to_repository(path)``: the repository path an image
    path was copied from, or None (None for a source tree); ``requirements``: ``(name, file, line)`` of
    each declared requirement."""

    def __init__(self, root: str, line_of: Callable[[str, int], str],
                 to_repository: Callable[[str], str | None] | None = None,
                 requirements: list[tuple[str, str, int]] = (), image: bool = False) -> None:
        self.root = os.path.abspath(root)
        self.line_of = line_of
        self.to_repository = to_repository
        self.image = image
        self.requirements: dict[str, tuple[str, int]] = {}
        for name, path, line in requirements:
            self.requirements.setdefault(_canonical(name), (path, line))

    def _relative(self, path: str) -> str | None:
        if not path:
            return None
        if self.to_repository is not None:
            return self.to_repository(path)
        rel = os.path.relpath(os.path.abspath(path), self.root)
        return None if rel == ".." or rel.startswith(".." + os.sep) else rel.replace(os.sep, "/")

    def file(self, path: str | None, line: int = 0, column: int = 1, width: int = 1,
             installed: bool = False) -> Location:
        """The location of ``path`` (absolute) at ``line``/``column`` (1-based), ``width`` characters wide.
        ``installed``: a file of the environment (third-party or standard library), never taken for one of
        the repository even when the environment lies inside it (an ignored ``.venv``)."""
        rel = None if installed else self._relative(path or "")
        end = column + max(width, 1)
        if rel is not None:
            return Location(rel, True, line, column, end)
        return Location(path or "<built-in>", False, line, column, end, in_image=self.image)

    def place(self, f: Finding) -> Located:
        text = self.line_of(f.path, f.line) if f.line else ""
        width = len(f.symbol) if f.symbol and text[f.column:f.column + len(f.symbol)] == f.symbol else 1
        own = self.file(f.path, f.line, f.column + 1, width, installed=f.origin != "project")
        out = Located(f, own)
        if not own.in_repository and f.distribution:
            declared = self.requirements.get(_canonical(f.distribution[0]))
            if declared is not None:
                req = self.file(declared[0], declared[1])
                if req.in_repository:
                    out.location, out.via = req, "requirement"
                    name, version = f.distribution
                    out.related.append((own, f"in {name} {version}, installed by this requirement"))
        elif own.in_repository and self.to_repository is not None:
            out.via = "image map"
        for hop in f.chain:
            loc = self.file(hop.path, hop.line, installed=bool(hop.path) and "-packages" + os.sep in hop.path)
            out.related.append((loc, f"{hop.module} imports the next module" + (f" ({hop.step})" if hop.step
                                                                                    else "")))
        out.fingerprint = fingerprint.base(f.code, own.uri if own.in_repository else _tail(own.uri),
                                           f.symbol, f.module, text)
        return out


def _tail(path: str) -> str:
    # a file outside the repository: its path from site-packages on, which stays the same when the
    # environment is made again elsewhere
    parts = path.replace(os.sep, "/").split("/")
    for marker in ("site-packages", "dist-packages"):
        if marker in parts:
            return "/".join(parts[parts.index(marker) + 1:])
    return path


def place_all(placer: Placer, findings: list[Finding],
              suppressed: list[tuple[Finding, str, str]] = ()) -> tuple[list[Located], list[Located]]:
    """The reported and the suppressed findings placed, with fingerprints unique over both (in the order
    given, which is the order in each file). ``suppressed``: ``(finding, kind, justification)``."""
    shown = [placer.place(f) for f in findings]
    hidden = []
    for f, kind, why in suppressed:
        item = placer.place(f)
        item.suppression, item.justification = kind, why
        hidden.append(item)
    everything = sorted(shown + hidden, key=lambda i: (i.location.uri, i.finding.line, i.finding.column))
    for item, fp in zip(everything, fingerprint.unique([i.fingerprint for i in everything]), strict=True):
        item.fingerprint = fp
    return shown, hidden
