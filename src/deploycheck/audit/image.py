"""The image's verdict for ``audit --image``: does the image hold, for each file of the crash's frames, the
file of the revision it claims, and if not, which commit its version came from ("the image held older code
than the commit").

This is DC501's comparison (``rules.dc501_stale_file``) asked of a few paths: the image is read through the
same readers as ``check IMAGE`` (every transport of ``artifact.image.source``), its paths are mapped to the
repository's by the build file's ``COPY``/``ADD`` lines, ``--app-dir``, or the map inferred from the image's
files (``target.copymap``, ``target.imagemap``), and files are compared by git blob id, never by checkout.
The claimed revision is the ``rev`` argument, else the image's ``org.opencontainers.image.revision`` label
(OCI image spec, annotations.md, "Pre-Defined Annotation Keys"; image config ``Labels``).
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from deploycheck.errors import UsageError
from deploycheck.target import containerfile, copymap, gitsource, imagemap

REVISION_LABEL = "org.opencontainers.image.revision"
MAX_PATHS = 200  # distinct frame paths compared; a traceback has tens at most
SHOWN = 120  # characters of a commit subject or label shown

# What a file's comparison found (``FileVerdict.state``).
MATCHES = "matches"  # the image's file is the claimed revision's
OLDER = "older"  # it is the file of a commit before the claimed revision
NEWER = "newer"  # of a commit after it
ELSEWHERE = "elsewhere"  # of a commit on a line of history the claimed revision does not contain
IN_HISTORY = "in-history"  # of a commit, and the image claims no revision to compare with
NO_COMMIT = "no-commit"  # of no commit of the repository
NOT_IN_IMAGE = "not-in-image"  # the image has no regular file at the path
UNMAPPED = "unmapped"  # no repository path is known for the image path
UNREADABLE = "unreadable"  # the image's file is over the size limit or its contents were not kept
DIFFERS = (OLDER, NEWER, ELSEWHERE, NO_COMMIT)


@dataclass(frozen=True)
class Origin:
    """A commit whose version of the file is the image's: ``commit`` (full id), ``date`` (committer date,
    ISO 8601), ``subject`` (first line of the message), ``before``/``after``: how many commits the claimed
    revision has that this one lacks, and the reverse (``git rev-list --count``); both None without a claimed
    revision."""

    commit: str
    date: str
    subject: str
    before: int | None = None
    after: int | None = None


@dataclass(frozen=True)
class FileVerdict:
    """One frame path: ``path`` as the traceback gave it, ``image_path`` (absolute, in the image), ``rel``
    (the repository path, None when unmapped), ``state`` (one of the module's state names), the blob ids
    (``image_blob``, ``source_blob`` at the claimed revision; None when unknown or absent), ``origins`` (the
    commits whose version equals the image's, the most telling first) and ``sentence``: what was found, for
    the report."""

    path: str
    image_path: str
    rel: str | None
    state: str
    sentence: str
    image_blob: str | None = None
    source_blob: str | None = None
    origins: tuple[Origin, ...] = ()


@dataclass(frozen=True)
class ImageVerdict:
    """The verdict on an image: ``image`` (the target as given), ``claimed`` (the revision text it claims,
    None when neither ``rev`` nor the label gives one), ``commit`` (its full id, None then),
    ``claim_source`` (``"--rev"``, ``"label"`` or None), ``label`` (the image's revision label, None when it
    has none), ``files`` (one per distinct frame path, in the order given) and ``notes`` (how the paths
    were mapped, a label that disagrees with ``--rev``, a label the repository lacks)."""

    image: str
    claimed: str | None
    commit: str | None
    claim_source: str | None
    label: str | None
    files: tuple[FileVerdict, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def stale(self) -> bool:
        """Whether some frame's file in the image differs from the claimed revision's."""
        return any(f.state in DIFFERS for f in self.files)

    def to_json(self) -> dict:
        """The verdict as JSON-ready data: every field (files and their origins as objects), ``stale`` and
        ``summary``."""
        return {**asdict(self), "stale": self.stale, "summary": self.summary()}

    def summary(self) -> str:
        """One sentence: the image held older code than the commit it claims, or matched it, or what is
        unknown and what would decide it."""
        if self.commit is None:
            return ("unknown whether the image holds the code it was meant to: it claims no revision (no "
                    f"{REVISION_LABEL} label the repository has); --rev REV would decide it")
        claim = _claim_text(self.claimed, self.commit)
        if not self.files:
            return f"no path of the crash's frames was given to compare with {claim}"
        older = [f for f in self.files if f.state == OLDER]
        if older:
            return (f"the image held older code than the commit {claim}: "
                    + "; ".join(f.sentence for f in older))
        differs = [f for f in self.files if f.state in DIFFERS]
        if differs:
            return f"the image's files are not those of {claim}: " + "; ".join(f.sentence for f in differs)
        matched = [f for f in self.files if f.state == MATCHES]
        if matched and len(matched) == len(self.files):
            return f"the image's files of the crash's frames are those of {claim}"
        if matched:
            return (f"the image's files of the crash's frames that could be compared are those of {claim}; "
                    + "; ".join(f.sentence for f in self.files if f.state != MATCHES))
        return f"no file of the crash's frames could be compared with {claim}: " + \
            "; ".join(f.sentence for f in self.files)


def verdict(image: str, source: Path, rev: str | None, paths: list[str],
            progress: Callable[[int], None] | None = None, *, app_dir: str | None = None,
            platform: str = "linux/amd64", tls_verify: bool | None = None) -> ImageVerdict:
    """Compare the files at ``paths`` (the frames' paths: absolute image paths, or relative to the image's
    ``WorkingDir``; ``<frozen ...>``-style names are skipped) in ``image`` (any target ``check`` reads:
    ``oci-archive:FILE``, ``docker-archive:FILE``, ``oci:DIR``, ``docker://REF``, ...) with the repository
    ``source`` at ``rev`` (else at the image's revision label). ``progress`` is called with each count of
    compressed layer bytes read. ``app_dir`` maps the repository's root to that image directory, as
    ``check --app-dir`` does; without it the build file in ``source`` maps, else the map inferred from the
    image's files. Files are read within ``check``'s limits (``artifact.image.limits``, 16 MiB a source).

    Raises UsageError when ``source`` is not a git repository or lacks ``rev``, and ImageError (a
    UsageError) for an image that cannot be read."""
    from deploycheck.artifact.image.files import ImageFiles, wanted
    from deploycheck.artifact.image.source import open_image

    repo = str(source)
    if not gitsource.is_repository(repo):
        raise UsageError(f"--source {source}: not a git repository (the image's verdict compares git blobs)")
    frames = [p for p in dict.fromkeys(paths) if p and not p.startswith("<")][:MAX_PATHS]
    given = gitsource.resolve(repo, rev) if rev is not None else None  # before the image is read
    opened = open_image(image, platform, tls_verify)
    try:
        workdir = opened.config.get("WorkingDir") or "/"
        asked = {_absolute(p, workdir): p for p in frames}
    except BaseException:
        opened.close()
        raise
    keep_set = set(asked)
    files = ImageFiles(opened, keep=lambda p: wanted(p) or p in keep_set, on_bytes=progress)
    notes: list[str] = []
    try:
        labels = opened.config.get("Labels") or {}
        label = labels.get(REVISION_LABEL) if isinstance(labels.get(REVISION_LABEL), str) else None
        claimed, commit, claim_source = _claim(repo, rev, given, label, notes)
        mapping = _mapping(repo, app_dir, files, notes)
        against = _Against(repo, gitsource.object_format(repo), mapping, claimed, commit,
                           gitsource.tree(repo, commit or "HEAD"))
        out = [_compare(files, against, real, given) for real, given in asked.items()]
    finally:
        files.close()
    return ImageVerdict(image, claimed, commit, claim_source, label, tuple(out), tuple(notes))


def _claim(repo: str, rev: str | None, commit: str | None, label: str | None,
           notes: list[str]) -> tuple[str | None, str | None, str | None]:
    """The claimed revision ``(text, commit, where from)``: ``rev`` (resolved to ``commit`` by the caller),
    else the label when the repository has it (a note when it does not)."""
    if rev is not None and commit is not None:
        if label and not commit.startswith(label) and label != rev:
            notes.append(f"the image's label {REVISION_LABEL} is {_cut(label)}, but --rev {_cut(rev)} is "
                         f"{commit[:12]}; the comparison is with --rev")
        return rev, commit, "--rev"
    if not label:
        notes.append(f"the image has no {REVISION_LABEL} label and no --rev was given: the files are looked "
                     "for in the repository's history only")
        return None, None, None
    try:
        return label, gitsource.resolve(repo, label), "label"
    except UsageError:
        notes.append(f"the image's label {REVISION_LABEL} is {_cut(label)}, which the repository does not "
                     "have: the files are looked for in its history only")
        return label, None, None


def _mapping(repo: str, app_dir: str | None, files, notes: list[str]) -> copymap.CopyMap | None:
    """Where the repository is in the image, as ``check`` decides it for DC501."""
    if app_dir is not None:
        return copymap.from_app_dir(repo, app_dir)
    build_file = containerfile.find(repo)
    if build_file is not None:
        try:
            return containerfile.parse(build_file, repo, files.is_dir)
        except UsageError as exc:  # the crash's report goes on without the build file's map
            notes.append(f"the build file was not used ({exc}); the map is inferred instead")
    inferred = imagemap.infer(repo, files.tree.root, files)
    if inferred.mapping is None:
        notes.append("the repository has no Containerfile or Dockerfile, no --app-dir was given and no map "
                     "could be inferred from the image's files: each path is matched by its longest suffix "
                     "that is a file of the repository")
    else:
        copy = inferred.mapping.copies[0]
        notes.append(f"the repository's {copy.context or '.'} is taken to be at {copy.image} in the image "
                     "(inferred from where its Python files are); --app-dir sets another place")
    return inferred.mapping


@dataclass(frozen=True)
class _Against:
    """What each file is compared with: the repository, its object hash, the map, the claim, and the tree of
    the claimed commit (of HEAD without one: used only to map paths)."""

    repo: str
    hashing: str
    mapping: copymap.CopyMap | None
    claimed: str | None
    commit: str | None
    tree: dict[str, str]


def _compare(files, against: _Against, image_path: str, path: str) -> FileVerdict:
    repo, mapping, claimed, commit = against.repo, against.mapping, against.claimed, against.commit
    known = against.tree
    rel = None
    # the path as printed, then with its links resolved (a frame printed through a linked directory)
    for candidate in dict.fromkeys((image_path, files.realpath(image_path))):
        rel = mapping.source_path(candidate, known.__contains__) if mapping is not None else None
        rel = rel or _suffix(candidate, known)
        if rel is not None:
            break
    if not files.is_file(image_path):
        return FileVerdict(path, image_path, rel, NOT_IN_IMAGE,
                           f"{_cut(image_path, 300)} is not a file in the image")
    if rel is None:
        return FileVerdict(path, image_path, None, UNMAPPED,
                           f"{_cut(image_path, 300)}: no file of the repository is known to be copied there")
    try:
        data = files.read_bytes(image_path)
    except (OSError, ValueError) as exc:
        return FileVerdict(path, image_path, rel, UNREADABLE,
                           f"{_cut(image_path, 300)} was not compared: {exc}")
    shown = _cut(rel, 300)
    blob = gitsource.blob_id(data, against.hashing)
    source_blob = known.get(rel) if commit is not None else None
    claim = _claim_text(claimed, commit) if commit else ""
    if commit is not None and source_blob == blob:
        return FileVerdict(path, image_path, rel, MATCHES, f"{shown} is the file of {claim}", blob, blob)
    origins = [_origin(repo, c, commit) for c in gitsource.commits_with(repo, blob, rel)]
    if not origins:
        return FileVerdict(path, image_path, rel, NO_COMMIT,
                           f"{shown} in the image (blob {blob[:12]}) matches no commit of the repository"
                           + (f"; {claim} has blob {source_blob[:12]}" if source_blob else ""),
                           blob, source_blob)
    # the most telling origin: one the claimed revision contains (the newest such), else the newest
    origins.sort(key=lambda o: (o.after != 0, o.before if o.before is not None else 0))
    best = origins[0]
    described = f'commit {best.commit[:12]} ({best.date}, "{_cut(best.subject)}")'
    if commit is None:
        state, where = IN_HISTORY, f"{shown} is the file of {described}"
    elif best.after == 0:
        state = OLDER
        where = (f"older code: {shown} is the file of {described}, {best.before} commit"
                 f"{'s' if best.before != 1 else ''} before the claimed revision {claim}")
    elif best.before == 0:
        state = NEWER
        where = (f"{shown} is the file of {described}, {best.after} commit{'s' if best.after != 1 else ''} "
                 f"after the claimed revision {claim}")
    else:
        state = ELSEWHERE
        where = f"{shown} is the file of {described}, on a line of history the claimed revision {claim} lacks"
    return FileVerdict(path, image_path, rel, state, where, blob, source_blob, tuple(origins))


def _origin(repo: str, origin: str, claimed: str | None) -> Origin:
    date, subject = gitsource.described(repo, origin)
    if claimed is None:
        return Origin(origin, date, subject)
    return Origin(origin, date, subject, gitsource.count_between(repo, origin, claimed),
                  gitsource.count_between(repo, claimed, origin))


def _absolute(path: str, workdir: str) -> str:
    """A frame's path as an absolute image path (Python prints paths relative to the working directory when
    the module was found through a relative ``sys.path`` entry)."""
    return posixpath.normpath(posixpath.join(workdir if workdir.startswith("/") else "/" + workdir, path))


def _suffix(image_path: str, known: dict[str, str]) -> str | None:
    """The repository path that is the longest suffix of ``image_path`` (``/srv/app/app/db.py`` →
    ``app/db.py``), for paths no copy maps; None when no suffix is a file of the repository."""
    parts = image_path.strip("/").split("/")
    for i in range(len(parts) - 1):  # a directory and a name at least: a name alone says too little
        candidate = "/".join(parts[i:])
        if candidate in known:
            return candidate
    return None


def _claim_text(claimed: str | None, commit: str) -> str:
    """``a1b2c3d4e5f6`` for a claim that is the commit's id, ``v1.4 (a1b2c3d4e5f6)`` for a name."""
    if claimed and commit.startswith(claimed.lower()):
        return commit[:12]
    return f"{_cut(claimed or '')} ({commit[:12]})"


def _cut(text: str, most: int = SHOWN) -> str:
    """Text from the repository, the image or the log, on one line and bounded: control characters escaped."""
    text = text[:most] + ("..." if len(text) > most else "")
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
