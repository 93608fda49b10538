"""Hostile images through the real command (issue 9, sections 5 to 8 for images): every run must end with
exit 2 and one line naming what was wrong (or 130 when interrupted), within the memory bound, leaving
nothing behind and touching nothing outside.

Every archive is crafted here byte by byte; the big ones are sparse files or gzip streams of a few KB, so
that nothing writes more than a few MB to disk: a "gigabyte" member is a hole in a sparse file, and a
gigabyte of zeros compressed is the same small gzip member repeated (RFC 1952 allows members one after
another)."""

from __future__ import annotations

import copy
import gzip
import hashlib
import http.server
import json
import os
import pty
import select
import signal
import socketserver
import subprocess
import sys
import threading
import zlib
from pathlib import Path

import pytest
from abuse import OUTSIDE_SECRET
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deploycheck.artifact.image.errors import ImageError
from deploycheck.artifact.image.files import ImageFiles
from deploycheck.artifact.image.source import open_image

GiB = 1024**3
MiB = 1024**2
LAYER_GZ = "application/vnd.oci.image.layer.v1.tar+gzip"
LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
NO_DIGEST = "sha256:" + "0" * 64  # for blobs never read to their end: the digest is checked last


# -- crafting archives ---------------------------------------------------------------------------------------
class Hole:
    """``size`` bytes that take no disk: ``head``, then zeros as a hole of a sparse file, then ``tail``."""

    def __init__(self, size: int, head: bytes = b"", tail: bytes = b"") -> None:
        self.size, self.head, self.tail = size, head, tail


def header(name: str | bytes, kind: bytes = b"0", size: int = 0, link: str | bytes = b"") -> bytes:
    """One ustar header block (POSIX pax "ustar Interchange Format"), its checksum computed."""
    name = name.encode() if isinstance(name, str) else name
    link = link.encode() if isinstance(link, str) else link
    h = bytearray(512)
    h[0:len(name[:100])] = name[:100]
    h[100:108] = b"0000644\x00"
    h[108:116] = h[116:124] = b"0000000\x00"
    if size < 8**11:
        h[124:136] = b"%011o\x00" % size
    else:  # GNU base-256
        h[124:136] = b"\x80" + size.to_bytes(11, "big")
    h[136:148] = b"00000000000\x00"
    h[156:157] = kind
    h[157:157 + len(link[:100])] = link[:100]
    h[257:265] = b"ustar\x0000"
    h[148:156] = b" " * 8
    h[148:156] = b"%06o\x00 " % sum(h)
    return bytes(h)


def pax(records: dict[str, str | bytes], kind: bytes = b"x") -> bytes:
    """A PAX extended header (``kind`` 'x', or 'g' for a global one) with its data, padded."""
    body = b""
    for key, value in records.items():
        value = value.encode() if isinstance(value, str) else value
        rec = b" " + key.encode() + b"=" + value + b"\n"
        n = len(rec) + 1
        while len(str(n).encode()) + len(rec) != n:
            n += 1
        body += str(n).encode() + rec
    return header(b"././@PaxHeader", kind, len(body)) + body + b"\x00" * (-len(body) % 512)


def member(name: str, data: bytes = b"", kind: bytes = b"0", link: str = "") -> bytes:
    """A member with its data; names and links longer than the header holds go in a PAX header."""
    long = {k: v for k, v in (("path", name), ("linkpath", link)) if len(v.encode()) > 100}
    padding = b"\x00" * (-len(data) % 512)
    return (pax(long) if long else b"") + header(name, kind, len(data), link) + data + padding


END = b"\x00" * 1024


def tar(*members: bytes) -> bytes:
    return b"".join(members) + END


def gzip_of_zeros(total: int, head: bytes = b"", tail: bytes = b"") -> bytes:
    """gzip members whose concatenation inflates to ``head`` + ``total`` zero bytes + ``tail``: one small
    member for each MiB, repeated."""
    one = gzip.compress(b"\x00" * MiB, 9)  # 1051 bytes: 1000 times smaller
    whole, rest = divmod(total, MiB)
    return (gzip.compress(head) + one * whole + gzip.compress(b"\x00" * rest) + gzip.compress(tail))


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def descriptor(content: bytes | Hole, media: str, digest_: str | None = None) -> dict:
    size = content.size if isinstance(content, Hole) else len(content)
    if digest_ is None:
        digest_ = NO_DIGEST if isinstance(content, Hole) else digest(content)
    return {"mediaType": media, "digest": digest_, "size": size}


