"""The final file tree of an image's layers, built by streaming each layer once.

Follows the OCI image spec's layer rules (image-spec ``layer.md``): layers apply in order; an entry replaces
what was at its path ("Changeset over existing files": unlink, then recreate), but a directory over a
directory keeps its contents; ``.wh.NAME`` deletes NAME and ``.wh..wh..opq`` hides everything of its
directory, from the lower layers only, wherever they stand in the archive ("Whiteouts"). A member's parent
directories are found as extraction finds them: symbolic links followed inside the image root, missing
directories created. A hard link is a second name for what its target held when the link was applied
(POSIX ``link()``; ``layer.md`` "Hardlinks"): a later layer replacing the target leaves the link as it was,
and a link to a path that does not exist yet is an error, as extraction fails there.

Member names are normalized; a name absolute or climbing out of the root (``..``), or longer than Linux
allows (PATH_MAX, NAME_MAX), is rejected like a corrupt layer.

Nothing is extracted except the contents a check needs (``wanted(path)``), written once each to a private
directory owned by the caller and deleted when no path of the tree names them any more. Memory, disk and
time are bounded (``limits.Limits`` and the constants below) whatever the image.
"""

from __future__ import annotations

import hashlib
import io
import os
import posixpath
import queue
import threading
import zlib
from collections.abc import Callable

from deploycheck.artifact.image.errors import ImageError, shown
from deploycheck.artifact.image.limits import Limits, raise_hint
from deploycheck.artifact.image.tarstream import Member, Reader

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
MAX_MEMBER_BYTES = 16 * 1024 * 1024  # contents larger than this are not kept ...
MAX_KEPT_BYTES = 64 * 1024 * 1024  # ... except interpreter binaries and libpython, up to this size
MAX_COMPONENT_BYTES = 255  # Linux NAME_MAX: no longer file name can exist
MAX_TEXT_CHARS = 64 * 1024 * 1024  # names and link targets the tree holds, all together (a bound on memory)
MAX_TRAILING_BYTES = 1024 * 1024  # after a layer's end-of-archive blocks, or after its gzip stream
MAX_LINK_HOPS = 40  # Linux gives up (ELOOP) after 40 symbolic links
# Path components gone through, link targets included, to apply the layers and to look paths up afterwards: a
# few million for the largest images; a maze of long link chains (40 hops of 2000 components each) would
# otherwise cost hours. About 10-20 s of lookups.
MAX_LOOKUP_STEPS = 50_000_000
# Past this many uncompressed bytes, layers grown more than MAX_RATIO times the compressed bytes read are a
# bomb: gzip's best is about 1000:1 on zeros; real layers compress 2-10:1. This stops a small bomb (or one
# layer of zeros listed many times) in seconds instead of minutes of inflating zeros up to the size limit.
RATIO_AFTER_BYTES = 1024**3
MAX_RATIO = 500
_CHUNK = 1 << 20
AHEAD_CHUNKS = 4  # decompressed chunks read ahead of the tar reader (memory: 4 MiB)
WRITERS = 2  # threads writing kept files when unpacking (FileTree keep_all)
WRITTEN_BEHIND = 32  # files at most waiting for a writer, each at most _CHUNK bytes (memory: 32 MiB)
_GZIP = b"\x1f\x8b"
_ZSTD = b"\x28\xb5\x2f\xfd"


EMPTY = 0  # the blob number of kept empty contents: no file holds them


class Node:
    """One path of the tree. ``kind`` is ``file``, ``dir``, ``symlink`` or ``other``; ``size`` of a file in
    bytes; ``target`` of a symbolic link; ``blob`` the number of a file's kept contents
    (``FileTree.blob_path``; EMPTY for an empty file; None when not kept); ``layer`` the index of the last
    layer that wrote it (for a directory: that named it or something under it); ``children`` of a
    directory, by name; ``mode`` the permission bits its tar header gave (for unpacking). About 250 bytes of
    memory a path, its name included."""

    __slots__ = ("blob", "children", "kind", "layer", "mode", "size", "target")

    def __init__(self, kind: str, size: int = 0, target: str = "", blob: int | None = None,
                 layer: int = 0, mode: int = 0o755) -> None:
        self.kind, self.size, self.target, self.blob, self.layer = kind, size, target, blob, layer
        self.mode = mode
        self.children: dict[str, Node] | None = {} if kind == "dir" else None


