"""The project's source at a git revision, read from the repository's objects (no checkout): blob ids by path,
and the commits in which a blob appears. Uses the ``git`` command; blob ids follow git's object format
(``sha1("blob <size>\\0" + content)``). The repository is not trusted: git is run as ``gitenv`` says, so no
program its configuration names can start."""

from __future__ import annotations

import hashlib
import os
import re

from deploycheck import gitenv
from deploycheck.errors import UsageError

MAX_CANDIDATES = 50  # commits examined to find where an image's version of a file came from


def blob_id(data: bytes, object_format: str = "sha1") -> str:
    """git's object id of a file's contents: ``object_format`` is the repository's (``sha1``, or ``sha256``
    for a repository made with ``git init --object-format=sha256``; gitformat-objects(5))."""
    return hashlib.new(object_format, b"blob %d\x00" % len(data) + data).hexdigest()


def object_format(repo: str) -> str:
    """The hash the repository names its objects with: ``sha1`` or ``sha256``
    (``git rev-parse --show-object-format``)."""
    got = _git(repo, "rev-parse", "--show-object-format").strip()
    if got not in ("sha1", "sha256"):
        raise UsageError(f"--source {repo}: git objects named by {got or 'an unknown hash'}, which deploycheck "
                         "does not compare")
    return got


GIT_TIMEOUT = 120  # seconds; a repository's hooks or filters cannot hang the check


def _git(repo: str, *args: str) -> str:
    try:
        proc = gitenv.run(repo, *args, timeout=GIT_TIMEOUT)
    except gitenv.NoAnswer:
        raise UsageError(f"git {' '.join(args)} in {repo}: no answer within {GIT_TIMEOUT} s") from None
    if proc is None:
        raise UsageError("--source with a revision needs the git command")
    if proc.returncode != 0:
        said = _said(proc.stderr.decode("utf-8", "replace"), repo)
        raise UsageError(f"git {' '.join(args)} in {repo}: {said or 'failed'}")
    return proc.stdout.decode("utf-8", "replace")


_PATH = re.compile(r"/[^\s'\"`]+")


def _said(stderr: str, repo: str) -> str:
    """The first line of git's complaint, with every absolute path outside ``repo`` replaced: the
    repository's own config can make git read a file anywhere (``include.path``), and where that file is
    is none of the output's business (``target.boundary``)."""
    first = stderr.strip().partition("\n")[0]
    root = os.path.realpath(repo).rstrip(os.sep) + os.sep

    def inside(match: re.Match) -> str:
        path = match.group()
        return path if os.path.realpath(path).startswith(root) else "<a file outside the project>"

    return _PATH.sub(inside, first)


def is_repository(path: str) -> bool:
    """Whether ``path`` is inside a git work tree (False too when the git command is missing); raises
    UsageError when git does not answer within ``GIT_TIMEOUT`` seconds."""
    try:
        proc = gitenv.run(path, "rev-parse", "--is-inside-work-tree", timeout=GIT_TIMEOUT)
    except gitenv.NoAnswer:
        raise UsageError(f"git rev-parse in {path}: no answer within {GIT_TIMEOUT} s") from None
    return proc is not None and proc.returncode == 0 and proc.stdout.strip() == b"true"


def resolve(repo: str, rev: str) -> str:
    """The full commit id of ``rev``; raises UsageError when ``repo`` is not a git repository or lacks it."""
    if rev.startswith("-"):  # git would read it as an option
        raise UsageError(f"revision {rev!r}: not a revision name (it starts with '-')")
    return _git(repo, "rev-parse", "--verify", "--end-of-options", f"{rev}^{{commit}}").strip()


def tree(repo: str, commit: str) -> dict[str, str]:
    """``{path: blob id}`` for every file of the commit (``git ls-tree -r``)."""
    out: dict[str, str] = {}
    for record in _git(repo, "ls-tree", "-r", "-z", commit).split("\0"):
        if not record:
            continue
        meta, _, path = record.partition("\t")
        parts = meta.split()
        if len(parts) == 3 and parts[1] == "blob":
            out[path] = parts[2]
    return out


def commits_with(repo: str, blob: str, path: str) -> list[str]:
    """Commits (newest first) whose version of ``path`` is ``blob``, at most 3. Only the commits that add or
    remove that blob (``git log --find-object``) are candidates, at most ``MAX_CANDIDATES`` of them: asking
    git once per commit that touched the path took one process per commit of a long history."""
    out = []
    listed = _git(repo, "log", *gitenv.LOG_OPTIONS, "--all", "--format=%H", f"--find-object={blob}", f"-n{MAX_CANDIDATES}", "--", path)
    for line in listed.split():
        try:
            if _git(repo, "rev-parse", f"{line}:{path}").strip() == blob:
                out.append(line)
        except UsageError:
            continue
        if len(out) >= 3:
            break
    return out


def described(repo: str, commit: str) -> tuple[str, str]:
    """``(committer date in ISO 8601, subject line)`` of ``commit`` (``git log -1 --format=%cI %s``)."""
    out = _git(repo, "log", *gitenv.LOG_OPTIONS, "-1", "--format=%cI%x00%s", commit, "--")
    date, _, subject = out.rstrip("\n").partition("\0")
    return date, subject


def count_between(repo: str, base: str, head: str) -> int:
    """How many commits ``head`` has that ``base`` lacks (``git rev-list --count base..head``)."""
    return int(_git(repo, "rev-list", "--count", f"{base}..{head}", "--").strip() or 0)