def oci_members(layers: list, config: dict | None = None, *, layer_descs: list[dict] | None = None,
                index_text: bytes | None = None, manifest_text: bytes | None = None,
                config_text: bytes | None = None) -> list[tuple[str, bytes | Hole]]:
    """The files of an OCI image layout (image-spec image-layout.md): ``layers`` are blobs (bytes or Hole);
    their descriptors are computed unless ``layer_descs`` gives them. The ``*_text`` arguments replace a
    document by the bytes given (its digest computed from them)."""
    files: dict[str, bytes | Hole] = {}

    def put(content: bytes | Hole, digest_: str) -> None:
        files[f"blobs/sha256/{digest_.split(':')[1]}"] = content

    def media(c) -> str:
        return LAYER_GZ if isinstance(c, bytes) and c[:2] == b"\x1f\x8b" else LAYER_TAR

    descs = layer_descs or [descriptor(c, media(c)) for c in layers]
    for content, d in zip(layers, descs, strict=False):  # a layer listed many times is stored once
        put(content, d["digest"])
    cfg = config_text if config_text is not None else json.dumps(
        {"os": "linux", "architecture": "amd64", "config": config or {"Cmd": ["python3", "-m", "app"]},
         "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    put(cfg, digest(cfg))
    manifest = manifest_text if manifest_text is not None else json.dumps(
        {"schemaVersion": 2, "mediaType": MANIFEST_TYPE, "config": descriptor(cfg, CONFIG_TYPE),
         "layers": descs}).encode()
    put(manifest, digest(manifest))
    index = index_text if index_text is not None else json.dumps(
        {"schemaVersion": 2, "manifests": [descriptor(manifest, MANIFEST_TYPE)]}).encode()
    return [("oci-layout", b'{"imageLayoutVersion": "1.0.0"}'), ("index.json", index), *files.items()]


def write_archive(path: Path, members: list[tuple[str, bytes | Hole]]) -> Path:
    """A tar file of ``members``, holes left as holes (the file is sparse)."""
    with open(path, "wb") as f:
        for name, content in members:
            size = content.size if isinstance(content, Hole) else len(content)
            f.write(header(name, b"0", size))
            if isinstance(content, Hole):
                f.write(content.head)
                f.seek(content.size - len(content.head) - len(content.tail), 1)
                f.write(content.tail)
            else:
                f.write(content)
            f.seek(-size % 512, 1)
        f.write(END)
    return path


def write_layout(root: Path, members: list[tuple[str, bytes | Hole]]) -> Path:
    for name, content in members:
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        with open(p, "wb") as f:
            if isinstance(content, Hole):
                f.write(content.head)
                f.truncate(content.size - len(content.tail))
                f.seek(0, 2)
                f.write(content.tail)
            else:
                f.write(content)
    return root


def inputs(sandbox) -> Path:
    """Where a test's crafted images go: beside the project, outside what the harness snapshots."""
    d = sandbox.base / "input"
    d.mkdir(exist_ok=True)
    return d


def check_archive(sandbox, members, env: dict[str, str] | None = None, **kw):
    archive = write_archive(inputs(sandbox) / "image.tar", members)
    return sandbox.run("check", f"oci-archive:{archive}", "--no-cache", env=env, **kw)


def refused(outcome, *fragments: str):
    """Exit 2, one line, all guarantees; the line holds every fragment."""
    outcome.assert_safe(code=2)
    for fragment in fragments:
        assert fragment in outcome.stderr, outcome.stderr
    return outcome


# -- section 5: memory, disk and time are bounded ------------------------------------------------------------
def test_a_512_mib_pax_header_is_refused_before_it_is_read(sandbox):
    data = b"1 x\n" * 8  # the first bytes of a header that claims 512 MiB
    head = gzip.compress(header(b"././@PaxHeader", b"x", 512 * MiB) + data)
    layer = head + gzip_of_zeros(512 * MiB - len(data))
    refused(check_archive(sandbox, oci_members([layer])),
            "layer 1: PAX extended headers for one member of 536870912 bytes, over the limit of 1048576 "
            "bytes")


@pytest.mark.parametrize("crafted, message", [
    (header(b"././@LongLink", b"L", 256 * MiB), ("a GNU long name record of 268435456 bytes, over the limit "
                                                  "of 4096 bytes (Linux PATH_MAX)")),
    (pax({"comment": "x" * 900_000}) * 2, "PAX extended headers for one member of 1800032 bytes"),
    (pax({"comment": "x" * 600_000}, b"g") * 2,
     "PAX global headers of 1200032 bytes, over the limit of 1048576"),
])
def test_other_oversized_headers_in_a_layer(sandbox, crafted, message):
    refused(check_archive(sandbox, oci_members([gzip.compress(crafted + END)])), message)


def test_an_oversized_header_of_the_archive_itself(sandbox):
    # the oci-archive's own member header claims 512 MiB of PAX records: the file is sparse
    archive = inputs(sandbox) / "image.tar"
    with open(archive, "wb") as f:
        f.write(header(b"././@PaxHeader", b"x", 512 * MiB))
        f.truncate(512 + 512 * MiB + 1024)
    refused(sandbox.run("check", f"oci-archive:{archive}", "--no-cache"),
            "not a readable tar archive (PAX extended headers for one member of 536870912 bytes")


def test_2000_symbolic_links_with_256_kib_targets(sandbox):
    records = (pax({"linkpath": "a" * 256 * 1024}) + header(f"l{i}", b"2") for i in range(2000))
    stream = zlib.compressobj(1, zlib.DEFLATED, 31)
    layer = b"".join(stream.compress(r) for r in records) + stream.compress(END) + stream.flush()
    refused(check_archive(sandbox, oci_members([layer])),
            "layer 1: a link target of 262144 bytes, over the limit of 4095 bytes (Linux PATH_MAX)")


@pytest.mark.parametrize("crafted, message", [
    (pax({"path": "d/" * 2500 + "x.py"}) + header("x.py"),
     "a member name of 5004 bytes, over the limit of 4095"),
    (pax({"path": "a" * 300 + "/x.py"}) + header("x.py"), "component longer than 255 bytes (Linux NAME_MAX)"),
])
def test_names_longer_than_linux_allows(sandbox, crafted, message):
    refused(check_archive(sandbox, oci_members([gzip.compress(crafted + END)])), message)


def test_many_long_link_targets_within_each_bound_stay_within_memory(sandbox):
    # each target is allowed (4000 bytes), but 20,000 of them would hold 80 MB of text: the tree's bound
    stream = zlib.compressobj(1, zlib.DEFLATED, 31)
    parts = [stream.compress(pax({"linkpath": "t" * 4000}) + header(f"l{i:05d}", b"2"))
             for i in range(20_000)]
    layer = b"".join(parts) + stream.compress(END) + stream.flush()
    refused(check_archive(sandbox, oci_members([layer])),
            "the names and link targets of the image's files take more than 67108864 characters")


def test_a_million_directories_stay_within_the_memory_bound(sandbox):
    # the most members the default allows, each the costliest kind to hold (a directory): read to the end
    stream = zlib.compressobj(1, zlib.DEFLATED, 31)
    parts = [stream.compress(header(f"d{i // 1000:04d}/directory_{i:07d}_with_a_longer_name/", b"5"))
             for i in range(999_000)]
    layer = b"".join(parts) + stream.compress(END) + stream.flush()
    refused(check_archive(sandbox, oci_members([layer])), "no Python interpreter")


def test_members_layers_and_size_are_bounded_and_can_be_raised(sandbox):
    many = gzip.compress(tar(*(member(f"f{i}") for i in range(1001))))
    refused(check_archive(sandbox, oci_members([many]), env={"DEPLOYCHECK_MAX_IMAGE_MEMBERS": "1000"}),
            "the image's layers hold more than 1000 members (raise it with DEPLOYCHECK_MAX_IMAGE_MEMBERS)")
    small = gzip.compress(tar(member("a.txt", b"a")))
    refused(check_archive(sandbox, oci_members([small] * 4), env={"DEPLOYCHECK_MAX_IMAGE_LAYERS": "3"}),
            "4 layers, over the limit of 3 (raise it with DEPLOYCHECK_MAX_IMAGE_LAYERS)")
    big = gzip_of_zeros(2 * MiB, header("zeros.bin", size=2 * MiB), END)
    refused(check_archive(sandbox, oci_members([big]), env={"DEPLOYCHECK_MAX_IMAGE_BYTES": "1M"}),
            "layer 1: the image's layers expand to more than 1048576 bytes, the limit on an image's size "
            "(raise it with DEPLOYCHECK_MAX_IMAGE_BYTES)")
    # blobs larger than the whole image may be are refused before any is read
    refused(check_archive(sandbox, oci_members([Hole(3 * MiB, b"\x1f\x8b")]),
                          env={"DEPLOYCHECK_MAX_IMAGE_BYTES": "2M"}),
            "the layers are 3145728 bytes, over the limit of 2097152 bytes on an image's size")
    out = check_archive(sandbox, oci_members([small]), env={"DEPLOYCHECK_MAX_IMAGE_BYTES": "lots"})
    refused(out, "DEPLOYCHECK_MAX_IMAGE_BYTES: expected a positive number")


def test_one_gib_of_zeros_listed_six_times_is_a_bomb_read_once(sandbox):
    layer = gzip_of_zeros(GiB, header("zeros.bin", size=GiB), END)
    d = descriptor(layer, LAYER_GZ)
    out = check_archive(sandbox, oci_members([layer], layer_descs=[d] * 6))
    refused(out, "layer 1: the layers expand more than 500 times their compressed size",
            "a decompression bomb")


def test_files_listed_twice_are_kept_once(sandbox):
    # five 2 MiB sources, the same layer twice: the later copies replace the earlier ones and their kept
    # contents, so a 16 MiB budget holds them (it would not hold two copies: 20 MiB)
    files = [member(f"srv/m{i}.py", b"#" * (2 * MiB)) for i in range(5)]
    layer = gzip.compress(tar(*files), 1)
    d = descriptor(layer, LAYER_GZ)
    env = {"DEPLOYCHECK_MAX_PRIVATE_BYTES": "16M"}
    refused(check_archive(sandbox, oci_members([layer], layer_descs=[d, d]), env=env),
            "no Python interpreter")  # read to the end: the budget held
    nine = gzip.compress(tar(*(member(f"srv/n{i}.py", b"#" * (2 * MiB)) for i in range(9))), 1)
    refused(check_archive(sandbox, oci_members([nine]), env=env),
            "the files deploycheck keeps from the image would take more than 16777216 bytes in its private "
            "directory (raise it with DEPLOYCHECK_MAX_PRIVATE_BYTES)")


def test_a_blob_is_measured_against_its_descriptor_before_it_is_read(sandbox):
    # an 8 GiB member in an archive of a few KB (a hole): its descriptor says 1 KiB
    blob = Hole(8 * GiB, b"\x1f\x8b")
    d = descriptor(blob, LAYER_GZ) | {"size": 1024}
    refused(check_archive(sandbox, oci_members([blob], layer_descs=[d])),
            "is 8589934592 bytes, its descriptor gives 1024")
    # the descriptor agrees: an uncompressed tar that ends at once, then 8 GiB of zeros, is never hashed whole
    refused(check_archive(sandbox, oci_members([Hole(8 * GiB)])),
            "layer 1: more than 1048576 bytes after the end of its tar archive")
    # and gzip data followed by gigabytes of padding
    refused(check_archive(sandbox, oci_members([Hole(8 * GiB, gzip.compress(END))])),
            "layer 1: more than 1048576 bytes after the gzip stream")


def test_a_sparse_member_in_the_archive_is_refused(sandbox):
    members = oci_members([gzip.compress(END)])
    archive = write_archive(inputs(sandbox) / "image.tar", members)
    # turn the layer blob's member into an old GNU sparse member of 8 GiB ('S', realsize at 483)
    data = bytearray(archive.read_bytes())
    layer_name = members[-3][0].encode()  # the first blob written is the layer
    at = data.index(layer_name)
    h = data[at:at + 512]
    h[156:157] = b"S"
    h[483:495] = b"\x80" + (8 * GiB).to_bytes(11, "big")
    h[148:156] = b" " * 8
    h[148:156] = b"%06o\x00 " % sum(h)
    data[at:at + 512] = h
    archive.write_bytes(bytes(data))
    refused(sandbox.run("check", f"oci-archive:{archive}", "--no-cache"),
            "is stored as a sparse file in the archive")


def test_fifos_where_files_are_expected_are_refused(sandbox):
    layer = gzip.compress(tar(member("a.txt", b"a")))
    members = oci_members([layer])
    for name in ("index.json", members[-3][0]):  # the index, then the layer blob
        root = write_layout(inputs(sandbox) / f"layout-{name.replace('/', '-')}", members)
        (root / name).unlink()
        os.mkfifo(root / name)
        refused(sandbox.run("check", f"oci:{root}", "--no-cache"),
                f"{name} in the image layout is not a regular file")
    fifo = inputs(sandbox) / "image.tar"
    os.mkfifo(fifo)
    refused(sandbox.run("check", f"oci-archive:{fifo}", "--no-cache"), "not a regular file")
    # a blob that is a link to a device outside the layout
    root = write_layout(inputs(sandbox) / "zero", members)
    (root / members[-3][0]).unlink()
    (root / members[-3][0]).symlink_to("/dev/zero")
    refused(sandbox.run("check", f"oci:{root}", "--no-cache"), "outside the image layout")


class _Daemon(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class _EndlessExport(http.server.BaseHTTPRequestHandler):
    """The Docker Engine API as far as an export: /_ping, an image ID, then an export that never ends."""

    protocol_version = "HTTP/1.1"
    image_id = "sha256:" + "ab" * 32

    def address_string(self) -> str:
        return "docker"

    def log_message(self, *args) -> None:
        pass

    def _send(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/_ping":
            return self._send(b"OK")
        if self.path.endswith("/json"):
            return self._send(json.dumps({"Id": self.image_id}).encode())
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunk = b"%x\r\n" % MiB + b"\x00" * MiB + b"\r\n"
        try:
            while True:
                self.wfile.write(chunk)
        except OSError:
            pass


def test_a_docker_daemon_export_that_never_ends(sandbox):
    sock = str(inputs(sandbox) / "docker.sock")
    server = _Daemon(sock, _EndlessExport)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        out = sandbox.run("check", "docker-daemon:app:1", "--no-cache",
                          env={"DOCKER_HOST": f"unix://{sock}", "DEPLOYCHECK_MAX_IMAGE_BYTES": "1M"})
    finally:
        server.shutdown()
        server.server_close()
    refused(out, "the export from the Docker daemon is larger than 17825792 bytes, over the limit on an "
                 "image's size (raise it with DEPLOYCHECK_MAX_IMAGE_BYTES)")


def test_a_skopeo_copy_that_never_ends(sandbox):
    # a stand-in for skopeo (first on PATH) that writes into the layout without end, as a hostile registry
    # serving an endless blob would make it do
    bin_dir = inputs(sandbox) / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "skopeo"
    fake.write_text(f"#!{sys.executable}\nimport os, sys, time\ndest = sys.argv[-1].split(':')[1]\n"
                    "os.makedirs(dest, exist_ok=True)\nwith open(os.path.join(dest, 'blob'), 'wb') as f:\n"
                    "    while True:\n        f.write(b'x' * 65536)\n        f.flush()\n"
                    "        time.sleep(0.002)\n")
    fake.chmod(0o755)
    out = sandbox.run("check", "docker://registry.example/app:1", "--no-cache",
                      env={"PATH": f"{bin_dir}:{os.environ['PATH']}", "DEPLOYCHECK_MAX_IMAGE_BYTES": "1M"})
    refused(out, "the copy skopeo makes is larger than 17825792 bytes")


def test_a_maze_of_long_link_chains_costs_a_bounded_number_of_steps(tmp_path, monkeypatch):
    # every member lies in its own directory under a link whose target is 2000 directories deep: each costs
    # 2000 steps to place
    from deploycheck.artifact.image import layers

    monkeypatch.setattr(layers, "MAX_LOOKUP_STEPS", 1_000_000)
    deep = "/".join(["d"] * 2000)
    lower = gzip.compress(tar(member(deep + "/", kind=b"5"), member("s", kind=b"2", link=deep)))
    upper = gzip.compress(tar(*(member(f"s/d{i}/f.txt") for i in range(1000))))
    with pytest.raises(ImageError, match="layer 2: following the image's paths and symbolic links took more "
                                         "than 1000000 steps"):
        _files(tmp_path, [lower, upper])


def test_opaque_whiteouts_at_every_level_of_a_deep_tree(sandbox):
    # 2000 nested directories holding 100,000 files, made opaque at every level from the deepest up: each
    # directory is gone through once, not once for every marker above it (200 million visits)
    deep = ["a"] * 2000
    files = [member("/".join(deep) + f"/f{i}") for i in range(100_000)]
    markers = [member("/".join(deep[:n]) + "/.wh..wh..opq") for n in range(2000, 0, -1)]
    lower = gzip.compress(tar(member("a/old.txt", b"o")))
    upper = gzip.compress(tar(*files, *markers), 1)
    refused(check_archive(sandbox, oci_members([lower, upper])), "no Python interpreter")


# -- section 6: malformed documents ------------------------------------------------------------------------
def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.mark.parametrize("which", ["index", "manifest", "config"])
def test_json_nested_100000_levels(sandbox, which):
    members = oci_members([gzip.compress(END)], **{f"{which}_text": _nested(100_000)})
    refused(check_archive(sandbox, members), "JSON nested too deeply to read")


def test_docker_archive_manifest_nested_100000_levels(sandbox):
    archive = write_archive(inputs(sandbox) / "docker.tar", [("manifest.json", _nested(100_000))])
    refused(sandbox.run("check", f"docker-archive:{archive}", "--no-cache"),
            "manifest.json: JSON nested too deeply to read")


def _valid_docs() -> dict:
    layer = gzip.compress(END)
    return {"layer": layer,
            "config": {"os": "linux", "architecture": "amd64", "rootfs": {"type": "layers", "diff_ids": []},
                       "config": {"Env": ["PATH=/usr/bin", "SECRET_TOKEN=hunter2-secret"],
                                  "Cmd": ["python3", "-m", "app"], "Entrypoint": ["tini", "--"],
                                  "Labels": {"a": "b"}, "WorkingDir": "/srv"}},
            "layers": [descriptor(layer, LAYER_GZ)]}


@pytest.mark.parametrize("mutate, message", [
    (lambda c, m, i: m.update(layers=["sha256:" + "1" * 64]), "manifest sha256:"),
    (lambda c, m, i: i["manifests"][0].update(platform="linux/amd64"),
     "index.json: manifests[0].platform must be an object, not a string"),
    (lambda c, m, i: i.update(annotations=["a"]), "index.json: annotations must be an object, not an array"),
    (lambda c, m, i: c["config"].update(Env=7), "config.Env must be an array, not an integer"),
    (lambda c, m, i: c["config"].update(Cmd={"a": 1}), "config.Cmd must be an array, not an object"),
    (lambda c, m, i: c["config"].update(Labels=["a"]), "config.Labels must be an object, not an array"),
    (lambda c, m, i: c["config"].update(Env=["A=1", {"SECRET_TOKEN": "hunter2-secret"}]),
     "config.Env[1] must be a string, not an object"),
    (lambda c, m, i: c.update(architecture=None), "architecture is missing"),
    (lambda c, m, i: m.update(schemaVersion="2"), "schemaVersion must be an integer, not a string"),
    (lambda c, m, i: m["layers"][0].update(size=-1), "layers[0].size must be a non-negative integer"),
    (lambda c, m, i: m["layers"][0].update(digest="sha256:../../etc"), "layers[0].digest must be a digest"),
    (lambda c, m, i: (m.clear(), m.update(schemaVersion=1, fsLayers=[])),
     "a Docker image manifest of schema 1"),
])
def test_malformed_documents(sandbox, mutate, message):
    docs = _valid_docs()
    config = copy.deepcopy(docs["config"])
    cfg_text = json.dumps(config).encode()
    manifest = {"schemaVersion": 2, "mediaType": MANIFEST_TYPE, "config": descriptor(cfg_text, CONFIG_TYPE),
                "layers": copy.deepcopy(docs["layers"])}
    index: dict = {"schemaVersion": 2, "manifests": [{"mediaType": MANIFEST_TYPE}]}
    mutate(config, manifest, index)
    cfg_text = json.dumps(config).encode()
    manifest["config"] = descriptor(cfg_text, CONFIG_TYPE)
    man_text = json.dumps(manifest).encode()
    index["manifests"][0].update(digest=digest(man_text), size=len(man_text))
    members = oci_members([docs["layer"]], layer_descs=docs["layers"], config_text=cfg_text,
                          manifest_text=man_text, index_text=json.dumps(index).encode())
    out = refused(check_archive(sandbox, members), message)
    assert "hunter2" not in out.output


# Every JSON value a mutation may put somewhere: each type, and nesting.
_VALUES = st.recursive(st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70)
                       | st.floats(allow_nan=False) | st.text(max_size=20),
                       lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                   max_size=3), max_leaves=8)


def _paths(doc, prefix=()):
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths(v, prefix + (i,))


def _replace(doc, path, value, delete=False):
    if not path:
        return value
    doc = copy.deepcopy(doc)
    node = doc
    for key in path[:-1]:
        node = node[key]
    if delete and isinstance(node, dict):
        node.pop(path[-1], None)
    else:
        node[path[-1]] = value
    return doc


def _documents():
    docs = _valid_docs()
    cfg = json.dumps(docs["config"]).encode()
    manifest = {"schemaVersion": 2, "mediaType": MANIFEST_TYPE, "config": descriptor(cfg, CONFIG_TYPE),
                "layers": docs["layers"]}
    man = json.dumps(manifest).encode()
    index = {"schemaVersion": 2, "manifests": [descriptor(man, MANIFEST_TYPE) | {
        "annotations": {"org.opencontainers.image.ref.name": "v1"},
        "platform": {"os": "linux", "architecture": "amd64"}}]}
    docker = [{"Config": "cfg.json", "RepoTags": ["app:1"], "Layers": ["l/layer.tar"]}]
    docker_config = dict(docs["config"], rootfs={"type": "layers", "diff_ids": [digest(END)]})
    return {"config": docs["config"], "manifest": manifest, "index": index, "docker": docker,
            "docker_config": docker_config}


_DOCS = _documents()


@st.composite
def _mutations(draw):
    which = draw(st.sampled_from(sorted(_DOCS)))
    doc = _DOCS[which]
    path = draw(st.sampled_from(list(_paths(doc))))
    how = draw(st.sampled_from(["swap", "delete", "nest"]))
    value = draw(_VALUES) if how == "swap" else None
    return which, path, how, value


def _mutated_target(tmp: Path, which: str, path, how: str, value) -> str:
    docs = _valid_docs()
    text = {}
    for name, doc in _DOCS.items():
        if name == which:
            doc = _replace(doc, path, "\x00NEST\x00" if how == "nest" else value, delete=how == "delete")
        raw = json.dumps(doc).encode()
        if how == "nest" and name == which:
            raw = raw.replace(b'"\\u0000NEST\\u0000"', _nested(5000))
        text[name] = raw
    if which.startswith("docker"):
        members = [("manifest.json", text["docker"]), ("cfg.json", text["docker_config"]),
                   ("l/layer.tar", END)]
        return f"docker-archive:{write_archive(tmp / 'docker.tar', members)}"
    cfg = text["config"]
    man = text["manifest"]
    if which == "config":  # the manifest names the config as it now is
        manifest = dict(_DOCS["manifest"], config=descriptor(cfg, CONFIG_TYPE))
        man = json.dumps(manifest).encode()
    idx = text["index"]
    if which in ("config", "manifest"):
        index = copy.deepcopy(_DOCS["index"])
        index["manifests"][0].update(descriptor(man, MANIFEST_TYPE))
        idx = json.dumps(index).encode()
    members = oci_members([docs["layer"]], layer_descs=docs["layers"], config_text=cfg, manifest_text=man,
                          index_text=idx)
    return f"oci:{write_layout(tmp / 'layout', members)}"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_mutations())
def test_mutated_documents_are_errors_never_crashes(tmp_path_factory, mutation):
    """In process, many mutations: each image is read and checked as far as it goes (its command, its
    environment); anything wrong is an ImageError of one line naming no secret, nothing else."""
    from deploycheck.check import Options, run
    from deploycheck.errors import UsageError

    tmp = tmp_path_factory.mktemp("mutant")
    target = _mutated_target(tmp, *mutation)
    try:
        run(Options(path=target, no_cache=True))
    except UsageError as exc:
        message = str(exc)
        assert "\n" not in message and "hunter2" not in message, message


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_mutations())
def test_mutated_documents_through_the_command(sandbox, mutation):
    d = inputs(sandbox) / f"m{abs(hash(repr(mutation))) % 10**8}"
    d.mkdir()
    out = sandbox.run("check", _mutated_target(d, *mutation), "--no-cache")
    out.assert_safe(code=2)
    assert "hunter2" not in out.output


