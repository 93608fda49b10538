"""What a repository's history says about a failing line: the tree at a revision, a file's line there, the
commits that changed how often a name occurs (``git log -S``, git-log(1) "pickaxe"), and the commit that last
changed a line (``git blame``).

The repository is not trusted: git runs as ``deploycheck.gitenv`` says (no program its configuration names
can start; ``blame`` and ``log`` with ``--no-textconv``). Every read is bounded: a tree of at most
``MAX_FILES`` files, a file of at most ``MAX_BLOB`` bytes, at most ``MAX_COMMITS`` commits looked at.
"""

from __future__ import annotations

import os
import re

from deploycheck import gitenv
from deploycheck.audit.model import Frozen
from deploycheck.errors import UsageError
from deploycheck.regexes import compiled

MAX_FILES = 200_000
MAX_BLOB = 5 * 1024 * 1024
MAX_COMMITS = 30


class GitError(Exception):
    """A git command failed (a revision or path the repository lacks): the report says "unknown"."""


class Commit(Frozen):
    """A commit: full id, subject, author name and date (ISO 8601, as git prints ``%aI``)."""

    id: str
    subject: str
    author: str
    date: str

    def __init__(self, id: str, subject: str, author: str, date: str) -> None:
        attrs = self.__dict__  # written directly: __setattr__ refuses
        attrs["id"] = id
        attrs["subject"] = subject
        attrs["author"] = author
        attrs["date"] = date

    _fields = ("id", "subject", "author", "date")

    @property
    def short(self) -> str:
        return self.id[:12]


def git(repo: str, *args: str, limit: int = 64 * 1024 * 1024) -> str:
    """Run ``git -C repo ARGS`` and return its stdout (at most ``limit`` bytes are kept). Raises
    ``GitError`` when git fails and ``UsageError`` when the git command is missing."""
    try:
        proc = gitenv.run(repo, *args, timeout=120)
    except gitenv.NoAnswer:
        raise GitError(f"git {args[0]} took more than 120 s") from None
    if proc is None:
        raise UsageError("--source needs the git command")
    if proc.returncode != 0:
        raise GitError(proc.stderr.decode("utf-8", "replace").strip().partition("\n")[0])
    return proc.stdout[:limit].decode("utf-8", "replace")


def check_repository(repo: str) -> str:
    """The top directory of the work tree or repository at ``repo``; raises ``UsageError`` when it is none."""
    try:
        top = git(repo, "rev-parse", "--show-toplevel").strip()
    except GitError:
        try:
            git(repo, "rev-parse", "--git-dir")
        except GitError as exc:
            if "dubious ownership" in str(exc):  # git's safe.directory check (git-config(1)), not our call
                raise UsageError(f"--source {repo}: git refuses a repository another user owns (dubious "
                                 "ownership); if you trust it: git config --global --add safe.directory "
                                 f"{os.path.abspath(repo)}") from None
            raise UsageError(f"--source {repo}: not a git repository") from None
        return repo
    return top or repo


def resolve(repo: str, rev: str) -> str | None:
    """The full commit id ``rev`` names in ``repo``, or None."""
    if not rev or rev.startswith("-"):
        return None
    try:
        return git(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}").strip() or None
    except GitError:
        return None


def commit(repo: str, rev: str) -> Commit:
    """The commit ``rev`` (a full id)."""
    out = git(repo, "show", "-s", "--no-show-signature", "--format=%H%x00%s%x00%an%x00%aI", rev, "--")
    return _commit(out.strip())


def _commit(record: str) -> Commit:
    parts = (record.split("\0") + ["", "", "", ""])[:4]
    return Commit(*parts)


def paths(repo: str, rev: str) -> dict[str, str]:
    """``{path: blob id}`` of the files of commit ``rev`` (``git ls-tree -r``), at most ``MAX_FILES``."""
    out: dict[str, str] = {}
    for record in git(repo, "ls-tree", "-r", "-z", rev).split("\0"):
        meta, _, path = record.partition("\t")
        parts = meta.split()
        if len(parts) == 3 and parts[1] == "blob":
            out[path] = parts[2]
            if len(out) >= MAX_FILES:
                break
    return out


