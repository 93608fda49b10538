"""`check IMAGE --source DIR` without a build file or --app-dir: the map of the repository into the image is
inferred from where its files are, said in the summary, and when it cannot be, the summary says which rules
did not run and what would make them run."""

from __future__ import annotations

import pytest
from conftest import cli, cli_json
from test_image_check import _git, _python_layer, pytestmark  # noqa: F401  (the same Debian Python files)
from test_image_layers import _tar, oci_layout


@pytest.fixture(scope="module")
def python_layer():
    return _python_layer()


def _repo(tmp_path, files: dict[str, str]):
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(tmp_path, "init", "-q", str(repo))
    for rel, text in files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "one")
    return repo


def _layout(tmp_path, python_layer, app: list[tuple], workdir: str = "/srv/app"):
    root = tmp_path / "layout"
    oci_layout(root, [python_layer, _tar(app)],
               config={"Env": ["PATH=/usr/local/bin:/usr/bin"], "WorkingDir": workdir,
                       "Cmd": ["uvicorn", "app.main:app"]})
    return f"oci:{root}"


REPO = {"app/__init__.py": "", "app/main.py": "from app import helpers\nimport app.views\napp = 1\n",
        "app/helpers.py": "X = 1\n", "app/views.py": "V = 1\n", "app/models.py": "M = 1\n",
        "tests/test_main.py": "def test():\n    pass\n"}


def test_the_map_is_inferred_from_where_the_repository_files_are(tmp_path, python_layer):
    repo = _repo(tmp_path, REPO)
    # a stale image: helpers.py never made it in, views.py is an older version
    app = [("srv/app/app/__init__.py", "file", b""),
           ("srv/app/app/main.py", "file", REPO["app/main.py"].encode()),
           ("srv/app/app/views.py", "file", b"V = 0\n"), ("srv/app/app/models.py", "file", b"M = 1\n")]
    image = _layout(tmp_path, python_layer, app)
    code, doc = cli_json("check", image, "--no-cache", "--source", repo)
    assert code == 1
    assert sorted((f["code"], f["path"]) for f in doc["findings"]) == [
        ("DC501", "/srv/app/app/views.py"), ("DC502", "/srv/app/app/main.py")]
    assert doc["summary"]["notes"] == [
        "DC501 and DC502 use a map inferred from the image's files: the repository is at /srv/app (4 of 6 "
        "Python files there, as --app-dir /srv/app would say); --app-dir or --containerfile sets another"]
    code, out, _ = cli("check", image, "--no-cache", "--source", repo)
    assert "note: DC501 and DC502 use a map inferred from the image's files: the repository is at" in out


def test_a_copied_subdirectory_is_found_too(tmp_path, python_layer):
    # COPY src/ /app/: the repository's src/ is the image's /app
    repo = _repo(tmp_path, {f"src/{k}": v for k, v in REPO.items() if k.startswith("app/")})
    app = [(f"app/app/{name}", "file", REPO[f"app/{name}"].encode())
           for name in ("__init__.py", "main.py", "views.py")]
    image = _layout(tmp_path, python_layer, app, "/app")
    code, doc = cli_json("check", image, "--no-cache", "--source", repo)
    assert [(f["code"], f["symbol"]) for f in doc["findings"]] == [("DC502", "app.helpers")]
    assert "its src/ is at /app (3 of 5 Python files there)" in doc["summary"]["notes"][0]


def test_without_a_map_the_summary_says_which_rules_did_not_run(tmp_path, python_layer):
    repo = _repo(tmp_path, {"service/__init__.py": "", "service/api.py": "A = 1\n",
                            "service/db.py": "D = 1\n"})
    image = _layout(tmp_path, python_layer, [("srv/app/app/__init__.py", "file", b""),
                                             ("srv/app/app/main.py", "file", b"app = 1\n")])
    code, doc = cli_json("check", image, "--no-cache", "--source", repo)
    assert code == 0
    assert doc["summary"]["notes"] == [
        "DC501 and DC502 did not run: --source has no Containerfile or Dockerfile, no --app-dir was given, "
        "and no directory of the image holds the repository's Python files; pass --app-dir PATH (where the "
        "repository is in the image) or --containerfile FILE"]
    # two copies of the repository: which one the service runs is not for the files to say
    twice = [(f"{d}/service/{n}", "file", b"A = 1\n")
             for d in ("srv/app", "opt/old") for n in ("api.py", "db.py")]
    image = _layout(tmp_path / "two", python_layer, twice)
    code, doc = cli_json("check", image, "--no-cache", "--source", repo)
    assert "the repository's Python files are in several directories of the image (/opt/old, /srv/app)" in \
        doc["summary"]["notes"][0]
