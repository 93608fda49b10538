"""DC501 stale-file: the image holds application files that differ from the source at the revision it claims.

Why it crashes: the incident behind this project: the image was built from older code than the commit CI
tested, so a fix that was in the source was not in the image. With ``--source DIR [--rev REV]`` (default
``HEAD``; DIR a git repository), the Python files that the build file's ``COPY``/``ADD`` lines put in the
image (``Containerfile`` or ``Dockerfile`` in DIR, or ``--containerfile FILE``), or with ``--app-dir PATH``
every Python file under ``PATH`` (where the repository's root was copied, e.g. ``/srv/app``), are compared
with the file at that commit by git blob id (no checkout); each differing file is listed with both ids and,
when the repository's history has the image's version, the commit it came from. A file under a copied
directory that the source lacks is reported when the source has its directory. The image label
``org.opencontainers.image.revision``, when present, is compared with the revision too.

Example: ``/srv/app/app/db.py`` is blob ``3f2a…`` in the image, ``9c41…`` at ``HEAD``; the image's version is
from commit ``a1b2…``.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator

from deploycheck.findings.finding import ERROR, Finding
from deploycheck.rules.context import Context
from deploycheck.target import gitsource

CODE = "DC501"
NAME = "stale-file"


def check(ctx: Context) -> Iterator[Finding]:
    stale = ctx.stale
    if stale is None or stale.commit is None:
        return
    rev, commit = stale.rev, stale.commit
    label = stale.labels.get("org.opencontainers.image.revision")
    if label and not commit.startswith(label) and label != rev:
        yield Finding(CODE, ERROR, f"the image's label org.opencontainers.image.revision is {label}, "
                      f"but --rev {rev} is {commit[:12]}", "<image config: Labels>", 0, 0,
                      symbol="org.opencontainers.image.revision", origin="project")
    source = gitsource.tree(stale.repo, commit)
    hashing = gitsource.object_format(stale.repo)  # a SHA-256 repository names blobs by SHA-256
    source_dirs = {""}
    for p in source:
        while (p := posixpath.dirname(p)) and p not in source_dirs:
            source_dirs.add(p)
    files = ctx.distributions.files
    for path in _app_files(files, stale.mapping.image_roots()):
        rel = stale.mapping.source_path(path, source.__contains__)
        if rel is None or (rel not in source and posixpath.dirname(rel) not in source_dirs):
            continue  # not from the repository, or in a directory the source never had (made by the build)
        try:
            data = files.read_bytes(path)
        except (OSError, ValueError):
            continue
        image_blob = gitsource.blob_id(data, hashing)
        source_blob = source.get(rel)
        if source_blob is None:
            message = f"{rel} is in the image but not in the source at {rev} ({commit[:12]})"
        elif source_blob == image_blob:
            continue
        else:
            origin = gitsource.commits_with(stale.repo, image_blob, rel)
            came = f"; the image's version is from commit {origin[0][:12]}" if origin else \
                "; the image's version is in no commit of the repository"
            message = (f"{rel} differs from {rev} ({commit[:12]}): image blob {image_blob[:12]}, "
                       f"source blob {source_blob[:12]}{came}")
        yield Finding(CODE, ERROR, message, path, 0, 0, symbol=rel, origin="project")


def _app_files(files, roots: list[tuple[str, bool]]) -> list[str]:
    """The Python files in the image at the copies' destinations, sorted."""
    out = set()
    stack = []
    for path, is_dir in roots:
        if is_dir:
            stack.append(path)
        elif path.endswith(".py") and files.is_file(path):
            out.add(path)
    while stack:
        d = stack.pop()
        for name, is_dir in (files.listdir(d) or {}).items():
            full = posixpath.join(d, name)
            if is_dir:
                if name not in ("__pycache__", ".git") and not name.endswith((".dist-info", ".egg-info")):
                    stack.append(full)
            elif name.endswith(".py"):
                out.add(full)
    return sorted(out)