HOSTILE_GIT_CONFIG = """[core]
\tfsmonitor = "touch {m}-fsmonitor; false"
\tpager = "touch {m}-pager; cat"
\tsshCommand = "touch {m}-ssh"
\taskPass = "touch {m}-askpass"
\teditor = "touch {m}-editor"
\thooksPath = {hooks}
[diff]
\texternal = "touch {m}-diff"
[diff "x"]
\ttextconv = "touch {m}-textconv; cat"
[filter "x"]
\tsmudge = "touch {m}-smudge; cat"
\tclean = "touch {m}-clean; cat"
\tprocess = "touch {m}-process"
[gpg]
\tprogram = "touch {m}-gpg"
[log]
\tshowSignature = true
[credential]
\thelper = "!touch {m}-credential"
[alias]
\tls-tree = "!touch {m}-alias"
"""


@pytest.mark.skipif(not os.path.isdir("/usr/lib/python3.11"), reason="needs Debian's python3.11 files")
def test_a_source_repository_whose_git_configuration_names_commands(sandbox):
    # check IMAGE --source DIR runs git in DIR: nothing its configuration names may run
    import shutil

    from test_image_check import _git, _python_layer
    from test_image_layers import _tar, oci_layout

    if shutil.which("git") is None:
        pytest.skip("needs git")
    repo = sandbox.project
    _git(repo, "init", "-q")
    sandbox.write({"app/__init__.py": "", "app/main.py": "import json\napp = 1\n", ".gitattributes": "*.py diff=x filter=x\n"})
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "one")
    head = _git(repo, "rev-parse", "HEAD")
    marker = sandbox.outside / "ran"
    hooks = sandbox.outside / "hooks"
    hooks.mkdir()
    for hook in ("post-checkout", "pre-commit", "post-index-change", "reference-transaction"):
        (hooks / hook).write_text(f"#!/bin/sh\ntouch {marker}-hook-{hook}\n")
        (hooks / hook).chmod(0o755)
    with open(repo / ".git" / "config", "a") as f:
        f.write(HOSTILE_GIT_CONFIG.format(m=marker, hooks=hooks))
    root = sandbox.base / "input" / "layout"
    app = [("srv/app/app/__init__.py", "file", b""), ("srv/app/app/main.py", "file", b"import json\napp = 1\n")]
    oci_layout(root, [_python_layer(), _tar(app)],
               config={"Env": ["PATH=/usr/local/bin:/usr/bin:/bin"], "WorkingDir": "/srv/app",
                       "Cmd": ["python3", "-m", "app.main"], "Labels": {"org.opencontainers.image.revision": head}})
    for rev in ((), ("--rev", "HEAD")):
        run = sandbox.run("check", f"oci:{root}", "--no-cache", "--source", repo, "--app-dir", "/srv/app", *rev,
                          "--format", "json")
        run.assert_safe(code=0, one_line=False)  # nothing changed outside, no marker among them
        assert json.loads(run.stdout)["findings"] == []
        assert sorted(p.name for p in sandbox.outside.iterdir() if p.name.startswith("ran")) == []


