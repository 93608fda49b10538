"""Replacing many files of a project all-or-nothing, and finishing a replacement that was cut short.

``write_all`` (POSIX ``rename(2)`` is atomic per file; the journal makes the set atomic):

1. before anything is written, every file is read again through directory descriptors (``tree``) and must
   hold what the plan was made from, be renamable (not read-only, not on a read-only mount, not immutable or
   append-only, its directory neither, not another user's file in a sticky directory) - else nothing is
   written;
2. the journal (``journal``, in the user cache) is saved as ``prepared``; beside each file, in its directory,
   its old content is kept under a temporary name (a hard link, or a copy of the bytes read where links are
   refused) and its new content written to another and flushed, with the file's mode and owner;
3. the journal is saved as ``committed``: from here the new tree is decided, and SIGINT, SIGTERM and SIGHUP
   wait until the renames are done (they are handled once it ends);
4. just before each rename the file is compared again (content and device, inode, size, modification time):
   a file another program edited meanwhile is not overwritten; then the new content is renamed over it;
5. once all are renamed, the kept old contents are checked once more (an edit written through a descriptor
   opened earlier lands there), then removed, and the journal deleted.

A refusal or a failed rename at steps 4-5 saves the journal as ``rolling-back``, renames every kept old
content back over the files already replaced, removes the temporary files: the tree is entirely the old one
again, and the message says which file and why.

A run killed (SIGKILL, a crash, a power loss) leaves the journal. Only ``migrate apply --write`` acts on it
(``recover``): after ``prepared`` it removes the temporary files (the tree was never changed), after
``committed`` it renames the rest, after ``rolling-back`` it puts the rest back; every file is checked first
against the digests the journal records, and anything that does not match refuses the whole recovery, with
nothing done. ``migrate status`` and the dry run only say that there is something to complete
(``refuse_pending``). Everything here runs under the project lock (``lock``).
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shlex
import signal
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from deploycheck.artifact.files import MAX_SOURCE_BYTES
from deploycheck.errors import UsageError
from deploycheck.migrate import journal, tree
from deploycheck.migrate.journal import COMMITTED, PREPARED, ROLLING_BACK, Entry, Journal, Unusable

# Signals that would end the run between the journal's commit and the last rename: they wait for the end.
_DEFERRED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# linkat(2) refusing a hard link for these reasons: the old content is kept as a copy instead.
_NO_LINK = {errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK, errno.ENOSYS, errno.EACCES}


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' * (n != 1)}"


def _show(text: str) -> str:
    """``text`` with control characters escaped, for a message on one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _reason(exc: BaseException) -> str:
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Run the block with SIGINT/SIGTERM/SIGHUP noted rather than acted on; afterwards the previous handlers
    are restored and each noted signal is raised again (so an interrupted run still ends as interrupted)."""
    noted: list[int] = []
    previous = {}
    try:
        for sig in _DEFERRED:
            previous[sig] = signal.signal(sig, lambda signum, frame: noted.append(signum))
    except ValueError:  # not the main thread: signals are handled there, not here
        pass
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        for sig in dict.fromkeys(noted):
            signal.raise_signal(sig)


@dataclass
class _File:
    rel: str
    dir_fd: int
    name: str
    old: bytes
    new: bytes
    ident: tuple
    mode: int
    uid: int
    gid: int
    new_name: str = ""
    old_name: str = ""


class _Changed(Exception):
    """A file differs from what the plan was made from, at rename time."""


def _refusal(f: _File, st: os.stat_result, dir_st: os.stat_result) -> str | None:
    """Why renaming over the file would fail or go against the user's intent; ``None`` when it would not."""
    if not st.st_mode & 0o222:
        return "is read-only"
    if os.statvfs(f.dir_fd).f_flag & os.ST_RDONLY:
        return "is on a read-only file system"
    fd = os.open(f.name, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_NOCTTY, dir_fd=f.dir_fd)
    try:
        if os.statvfs(fd).f_flag & os.ST_RDONLY:  # a file bind-mounted read-only over the tree
            return "is on a read-only file system"
        if tree.attributes(fd) & (tree.FS_IMMUTABLE_FL | tree.FS_APPEND_FL):
            return "is immutable or append-only (chattr +i or +a; see lsattr)"
    finally:
        os.close(fd)
    if tree.attributes(f.dir_fd) & (tree.FS_IMMUTABLE_FL | tree.FS_APPEND_FL):
        return "is in a directory that is immutable or append-only (chattr +i or +a; see lsattr)"
    if not os.access(f.name, os.W_OK, dir_fd=f.dir_fd, follow_symlinks=False):
        return "is read-only"
    if not os.access(".", os.W_OK | os.X_OK, dir_fd=f.dir_fd):
        return "is in a directory this user cannot write"
    euid = os.geteuid()
    if dir_st.st_mode & stat.S_ISVTX and euid != 0 and euid not in (st.st_uid, dir_st.st_uid):
        return ("belongs to another user, in a sticky directory (mode +t, like /tmp): rename(2) over it "
                "would be refused")
    return None


