"""Rebuild the incident that started deploycheck, end to end: a repository, a stale image and the logs.

The story: a service (``orders-api``) moved its database settings from a ``DatabaseConfig`` class to
``get_unified_config()``, file by file. One commit removed the import of ``DatabaseConfig`` from
``app/db/postgres_core.py`` but left a use of it, so the service crashed at start-up with
``RuntimeError: Database engine creation failed: name 'DatabaseConfig' is not defined``. A later commit fixed
it, and the fix was deployed, yet the crash went on: the image labelled with the fix's commit had been built
from the older checkout. This script makes each piece for real:

- a git repository with the migration history (``repo/``): the class, the file-by-file migration, the commit
  that removed the import but left a use, the removal of the class, the fix;
- the stale image, built daemonless with buildah (the tests' Debian root filesystem, ``tests/images``), whose
  files are those of the crashing commit while its ``org.opencontainers.image.revision`` label names the fix
  (``image/image.oci.tar``);
- Cloud Run logs (``logs.jsonl``): the image's command really run in the image (``buildah run``) twice, as two
  instances starting, each stderr line wrapped in a Cloud Logging entry (``textPayload``, ``severity``,
  ``resource.labels.revision_name``, ``labels.instanceId``) and interleaved with the request logs of the
  revision still serving traffic;
- ``facts.json``: the commit ids by step, the revisions, the image's targets, what was run.

Everything goes into ``OUT/seed-incident-KEY/`` (KEY hashes this script and the root filesystem's inputs),
built once and reused; the builds of other keys there are removed; nothing is written into this repository.
Usage::

    python scripts/seed_incident.py [--out DIR]      # default: $XDG_CACHE_HOME/deploycheck-examples

It prints the directory and the audit command to run on it. Needs git, buildah, skopeo and debootstrap, run
as root (as the tests' image builds are).
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from images import build as images  # the tests' daemonless image builder

VERSION = 1  # bump when the output's shape changes without this file's text changing
SERVICE = "orders-api"
PROJECT = "orders-prod"
REGION = "europe-west1"
SERVING = f"{SERVICE}-00041-wod"  # the revision serving traffic while the new one fails to start
FAILING = f"{SERVICE}-00042-kuv"  # the revision deployed with the fix's label and the old files
APP_DIR = "/srv/app"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # the first commit; later ones hours apart
CRASHED_AT = datetime(2026, 3, 4, 14, 7, 12, 318000, tzinfo=UTC)  # the failing revision's first start
AUTHORS = [("Dana Reyes", "dana@orders.example"), ("Sam Okafor", "sam@orders.example")]

CONTAINERFILE = f"""FROM python:3.11-slim-bookworm
WORKDIR {APP_DIR}
COPY app {APP_DIR}/app
CMD ["python3", "-m", "app.main"]
"""

PYPROJECT = """[project]
name = "orders-api"
version = "0.3.0"
requires-python = ">=3.11"

