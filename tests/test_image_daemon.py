"""The docker-daemon: transport against a real Docker daemon: dockerd from Debian's docker.io package on a
private socket and a loopback TCP port, holding an image built daemonless (buildah) and loaded with the
Engine API. The findings must be exactly those of the docker-archive the image was loaded from."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import cli, cli_json
from images import dockerd
from images.build import CONTAINERFILE, build, tools_missing

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(bool(tools_missing()), reason=f"needs {tools_missing()}"),
              pytest.mark.skipif(dockerd.missing(), reason="needs dockerd (Debian's docker.io package; "
                                 "`make system-tools` installs it when root)")]



@pytest.fixture(scope="session")
def daemon():
    """A running dockerd: ``(unix_address, tcp_address)``; skipped, saying why, when it cannot start here
    (it needs root, and a kernel that lets it set up its cgroups and mounts)."""
    try:
        with dockerd.running() as addresses:
            yield addresses
    except dockerd.NotStarted as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def loaded(daemon, tmp_path_factory):
    """An image with one finding (DC101 `missing_mod`) loaded into the daemon and tagged ``svc:1`` only;
    yields its docker-archive target, its image ID and the daemon's addresses."""
    work = tmp_path_factory.mktemp("daemon")
    ctx = work / "context"
    (ctx / "app").mkdir(parents=True)
    (ctx / "app" / "__init__.py").write_text("")
    (ctx / "app" / "main.py").write_text("import json\nimport missing_mod\n\napp = 1\n")
    archive = build(ctx, CONTAINERFILE, "localhost/dc-daemon:1", work / "out")["docker-archive"]
    image_id = dockerd.load(daemon[0], Path(archive[len("docker-archive:"):]))
    dockerd.tag(daemon[0], image_id, "svc", "1")
    return archive, image_id, daemon


def _env(tmp: Path, docker_host: str) -> dict[str, str]:
    """The environment with a private TMPDIR (to see that nothing is left behind) and DOCKER_HOST."""
    tmp.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "DOCKER_TLS_VERIFY"}
    return {**env, "TMPDIR": str(tmp), "DOCKER_HOST": docker_host}


def _check(target: str, tmp: Path, docker_host: str):
    code, doc = cli_json("check", target, "--no-cache", env=_env(tmp, docker_host))
    assert os.listdir(tmp) == []  # the export and its directory are removed
    return code, doc


@pytest.fixture(scope="module")
def direct(loaded, tmp_path_factory):
    """What checking the docker-archive itself gives."""
    archive, image_id, _ = loaded
    code, doc = cli_json("check", archive, "--no-cache")
    assert code == 1
    assert [(f["code"], f["symbol"], f["path"], f["line"]) for f in doc["findings"]] == [
        ("DC101", "missing_mod", "/srv/app/app/main.py", 2)]
    # docker-archive names the config file: the image ID's hex
    assert doc["target"]["image"]["manifest"] == image_id[len("sha256:"):] + ".json"
    return doc


def _same_as_direct(doc, direct, reference):
    assert doc["findings"] == direct["findings"]
    assert doc["python"] == direct["python"]
    assert doc["target"]["image"] == {"transport": "docker-daemon", "reference": reference,
                                      "manifest": direct["target"]["image"]["manifest"],
                                      "platform": direct["target"]["image"]["platform"]}


def test_tagged_image_over_the_unix_socket(loaded, direct, tmp_path):
    _, _, (unix, _) = loaded
    code, doc = _check("docker-daemon:svc:1", tmp_path / "tmp", unix)
    assert code == 1
    _same_as_direct(doc, direct, "svc:1")
    code, out, err = cli("check", "docker-daemon:svc:1", "--no-cache", env=_env(tmp_path / "tmp", unix))
    assert code == 1, err
    manifest = direct["target"]["image"]["manifest"]
    assert f"image docker-daemon:svc:1: manifest.json with config {manifest} (linux/amd64)" in out.splitlines()


def test_tagged_image_over_loopback_tcp(loaded, direct, tmp_path):
    _, _, (_, tcp) = loaded
    code, doc = _check("docker-daemon:svc:1", tmp_path / "tmp", tcp)
    assert code == 1
    _same_as_direct(doc, direct, "svc:1")


def test_fully_qualified_name_and_image_id(loaded, direct, tmp_path):
    _, image_id, (unix, _) = loaded
    for name in ("docker.io/library/svc:1", "library/svc:1", image_id):
        code, doc = _check(f"docker-daemon:{name}", tmp_path / "tmp", unix)
        assert code == 1, name
        _same_as_direct(doc, direct, name)


def test_short_image_id_as_docker_images_lists_it(loaded, direct, tmp_path):
    _, image_id, (unix, _) = loaded
    short = image_id[len("sha256:"):][:12]
    code, doc = _check(f"docker-daemon:{short}", tmp_path / "tmp", unix)
    assert code == 1
    _same_as_direct(doc, direct, image_id)


def test_bare_name_means_latest(loaded, direct, tmp_path):
    _, image_id, (unix, _) = loaded
    # only svc:1 exists: a bare name does not pick some other tag
    code, _, err = cli("check", "docker-daemon:svc", env=_env(tmp_path / "tmp", unix))
    assert (code, err) == (2, f"deploycheck: error: docker-daemon:svc: the Docker daemon at {unix} has no image "
                              "svc:latest\n")
    assert os.listdir(tmp_path / "tmp") == []
    dockerd.tag(unix, image_id, "svc", "latest")
    code, doc = _check("docker-daemon:svc", tmp_path / "tmp", unix)
    assert code == 1
    _same_as_direct(doc, direct, "svc:latest")


def test_missing_image_and_bad_name(loaded, tmp_path):
    _, _, (unix, tcp) = loaded
    for host in (unix, tcp):
        code, _, err = cli("check", "docker-daemon:svc:2", env=_env(tmp_path / "tmp", host))
        assert (code, err) == (2, f"deploycheck: error: docker-daemon:svc:2: the Docker daemon at {host} has no "
                                  "image svc:2\n")
        assert os.listdir(tmp_path / "tmp") == []
    code, _, err = cli("check", "docker-daemon:0123abcd", env=_env(tmp_path / "tmp", unix))
    assert (code, err) == (2, f"deploycheck: error: docker-daemon:0123abcd: the Docker daemon at {unix} has no "
                              "image 0123abcd:latest and no image whose ID starts with 0123abcd\n")
    # the daemon's own reference rules: repository names are lowercase
    code, _, err = cli("check", "docker-daemon:Svc:1", env=_env(tmp_path / "tmp", unix))
    assert code == 2 and len(err.splitlines()) == 1, err
    assert err.startswith(f"deploycheck: error: docker-daemon:Svc:1: the Docker daemon at {unix} refused the name "
                          "Svc:1 (HTTP 400: ")
    assert err.endswith("repository name must be lowercase)\n")
    assert os.listdir(tmp_path / "tmp") == []
