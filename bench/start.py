"""`deploycheck start` benchmark, measured in one run on one image:

1. Unpacking: deploycheck's root filesystem (``start.rootfs.unpack``: every layer applied, whiteouts, the
   tree written and, as root, owned by the sandbox's user) against ``tar -xzf`` of the same layer blobs
   into one directory, one after the other. Each deploycheck run starts from an empty cache (its own
   ``TMPDIR``). Target: within 1.2x.
2. Warm start: ``deploycheck start IMAGE`` with the root filesystem and the check's cache warm (the import
   probe's plan cached per image, the clean probe remembered), against starting the same service directly
   on the host (the host's python3, the same module, a free port), waiting for the same TCP health and
   stopping it with SIGTERM. Reported: the whole run's wall time (deploycheck's own start-up, the image's
   manifest and config, the sandbox, the network namespace, the probes, the stop), and the time to healthy
   as each measures it. Targets: the sandbox adds less than 1 s to the time to healthy, and the whole warm
   run less than 1 s to the host's start and stop.

Rounds are interleaved (deploycheck, then its anchor) and each round's ratio or difference is printed
with the medians, with the other load (CPUs kept busy by other processes, ``_common.measure``): on a
shared machine a round's pair is the fairer comparison. deploycheck's bytecode is compiled first, as a
wheel installs it (under ``PYTHONDONTWRITEBYTECODE`` every run would otherwise compile its modules again).

The image is the tests' service image (tests/fixtures/start/service, built daemonless like the test images)
unless ``--image`` names another. Run with the project's environment:

    .venv/bin/python bench/start.py [--runs N] [--image TARGET]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from _common import describe_machine, machine, measure
from images.build import build, tools_missing

SERVICE = ROOT / "tests" / "fixtures" / "start" / "service"
CONTAINERFILE = ("FROM scratch\nADD rootfs.tar /\nENV PATH=/usr/local/bin:/usr/bin:/bin\nWORKDIR /srv/app\n"
                 "COPY app /srv/app/app\nCMD [\"python3\", \"-m\", \"app.main\"]\n")
UNPACK = ("import sys\nfrom deploycheck.artifact.image.source import open_image\n"
          "from deploycheck.start import rootfs, sandbox\n"
          "image = open_image(sys.argv[1], 'linux/amd64', None)\n"
          "try:\n    rootfs.unpack(image, sandbox.host_owner())\nfinally:\n    image.close()\n")


def _layers(archive: str, into: Path) -> list[Path]:
    """The layer blobs of an oci-archive, copied out as files."""
    blobs = []
    with tarfile.open(archive) as tar:
        index = json.load(tar.extractfile("index.json"))
        manifest = json.load(tar.extractfile("blobs/sha256/" + index["manifests"][0]["digest"].split(":")[1]))
        for layer in manifest["layers"]:
            out = into / f"{len(blobs)}.tar.gz"
            with open(out, "wb") as f:
                shutil.copyfileobj(tar.extractfile("blobs/sha256/" + layer["digest"].split(":")[1]), f, 1 << 20)
            blobs.append(out)
    return blobs


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _on_host(service: Path) -> tuple[float, float]:
    """Start the service on the host, wait for a TCP connection to succeed, stop it with SIGTERM: (seconds to
    healthy, seconds of the whole run)."""
    port = _free_port()
    env = {**os.environ, "MODE": "ok", "PORT": str(port)}
    t0 = time.perf_counter()
    proc = subprocess.Popen(["python3", "-m", "app.main"], cwd=service, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    healthy = None
    while healthy is None and proc.poll() is None and time.perf_counter() - t0 < 60:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            healthy = time.perf_counter() - t0
        except OSError:
            time.sleep(0.05)  # as deploycheck's default TCP probe
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)
    if healthy is None:
        raise SystemExit("the service did not start on the host")
    return healthy, time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--image", help="an oci-archive: target (default: the tests' service image)")
    args = ap.parse_args()
    if tools_missing() or shutil.which("bwrap") is None:
        print(f"needs {tools_missing() + ['bwrap'] * (shutil.which('bwrap') is None)} (make system-tools)")
        return 2
    work = Path(tempfile.mkdtemp(prefix="dc-start-bench-"))
    try:
        target = args.image
        if target is None:
            ctx = work / "context"
            shutil.copytree(SERVICE / "app", ctx / "app")
            target = build(ctx, CONTAINERFILE, "dc-start:1", work / "out")["oci-archive"]
        blobs = _layers(target.split(":", 1)[1], work)
        size = sum(p.stat().st_size for p in blobs)
        exe = str(Path(sys.executable).with_name("deploycheck"))
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "src" / "deploycheck")],
                       stdout=subprocess.DEVNULL, check=True)
        print(describe_machine(machine()), flush=True)

        unpack, tar = [], []
        untar = "for f in \"$@\"; do tar -xzf \"$f\" -C \"$DEST\" 2>/dev/null; done"
        for i in range(args.runs):
            tmp = work / f"tmp-{i}"
            tmp.mkdir()
            sample = measure([sys.executable, "-c", UNPACK, target], env={**os.environ, "TMPDIR": str(tmp)})
            if sample.rc != 0:
                raise SystemExit("unpacking failed")
            unpack.append(sample.wall)
            shutil.rmtree(tmp)
            dest = work / f"tar-{i}"
            dest.mkdir()
            anchor = measure(["sh", "-c", untar, "sh", *map(str, blobs)], env={**os.environ, "DEST": str(dest)})
            tar.append(anchor.wall)
            shutil.rmtree(dest)
            print(f"  round {i + 1}: unpacking {unpack[-1]:.2f} s (other load {sample.others:.1f} CPUs), "
                  f"tar -xzf {tar[-1]:.2f} s ({anchor.others:.1f}): {unpack[-1] / tar[-1]:.2f}", flush=True)

        # the host runs a copy: its bytecode must not land in the fixture, which the tests' images are built from
        host_copy = work / "host"
        shutil.copytree(SERVICE / "app", host_copy / "app")
        project = work / "project"
        project.mkdir()
        (project / "prod.env").write_text("MODE=ok\n")
        cmd = [exe, "start", target, "--env-file", "prod.env", "--format", "json"]
        subprocess.run(cmd, cwd=project, capture_output=True, check=False)  # warms the tree and the check cache
        started, healthy_in, host_total, host_healthy = [], [], [], []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, cwd=project, capture_output=True, check=False)
            started.append(time.perf_counter() - t0)
            doc = json.loads(proc.stdout)
            if proc.returncode != 0 or not doc["target"]["rootfs_cached"]:
                raise SystemExit(f"deploycheck start failed or was not warm: {proc.stderr.decode()[-500:]}")
            healthy_in.append(doc["measures"]["healthy_after_seconds"])
            h, total = _on_host(host_copy)
            host_healthy.append(h)
            host_total.append(total)
            print(f"  round {len(started)}: deploycheck start {started[-1]:.2f} s (healthy after "
                  f"{healthy_in[-1]:.2f} s), the host {total:.2f} s (healthy after {h:.2f} s): "
                  f"{started[-1] - total:.2f} s more", flush=True)

        med = statistics.median
        print(f"image {target}: {len(blobs)} layers, {size / 1e6:.0f} MB compressed; {args.runs} runs")
        ratios = [u / t for u, t in zip(unpack, tar)]
        print(f"unpacking (cold): deploycheck {med(unpack):.2f} s ({min(unpack):.2f}-{max(unpack):.2f}); "
              f"tar -xzf {med(tar):.2f} s ({min(tar):.2f}-{max(tar):.2f}); ratio of the medians "
              f"{med(unpack) / med(tar):.2f}, median of the rounds' ratios {med(ratios):.2f} "
              f"({min(ratios):.2f}-{max(ratios):.2f}) (target <= 1.2)")
        print(f"time to healthy: in the sandbox {med(healthy_in):.2f} s, on the host {med(host_healthy):.2f} s; "
              f"the sandbox adds {med(healthy_in) - med(host_healthy):.2f} s (target < 1 s)")
        more = [a - b for a, b in zip(started, host_total)]
        print(f"whole run (warm): deploycheck start {med(started):.2f} s, the host's start and stop "
              f"{med(host_total):.2f} s; ratio {med(started) / med(host_total):.1f}, "
              f"{med(started) - med(host_total):.2f} s more; median of the rounds' differences {med(more):.2f} s "
              f"({min(more):.2f}-{max(more):.2f}) (target < 1 s)")
        print(f"all runs: deploycheck start {', '.join(f'{x:.2f}' for x in started)}; "
              f"host {', '.join(f'{x:.2f}' for x in host_total)}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