# -- section 7: hard links -----------------------------------------------------------------------------------
def test_a_hard_link_to_what_a_later_layer_creates(sandbox):
    first = gzip.compress(tar(member("srv/app/main.py", kind=b"1", link="srv/app/later.py")))
    second = gzip.compress(tar(member("srv/app/later.py", b"import os\n")))
    refused(check_archive(sandbox, oci_members([first, second])),
            "layer 1: the hard link 'srv/app/main.py' names 'srv/app/later.py', which does not exist when "
            "the layer is applied")
    same_layer_later = gzip.compress(tar(member("a.py", kind=b"1", link="b.py"), member("b.py", b"b = 1\n")))
    refused(check_archive(sandbox, oci_members([same_layer_later])), "names 'b.py', which does not exist")


def _files(tmp: Path, layers: list[bytes]) -> ImageFiles:
    return ImageFiles(open_image(f"oci:{write_layout(tmp / 'layout', oci_members(layers))}"))


def test_a_hard_link_keeps_what_its_target_held_when_it_was_made(tmp_path):
    base = gzip.compress(tar(member("app/v1.py", b"import json\n"),
                             member("app/main.py", kind=b"1", link="app/v1.py")))
    replaced = gzip.compress(tar(member("app/v1.py", b"import missing_mod\n")))
    whited = gzip.compress(tar(member("app/.wh.v1.py")))
    files = _files(tmp_path, [base, replaced])
    try:
        assert files.read_bytes("/app/main.py") == b"import json\n"
        assert files.read_bytes("/app/v1.py") == b"import missing_mod\n"
    finally:
        files.close()
    files = _files(tmp_path / "w", [base, whited])
    try:
        assert files.read_bytes("/app/main.py") == b"import json\n"  # its contents outlive the path
        assert not files.is_file("/app/v1.py")
        assert len(os.listdir(files.workdir)) == 1
    finally:
        files.close()


