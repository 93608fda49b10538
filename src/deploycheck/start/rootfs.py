"""An image's final root filesystem on disk, unpacked once per set of layers and reused.

The layers are applied as ``artifact.image.layers.FileTree`` applies them (OCI image-spec ``layer.md``:
order, whiteouts, opaque directories, hard links, links resolved inside the root), with every file's
contents kept, then written out: directories made, contents moved into place (renamed; hard-linked for
a second name) from the private directory they were streamed to, where they got their mode and owner as
they were written, symbolic links created as stored (they are only followed inside the sandbox, where
the tree is ``/``), permission bits from the headers without set-user-ID and set-group-ID bits. Device
nodes and FIFOs are not made (the sandbox has its own ``/dev``). Mount points a container runtime provides
(``/proc``, ``/dev``, ``/tmp``, ``/etc/hosts``...) are made when the image lacks them, as runc does.

Where: ``$TMPDIR/deploycheck-rootfs-UID/KEY``, KEY a digest of the layers' digests and the owner. The
directory is ours (checked: owned by us, not a link, writable by no one else) and traversable, because the
sandbox runs as another, unprivileged, user when deploycheck runs as root: every file of a tree unpacked as
root is then owned by that user (``sandbox.SANDBOX_UID``), which is the image's user inside the sandbox.
A tree is unpacked in a private directory beside the others and renamed into place when complete, so an
interrupted unpacking leaves nothing; the least recently used trees beyond KEEP are removed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
from collections.abc import Callable

from deploycheck import private
from deploycheck.artifact.image.errors import ImageError
from deploycheck.artifact.image.layers import EMPTY, FileTree, Node
from deploycheck.artifact.image.limits import Limits
from deploycheck.artifact.image.source import Image
from deploycheck.errors import UsageError

KEEP = 4  # unpacked trees kept for later runs
VERSION = "1"
# Mount points the sandbox needs in a read-only root (made empty when missing).
MOUNT_DIRS = ("proc", "dev", "tmp", "sys", "etc")
MOUNT_FILES = ("etc/hosts", "etc/resolv.conf", "etc/hostname")


def base_dir() -> str:
    """The directory holding the unpacked trees, made when missing (mode 0711 as root, else 0700). Raises
    UsageError when it exists but is not ours (another user's, a link, writable by others)."""
    uid = os.geteuid()
    path = os.path.join(tempfile.gettempdir(), f"deploycheck-rootfs-{uid}")
    try:
        os.mkdir(path, 0o711 if uid == 0 else 0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise UsageError(f"cannot make {path} ({exc.strerror})") from None
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != uid or st.st_mode & 0o022:
        raise UsageError(f"{path} is not a private directory of this user (owner {st.st_uid}, mode "
                         f"{stat.S_IMODE(st.st_mode):o}): remove it")
    return path


def key(image: Image, owner: tuple[int, int]) -> str:
    """The digest naming the tree of ``image``'s layers (each layer's blob digest and diff_id, in order)
    unpacked for ``owner`` (uid, gid)."""
    h = hashlib.sha256(f"{VERSION}|{owner[0]}:{owner[1]}".encode())
    for layer in image.layers:
        h.update(f"|{layer.digest}:{layer.diff_id}".encode())
    return h.hexdigest()[:32]


def unpack(image: Image, owner: tuple[int, int] | None, limits: Limits | None = None,
           on_bytes: Callable[[int], None] | None = None) -> tuple[str, bool]:
    """The path of ``image``'s root filesystem and whether it was already there. ``owner`` (uid, gid) owns
    every file when given (only root can give it). Bounds: ``limits`` (uncompressed bytes, members, names;
    the kept bytes are bounded by ``image_bytes``). Raises ImageError for a broken or malicious layer (and
    leaves nothing), UsageError when the directory cannot be used."""
    base = base_dir()
    owner_key = owner or (os.geteuid(), os.getegid())
    final = os.path.join(base, key(image, owner_key))
    if os.path.isdir(os.path.join(final, "proc")):
        os.utime(final)  # recently used
        return final, True
    limits = limits or Limits.from_environment()
    limits = Limits(limits.image_bytes, limits.members, limits.layers, limits.image_bytes)
    work = private.make_in(base, ".unpack-")
    try:
        blobs = os.path.join(work, "blobs")
        root = os.path.join(work, "root")
        os.mkdir(blobs, 0o700)
        tree = FileTree(blobs, limits, keep_all=True, owner=owner)
        for i, layer in enumerate(image.layers):
            tree.apply_layer(i, lambda layer=layer: image.opener(layer.name), layer.digest, lambda p: True,
                             layer.diff_id, on_bytes, layer.size)
        _write(tree, root, owner)
        try:
            os.rename(root, final)
        except OSError:
            if not os.path.isdir(os.path.join(final, "proc")):  # another run's tree in place is as good
                raise
    except OSError as exc:
        raise ImageError(f"cannot unpack the image into {base} ({exc.strerror or exc})") from None
    finally:
        private.remove(work)
    _evict(base, final)
    return final, False


def _write(tree: FileTree, root: str, owner: tuple[int, int] | None) -> None:
    """Make ``tree`` at ``root``. Kept contents already have their mode and owner (``FileTree``): each is
    renamed into place at its last name, and hard-linked for the names before that."""
    os.mkdir(root, 0o700)
    names: dict[int, int] = {}  # blob -> its names not made yet, for blobs with more than one
    dirs: list[tuple[str, int]] = [(root, 0o755)]
    todo: list[tuple[str, Node]] = [(root, tree.root)]
    while todo:
        path, node = todo.pop()
        for name, child in node.children.items():
            dest = os.path.join(path, name)
            if child.kind == "dir":
                os.mkdir(dest, 0o700)
                dirs.append((dest, child.mode))
                todo.append((dest, child))
            elif child.kind == "symlink":
                os.symlink(child.target, dest)
            elif child.kind == "file":
                if child.blob is None:
                    raise ImageError(f"{dest[len(root):]}: a sparse file, which deploycheck does not unpack")
                if child.blob != EMPTY:
                    left = names.get(child.blob) or tree.names(child.blob)
                    if left > 1:
                        os.link(tree.blob_path(child.blob), dest)
                        names[child.blob] = left - 1
                    else:
                        os.rename(tree.blob_path(child.blob), dest)
                    continue
                os.close(os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))
                os.chmod(dest, child.mode & 0o1777)
            else:
                continue  # devices, FIFOs, sockets: not made
            if owner is not None:
                os.chown(dest, *owner, follow_symlinks=False)
    for d in MOUNT_DIRS:
        if not os.path.lexists(os.path.join(root, d)):
            os.mkdir(os.path.join(root, d), 0o755)
            dirs.append((os.path.join(root, d), 0o755))
    for f in MOUNT_FILES:
        p = os.path.join(root, f)
        if not os.path.lexists(p) and os.path.isdir(os.path.dirname(p)) and not os.path.islink(os.path.dirname(p)):
            os.close(os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644))
            if owner is not None:
                os.chown(p, *owner, follow_symlinks=False)
    for d, mode in reversed(dirs):  # the deepest first: a read-only directory is made so last
        os.chmod(d, (mode & 0o1777) | 0o100)  # its owner may always go through it, as root would
        if owner is not None:
            os.chown(d, *owner)


def _evict(base: str, keep: str) -> None:
    """Remove the least recently used trees beyond KEEP (never ``keep``, never one being unpacked)."""
    trees = []
    for name in os.listdir(base):
        path = os.path.join(base, name)
        if not name.startswith(".") and path != keep:
            try:
                trees.append((os.lstat(path).st_mtime, path))
            except OSError:
                continue
    trees.sort(reverse=True)
    for _, path in trees[KEEP - 1:]:
        shutil.rmtree(path, ignore_errors=True)

