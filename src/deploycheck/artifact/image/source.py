"""Where an image is (the transport) and how to reach its manifest, config and layer blobs.

Transports are named as in containers/image and skopeo (``containers-transports(5)``): ``oci-archive:FILE``
(a tar of an OCI image layout), ``oci:DIR`` (an OCI image layout directory, image-spec ``image-layout.md``),
``docker-archive:FILE`` (what ``docker save`` writes: ``manifest.json`` naming a config file and layer tars).
The other transports bring the image into a private temporary directory in one of those forms first:
``docker-daemon:NAME[:TAG]`` through the Docker Engine API (``daemon.py``), ``docker://REF`` and
``containers-storage:REF`` through ``skopeo copy`` (``skopeo.py``).
"""

from __future__ import annotations

import json
import os
import re
import tarfile
from dataclasses import dataclass, field

from deploycheck import private
from deploycheck.artifact.image.errors import ImageError

_DIGEST = re.compile(r"^(sha256|sha512):[0-9a-f]{32,128}$")
INDEX_TYPES = {"application/vnd.oci.image.index.v1+json",
               "application/vnd.docker.distribution.manifest.list.v2+json"}
MAX_JSON_BYTES = 16 * 1024 * 1024
REF_NAME = "org.opencontainers.image.ref.name"
LOCAL = ("oci-archive", "oci", "docker-archive")  # read in place
FETCHED = ("docker-daemon", "containers-storage")  # copied to a private directory first; and docker://
KNOWN = "oci-archive:FILE, oci:DIR, docker-archive:FILE, docker-daemon:NAME[:TAG], docker://REF, containers-storage:REF"
# A target that looks like ``scheme:rest`` (containers-transports(5) names are lowercase words with dashes).
_TRANSPORT_LIKE = re.compile(r"^([a-z][a-z0-9-]*):")


@dataclass
class Layer:
    """A layer blob: ``digest`` of the blob as stored (None when the transport gives none), ``media_type``,
    ``size`` of the blob in bytes (0 when unknown), and ``diff_id``: the digest of the uncompressed layer tar
    from the config's ``rootfs.diff_ids`` (image-spec ``config.md``), checked where no blob digest is given."""

    name: str
    digest: str | None
    media_type: str = ""
    size: int = 0
    diff_id: str | None = None


@dataclass
class Image:
    """What a check needs from an image: its config (``Env``, ``WorkingDir``, ``Entrypoint``, ``Cmd``,
    ``Labels``), its layers in order, and which manifest was read."""

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


def open_image(target: str, platform: str = "linux/amd64", tls_verify: bool | None = None) -> Image:
    """Read an image's index, manifest and config. ``platform`` is ``os/arch[/variant]``; ``tls_verify``
    False lets a ``docker://`` registry be reached over plain HTTP or with an unverified certificate (None:
    skopeo's default, verify). The caller closes the Image (``Image.close``; ``ImageFiles.close`` does it).
    Raises ImageError for unreadable or malformed input, an unreachable daemon or registry, a missing tool."""
    parsed = parse_target(target)
    if parsed is None:
        raise ImageError(f"{target}: not an image reference ({KNOWN})")
    transport, ref = parsed
    if tls_verify is not None and transport != "docker":
        raise ImageError(f"--tls-verify applies to docker:// targets only, not to {transport}:")
    if transport in LOCAL:
        return _open_local(transport, ref, platform)
    if transport == "docker-daemon":
        from deploycheck.artifact.image import daemon

        tmp, local, local_ref, ref = daemon.fetch(ref)
    else:
        from deploycheck.artifact.image import skopeo

        tmp, local, local_ref, ref = skopeo.fetch(transport, ref, platform, tls_verify)
    try:
        image = _open_local(local, local_ref, platform)
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


def _open_local(transport: str, ref: str, platform: str) -> Image:
    path, name = split_reference(ref)
    target = f"{transport}:{ref}"
    if transport == "oci":
        if not os.path.isdir(path):
            raise ImageError(f"{target}: no such OCI layout directory")
        return _oci(transport, ref, _DirBlobs(path), platform, name)
    if not os.path.isfile(path):
        raise ImageError(f"{target}: no such file")
    try:
        archive = _TarBlobs(path)
    except (tarfile.TarError, OSError) as exc:
        raise ImageError(f"{target}: not a readable tar archive ({exc})") from None
    try:
        if transport == "oci-archive":
            image = _oci(transport, ref, archive, platform, name)
        else:
            image = _docker(transport, ref, archive, name)
    except BaseException:
        archive.tar.close()
        raise
    image.closers.append(archive.tar.close)
    return image


