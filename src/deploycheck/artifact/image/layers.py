"""The final file tree of an image's layers, built by streaming each layer once.

Follows the OCI image spec's layer rules (image-spec ``layer.md``): layers apply in order; a ``.wh.NAME``
entry deletes NAME from the layers below; ``.wh..wh..opq`` in a directory hides everything the lower layers
put there; hard links name another entry of the same image. Member names are normalized and any name that
is absolute after normalization or climbs out of the root (``..``) is rejected, like a corrupt layer.

Nothing is extracted except the contents a check needs (``wanted(path)``), which are written to a private
temporary directory owned by the caller; memory stays bounded whatever the image size.
"""

from __future__ import annotations

import hashlib
import io
import os
import posixpath
import tarfile
from collections.abc import Callable
from dataclasses import dataclass

from deploycheck.artifact.image.errors import ImageError

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
MAX_MEMBER_BYTES = 16 * 1024 * 1024  # contents larger than this are not kept ...
MAX_KEPT_BYTES = 64 * 1024 * 1024  # ... except interpreter binaries and libpython, up to this size
DEFAULT_MAX_LAYER_BYTES = 64 * 1024**3  # uncompressed bytes one layer may expand to
# Past this many uncompressed bytes, a layer that has grown more than MAX_RATIO times the compressed bytes read
# is a bomb: gzip's best is about 1000:1 on zeros; real layers compress 2-10:1. This stops a small bomb in
# seconds instead of minutes of inflating zeros up to the absolute bound.
RATIO_AFTER_BYTES = 4 * 1024**3
MAX_RATIO = 500
_CHUNK = 1 << 20


@dataclass
class Entry:
    """One path of the final tree. ``kind`` is ``file``, ``dir``, ``symlink``, ``hardlink`` or ``other``;
    ``target`` the link target for links; ``blob`` where a kept file's bytes are, or None when not kept."""

    kind: str
    size: int = 0
    target: str = ""
    blob: str | None = None
    layer: int = 0


def normalize(name: str) -> str:
    """An archive member name as an absolute image path; raises ImageError for names that escape the root."""
    if "\x00" in name:
        raise ImageError(f"layer member name contains a NUL byte: {name!r}")
    parts = []
    for part in name.replace("\\", "/").split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            raise ImageError(f"layer member {name!r} climbs out of the image root ('..')")
        parts.append(part)
    if name.startswith("/"):
        raise ImageError(f"layer member {name!r} has an absolute path")
    return "/" + "/".join(parts)


class _Counting(io.RawIOBase):
    """Wraps a compressed stream: hashes what is read (for the digest) and bounds what it may expand to."""

    def __init__(self, raw, digest: str | None, on_bytes: Callable[[int], None] | None = None):
        self.raw = raw
        self.sha = _hasher(digest)
        self.digest = digest
        self.on_bytes = on_bytes
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        data = self.raw.read(len(b))
        if self.sha is not None:
            self.sha.update(data)
        n = len(data)
        b[:n] = data
        self.read_bytes += n
        if self.on_bytes is not None:
            self.on_bytes(n)
        return n

    def verify(self) -> None:
        while self.readinto(bytearray(_CHUNK)):  # the digest covers the whole blob, padding included
            pass
        _check(self.sha, self.digest, "layer digest")


def _hasher(digest: str | None):
    if digest and digest.startswith(("sha256:", "sha512:")):
        return hashlib.new(digest.split(":", 1)[0])
    return None


def _check(sha, digest: str | None, what: str) -> None:
    if sha is not None and f"{sha.name}:{sha.hexdigest()}" != digest:
        raise ImageError(f"{what} mismatch: expected {digest}, got {sha.name}:{sha.hexdigest()}")


class _Bounded(io.RawIOBase):
    """Counts decompressed bytes and stops a decompression bomb; hashes them when a ``diff_id`` is to be
    checked (image-spec ``config.md``: the digest of the uncompressed layer tar)."""

    def __init__(self, raw, limit: int, diff_id: str | None = None, compressed=None,
                 ratio_after: int = RATIO_AFTER_BYTES):
        self.raw = raw
        self.limit = limit
        self.total = 0
        self.compressed = compressed  # the _Counting below, for the expansion ratio
        self.ratio_after = ratio_after
        self.sha = _hasher(diff_id)
        self.diff_id = diff_id

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        data = self.raw.read(len(b))
        self.total += len(data)
        if self.total > self.limit:
            raise ImageError(f"layer expands beyond {self.limit} bytes (a decompression bomb?)")
        if (self.compressed is not None and self.total > self.ratio_after
                and self.total > MAX_RATIO * max(self.compressed.read_bytes, 1)):
            raise ImageError(f"layer expands more than {MAX_RATIO} times its compressed size "
                             f"({self.compressed.read_bytes} bytes into {self.total}): a decompression bomb")
        if self.sha is not None:
            self.sha.update(data)
        n = len(data)
        b[:n] = data
        return n


def _decompressed(head: bytes, stream):
    if head[:2] == b"\x1f\x8b":
        import gzip

        return gzip.GzipFile(fileobj=stream)
    if head[:4] == b"\x28\xb5\x2f\xfd":
        try:
            import zstandard
        except ImportError:
            raise ImageError("zstd-compressed layer: install the zstandard package") from None
        return zstandard.ZstdDecompressor().stream_reader(stream)
    return stream


