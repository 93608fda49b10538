"""Reading image archives without a daemon: layers, whiteouts, links, and every malicious or broken input
(each a clear ImageError, exit 2 at the command line, nothing written outside the private directory).

The archives here are written byte by byte with tarfile on purpose: no image builder produces `../`
members, digest mismatches or decompression bombs."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile

import pytest
from layer_tar import tar_layer

from deploycheck.artifact.image.errors import ImageError
from deploycheck.artifact.image.files import ImageFiles
from deploycheck.artifact.image.limits import Limits
from deploycheck.artifact.image.source import open_image

_tar = tar_layer  # members: (name, kind, payload[, mode])


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def oci_layout(root, layers: list[bytes], config: dict | None = None, bad_digest: bool = False,
               drop_blob: bool = False, as_is: bool = False) -> None:
    """Write an OCI image layout (image-spec image-layout.md) with gzip layers (``as_is``: the blobs as
    given)."""
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def put(data: bytes) -> str:
        d = _digest(data)
        (blobs / d.split(":")[1]).write_bytes(data)
        return d

    descs = []
    for raw in layers:
        gz = raw if as_is else gzip.compress(raw)
        d = put(gz)
        if drop_blob:
            (blobs / d.split(":")[1]).unlink()
        if bad_digest:  # the blob is stored under a digest that is not its own
            d = _digest(gz + b"x")
            (blobs / d.split(":")[1]).write_bytes(gz)
        descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": len(gz)})
    cfg = json.dumps({"os": "linux", "architecture": "amd64", "config": config or {}}).encode()
    manifest = json.dumps({"schemaVersion": 2, "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                                          "digest": put(cfg), "size": len(cfg)},
                           "layers": descs}).encode()
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": put(manifest),
         "size": len(manifest)}]}))
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')


def _open(tmp_path, layers, **kw):
    root = tmp_path / "layout"
    oci_layout(root, layers, **kw)
    return ImageFiles(open_image(f"oci:{root}"))


def test_layers_whiteouts_opaque_dirs_and_links(tmp_path):
    base = _tar([("usr/lib/app/", "dir", None), ("usr/lib/app/a.py", "file", b"A = 1\n"),
                 ("usr/lib/app/gone.py", "file", b"G = 1\n"), ("usr/lib/app/sub/", "dir", None),
                 ("usr/lib/app/sub/old.py", "file", b"O = 1\n"), ("etc/target.py", "file", b"T = 1\n")])
    top = _tar([("usr/lib/app/.wh.gone.py", "file", b""), ("usr/lib/app/sub/.wh..wh..opq", "file", b""),
                ("usr/lib/app/sub/new.py", "file", b"N = 1\n"), ("app", "sym", "/usr/lib/app"),
                ("usr/lib/app/rel.py", "sym", "../../../etc/target.py"),
                ("usr/lib/app/hard.py", "hard", "usr/lib/app/a.py")])
    files = _open(tmp_path, [base, top])
    try:
        assert files.listdir("/usr/lib/app") == {"a.py": False, "sub": True, "rel.py": False, "hard.py": False}
        assert files.listdir("/usr/lib/app/sub") == {"new.py": False}
        assert files.read_bytes("/app/a.py") == b"A = 1\n"  # absolute link: the image root, not the host's
        assert files.read_bytes("/usr/lib/app/rel.py") == b"T = 1\n"
        assert files.read_bytes("/usr/lib/app/hard.py") == b"A = 1\n"
        assert not files.is_file("/usr/lib/app/gone.py")
        assert files.is_dir("/app") and files.is_file("/app/sub/new.py")
        workdir = files.workdir
        assert os.path.isdir(workdir)
    finally:
        files.close()
    assert not os.path.exists(workdir)


@pytest.mark.parametrize("members, message", [
    ([("../escape.py", "file", b"x")], "climbs out of the image root"),
    ([("usr/../../escape.py", "file", b"x")], "climbs out of the image root"),
    ([("/etc/passwd", "file", b"x")], "absolute path"),
])
def test_malicious_member_names(tmp_path, members, message):
    with pytest.raises(ImageError, match=message):
        _open(tmp_path, [_tar(members)])
    assert not (tmp_path / "escape.py").exists()


def test_link_out_of_the_root_and_link_loops(tmp_path):
    files = _open(tmp_path, [_tar([("a", "sym", "b"), ("b", "sym", "a"), ("out.py", "sym", "../../etc/passwd")])])
    try:
        with pytest.raises(ImageError, match="symbolic link loop"):
            files.read_bytes("/a")
        with pytest.raises(ImageError, match="points outside the image root"):
            files.read_bytes("/out.py")
    finally:
        files.close()


def test_truncated_layer(tmp_path):
    layer = _tar([("x.py", "file", b"x = 1\n" * 1000)])
    root = tmp_path / "layout"
    oci_layout(root, [layer])
    blob = next(p for p in (root / "blobs" / "sha256").iterdir() if p.stat().st_size > 100 and p.read_bytes()[:2] == b"\x1f\x8b")
    blob.write_bytes(blob.read_bytes()[:40])
    # the blob is shorter than its descriptor says: refused before it is read
    with pytest.raises(ImageError, match=r"layer blob sha256:\w+ is 40 bytes, its descriptor gives \d+"):
        ImageFiles(open_image(f"oci:{root}"))
    # a truncated gzip stream its descriptor vouches for
    other = tmp_path / "other"
    oci_layout(other, [gzip.compress(layer)[:40]], as_is=True)
    with pytest.raises(ImageError, match="layer 1: the gzip stream is truncated"):
        ImageFiles(open_image(f"oci:{other}"))


def test_digest_mismatch_and_missing_blob(tmp_path):
    layer = _tar([("x.py", "file", b"x = 1\n")])
    with pytest.raises(ImageError, match="layer digest mismatch"):
        _open(tmp_path / "one", [layer], bad_digest=True)
    with pytest.raises(ImageError, match="missing blob"):
        _open(tmp_path / "two", [layer], drop_blob=True)


def test_decompression_bomb(tmp_path):
    bomb = _tar([("zeros.bin", "file", b"\0" * (8 * 1024 * 1024))])
    root = tmp_path / "layout"
    oci_layout(root, [bomb])
    with pytest.raises(ImageError, match="layer 1: the image's layers expand to more than 1048576 bytes, the "
                       r"limit on an image's size \(raise it with DEPLOYCHECK_MAX_IMAGE_BYTES\)"):
        ImageFiles(open_image(f"oci:{root}"), limits=Limits(image_bytes=1024 * 1024))


def test_oci_archive_and_docker_archive(tmp_path):
    layer = _tar([("srv/app/main.py", "file", b"import json\n")])
    root = tmp_path / "layout"
    oci_layout(root, [layer], config={"WorkingDir": "/srv/app", "Cmd": ["python", "main.py"]})
    archive = tmp_path / "image.tar"
    with tarfile.open(archive, "w") as tar:
        for p in sorted(root.rglob("*")):
            tar.add(p, arcname=str(p.relative_to(root)), recursive=False)
    image = open_image(f"oci-archive:{archive}")
    assert image.config["WorkingDir"] == "/srv/app" and image.platform == "linux/amd64"
    files = ImageFiles(image)
    try:
        assert files.read_bytes("/srv/app/main.py") == b"import json\n"
    finally:
        files.close()
    docker = tmp_path / "docker.tar"
    _docker_archive(docker, layer, _digest(layer))
    files = ImageFiles(open_image(f"docker-archive:{docker}"))
    try:
        assert files.listdir("/srv/app") == {"main.py": False}
    finally:
        files.close()


def _docker_archive(path, layer: bytes, diff_id: str | None) -> None:
    """What ``docker save`` writes: manifest.json, a config whose rootfs.diff_ids vouch for the layer tars."""
    rootfs = {"type": "layers", "diff_ids": [diff_id] if diff_id else []}
    cfg = json.dumps({"os": "linux", "architecture": "amd64", "config": {"Cmd": ["python"]},
                      "rootfs": rootfs}).encode()
    with tarfile.open(path, "w") as tar:
        for name, data in (("abc/layer.tar", layer), ("cfg.json", cfg),
                           ("manifest.json", json.dumps([{"Config": "cfg.json", "Layers": ["abc/layer.tar"]}]).encode())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_docker_archive_layers_are_checked_against_the_config_diff_ids(tmp_path):
    layer = _tar([("srv/app/main.py", "file", b"import json\n")])
    tampered = _tar([("srv/app/main.py", "file", b"import jsox\n")])
    _docker_archive(tmp_path / "tampered.tar", tampered, _digest(layer))
    with pytest.raises(ImageError, match=r"layer 1 content digest \(diff_id\) mismatch: expected "
                       + _digest(layer) + ", got " + _digest(tampered)):
        ImageFiles(open_image(f"docker-archive:{tmp_path / 'tampered.tar'}"))
    _docker_archive(tmp_path / "no-ids.tar", layer, None)
    with pytest.raises(ImageError, match="the config lists 0 layer digests for 1 layers"):
        open_image(f"docker-archive:{tmp_path / 'no-ids.tar'}")
    # a gzip-compressed layer in a docker archive: the diff_id is of the uncompressed tar
    _docker_archive(tmp_path / "gz.tar", gzip.compress(layer), _digest(layer))
    files = ImageFiles(open_image(f"docker-archive:{tmp_path / 'gz.tar'}"))
    try:
        assert files.read_bytes("/srv/app/main.py") == b"import json\n"
    finally:
        files.close()


def test_unreadable_targets(tmp_path):
    with pytest.raises(ImageError, match="no such file"):
        open_image(f"oci-archive:{tmp_path / 'missing.tar'}")
    (tmp_path / "not.tar").write_bytes(b"hello")
    with pytest.raises(ImageError, match="not a readable tar archive"):
        open_image(f"oci-archive:{tmp_path / 'not.tar'}")
    (tmp_path / "layout").mkdir()
    (tmp_path / "layout" / "index.json").write_text("{")
    with pytest.raises(ImageError, match="not valid JSON"):
        open_image(f"oci:{tmp_path / 'layout'}")


def test_platform_choice_in_a_multi_platform_index(tmp_path):
    root = tmp_path / "layout"
    oci_layout(root, [_tar([("x.py", "file", b"x = 1\n")])])
    index = json.loads((root / "index.json").read_text())
    amd, arm = dict(index["manifests"][0]), dict(index["manifests"][0])
    amd["platform"] = {"os": "linux", "architecture": "amd64"}
    arm["platform"] = {"os": "linux", "architecture": "arm64"}
    index["manifests"] = [arm, amd]
    (root / "index.json").write_text(json.dumps(index))
    assert open_image(f"oci:{root}", "linux/amd64").manifest == amd["digest"]
    with pytest.raises(ImageError, match=r"no manifest for platform linux/s390x .*has: linux/arm64, linux/amd64"):
        open_image(f"oci:{root}", "linux/s390x")


def test_images_of_a_layout_or_archive_are_chosen_by_name(tmp_path):
    # containers-transports(5): oci:PATH[:REFERENCE] names an image by its ref.name annotation,
    # docker-archive:PATH[:NAME:TAG | :@INDEX] by its RepoTags or position
    root = tmp_path / "layout"
    oci_layout(root, [_tar([("v.py", "file", b"v = 1\n")])])
    index = json.loads((root / "index.json").read_text())
    one = dict(index["manifests"][0], annotations={"org.opencontainers.image.ref.name": "v1"})
    two = dict(index["manifests"][0], annotations={"org.opencontainers.image.ref.name": "v2"})
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [one, two]}))
    with pytest.raises(ImageError, match=r"the layout holds 2 images \(v1, v2\); name one as oci:.*layout:NAME"):
        open_image(f"oci:{root}")
    assert open_image(f"oci:{root}:v2").reference == f"{root}:v2"
    with pytest.raises(ImageError, match=r"no image named 'v3' in the layout \(it has: v1, v2\)"):
        open_image(f"oci:{root}:v3")
    layer = _tar([("srv/app/main.py", "file", b"import json\n")])
    docker = tmp_path / "two.tar"
    cfg = json.dumps({"os": "linux", "architecture": "amd64", "config": {"Cmd": ["python"]},
                      "rootfs": {"type": "layers", "diff_ids": [_digest(layer)]}}).encode()
    entries = [{"Config": "cfg.json", "RepoTags": [f"app:{t}"], "Layers": ["abc/layer.tar"]} for t in ("1", "2")]
    with tarfile.open(docker, "w") as tar:
        for name, data in (("abc/layer.tar", layer), ("cfg.json", cfg), ("manifest.json", json.dumps(entries).encode())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with pytest.raises(ImageError, match=r"the archive holds 2 images \(app:1, app:2\)"):
        open_image(f"docker-archive:{docker}")
    assert open_image(f"docker-archive:{docker}:app:2").manifest == "cfg.json"
    assert open_image(f"docker-archive:{docker}:@1").manifest == "cfg.json"
    with pytest.raises(ImageError, match=r"no image tagged 'app:3' \(it has: app:1, app:2\)"):
        open_image(f"docker-archive:{docker}:app:3")
    with pytest.raises(ImageError, match="an OCI archive\\? read it as oci-archive:"):
        archive = tmp_path / "oci.tar"
        with tarfile.open(archive, "w") as tar:
            tar.add(root / "index.json", arcname="index.json")
        open_image(f"docker-archive:{archive}")


def test_a_layer_that_inflates_like_a_bomb_is_stopped_by_its_ratio(tmp_path):
    from deploycheck.artifact.image.layers import FileTree

    zeros = gzip.compress(_tar([("zeros.bin", "file", b"\0" * (8 * 1024 * 1024))]))
    text = gzip.compress(_tar([(f"m{i}.py", "file", f"import os\nvalue_{i} = os.sep * {i}\n".encode())
                               for i in range(2000)]))
    tree = FileTree(str(tmp_path), ratio_after=1024 * 1024)
    with pytest.raises(ImageError, match=r"layer 1: the layers expand more than 500 times their compressed "
                                         r"size \(\d+ bytes into \d+\): a decompression bomb"):
        tree.apply_layer(0, lambda: io.BytesIO(zeros), _digest(zeros), lambda p: False)
    # ordinary files compress far less: the same low threshold lets them through
    tree = FileTree(str(tmp_path), ratio_after=1024 * 1024)
    tree.apply_layer(0, lambda: io.BytesIO(text), _digest(text), lambda p: False)
    assert {f"m{i}.py" for i in range(2000)} <= tree.root.children.keys()


def test_an_archive_storing_a_blob_as_a_hard_link_to_another_member(tmp_path):
    # tar stores a file it has already archived under another name as a hard link member (type '1')
    root = tmp_path / "layout"
    oci_layout(root, [_tar([("a.py", "file", b"a = 1\n")])])
    index = json.loads((root / "index.json").read_text())
    blobs = root / "blobs" / "sha256"
    manifest = json.loads((blobs / index["manifests"][0]["digest"].split(":")[1]).read_text())
    blob = blobs / manifest["layers"][0]["digest"].split(":")[1]
    os.link(blob, root / "copy")
    with tarfile.open(tmp_path / "image.tar", "w") as tar:
        tar.add(root / "copy", arcname="copy")
        for p in sorted(root.rglob("*")):
            if p.name != "copy":
                tar.add(p, arcname=str(p.relative_to(root)), recursive=False)
    with tarfile.open(tmp_path / "image.tar") as tar:
        assert tar.getmember(str(blob.relative_to(root))).islnk()
    files = ImageFiles(open_image(f"oci-archive:{tmp_path / 'image.tar'}"))
    try:
        assert files.read_bytes("/a.py") == b"a = 1\n"
    finally:
        files.close()