def _docker_entry(transport: str, ref: str, manifest: list, name: str | None) -> dict:
    """The image of a ``docker save`` archive that ``name`` selects (``app:1.4`` among its RepoTags, or
    ``@N``, its index), as containers-transports(5) says; the only one when no name is given."""
    tags = [t for e in manifest for t in (e.get("RepoTags") or [])]
    if name is None:
        if len(manifest) > 1:
            raise ImageError(f"{transport}:{ref}: the archive holds {len(manifest)} images "
                             f"({', '.join(tags) or 'untagged'}); name one as {transport}:{ref}:NAME:TAG or @INDEX")
        return manifest[0]
    if name.startswith("@"):
        if name[1:].isdigit() and int(name[1:]) < len(manifest):
            return manifest[int(name[1:])]
        raise ImageError(f"{transport}:{ref}: no image {name} (the archive holds {len(manifest)})")
    for e in manifest:
        if name in (e.get("RepoTags") or []):
            return e
    raise ImageError(f"{transport}:{ref}: no image tagged {name!r} (it has: {', '.join(tags) or 'no tags'})")


class _DirBlobs:
    def __init__(self, root: str) -> None:
        self.root = os.path.realpath(root)

    def exists(self, name: str) -> bool:
        return os.path.isfile(os.path.join(self.root, name))

    def open(self, name: str):
        path = os.path.realpath(os.path.join(self.root, name))
        if not path.startswith(self.root + os.sep):
            raise ImageError(f"{name}: outside the image layout")
        try:
            return open(path, "rb")
        except OSError:
            raise ImageError(f"missing blob {name} in the image layout") from None


class _TarBlobs:
    def __init__(self, path: str) -> None:
        self.tar = tarfile.open(path, mode="r:")  # random access to members of an uncompressed archive
        self.members = {m.name.lstrip("./") if m.name.startswith("./") else m.name: m for m in self.tar.getmembers()}

    def exists(self, name: str) -> bool:
        return name in self.members or name.lstrip("/") in self.members

    def size(self, name: str) -> int:
        member = self.members.get(name) or self.members.get(name.lstrip("/"))
        return member.size if member is not None else 0

    def open(self, name: str):
        member = self.members.get(name) or self.members.get(name.lstrip("/"))
        if member is None or not member.isreg():
            raise ImageError(f"missing blob {name} in the archive")
        f = self.tar.extractfile(member)
        if f is None:
            raise ImageError(f"missing blob {name} in the archive")
        return f


def _json(blobs, name: str) -> dict | list:
    f = blobs.open(name)
    data = f.read(MAX_JSON_BYTES + 1)
    if len(data) > MAX_JSON_BYTES:
        raise ImageError(f"{name}: larger than {MAX_JSON_BYTES} bytes")
    try:
        return json.loads(data)
    except ValueError as exc:
        raise ImageError(f"{name}: not valid JSON ({exc})") from None


def _blob(digest: str) -> str:
    if not isinstance(digest, str) or not _DIGEST.match(digest):
        raise ImageError(f"invalid digest {digest!r}")
    alg, hexd = digest.split(":", 1)
    return f"blobs/{alg}/{hexd}"