def test_kept_contents_are_deleted_when_no_path_names_them(tmp_path):
    first = gzip.compress(tar(member("a.py", b"a = 1\n"), member("b.py", b"b = 1\n")))
    second = gzip.compress(tar(member("a.py", b"a = 2\n"), member(".wh.b.py")))
    files = _files(tmp_path, [first, second])
    try:
        kept = [Path(files.workdir, n).read_bytes() for n in sorted(os.listdir(files.workdir))]
        assert kept == [b"a = 2\n"]
        assert files.tree.kept == 6
    finally:
        files.close()


def test_whiteouts_apply_to_lower_layers_only(tmp_path):
    lower = gzip.compress(tar(member("d/old.py", b"o = 1\n"), member("d/sub/deep.py", b"d = 1\n")))
    # the opaque marker comes after this layer's own entries: they stay, the lower ones go
    upper = gzip.compress(tar(member("d/new.py", b"n = 1\n"), member("d/sub/mine.py", b"m = 1\n"),
                              member("d/.wh..wh..opq"), member("d/.wh.new.py")))
    files = _files(tmp_path, [lower, upper])
    try:
        assert files.listdir("/d") == {"new.py": False, "sub": True}
        assert files.listdir("/d/sub") == {"mine.py": False}
    finally:
        files.close()