def _components(path: str) -> list[str]:
    """The components of ``path``, last first (a stack to pop from)."""
    return [p for p in reversed(path.split("/")) if p]


def normalize(name: str, what: str = "layer") -> str:
    """An archive member name as an absolute image path (``./usr//lib/`` is ``/usr/lib``). Raises ImageError
    for a NUL byte, an absolute name or ``..``. Linear in the name's length, by C loops (searches, not a
    Python loop over components): names are up to PATH_MAX long, and a million of them. (Components longer
    than NAME_MAX are refused when the tree gets them: ``FileTree._put``.)"""
    if "\x00" in name:
        raise ImageError(f"{what}: a member name contains a NUL byte: {shown(name)}")
    if name.startswith("/"):
        raise ImageError(f"{what}: member {shown(name)} has an absolute path")
    text = name.replace("\\", "/").strip("/")
    framed = f"/{text}/"
    if "/../" in framed:
        raise ImageError(f"{what}: member {shown(name)} climbs out of the image root ('..')")
    if "//" in text or "/./" in framed:
        text = "/".join(p for p in text.split("/") if p not in ("", "."))
    return "/" + text


class _Compressed(io.RawIOBase):
    """A layer blob as read: hashed for its ``digest``, held to the ``size`` its descriptor gives (bytes;
    None: unknown), counted for the tree's expansion ratio and told to ``on_bytes``."""

    def __init__(self, raw, digest: str | None, size: int | None, what: str, tree: FileTree,
                 on_bytes: Callable[[int], None] | None) -> None:
        self.raw, self.digest, self.size, self.what = raw, digest, size, what
        self.tree, self.on_bytes = tree, on_bytes
        self.sha = _hasher(digest)
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        n = self.raw.readinto(b)
        self.count += n
        if self.size is not None and self.count > self.size:
            raise ImageError(f"{self.what}: the blob holds more than the {self.size} bytes its descriptor "
                             "gives")
        if self.sha is not None:
            self.sha.update(memoryview(b)[:n])
        self.tree.compressed += n
        if self.on_bytes is not None:
            self.on_bytes(n)
        return n

    def finish(self) -> None:
        """Check the whole blob was read, is as long as its descriptor says and has its digest."""
        if self.raw.read(1):
            raise ImageError(f"{self.what}: the blob goes on after the end of its compressed stream")
        if self.size is not None and self.count != self.size:
            raise ImageError(f"{self.what}: the blob is {self.count} bytes, its descriptor gives {self.size}")
        _check(self.sha, self.digest, f"{self.what}: layer digest")


class _Gunzip:
    """gzip members one after another, as ``gzip -d`` reads them (RFC 1952 2.2); zero bytes after the last
    are padding, up to MAX_TRAILING_BYTES. Reads compressed bytes from ``source.read``."""

    def __init__(self, source, what: str) -> None:
        self.source, self.what = source, what
        self.d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self.pending = b""
        self.padding = 0
        self.done = False

    def read(self, n: int) -> bytes:
        while not self.done:
            if not self.pending:
                self.pending = self.source.read(_CHUNK)
                if not self.pending:
                    if self.d is not None:
                        raise ImageError(f"{self.what}: the gzip stream is truncated")
                    self.done = True
                    break
            if self.d is None:  # between members: the next member, or zero padding
                if self.pending[:1] == _GZIP[:1]:
                    self.d = zlib.decompressobj(16 + zlib.MAX_WBITS)
                    continue
                if self.pending.strip(b"\x00"):
                    raise ImageError(f"{self.what}: data after the end of the gzip stream")
                self.padding += len(self.pending)
                self.pending = b""
                if self.padding > MAX_TRAILING_BYTES:
                    raise ImageError(f"{self.what}: more than {MAX_TRAILING_BYTES} bytes after the gzip "
                                     "stream")
                continue
            out = self.d.decompress(self.pending, n)
            self.pending = self.d.unconsumed_tail
            if self.d.eof:
                self.pending = self.d.unused_data + self.pending
                self.d = None
            if out:
                return out
        return b""


