"""Earlier versions of a file, read from its git repository: the evidence that a file once imported a symbol.

The repository is the one holding the file (``git -C <its directory>``); nothing is checked out or written.
For a file and a name, the versions read are, newest first: the file at ``HEAD`` (the working tree may have
dropped an import that ``HEAD`` still has), then, for each of the newest commits that changed how often the
file spells the name (``git log -S NAME``, git's "pickaxe"), the file at that commit and at its first parent
(a commit that removed the import has it in its parent). Blobs come from one ``git cat-file --batch``
process, read one at a time and only as far as the first version that matches.

The repository may be untrusted: its configuration can name programs for git to run. Only commands that
run none are used (``rev-parse``; ``log`` with ``--no-textconv --no-ext-diff`` and no signature display;
``cat-file`` without filters), the file-system monitor is turned off, no pager, no prompt, no optional lock
taken, and no transport allowed (``GIT_ALLOW_PROTOCOL`` empty overrides any ``protocol.*.allow``), so a
repository that says it is a partial clone cannot have a missing object fetched through a command it names.
Each command has a time limit; the first one that fails to answer in time ends the reading of history for
the whole search. When git is missing, the directory is no repository, the repository is refused
(``safe.directory``), or a limit is hit, there is simply no history.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable

from deploycheck import gitenv
from deploycheck.artifact.files import MAX_SOURCE_BYTES

# Seconds one git command may take: a pickaxe search over a long history is the slow one.
GIT_SECONDS = 20
# The newest commits of a file's history that changed how often it spells the name, looked at per file.
MAX_COMMITS = 20
# Files whose history one search reads (each costs two or three git processes); beyond them there is none.
MAX_FILES = 200
# Seconds one search may spend reading history in all; once spent, the remaining files have none.
BUDGET_SECONDS = 60

_CONFIG = gitenv.CONFIG
_env = gitenv.environment


class History:
    """Reads earlier versions of files; one per search, so ``MAX_FILES`` bounds the git processes it starts.
    Directories found not to be in a usable repository are remembered."""

    def __init__(self) -> None:
        self.git = shutil.which("git")
        self.files = 0
        self._heads: dict[str, str | None] = {}  # directory -> its repository's HEAD (None: no repository)
        self._killed = False  # a cat-file process was ended by its time limit
        self._deadline: float | None = None  # set by the first question

    def find(self, path: str, name: str, match: Callable[[bytes], bool]) -> str | None:
        """The commit id (40 or 64 hex digits) of the newest version of ``path`` (see the module docstring)
        for which ``match(content)`` is true; None when there is none, or no history to read. Never raises."""
        directory, base = os.path.split(path)
        if "\n" in base:  # cannot be named in cat-file's line protocol
            return None
        if self.git is None or self.files >= MAX_FILES:
            return None
        now = time.monotonic()
        if self._deadline is None:
            self._deadline = now + BUDGET_SECONDS
        elif now > self._deadline:
            return None
        try:
            commits = self._commits(directory, base, name)
        except subprocess.TimeoutExpired:
            self.git = None  # a repository that makes git this slow gets no more questions
            return None
        except (OSError, subprocess.SubprocessError):
            self._heads[directory] = None
            return None
        if commits is None:
            return None
        self.files += 1
        try:
            return self._first(directory, base, commits, match)
        except (OSError, subprocess.SubprocessError, ValueError):
            return None
        finally:
            if self._killed:
                self.git = None

    def _commits(self, directory: str, base: str, name: str) -> list[str] | None:
        """The commit ids whose version of the file to read, newest first; None when ``directory`` is in no
        usable repository (or git failed)."""
        if directory not in self._heads:
            self._heads[directory] = None  # until git answers
            head = subprocess.run([self.git, *_CONFIG, "-C", directory, "rev-parse", "--verify", "-q",
                                   "HEAD"], capture_output=True, text=True, timeout=GIT_SECONDS,
                                  stdin=subprocess.DEVNULL, env=_env())
            if head.returncode == 0 and head.stdout.strip():
                self._heads[directory] = head.stdout.strip()
        if self._heads[directory] is None:
            return None
        out = [self._heads[directory]]
        log = subprocess.run([self.git, *_CONFIG, "-C", directory, "log", *gitenv.LOG_OPTIONS,
                              f"-n{MAX_COMMITS}", "--format=%H %P", f"-S{name}",
                              "HEAD", "--", f"./{base}"], capture_output=True, text=True,
                             timeout=GIT_SECONDS, stdin=subprocess.DEVNULL, env=_env())
        if log.returncode != 0:
            return out
        for line in log.stdout.splitlines():
            out.extend(line.split()[:2])  # the commit, and its first parent
        return out

    def _first(self, directory: str, base: str, commits: list[str],
               match: Callable[[bytes], bool]) -> str | None:
        proc = subprocess.Popen([self.git, *_CONFIG, "-C", directory, "cat-file", "--batch"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                env=_env())

        # Reads from the pipe have no time limit of their own: a timer ends the process, and the read ends.
        def kill() -> None:
            self._killed = True
            proc.kill()

        timer = threading.Timer(GIT_SECONDS, kill)
        timer.start()
        try:
            seen: set[str] = set()
            for commit in commits:
                if commit in seen:
                    continue
                seen.add(commit)
                proc.stdin.write(f"{commit}:./{base}\n".encode())  # type: ignore[union-attr]
                proc.stdin.flush()  # type: ignore[union-attr]
                data = _read_blob(proc.stdout)
                if data is not None and match(data):
                    return commit
            return None
        finally:
            timer.cancel()
            try:
                proc.stdin.close()  # type: ignore[union-attr]
            except OSError:
                pass
            try:
                proc.wait(timeout=GIT_SECONDS)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            proc.stdout.close()  # type: ignore[union-attr]


def _read_blob(stream) -> bytes | None:
    """The content of the next answer of ``git cat-file --batch`` when it is a blob of at most
    ``MAX_SOURCE_BYTES`` (a larger one is read past, not kept), else None. Raises ``ValueError`` on output
    that is not an answer (the process ended)."""
    answer = gitenv.batch_answer(stream, MAX_SOURCE_BYTES)
    return answer[1] if answer is not None and answer[0] == b"blob" else None