def test_members_under_a_symbolic_link_land_where_it_points(tmp_path):
    # Debian's merged /usr: /lib is a link to usr/lib; a later layer's lib/x.py is /usr/lib/x.py
    lower = gzip.compress(tar(member("usr/lib/", kind=b"5"), member("lib", kind=b"2", link="usr/lib")))
    upper = gzip.compress(tar(member("lib/x.py", b"x = 1\n")))
    files = _files(tmp_path, [lower, upper])
    try:
        assert files.read_bytes("/usr/lib/x.py") == b"x = 1\n"
        assert files.tree.find("/lib", follow_last=False)[1].kind == "symlink"
    finally:
        files.close()


# -- section 8 for images: interrupted while reading layers --------------------------------------------------
@pytest.mark.parametrize("at", [1.5, 3.0])
def test_sigint_while_reading_layers(sandbox, at):
    # 7 GiB of zeros in one member (a hole): seconds of reading and hashing, interrupted on the way
    layer = Hole(512 + 7 * GiB + 1024, header("zeros.bin", size=7 * GiB))
    out = check_archive(sandbox, oci_members([layer]), signal_at=(signal.SIGINT, at))
    out.assert_safe(code=130)
    assert out.stderr.strip() == "deploycheck: interrupted"


def test_sigint_while_the_progress_bar_is_drawn(tmp_path):
    """On a terminal the progress bar's thread draws while the layers are read: SIGINT still ends the run
    with 130, the bar cleared, nothing left in TMPDIR."""
    (tmp_path / "tmp").mkdir()
    layer = Hole(512 + 7 * GiB + 1024, header("zeros.bin", size=7 * GiB))
    archive = write_archive(tmp_path / "image.tar", oci_members([layer]))
    master, slave = pty.openpty()
    env = dict(os.environ, TERM="xterm-256color", COLUMNS="100", TMPDIR=str(tmp_path / "tmp"))
    proc = subprocess.Popen([sys.executable, "-m", "deploycheck", "check", f"oci-archive:{archive}",
                             "--no-cache"], stdout=subprocess.DEVNULL, stderr=slave, env=env)
    shown, sent = b"", False
    # the slave stays open here, so no output is lost when the process exits: read until it has, and all
    # it wrote is read
    while True:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            shown += os.read(master, 65536)
        elif proc.poll() is not None:
            break
        if not sent and b"reading image layers" in shown:  # the bar is up: the layers are being read
            proc.send_signal(signal.SIGINT)
            sent = True
    os.close(master)
    os.close(slave)
    assert sent
    assert proc.wait(timeout=60) == 130
    assert shown.decode(errors="replace").rstrip().endswith("deploycheck: interrupted")
    assert os.listdir(tmp_path / "tmp") == []