[tool.deploycheck]
entries = ["app.main"]
"""

MAIN = '''"""Service entry point: `python -m app.main`."""

from app.db import postgres_core
from app.services import reports

print("orders-api: starting", flush=True)
engine = postgres_core.create_engine()


def serve() -> None:
    print(f"orders-api: ready (pool {engine['pool_size']}, reports {reports.report_settings()})", flush=True)


if __name__ == "__main__":
    serve()
'''

CONFIG_CLASS = '''"""Database settings, read from the environment once."""

import os


class DatabaseConfig:
    URL = os.environ.get("DATABASE_URL", "postgresql://localhost/orders")
    POOL_SIZE = int(os.environ.get("DB_POOL_SIZE", "5"))
    ECHO = os.environ.get("DB_ECHO", "") == "1"
'''

UNIFIED = '''

@dataclass(frozen=True)
class UnifiedConfig:
    database_url: str
    db_pool_size: int
    db_echo: bool


@lru_cache(maxsize=1)
def get_unified_config() -> UnifiedConfig:
    """Every setting behind one accessor (replaces DatabaseConfig)."""
    return UnifiedConfig(
        database_url=os.environ.get("DATABASE_URL", "postgresql://localhost/orders"),
        db_pool_size=int(os.environ.get("DB_POOL_SIZE", "5")),
        db_echo=os.environ.get("DB_ECHO", "") == "1",
    )
'''

CONFIG_BOTH = ('"""Settings, read from the environment once."""\n\nimport os\n'
               "from dataclasses import dataclass\nfrom functools import lru_cache\n\n\n"
               + CONFIG_CLASS.split("import os\n\n\n", 1)[1] + UNIFIED)
CONFIG_UNIFIED = ('"""Settings, read from the environment once."""\n\nimport os\nfrom dataclasses import '
                  "dataclass\nfrom functools import lru_cache\n" + UNIFIED)


def _engine(imports: str, body: str) -> str:
    return f'''"""Database engine set-up."""

{imports}


def create_engine() -> dict:
    try:
{body}
    except Exception as exc:
        raise RuntimeError(f"Database engine creation failed: {{exc}}") from exc
'''


ENGINE_CLASS = _engine("from app.core.config import DatabaseConfig",
                       '        return {"url": DatabaseConfig.URL, "pool_size": DatabaseConfig.POOL_SIZE,\n'
                       '                "echo": DatabaseConfig.ECHO}')
ENGINE_LEFT_USE = _engine("from app.core.config import get_unified_config",
                          "        cfg = get_unified_config()\n"
                          '        return {"url": cfg.database_url, "pool_size": DatabaseConfig.POOL_SIZE,\n'
                          '                "echo": cfg.db_echo}')
ENGINE_FIXED = _engine("from app.core.config import get_unified_config",
                       "        cfg = get_unified_config()\n"
                       '        return {"url": cfg.database_url, "pool_size": cfg.db_pool_size,\n'
                       '                "echo": cfg.db_echo}')

REPORTS_CLASS = '''"""Monthly order reports."""

from app.core.config import DatabaseConfig


def report_settings() -> dict:
    return {"echo": DatabaseConfig.ECHO}
'''
REPORTS_UNIFIED = '''"""Monthly order reports."""

from app.core.config import get_unified_config


def report_settings() -> dict:
    return {"echo": get_unified_config().db_echo}
'''

# (step name, subject, files written: path -> text, None removes it)
HISTORY: list[tuple[str, str, dict[str, str | None]]] = [
    ("class", "Add DatabaseConfig for the database settings", {
        "Containerfile": CONTAINERFILE, "pyproject.toml": PYPROJECT, "app/__init__.py": "",
        "app/main.py": MAIN, "app/core/__init__.py": "", "app/core/config.py": CONFIG_CLASS,
        "app/db/__init__.py": "", "app/db/postgres_core.py": ENGINE_CLASS, "app/services/__init__.py": "",
        "app/services/reports.py": REPORTS_CLASS}),
    ("unified", "config: add get_unified_config() beside DatabaseConfig",
     {"app/core/config.py": CONFIG_BOTH}),
    ("reports", "reports: read the settings through get_unified_config()",
     {"app/services/reports.py": REPORTS_UNIFIED}),
    ("left-use", "db: postgres_core reads get_unified_config(), DatabaseConfig import dropped",
     {"app/db/postgres_core.py": ENGINE_LEFT_USE}),
    ("class-removed", "config: remove the DatabaseConfig class (migration done)",
     {"app/core/config.py": CONFIG_UNIFIED}),
    ("fix", "db: pool size from get_unified_config() (fixes the start-up NameError)",
     {"app/db/postgres_core.py": ENGINE_FIXED}),
]
IMAGE_STEP = "left-use"  # the checkout the stale image was built from
CLAIMED_STEP = "fix"  # the commit its label names


@dataclass
class Incident:
    """Where the rebuilt incident is: ``root`` (its directory), ``repo`` (the git repository), ``image``
    (``{"oci-archive": TARGET}``), ``logs`` (the JSON lines file) and
    ``facts`` (``facts.json``: ``commits`` by step name, ``image_step``, ``claimed_step``, ``serving`` and
    ``failing`` revision names, ``runs``: exit status and stderr of each real run)."""

    root: Path
    repo: Path
    image: dict[str, str]
    logs: Path
    facts: dict


def key() -> str:
    """What the output depends on: this script's text, the root filesystem's inputs and VERSION."""
    h = hashlib.sha256(Path(__file__).read_bytes())
    h.update(f"|{images.SUITE}|{images.PACKAGES}|{VERSION}".encode())
    return h.hexdigest()[:12]


def build(out: Path) -> Incident:
    """Rebuild the incident under ``out/seed-incident-KEY`` unless it is there already; return where it is.
    Raises subprocess.CalledProcessError when git, buildah or skopeo fails."""
    root = out / f"seed-incident-{key()}"
    out.mkdir(parents=True, exist_ok=True)
    with open(out / f"seed-incident-{key()}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / ".complete").exists():
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir()
            _build(root)
            (root / ".complete").touch()
    _evict(out, root)
    facts = json.loads((root / "facts.json").read_text())
    return Incident(root, root / "repo", facts["image"], root / "logs.jsonl", facts)


def _evict(out: Path, keep: Path) -> None:
    """Remove the builds of other versions of this script (a few hundred MB each), skipping any whose lock
    another process holds."""
    for other in out.glob("seed-incident-*"):
        if other == keep or not other.is_dir():
            continue
        with open(out / f"{other.name}.lock", "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            shutil.rmtree(other, ignore_errors=True)
        (out / f"{other.name}.lock").unlink(missing_ok=True)


def _build(root: Path) -> None:
    repo = root / "repo"
    commits = make_repository(repo)
    context = root / "context"
    context.mkdir()
    archive = subprocess.run(["git", "-C", str(repo), "archive", commits[IMAGE_STEP]], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(context)], input=archive, check=True)
    tag = f"seed-incident:{key()}"
    # the repository's Containerfile with the tests' Debian root filesystem for python:3.11-slim (no registry)
    build_file = (f"FROM scratch\nADD rootfs.tar /\nENV PATH=/usr/local/bin:/usr/bin:/bin\n"
                  f"WORKDIR {APP_DIR}\nCOPY app {APP_DIR}/app\n"
                  f"LABEL org.opencontainers.image.revision={commits[CLAIMED_STEP]}\n"
                  'CMD ["python3", "-m", "app.main"]\n')
    try:
        targets = images.build(context, build_file, tag, root / "image", keep=True)
        runs = [run_in_image(tag, root / f"run-{i}") for i in range(2)]
    finally:
        images.remove(tag)
    shutil.rmtree(context)
    # the tests read the other two forms of an image elsewhere; one copy of the root filesystem is enough here
    os.unlink(targets.pop("docker-archive").partition(":")[2])
    shutil.rmtree(targets.pop("oci").partition(":")[2])
    entries = cloud_run_log(runs)
    (root / "logs.jsonl").write_text("".join(json.dumps(e, sort_keys=True) + "\n" for e in entries))
    facts = {"commits": commits, "image_step": IMAGE_STEP, "claimed_step": CLAIMED_STEP, "serving": SERVING,
             "failing": FAILING, "app_dir": APP_DIR, "image": targets, "runs": runs,
             "steps": [name for name, _, _ in HISTORY]}
    (root / "facts.json").write_text(json.dumps(facts, indent=2) + "\n")


def make_repository(repo: Path) -> dict[str, str]:
    """A git repository at ``repo`` with one commit per step of ``HISTORY``, dated hours apart and authored
    by turns (fixed names and dates, so the commit ids are the same on every run); ``{step: commit id}``."""
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    commits = {}
    for i, (name, subject, changes) in enumerate(HISTORY):
        for path, text in changes.items():
            target = repo / path
            if text is None:
                target.unlink()
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        when = (START + timedelta(hours=5 * i)).isoformat()
        author, email = AUTHORS[i % len(AUTHORS)]
        env = {**os.environ, "GIT_AUTHOR_NAME": author, "GIT_AUTHOR_EMAIL": email,
               "GIT_COMMITTER_NAME": author, "GIT_COMMITTER_EMAIL": email, "GIT_AUTHOR_DATE": when,
               "GIT_COMMITTER_DATE": when}
        subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True, env=env)
        subprocess.run(["git", "-C", str(repo), "-c", "commit.gpgSign=false", "-c",
                        "core.hooksPath=/dev/null", "commit", "-q", "-m", subject], check=True, env=env)
        commits[name] = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], check=True,
                                       capture_output=True, text=True).stdout.strip()
    return commits


def run_in_image(tag: str, capture: Path) -> dict:
    """Run the image's command (``python3 -m app.main``) in a container of the image (``buildah run``, chroot
    isolation), its stdout and stderr written to files in ``capture`` (mounted in the container, so buildah's
    own messages stay apart); ``{"status", "stdout", "stderr"}``."""
    capture.mkdir()
    storage = images.STORAGE
    name = f"{tag.replace(':', '-')}-{capture.name}"
    subprocess.run(["buildah", *storage, "rm", name], capture_output=True, check=False)
    subprocess.run(["buildah", *storage, "from", "--name", name, tag], check=True, capture_output=True)
    try:
        subprocess.run(["buildah", *storage, "run", "--isolation", "chroot", "-v", f"{capture}:/capture",
                        name, "--", "sh", "-c",
                        "python3 -m app.main >/capture/stdout 2>/capture/stderr; echo $? >/capture/status"],
                       check=True, capture_output=True)
    finally:
        subprocess.run(["buildah", *storage, "rm", name], capture_output=True, check=False)
    out = {"status": int((capture / "status").read_text()), "stdout": (capture / "stdout").read_text(),
           "stderr": (capture / "stderr").read_text()}
    shutil.rmtree(capture)
    return out


def cloud_run_log(runs: list[dict]) -> list[dict]:
    """Cloud Logging entries as ``gcloud logging read --format=json`` gives them, oldest first: the request
    logs of the serving revision throughout; for each run of the failing revision (one instance each), its
    stdout and stderr lines, one entry per line (Cloud Run's split of a container's output), then the
    platform's lines about the exit. Request entries fall between the traceback's lines, as they do when
    instances of two revisions log at once."""
    rng = random.Random(42)
    out: list[tuple[datetime, dict]] = []
    paths = ["/orders", "/orders/1842", "/orders?status=open", "/healthz", "/reports/monthly"]
    t = CRASHED_AT - timedelta(seconds=5)
    while t < CRASHED_AT + timedelta(seconds=31 * len(runs) + 5):
        latency = rng.uniform(0.004, 0.09)
        url = f"https://{SERVICE}-x7q2-ew.a.run.app{rng.choice(paths)}"
        out.append((t, _entry(t, SERVING, "requests", "INFO", None, {"httpRequest": {
            "requestMethod": rng.choice(["GET", "GET", "POST"]), "requestUrl": url, "status": 200,
            "latency": f"{latency:.6f}s", "userAgent": "orders-web/2.4",
            "remoteIp": f"203.0.113.{rng.randint(2, 250)}", "protocol": "HTTP/1.1"}})))
        t += timedelta(milliseconds=rng.randint(5, 60))  # some fall between two lines of a traceback
    for n, run in enumerate(runs):
        start = CRASHED_AT + timedelta(seconds=31 * n)
        instance = hashlib.sha256(f"{FAILING}-{n}".encode()).hexdigest()[:48]
        t = start
        for stream, severity in (("stdout", "DEFAULT"), ("stderr", "ERROR")):
            for line in run[stream].splitlines():
                out.append((t, _entry(t, FAILING, stream, severity, instance, {"textPayload": line})))
                t += timedelta(milliseconds=7)
        t += timedelta(milliseconds=40)
        out.append((t, _entry(t, FAILING, "varlog/system", "WARNING", instance,
                              {"textPayload": f"Container called exit({run['status']})."})))
        t += timedelta(milliseconds=180)
        out.append((t, _entry(t, FAILING, "varlog/system", "ERROR", instance, {"textPayload": (
            "Default STARTUP TCP probe failed 1 time consecutively for container \"orders-api-1\" on port "
            "8080. The instance was not started.")})))
    out.sort(key=lambda pair: pair[0])
    return [entry for _, entry in out]


def _entry(t: datetime, revision: str, log: str, severity: str, instance: str | None, payload: dict) -> dict:
    stamp = t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    entry = {
        "insertId": hashlib.sha256(f"{stamp}{revision}{log}{payload}".encode()).hexdigest()[:16],
        "logName": f"projects/{PROJECT}/logs/run.googleapis.com%2F{log.replace('/', '%2F')}",
        "receiveTimestamp": (t + timedelta(milliseconds=35)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "resource": {"type": "cloud_run_revision", "labels": {
            "configuration_name": SERVICE, "location": REGION, "project_id": PROJECT,
            "revision_name": revision, "service_name": SERVICE}},
        "severity": severity,
        "timestamp": stamp,
        **payload,
    }
    if instance:
        entry["labels"] = {"instanceId": instance}
    return entry


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "deploycheck-examples"
    parser.add_argument("--out", type=Path, default=cache, help=f"where to build (default {cache})")
    args = parser.parse_args(argv)
    missing = [t for t in ("git", *images.TOOLS) if shutil.which(t) is None]
    if missing:
        print(f"seed_incident: needs {', '.join(missing)}", file=sys.stderr)
        return 2
    incident = build(args.out)
    facts = incident.facts
    print(f"repository: {incident.repo}\nimage:      {incident.image['oci-archive']}\n"
          f"logs:       {incident.logs}")
    print(f"the image claims {facts['commits'][CLAIMED_STEP][:12]} ({CLAIMED_STEP}) and holds the files of "
          f"{facts['commits'][IMAGE_STEP][:12]} ({IMAGE_STEP})")
    print(f"audit it: deploycheck audit --log {incident.logs} --source {incident.repo} "
          f"--image {incident.image['oci-archive']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
