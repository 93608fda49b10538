"""Real images built daemonless (debootstrap + buildah), read through each transport, with exactly the
expected findings: a clean service, dependency drift inside the image, a module dropped by .dockerignore,
an entry point naming a missing attribute, a wheel built for another Python, a Python older than the
project requires, and through the Containerfile's COPY lines: a module no line copies and a stale file."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from conftest import cli, cli_json, write_tree
from images.build import build, pip_target, tools_missing

pytestmark = [pytest.mark.slow, pytest.mark.skipif(bool(tools_missing()), reason=f"needs {tools_missing()}")]

BASE = """FROM scratch
ADD rootfs.tar /
ENV PATH=/usr/local/bin:/usr/bin:/bin
WORKDIR /srv/app
"""


def _context(tmp_path, files: dict[str, str]):
    return write_tree(tmp_path / "context", files)


def _findings(target, *extra):
    code, doc = cli_json("check", target, "--no-cache", *extra)
    return code, sorted((f["code"], f["symbol"]) for f in doc["findings"]), doc


def test_clean_service_image_through_every_transport(tmp_path):
    ctx = _context(tmp_path, {"app/__init__.py": "", "app/main.py": "import json\nimport sqlite3\n\napp = 1\n"})
    targets = build(ctx, BASE + "COPY app /srv/app/app\nCMD [\"python3\", \"-m\", \"app.main\"]\n",
                    "dc-clean:1", tmp_path / "out")
    for transport, target in targets.items():
        code, got, doc = _findings(target)
        assert (code, got) == (0, []), transport
        assert doc["python"]["executable"] == "/usr/bin/python3" and doc["python"]["version"].startswith("3.11")


def test_dependency_drift_inside_the_image(tmp_path):
    site = pip_target(["flask==2.0.3", "werkzeug==3.0.1", "jinja2==3.1.6", "itsdangerous==2.2.0",
                       "click==8.1.7", "markupsafe==3.0.2"])
    ctx = _context(tmp_path, {"app/__init__.py": "", "app/main.py": "import flask\n\napp = flask.Flask(__name__)\n"})
    shutil.copytree(site, ctx / "site", ignore=shutil.ignore_patterns(".complete"))
    targets = build(ctx, BASE + "COPY site /usr/local/lib/python3.11/dist-packages\nCOPY app /srv/app/app\n"
                    "CMD [\"python3\", \"-m\", \"app.main\"]\n", "dc-drift:1", tmp_path / "out")
    code, got, doc = _findings(targets["oci-archive"])
    assert code == 1 and got == [("DC102", "url_quote")]
    [f] = doc["findings"]
    assert f["path"] == "/usr/local/lib/python3.11/dist-packages/flask/helpers.py" and f["line"] == 16
    assert f["distribution"] == {"name": "Flask", "version": "2.0.3"}
    assert "Werkzeug 3.0.1" in f["message"]
    assert [h["module"] for h in f["chain"]][:2] == ["app.main", "flask"]


def test_module_dropped_by_dockerignore_and_missing_entry_attribute(tmp_path):
    ctx = _context(tmp_path, {
        "app/__init__.py": "", "app/main.py": "from app import settings_local\n\napp = 1\n",
        "app/settings_local.py": "DEBUG = False\n", ".dockerignore": "**/*_local.py\n"})
    subprocess.run(["git", "init", "-q", str(ctx)], check=True)
    subprocess.run(["git", "-C", str(ctx), "add", "."], check=True)
    subprocess.run(["git", "-C", str(ctx), "-c", "user.name=t", "-c", "user.email=t@t.invalid", "commit", "-qm", "x"],
                   check=True)
    # the server itself is installed: what fails is the module the .dockerignore dropped and the attribute
    subprocess.run(["cp", "-r", str(pip_target(["uvicorn==0.30.6", "click==8.1.7", "h11==0.14.0"])),
                    str(ctx / "site")], check=True)
    targets = build(ctx, BASE + "COPY site /usr/local/lib/python3.11/dist-packages\nCOPY app /srv/app/app\n"
                    "CMD [\"python3\", \"-m\", \"uvicorn\", \"app.main:application\"]\n", "dc-ignore:1", tmp_path / "out")
    code, got, _ = _findings(targets["docker-archive"], "--source", ctx, "--app-dir", "/srv/app")
    assert code == 1 and got == [("DC502", "app.settings_local"), ("DC505", "application")]


def test_foreign_wheel_and_python_version(tmp_path):
    site = pip_target(["markupsafe==3.0.2"], python_version="3.12")
    ctx = _context(tmp_path, {"app/__init__.py": "", "app/main.py": "import markupsafe\n\napp = 1\n",
                              "pyproject.toml": '[project]\nname = "svc"\nversion = "1"\nrequires-python = ">=3.12"\n'})
    shutil.copytree(site, ctx / "site", ignore=shutil.ignore_patterns(".complete"))
    targets = build(ctx, BASE + "COPY site /usr/local/lib/python3.11/dist-packages\nCOPY app /srv/app/app\n"
                    "CMD [\"python3\", \"-m\", \"app.main\"]\n", "dc-abi:1", tmp_path / "out")
    code, got, _ = _findings(targets["oci"], "--source", ctx)
    assert code == 1 and got == [("DC503", "requires-python"), ("DC504", "MarkupSafe")]


def _git(repo, *args):
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t.invalid", *args],
                          check=True, capture_output=True, text=True).stdout.strip()


COPY_LINES = BASE + """COPY app/ /srv/app/app/
COPY main.py /srv/app/
CMD ["python3", "main.py"]
"""


@pytest.fixture(scope="module")
def copied_image(tmp_path_factory):
    """An image whose Containerfile copies app/ and main.py but not lib/, built from a first commit; the
    repository then moves on to a second commit that changes app/models.py."""
    tmp = tmp_path_factory.mktemp("copymap")
    ctx = _context(tmp, {
        "main.py": "from app import models\nfrom app import settings_local\nimport lib.util\n\nmodels.run()\n",
        "app/__init__.py": "", "app/models.py": "def run():\n    return 1\n", "app/settings_local.py": "DEBUG = 0\n",
        "lib/__init__.py": "", "lib/util.py": "X = 1\n", ".dockerignore": "**/*_local.py\n"})
    _git(tmp, "init", "-q", str(ctx))
    _git(ctx, "add", ".")
    _git(ctx, "commit", "-qm", "first")
    first = _git(ctx, "rev-parse", "HEAD")
    targets = build(ctx, COPY_LINES, "dc-copymap:1", tmp / "out")
    (ctx / "app" / "models.py").write_text("def run():\n    return 2\n")
    _git(ctx, "commit", "-qam", "second")
    return ctx, targets["oci-archive"], first, _git(ctx, "rev-parse", "HEAD")


def test_module_no_copy_line_brings_in_is_named_from_the_containerfile(copied_image):
    ctx, target, _, _ = copied_image
    code, doc = cli_json("check", target, "--no-cache", "--source", ctx)
    assert code == 1
    assert sorted(f["code"] for f in doc["findings"]) == ["DC501", "DC502", "DC502"]  # DC502 replaces DC101
    got = sorted((f["code"], f["symbol"], f["message"]) for f in doc["findings"] if f["code"] == "DC502")
    assert got == [
        ("DC502", "app.settings_local", ("No module named 'app.settings_local' in the image, but the source has "
                                         "app/settings_local.py: .dockerignore pattern '**/*_local.py' excludes it")),
        ("DC502", "lib", ("No module named 'lib' in the image, but the source has lib/__init__.py: no COPY/ADD line "
                          "of Containerfile copies it (COPY lines: Containerfile:5, Containerfile:6)")),
    ]
    lib = next(f for f in doc["findings"] if f["symbol"] == "lib")
    assert (lib["path"], lib["line"], lib["module"]) == ("/srv/app/main.py", 3, "main")


def test_stale_image_found_through_the_containerfile_without_app_dir(copied_image):
    ctx, target, first, head = copied_image
    code, doc = cli_json("check", target, "--no-cache", "--source", ctx, "--containerfile", ctx / "Containerfile")
    assert code == 1
    stale = [(f["path"], f["symbol"], f["message"]) for f in doc["findings"] if f["code"] == "DC501"]
    [(path, symbol, message)] = stale
    assert (path, symbol) == ("/srv/app/app/models.py", "app/models.py")
    assert message.startswith(f"app/models.py differs from HEAD ({head[:12]}): image blob ")
    assert message.endswith(f"; the image's version is from commit {first[:12]}")
    # at the first commit the image is current: only the modules left out remain
    code, doc = cli_json("check", target, "--no-cache", "--source", ctx, "--rev", first)
    assert sorted((f["code"], f["symbol"]) for f in doc["findings"]) == [("DC502", "app.settings_local"),
                                                                       ("DC502", "lib")]
    # --app-dir overrides the Containerfile: the whole repository is expected at /srv/app, so lib/ is
    # missing with no COPY line to name
    code, doc = cli_json("check", target, "--no-cache", "--source", ctx, "--rev", first, "--app-dir", "/srv/app")
    lib = next(f["message"] for f in doc["findings"] if f["symbol"] == "lib")
    assert lib.endswith("lib/__init__.py: no .dockerignore pattern excludes it, so no COPY/ADD line brings it in")


def test_containerfile_option_needs_source_and_a_file(copied_image):
    ctx, target, _, _ = copied_image
    code, _, err = cli("check", target, "--containerfile", ctx / "Containerfile")
    assert (code, err.strip().splitlines()[-1]) == (
        2, "deploycheck: error: --containerfile needs --source (the repository the image was built from)")
    code, _, err = cli("check", target, "--source", ctx, "--containerfile", ctx / "nope")
    assert (code, err.strip()) == (2, f"deploycheck: error: --containerfile {ctx / 'nope'}: not a file")