def test_in_process_errors_leave_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    layer = gzip.compress(tar(member("a.py", b"a = 1\n"), member("b.py", kind=b"1", link="nope.py")))
    with pytest.raises(ImageError, match="does not exist when the layer is applied"):
        _files(tmp_path, [layer])
    assert os.listdir(tmp_path / "tmp") == []


def test_a_git_config_including_a_file_outside_is_not_named(sandbox):
    # `check IMAGE --source DIR`: DIR's .git/config includes a file outside (`include.path`) that git cannot
    # parse. git's complaint named that file by its full path; now the path is replaced (the content never
    # was shown).
    from test_image_check import BINARY, STDLIB, _git, _python_layer
    from test_image_layers import _tar, oci_layout

    if not (os.path.isdir(STDLIB) and os.path.exists(BINARY)):
        pytest.skip("needs Debian's python3.11 files")
    repo = sandbox.project
    sandbox.write({"app/__init__.py": "", "app/main.py": "app = 1\n"})
    _git(repo, "init", "-q", str(repo))
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "first")
    head = _git(repo, "rev-parse", "HEAD")
    with open(repo / ".git" / "config", "a") as f:
        f.write(f"[include]\n\tpath = {sandbox.outside / 'credentials'}\n")
    root = sandbox.base / "layout"
    app = [("srv/app/app/__init__.py", "file", b""), ("srv/app/app/main.py", "file", b"app = 1\n")]
    oci_layout(root, [_python_layer(), _tar(app)],
               config={"Env": ["PATH=/usr/local/bin:/usr/bin"], "WorkingDir": "/srv/app",
                       "Cmd": ["uvicorn", "app.main:app"], "Labels": {"org.opencontainers.image.revision": head}})
    run = sandbox.run("check", f"oci:{root}", "--no-cache", "--source", str(repo), "--app-dir", "/srv/app")
    run.assert_safe(code=2, secrets=(OUTSIDE_SECRET, str(sandbox.outside)), project_unchanged=False)
    assert "bad config line 2 in file <a file outside the project>" in run.stderr


def test_a_repository_whose_git_never_answers(tmp_path, monkeypatch):
    # a FIFO where git reads a file (.git/packed-refs) blocks git for ever; --source's git calls gave a Python
    # traceback when their time ran out
    from deploycheck.errors import UsageError
    from deploycheck.target import gitsource

    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q",
                    "--allow-empty", "-m", "first"], check=True)
    os.mkfifo(repo / ".git" / "packed-refs")
    monkeypatch.setattr(gitsource, "GIT_TIMEOUT", 2)
    with pytest.raises(UsageError, match=r"^git rev-parse .*: no answer within 2 s$"):
        gitsource.resolve(str(repo), "HEAD")
    # the question whether a directory is a repository at all: a FIFO for HEAD (a Python traceback too)
    os.unlink(repo / ".git" / "HEAD")
    os.mkfifo(repo / ".git" / "HEAD")
    with pytest.raises(UsageError, match=r"^git rev-parse in .*: no answer within 2 s$"):
        gitsource.is_repository(str(repo))
