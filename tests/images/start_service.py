"""The image of the start tests' service (tests/fixtures/start/service), shared by the start test files."""

from __future__ import annotations

import shutil
from pathlib import Path

from images.build import build, tools_missing

FIXTURE_APP = Path(__file__).resolve().parent.parent / "fixtures" / "start" / "service" / "app"
CONTAINERFILE = ("FROM scratch\nADD rootfs.tar /\nENV PATH=/usr/local/bin:/usr/bin:/bin\nWORKDIR /srv/app\n"
                 "COPY app /srv/app/app\nCMD [\"python3\", \"-m\", \"app.main\"]\n")


def missing() -> list[str]:
    """What the start tests need and this machine lacks: the image tools and the sandbox's programs."""
    return tools_missing() + [t for t in ("bwrap", "unshare", "nsenter", "prlimit") if shutil.which(t) is None]


def service_image(tmp_path_factory) -> dict:
    """The service image built from CONTAINERFILE (``images.build.build``'s transports -> references)."""
    ctx = tmp_path_factory.mktemp("context")
    shutil.copytree(FIXTURE_APP, ctx / "app")
    return build(ctx, CONTAINERFILE, "dc-start:1", tmp_path_factory.mktemp("out"))
