"""Where the repository's files are in an image: an ordered list of copies (context path → image path) taken
from the build file's ``COPY``/``ADD`` lines or from ``--app-dir``, and the build context's ignore file.

Paths in the context (the repository, ``--source``) are relative POSIX paths, ``""`` for its root; image paths
are absolute and normalized. Later copies win, as later layers do in the image (OCI image spec, layer
application order).
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field

import pathspec

from deploycheck.errors import UsageError
from deploycheck.target.boundary import MAX_IGNORE_BYTES, Boundary
from deploycheck.target.patterns import linear_spec


@dataclass(frozen=True)
class Copy:
    """One source of one ``COPY``/``ADD`` line: ``context`` (a file, or a directory whose contents land in
    ``image``), ``where`` the line that made it (``Containerfile:7``), ``instruction`` its text."""

    context: str
    image: str
    is_dir: bool
    where: str = ""
    instruction: str = ""

    def image_of(self, rel: str) -> str | None:
        """The image path this copy gives the context path ``rel``, or None when it does not copy it."""
        if rel == self.context:
            return self.image
        if self.is_dir and (self.context == "" or rel.startswith(self.context + "/")):
            return posixpath.join(self.image, rel[len(self.context):].lstrip("/"))
        return None

    def source_of(self, path: str) -> str | None:
        """The context path this copy puts at the image path ``path``, or None."""
        if path == self.image:
            return self.context
        if self.is_dir and path.startswith(self.image.rstrip("/") + "/"):
            return posixpath.join(self.context, path[len(self.image.rstrip("/")) + 1:])
        return None


class Ignore:
    """The build context's ignore file with Docker's semantics (docs.docker.com, "build context",
    .dockerignore): patterns are rooted at the context (a leading ``/`` is dropped, ``*.md`` matches only at
    the top), cleaned like Go's ``filepath.Clean``, ``**`` matches any number of directories, a pattern also
    excludes everything under a directory it matches, and ``!`` patterns re-include; the last matching
    pattern decides. Matching of each pattern is pathspec's gitignore-style matcher, anchored."""

    def __init__(self, name: str, lines: list[str]) -> None:
        self.name = name
        self.patterns: list[tuple[str, int, bool, pathspec.PathSpec]] = []  # text, line, excludes, matcher
        for number, raw in enumerate(lines, 1):
            text = raw.strip()
            if not text or text.startswith("#"):
                continue
            excludes = not text.startswith("!")
            body = posixpath.normpath(text.lstrip("!").strip()).lstrip("/")
            if body in ("", "."):
                continue
            try:
                spec = linear_spec(["/" + body])
            except Exception:  # pathspec's ValueError or re.error; the build refuses such a pattern too
                raise UsageError(f"{name}:{number}: not a valid pattern") from None
            self.patterns.append((text, number, excludes, spec))

    @classmethod
    def read(cls, context: str, build_file: str | None = None) -> Ignore | None:
        """The ignore file buildah and BuildKit read: ``<build file>.dockerignore`` beside the build file,
        else ``.containerignore``, else ``.dockerignore`` at the context root; None when there is none."""
        candidates = [build_file + ".dockerignore"] if build_file else []
        candidates += [os.path.join(context, ".containerignore"), os.path.join(context, ".dockerignore")]
        boundary = Boundary(context)
        for path in candidates:
            name = os.path.basename(path)
            got = boundary.read(path, MAX_IGNORE_BYTES, name)
            if got is None:
                continue
            data, outside = got
            if outside and boundary.named_inside(path):
                raise UsageError(f"{name} is a link to a file outside the repository: deploycheck reads the "
                                 "project's settings and build files only from inside it")
            return cls(name, data.decode("utf-8", errors="replace").splitlines())
        return None

    def excluded_by(self, rel: str) -> str | None:
        """The pattern (as written) that leaves ``rel`` out of the build context, or None when it is in."""
        for text, _line, excludes, spec in reversed(self.patterns):
            if spec.match_file(rel):
                return text if excludes else None
        return None


