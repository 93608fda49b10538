"""Run deploycheck's own check on a revision of a repository, to say whether a rule reports a crash's cause.

The revision's files are written into a private temporary directory from git's objects (``git ls-tree`` and
``git cat-file --batch``), not by ``git archive`` or a checkout: those apply the repository's filters
(``filter.<driver>.smudge``), programs its untrusted configuration may name. Only what the check reads is
written (Python sources and stubs, and the project's build and requirement files), each file at most
``history.MAX_BLOB`` bytes and all of them at most ``MAX_TOTAL``; a path that would leave the directory is
skipped.
"""

from __future__ import annotations

import io
import os
import sys

from deploycheck import gitenv, private
from deploycheck.audit import history

MAX_TOTAL = 256 * 1024 * 1024
_WANTED = (".py", ".pyi", ".toml", ".cfg", ".ini", ".txt", ".in")


def materialize(repo: str, rev: str, into: str) -> int:
    """Write the wanted files of commit ``rev`` under ``into``; returns how many were written."""
    listing = history.git(repo, "ls-tree", "-r", "-z", "--long", rev)
    wanted: list[tuple[str, str]] = []
    total = 0
    for record in listing.split("\0"):
        meta, _, path = record.partition("\t")
        parts = meta.split()
        if len(parts) != 4 or parts[0] not in ("100644", "100755") or not path.endswith(_WANTED):
            continue
        size = int(parts[3]) if parts[3].isdigit() else history.MAX_BLOB + 1
        if size > history.MAX_BLOB or total + size > MAX_TOTAL:
            continue
        target = os.path.normpath(os.path.join(into, path))
        if not target.startswith(os.path.join(into, "")) or "\n" in path:
            continue
        total += size
        wanted.append((parts[2], target))
    if not wanted:
        return 0
    try:
        proc = gitenv.run(repo, "cat-file", "--batch", timeout=300,
                          input="".join(f"{blob}\n" for blob, _ in wanted).encode())
    except gitenv.NoAnswer:
        raise history.GitError("git cat-file took more than 300 s") from None
    answers = io.BytesIO(proc.stdout if proc is not None else b"")
    written = 0
    for _blob, target in wanted:  # one answer per id asked, in order
        try:
            answer = gitenv.batch_answer(answers, history.MAX_BLOB)
        except ValueError:  # git's output ends here
            break
        if answer is None or answer[0] != b"blob" or answer[1] is None:
            continue
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as out:
            out.write(answer[1])
        written += 1
    return written


def run_check(repo: str, rev: str, python: str | None) -> tuple[list, str]:
    """The findings of ``deploycheck check`` on the files of ``rev`` (interpreter ``python``, else
    deploycheck's own), with their paths relative to the repository; and the directory checked (removed
    before returning; its name is only for messages)."""
    from deploycheck import check

    root = private.make("deploycheck-audit-")
    try:
        materialize(repo, rev, root)
        result = check.run(check.Options(path=root, python=python or sys.executable, no_cache=True))
        out = []
        for f in result.findings:
            rel = os.path.relpath(f.path, root) if os.path.isabs(f.path) else f.path
            out.append((f.code, rel, f.line, f.symbol, f.message))
        return out, root
    finally:
        private.remove(root)
