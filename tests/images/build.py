"""Real images for tests, built without a daemon: a Debian root filesystem made by debootstrap (cached by its
inputs), site-packages installed by the host's pip with --target, and buildah from a Containerfile; pushed
to oci-archive: and docker-archive:, and copied with skopeo to oci:."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

CACHE = Path(os.environ.get("DEPLOYCHECK_TEST_CACHE", Path.home() / ".cache" / "deploycheck-tests"))
SUITE = "bookworm"
PACKAGES = "python3-minimal,python3-venv"
TOOLS = ("buildah", "skopeo", "debootstrap")


def tools_missing() -> list[str]:
    return [t for t in TOOLS if shutil.which(t) is None]


def rootfs_tar() -> Path:
    """A tar of a minimal Debian with Python 3.11, made once per (suite, packages) and reused."""
    key = hashlib.sha256(f"{SUITE}|{PACKAGES}|v1".encode()).hexdigest()[:12]
    out = CACHE / f"rootfs-{SUITE}-{key}.tar"
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f"rootfs-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not out.exists():
            work = CACHE / f"rootfs-{key}.work"
            shutil.rmtree(work, ignore_errors=True)
            subprocess.run(["debootstrap", "--variant=minbase", f"--include={PACKAGES}", SUITE, str(work)],
                           check=True, capture_output=True)
            tmp = out.with_suffix(".partial")
            subprocess.run(["tar", "-cf", str(tmp), "--exclude=./proc", "--exclude=./sys", "--exclude=./dev",
                            "-C", str(work), "."], check=True)
            tmp.rename(out)
            shutil.rmtree(work, ignore_errors=True)
    return out


def pip_target(requirements: list[str], python_version: str = "3.11", platform: str | None = None) -> Path:
    """Distributions installed by the host's pip into a directory (cached by the arguments)."""
    key = hashlib.sha256(json.dumps([sorted(requirements), python_version, platform]).encode()).hexdigest()[:12]
    out = CACHE / f"pip-target-{key}"
    if not (out / ".complete").exists():
        shutil.rmtree(out, ignore_errors=True)
        cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
               "--target", str(out), "--python-version", python_version, "--only-binary=:all:"]
        if platform:
            cmd += ["--platform", platform]
        subprocess.run(cmd + requirements, check=True, capture_output=True)
        (out / ".complete").touch()
    return out


STORAGE = ["--storage-driver", "vfs"]

# A service image: the Debian root filesystem and an `app` package run with `python3 -m app.main`.
CONTAINERFILE = """FROM scratch
ADD rootfs.tar /
ENV PATH=/usr/local/bin:/usr/bin:/bin
WORKDIR /srv/app
COPY app /srv/app/app
CMD ["python3", "-m", "app.main"]
"""


def stop(proc: subprocess.Popen, timeout: float) -> None:
    """Terminate a server the tests started, killing it when it does not exit within ``timeout`` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def storage_reference(tag: str) -> str:
    """The containers-storage: target of an image kept in buildah's vfs store, naming the store as skopeo
    needs it: ``containers-storage:[vfs@GRAPHROOT+RUNROOT]TAG``."""
    info = json.loads(subprocess.run(["buildah", *STORAGE, "info"], check=True, capture_output=True).stdout)
    store = info["store"]
    return f"containers-storage:[vfs@{store['GraphRoot']}+{store['RunRoot']}]{tag}"


def remove(tag: str) -> None:
    """Remove an image kept in buildah's vfs store by ``build(..., keep=True)``."""
    subprocess.run(["buildah", *STORAGE, "rmi", "-f", tag], check=False, capture_output=True)


def _context_key(context: Path, containerfile: str) -> str:
    """What an image is built from: the Containerfile, every file of the context (path, mode, bytes or link
    target) and the root filesystem's own key."""
    h = hashlib.sha256(containerfile.encode() + b"\0" + rootfs_tar().name.encode())
    for path in sorted(context.rglob("*")):
        rel = str(path.relative_to(context))
        if rel in ("rootfs.tar", "Containerfile"):
            continue
        h.update(rel.encode() + b"\0" + oct(path.lstat().st_mode).encode())
        if path.is_symlink():
            h.update(os.readlink(path).encode())
        elif path.is_file():
            with open(path, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
    return h.hexdigest()[:16]


def build(context: Path, containerfile: str, tag: str, out: Path, keep: bool = False) -> dict[str, str]:
    """Build ``containerfile`` in ``context`` (the rootfs tar is linked in as rootfs.tar) and write the image
    as oci-archive, docker-archive and oci layout. Returns the targets by transport. Images are cached by
    their inputs (``_context_key``): a second build of the same inputs returns the cached archives. With
    ``keep`` the image is built afresh under ``tag``, written under ``out``, and stays in buildah's store
    (``remove(tag)`` deletes it)."""
    if keep:
        return _build(context, containerfile, tag, out, keep=True)
    key = _context_key(context, containerfile)
    cached = CACHE / f"image-{key}"
    targets = {"oci-archive": f"oci-archive:{cached / 'image.oci.tar'}",
               "docker-archive": f"docker-archive:{cached / 'image.docker.tar'}",
               "oci": f"oci:{cached / 'layout'}"}
    with open(CACHE / f"image-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (cached / ".complete").exists():
            return targets
        shutil.rmtree(cached, ignore_errors=True)
        # the tag carries the key: runs sharing the builder's storage never push each other's images
        _build(context, containerfile, f"{tag.rpartition(':')[0] or tag}:{key}", cached)
        (cached / ".complete").touch()
    return targets


def _build(context: Path, containerfile: str, tag: str, out: Path, keep: bool = False) -> dict[str, str]:
    shutil.copy(rootfs_tar(), context / "rootfs.tar")
    (context / "Containerfile").write_text(containerfile)
    storage = STORAGE
    # HEALTHCHECK is a Docker image config field: the OCI format drops it
    fmt = ["--format", "docker"] if "HEALTHCHECK" in containerfile else []
    subprocess.run(["buildah", "bud", *storage, *fmt, "--isolation", "chroot", "-q", "-t", tag, "-f",
                    str(context / "Containerfile"), str(context)], check=True, capture_output=True)
    out.mkdir(parents=True, exist_ok=True)
    targets = {"oci-archive": f"oci-archive:{out / 'image.oci.tar'}",
               "docker-archive": f"docker-archive:{out / 'image.docker.tar'}",
               "oci": f"oci:{out / 'layout'}"}
    subprocess.run(["buildah", "push", *storage, tag, targets["oci-archive"]], check=True, capture_output=True)
    subprocess.run(["buildah", "push", *storage, tag, targets["docker-archive"]], check=True, capture_output=True)
    subprocess.run(["skopeo", "copy", "--quiet", targets["oci-archive"], targets["oci"]], check=True,
                   capture_output=True)
    (context / "rootfs.tar").unlink()
    if not keep:
        remove(tag)
    return targets