def _prepare(root: str, root_fd: int, dirs: dict[str, int], path: str, old: bytes, new: bytes) -> _File:
    """Step 1 for one file. Raises ``UsageError`` (nothing written)."""
    rel = os.path.relpath(path, root).replace(os.sep, "/")
    shown = _show(rel)
    if tree.bad_relative(rel):
        raise UsageError(f"{shown} is not a file inside the project; nothing was written")
    try:
        dir_fd, name = tree.open_parent(root_fd, rel, dirs)
        data, st = tree.read_at(dir_fd, name, MAX_SOURCE_BYTES)
        dir_st = os.fstat(dir_fd)
    except (OSError, ValueError) as exc:
        why = "a directory on its path became a symbolic link" if isinstance(exc, OSError) and exc.errno in (
            errno.ELOOP, errno.ENOTDIR) else _reason(exc)
        raise UsageError(f"{shown}: cannot read it again ({why}); nothing was written") from None
    if data != old:
        raise UsageError(f"{shown} changed since it was read; nothing was written (run apply again)")
    f = _File(rel, dir_fd, name, old, new, tree.identity(st), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)
    try:
        why = _refusal(f, st, dir_st)
    except OSError as exc:
        why = f"cannot be checked ({_reason(exc)})"
    if why:
        raise UsageError(f"{shown} {why}; nothing was written")
    return f


def _made(made: list[tuple[int, str]], dir_fd: int, name: str, make):
    """Record ``name`` as ours before ``make()`` creates it, so an interruption between the two never leaves
    it untracked; a name that already existed (``EEXIST``: not ours) is forgotten again."""
    made.append((dir_fd, name))
    try:
        return make()
    except FileExistsError:
        made.pop()
        raise


def _create(f: _File, name: str, data: bytes, made: list[tuple[int, str]]) -> None:
    """Write ``data`` to the new file ``name`` beside ``f`` (never an existing one, never through a link),
    flushed, with ``f``'s owner (when run as root) and mode."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    fd = _made(made, f.dir_fd, name, lambda: os.open(name, flags, 0o600, dir_fd=f.dir_fd))
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if os.geteuid() == 0:
            with contextlib.suppress(OSError):
                os.fchown(fd, f.uid, f.gid)
        os.fchmod(fd, f.mode)
        os.fsync(fd)
    finally:
        os.close(fd)


def _keep_old(f: _File, made: list[tuple[int, str]]) -> None:
    """Keep the old content under ``f.old_name`` until the end: a hard link (the very inode, so an edit
    written into it meanwhile is seen), else a copy of the bytes read."""
    try:
        _made(made, f.dir_fd, f.old_name, lambda: os.link(f.name, f.old_name, src_dir_fd=f.dir_fd,
                                                          dst_dir_fd=f.dir_fd, follow_symlinks=False))
    except OSError as exc:
        if exc.errno not in _NO_LINK:
            raise
        _create(f, f.old_name, f.old, made)


def _unchanged(f: _File) -> None:
    """Step 4's comparison. Raises ``_Changed``."""
    try:
        data, st = tree.read_at(f.dir_fd, f.name, MAX_SOURCE_BYTES)
    except (OSError, ValueError) as exc:
        raise _Changed(f"{_show(f.rel)} changed since it was read ({_reason(exc)})") from None
    if data != f.old or tree.identity(st) != f.ident:
        raise _Changed(f"{_show(f.rel)} changed since it was read (another program edited it meanwhile)")


def _old_kept(f: _File) -> None:
    """Step 5's check of the kept old content. Raises ``_Changed``."""
    try:
        data, _ = tree.read_at(f.dir_fd, f.old_name, MAX_SOURCE_BYTES)
    except (OSError, ValueError) as exc:
        raise _Changed(f"the old content of {_show(f.rel)} cannot be read back ({_reason(exc)})") from None
    if data != f.old:
        raise _Changed(f"{_show(f.rel)} was written to by another program while it was replaced")


