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
from deploycheck.artifact.image.limits import Limits, raise_hint

LAYOUT_TAG = "img"
_LOGRUS_MSG = re.compile(r'msg="((?:[^"\\]|\\.)*)"')
POLL_SECONDS = 0.5  # how often the copy's size is measured
COPY_MARGIN_BYTES = 16 * 1024 * 1024  # the copy holds the layers plus its JSON documents
MAX_STDERR_BYTES = 64 * 1024  # of skopeo's stderr read back for its last error line


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


def _size(root: str) -> int:
    """Bytes allocated under ``root`` (sparse files count what they hold)."""
    total = 0
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
            except OSError:
                pass
    return total


def _run(cmd: list[str], tmp: str, shown: str, most: int) -> tuple[int, str]:
    """Run skopeo with its temporary files (``TMPDIR``) and stderr inside ``tmp``; stop it when ``tmp``
    grows past ``most`` bytes. Returns its exit code and the end of its stderr. Skopeo is stopped and
    waited for however this ends (an error, KeyboardInterrupt, SIGTERM turned into an exception)."""
    work = os.path.join(tmp, "tmp")
    os.mkdir(work)
    err_path = os.path.join(tmp, "stderr")
    with open(err_path, "w+b") as err:
        try:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                    env={**os.environ, "TMPDIR": work})
        except OSError as exc:
            raise ImageError(f"{shown}: cannot run skopeo ({exc})") from None
        try:
            while True:
                try:
                    code = proc.wait(POLL_SECONDS)
                    break
                except subprocess.TimeoutExpired:
                    if _size(tmp) > most:
                        raise ImageError(f"{shown}: the copy skopeo makes is larger than {most} bytes, over "
                                         f"the limit on an image's size ({raise_hint('image_bytes')})"
                                         ) from None
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        err.seek(max(0, os.fstat(err.fileno()).st_size - MAX_STDERR_BYTES))
        return code, err.read().decode("utf-8", "replace")


def fetch(transport: str, ref: str, platform: str, tls_verify: bool | None,
          limits: Limits | None = None) -> tuple[str, str, str, str]:
    """Copy ``docker://ref`` or ``containers-storage:ref`` with skopeo into a new private directory (mode
    0700). Returns ``(directory, "oci", layout path, ref)``; the caller removes the directory. Raises
    ImageError when skopeo is not installed, the copy fails (with skopeo's last error line) or grows past the
    image size limit (``limits.image_bytes`` + COPY_MARGIN_BYTES); nothing is left behind then."""
    limits = limits or Limits.from_environment()
    shown = f"docker://{ref}" if transport == "docker" else f"{transport}:{ref}"
    if not ref:
        raise ImageError(f"{shown}: no image reference")
    if platform.count("/") not in (1, 2) or not all(platform.split("/")):
        raise ImageError(f"--platform {platform}: expected OS/ARCH or OS/ARCH/VARIANT")
    if shutil.which("skopeo") is None:
        raise ImageError(f"{shown}: reading the {transport} transport needs skopeo, which is not on PATH "
                         "(install it, or copy the image yourself: `skopeo copy ... oci-archive:FILE` and "
                         "check oci-archive:FILE)")
    tmp = private.make("deploycheck-skopeo-")
    try:
        layout = os.path.join(tmp, "layout")
        code, stderr = _run(command(transport, ref, layout, platform, tls_verify), tmp, shown,
                            limits.image_bytes + COPY_MARGIN_BYTES)
        if code != 0:
            raise ImageError(f"{shown}: skopeo copy failed: {last_error(stderr)}")
    except BaseException:
        private.remove(tmp)
        raise
    return tmp, "oci", layout, ref