def _verified_json(blobs, digest: str) -> dict:
    import hashlib

    f = blobs.open(_blob(digest))
    data = f.read(MAX_JSON_BYTES + 1)
    alg, hexd = digest.split(":", 1)
    if hashlib.new(alg, data).hexdigest() != hexd:
        raise ImageError(f"blob {digest} does not match its digest")
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise ImageError(f"blob {digest}: not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise ImageError(f"blob {digest}: not a JSON object")
    return doc


def _oci(transport: str, ref: str, blobs, platform: str, name: str | None = None) -> Image:
    index = _json(blobs, "index.json")
    if not isinstance(index, dict) or not isinstance(index.get("manifests"), list) or not index["manifests"]:
        hint = " (a docker-archive? read it as docker-archive:FILE)" if transport == "oci-archive" and \
            blobs.exists("manifest.json") else ""
        raise ImageError(f"{transport}:{ref}: index.json lists no manifests{hint}")
    manifests = [m for m in index["manifests"] if isinstance(m, dict)]
    # image-layout.md: an image of a layout is named by its org.opencontainers.image.ref.name annotation
    names = [str((m.get("annotations") or {}).get(REF_NAME)) for m in manifests
             if (m.get("annotations") or {}).get(REF_NAME)]
    if name is not None:
        manifests = [m for m in manifests if (m.get("annotations") or {}).get(REF_NAME) == name]
        if not manifests:
            raise ImageError(f"{transport}:{ref}: no image named {name!r} in the layout "
                             f"(it has: {', '.join(names) or 'no named images'})")
    elif len(manifests) > 1 and not any(m.get("platform") for m in manifests):
        path = split_reference(ref)[0]
        raise ImageError(f"{transport}:{ref}: the layout holds {len(manifests)} images "
                         f"({', '.join(names) or 'unnamed'}); name one as {transport}:{path}:NAME")
    desc = manifests[0]
    depth = 0
    while desc.get("mediaType") in INDEX_TYPES:
        depth += 1
        if depth > 4:
            raise ImageError("image index nesting is too deep")
        nested = _verified_json(blobs, desc.get("digest", ""))
        desc = _pick(nested.get("manifests") or [], platform)
    if len(manifests) > 1 and depth == 0:
        desc = _pick(manifests, platform)
    manifest = _verified_json(blobs, desc.get("digest", ""))
    config = _verified_json(blobs, (manifest.get("config") or {}).get("digest", ""))
    layers = []
    for layer in manifest.get("layers") or []:
        digest = layer.get("digest", "")
        size = layer.get("size")
        layers.append(Layer(_blob(digest), digest, layer.get("mediaType", ""), size if isinstance(size, int) else 0))
    plat = f"{config.get('os', '?')}/{config.get('architecture', '?')}"
    return Image(transport, ref, config.get("config") or {}, layers, desc.get("digest", ""), plat, blobs.open)


def _pick(manifests: list, platform: str) -> dict:
    os_name, _, arch = platform.partition("/")
    for m in manifests:
        p = m.get("platform") or {}
        if p.get("os") == os_name and p.get("architecture") == arch:
            return m
    found = ", ".join(f"{(m.get('platform') or {}).get('os')}/{(m.get('platform') or {}).get('architecture')}"
                      for m in manifests)
    raise ImageError(f"no manifest for platform {platform} in the image index (it has: {found or 'none'})")


def _docker(transport: str, ref: str, blobs, name: str | None = None) -> Image:
    if not blobs.exists("manifest.json") and blobs.exists("index.json"):
        raise ImageError(f"{transport}:{ref}: no manifest.json but an index.json: an OCI archive? read it as "
                         f"oci-archive:{split_reference(ref)[0]}")
    manifest = _json(blobs, "manifest.json")
    if not isinstance(manifest, list) or not manifest or not all(isinstance(e, dict) for e in manifest):
        raise ImageError(f"{transport}:{ref}: manifest.json lists no image")
    entry = _docker_entry(transport, ref, manifest, name)
    if not isinstance(entry.get("Config"), str) or not entry["Config"]:
        raise ImageError(f"{transport}:{ref}: manifest.json names no image config")
    config_doc = _json(blobs, entry["Config"])
    if not isinstance(config_doc, dict):
        raise ImageError(f"{transport}:{ref}: the image config is not a JSON object")
    names = [str(name) for name in entry.get("Layers") or []]
    diff_ids = (config_doc.get("rootfs") or {}).get("diff_ids") or []
    if len(diff_ids) != len(names):  # docker save names layers by path, not digest: the config's diff_ids vouch
        raise ImageError(f"{transport}:{ref}: the config lists {len(diff_ids)} layer digests for "
                         f"{len(names)} layers")
    layers = []
    for name, diff_id in zip(names, diff_ids):
        if not isinstance(diff_id, str) or not _DIGEST.match(diff_id):
            raise ImageError(f"{transport}:{ref}: invalid layer digest {diff_id!r} in the config")
        layers.append(Layer(name, None, size=blobs.size(name), diff_id=diff_id))
    plat = f"{config_doc.get('os', '?')}/{config_doc.get('architecture', '?')}"
    return Image(transport, ref, config_doc.get("config") or {}, layers, str(entry.get("Config")), plat, blobs.open)
