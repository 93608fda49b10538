"""Where an image is (the transport) and how to reach its manifest, config and layer blobs.

Transports are named as in containers/image and skopeo (``containers-transports(5)``): ``oci-archive:FILE``
(a tar of an OCI image layout), ``oci:DIR`` (an OCI image layout directory, image-spec ``image-layout.md``),
``docker-archive:FILE`` (what ``docker save`` writes: ``manifest.json`` naming a config file and layer tars).
The other transports bring the image into a private temporary directory in one of those forms first:
``docker-daemon:NAME[:TAG]`` through the Docker Engine API (``daemon.py``), ``docker://REF`` and
``containers-storage:REF`` through ``skopeo copy`` (``skopeo.py``).
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from dataclasses import dataclass, field

from deploycheck import private
from deploycheck.artifact.image import documents
from deploycheck.artifact.image.errors import ImageError, listing, shown
from deploycheck.artifact.image.limits import Limits, raise_hint
from deploycheck.artifact.image.tarstream import Member, Reader
from deploycheck.inputs import NotRegularFile, open_regular

INDEX_TYPES = {"application/vnd.oci.image.index.v1+json",
               "application/vnd.docker.distribution.manifest.list.v2+json"}
MAX_JSON_BYTES = 16 * 1024 * 1024  # an index, manifest or config (real ones: a few KiB)
MAX_ARCHIVE_MEMBERS = 100_000  # members of an oci-archive or docker-archive file (blobs, a few per layer)
REF_NAME = "org.opencontainers.image.ref.name"
LOCAL = ("oci-archive", "oci", "docker-archive")  # read in place
FETCHED = ("docker-daemon", "containers-storage")  # copied to a private directory first; and docker://
KNOWN = "oci-archive:FILE, oci:DIR, docker-archive:FILE, docker-daemon:NAME[:TAG], docker://REF, containers-storage:REF"
# A target that looks like ``scheme:rest`` (containers-transports(5) names are lowercase words with dashes).
_TRANSPORT_LIKE = re.compile(r"^([a-z][a-z0-9-]*):")


@dataclass
class Layer:
    """A layer blob: ``digest`` of the blob as stored (None when the transport gives none), ``media_type``,
    ``size`` of the blob in bytes (its descriptor's, checked against the blob before it is read), and
    ``diff_id``: the digest of the uncompressed layer tar from the config's ``rootfs.diff_ids`` (image-spec
    ``config.md``), checked where no blob digest is given."""

    name: str
    digest: str | None
    media_type: str = ""
    size: int = 0
    diff_id: str | None = None


@dataclass
class Image:
    """What a check needs from an image: its config (``Env``, ``WorkingDir``, ``Entrypoint``, ``Cmd``,
    ``Labels``: the ``config`` object of the image configuration, its shape checked by
    ``documents.CONTAINER_CONFIG``), its layers in order, and which manifest was read."""

    transport: str
    reference: str
    config: dict
    layers: list[Layer]
    manifest: str
    platform: str
    opener: object = field(repr=False, default=None)  # name -> binary file object
    closers: list = field(repr=False, default_factory=list)  # called once by close(), last first

    def close(self) -> None:
        """Release what reading the image holds: open archives and the private copy of a fetched image."""
        while self.closers:
            self.closers.pop()()


def parse_target(target: str) -> tuple[str, str] | None:
    """``(transport, reference)`` for an image target (``("oci-archive", "FILE")``, ``("docker", "REF")`` for
    ``docker://REF``), None for a plain directory path. Raises ImageError for a target that is not an existing
    path and starts with what looks like a transport deploycheck does not read (``podman:x``, ``dir:x``)."""
    for transport in LOCAL + FETCHED:
        if target.startswith(transport + ":"):
            return transport, target[len(transport) + 1:]
    if target.startswith("docker://"):
        return "docker", target[len("docker://"):]
    m = _TRANSPORT_LIKE.match(target)
    if m and not os.path.exists(target):
        if m.group(1) == "docker":
            raise ImageError(f"{target}: a registry image is written docker://REF (docker://{target[7:]})")
        raise ImageError(f"{target}: unknown transport `{m.group(1)}` (deploycheck reads {KNOWN})")
    return None


def open_image(target: str, platform: str = "linux/amd64", tls_verify: bool | None = None,
               limits: Limits | None = None) -> Image:
    """Read an image's index, manifest and config, their shapes checked (``documents``) and their blobs'
    sizes against their descriptors. ``platform`` is ``os/arch[/variant]``; ``tls_verify`` False lets a
    ``docker://`` registry be reached over plain HTTP or with an unverified certificate (None: skopeo's
    default, verify); ``limits`` bound the image (from the environment when None). The caller closes the
    Image (``Image.close``; ``ImageFiles.close`` does it). Raises ImageError for unreadable, malformed or
    oversized input, an unreachable daemon or registry, a missing tool."""
    limits = limits or Limits.from_environment()
    parsed = parse_target(target)
    if parsed is None:
        raise ImageError(f"{target}: not an image reference ({KNOWN})")
    transport, ref = parsed
    if tls_verify is not None and transport != "docker":
        raise ImageError(f"--tls-verify applies to docker:// targets only, not to {transport}:")
    if transport in LOCAL:
        return _open_local(transport, ref, platform, limits)
    if transport == "docker-daemon":
        from deploycheck.artifact.image import daemon

        tmp, local, local_ref, ref = daemon.fetch(ref, limits)
    else:
        from deploycheck.artifact.image import skopeo

        tmp, local, local_ref, ref = skopeo.fetch(transport, ref, platform, tls_verify, limits)
    try:
        image = _open_local(local, local_ref, platform, limits)
    except BaseException as exc:
        private.remove(tmp)
        if isinstance(exc, ImageError):  # name the target given, not the private copy just removed
            shown = f"docker://{ref}" if transport == "docker" else f"{transport}:{ref}"
            raise ImageError(f"{shown}: the copy read back is not a readable image: {exc}") from None
        raise
    image.transport, image.reference = transport, ref
    image.closers.insert(0, lambda: private.remove(tmp))
    return image


def split_reference(ref: str) -> tuple[str, str | None]:
    """``PATH[:REFERENCE]`` as containers-transports(5) writes local images (``oci:DIR:v2``,
    ``docker-archive:FILE:app:1.4``, ``docker-archive:FILE:@1``): the longest prefix that exists is the path,
    the rest the reference (None when the whole is the path or nothing exists)."""
    if os.path.exists(ref):
        return ref, None
    cuts = [i for i, c in enumerate(ref) if c == ":"]
    for i in reversed(cuts):
        if os.path.exists(ref[:i]):
            return ref[:i], ref[i + 1:]
    return ref, None


def _open_local(transport: str, ref: str, platform: str, limits: Limits) -> Image:
    path, name = split_reference(ref)
    target = f"{transport}:{ref}"
    if transport == "oci":
        if not os.path.isdir(path):
            raise ImageError(f"{target}: no such OCI layout directory")
        return _oci(transport, ref, _DirBlobs(path), platform, name, limits)
    archive = _TarBlobs(path, target)
    try:
        if transport == "oci-archive":
            image = _oci(transport, ref, archive, platform, name, limits)
        else:
            image = _docker(transport, ref, archive, name, limits)
    except BaseException:
        archive.close()
        raise
    image.closers.append(archive.close)
    return image


def _docker_entry(transport: str, ref: str, manifest: list, name: str | None) -> dict:
    """The image of a ``docker save`` archive that ``name`` selects (``app:1.4`` among its RepoTags, or
    ``@N``, its index), as containers-transports(5) says; the only one when no name is given."""
    tags = [t for e in manifest for t in (e.get("RepoTags") or [])]
    if name is None:
        if len(manifest) > 1:
            raise ImageError(f"{transport}:{ref}: the archive holds {len(manifest)} images "
                             f"({listing(tags) or 'untagged'}); name one as {transport}:{ref}:NAME:TAG or "
                             "@INDEX")
        return manifest[0]
    if name.startswith("@"):
        if name[1:].isdigit() and int(name[1:]) < len(manifest):
            return manifest[int(name[1:])]
        raise ImageError(f"{transport}:{ref}: no image {name} (the archive holds {len(manifest)})")
    for e in manifest:
        if name in (e.get("RepoTags") or []):
            return e
    raise ImageError(f"{transport}:{ref}: no image tagged {name!r} (it has: {listing(tags) or 'no tags'})")


def _member_key(name: str) -> str:
    while name.startswith("./"):
        name = name[2:]
    return name.lstrip("/")


class _DirBlobs:
    """The files of an OCI image layout directory (image-spec ``image-layout.md``), opened as regular files
    only (``inputs.open_regular``: a FIFO or device there is refused, not waited on)."""

    def __init__(self, root: str) -> None:
        self.root = os.path.realpath(root)

    def _path(self, name: str) -> str:
        path = os.path.realpath(os.path.join(self.root, name))
        if not path.startswith(self.root + os.sep):
            raise ImageError(f"{shown(name)}: outside the image layout")
        return path

    def exists(self, name: str) -> bool:
        return os.path.isfile(os.path.join(self.root, name))

    def size(self, name: str) -> int:
        """The size of blob ``name`` in bytes. Raises ImageError when it is missing or not a regular file."""
        try:
            st = os.stat(self._path(name))
        except OSError:
            raise ImageError(f"missing blob {name} in the image layout") from None
        if not stat.S_ISREG(st.st_mode):
            raise ImageError(f"{name} in the image layout is not a regular file")
        return st.st_size

    def open(self, name: str):
        try:
            return open_regular(self._path(name))
        except NotRegularFile:
            raise ImageError(f"{name} in the image layout is not a regular file") from None
        except FileNotFoundError:
            raise ImageError(f"missing blob {name} in the image layout") from None
        except OSError as exc:
            raise ImageError(f"cannot read {name} in the image layout ({exc.strerror})") from None

    def close(self) -> None:
        pass


class _Region:
    """Bytes ``[offset, offset + size)`` of an open file, read with ``os.pread`` (each region on its
    own)."""

    def __init__(self, fd: int, offset: int, size: int, what: str) -> None:
        self.fd, self.position, self.left, self.what = fd, offset, size, what

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        data = os.pread(self.fd, n, self.position) if n > 0 else b""
        self._advance(len(data), n)
        return data

    def readinto(self, b) -> int:
        view = memoryview(b)[:self.left]
        got = os.preadv(self.fd, [view], self.position) if len(view) else 0
        self._advance(got, len(view))
        return got

    def _advance(self, got: int, wanted: int) -> None:
        if got < wanted:
            raise ImageError(f"{self.what}: the archive ends inside this member (truncated)")
        self.position += got
        self.left -= got

    def close(self) -> None:
        pass


class _TarBlobs:
    """The members of an ``oci-archive`` or ``docker-archive`` file, indexed by one pass over its headers
    (``tarstream``: bounded headers; data skipped by seeking) and read in place. At most MAX_ARCHIVE_MEMBERS.
    Raises ImageError when the file is missing, not a regular file or not a readable tar archive."""

    def __init__(self, path: str, target: str) -> None:
        self.target = target
        try:
            self.file = open_regular(path)
        except NotRegularFile:
            raise ImageError(f"{target}: not a regular file") from None
        except FileNotFoundError:
            raise ImageError(f"{target}: no such file") from None
        except OSError as exc:
            raise ImageError(f"{target}: cannot read the file ({exc.strerror})") from None
        try:
            reader = Reader(self.file, "", seekable=True, length=os.fstat(self.file.fileno()).st_size)
            self.members: dict[str, Member] = {}
            count = 0
            while (member := reader.next()) is not None:
                count += 1
                if count > MAX_ARCHIVE_MEMBERS:
                    raise ImageError(f"more than {MAX_ARCHIVE_MEMBERS} members")
                key = _member_key(member.name)
                if member.kind == "hardlink":  # tar stores a second copy of a file as a link to the first
                    member = self.members.get(_member_key(member.linkname), member)
                self.members[key] = member
            if count == 0:
                raise ImageError("no members")
        except ImageError as exc:
            self.file.close()
            raise ImageError(f"{target}: not a readable tar archive ({exc})") from None
        except BaseException:
            self.file.close()
            raise

    def close(self) -> None:
        self.file.close()

    def _member(self, name: str) -> Member:
        member = self.members.get(_member_key(name))
        if member is None or member.kind != "file":
            raise ImageError(f"missing blob {shown(name)} in the archive")
        if member.sparse:
            raise ImageError(f"blob {shown(name)} is stored as a sparse file in the archive, which "
                             "deploycheck does not read")
        return member

    def exists(self, name: str) -> bool:
        member = self.members.get(_member_key(name))
        return member is not None and member.kind == "file"

    def size(self, name: str) -> int:
        """The size of member ``name`` in bytes. Raises ImageError when it is missing or sparse."""
        return self._member(name).size

    def open(self, name: str):
        member = self._member(name)
        return _Region(self.file.fileno(), member.offset, member.size, f"{self.target}: {shown(name)}")


def _read_json(blobs, name: str, shape, where: str, size: int | None = None):
    """The document ``name`` of ``blobs``, of the ``size`` (bytes) its descriptor gives when known."""
    actual = blobs.size(name)
    if size is not None and actual != size:
        raise ImageError(f"{where}: the blob is {actual} bytes, its descriptor gives {size}")
    if actual > MAX_JSON_BYTES:
        raise ImageError(f"{where}: larger than {MAX_JSON_BYTES} bytes")
    f = blobs.open(name)
    try:
        data = f.read(MAX_JSON_BYTES + 1)
    finally:
        f.close()
    if len(data) != actual:
        raise ImageError(f"{where}: the blob changed while it was read")
    return data, documents.parse(data, shape, where)


def _blob(digest: str) -> str:
    alg, hexd = digest.split(":", 1)  # a digest documents.check has seen
    return f"blobs/{alg}/{hexd}"


def _verified_json(blobs, desc: dict, shape, what: str) -> dict:
    """The document a descriptor names (image-spec ``descriptor.md``): its size and digest checked before it
    is parsed, then its shape."""
    digest = desc["digest"]
    where = f"{what} {digest}"
    if desc["size"] > MAX_JSON_BYTES:
        raise ImageError(f"{where}: its descriptor gives {desc['size']} bytes, over the limit of "
                         f"{MAX_JSON_BYTES} bytes on a JSON document")
    data, doc = _read_json(blobs, _blob(digest), shape, where, desc["size"])
    alg, hexd = digest.split(":", 1)
    if hashlib.new(alg, data).hexdigest() != hexd:
        raise ImageError(f"{where}: the blob does not match its digest")
    return doc


def _oci(transport: str, ref: str, blobs, platform: str, name: str | None, limits: Limits) -> Image:
    if transport == "oci-archive" and not blobs.exists("index.json") and blobs.exists("manifest.json"):
        raise ImageError(f"{transport}:{ref}: no index.json but a manifest.json (a docker-archive? read it "
                         "as docker-archive:FILE)")
    _, index = _read_json(blobs, "index.json", documents.INDEX, "index.json")
    if not index["manifests"]:
        raise ImageError(f"{transport}:{ref}: index.json lists no manifests")
    manifests = index["manifests"]
    # image-layout.md: an image of a layout is named by its org.opencontainers.image.ref.name annotation
    names = [(m.get("annotations") or {}).get(REF_NAME) for m in manifests]
    names = [n for n in names if n]
    if name is not None:
        manifests = [m for m in manifests if (m.get("annotations") or {}).get(REF_NAME) == name]
        if not manifests:
            raise ImageError(f"{transport}:{ref}: no image named {name!r} in the layout "
                             f"(it has: {listing(names) or 'no named images'})")
    elif len(manifests) > 1 and not any(m.get("platform") for m in manifests):
        path = split_reference(ref)[0]
        raise ImageError(f"{transport}:{ref}: the layout holds {len(manifests)} images "
                         f"({listing(names) or 'unnamed'}); name one as {transport}:{path}:NAME")
    desc = manifests[0]
    depth = 0
    while desc["mediaType"] in INDEX_TYPES:
        depth += 1
        if depth > 4:
            raise ImageError("image index nesting is too deep")
        nested = _verified_json(blobs, desc, documents.INDEX, "image index")
        desc = _pick(nested["manifests"], platform)
    if len(manifests) > 1 and depth == 0:
        desc = _pick(manifests, platform)
    manifest = _verified_json(blobs, desc, None, "manifest")
    where = f"manifest {desc['digest']}"
    if isinstance(manifest, dict) and manifest.get("schemaVersion") == 1:
        raise ImageError(f"{where}: a Docker image manifest of schema 1, which deploycheck does not read "
                         "(`skopeo copy --format oci` converts it)")
    documents.check(manifest, documents.MANIFEST, where)
    if manifest["schemaVersion"] != 2:
        raise ImageError(f"{where}: schemaVersion {manifest['schemaVersion']} is not supported (only 2)")
    config = _verified_json(blobs, manifest["config"], documents.CONFIG, "image config")
    _within_limits(where, len(manifest["layers"]), sum(d["size"] for d in manifest["layers"]), limits)
    layers = []
    for d in manifest["layers"]:
        size = blobs.size(_blob(d["digest"]))
        if size != d["size"]:  # before reading: a blob longer than it should be is never hashed
            raise ImageError(f"{where}: layer blob {d['digest']} is {size} bytes, its descriptor gives "
                             f"{d['size']}")
        layers.append(Layer(_blob(d["digest"]), d["digest"], d["mediaType"], size))
    plat = f"{config['os']}/{config['architecture']}"
    return Image(transport, ref, config.get("config") or {}, layers, desc["digest"], plat, blobs.open)


def _within_limits(where: str, count: int, size: int, limits: Limits) -> None:
    if count > limits.layers:
        raise ImageError(f"{where}: {count} layers, over the limit of {limits.layers} "
                         f"({raise_hint('layers')})")
    if size > limits.image_bytes:
        raise ImageError(f"{where}: the layers are {size} bytes, over the limit of {limits.image_bytes} "
                         f"bytes on an image's size ({raise_hint('image_bytes')})")


def _pick(manifests: list, platform: str) -> dict:
    os_name, _, arch = platform.partition("/")
    for m in manifests:
        p = m.get("platform") or {}
        if p.get("os") == os_name and p.get("architecture") == arch:
            return m
    found = [f"{(m.get('platform') or {}).get('os')}/{(m.get('platform') or {}).get('architecture')}"
             for m in manifests]
    raise ImageError(f"no manifest for platform {platform} in the image index (it has: "
                     f"{listing(found) or 'none'})")


def _docker(transport: str, ref: str, blobs, name: str | None, limits: Limits) -> Image:
    if not blobs.exists("manifest.json") and blobs.exists("index.json"):
        raise ImageError(f"{transport}:{ref}: no manifest.json but an index.json: an OCI archive? read it as "
                         f"oci-archive:{split_reference(ref)[0]}")
    _, manifest = _read_json(blobs, "manifest.json", documents.DOCKER_MANIFEST, "manifest.json")
    if not manifest:
        raise ImageError(f"{transport}:{ref}: manifest.json lists no image")
    entry = _docker_entry(transport, ref, manifest, name)
    where = f"the image config {shown(entry['Config'])}"
    _, config_doc = _read_json(blobs, entry["Config"], documents.CONFIG, where)
    names = entry["Layers"]
    if config_doc.get("rootfs") is None:
        raise ImageError(f"{where}: rootfs is missing")
    diff_ids = config_doc["rootfs"]["diff_ids"]
    if len(diff_ids) != len(names):  # docker save names layers by path, not digest: the config's diff_ids vouch
        raise ImageError(f"{transport}:{ref}: the config lists {len(diff_ids)} layer digests for "
                         f"{len(names)} layers")
    _within_limits(f"{transport}:{ref}", len(names), 0, limits)
    sizes = [blobs.size(n) for n in names]
    _within_limits(f"{transport}:{ref}", len(names), sum(sizes), limits)
    layers = [Layer(n, None, size=size, diff_id=diff_id)
              for n, size, diff_id in zip(names, sizes, diff_ids, strict=True)]
    plat = f"{config_doc['os']}/{config_doc['architecture']}"
    return Image(transport, ref, config_doc.get("config") or {}, layers, entry["Config"], plat, blobs.open)
