"""`deploycheck start` on images whose config is hostile: each a real image (the start tests' service image,
built daemonless) with its config changed and its manifest and index written again, as a registry would
serve it."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from pathlib import Path

import pytest
from conftest import FIXTURES, cli, cli_json
from images.build import build
from images.start_service import CONTAINERFILE, missing, service_image

_missing = missing()
pytestmark = [pytest.mark.slow, pytest.mark.skipif(bool(_missing), reason=f"needs {_missing}")]


@pytest.fixture(scope="module")
def layout(tmp_path_factory):
    """The oci: layout of the start tests' service image."""
    return Path(service_image(tmp_path_factory)["oci"].partition(":")[2])


def _blob(root: Path, data: bytes) -> dict:
    digest = hashlib.sha256(data).hexdigest()
    (root / "blobs" / "sha256" / digest).write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def _changed(layout: Path, out: Path, change) -> str:
    """An oci: layout of ``layout``'s image with ``change(config)`` applied to its config's ``config``
    object; the layers are linked, not copied."""
    (out / "blobs" / "sha256").mkdir(parents=True)
    for blob in (layout / "blobs" / "sha256").iterdir():
        os.link(blob, out / "blobs" / "sha256" / blob.name)
    shutil.copy(layout / "oci-layout", out / "oci-layout")
    index = json.loads((layout / "index.json").read_text())
    entry = index["manifests"][0]
    manifest = json.loads((layout / "blobs" / "sha256" / entry["digest"].split(":")[1]).read_bytes())
    config = json.loads((layout / "blobs" / "sha256" / manifest["config"]["digest"].split(":")[1]).read_bytes())
    change(config["config"])
    manifest["config"].update(_blob(out, json.dumps(config).encode()))
    entry.update(_blob(out, json.dumps(manifest).encode()))
    index["manifests"] = [entry]
    (out / "index.json").write_text(json.dumps(index))
    return f"oci:{out}"


def test_a_nul_in_an_env_entry_is_refused_and_never_becomes_a_sandbox_option(layout, tmp_path):
    # bwrap reads its options NUL-separated: this entry, let through, would bind the host's root at /mnt
    # (a directory the image has) writable inside the sandbox
    mark = f"host-root-reached-{uuid.uuid4().hex}"
    image = _changed(layout, tmp_path / "image", lambda c: c.update(
        Env=c["Env"] + ["MODE=x\0--bind\0/\0/mnt", f"MARK={mark}"],
        Cmd=["sh", "-c", f"touch /mnt/tmp/{mark}; exec python3 -m app.main"]))
    code, out, err = cli("start", image, "--timeout", "20", cwd=tmp_path)
    assert code == 2, out + err
    assert err.strip().splitlines() == [
        ("deploycheck: error: the variable 'MODE' holds a NUL character: no process can be given it (a container "
        "runtime refuses to start the image)")]
    assert not os.path.exists(f"/tmp/{mark}")


def test_a_nul_in_the_command_or_a_volume_is_refused_in_one_line(layout, tmp_path):
    cmd = _changed(layout, tmp_path / "cmd", lambda c: c.update(Cmd=["python3", "-c", "print(1)\0--bind"]))
    code, _, err = cli("start", cmd, "--timeout", "20", cwd=tmp_path)
    assert (code, err.strip()) == (2, (
        "deploycheck: error: the command's argument 'print(1)'... holds a NUL character: no process can be given "
        "it (a container runtime refuses to start the image)"))
    vol = _changed(layout, tmp_path / "vol", lambda c: c.update(Volumes={"/data\0--bind": {}}))
    code, _, err = cli("start", vol, "--timeout", "20", cwd=tmp_path)
    assert (code, err.strip()) == (2, (
        "deploycheck: error: the volume '/data'... holds a NUL character: no process can be given it (a "
        "container runtime refuses to start the image)"))