class FileTree:
    """Paths of the final tree (``entries``) and the kept contents, in ``workdir`` (a private directory)."""

    def __init__(self, workdir: str, max_layer_bytes: int = DEFAULT_MAX_LAYER_BYTES,
                 ratio_after: int = RATIO_AFTER_BYTES) -> None:
        self.workdir = workdir
        self.ratio_after = ratio_after
        self.entries: dict[str, Entry] = {"/": Entry("dir")}
        self.children: dict[str, set[str]] = {"/": set()}
        self.max_layer_bytes = max_layer_bytes
        self._blobs = 0

    # -- building -----------------------------------------------------------------------------------------
    def apply_layer(self, index: int, opener: Callable[[], object], digest: str | None,
                    wanted: Callable[[str], bool], diff_id: str | None = None,
                    on_bytes: Callable[[int], None] | None = None) -> None:
        """Stream layer ``index`` (``opener()`` returns its compressed bytes as a binary file) onto the tree,
        checking the blob's ``digest`` and, when given, the uncompressed tar's ``diff_id``; ``on_bytes(n)`` is
        told of every ``n`` blob bytes read. Raises ImageError for a corrupt, truncated, malicious or
        mismatching layer."""
        raw = opener()
        counting = _Counting(raw, digest, on_bytes)
        buffered = io.BufferedReader(counting, _CHUNK)
        head = buffered.peek(4)[:4]
        stream = _Bounded(_decompressed(head, buffered), self.max_layer_bytes, diff_id, counting, self.ratio_after)
        try:
            with tarfile.open(fileobj=io.BufferedReader(stream, _CHUNK), mode="r|") as tar:
                for member in tar:
                    tar.members.clear()  # a streamed TarFile would otherwise keep every member's header
                    self._member(index, tar, member, wanted)
            if stream.sha is not None:
                while stream.read(_CHUNK):  # the diff_id covers the end-of-archive blocks too
                    pass
                _check(stream.sha, diff_id, f"layer {index + 1} content digest (diff_id)")
            counting.verify()
        except ImageError:
            raise
        except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
            raise ImageError(f"layer {index + 1} is corrupt or truncated ({exc})") from None
        except Exception as exc:  # zstandard raises its own error type
            raise ImageError(f"layer {index + 1} cannot be read ({type(exc).__name__}: {exc})") from None

    def _member(self, index: int, tar: tarfile.TarFile, m: tarfile.TarInfo, wanted) -> None:
        path = normalize(m.name)
        parent, base = posixpath.split(path)
        if base == OPAQUE:
            self._remove_children(parent)
            self._ensure_dir(parent, index)
            return
        if base.startswith(WHITEOUT):
            self._remove(posixpath.join(parent, base[len(WHITEOUT):]))
            return
        if path == "/":
            return
        self._ensure_dir(parent, index)
        if m.isdir():
            existing = self.entries.get(path)
            if existing is None or existing.kind != "dir":
                self._remove(path)
                self._add(path, Entry("dir", layer=index))
            return
        self._remove(path)
        if m.issym():
            self._add(path, Entry("symlink", target=m.linkname, layer=index))
        elif m.islnk():
            self._add(path, Entry("hardlink", target=normalize(m.linkname), layer=index))
        elif m.isreg():
            entry = Entry("file", size=m.size, layer=index)
            if m.size <= MAX_KEPT_BYTES and wanted(path) and (m.size <= MAX_MEMBER_BYTES or "python" in path):
                entry.blob = self._keep(tar, m)
            self._add(path, entry)
        else:
            self._add(path, Entry("other", layer=index))

    def _keep(self, tar: tarfile.TarFile, m: tarfile.TarInfo) -> str:
        src = tar.extractfile(m)
        self._blobs += 1
        dest = os.path.join(self.workdir, f"{self._blobs:08d}")
        # O_EXCL in our own private directory: nothing outside it can be touched, whatever the member name.
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            while src is not None and (chunk := src.read(_CHUNK)):
                out.write(chunk)
        return dest

    def _ensure_dir(self, path: str, index: int) -> None:
        if path in self.entries and self.entries[path].kind == "dir":
            return
        parent = posixpath.dirname(path)
        if path != "/":
            self._ensure_dir(parent, index)
            self._remove(path)
            self._add(path, Entry("dir", layer=index))

    def _add(self, path: str, entry: Entry) -> None:
        self.entries[path] = entry
        if entry.kind == "dir":
            self.children.setdefault(path, set())
        self.children[posixpath.dirname(path)].add(posixpath.basename(path))

    def _remove(self, path: str) -> None:
        if path not in self.entries or path == "/":
            return
        self._remove_children(path)
        self.entries.pop(path)
        self.children.pop(path, None)
        self.children.get(posixpath.dirname(path), set()).discard(posixpath.basename(path))

    def _remove_children(self, path: str) -> None:
        for name in list(self.children.get(path, ())):
            self._remove(posixpath.join(path, name))

    # -- reading ------------------------------------------------------------------------------------------
    def resolve(self, path: str, follow_last: bool = True) -> str | None:
        """The path with every symbolic link resolved inside the image root (an absolute link target means
        the image root); None when it does not exist. Raises ImageError for a link loop."""
        parts = [p for p in path.split("/") if p]
        resolved = "/"
        hops = 0
        while parts:
            part = parts.pop(0)
            if part == ".":
                continue
            if part == "..":
                if resolved == "/":
                    raise ImageError(f"a symbolic link in {path!r} points outside the image root")
                resolved = posixpath.dirname(resolved)
                continue
            candidate = posixpath.join(resolved, part)
            entry = self.entries.get(candidate)
            if entry is None:
                return None
            if entry.kind == "symlink" and (parts or follow_last):
                hops += 1
                if hops > 40:  # Linux gives up (ELOOP) after 40 links
                    raise ImageError(f"symbolic link loop at {candidate} in the image")
                target = entry.target
                parts = [p for p in target.split("/") if p] + parts
                resolved = "/" if target.startswith("/") else resolved
                continue
            resolved = candidate
        return resolved
