"""Layer tarballs written in memory for the image-reading and unpacking tests."""

from __future__ import annotations

import io
import tarfile


def tar_layer(members: list[tuple]) -> bytes:
    """An uncompressed PAX tar of ``members``: each ``(name, kind, payload)`` or ``(name, kind, payload, mode)``;
    kind in file/dir/sym/hard (payload: the file's bytes, or the link's target)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, payload, *mode in members:
            info = tarfile.TarInfo(name)
            if mode:
                info.mode = mode[0]
            if kind == "file":
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
                continue
            info.type = {"dir": tarfile.DIRTYPE, "sym": tarfile.SYMTYPE, "hard": tarfile.LNKTYPE}[kind]
            if kind in ("sym", "hard"):
                info.linkname = payload
            tar.addfile(info)
    return buf.getvalue()