def _put_back(done: list[_File]) -> list[str]:
    """Rename each kept old content back over its file, last first; the files that could not be put back
    (with why)."""
    failed = []
    for f in reversed(done):
        try:
            data, _ = tree.read_at(f.dir_fd, f.name, MAX_SOURCE_BYTES)
            if data != f.new:
                failed.append(f"{_show(f.rel)} (changed again meanwhile)")
                continue
            os.rename(f.old_name, f.name, src_dir_fd=f.dir_fd, dst_dir_fd=f.dir_fd)
        except (OSError, ValueError) as exc:
            failed.append(f"{_show(f.rel)} ({_reason(exc)})")
    return failed


def write_all(root: str, migration: str, files: dict[str, tuple[bytes, bytes]]) -> None:
    """Replace each file of ``files`` (absolute path under ``root`` -> (the bytes the plan was made from, the
    new bytes)) all-or-nothing, as the module docstring says. Raises ``UsageError`` with the tree entirely
    old (or, if even putting back failed, naming what ``apply --write`` will finish)."""
    dirs: dict[str, int] = {}
    try:
        root_fd = tree.open_root(root)
    except OSError as exc:
        raise UsageError(f"{root}: cannot open the project directory ({_reason(exc)}); nothing was written") \
            from None
    try:
        st_root = os.fstat(root_fd)
        todo = [_prepare(root, root_fd, dirs, p, old, new) for p, (old, new) in sorted(files.items())]
        j = Journal(os.path.realpath(root), st_root.st_dev, st_root.st_ino, migration, secrets.token_hex(16),
                    PREPARED, [Entry(f.rel, tree.digest(f.old), tree.digest(f.new), len(f.old), len(f.new))
                               for f in todo])
        for f in todo:
            f.new_name, f.old_name = journal.temp_names(f.name, j.token)
        made: list[tuple[int, str]] = []
        try:
            journal.save(j)
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot write the journal of `migrate apply` ({j.path}): {_reason(exc)} "
                             "(XDG_CACHE_HOME chooses where it goes); nothing was written") from None
        current = todo[0] if todo else None
        try:
            for current in todo:
                _keep_old(current, made)
                _create(current, current.new_name, current.new, made)
            for fd in dirs.values():
                tree.fsync_dir(fd)
            tree.fsync_dir(root_fd)
            with _signals_deferred():
                try:
                    journal.save(replace(j, state=COMMITTED))
                except ValueError as exc:  # cannot be: the same size as the prepared one
                    raise OSError(errno.EFBIG, str(exc)) from None
                j.state = COMMITTED
                _rename_all(j, todo, made, dirs, root_fd)
        except BaseException as exc:
            if j.state == PREPARED:  # nothing was renamed: remove what was made
                for dir_fd, name in made:
                    tree.unlink_quietly(dir_fd, name)
                with contextlib.suppress(OSError):
                    journal.remove(j)
                if isinstance(exc, OSError):
                    where = f"beside {_show(current.rel)}" if current else ""
                    raise UsageError(f"cannot write a temporary file {where}: {_reason(exc)}; nothing was "
                                     "written") from None
            raise
    finally:
        tree.close_all(dirs)
        os.close(root_fd)


def _rename_all(j: Journal, todo: list[_File], made: list[tuple[int, str]], dirs: dict[str, int],
                root_fd: int) -> None:
    """Steps 4 and 5, and the rollback when either fails."""
    done: list[_File] = []
    try:
        for f in todo:
            _unchanged(f)
            try:
                os.rename(f.new_name, f.name, src_dir_fd=f.dir_fd, dst_dir_fd=f.dir_fd)
            except OSError as exc:
                why = _reason(exc)
                raise _Changed(f"{_show(f.rel)}: the file system refused to replace it ({why})") from None
            done.append(f)
        for f in todo:
            _old_kept(f)
    except _Changed as exc:
        j.state = ROLLING_BACK
        with contextlib.suppress(OSError, ValueError):
            journal.save(j)
        failed = _put_back(done)
        if failed:
            raise UsageError(f"{exc}; putting the files back failed for {', '.join(failed)}: the journal "
                             f"({j.path}) keeps what is needed, and `deploycheck migrate apply {j.migration} "
                             "--write` finishes putting the tree back once the cause is fixed") from None
        for dir_fd, name in made:
            tree.unlink_quietly(dir_fd, name)
        with contextlib.suppress(OSError):
            journal.remove(j)
        n = len(done)
        back = f"the {_count(n, 'file')} already replaced {'were' if n != 1 else 'was'} put back" if n else \
            "no file had been replaced yet"
        raise UsageError(f"{exc}; {back}: nothing was changed (run apply again)") from None
    for fd in dirs.values():
        tree.fsync_dir(fd)
    tree.fsync_dir(root_fd)
    for f in todo:
        tree.unlink_quietly(f.dir_fd, f.old_name)
    with contextlib.suppress(OSError):
        journal.remove(j)  # left behind, it would be found complete and removed by the next apply --write


