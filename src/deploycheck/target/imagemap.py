"""Where the repository is in an image, inferred from the files when neither a build file nor ``--app-dir``
says it.

The image's Python files are matched with the repository's by path: an image file ``D/x`` and a repository
file ``S/x`` with the same last components suggest that the repository's directory ``S`` was copied to the
image's ``D`` (``COPY . /srv/app`` gives ``S = ""``, ``COPY src/ /app/`` gives ``S = "src"``). Each suggested
pair is scored by how many of the repository's Python files under ``S`` are at their place under ``D``. The
best pair is the map when it is unique (no other pair scores as well) and covers a fair share of the
repository (``MIN_SHARE``); otherwise there is no map, and the caller says so. ``__init__.py`` files do not
suggest pairs (every package has one), but they count in the score.
"""

from __future__ import annotations

import os
import posixpath
from collections import Counter
from dataclasses import dataclass

from deploycheck.target.copymap import Copy, CopyMap, Ignore
from deploycheck.target.project import python_files

MIN_SHARE = 0.2  # of the repository's Python files under the copied directory that must be in the image
MAX_CANDIDATES = 16  # pairs scored file by file, the most suggested first
MAX_SUGGESTIONS = 200_000  # (image file, repository file) pairs looked at; past it, the best so far is scored


@dataclass
class Inferred:
    """The map (None when none can be inferred) and the sentence that says what was done."""

    mapping: CopyMap | None
    note: str


def infer(source: str, tree_root, files) -> Inferred:
    """Infer the map of the repository ``source`` (a directory on the host) into the image whose file tree
    starts at ``tree_root`` (``artifact.image.layers.Node``), reading presence through ``files``
    (``ImageFiles``)."""
    ignore = Ignore.read(source)
    repo = [os.path.relpath(p, source).replace(os.sep, "/") for p in python_files(source)]
    repo = [r for r in repo if ignore is None or not ignore.excluded_by(r)]  # not in the build context
    if not repo:
        return Inferred(None, _none("the repository has no Python files"))
    by_name: dict[str, list[str]] = {}
    for rel in repo:
        name = posixpath.basename(rel)
        if name != "__init__.py":
            by_name.setdefault(name, []).append(rel)
    votes: Counter = Counter()
    looked = 0
    for path in _python_paths(tree_root):
        for rel in by_name.get(posixpath.basename(path), ()):
            looked += 1
            pair = _pair(path, rel)
            if pair is not None:
                votes[pair] += 1
        if looked > MAX_SUGGESTIONS:
            break
    scored = []
    for (context, image), _ in votes.most_common(MAX_CANDIDATES):
        under = [r for r in repo if context == "" or r.startswith(context + "/")]
        hits = sum(files.is_file(posixpath.join(image, r[len(context):].lstrip("/"))) for r in under)
        scored.append((hits, len(under), context, image))
    scored.sort(key=lambda s: (-s[0], s[2], s[3]))
    if not scored or scored[0][0] < max(1, MIN_SHARE * scored[0][1]):
        return Inferred(None, _none("no directory of the image holds the repository's Python files"))
    hits, total, context, image = scored[0]
    rivals = [s[3] for s in scored[1:] if s[0] == hits and s[3] != image]
    if rivals:
        where = ", ".join([image] + rivals[:3])
        return Inferred(None, _none(f"the repository's Python files are in several directories of the image "
                                    f"({where})"))
    what = "the repository" if context == "" else f"its {context}/"
    copy = Copy(context, image, True, "inferred", f"inferred: {context or '.'} at {image}")
    flag = f", as --app-dir {image} would say" if context == "" else ""
    return Inferred(CopyMap(source, [copy], ignore),
                    f"DC501 and DC502 use a map inferred from the image's files: {what} is at {image} "
                    f"({hits} of {total} Python files there{flag}); --app-dir or --containerfile sets "
                    "another")


def _none(why: str) -> str:
    return ("DC501 and DC502 did not run: --source has no Containerfile or Dockerfile, no --app-dir was "
            f"given, and {why}; pass --app-dir PATH (where the repository is in the image) or "
            "--containerfile FILE")


def _pair(image_path: str, rel: str) -> tuple[str, str] | None:
    """The (repository directory, image directory) pair that an image file and a repository file of the same
    name suggest: their common last components are the copied part."""
    a, b = image_path.strip("/").split("/"), rel.split("/")
    n = 0
    while n < len(a) and n < len(b) and a[-1 - n] == b[-1 - n]:
        n += 1
    if n < len(b) and n < 2:
        return None  # only the file name agrees: too weak to suggest a directory
    context = "/".join(b[:len(b) - n])
    image = "/" + "/".join(a[:len(a) - n])
    return context, posixpath.normpath(image)


def _python_paths(root):
    """Paths of the regular ``.py`` files of an image tree, depth first (links not followed)."""
    stack = [("", root)]
    while stack:
        prefix, node = stack.pop()
        for name, child in (node.children or {}).items():
            path = f"{prefix}/{name}"
            if child.kind == "dir":
                stack.append((path, child))
            elif child.kind == "file" and name.endswith(".py"):
                yield path