@dataclass
class CopyMap:
    """Repository paths ↔ image paths. ``build_file`` is the build file's name for messages (None for
    ``--app-dir``); ``notes`` are the lines that bring files the map does not follow (URLs, archives, other
    images), with the reason; ``instructions`` the 1-based line of the instructions that set what the image
    runs (``CMD``, ``ENTRYPOINT``, ``EXPOSE``, ``HEALTHCHECK``, ``STOPSIGNAL``, ``USER``) in the final stage
    (or a stage it is built FROM), the last of each kind, as the build keeps the last."""

    context: str
    copies: list[Copy]
    ignore: Ignore | None = None
    build_file: str | None = None
    notes: list[str] = field(default_factory=list)
    instructions: dict[str, int] = field(default_factory=dict)

    def excluded_by(self, rel: str) -> str | None:
        return self.ignore.excluded_by(rel) if self.ignore else None

    def _on_disk(self, rel: str) -> bool:
        return os.path.isfile(os.path.join(self.context, rel))

    def source_path(self, path: str, exists: Callable[[str], bool] | None = None) -> str | None:
        """The repository path whose file is at the image path ``path``: from the last copy that holds it
        and whose source ``exists`` (default: the file is in the context on disk), else the last copy that
        covers the path at all; None when no copy does or the ignore file leaves it out."""
        exists = exists or self._on_disk
        nominal = None
        for copy in reversed(self.copies):
            rel = copy.source_of(path)
            if rel is None or self.excluded_by(rel):
                continue
            if exists(rel):
                return rel
            nominal = nominal or rel
        return nominal

    def image_path(self, rel: str) -> str | None:
        """Where the repository file ``rel`` is in the image: the destination of the last copy of it that no
        later copy overwrites; None when it is not copied (or the ignore file leaves it out)."""
        if self.excluded_by(rel):
            return None
        for copy in reversed(self.copies):
            path = copy.image_of(rel)
            if path is not None and self.source_path(path) == rel:
                return path
        return None

    def image_roots(self) -> list[tuple[str, bool]]:
        """The copies' destinations, ``(image path, is a directory)``, in order, without repeats."""
        return list(dict.fromkeys((c.image, c.is_dir) for c in self.copies))

    def candidates(self, path: str) -> list[tuple[str, list[Copy]]]:
        """Repository paths that would be at the image path ``path``, best first, each with the copies that
        suggest it in the build file's order: the copies covering the path (ignore file not applied), then the directories that the
        copies of its neighbours put side by side (``COPY main.py /srv/app/`` puts the context root at
        ``/srv/app``, so ``/srv/app/lib/util.py`` would be ``lib/util.py``)."""
        out: dict[str, list[Copy]] = {}
        for copy in reversed(self.copies):
            rel = copy.source_of(path)
            if rel is not None:
                out.setdefault(rel, []).append(copy)
        pairs: list[tuple[str, str, Copy]] = []
        for copy in self.copies:
            img, ctx = (copy.image, copy.context) if copy.is_dir else (
                posixpath.dirname(copy.image), posixpath.dirname(copy.context))
            if not copy.is_dir and posixpath.basename(copy.image) != posixpath.basename(copy.context):
                continue  # renamed on the way: says nothing about the directories
            while True:
                pairs.append((img, ctx, copy))
                if not ctx or posixpath.basename(img) != posixpath.basename(ctx):
                    break
                img, ctx = posixpath.dirname(img), posixpath.dirname(ctx)
        for img, ctx, copy in sorted(pairs, key=lambda p: -len(p[0])):
            if path.startswith(img.rstrip("/") + "/"):
                rel = posixpath.join(ctx, path[len(img.rstrip("/")) + 1:])
                if copy not in out.setdefault(rel, []):
                    out[rel].append(copy)
        order = {id(c): i for i, c in enumerate(self.copies)}
        return [(rel, sorted(copies, key=lambda c: order[id(c)])) for rel, copies in out.items()]

    def why_missing(self, rel: str, copies: list[Copy]) -> str:
        """Why the repository file ``rel`` is not in the image, for DC502: the ignore pattern, or the copy
        lines that bring its neighbours and not it."""
        pattern = self.excluded_by(rel)
        name = self.ignore.name if self.ignore else ".dockerignore"
        if pattern:
            return f"{name} pattern '{pattern}' excludes it"
        if self.build_file is None:
            return f"no {name} pattern excludes it, so no COPY/ADD line brings it in"
        covering = [c for c in copies if c.image_of(rel) is not None]
        if covering:
            return (f"{covering[-1].where} copies it, yet the image lacks it (built from another context, or "
                    "a later step removed it)")
        lines = ", ".join(dict.fromkeys(c.where for c in copies)) or "none"
        return f"no COPY/ADD line of {self.build_file} copies it (COPY lines: {lines})"


def from_app_dir(context: str, app_dir: str) -> CopyMap:
    """The map of ``--app-dir PATH``: the whole repository copied to ``PATH``, less what the ignore file
    excludes."""
    image = posixpath.normpath("/" + app_dir.lstrip("/"))
    return CopyMap(context, [Copy("", image, True, "--app-dir", f"--app-dir {app_dir}")], Ignore.read(context))


@dataclass
class ImageSource:
    """What DC501 and DC502 compare the image with: the repository (``--source``), the revision and its
    commit (None when the source is not a git repository and no ``--rev`` was given: DC501 is off), the
    map, and the image's labels."""

    repo: str
    rev: str
    commit: str | None
    mapping: CopyMap
    labels: dict = field(default_factory=dict)
