"""Real images built daemonless (debootstrap + buildah), read through each transport, with exactly the
expected findings: a clean service, dependency drift inside the image, a module dropped by .dockerignore,
an entry point naming a missing attribute, a wheel built for another Python, a Python older than the
project requires."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from conftest import cli_json
from images.build import build, pip_target, tools_missing

pytestmark = [pytest.mark.slow, pytest.mark.skipif(bool(tools_missing()), reason=f"needs {tools_missing()}")]

BASE = """FROM scratch
ADD rootfs.tar /
ENV PATH=/usr/local/bin:/usr/bin:/bin
WORKDIR /srv/app
"""


def _context(tmp_path, files: dict[str, str]):
    ctx = tmp_path / "context"
    for rel, text in files.items():
        p = ctx / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return ctx


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
    targets = build(ctx, BASE + "COPY app /srv/app/app\nCMD [\"python3\", \"-m\", \"uvicorn\", \"app.main:application\"]\n",
                    "dc-ignore:1", tmp_path / "out")
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
