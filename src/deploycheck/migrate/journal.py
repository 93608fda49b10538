"""The journal of ``migrate apply --write``: which files it is replacing, so a run cut short can be finished.

Where it lives. The journal is kept in the user cache directory (``$XDG_CACHE_HOME/deploycheck/migrate`` or
``~/.cache/deploycheck/migrate``), named by a digest of the project's real path, never in the project. A file
in the project could be planted by the repository itself (in a commit, a pull request, an archive), and a
tool that "completes" a journal it finds there does whatever that file says: replace a file outside the
project, or move one in. A journal in the user's own cache can only have been written by this user's
``apply --write``, no checkout can carry one, and it can never be committed by mistake. (A file named
``.deploycheck-migrate.journal`` in a project, where earlier versions kept it, is an ordinary file now and
is never read.) The cost: recovery needs the same user cache and the same real path; a project moved or
re-cloned after a crash is refused as not matching, and says so.

Even so, a journal is trusted for nothing it can be checked for (a stale journal, a project directory
replaced by another clone at the same path, a damaged file): it names the project's real path and the
device and inode of its directory; each file as a relative path inside it (no ``..``, no absolute path,
resolved without following links, see ``tree``); the temporary names are not in it but derived from the
file's name and a random token (``.NAME.TOKEN.new.deploycheck-tmp`` for the new content,
``.NAME.TOKEN.old.deploycheck-tmp`` for the old content kept until the end), in the file's own directory; and
the SHA-256 digest of each file's old and new content, checked before anything is renamed (``write``).

Its states: ``prepared`` (the temporary files are being written: the tree is the old one; recovery removes
them), ``committed`` (the new tree is decided; recovery renames what is left), ``rolling-back`` (a rename was
refused or a file changed: recovery puts the old contents back). Format (JSON, version 1)::

    {"format": "deploycheck-migrate-journal", "version": 1, "root": "/real/path", "device": 2049,
     "inode": 1234, "migration": "ID", "token": "32 hex digits", "state": "committed",
     "files": [["app/db/session.py", "sha256 of old", "sha256 of new", old size, new size], ...]}
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass, field

from deploycheck.index.store import default_cache_dir
from deploycheck.inputs import read_regular
from deploycheck.migrate import tree

FORMAT = "deploycheck-migrate-journal"
PREPARED, COMMITTED, ROLLING_BACK = "prepared", "committed", "rolling-back"
STATES = (PREPARED, COMMITTED, ROLLING_BACK)

# The largest journal read or written (bytes). About 150 bytes a file: some 50,000 files in one apply.
JOURNAL_LIMIT = 8 * 1024 * 1024

_TOKEN = re.compile(r"^[0-9a-f]{32}$")
_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$")  # as config._ID, bounded
_SUFFIX = ".deploycheck-tmp"


class Unusable(Exception):
    """A journal that this run cannot use: unreadable, malformed, or not matching the tree. ``path`` is the
    journal's, ``reason`` a short phrase (never file contents)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = path, reason


@dataclass
class Entry:
    """One file: ``rel`` (relative to the root, ``/``-separated), the digests (SHA-256, hex) and sizes
    (bytes) of its old and new content."""

    rel: str
    old_digest: str
    new_digest: str
    old_size: int
    new_size: int


@dataclass
class Journal:
    """``root`` is the project's real path; ``device``/``inode`` those of its directory; ``token`` the random
    part of the temporary names; ``state`` one of ``STATES``."""

    root: str
    device: int
    inode: int
    migration: str
    token: str
    state: str
    files: list[Entry] = field(default_factory=list)

    @property
    def path(self) -> str:
        return location(self.root)


def location(real_root: str) -> str:
    """Where the journal of the project whose real path is ``real_root`` lives."""
    key = hashlib.sha256(os.fsencode(real_root)).hexdigest()[:32]
    return os.path.join(default_cache_dir(), "migrate", f"{key}.journal")


def temp_names(name: str, token: str) -> tuple[str, str]:
    """The names, in the file's directory, of the new content and of the old content kept until the end."""
    return f".{name}.{token}.new{_SUFFIX}", f".{name}.{token}.old{_SUFFIX}"


def encode(j: Journal) -> bytes:
    doc = {"format": FORMAT, "version": 1, "root": j.root, "device": j.device, "inode": j.inode,
           "migration": j.migration, "token": j.token, "state": j.state,
           "files": [[e.rel, e.old_digest, e.new_digest, e.old_size, e.new_size] for e in j.files]}
    return json.dumps(doc, separators=(",", ":")).encode("utf-8", "surrogateescape")


def decode(data: bytes, path: str) -> Journal:
    """Parse and check the shape of a journal (every field, every path by ``tree.bad_relative``). Raises
    ``Unusable``."""
    try:
        doc = json.loads(data.decode("utf-8", "surrogateescape"))
    except (ValueError, RecursionError):
        raise Unusable(path, "not a journal (not JSON)") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("version") != 1:
        raise Unusable(path, "not a journal of this version")

    def field_(name: str, kind: type, check=None):
        value = doc.get(name)
        if not isinstance(value, kind) or isinstance(value, bool) or (check is not None and not check(value)):
            raise Unusable(path, f"journal field `{name}` is malformed")
        return value

    j = Journal(field_("root", str), field_("device", int), field_("inode", int),
                field_("migration", str, _ID.match), field_("token", str, _TOKEN.match),
                field_("state", str, STATES.__contains__))
    seen: set[str] = set()
    for i, item in enumerate(field_("files", list), 1):
        if not (isinstance(item, list) and len(item) == 5 and all(isinstance(x, str) for x in item[:3])
                and all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in item[3:])
                and _DIGEST.match(item[1]) and _DIGEST.match(item[2])):
            raise Unusable(path, f"journal file #{i} is malformed")
        why = tree.bad_relative(item[0])
        if why:
            raise Unusable(path, f"journal file #{i} is {why}, not a file inside the project")
        if item[0] in seen:
            raise Unusable(path, f"journal file #{i} is listed twice")
        seen.add(item[0])
        j.files.append(Entry(*item))
    return j


def load(real_root: str) -> Journal | None:
    """The journal of the project at ``real_root``; ``None`` when there is none. Raises ``Unusable`` when
    it cannot be read (not a regular file, over ``JOURNAL_LIMIT``) or is malformed."""
    path = location(real_root)
    try:
        data = read_regular(path, JOURNAL_LIMIT)
    except (FileNotFoundError, NotADirectoryError):  # no cache directory there: no apply wrote a journal
        return None
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise Unusable(path, f"cannot be read ({reason})") from None
    return decode(data, path)


def save(j: Journal) -> None:
    """Write the journal atomically (a temporary file, ``fsync``, ``rename(2)``, ``fsync`` of the
    directory). Raises ``OSError``; ``ValueError`` when it would exceed ``JOURNAL_LIMIT``."""
    data = encode(j)
    if len(data) > JOURNAL_LIMIT:
        raise ValueError(f"the journal of {len(j.files)} files would exceed {JOURNAL_LIMIT} bytes")
    path = j.path
    directory, name = os.path.split(path)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
    try:
        fd, tmp = tempfile.mkstemp(prefix=name + ".", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            # renameat(2), as for the project's files: one system call for every rename of an apply
            os.replace(os.path.basename(tmp), name, src_dir_fd=dfd, dst_dir_fd=dfd)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        tree.fsync_dir(dfd)
    finally:
        os.close(dfd)


def remove(j: Journal) -> None:
    """Delete the journal (done with it). Raises ``OSError`` other than its being gone already."""
    try:
        os.unlink(j.path)
    except FileNotFoundError:
        pass
