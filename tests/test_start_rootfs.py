"""The root filesystem `deploycheck start` writes from an image's layers (start.rootfs.unpack): whiteouts and
opaque directories applied, hard links sharing one inode, permission bits from the headers without set-user-ID
and set-group-ID, the sandbox's owner as root, symbolic links as stored, and nothing left beside the tree.

The layers are written with tarfile into an OCI layout by hand (tests/test_image_layers.py's helper): no
image builder, no sandbox, so the test is cheap."""

from __future__ import annotations

import gzip
import os
import stat
import tempfile
import threading

import pytest
from layer_tar import tar_layer
from test_image_layers import oci_layout

from deploycheck.artifact.image.errors import ImageError
from deploycheck.artifact.image.source import open_image
from deploycheck.start import rootfs, sandbox

_tar = tar_layer  # members: (name, kind, payload[, mode])


@pytest.fixture
def own_tmpdir(tmp_path, monkeypatch):
    """rootfs keeps its trees under TMPDIR: a TMPDIR of the test's own."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", None)
    return tmp


def test_unpacked_tree_modes_links_whiteouts_and_owner(tmp_path, own_tmpdir):
    base = _tar([("srv/", "dir", None, 0o755), ("srv/run.sh", "file", b"#!/bin/sh\n", 0o4755),
                 ("srv/conf", "file", b"secret=1\n", 0o640), ("srv/gone", "file", b"g\n", 0o644),
                 ("srv/old/", "dir", None, 0o755), ("srv/old/a", "file", b"a\n", 0o644),
                 ("srv/lib.py", "file", b"V = 1\n", 0o644), ("srv/empty", "file", b"", 0o600),
                 ("srv/ro/", "dir", None, 0o555), ("srv/ro/f", "file", b"f\n", 0o444),
                 # written twice in one layer: the first copy, maybe still being written, is deleted
                 ("srv/twice", "file", b"1\n", 0o644), ("srv/twice", "file", b"2\n", 0o644)])
    top = _tar([("srv/.wh.gone", "file", b"", 0o644), ("srv/old/.wh..wh..opq", "file", b"", 0o644),
                ("srv/old/b", "file", b"b\n", 0o600), ("srv/also.sh", "hard", "srv/run.sh", 0o644),
                ("srv/kept.py", "hard", "srv/lib.py", 0o644), ("srv/lib.py", "file", b"V = 2\n", 0o644),
                ("srv/link", "sym", "/srv/conf", 0o777)])
    # the top layer as two gzip members, as `gzip -d` reads them (RFC 1952 2.2)
    half = len(top) // 2
    layout = tmp_path / "layout"
    oci_layout(layout, [gzip.compress(base), gzip.compress(top[:half]) + gzip.compress(top[half:])], as_is=True)
    image = open_image(f"oci:{layout}")
    try:
        root, cached = rootfs.unpack(image, sandbox.host_owner())
    finally:
        image.close()
    assert not cached
    srv = os.path.join(root, "srv")

    def mode(name: str) -> int:
        return stat.S_IMODE(os.lstat(os.path.join(srv, name)).st_mode)

    assert sorted(os.listdir(srv)) == ["also.sh", "conf", "empty", "kept.py", "lib.py", "link", "old", "ro",
                                       "run.sh", "twice"]
    with open(os.path.join(srv, "twice"), "rb") as f:
        assert f.read() == b"2\n"
    assert os.listdir(os.path.join(srv, "old")) == ["b"]
    assert (mode("run.sh"), mode("conf"), mode("empty"), mode("old/b"), mode("ro/f")) == (
        0o755, 0o640, 0o600, 0o600, 0o444)
    assert mode("ro") == 0o555  # a read-only directory made so after its contents
    run, also = os.lstat(os.path.join(srv, "run.sh")), os.lstat(os.path.join(srv, "also.sh"))
    assert (run.st_ino, run.st_nlink) == (also.st_ino, 2)
    # the hard link keeps what its target held when it was made; the target was replaced after it
    with open(os.path.join(srv, "kept.py"), "rb") as f, open(os.path.join(srv, "lib.py"), "rb") as g:
        assert (f.read(), g.read()) == (b"V = 1\n", b"V = 2\n")
    assert os.readlink(os.path.join(srv, "link")) == "/srv/conf"
    owner = sandbox.host_owner() or (os.geteuid(), os.getegid())
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            st = os.lstat(os.path.join(dirpath, name))
            assert (st.st_uid, st.st_gid) == owner, os.path.join(dirpath, name)
    base_dir = own_tmpdir / f"deploycheck-rootfs-{os.geteuid()}"
    assert os.listdir(base_dir) == [os.path.basename(root)]  # the private unpacking directory is gone


@pytest.mark.parametrize("broken, message", [
    (lambda gz: gz[:len(gz) // 2], "layer 1: the gzip stream is truncated"),
    # a CRC-32 that does not match the data (RFC 1952 2.3.1)
    (lambda gz: gz[:-8] + bytes(b ^ 0xFF for b in gz[-8:-4]) + gz[-4:],
     r"layer 1 is corrupt or truncated \(.*incorrect data check"),
])
def test_a_broken_gzip_layer_is_one_error_and_leaves_nothing(tmp_path, own_tmpdir, broken, message):
    """Decompression runs ahead in a thread of its own: its error reaches the caller, nothing stays."""
    text = b"".join(b"line %d of a module\n" % i for i in range(200_000))  # compressible: deflate codes
    good = gzip.compress(_tar([(f"f{i}", "file", text, 0o644) for i in range(4)]))
    layout = tmp_path / "layout"
    oci_layout(layout, [broken(good)], as_is=True)
    image = open_image(f"oci:{layout}")
    try:
        with pytest.raises(ImageError, match=message):
            rootfs.unpack(image, sandbox.host_owner())
    finally:
        image.close()
    assert [t.name for t in threading.enumerate() if t.name.startswith("deploycheck-")] == []
    assert os.listdir(own_tmpdir / f"deploycheck-rootfs-{os.geteuid()}") == []
