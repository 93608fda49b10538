"""All-or-nothing writing of many files: temporary files, a journal, renames.

1. every new file is written and flushed to disk as a temporary file beside its target (same directory, so the
   rename stays on one file system and is atomic: POSIX ``rename(2)``), with the target's permission bits;
2. a journal ``PATH/.deploycheck-migrate.journal`` listing every (temporary, target) pair is written and
   flushed, then renamed into place: from this moment the new tree is decided;
3. each temporary file is renamed over its target; then the journal is removed.

A crash before step 2 leaves the old tree (and stray temporary files, which are not ``.py`` files); a crash
after it is finished by ``recover`` at the start of the next ``migrate`` command, which completes the renames:
either way the tree is the old one or the new one, never a mix once recovered.
"""

from __future__ import annotations

import json
import os
import sys

from deploycheck.errors import UsageError

JOURNAL = ".deploycheck-migrate.journal"
_TEMP_SUFFIX = ".deploycheck-tmp"


def _fsync_dir(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def recover(root: str) -> list[str]:
    """Finish an interrupted write under ``root``: rename the temporary files a journal lists over their
    targets, then remove the journal. Returns the targets completed (empty without a journal)."""
    jpath = os.path.join(root, JOURNAL)
    try:
        with open(jpath, encoding="utf-8") as f:
            pairs = json.load(f)["pairs"]
    except FileNotFoundError:
        return []
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{jpath}: an interrupted `migrate apply` left a journal that cannot be read ({exc}); "
                         "restore the tree from version control and delete it") from None
    done = []
    for tmp, target in pairs:
        if os.path.exists(tmp):
            os.replace(tmp, target)
            done.append(target)
    for d in {os.path.dirname(t) for _, t in pairs}:
        _fsync_dir(d)
    os.unlink(jpath)
    if done:
        n = len(done)
        sys.stderr.write(f"deploycheck: completed an interrupted `migrate apply` ({n} file{'s' * (n != 1)})\n")
    return done


def write_all(root: str, new: dict[str, bytes]) -> None:
    """Replace each file of ``new`` (absolute path -> bytes) all-or-nothing (see the module docstring).
    Raises ``UsageError`` when a temporary file cannot be written; then nothing has changed."""
    pairs: list[tuple[str, str]] = []
    try:
        for target, data in new.items():
            directory, name = os.path.split(target)
            tmp = os.path.join(directory, f".{name}.{os.getpid()}{_TEMP_SUFFIX}")
            mode = os.stat(target).st_mode & 0o7777
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            pairs.append((tmp, target))
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, mode)
        jtmp = os.path.join(root, JOURNAL + _TEMP_SUFFIX)
        with open(jtmp, "w", encoding="utf-8") as f:
            json.dump({"pairs": pairs}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(jtmp, os.path.join(root, JOURNAL))
        _fsync_dir(root)
    except OSError as exc:
        for tmp, _ in pairs:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        raise UsageError(f"cannot write {exc.filename or 'a temporary file'}: {exc.strerror or exc}; "
                         "nothing was changed") from None
    for tmp, target in pairs:
        os.replace(tmp, target)
    for d in {os.path.dirname(t) for _, t in pairs}:
        _fsync_dir(d)
    os.unlink(os.path.join(root, JOURNAL))
