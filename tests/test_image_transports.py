"""The transports that bring an image in before reading it: containers-storage: (an image built by buildah
with the vfs driver) and docker:// (a real distribution registry on loopback) through skopeo, and
docker-daemon: through the Docker Engine API (here the messages when no daemon is reachable; a real
dockerd is in test_image_daemon.py). Also the messages for an unknown transport, a missing skopeo and a misplaced --tls-verify."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import cli, cli_json
from images import registry
from images.build import CONTAINERFILE, build, remove, storage_reference, tools_missing

needs_tools = pytest.mark.skipif(bool(tools_missing()), reason=f"needs {tools_missing()}")
needs_registry = pytest.mark.skipif(registry.missing(), reason="needs the docker-registry package (Debian's "
                                    "distribution registry; `make system-tools` installs it when root)")

TAG = "localhost/dc-transports:1"


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    """The environment with a private TMPDIR (to see that nothing is left behind) and ``extra``."""
    tmp.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "DOCKER_TLS_VERIFY")}
    return {**env, "TMPDIR": str(tmp), **extra}


def _manifest_digest(*skopeo_args: str) -> str:
    raw = subprocess.run(["skopeo", "inspect", "--raw", *skopeo_args], check=True, capture_output=True).stdout
    return "sha256:" + hashlib.sha256(raw).hexdigest()


@pytest.fixture(scope="module")
def stored_image(tmp_path_factory):
    """An image with one finding (DC101 `missing_mod`) kept in buildah's vfs store; yields its
    containers-storage: target and its oci: layout."""
    if tools_missing():
        pytest.skip(f"needs {tools_missing()}")
    work = tmp_path_factory.mktemp("transports")
    ctx = work / "context"
    (ctx / "app").mkdir(parents=True)
    (ctx / "app" / "__init__.py").write_text("")
    (ctx / "app" / "main.py").write_text("import json\nimport missing_mod\n\napp = 1\n")
    targets = build(ctx, CONTAINERFILE, TAG, work / "out", keep=True)
    try:
        yield storage_reference(TAG), targets["oci"]
    finally:
        remove(TAG)


def _assert_one_finding(doc):
    assert [(f["code"], f["symbol"], f["path"], f["line"]) for f in doc["findings"]] == [
        ("DC101", "missing_mod", "/srv/app/app/main.py", 2)]
    assert doc["python"]["executable"] == "/usr/bin/python3"


@pytest.mark.slow
@needs_tools
def test_containers_storage_vfs_image(stored_image, tmp_path):
    target, _ = stored_image
    ref = target[len("containers-storage:"):]
    assert ref.startswith("[vfs@") and ref.endswith("]" + TAG)
    code, doc = cli_json("check", target, "--no-cache", env=_env(tmp_path / "tmp"))
    assert code == 1
    _assert_one_finding(doc)
    expected = _manifest_digest(target)
    assert doc["target"]["image"] == {"transport": "containers-storage", "reference": ref, "manifest": expected,
                                      "platform": "linux/amd64"}
    code, out, err = cli("check", target, "--no-cache", env=_env(tmp_path / "tmp"))
    assert code == 1, err
    assert f"image {target}: manifest {expected} (linux/amd64)" in out.splitlines()
    assert os.listdir(tmp_path / "tmp") == []  # the skopeo copy and the kept files are removed


@pytest.mark.slow
@needs_tools
def test_containers_storage_unknown_image(tmp_path):
    target = storage_reference("localhost/dc-no-such-image:1")
    code, _, err = cli("check", target, env=_env(tmp_path / "tmp"))
    assert code == 2 and "Traceback" not in err
    assert err.startswith(f"deploycheck: error: {target}: skopeo copy failed: ")
    assert "does not resolve to an image ID" in err and len(err.strip().splitlines()) == 1
    assert os.listdir(tmp_path / "tmp") == []


@pytest.mark.slow
@needs_tools
@needs_registry
def test_docker_registry_over_plain_http(stored_image, tmp_path):
    _, layout = stored_image
    with registry.running(tmp_path / "registry") as addr:
        ref = f"{addr}/dc-transports:1"
        subprocess.run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", layout, f"docker://{ref}"],
                       check=True, capture_output=True)
        code, doc = cli_json("check", f"docker://{ref}", "--tls-verify", "false", "--no-cache",
                             env=_env(tmp_path / "tmp"))
        assert code == 1
        _assert_one_finding(doc)
        expected = _manifest_digest("--tls-verify=false", f"docker://{ref}")
        assert doc["target"]["image"] == {"transport": "docker", "reference": ref, "manifest": expected,
                                          "platform": "linux/amd64"}
        assert os.listdir(tmp_path / "tmp") == []

        # a Docker v2 schema 2 manifest is read as it is, not converted: its own digest is reported
        v2 = f"{addr}/dc-transports:v2s2"
        subprocess.run(["skopeo", "copy", "--quiet", "--format", "v2s2", "--dest-tls-verify=false", layout,
                        f"docker://{v2}"], check=True, capture_output=True)
        code, doc = cli_json("check", f"docker://{v2}", "--tls-verify", "false", "--no-cache",
                             env=_env(tmp_path / "tmp"))
        assert code == 1
        _assert_one_finding(doc)
        v2_digest = _manifest_digest("--tls-verify=false", f"docker://{v2}")
        assert v2_digest != expected and doc["target"]["image"]["manifest"] == v2_digest

        # without --tls-verify false skopeo insists on HTTPS, which this registry does not speak
        code, _, err = cli("check", f"docker://{ref}", env=_env(tmp_path / "tmp"))
        assert code == 2 and err.startswith(f"deploycheck: error: docker://{ref}: skopeo copy failed: ")
        assert "server gave HTTP response to HTTPS client" in err
        # a tag the registry does not have
        code, _, err = cli("check", f"docker://{addr}/dc-transports:2", "--tls-verify", "false",
                           env=_env(tmp_path / "tmp"))
        assert code == 2 and err.strip().endswith("manifest unknown: manifest unknown")
        assert os.listdir(tmp_path / "tmp") == []


@needs_tools
def test_docker_registry_not_reachable(tmp_path):
    port = registry.free_port()
    code, _, err = cli("check", f"docker://127.0.0.1:{port}/app:1", "--tls-verify", "false",
                       env=_env(tmp_path / "tmp"))
    assert code == 2
    assert err.startswith(f"deploycheck: error: docker://127.0.0.1:{port}/app:1: skopeo copy failed: ")
    assert err.strip().endswith(f"dial tcp 127.0.0.1:{port}: connect: connection refused")
    assert os.listdir(tmp_path / "tmp") == []


def test_skopeo_not_installed(tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    for target in ("docker://registry.example/app:1", "containers-storage:localhost/app:1"):
        code, _, err = cli("check", target, env=_env(tmp_path / "tmp", PATH=str(empty)))
        transport = "docker" if target.startswith("docker:") else "containers-storage"
        assert (code, err) == (2, f"deploycheck: error: {target}: reading the {transport} transport needs skopeo, "
                                  "which is not on PATH (install it, or copy the image yourself: `skopeo copy ... "
                                  "oci-archive:FILE` and check oci-archive:FILE)\n")


def test_docker_daemon_socket_absent(tmp_path):
    sock = tmp_path / "no-docker.sock"
    code, _, err = cli("check", "docker-daemon:app:1", env=_env(tmp_path / "tmp", DOCKER_HOST=f"unix://{sock}"))
    assert (code, err) == (2, f"deploycheck: error: docker-daemon:app:1: no Docker daemon at unix://{sock} "
                              "([Errno 2] No such file or directory); save the image with `docker save -o FILE "
                              "app:1` and check docker-archive:FILE\n")
    assert os.listdir(tmp_path / "tmp") == []


@pytest.mark.skipif(os.path.exists("/var/run/docker.sock"), reason="a Docker daemon socket exists here")
def test_docker_daemon_default_socket_and_latest_tag(tmp_path):
    code, _, err = cli("check", "docker-daemon:library/app", env=_env(tmp_path / "tmp"))
    assert (code, err) == (2, "deploycheck: error: docker-daemon:library/app: no Docker daemon at "
                              "unix:///var/run/docker.sock ([Errno 2] No such file or directory); save the image "
                              "with `docker save -o FILE library/app:latest` and check docker-archive:FILE\n")


def test_docker_daemon_closed_tcp_port(tmp_path):
    port = registry.free_port()
    code, _, err = cli("check", "docker-daemon:app@sha256:" + "a" * 64,
                       env=_env(tmp_path / "tmp", DOCKER_HOST=f"tcp://127.0.0.1:{port}"))
    assert (code, err) == (2, f"deploycheck: error: docker-daemon:app@sha256:{'a' * 64}: no Docker daemon at "
                              f"tcp://127.0.0.1:{port} ([Errno 111] Connection refused); save the image with "
                              f"`docker save -o FILE app@sha256:{'a' * 64}` and check docker-archive:FILE\n")
    assert os.listdir(tmp_path / "tmp") == []


def test_docker_daemon_unsupported_host_and_tls(tmp_path):
    code, _, err = cli("check", "docker-daemon:app:1", env=_env(tmp_path / "tmp", DOCKER_HOST="ssh://me@host"))
    assert (code, err) == (2, "deploycheck: error: DOCKER_HOST=ssh://me@host: deploycheck reaches a Docker daemon "
                              "over unix:// or tcp:// only\n")
    code, _, err = cli("check", "docker-daemon:app:1",
                       env=_env(tmp_path / "tmp", DOCKER_HOST="tcp://127.0.0.1:2376", DOCKER_TLS_VERIFY="1"))
    assert code == 2 and "DOCKER_TLS_VERIFY is set and deploycheck does not speak TLS" in err
    code, _, err = cli("check", "docker-daemon:", env=_env(tmp_path / "tmp"))
    assert (code, err) == (2, "deploycheck: error: docker-daemon:: not an image name (docker-daemon:NAME[:TAG])\n")


def test_unknown_transport_and_misspelled_docker(tmp_path):
    code, _, err = cli("check", "podman:app:1", "--python", sys.executable)
    assert (code, err) == (2, "deploycheck: error: podman:app:1: unknown transport `podman` (deploycheck reads "
                              "oci-archive:FILE, oci:DIR, docker-archive:FILE, docker-daemon:NAME[:TAG], "
                              "docker://REF, containers-storage:REF)\n")
    code, _, err = cli("check", "docker:app:1")
    assert (code, err) == (2, "deploycheck: error: docker:app:1: a registry image is written docker://REF "
                              "(docker://app:1)\n")


def test_existing_directory_with_a_colon_is_a_project(tmp_path):
    proj = tmp_path / "svc:v2"
    proj.mkdir()
    (proj / "main.py").write_text("import json\n")
    code, doc = cli_json("check", "svc:v2", "--python", sys.executable, "--no-cache", cwd=tmp_path)
    assert code == 0 and doc["target"]["path"] == str(proj) and "image" not in doc["target"]


def test_tls_verify_only_for_docker_targets(tmp_path):
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "main.py").write_text("x = 1\n")
    code, _, err = cli("check", proj, "--tls-verify", "false", "--python", sys.executable)
    assert (code, err) == (2, "deploycheck: error: --tls-verify applies to docker:// targets only\n")
    code, _, err = cli("check", f"oci:{tmp_path}", "--tls-verify", "true")
    assert (code, err) == (2, "deploycheck: error: --tls-verify applies to docker:// targets only, not to oci:\n")


def test_docker_platform_is_passed_to_skopeo():
    from deploycheck.artifact.image.skopeo import command

    assert command("docker", "r.example/app:1", "/t/layout", "linux/arm/v7", False) == [
        "skopeo", "--override-os", "linux", "--override-arch", "arm", "--override-variant", "v7", "copy", "--quiet",
        "--preserve-digests", "--src-tls-verify=false", "docker://r.example/app:1", "oci:/t/layout:img"]
    assert command("containers-storage", "[vfs@/g+/r]localhost/app:1", "/t/layout", "linux/amd64", None) == [
        "skopeo", "copy", "--quiet", "--preserve-digests", "containers-storage:[vfs@/g+/r]localhost/app:1", "oci:/t/layout:img"]


def test_skopeo_last_error_line():
    from deploycheck.artifact.image.skopeo import last_error

    stderr = ('time="2025-01-01T00:00:00Z" level=warning msg="x"\n'
              'time="2025-01-01T00:00:00Z" level=fatal msg="initializing source docker://a/b:1: '
              'Get \\"https://a/v2/\\": refused"\n')
    assert last_error(stderr) == 'initializing source docker://a/b:1: Get "https://a/v2/": refused'
    assert last_error("plain failure\n\n") == "plain failure"
    assert json.dumps(last_error("")) == '"no message"'