class _Ahead:
    """Runs ``read(n)`` (a decompressing reader: its compressed input read, hashed and decompressed) in a
    thread of its own, at most AHEAD_CHUNKS chunks of _CHUNK bytes ahead of the caller, and hashes what it
    returns with ``sha`` there too. zlib, zstandard, hashlib and file reads release the GIL while they work,
    so decompression overlaps the caller's work on the tar stream (parsing, writing files) as a ``gzip -d``
    process overlaps ``tar``'s; the bytes and their order are the same. An exception of ``read`` is raised to
    the caller at the point of the stream where it happened."""

    def __init__(self, read: Callable[[int], bytes], sha) -> None:
        self._source, self.sha = read, sha
        self._queue: queue.Queue = queue.Queue(AHEAD_CHUNKS)
        self._stop = threading.Event()
        self._chunk, self._at = b"", 0
        self._ended = False
        self._thread = threading.Thread(target=self._run, name="deploycheck-inflate", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                data = self._source(_CHUNK)
                if self.sha is not None and data:
                    self.sha.update(data)
                self._put(data)
                if not data:
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the reading thread, which raises it
            self._put(exc)

    def _put(self, item) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def read(self, n: int) -> bytes:
        """Up to ``n`` bytes; b"" at the end of the stream."""
        while self._at >= len(self._chunk):
            if self._ended:
                return b""
            item = self._queue.get()
            if isinstance(item, BaseException):
                self._ended = True
                self._thread.join()
                raise item
            if not item:
                self._ended = True
                self._thread.join()  # its last read is done: the blob may be checked to its end now
                return b""
            self._chunk, self._at = item, 0
        if self._at == 0 and n >= len(self._chunk):
            out, self._chunk = self._chunk, b""
            return out
        out = self._chunk[self._at:self._at + n]
        self._at += len(out)
        return out

    def close(self) -> None:
        """Stop the thread (it ends within one chunk's work) and wait for it."""
        self._stop.set()
        while self._thread.is_alive():
            try:
                self._queue.get(timeout=0.1)
            except queue.Empty:
                pass
        self._thread.join()


class _Inflated(io.RawIOBase):
    """The uncompressed tar of a layer: gzip, zstd (all frames, RFC 8878) or none, detected by its first
    bytes; counted against the image's size limit and expansion ratio; hashed when a ``diff_id`` is to be
    checked (image-spec ``config.md``: the digest of the uncompressed layer tar). A compressed layer is
    read, hashed and decompressed ahead in a thread (``_Ahead``)."""

    def __init__(self, source: io.BufferedReader, what: str, tree: FileTree, diff_id: str | None) -> None:
        self.what, self.tree, self.diff_id = what, tree, diff_id
        self.sha = _hasher(diff_id)
        self._close = None
        self._ahead: _Ahead | None = None
        head = source.peek(4)[:4]
        if head[:2] == _GZIP:
            self._ahead = _Ahead(_Gunzip(source, what).read, self.sha)
        elif head == _ZSTD:
            try:
                import zstandard
            except ImportError:
                raise ImageError(f"{what} is zstd-compressed: install the zstandard package") from None
            reader = zstandard.ZstdDecompressor().stream_reader(source, read_across_frames=True)
            self._close = reader.close
            self._ahead = _Ahead(reader.read, self.sha)
        else:
            self._readinto = source.readinto

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        if self._ahead is None:  # not compressed: no copy
            n = self._readinto(b)
            if self.sha is not None:
                self.sha.update(memoryview(b)[:n])
        else:  # hashed in the thread
            data = self._ahead.read(len(b))
            n = len(data)
            b[:n] = data
        self.tree.inflate(n, self.what)
        return n

    def close(self) -> None:
        if self._ahead is not None:
            self._ahead.close()  # before the decompressor it uses is closed
            self._ahead = None
        if self._close is not None:
            self._close()
            self._close = None
        super().close()


class _Writers:
    """Kept files of at most _CHUNK bytes written by WRITERS threads while the caller reads on: creating a
    file waits on the file system (its journal), which a reader of the next members need not wait for, as
    ``tar`` does. At most WRITTEN_BEHIND files wait; ``wait(blob)`` before a kept file is deleted,
    ``finish()`` at the end of a layer (raising the first error, as ImageError), ``cancel()`` however the
    layer ends (nothing is written after it returns)."""

    def __init__(self, workdir: str, path: Callable[[int], str], owner: tuple[int, int] | None) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.workdir, self.path, self.owner = workdir, path, owner
        self.pool = ThreadPoolExecutor(WRITERS, thread_name_prefix="deploycheck-write")
        self.pending: dict[int, object] = {}  # blob -> Future
        self.slots = threading.BoundedSemaphore(WRITTEN_BEHIND)

    def submit(self, blob: int, data: bytes, mode: int) -> None:
        self.slots.acquire()
        try:
            future = self.pool.submit(self._write, blob, data, mode)
        except BaseException:
            self.slots.release()
            raise
        self.pending[blob] = future
        if len(self.pending) > 4 * WRITTEN_BEHIND:  # forget the written ones, raising an error now
            for done in [b for b, f in self.pending.items() if f.done()]:
                self._result(self.pending.pop(done))

    def _write(self, blob: int, data: bytes, mode: int) -> None:
        try:
            _write_file(self.path(blob), data, mode, self.owner)
        finally:
            self.slots.release()

    def _result(self, future) -> None:
        try:
            future.result()
        except OSError as exc:
            raise ImageError(f"cannot keep a file of the image in the private directory {self.workdir} "
                             f"({exc.strerror})") from None

    def wait(self, blob: int) -> None:
        future = self.pending.pop(blob, None)
        if future is not None:
            self._result(future)

    def finish(self) -> None:
        pending, self.pending = self.pending, {}
        errors = []
        for future in pending.values():
            try:
                self._result(future)
            except ImageError as exc:
                errors.append(exc)
        if errors:
            raise errors[0]

    def cancel(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.pending = {}


def _write_file(path: str, data: bytes, mode: int, owner: tuple[int, int] | None) -> None:
    """A new file (O_EXCL: in the private directory, nothing else is touched) holding ``data``, with the
    permission bits ``mode`` and ``owner`` set on its descriptor."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fchmod(fd, mode)
        if owner is not None:
            os.fchown(fd, *owner)
    finally:
        os.close(fd)


def _hasher(digest: str | None):
    if digest and digest.startswith(("sha256:", "sha512:")):
        return hashlib.new(digest.split(":", 1)[0])
    return None


def _check(sha, digest: str | None, what: str) -> None:
    if sha is not None and f"{sha.name}:{sha.hexdigest()}" != digest:
        raise ImageError(f"{what} mismatch: expected {digest}, got {sha.name}:{sha.hexdigest()}")


class FileTree:
    """The final tree (``root``, a directory Node) of the layers applied so far, and the kept contents in
    ``workdir`` (a private directory the caller owns). ``limits`` bound the whole image; ``ratio_after``
    (bytes) is when the expansion ratio starts to be checked. ``keep_all`` keeps every file's contents,
    whatever their size, for unpacking a root filesystem: each kept file then gets, as it is written, the
    permission bits of its header less set-user-ID and set-group-ID, and ``owner`` (uid, gid) when given,
    so that unpacking only has to move it into place (all the names of one contents share its inode, as
    ``link()`` makes them, and so its mode: the mode of the member that wrote it)."""

    def __init__(self, workdir: str, limits: Limits | None = None,
                 ratio_after: int = RATIO_AFTER_BYTES, keep_all: bool = False,
                 owner: tuple[int, int] | None = None) -> None:
        self.workdir = workdir
        self.keep_all = keep_all
        self.owner = owner
        self._writers: _Writers | None = None  # with keep_all, during apply_layer
        self.limits = limits or Limits.from_environment()
        self.ratio_after = ratio_after
        self.root = Node("dir")
        self.inflated = 0  # uncompressed bytes of all layers so far
        self.compressed = 0  # blob bytes read so far
        self.members = 0
        self.kept = 0  # bytes of the blobs in workdir
        self.text = 0  # characters of the names and link targets in the tree
        self._blobs = 0
        self._links: dict[int, int] = {}  # blob -> paths naming it, for the blobs more than one path names
        self.steps = 0  # path components gone through (MAX_LOOKUP_STEPS)
        self._clean_layer, self._clean = -1, set()  # directories an opaque whiteout went through this layer
        self._generation = 0  # changes of the tree's directories and links, for the cached parent below
        self._parent: tuple | None = None  # ((path, layer, generation), directory) of the last member

    # -- building -----------------------------------------------------------------------------------------
    def apply_layer(self, index: int, opener: Callable[[], object], digest: str | None,
                    wanted: Callable[[str], bool], diff_id: str | None = None,
                    on_bytes: Callable[[int], None] | None = None, size: int | None = None) -> None:
        """Stream layer ``index`` (``opener()`` returns its blob as a binary file) onto the tree, checking the
        blob's ``size`` (bytes, from its descriptor) and ``digest`` and, when given, the uncompressed tar's
        ``diff_id``; ``on_bytes(n)`` is told of every ``n`` blob bytes read. Raises ImageError for a corrupt,
        truncated, malicious or mismatching layer, or one past a limit."""
        what = f"layer {index + 1}"
        raw = opener()
        inflated = None
        if self.keep_all:
            self._writers = _Writers(self.workdir, self.blob_path, self.owner)
        try:
            compressed = _Compressed(raw, digest, size, what, self, on_bytes)
            inflated = _Inflated(io.BufferedReader(compressed, _CHUNK), what, self, diff_id)
            stream = io.BufferedReader(inflated, _CHUNK)
            reader = Reader(stream, what)
            while (member := reader.next()) is not None:
                self._member(index, reader, member, wanted, what)
            # the end-of-archive blocks and any padding: covered by the digests, but never gigabytes of it
            if len(stream.read(MAX_TRAILING_BYTES + 1)) > MAX_TRAILING_BYTES:
                raise ImageError(f"{what}: more than {MAX_TRAILING_BYTES} bytes after the end of its tar "
                                 "archive")
            _check(inflated.sha, diff_id, f"{what} content digest (diff_id)")
            compressed.finish()
            if self._writers is not None:
                self._writers.finish()
        except ImageError:
            raise
        except (OSError, EOFError, ValueError, zlib.error) as exc:
            raise ImageError(f"{what} is corrupt or truncated ({exc})") from None
        except Exception as exc:  # noqa: BLE001 - zstandard raises its own error type
            raise ImageError(f"{what} cannot be read ({type(exc).__name__}: {exc})") from None
        finally:
            if self._writers is not None:
                self._writers.cancel()
                self._writers = None
            if inflated is not None:
                inflated.close()
            raw.close()

    def inflate(self, n: int, what: str) -> None:
        """Count ``n`` more uncompressed bytes; raises ImageError past the image's size limit or ratio."""
        self.inflated += n
        if self.inflated > self.limits.image_bytes:
            raise ImageError(f"{what}: the image's layers expand to more than {self.limits.image_bytes} "
                             f"bytes, the limit on an image's size ({raise_hint('image_bytes')})")
        if self.inflated > self.ratio_after and self.inflated > MAX_RATIO * max(self.compressed, 1):
            raise ImageError(f"{what}: the layers expand more than {MAX_RATIO} times their compressed size "
                             f"({self.compressed} bytes into {self.inflated}): a decompression bomb")

    def _member(self, index: int, reader: Reader, m: Member, wanted: Callable[[str], bool],
                what: str) -> None:
        self.members += 1
        if self.members > self.limits.members:
            raise ImageError(f"{what}: the image's layers hold more than {self.limits.members} members "
                             f"({raise_hint('members')})")
        path = normalize(m.name, what)
        if path == "/":
            return
        parent_path, base = posixpath.split(path)
        parent = self._directory(parent_path, index, what)
        if base == OPAQUE:
            self._hide_lower(parent, index)
            return
        if base.startswith(WHITEOUT):
            name = base[len(WHITEOUT):]
            if not name:
                raise ImageError(f"{what}: the whiteout {shown(m.name)} names nothing")
            node = parent.children.get(name)
            if node is not None and node.layer < index:  # whiteouts apply to lower layers only
                self._drop(parent, name)
            return
        existing = parent.children.get(base)
        if m.kind == "dir":
            if existing is not None and existing.kind == "dir":
                existing.layer, existing.mode = index, m.mode
                return
            node = Node("dir", layer=index, mode=m.mode)
        elif m.kind == "hardlink":
            node = self._hard_link(m, index, what)  # before the path is replaced: a link may name itself
        elif m.kind == "symlink":
            node = Node("symlink", target=m.linkname, layer=index)
        elif m.kind == "file":
            node = Node("file", size=m.size, layer=index, mode=m.mode)
        else:
            node = Node("other", layer=index)
        self._drop(parent, base)
        if m.kind == "file" and not m.sparse and (self.keep_all or (
                m.size <= MAX_KEPT_BYTES and wanted(path) and (m.size <= MAX_MEMBER_BYTES or "python" in path))):
            node.blob = self._keep(reader, m, what)
        self._put(parent, base, node, what)

    def _hard_link(self, m: Member, index: int, what: str) -> Node:
        target = normalize(m.linkname.lstrip("/"), what)
        parent_path, base = posixpath.split(target)
        parent = self._directory(parent_path, index, what, create=False)
        named = parent.children.get(base) if parent is not None and base else None
        if named is None:
            raise ImageError(f"{what}: the hard link {shown(m.name)} names {shown(m.linkname)}, which does "
                             "not exist when the layer is applied (a hard link must follow its target)")
        if named.kind == "dir":
            raise ImageError(f"{what}: the hard link {shown(m.name)} names a directory")
        if named.blob:
            self._links[named.blob] = self._links.get(named.blob, 1) + 1
        return Node(named.kind, named.size, named.target, named.blob, index, named.mode)

    def blob_path(self, blob: int) -> str:
        """Where kept contents number ``blob`` are (not for EMPTY)."""
        return os.path.join(self.workdir, f"{blob:08d}")

    def names(self, blob: int) -> int:
        """How many paths of the tree name kept contents ``blob`` (hard links: more than one)."""
        return self._links.get(blob, 1)

    def _keep(self, reader: Reader, m: Member, what: str) -> int:
        if m.size == 0:
            return EMPTY
        if self.kept + m.size > self.limits.private_bytes:
            raise ImageError(f"{what}: the files deploycheck keeps from the image would take more than "
                             f"{self.limits.private_bytes} bytes in its private directory "
                             f"({raise_hint('private_bytes')})")
        self._blobs += 1
        self.kept += m.size
        if self._writers is not None and m.size <= _CHUNK:
            data = reader.read(m.size)
            if len(data) < m.size:
                raise ImageError(f"{what}: the tar archive is truncated")
            self._writers.submit(self._blobs, data, m.mode & 0o1777)
            return self._blobs
        try:
            # O_EXCL in our own private directory: nothing outside it is touched, whatever the member name.
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
            fd = os.open(self.blob_path(self._blobs), flags, 0o600)
            try:
                while chunk := reader.read(_CHUNK):
                    os.write(fd, chunk)  # a regular file takes all of it (or raises: disk full)
                if self.keep_all:  # on the descriptor: no path looked up again, nothing else reaches the file
                    os.fchmod(fd, m.mode & 0o1777)
                    if self.owner is not None:
                        os.fchown(fd, *self.owner)
            finally:
                os.close(fd)
        except OSError as exc:
            raise ImageError(f"cannot keep a file of the image in the private directory {self.workdir} "
                             f"({exc.strerror})") from None
        return self._blobs

    def _directory(self, path: str, index: int, what: str, create: bool = True) -> Node | None:
        """The directory at ``path`` as extraction reaches it: symbolic links followed inside the image root
        (``..`` stops at the root, as under chroot), missing directories and non-directories in the way
        replaced by directories, each marked as named by layer ``index``. With ``create`` False: None where
        something is missing, nothing changed."""
        key = (path, index, self._generation)
        if create and self._parent is not None and self._parent[0] == key:
            return self._parent[1]  # members come directory by directory: the same parent as the last one
        todo = _components(path)
        chain = [self.root]
        hops = 0
        while todo:
            part = todo.pop()
            self._step(1, what)
            if part == ".":
                continue
            if part == "..":
                if len(chain) > 1:
                    chain.pop()
                continue
            node = chain[-1]
            child = node.children.get(part)
            if child is not None and child.kind == "symlink":
                hops += 1
                if hops > MAX_LINK_HOPS:
                    raise ImageError(f"{what}: symbolic link loop in the directories of {shown(path)}")
                target = _components(child.target)
                self._step(len(target), what)
                todo.extend(target)
                if child.target.startswith("/"):
                    chain = [self.root]
                continue
            if child is None or child.kind != "dir":
                if not create:
                    return None
                self._drop(node, part)
                child = Node("dir", layer=index)
                self._put(node, part, child, what)
            if create:
                child.layer = index
            chain.append(child)
        if create:
            self._parent = (key, chain[-1])
        return chain[-1]

    def _step(self, n: int, what: str) -> None:
        self.steps += n
        if self.steps > MAX_LOOKUP_STEPS:
            raise ImageError(f"{what}: following the image's paths and symbolic links took more than "
                             f"{MAX_LOOKUP_STEPS} steps (a maze of links?)")

    def _put(self, parent: Node, name: str, node: Node, what: str) -> None:
        # a character is at most 4 bytes of UTF-8: only a long name needs measuring in bytes
        limit = MAX_COMPONENT_BYTES
        if len(name) * 4 > limit and len(name.encode("utf-8", "surrogateescape")) > limit:
            raise ImageError(f"{what}: a member name has a component longer than {MAX_COMPONENT_BYTES} bytes "
                             f"(Linux NAME_MAX): {shown(name)}")
        parent.children[name] = node
        self.text += len(name) + len(node.target)
        if self.text > MAX_TEXT_CHARS:
            raise ImageError(f"{what}: the names and link targets of the image's files take more than "
                             f"{MAX_TEXT_CHARS} characters (a bound on memory)")

    def _drop(self, parent: Node, name: str) -> None:
        """Remove ``name`` and everything under it; delete kept contents no other path names."""
        node = parent.children.pop(name, None)
        todo = [(name, node)] if node is not None else []
        if node is not None and node.kind in ("dir", "symlink"):
            self._generation += 1  # paths through it resolve differently now
        while todo:
            name, node = todo.pop()
            self.text -= len(name) + len(node.target)
            if node.blob:
                left = self._links.pop(node.blob, 1) - 1
                if left > 1:
                    self._links[node.blob] = left
                elif left == 0:
                    if self._writers is not None:
                        self._writers.wait(node.blob)  # written before it is deleted
                    os.unlink(self.blob_path(node.blob))
                    self.kept -= node.size
            if node.children:
                todo.extend(node.children.items())

    def _hide_lower(self, directory: Node, index: int) -> None:
        """An opaque whiteout: everything of the lower layers under ``directory`` goes, this layer's stays.
        A directory is gone through once a layer: after that nothing of the lower layers is left in it."""
        if self._clean_layer != index:
            self._clean_layer, self._clean = index, set()
        todo = [directory]
        while todo:
            d = todo.pop()
            if id(d) in self._clean:
                continue
            self._clean.add(id(d))
            for name, child in list(d.children.items()):
                if child.layer < index:
                    self._drop(d, name)
                elif child.kind == "dir":
                    todo.append(child)

    # -- reading ------------------------------------------------------------------------------------------
    def find(self, path: str, follow_last: bool = True) -> tuple[str, Node] | None:
        """The image path with every symbolic link resolved inside the image root (an absolute link target
        means the image root) and its Node; None when it does not exist. Raises ImageError for a link loop,
        a link climbing out of the root, or past MAX_LOOKUP_STEPS for the whole image."""
        todo = _components(path)
        names: list[str] = []
        nodes = [self.root]
        hops = 0
        while todo:
            part = todo.pop()
            self._step(1, "reading the image")
            if part == ".":
                continue
            if part == "..":
                if not names:
                    raise ImageError(f"a symbolic link in {shown(path)} points outside the image root")
                names.pop()
                nodes.pop()
                continue
            children = nodes[-1].children
            child = children.get(part) if children is not None else None
            if child is None:
                return None
            if child.kind == "symlink" and (todo or follow_last):
                hops += 1
                if hops > MAX_LINK_HOPS:
                    at = "/".join(["", *names, part])
                    raise ImageError(f"symbolic link loop at {shown(at)} in the image")
                target = _components(child.target)
                self._step(len(target), "reading the image")
                todo.extend(target)
                if child.target.startswith("/"):
                    names, nodes = [], [self.root]
                continue
            names.append(part)
            nodes.append(child)
        return "/" + "/".join(names), nodes[-1]

    def resolve(self, path: str, follow_last: bool = True) -> str | None:
        """The path of ``find``, or None."""
        found = self.find(path, follow_last)
        return found[0] if found is not None else None