def map_path(frame_path: str, tree: dict[str, str]) -> tuple[str | None, list[str]]:
    """The repository path a traceback's file is, by the longest suffix of its components that is the end of
    a path in ``tree`` (``/app/api/main.py`` → ``api/main.py``; ``.../site-packages/api/main.py`` →
    ``src/api/main.py``). Returns ``(path, [])``, or ``(None, candidates)`` when the longest suffix ends
    several paths, or ``(None, [])`` when none."""
    parts = [p for p in frame_path.replace("\\", "/").split("/") if p not in ("", ".")]
    if not parts or frame_path.startswith("<"):
        return None, []
    for k in range(len(parts), 0, -1):
        suffix = "/".join(parts[-k:])
        hits = [p for p in tree if p == suffix or p.endswith("/" + suffix)]
        if len(hits) == 1:
            return hits[0], []
        if hits:
            return None, sorted(hits)[:5]
    return None, []


def line_at(repo: str, rev: str, path: str, number: int) -> str | None:
    """Line ``number`` (1-based) of ``path`` at ``rev``, without its newline; None when the file or line is
    not there or the file is larger than ``MAX_BLOB``."""
    lines = file_lines(repo, rev, path)
    if lines is None or not 1 <= number <= len(lines):
        return None
    return lines[number - 1]


def file_lines(repo: str, rev: str, path: str) -> list[str] | None:
    """The lines of ``path`` at ``rev``, or None (no such file, or larger than ``MAX_BLOB``)."""
    spec = f"{rev}:{path}"
    try:
        size = int(git(repo, "cat-file", "-s", spec).strip())
    except (GitError, ValueError):
        return None
    if size > MAX_BLOB:
        return None
    return git(repo, "cat-file", "blob", spec).splitlines()


def count(repo: str, rev: str, text: str) -> int:
    """How many times ``text`` occurs as a word in the files at ``rev`` (``git grep -o -w -F``: one output
    line per occurrence; a line holding it twice counts twice, as ``git log -S`` counts)."""
    try:
        out = git(repo, "grep", "-o", "-h", "-w", "-F", "--no-textconv", "-e", text, rev, "--")
    except GitError:  # git grep exits 1 when nothing matches
        return 0
    return out.count("\n")


def pickaxe(repo: str, rev: str, text: str) -> list[Commit]:
    """Commits up to and including ``rev`` (never after it), newest first, that changed how many times
    ``text`` occurs (``git log -S``), at most ``MAX_COMMITS``."""
    out = git(repo, "log", *gitenv.LOG_OPTIONS, f"-n{MAX_COMMITS}", "-S", text,
              "--format=%H%x00%s%x00%an%x00%aI%x01", rev, "--")
    return [_commit(r.strip()) for r in out.split("\x01") if r.strip()]


def definitions(repo: str, rev: str, name: str) -> int:
    """How many lines at ``rev`` define ``name`` in Python's own ways: ``def``/``class`` statements and
    assignments at the start of a line (``git grep -E``; an import of it is a use, not a definition)."""
    if not name.isidentifier():
        return 0
    pattern = rf"^\s*((async\s+)?def|class)\s+{name}\b|^\s*{name}\s*(:[^=]*)?=[^=]"
    try:
        out = git(repo, "grep", "-h", "-E", "--no-textconv", "-e", pattern, rev, "--", "*.py", "*.pyi")
    except GitError:  # git grep exits 1 when nothing matches
        return 0
    return out.count("\n")


def removed(repo: str, rev: str, name: str) -> Commit | None:
    """The newest commit up to ``rev`` that removed a definition of ``name`` (``definitions``), else the
    newest after which ``name`` occurs less often as a word than before it (it removed or renamed the name),
    or None. A rename done file by file lowers the count in every step; the step that broke the remaining
    uses is the one that took the definition away."""
    fewer: Commit | None = None
    for c in pickaxe(repo, rev, name):
        parent = resolve(repo, f"{c.id}^")
        if parent is None or count(repo, c.id, name) >= count(repo, parent, name):
            continue
        if definitions(repo, c.id, name) < definitions(repo, parent, name):
            return c
        fewer = fewer or c
    return fewer


