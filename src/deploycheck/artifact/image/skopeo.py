"""The ``docker://REF`` and ``containers-storage:REF`` transports, delegated to skopeo: ``skopeo copy`` writes
the image as an OCI image layout (``oci:DIR:img``) into a private temporary directory, which the oci reader
then reads. References are passed to skopeo unchanged, so they follow ``containers-transports(5)``: a
registry reference for ``docker://``, and for ``containers-storage:`` an image name or ID, optionally led by
the store to use, ``[DRIVER@GRAPHROOT+RUNROOT]`` (how an image built with ``--storage-driver vfs`` is found).
The copy keeps the source's manifest, so the manifest digest reported is the source's.
Registry credentials are skopeo's own (``skopeo login``, ``REGISTRY_AUTH_FILE``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

from deploycheck import private
from deploycheck.artifact.image.errors import ImageError

LAYOUT_TAG = "img"
_LOGRUS_MSG = re.compile(r'msg="((?:[^"\\]|\\.)*)"')


def command(transport: str, ref: str, dest: str, platform: str, tls_verify: bool | None) -> list[str]:
    """The skopeo command line copying ``transport:ref`` to the OCI layout ``dest``: for ``docker://`` the
    ``--platform`` (``os/arch[/variant]``) chooses from an image index through skopeo's ``--override-os``,
    ``--override-arch`` and ``--override-variant``, and ``tls_verify`` False becomes ``--src-tls-verify=false``.
    The manifest and blobs are copied unchanged (``--preserve-digests``; the OCI layout stores a Docker v2
    schema 2 manifest as it is)."""
    cmd = ["skopeo"]
    source = f"{transport}:{ref}"
    if transport == "docker":
        source = f"docker://{ref}"
        os_name, _, rest = platform.partition("/")
        arch, _, variant = rest.partition("/")
        cmd += ["--override-os", os_name, "--override-arch", arch] + (["--override-variant", variant] if variant else [])
    # --preserve-digests: the layout holds the source's own manifest and layer blobs (no conversion to OCI, no
    # recompression of containers-storage's uncompressed layers), so the manifest read is the one named.
    cmd += ["copy", "--quiet", "--preserve-digests"]
    if tls_verify is not None:
        cmd.append(f"--src-tls-verify={'true' if tls_verify else 'false'}")
    return cmd + [source, f"oci:{dest}:{LAYOUT_TAG}"]


def last_error(stderr: str) -> str:
    """The message of skopeo's last stderr line (its logrus ``msg="..."`` unquoted when it has one)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    if not lines:
        return "no message"
    m = _LOGRUS_MSG.search(lines[-1])
    if not m:
        return lines[-1]
    try:
        return json.loads(f'"{m.group(1)}"')
    except ValueError:
        return m.group(1)


def fetch(transport: str, ref: str, platform: str, tls_verify: bool | None) -> tuple[str, str, str, str]:
    """Copy ``docker://ref`` or ``containers-storage:ref`` with skopeo into a new private directory (mode
    0700). Returns ``(directory, "oci", layout path, ref)``; the caller removes the directory. Raises
    ImageError when skopeo is not installed or the copy fails (with skopeo's last error line); nothing is
    left behind then."""
    shown = f"docker://{ref}" if transport == "docker" else f"{transport}:{ref}"
    if not ref:
        raise ImageError(f"{shown}: no image reference")
    if platform.count("/") not in (1, 2) or not all(platform.split("/")):
        raise ImageError(f"--platform {platform}: expected OS/ARCH or OS/ARCH/VARIANT")
    if shutil.which("skopeo") is None:
        raise ImageError(f"{shown}: reading the {transport} transport needs skopeo, which is not on PATH (install "
                         "it, or copy the image yourself: `skopeo copy ... oci-archive:FILE` and check "
                         "oci-archive:FILE)")
    tmp = private.make("deploycheck-skopeo-")
    try:
        layout = os.path.join(tmp, "layout")
        try:
            proc = subprocess.run(command(transport, ref, layout, platform, tls_verify), capture_output=True,
                                  text=True, errors="replace", stdin=subprocess.DEVNULL)
        except OSError as exc:
            raise ImageError(f"{shown}: cannot run skopeo ({exc})") from None
        if proc.returncode != 0:
            raise ImageError(f"{shown}: skopeo copy failed: {last_error(proc.stderr)}")
    except BaseException:
        private.remove(tmp)
        raise
    return tmp, "oci", layout, ref