def test_a_command_longer_than_execve_takes_is_one_line(layout, tmp_path):
    image = _changed(layout, tmp_path / "image", lambda c: c.update(Cmd=["python3", "-c", "pass"] + ["a" * 999] * 4000))
    code, _, err = cli("start", image, "--timeout", "20", cwd=tmp_path)
    assert (code, err.strip()) == (2, (
        "deploycheck: error: the image's command (4003 arguments, 4000016 bytes) is longer than the kernel lets a "
        "program be started with (E2BIG; a container runtime cannot start it either)"))


@pytest.fixture(scope="module")
def imports_layout(tmp_path_factory):
    """The oci: layout of the start tests' import-probe image (modules that fail only when run)."""
    ctx = tmp_path_factory.mktemp("imports")
    shutil.copytree(FIXTURES / "start" / "imports" / "app", ctx / "app")
    containerfile = CONTAINERFILE.replace("app.main", "app.web")
    return Path(build(ctx, containerfile, "dc-start-imports:1", tmp_path_factory.mktemp("out"))["oci"].partition(":")[2])


def test_entry_names_what_the_import_probe_imports_when_the_command_is_not_recognized(imports_layout, tmp_path):
    # `nice` is no launcher `check` follows: without --entry the probe says why it did not run, and how to
    # make it run (an option start has)
    image = _changed(imports_layout, tmp_path / "image", lambda c: c.update(Cmd=["nice", "python3", "-m", "app.web"]))
    code, doc = cli_json("start", image, "--timeout", "5", "--no-cache", cwd=tmp_path)
    assert [f["code"] for f in doc["findings"]] == ["DC601"]  # the service itself fails importing them
    assert doc["measures"]["imports"]["note"].endswith("name the entries with --entry")
    code, doc = cli_json("start", image, "--timeout", "5", "--no-cache", "--entry", "app.views", "--entry", "app.fast",
                         cwd=tmp_path)
    found = sorted((f["code"], f["symbol"]) for f in doc["findings"])
    assert (code, found) == (1, [("DC601", "1"), ("DC609", "app.fast"), ("DC609", "app.views")])
    assert doc["measures"]["imports"]["note"] == ""


def test_a_service_filling_tmp_is_bounded_by_the_memory_limit(layout, tmp_path):
    # tmpfs pages are the host's memory, counted in no process's: unbounded, a service writing to /tmp or a
    # volume could take all of it while its peak memory read a few MB
    (tmp_path / "pyproject.toml").write_text('[tool.deploycheck.start]\nmemory-limit = "512M"\n')
    write = "head -c 700000000 /dev/zero > {0}/fill; echo wrote-{0}=$?; ls -s {0}/fill"
    image = _changed(layout, tmp_path / "image", lambda c: c.update(
        Volumes={"/data": {}},
        Cmd=["sh", "-c", f"{write.format('/tmp')}; {write.format('/data')}; exec python3 -m app.main"]))
    code, doc = cli_json("start", image, "--timeout", "20", cwd=tmp_path)
    tail = doc["measures"]["log_tail"]
    assert [line for line in tail if line.startswith("wrote-")] == ["wrote-/tmp=1", "wrote-/data=1"], tail
    sizes = [int(line.split()[0]) for line in tail if line.endswith("/fill")]
    assert len(sizes) == 2 and all(s <= 512 * 1024 for s in sizes)  # KiB: stopped at the bound
    assert (code, [f["code"] for f in doc["findings"]]) == (0, [])


def test_volumes_are_made_where_a_runtime_makes_them_or_refused(layout, tmp_path):
    # a volume the image has no directory for is made (moby makes its mount point), one through a link is
    # placed where the link leads inside the root (/bin is usr/bin in Debian)
    check = "for d in /data/cache /bin/spool /usr/bin/spool; do touch $d/f && echo vol-$d=ok; done"
    image = _changed(layout, tmp_path / "image", lambda c: c.update(
        Volumes={"/data/cache": {}, "/bin/spool": {}}, Cmd=["sh", "-c", f"{check}; exec python3 -m app.main"]))
    code, doc = cli_json("start", image, "--timeout", "20", cwd=tmp_path)
    assert [line for line in doc["measures"]["log_tail"] if line.startswith("vol-")] == [
        "vol-/data/cache=ok", "vol-/bin/spool=ok", "vol-/usr/bin/spool=ok"]
    assert (code, doc["findings"]) == (0, [])
    for volume, why in (("/", "it is the root"), ("/etc/hostname/x", "a file or a broken link is on its path")):
        bad = _changed(layout, tmp_path / volume.replace("/", "_"), lambda c, v=volume: c.update(Volumes={v: {}}))
        code, _, err = cli("start", bad, "--timeout", "20", cwd=tmp_path)
        assert (code, err.strip()) == (2, (f"deploycheck: error: {bad}: the image's volume {volume!r} cannot be "
                                          f"mounted: {why} (a container runtime refuses to start it)"))