def blame(repo: str, rev: str, path: str, number: int) -> Commit | None:
    """The commit that last changed line ``number`` of ``path`` as of ``rev`` (``git blame --porcelain``)."""
    try:
        out = git(repo, "blame", "--no-textconv", "--porcelain", "-L", f"{number},{number}", rev, "--", path)
    except GitError:
        return None
    lines = out.splitlines()
    if not lines:
        return None
    cid = lines[0].split()[0]
    fields = dict(line.partition(" ")[::2] for line in lines[1:] if not line.startswith("\t"))
    try:
        return commit(repo, cid)
    except GitError:
        return Commit(cid, fields.get("summary", ""), fields.get("author", ""), "")


def commits_between(repo: str, old: str, new: str, path: str) -> list[Commit]:
    """Commits after ``old`` up to ``new`` that changed ``path``, oldest first, at most ``MAX_COMMITS``."""
    out = git(repo, "log", *gitenv.LOG_OPTIONS, "--reverse", "--format=%H%x00%s%x00%an%x00%aI%x01",
              f"{old}..{new}", "--", path)
    return [_commit(r.strip()) for r in out.split("\x01") if r.strip()][:MAX_COMMITS]


# Files that declare a project's requirements (pip's requirements and constraints files, PEP 621's
# pyproject.toml, setuptools' setup.cfg and setup.py, pipenv's Pipfile); lock files are left out. Compiled
# when first used (``regexes.compiled``).
_REQUIREMENT_FILE = (r"(^|/)((requirements|constraints)[^/]*\.(txt|in)|pyproject\.toml|setup\.cfg|setup\.py|"
                     r"Pipfile)$")


def _named(distribution: str) -> str:
    """A regular expression (POSIX extended, for git and ``re``) matching ``distribution`` as a word, with
    ``-``, ``_`` and ``.`` interchangeable (PEP 503 normalisation)."""
    parts = [re.escape(p) for p in re.split(r"[-_.]+", distribution) if p]
    return r"(^|[^A-Za-z0-9_.-])" + "[-_.]+".join(parts) + r"([^A-Za-z0-9_.-]|$)"


def requirement_files(tree: dict[str, str]) -> list[str]:
    """The paths of ``tree`` (``paths``) that declare requirements, sorted."""
    requirement_file = compiled(_REQUIREMENT_FILE)
    return sorted(p for p in tree if requirement_file.search(p))


def requirement_lines(repo: str, rev: str, files: list[str], distribution: str) -> list[tuple[str, int, str]]:
    """``(path, line number, line)`` of each line of ``files`` at ``rev`` that names ``distribution``
    (comments left out)."""
    pattern = re.compile(_named(distribution), re.IGNORECASE)
    out = []
    for path in files:
        for number, line in enumerate(file_lines(repo, rev, path) or [], start=1):
            if pattern.search(line.split("#", 1)[0]):
                out.append((path, number, line.strip()))
    return out


def requirement_changed(repo: str, rev: str, files: list[str], distribution: str) -> Commit | None:
    """The newest commit up to ``rev`` that added, removed or changed a line of ``files`` naming
    ``distribution`` (``git log -G``), or None."""
    if not files:
        return None
    out = git(repo, "log", *gitenv.LOG_OPTIONS, "-n1", "-G", _named(distribution),
              "--format=%H%x00%s%x00%an%x00%aI%x01", rev, "--", *files)
    found = [_commit(r.strip()) for r in out.split("\x01") if r.strip()]
    return found[0] if found else None


def holding(repo: str, origin: str, claimed: str, path: str, blob: str) -> list[str]:
    """The commits after ``origin`` on the ancestry path to ``claimed`` (a descendant), oldest first, up to the
    first that changed ``path`` away from ``blob`` (``origin`` brought that version); at most ``MAX_COMMITS``.
    A stale image holding ``blob`` was built from ``origin`` or one of these."""
    out = git(repo, "rev-list", "--reverse", "--ancestry-path", "--first-parent", f"{origin}..{claimed}", "--")
    found = []
    for c in out.split()[:MAX_COMMITS]:
        try:
            held = git(repo, "rev-parse", "--verify", "--quiet", f"{c}:{path}").strip()
        except GitError:
            break
        if held != blob:
            break
        found.append(c)
    return found
