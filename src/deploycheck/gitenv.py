"""How git is run on a repository deploycheck does not trust (``check IMAGE --source DIR``, the history that
``migrate`` reads).

A repository's own configuration (``.git/config``) can name programs for git to run: a file-system monitor
(``core.fsmonitor``), a pager, an external diff, a text conversion, a signature verifier, an SSH command, a
credential helper, filters. deploycheck uses only commands that read objects (``rev-parse``, ``ls-tree``,
``log`` without diffs shown, ``cat-file`` without filters), and overrides on the command line, which wins
over every configuration file (git-config(1), "CONFIGURATION FILE"), each setting that could still start a
program; the environment drops variables that point git elsewhere and allows no transport, prompt or
optional lock.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import subprocess

# ``-c`` options given before the command (``git [OPTIONS] -C DIR COMMAND``).
CONFIG = ("-c", "core.fsmonitor=false", "-c", "core.pager=cat", "-c", "core.sshCommand=false",
          "-c", "core.askPass=", "-c", "core.hooksPath=/dev/null", "-c", "log.showSignature=false",
          "-c", "diff.external=", "-c", "credential.helper=", "-c", "gpg.program=false",
          "-c", "protocol.allow=never", "-c", "core.untrackedCache=false")
# Options of ``git log`` that keep it from running a configured diff program or text conversion.
LOG_OPTIONS = ("--no-textconv", "--no-ext-diff", "--no-show-signature")

_DROP = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
         "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_NAMESPACE", "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT",
         "GIT_EXTERNAL_DIFF", "GIT_SSH", "GIT_SSH_COMMAND", "GIT_PAGER", "GIT_EDITOR")


def environment() -> dict[str, str]:
    """The environment for a git command: this process's, less the variables that point git at another
    repository, index or configuration, plus no transport (``GIT_ALLOW_PROTOCOL`` empty overrides any
    ``protocol.*.allow``: a repository that says it is a partial clone cannot have an object fetched), no
    prompt, no lazy fetch, no optional lock (nothing is written), no pager and the C locale (messages are
    parsed)."""
    env = {k: v for k, v in os.environ.items() if k not in _DROP and not k.startswith("GIT_CONFIG_KEY_")
           and not k.startswith("GIT_CONFIG_VALUE_")}
    env.update(GIT_ALLOW_PROTOCOL="", GIT_TERMINAL_PROMPT="0", GIT_NO_LAZY_FETCH="1", GIT_OPTIONAL_LOCKS="0",
               GIT_PAGER="cat", GIT_ASKPASS="", SSH_ASKPASS="", LC_ALL="C")
    return env


class NoAnswer(Exception):
    """git did not finish within its time (a FIFO where it reads a file, a stalled file system)."""


def run(repo: str, *args: str, timeout: float,
        input: bytes | None = None) -> subprocess.CompletedProcess | None:
    """``git -C repo ARGS`` with ``CONFIG`` and ``environment()``, standard input ``input`` (else closed),
    output captured as bytes; None when there is no git command. Raises ``NoAnswer`` after ``timeout``
    seconds (the process is killed). The caller judges the exit status and says what failed in its own
    words."""
    import shutil  # here: shutil loads the compression modules, and most imports of this module run no git
    import subprocess  # here too: an audit without a repository imports this module and runs no git

    if shutil.which("git") is None:
        return None
    try:
        given = {"input": input} if input is not None else {"stdin": subprocess.DEVNULL}
        return subprocess.run(["git", *CONFIG, "-C", repo, *args], capture_output=True, timeout=timeout,
                              check=False, env=environment(), **given)
    except subprocess.TimeoutExpired:
        raise NoAnswer from None


def batch_answer(stream, keep: int) -> tuple[bytes, bytes | None] | None:
    """One answer of ``git cat-file --batch`` read from the binary ``stream``: ``<id> <type> <size>\\n``, the
    content and a newline (git-cat-file(1), "BATCH OUTPUT"); or ``<object> missing\\n`` /
    ``<object> ambiguous\\n``. Returns ``(type, content)``, the content None when it is over ``keep`` bytes
    (read past in pieces, never held whole); None for a missing or ambiguous object. Raises ``ValueError``
    when what is there is not a whole answer (git ended, or its output was cut)."""
    header = stream.readline(4096)
    parts = header.split()
    if len(parts) != 3 or not parts[2].isdigit():
        if header.endswith((b" missing\n", b" ambiguous\n")):
            return None
        raise ValueError("git cat-file ended")
    kind, size = parts[1], int(parts[2])
    held = size <= keep
    chunks, left = [], size + 1  # the content and its newline
    while left:
        chunk = stream.read(min(left, 1 << 20))
        if not chunk:
            raise ValueError("git cat-file ended")
        if held:
            chunks.append(chunk)
        left -= len(chunk)
    return kind, b"".join(chunks)[:-1] if held else None