def test_a_missing_working_directory_is_made_as_runc_makes_it(layout, tmp_path):
    image = _changed(layout, tmp_path / "image", lambda c: c.update(
        WorkingDir="/srv/state/run", Cmd=["sh", "-c", "echo cwd=$(pwd); cd /srv/app && exec python3 -m app.main"]))
    code, doc = cli_json("start", image, "--timeout", "20", cwd=tmp_path)
    assert "cwd=/srv/state/run" in doc["measures"]["log_tail"]
    assert (code, doc["findings"]) == (0, [])
    bad = _changed(layout, tmp_path / "bad", lambda c: c.update(WorkingDir="/etc/hostname/run"))
    code, _, err = cli("start", bad, "--timeout", "20", cwd=tmp_path)
    assert (code, err.strip()) == (2, (f"deploycheck: error: {bad}: the image's WorkingDir '/etc/hostname/run' cannot "
                                      "be made: a file or a broken link is on its path (a container runtime refuses "
                                      "to start it)"))


def test_a_user_id_linux_has_not_is_one_line(layout, tmp_path):
    image = _changed(layout, tmp_path / "image", lambda c: c.update(User="4294967295:99999999999"))
    code, _, err = cli("start", image, "--timeout", "20", cwd=tmp_path)
    assert (code, err.strip()) == (2, (f"deploycheck: error: {image}: the image's User '4294967295:99999999999': not "
                                      "a user and group id Linux has (0 to 4294967294) (a container runtime refuses "
                                      "to start it)"))


def test_a_healthcheck_docker_refuses_is_one_line(layout, tmp_path):
    # a 1 ns interval had the probe started without pause, starving the service of the CPU
    fast = _changed(layout, tmp_path / "fast", lambda c: c.update(
        Healthcheck={"Test": ["CMD", "true"], "Interval": 1, "Timeout": 1}))
    code, _, err = cli("start", fast, "--timeout", "20", cwd=tmp_path)
    assert (code, err.strip()) == (2, ("deploycheck: error: the image's HEALTHCHECK Interval of 1 ns: less than 1 ms, "
                                      "which Docker refuses"))
    nul = _changed(layout, tmp_path / "nul", lambda c: c.update(Healthcheck={"Test": ["CMD", "true\0--x"]}))
    code, _, err = cli("start", nul, "--timeout", "20", cwd=tmp_path)
    assert (code, err.strip()) == (2, ("deploycheck: error: the image's HEALTHCHECK holds a NUL character: no process "
                                      "can be given it"))


def test_kubernetes_without_a_container_port_probes_the_image_s_only_exposed_port(layout, tmp_path):
    """Kubernetes sets no PORT; with no containerPort, the port probed is the image's only EXPOSE."""
    image = _changed(layout, tmp_path / "image", lambda c: c.update(ExposedPorts={"9999/tcp": {}}))
    (tmp_path / "deploy.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n"
        "    - {name: web, image: web, env: [{name: MODE, value: otherport}]}\n")
    code, doc = cli_json("start", image, "--manifest", "deploy.yaml", cwd=tmp_path)
    assert (code, doc["findings"]) == (0, []), doc["measures"]["log_tail"]
    m = doc["measures"]
    assert (m["port"], m["health"], m["listening"]) == (9999, "tcp :9999", ["0.0.0.0:9999"])
    assert m["port_note"] == ("no PORT: Kubernetes sets none and neither the manifest nor the image does; no "
                              "containerPort in deploy.yaml: port 9999 is probed (the image's only EXPOSE)")