# -- an interrupted run ----------------------------------------------------------------------------------


@dataclass
class _Found:
    """A journal checked against the tree: ``renames`` (directory, from, to, digest expected of each) still to
    do, ``litter`` (directory, name) to remove once done. Holds descriptors: ``close`` it."""

    journal: Journal
    root_fd: int
    dirs: dict[str, int] = field(default_factory=dict)
    renames: list[tuple[int, str, str, str, str]] = field(default_factory=list)
    litter: list[tuple[int, str]] = field(default_factory=list)

    def close(self) -> None:
        tree.close_all(self.dirs)
        os.close(self.root_fd)


def _content(dir_fd: int, name: str, bad, rel: str, what: str) -> tuple[str, os.stat_result] | None:
    """Digest and ``lstat`` of a file the journal implies; ``None`` when absent. Raises ``Unusable``."""
    try:
        data, st = tree.read_at(dir_fd, name, MAX_SOURCE_BYTES)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        why = "a symbolic link" if isinstance(exc, OSError) and exc.errno == errno.ELOOP else _reason(exc)
        raise bad(f"{what} of `{_show(rel)}` is not a regular file of ours ({why})") from None
    return tree.digest(data), st


def _check_file(found: _Found, e: Entry, bad) -> None:
    """Compare one file of the journal with the tree; record what recovery would do. Raises ``Unusable``."""
    j, rel = found.journal, e.rel
    try:
        dir_fd, name = tree.open_parent(found.root_fd, rel, found.dirs)
    except OSError:
        raise bad(f"`{_show(rel)}`: a directory on its path is missing or a symbolic link") from None
    new_name, old_name = journal.temp_names(name, j.token)
    target = _content(dir_fd, name, bad, rel, "the file")
    new = _content(dir_fd, new_name, bad, rel, "the new content")
    old = _content(dir_fd, old_name, bad, rel, "the kept old content")
    t = target[0] if target else None
    same_inode = bool(target and old and tree.identity(old[1])[:2] == tree.identity(target[1])[:2])
    if new and new[1].st_nlink != 1:
        raise bad(f"the new content of `{_show(rel)}` has other names (hard links): not a file of ours")
    if j.state == PREPARED:
        # Written under a name holding the journal's random token, so ours, but maybe cut short: by size.
        if new and new[1].st_size > e.new_size:
            raise bad(f"the new content of `{_show(rel)}` is larger than the journal records")
        if old and not same_inode and old[1].st_size > e.old_size:
            raise bad(f"the kept old content of `{_show(rel)}` is larger than the journal records")
    elif j.state == COMMITTED:
        if new:
            if new[0] != e.new_digest:
                raise bad(f"the new content of `{_show(rel)}` does not have the digest the journal records")
            if t != e.old_digest:
                raise bad(f"`{_show(rel)}` changed since the interrupted apply")
            found.renames.append((dir_fd, new_name, name, e.new_digest, e.old_digest))
        elif t != e.new_digest:
            raise bad(f"`{_show(rel)}` holds neither its old nor its new content (changed since?)")
        if old and not same_inode and old[0] != e.old_digest:
            raise bad(f"the kept old content of `{_show(rel)}` does not have the digest the journal records")
    else:  # ROLLING_BACK
        if t == e.new_digest and not new:
            if not old or old[0] != e.old_digest:
                raise bad(f"the kept old content of `{_show(rel)}` is missing or does not have its digest")
            found.renames.append((dir_fd, old_name, name, e.old_digest, e.new_digest))
            old = None  # renamed back: nothing left to remove
        elif t == e.old_digest:
            if new and new[0] != e.new_digest:
                raise bad(f"the new content of `{_show(rel)}` does not have the digest the journal records")
            if old and not same_inode and old[0] != e.old_digest:
                raise bad(f"the kept old content of `{_show(rel)}` does not have its recorded digest")
        else:
            raise bad(f"`{_show(rel)}` holds neither its old nor its new content (changed since?)")
    if new and j.state != COMMITTED:
        found.litter.append((dir_fd, new_name))
    if old:
        found.litter.append((dir_fd, old_name))


