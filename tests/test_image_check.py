"""`deploycheck check IMAGE` end to end, on images assembled from the real files of this machine's Debian
Python (interpreter binary, standard library, extension module names) and a small service.

The archives are written with tarfile rather than built with buildah so that these tests run anywhere;
the daemonless image builds the issue asks for are the next step (see the issue's notes)."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import pty
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from conftest import cli, cli_json
from test_image_layers import _tar, oci_layout

STDLIB = "/usr/lib/python3.11"
BINARY = "/usr/bin/python3.11"

pytestmark = pytest.mark.skipif(not (os.path.isdir(STDLIB) and os.path.exists(BINARY)),
                                reason="needs Debian's python3.11 files")


def _python_layer() -> bytes:
    members = [("usr/bin/python3.11", "file", open(BINARY, "rb").read()), ("usr/bin/python3", "sym", "python3.11"),
               ("usr/lib/python3/dist-packages/", "dir", None)]
    # the servers the images' commands run, as pip installs their console scripts (only their presence matters)
    for server in ("uvicorn", "gunicorn"):
        members.append((f"usr/local/bin/{server}", "file",
                        f"#!/usr/bin/python3\nimport sys\nfrom {server}.main import main\nsys.exit(main())\n".encode()))
        members.append((f"usr/lib/python3/dist-packages/{server}/__init__.py", "file", b""))
        members.append((f"usr/lib/python3/dist-packages/{server}/main.py", "file", b"def main():\n    return 0\n"))
    for dirpath, dirnames, filenames in os.walk(STDLIB):
        dirnames[:] = [d for d in dirnames if d not in ("__pycache__", "test", "tests", "idlelib", "tkinter")]
        for name in filenames:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, "/")
            if name.endswith(".py"):
                members.append((rel, "file", open(full, "rb").read()))
            elif name.endswith(".so"):
                members.append((rel, "file", b"\x7fELF"))  # only the name matters to a static check
    return _tar(members)


@pytest.fixture(scope="module")
def python_layer():
    return _python_layer()


APP = [("srv/app/app/__init__.py", "file", b""),
       ("srv/app/app/main.py", "file", b"import json\nfrom collections import Mapping\n\napp = object()\n")]


def _image(tmp_path, python_layer, cmd, app=APP):
    root = tmp_path / "layout"
    oci_layout(root, [python_layer, _tar(app)],
               config={"Env": ["PATH=/usr/local/bin:/usr/bin:/bin"], "WorkingDir": "/srv/app", "Cmd": cmd})
    return f"oci:{root}"


def test_image_findings_and_entry_point(tmp_path, python_layer):
    target = _image(tmp_path, python_layer, ["sh", "-c", "exec uvicorn ${APP:-app.main:application} --port 80"])
    code, doc = cli_json("check", target, "--no-cache")
    assert code == 1
    assert doc["python"]["version"].startswith("3.11") and doc["python"]["executable"] == "/usr/bin/python3"
    got = sorted((f["code"], f["path"], f["line"], f["symbol"]) for f in doc["findings"])
    assert got == [("DC102", "/srv/app/app/main.py", 2, "Mapping"),
                   ("DC505", "/srv/app/app/main.py", 0, "application")]
    assert doc["target"]["entries"] == ["app.main"]
    # the text names the module file without pointing at a line (it pointed at line 1, `import json`)
    code, out, _ = cli("check", target, "--no-cache")
    assert ("/srv/app/app/main.py: DC505 [error, at start-up] the image's command (uvicorn) uses "
            "'app.main:application', but 'app.main' has no attribute 'application'\n\n") in out
    image = doc["target"]["image"]
    assert (image["transport"], image["platform"]) == ("oci", "linux/amd64") and image["manifest"].startswith("sha256:")


def test_image_command_naming_a_missing_module(tmp_path, python_layer):
    target = _image(tmp_path, python_layer, ["python3", "-m", "app.server"])
    code, doc = cli_json("check", target, "--no-cache")
    assert code == 1
    # app.main (with its own problem) is not imported by this command, so only the entry is reported
    assert [(f["code"], f["symbol"], f["path"]) for f in doc["findings"]] == [
        ("DC505", "app.server", "<image command: python -m app.server>")]


def test_clean_image(tmp_path, python_layer):
    app = [("srv/app/app/__init__.py", "file", b""),
           ("srv/app/app/main.py", "file", b"import json\nimport socket\nfrom collections.abc import Mapping\napp = 1\n")]
    target = _image(tmp_path, python_layer, ["uvicorn", "app.main:app"], app)
    code, doc = cli_json("check", target, "--no-cache")
    assert (code, doc["findings"]) == (0, [])


def test_a_hard_link_keeps_the_source_a_later_layer_replaced(tmp_path, python_layer):
    # main.py is a hard link made when v1.py held clean code; a later layer rewrites v1.py. The image's
    # main.py is still the clean code (a link shares the file, not the name): no finding.
    app = [("srv/app/app/__init__.py", "file", b""), ("srv/app/app/v1.py", "file", b"import json\napp = 1\n"),
           ("srv/app/app/main.py", "hard", "srv/app/app/v1.py")]
    later = _tar([("srv/app/app/v1.py", "file", b"import missing_mod\napp = 1\n")])
    root = tmp_path / "layout"
    oci_layout(root, [python_layer, _tar(app), later],
               config={"Env": ["PATH=/usr/local/bin:/usr/bin:/bin"], "WorkingDir": "/srv/app",
                       "Cmd": ["uvicorn", "app.main:app"]})
    code, doc = cli_json("check", f"oci:{root}", "--no-cache")
    assert (code, doc["findings"]) == (0, [])


def test_third_party_finding_names_the_distribution_in_the_image(tmp_path, python_layer):
    site = "usr/lib/python3/dist-packages"
    app = [("srv/app/app/__init__.py", "file", b""), ("srv/app/app/main.py", "file", b"import oldlib\napp = 1\n"),
           (f"{site}/oldlib/__init__.py", "file", b"from collections import Mapping\n"),
           (f"{site}/oldlib-1.0.dist-info/METADATA", "file", b"Metadata-Version: 2.1\nName: oldlib\nVersion: 1.0\n"),
           (f"{site}/oldlib-1.0.dist-info/RECORD", "file",
            b"oldlib/__init__.py,,\noldlib-1.0.dist-info/METADATA,,\noldlib-1.0.dist-info/RECORD,,\n")]
    target = _image(tmp_path, python_layer, ["uvicorn", "app.main:app"], app)
    code, doc = cli_json("check", target, "--no-cache")
    assert code == 1
    [f] = doc["findings"]
    assert (f["code"], f["path"], f["symbol"]) == ("DC102", f"/{site}/oldlib/__init__.py", "Mapping")
    assert f["distribution"] == {"name": "oldlib", "version": "1.0"}
    assert [h["module"] for h in f["chain"]] == ["app.main"]


def _dist(site, name, tag, module=True):
    members = [(f"{site}/{name}-1.0.dist-info/METADATA", "file", f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n".encode()),
               (f"{site}/{name}-1.0.dist-info/WHEEL", "file", f"Wheel-Version: 1.0\nTag: {tag}\n".encode()),
               (f"{site}/{name}-1.0.dist-info/RECORD", "file", f"{name}/__init__.py,,\n".encode())]
    if module:
        members.append((f"{site}/{name}/__init__.py", "file", b"X = 1\n"))
    return members


def test_foreign_builds(tmp_path, python_layer):
    site = "usr/lib/python3/dist-packages"
    app = [("srv/app/app/__init__.py", "file", b""),
           ("srv/app/app/main.py", "file", b"import fast312\nimport muslonly\nimport fine\napp = 1\n")]
    app += _dist(site, "fast312", "cp312-cp312-manylinux_2_17_x86_64")
    app += _dist(site, "muslonly", "cp311-cp311-musllinux_1_2_x86_64")
    app += _dist(site, "fine", "cp311-cp311-manylinux_2_17_x86_64")
    app += _dist(site, "unused", "cp39-cp39-win_amd64")
    target = _image(tmp_path, python_layer, ["uvicorn", "app.main:app"], app)
    code, doc = cli_json("check", target, "--no-cache")
    assert code == 1
    got = sorted((f["code"], f["symbol"], f["severity"]) for f in doc["findings"])
    assert got == [("DC504", "fast312", "error"), ("DC504", "muslonly", "error"), ("DC504", "unused", "warning")]
    msg = next(f["message"] for f in doc["findings"] if f["symbol"] == "fast312")
    assert msg == "fast312 1.0 was built for cp312-cp312-manylinux_2_17_x86_64, which Python 3.11 on x86_64 (glibc) cannot load"


def test_source_declarations_against_the_image(tmp_path, python_layer):
    source = tmp_path / "src"
    source.mkdir()
    (source / "pyproject.toml").write_text('[project]\nname = "svc"\nversion = "1"\nrequires-python = ">=3.12"\n'
                                           'dependencies = ["fine>=1", "redis>=5"]\n')
    site = "usr/lib/python3/dist-packages"
    app = APP[:1] + [("srv/app/app/main.py", "file", b"import fine\napp = 1\n")]
    app += _dist(site, "fine", "py3-none-any")
    target = _image(tmp_path, python_layer, ["uvicorn", "app.main:app"], app)
    code, doc = cli_json("check", target, "--no-cache", "--source", source)
    assert code == 1
    got = sorted((f["code"], f["symbol"], f["line"]) for f in doc["findings"])
    assert got == [("DC503", "requires-python", 4), ("DC506", "redis", 5)]
    code, _, err = cli("check", target, "--source", tmp_path / "nope")
    assert code == 2 and "--source" in err


def _git(repo, *args):
    import subprocess

    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True,
                          env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t.invalid",
                               "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t.invalid"}).stdout.strip()


def test_stale_image_built_from_an_older_commit(tmp_path, python_layer):
    repo = tmp_path / "repo"
    (repo / "app").mkdir(parents=True)
    _git(tmp_path, "init", "-q", str(repo))
    (repo / "app" / "__init__.py").write_text("")
    old = "from app.config import DatabaseConfig\n\ndef pool():\n    return DatabaseConfig.POOL\napp = 1\n"
    (repo / "app" / "main.py").write_text(old)
    (repo / "app" / "config.py").write_text("class DatabaseConfig:\n    POOL = 5\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "old")
    first = _git(repo, "rev-parse", "HEAD")
    (repo / "app" / "main.py").write_text("from app.config import get_config\n\napp = 1\n")
    (repo / "app" / "config.py").write_text("def get_config():\n    return 5\n")
    _git(repo, "commit", "-qam", "migrated")
    head = _git(repo, "rev-parse", "HEAD")
    # the image says it is HEAD but holds the first commit's files
    app = [("srv/app/app/__init__.py", "file", b""), ("srv/app/app/main.py", "file", old.encode()),
           ("srv/app/app/config.py", "file", b"class DatabaseConfig:\n    POOL = 5\n")]
    root = tmp_path / "layout"
    oci_layout(root, [python_layer, _tar(app)],
               config={"Env": ["PATH=/usr/local/bin:/usr/bin"], "WorkingDir": "/srv/app", "Cmd": ["uvicorn", "app.main:app"],
                       "Labels": {"org.opencontainers.image.revision": head}})
    code, doc = cli_json("check", f"oci:{root}", "--no-cache", "--source", repo, "--app-dir", "/srv/app")
    assert code == 1
    stale = sorted((f["path"], f["message"]) for f in doc["findings"] if f["code"] == "DC501")
    assert [p for p, _ in stale] == ["/srv/app/app/config.py", "/srv/app/app/main.py"]
    assert all(f"the image's version is from commit {first[:12]}" in m for _, m in stale)
    assert all(f"differs from HEAD ({head[:12]})" in m for _, m in stale)
    # a whole file differs: the text names it without pointing at a line
    code, out, _ = cli("check", f"oci:{root}", "--no-cache", "--source", repo, "--app-dir", "/srv/app")
    assert "/srv/app/app/main.py: DC501 [error, at import] app/main.py differs from HEAD" in out
    # the same image built from HEAD's files is not stale; a label naming another commit is
    app_new = [("srv/app/app/__init__.py", "file", b""),
               ("srv/app/app/main.py", "file", (repo / "app" / "main.py").read_bytes()),
               ("srv/app/app/config.py", "file", (repo / "app" / "config.py").read_bytes())]
    root2 = tmp_path / "layout2"
    oci_layout(root2, [python_layer, _tar(app_new)],
               config={"Env": ["PATH=/usr/local/bin:/usr/bin"], "WorkingDir": "/srv/app", "Cmd": ["uvicorn", "app.main:app"],
                       "Labels": {"org.opencontainers.image.revision": first}})
    code, doc = cli_json("check", f"oci:{root2}", "--no-cache", "--source", repo, "--app-dir", "/srv/app")
    assert [(f["code"], f["symbol"]) for f in doc["findings"]] == [("DC501", "org.opencontainers.image.revision")]


def test_stale_file_in_a_sha256_repository(tmp_path, python_layer):
    # git names blobs by SHA-256 there: comparing SHA-1 ids called every file stale
    repo = tmp_path / "repo"
    (repo / "app").mkdir(parents=True)
    _git(tmp_path, "init", "-q", "--object-format=sha256", str(repo))
    (repo / "app" / "__init__.py").write_text("")
    (repo / "app" / "main.py").write_text("app = 1\n")
    (repo / "app" / "config.py").write_text("POOL = 5\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "old")
    first = _git(repo, "rev-parse", "HEAD")
    (repo / "app" / "config.py").write_text("POOL = 6\n")
    _git(repo, "commit", "-qam", "new")
    app = [("srv/app/app/__init__.py", "file", b""), ("srv/app/app/main.py", "file", b"app = 1\n"),
           ("srv/app/app/config.py", "file", b"POOL = 5\n")]
    root = tmp_path / "layout"
    oci_layout(root, [python_layer, _tar(app)],
               config={"Env": ["PATH=/usr/local/bin:/usr/bin"], "WorkingDir": "/srv/app", "Cmd": ["uvicorn", "app.main:app"]})
    code, doc = cli_json("check", f"oci:{root}", "--no-cache", "--source", repo, "--app-dir", "/srv/app")
    stale = [(f["path"], f["message"]) for f in doc["findings"] if f["code"] == "DC501"]
    assert code == 1 and [p for p, _ in stale] == ["/srv/app/app/config.py"]
    assert f"the image's version is from commit {first[:12]}" in stale[0][1]


def test_module_left_out_by_dockerignore(tmp_path, python_layer):
    repo = tmp_path / "repo"
    (repo / "app").mkdir(parents=True)
    _git(tmp_path, "init", "-q", str(repo))
    (repo / "app" / "__init__.py").write_text("")
    (repo / "app" / "main.py").write_text("from app import settings_local\nfrom app import helpers\nimport app.gone\napp = 1\n")
    (repo / "app" / "settings_local.py").write_text("DEBUG = False\n")
    (repo / "app" / "helpers.py").write_text("X = 1\n")
    (repo / ".dockerignore").write_text("*.md\n**/*_local.py\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "one")
    # the build context dropped settings_local.py (.dockerignore) and helpers.py (a COPY that missed it)
    app = [("srv/app/app/__init__.py", "file", b""), ("srv/app/app/main.py", "file", (repo / "app" / "main.py").read_bytes())]
    root = tmp_path / "layout"
    oci_layout(root, [python_layer, _tar(app)],
               config={"Env": ["PATH=/usr/local/bin:/usr/bin"], "WorkingDir": "/srv/app", "Cmd": ["uvicorn", "app.main:app"]})
    code, doc = cli_json("check", f"oci:{root}", "--no-cache", "--source", repo, "--app-dir", "/srv/app")
    assert code == 1
    got = sorted((f["code"], f["symbol"], f["message"]) for f in doc["findings"])
    assert got == [
        ("DC101", "app.gone", "No module named 'app.gone'"),
        ("DC502", "app.helpers", "No module named 'app.helpers' in the image, but the source has app/helpers.py: "
                                 "no .dockerignore pattern excludes it, so no COPY/ADD line brings it in"),
        ("DC502", "app.settings_local", "No module named 'app.settings_local' in the image, but the source has "
                                        "app/settings_local.py: .dockerignore pattern '**/*_local.py' excludes it"),
    ]


_ZEROS_GIB = 2  # a layer this big takes seconds to read, hash and skip: the progress bar has time to show


@functools.cache
def _zeros_layer() -> tuple[bytes, int, bytes, str]:
    """The tar header, the size of the zeros, the end blocks and the sha256 hex digest of the layer."""
    size = _ZEROS_GIB * 1024**3
    info = tarfile.TarInfo("big/zeros.bin")
    info.size = size
    head, tail = info.tobuf(tarfile.PAX_FORMAT), b"\0" * 1024
    sha = hashlib.sha256(head)
    zeros = bytes(1 << 20)
    for _ in range(size >> 20):
        sha.update(zeros)
    sha.update(tail)
    return head, size, tail, sha.hexdigest()


def _slow_last_layer(layout) -> None:
    """Add a layer holding one big file of zeros (a hole of a sparse file, so nothing is written): a layer
    that takes seconds to read, as from a slow disk or network mount. The blob is a regular file with its
    real digest (an image's blobs are never FIFOs: deploycheck refuses those)."""
    index = json.loads((layout / "index.json").read_text())
    blobs = layout / "blobs" / "sha256"
    manifest_path = blobs / index["manifests"][0]["digest"].split(":")[1]
    manifest = json.loads(manifest_path.read_text())
    head, size, tail, hexdigest = _zeros_layer()
    blob = blobs / hexdigest
    with open(blob, "wb") as f:
        f.write(head)
        f.truncate(len(head) + size)
        f.seek(0, 2)
        f.write(tail)
    manifest["layers"].append({"mediaType": "application/vnd.oci.image.layer.v1.tar",
                               "size": blob.stat().st_size, "digest": f"sha256:{hexdigest}"})
    text = json.dumps(manifest).encode()
    manifest_path.unlink()
    (blobs / hashlib.sha256(text).hexdigest()).write_bytes(text)
    index["manifests"][0].update(digest=f"sha256:{hashlib.sha256(text).hexdigest()}", size=len(text))
    (layout / "index.json").write_text(json.dumps(index))


def _on_terminal(args: list[str]) -> tuple[int, str]:
    """Run the command line with stderr on a pseudo-terminal; its exit code and what the terminal showed."""
    master, slave = pty.openpty()
    env = dict(os.environ, TERM="xterm-256color", COLUMNS="100")
    proc = subprocess.Popen([sys.executable, "-m", "deploycheck", *args], stdout=subprocess.DEVNULL,
                            stderr=slave, env=env)
    os.close(slave)
    shown = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the terminal closes when the process exits
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    return proc.wait(), shown.decode(errors="replace")


def test_progress_bar_on_a_terminal_only_and_never_in_json(tmp_path, python_layer):
    runs = {}
    for case in ("terminal", "json", "pipe"):
        (tmp_path / case).mkdir()
        target = _image(tmp_path / case, python_layer, ["python3", "-m", "app.main"])
        _slow_last_layer(tmp_path / case / "layout")
        if case == "pipe":
            proc = subprocess.run([sys.executable, "-m", "deploycheck", "check", target, "--no-cache"],
                                  capture_output=True, text=True)
            runs[case] = (proc.returncode, proc.stderr)
        else:
            runs[case] = _on_terminal(["check", target, "--no-cache"] + (["--format", "json"] if case == "json" else []))
    assert runs["terminal"][0] == 1 and "reading image layers" in runs["terminal"][1]
    assert runs["json"] == (1, "")
    assert runs["pipe"] == (1, "")


def test_build_file_lines_the_map_cannot_follow_are_shown(tmp_path, python_layer):
    source = tmp_path / "src"
    (source / "app").mkdir(parents=True)
    (source / "app" / "__init__.py").write_text("")
    (source / "app" / "main.py").write_bytes(APP[1][2])
    with tarfile.open(source / "vendor.tar.gz", "w:gz") as tar:  # ADD unpacks a local archive
        tar.add(source / "app", arcname="app")
    (source / "Containerfile").write_text("FROM python:3.11-slim\nADD vendor.tar.gz /opt/vendor/\n"
                                          "COPY app /srv/app/app\nCMD [\"python3\", \"-m\", \"app.main\"]\n")
    target = _image(tmp_path, python_layer, ["python3", "-m", "app.main"])
    note = "Containerfile:2: ADD vendor.tar.gz extracts a local archive; its members are not mapped"
    code, doc = cli_json("check", target, "--no-cache", "--source", source)
    assert (code, doc["target"]["image"]["notes"]) == (1, [note])
    code, out, _ = cli("check", target, "--no-cache", "--source", source)
    assert code == 1 and f"  note: {note}\n" in out


def test_an_image_without_workdir_keeps_the_standard_library_apart(tmp_path, python_layer):
    # No WORKDIR: the command runs in `/`, which becomes a project root; the standard library under it is
    # still the standard library (it was checked as project code: 3 errors and 112 warnings in re, ssl, ...)
    app = [("srv/app/app/__init__.py", "file", b""),
           ("srv/app/app/main.py", "file", b"import json\nimport ssl\nimport re\n\napp = json.dumps([])\n")]
    root = tmp_path / "layout"
    oci_layout(root, [python_layer, _tar(app)],
               config={"Env": ["PATH=/usr/bin", "PYTHONPATH=/srv/app"], "Cmd": ["python3", "-m", "app.main"]})
    code, doc = cli_json("check", f"oci:{root}", "--no-cache")
    assert (code, doc["findings"], doc["target"]["roots"]) == (0, [], ["/"])


def test_an_image_naming_its_django_settings_in_env_imports_them(tmp_path, python_layer):
    app = [("srv/app/ledger/__init__.py", "file", b""),
           # the image's ENV wins over this default, so ledger.local (not in the image) is never imported
           ("srv/app/ledger/wsgi.py", "file", b"import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', "
                                               b"'ledger.local')\napplication = object()\n"),
           ("srv/app/ledger/settings.py", "file", b"import sentry_sdk_not_installed\n")]
    root = tmp_path / "layout"
    oci_layout(root, [python_layer, _tar(app)],
               config={"Env": ["PATH=/usr/bin", "DJANGO_SETTINGS_MODULE=ledger.settings"], "WorkingDir": "/srv/app",
                       "Cmd": ["python3", "-m", "gunicorn", "ledger.wsgi:application"]})
    code, doc = cli_json("check", f"oci:{root}", "--no-cache")
    assert doc["target"]["entries"] == ["ledger.wsgi", "ledger.settings"]
    assert (code, [(f["code"], f["symbol"]) for f in doc["findings"]]) == (1, [("DC101", "sentry_sdk_not_installed")])


# Names of built-in and lib-dynload modules, which deploycheck cannot ask the image's interpreter for, come from
# the table of the image's minor version (scripts/builtin_names.py). The image's own interpreter binary, run
# on the host, is the oracle: a line is reported exactly when it fails.
def _oracle_failures(python: str, lines: list[str]) -> set[int]:
    failed = set()
    for number, line in enumerate(lines, 1):
        proc = subprocess.run([python, "-I", "-S", "-c", f"import math\n{line}"], capture_output=True, text=True,
                              check=False)
        if proc.returncode != 0:
            assert "ImportError" in proc.stderr or "AttributeError" in proc.stderr, proc.stderr
            failed.add(number)
    return failed


def _check_lines(target: str) -> list[tuple[str, int, str]]:
    code, doc = cli_json("check", target, "--no-cache")
    assert code == (1 if doc["findings"] else 0)
    return sorted((f["code"], f["line"], f["symbol"]) for f in doc["findings"] if f["path"].endswith("main.py"))


BUILTIN_LINES_311 = [
    "import math",
    "from itertools import batched",  # Python 3.12
    "from itertools import pairwise",
    "from functools import cache",
    "from datetime import UTC",  # bound by datetime.py and by `from _datetime import *`
    "x = math.sumprod([1], [2])",  # Python 3.12
    "y = math.cbrt(8.0)",
    "z = math.fma(1.0, 2.0, 3.0)",  # Python 3.13
]


def test_names_of_built_in_modules_in_an_image(tmp_path, python_layer):
    source = "\n".join(BUILTIN_LINES_311 + ["app = 1"]).encode() + b"\n"
    app = APP[:1] + [("srv/app/app/main.py", "file", source)]
    target = _image(tmp_path, python_layer, ["uvicorn", "app.main:app"], app)
    got = _check_lines(target)
    assert got == [("DC102", 2, "batched"), ("DC103", 6, "sumprod"), ("DC103", 8, "fma")]
    assert {line for _, line, _ in got} == _oracle_failures(BINARY, BUILTIN_LINES_311)


def test_private_names_missing_from_the_table_are_unknown(tmp_path, python_layer):
    # the table is measured on some patch releases; bugfix releases may add private helpers, so a name with a
    # leading underscore is judged only by an interpreter that is run (this one fails, and is not reported)
    app = APP[:1] + [("srv/app/app/main.py", "file", b"from math import _no_such_helper\nfrom math import cbrt\napp = 1\n")]
    target = _image(tmp_path, python_layer, ["uvicorn", "app.main:app"], app)
    assert _check_lines(target) == []


def _pyenv_python(minor: str) -> str | None:
    root = os.path.join(os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv"), "versions")
    for name in sorted(os.listdir(root)) if os.path.isdir(root) else []:
        if name.startswith(minor + ".") and name[len(minor) + 1:].isdigit():
            return os.path.join(root, name)
    return None


def _prefix_layer(prefix: str, minor: str) -> bytes:
    """A python.org-style image (/usr/local) from a source build's real files: binary, libpython, stdlib
    modules and lib-dynload names."""
    members = [(f"usr/local/bin/python{minor}", "file", Path(f"{prefix}/bin/python{minor}").read_bytes()),
               ("usr/local/bin/python3", "sym", f"python{minor}")]
    for name in os.listdir(f"{prefix}/lib"):
        if name.startswith("libpython3") and os.path.isfile(f"{prefix}/lib/{name}"):
            members.append((f"usr/local/lib/{name}", "file", Path(f"{prefix}/lib/{name}").read_bytes()))
    stdlib = f"{prefix}/lib/python{minor}"
    for dirpath, dirnames, filenames in os.walk(stdlib):
        dirnames[:] = [d for d in dirnames if d not in ("__pycache__", "test", "tests", "idlelib", "tkinter",
                                                        "site-packages")]
        for name in filenames:
            rel = "usr/local/lib/" + os.path.relpath(os.path.join(dirpath, name), f"{prefix}/lib")
            if name.endswith(".py"):
                members.append((rel, "file", Path(dirpath, name).read_bytes()))
            elif name.endswith(".so"):
                members.append((rel, "file", b"\x7fELF"))
    members.append((f"usr/local/lib/python{minor}/site-packages/", "dir", None))
    return _tar(members)


BUILTIN_LINES_310 = [
    "import math",
    "from datetime import UTC",  # Python 3.11: datetime.py binds it only through `from _datetime import *`
    "from functools import cache",
    "x = math.cbrt(8.0)",  # Python 3.11
    "y = math.dist((0, 0), (3, 4))",
    "from itertools import pairwise",
    "from itertools import batched",  # Python 3.12
]


def test_names_of_built_in_modules_in_an_older_python_image(tmp_path):
    prefix = _pyenv_python("3.10")
    if prefix is None:
        pytest.skip("needs a pyenv CPython 3.10")
    source = "\n".join(BUILTIN_LINES_310 + ["app = 1"]).encode() + b"\n"
    app = APP[:1] + [("srv/app/app/main.py", "file", source)]
    root = tmp_path / "layout"
    oci_layout(root, [_prefix_layer(prefix, "3.10"), _tar(app)],
               config={"Env": ["PATH=/usr/local/bin:/usr/bin:/bin"], "WorkingDir": "/srv/app",
                       "Cmd": ["uvicorn", "app.main:app"]})
    got = _check_lines(f"oci:{root}")
    assert got == [("DC102", 2, "UTC"), ("DC102", 7, "batched"), ("DC103", 4, "cbrt")]
    assert {line for _, line, _ in got} == _oracle_failures(f"{prefix}/bin/python3.10", BUILTIN_LINES_310)
    # the patch version: pyenv's linker merges PY_VERSION into the tail of the build directory's name
    real = subprocess.run([f"{prefix}/bin/python3.10", "-c", "import sys; print(*sys.version_info[:3], sep='.')"],
                          capture_output=True, text=True, check=True).stdout.strip()
    code, doc = cli_json("check", f"oci:{root}", "--no-cache")
    assert doc["python"]["version"] == real


@pytest.mark.parametrize("cmd, env, message", [
    (["python3", "main.py"], [], "the image's command runs /srv/app/main.py, which is not in the image"),
    (["hypercorn", "app.main:app"], [],
     "the image's command runs hypercorn, which is not on the image's PATH (/usr/local/bin:/usr/bin)"),
    (["python3", "-m", "celery", "-A", "app.main", "worker"], [],
     "the image's command (python -m celery) needs the module 'celery', which is not installed in the image"),
    (["uvicorn", "app.main:app"], ["PATH=/usr/bin"], "the image's command runs uvicorn, which is not on the "
                                                     "image's PATH (/usr/bin)"),
])
def test_an_image_command_that_cannot_start(tmp_path, python_layer, cmd, env, message):
    # each fails before any code of the service runs: "can't open file", "not found", "No module named"
    app = [("srv/app/app/__init__.py", "file", b""), ("srv/app/app/main.py", "file", b"app = 1\n")]
    root = tmp_path / "layout"
    oci_layout(root, [python_layer, _tar(app)],
               config={"Env": env or ["PATH=/usr/local/bin:/usr/bin"], "WorkingDir": "/srv/app", "Cmd": cmd})
    code, doc = cli_json("check", f"oci:{root}", "--no-cache")
    assert (code, [(f["code"], f["message"]) for f in doc["findings"]]) == (1, [("DC505", message)])
