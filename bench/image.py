"""Image benchmark: `deploycheck check oci-archive:IMAGE` on an image of at least 1 GB of layers against the
time `tar -xzf` takes to unpack the same layer blobs, measured in one run; and deploycheck's peak memory.

The image is built daemonless like the test images (tests/images/build.py): a Debian root filesystem from
debootstrap plus a large site-packages (PyTorch's CPU wheel and a few others, installed by the host's pip
with --target), pushed with buildah to an oci-archive with gzip layers. Run with the project's environment:

    .venv/bin/python bench/image.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from images.build import build, pip_target, tools_missing  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from _common import measure  # noqa: E402

BIG = ["torch==2.13.0", "numpy", "sympy", "networkx", "jinja2", "markupsafe", "mpmath", "filelock", "fsspec",
       "typing_extensions"]


def _timed(cmd: list[str]) -> tuple[float, int]:
    """Wall seconds and the peak RSS (KiB) of the command alone (see _common.LAUNCH)."""
    sample = measure(cmd)
    return sample.wall, sample.maxrss_kb


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    if tools_missing():
        print(f"needs {tools_missing()} (make system-tools)")
        return 2
    work = Path(tempfile.mkdtemp(prefix="dc-image-bench-"))
    ctx = work / "context"
    (ctx / "app").mkdir(parents=True)
    (ctx / "app" / "__init__.py").write_text("")
    (ctx / "app" / "main.py").write_text("import torch\nimport sympy\nimport networkx\nimport jinja2\n\napp = 1\n")
    site = pip_target(BIG)
    subprocess.run(["cp", "-r", str(site), str(ctx / "site")], check=True)
    targets = build(ctx, "FROM scratch\nADD rootfs.tar /\nENV PATH=/usr/local/bin:/usr/bin:/bin\nWORKDIR /srv/app\n"
                    "COPY site /usr/local/lib/python3.11/dist-packages\nCOPY app /srv/app/app\n"
                    "CMD [\"python3\", \"-m\", \"app.main\"]\n", "dc-bench:1", work / "out")
    archive = targets["oci-archive"].split(":", 1)[1]
    layers_dir = work / "layers"
    layers_dir.mkdir()
    with tarfile.open(archive) as tar:
        index = json.load(tar.extractfile("index.json"))
        manifest = json.load(tar.extractfile("blobs/sha256/" + index["manifests"][0]["digest"].split(":")[1]))
        blobs = []
        for layer in manifest["layers"]:
            name = "blobs/sha256/" + layer["digest"].split(":")[1]
            out = layers_dir / f"{len(blobs)}.tar.gz"
            with open(out, "wb") as f:
                shutil.copyfileobj(tar.extractfile(name), f, 1 << 20)
            blobs.append(out)
    compressed = sum(p.stat().st_size for p in blobs)
    uncompressed = 0
    for p in blobs:
        with tarfile.open(p) as t:
            uncompressed += sum(m.size for m in t.getmembers())
    exe = str(Path(sys.executable).with_name("deploycheck"))
    rows = {"deploycheck": [], "tar": []}
    for _ in range(args.runs):
        wall, rss = _timed([exe, "check", targets["oci-archive"], "--no-cache", "--format", "json"])
        rows["deploycheck"].append((wall, rss))
        dest = Path(tempfile.mkdtemp(dir=work))
        start = time.perf_counter()
        for p in blobs:
            subprocess.run(["tar", "-xzf", str(p), "-C", str(dest)], check=False, stderr=subprocess.DEVNULL)
        rows["tar"].append((time.perf_counter() - start, 0))
        subprocess.run(["rm", "-rf", str(dest)])
    dc = statistics.median(w for w, _ in rows["deploycheck"])
    tar_s = statistics.median(w for w, _ in rows["tar"])
    peak = max(r for _, r in rows["deploycheck"]) / 1024
    print(f"image: {len(blobs)} layers, {compressed / 1e9:.2f} GB compressed, {uncompressed / 1e9:.2f} GB of layer contents")
    print(f"deploycheck check oci-archive: median {dc:.2f} s over {args.runs} runs (all: "
          f"{', '.join(f'{w:.2f}' for w, _ in rows['deploycheck'])}), peak RSS {peak:.0f} MB")
    print(f"tar -xzf of the same layer blobs: median {tar_s:.2f} s")
    print(f"ratio deploycheck / tar -xzf: {dc / tar_s:.2f} (target <= 1.2); peak memory target < 300 MB: "
          f"{'met' if peak < 300 else 'not met'}")
    subprocess.run(["rm", "-rf", str(work)])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