def _find(root: str) -> _Found | None:
    """The journal of the project at ``root`` checked against the tree (read-only); ``None`` without one.
    Raises ``Unusable``."""
    real = os.path.realpath(root)
    j = journal.load(real)
    if j is None:
        return None

    def bad(reason: str) -> Unusable:
        return Unusable(j.path, reason)

    if j.root != real:
        raise bad("it names another project")
    try:
        root_fd = tree.open_root(root)
    except OSError as exc:
        raise bad(f"the project cannot be opened ({_reason(exc)})") from None
    found = _Found(j, root_fd)
    try:
        st = os.fstat(root_fd)
        if (st.st_dev, st.st_ino) != (j.device, j.inode):
            raise bad("the project directory was replaced since (another directory stands at this path now)")
        for e in j.files:
            _check_file(found, e, bad)
    except BaseException:
        found.close()
        raise
    return found


def _unusable(exc: Unusable) -> UsageError:
    return UsageError(f"{exc.path}: the journal of an interrupted `migrate apply` cannot be used: "
                      f"{exc.reason}; nothing was done: check the project's files (`git status`) and delete "
                      "that journal by hand")


def refuse_pending(root: str, shown: str) -> None:
    """For the read-only commands: raise ``UsageError`` (one line, nothing done) when an interrupted
    ``apply --write`` left the tree part old, part new (what ``apply --write`` completes), or left a journal
    that cannot be used. A run cut short before its commit changed nothing and is not mentioned."""
    try:
        found = _find(root)
    except Unusable as exc:
        raise _unusable(exc) from None
    if found is None:
        return
    try:
        j, n = found.journal, len(found.renames)
        if j.state == PREPARED or n == 0:
            return
        command = f"`deploycheck migrate apply {j.migration} {shlex.quote(shown)} --write`"
        if j.state == COMMITTED:
            raise UsageError(f"an interrupted `migrate apply --write` of `{j.migration}` left "
                             f"{_count(n, 'file')} of {len(j.files)} to replace; {command} completes it "
                             "(nothing was done now)")
        raise UsageError(f"an interrupted `migrate apply --write` of `{j.migration}` left "
                         f"{_count(n, 'file')} to put back as before; {command} finishes that "
                         "(nothing was done now)")
    finally:
        found.close()


def recover(root: str, err=None) -> None:
    """For ``apply --write`` only, under the exclusive lock: finish what an interrupted run left (see the
    module docstring), saying so on ``err`` in one line. Raises ``UsageError`` with nothing done when the
    journal cannot be used, or naming the file when a rename fails (the journal is kept)."""
    err = err or sys.stderr
    try:
        found = _find(root)
    except Unusable as exc:
        raise _unusable(exc) from None
    if found is None:
        return
    j = found.journal
    try:
        with _signals_deferred():
            for dir_fd, src, dst, src_digest, dst_digest in found.renames:
                try:  # compared again just before the rename, as write_all does
                    ok = (tree.digest(tree.read_at(dir_fd, src, MAX_SOURCE_BYTES)[0]) == src_digest
                          and tree.digest(tree.read_at(dir_fd, dst, MAX_SOURCE_BYTES)[0]) == dst_digest)
                    if not ok:
                        raise _Changed("a file changed during recovery")
                    os.rename(src, dst, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
                except (OSError, ValueError, _Changed) as exc:
                    why = _reason(exc)
                    raise UsageError(f"cannot complete an interrupted `migrate apply` of `{j.migration}`: "
                                     f"{_show(dst)}: {why}; the journal ({j.path}) is kept") from None
            for fd in found.dirs.values():
                tree.fsync_dir(fd)
            tree.fsync_dir(found.root_fd)
            for dir_fd, name in found.litter:
                tree.unlink_quietly(dir_fd, name)
            journal.remove(j)
    finally:
        found.close()
    n, what = len(found.renames), f"an interrupted `migrate apply` of `{j.migration}`"
    if j.state == COMMITTED and n:
        err.write(f"deploycheck: completed {what} ({_count(n, 'file')})\n")
    elif j.state == ROLLING_BACK and n:
        err.write(f"deploycheck: put back {_count(n, 'file')} of {what} that was undoing itself: the tree is "
                  "as it was before it\n")
    elif found.litter:
        done = {PREPARED: "it had changed nothing", COMMITTED: "it had replaced every file",
                ROLLING_BACK: "it had put every file back"}[j.state]
        err.write(f"deploycheck: removed the temporary files of {what} ({done})\n")
