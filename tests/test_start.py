"""`deploycheck start IMAGE`: a real image built daemonless (debootstrap + buildah) run in a real bubblewrap
sandbox. One image; its service's behaviour is chosen by MODE in the environment given with --env-file, and
the budgets by the project's pyproject.toml (the working directory of the run)."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import uuid

import pytest
from conftest import FIXTURES, cli, cli_json
from images.build import build, pip_target
from images.start_service import CONTAINERFILE, missing, service_image

RUN_MARK = f"DEPLOYCHECK_TEST_RUN={uuid.uuid4().hex}"  # in the environment of every command these tests run


@pytest.fixture(autouse=True, scope="module")
def _mark_run():
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(*RUN_MARK.split("="))
        yield


_missing = missing()
pytestmark = [pytest.mark.slow, pytest.mark.skipif(bool(_missing), reason=f"needs {_missing}")]


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    return service_image(tmp_path_factory)["oci-archive"]


@pytest.fixture(scope="module")
def failing_imports(tmp_path_factory):
    """An image whose command imports modules that fail only when run: a module ``__getattr__`` refusing a
    moved name, an extension module that does not load, and a module that is missing (which `check` sees)."""
    ctx = tmp_path_factory.mktemp("imports")
    shutil.copytree(FIXTURES / "start" / "imports" / "app", ctx / "app")
    containerfile = CONTAINERFILE.replace("app.main", "app.web")
    return build(ctx, containerfile, "dc-start-imports:1", tmp_path_factory.mktemp("out"))["oci-archive"]


@pytest.fixture(scope="module")
def with_deps(tmp_path_factory):
    """An image whose service connects to PostgreSQL (pg8000) and Redis at start-up, then serves."""
    if not glob.glob("/usr/lib/postgresql/*/bin/postgres") or shutil.which("redis-server") is None:
        pytest.skip("needs the PostgreSQL and Redis servers (Debian packages postgresql, redis-server)")
    ctx = tmp_path_factory.mktemp("deps")
    shutil.copytree(FIXTURES / "start" / "deps" / "app", ctx / "app")
    site = pip_target(["pg8000==1.31.2", "scramp==1.4.5", "asn1crypto==1.5.1", "python-dateutil==2.9.0.post0",
                       "six==1.16.0"])
    shutil.copytree(site, ctx / "site", ignore=shutil.ignore_patterns(".complete"))
    containerfile = CONTAINERFILE.replace("app.main", "app.serve").replace(
        "COPY app", "COPY site /usr/local/lib/python3.11/dist-packages\nCOPY app")
    return build(ctx, containerfile, "dc-start-deps:1", tmp_path_factory.mktemp("out"))["oci-archive"]


@pytest.fixture(scope="module")
def with_deps_non_root(with_deps, tmp_path_factory):
    """The same service run as a user with no account in the image (USER 1000:1000), as images built to
    run unprivileged do."""
    ctx = tmp_path_factory.mktemp("deps-user")
    shutil.copytree(FIXTURES / "start" / "deps" / "app", ctx / "app")
    site = pip_target(["pg8000==1.31.2", "scramp==1.4.5", "asn1crypto==1.5.1", "python-dateutil==2.9.0.post0",
                       "six==1.16.0"])
    shutil.copytree(site, ctx / "site", ignore=shutil.ignore_patterns(".complete"))
    containerfile = CONTAINERFILE.replace("app.main", "app.serve").replace(
        "COPY app", "COPY site /usr/local/lib/python3.11/dist-packages\nCOPY app") + "USER 1000:1000\n"
    return build(ctx, containerfile, "dc-start-deps-user:1", tmp_path_factory.mktemp("out"))["oci-archive"]


@pytest.fixture(scope="module")
def healthcheck_image(tmp_path_factory):
    """The service's image with a HEALTHCHECK (Docker format) that runs a script inside the sandbox."""
    ctx = tmp_path_factory.mktemp("healthcheck")
    shutil.copytree(FIXTURES / "start" / "service" / "app", ctx / "app")
    shutil.copy(FIXTURES / "start" / "healthcheck.py", ctx / "app" / "healthcheck.py")
    containerfile = CONTAINERFILE + ('HEALTHCHECK --interval=1s --timeout=5s --start-period=1s --retries=2 '
                                     'CMD ["python3", "/srv/app/app/healthcheck.py"]\n')
    return build(ctx, containerfile, "dc-start-healthcheck:1", tmp_path_factory.mktemp("out"))["docker-archive"]


def _project(tmp_path, mode: str, budgets: str = "", extra: str = ""):
    (tmp_path / "pyproject.toml").write_text(f"[tool.deploycheck.start]\n{budgets}\n")
    (tmp_path / "prod.env").write_text(f"MODE={mode}\n{extra}")
    return tmp_path


def _start(image, tmp_path, mode, budgets="", extra="", *args):
    project = _project(tmp_path, mode, budgets, extra)
    code, doc = cli_json("start", image, "--env-file", "prod.env", *args, cwd=project)
    return code, doc, [(f["code"], f["severity"]) for f in doc["findings"]]


def _facts(doc) -> dict[str, str]:
    return dict(line.split(" ", 2)[1:] for line in doc["measures"]["log_tail"] if line.startswith("fact "))


def test_healthy_service_has_no_findings_and_its_times(image, tmp_path):
    code, doc, got = _start(image, tmp_path, "ok")
    assert (code, got) == (0, [])
    m = doc["measures"]
    assert 0 < m["healthy_after_seconds"] < 30 and m["exit_code"] is None
    assert m["listening"] == ["0.0.0.0:8080"] and m["port"] == 8080
    assert 5 * 1024**2 < m["peak_memory_bytes"] < 200 * 1024**2 and m["cpu_seconds"] > 0
    assert m["stopped_after_sigterm_seconds"] is not None and m["stop_exit_code"] == 0
    assert [e["event"] for e in doc["timeline"]] == ["started", "healthy", "listening", "SIGTERM", "stopped"]
    imports = doc["measures"]["imports"]  # its imports, all in the image: none fails
    assert imports["failures"] == [] and imports["probed"] > 5 and imports["note"] == ""
    assert doc["target"]["command"] == ["python3", "-m", "app.main"]


def test_imports_failing_only_at_run_time(failing_imports, tmp_path):
    code, doc, got = _start(failing_imports, tmp_path, "ok", "", "SECRET_TOKEN=hunter2-very-secret\n",
                            "--timeout", "5")
    assert code == 1 and got == [("DC601", "error")] + [("DC609", "error")] * 3
    found = {f["symbol"]: f for f in doc["findings"] if f["code"] == "DC609"}
    assert set(found) == {"app.views", "app.fast", "app.legacy"}
    views, fast, legacy = found["app.views"], found["app.fast"], found["app.legacy"]
    assert (views["path"], views["line"]) == ("/srv/app/app/compat.py", 8)
    assert "ImportError: render_page moved to app.pages" in views["message"]
    assert "(check agreed: DC102 at /srv/app/app/views.py:1)" in views["message"]  # it reads the __getattr__
    assert (fast["path"], fast["line"]) == ("/srv/app/app/fast.py", 1)
    assert "at `from app import _speedups" in fast["message"] and "the static check missed this" in fast["message"]
    assert (legacy["path"], legacy["line"]) == ("/srv/app/app/legacy.py", 1)
    assert "No module named 'app.removed'" in legacy["message"]
    assert "(check agreed: DC101 at /srv/app/app/legacy.py:1)" in legacy["message"]
    imports = doc["measures"]["imports"]
    [views_failure] = [f for f in imports["failures"] if f["modules"] == ["app.views"]]
    assert [fr[:2] for fr in views_failure["frames"]] == [["/srv/app/app/views.py", 1], ["/srv/app/app/compat.py", 8]]
    assert [f["modules"] for f in imports["failures"] if "_speedups" in f["exception"]] == [["app.fast", "app._speedups"]]
    assert imports["probed"] > 5 and imports["note"] == ""
    assert "hunter2-very-secret" not in json.dumps(doc)


DB = "DATABASE_URL=postgresql://app:Right-pass-7f3k@db.internal:5433/orders\n"


def test_with_postgres_and_redis_healthy(with_deps, tmp_path):
    extra = DB + "REDIS_URL=redis://:Redis-pass-9q2w@cache:6380/0\n"
    code, doc, got = _start(with_deps, tmp_path, "ok", "", extra, "--with", "postgres", "--with", "redis")
    assert (code, got) == (0, []), doc["measures"]["log_tail"]
    tail = doc["measures"]["log_tail"]
    assert "database answers [['app', 'orders']]" in tail and "redis answers +OK" in tail
    assert doc["measures"]["listening"] == ["0.0.0.0:5433", "0.0.0.0:6380", "0.0.0.0:8080", ":::5433", ":::6380"]
    assert [d["dependency"] for d in doc["measures"]["dependencies"]] == [
        "PostgreSQL at db.internal:5433 (DATABASE_URL)", "Redis at cache:6380 (REDIS_URL)"]
    assert "Right-pass-7f3k" not in json.dumps(doc) and "Redis-pass-9q2w" not in json.dumps(doc)
    assert _settled() == []


def test_with_postgres_and_redis_for_a_non_root_user(with_deps_non_root, tmp_path):
    extra = DB + "REDIS_URL=redis://:Redis-pass-9q2w@cache:6380/0\n"
    code, doc, got = _start(with_deps_non_root, tmp_path, "ok", "", extra, "--with", "postgres", "--with", "redis")
    assert (code, got) == (0, []), doc["measures"]["log_tail"]
    tail = doc["measures"]["log_tail"]
    assert "database answers [['app', 'orders']]" in tail and "redis answers +OK" in tail
    assert "Right-pass-7f3k" not in json.dumps(doc) and "Redis-pass-9q2w" not in json.dumps(doc)
    assert _settled() == []


def test_with_postgres_password_mismatch(with_deps, tmp_path):
    code, doc, got = _start(with_deps, tmp_path, "ok", "", DB + "DB_PASSWORD=Wrong-pass-2b8d\n", "--with", "postgres")
    assert (code, got) == (1, [("DC601", "error"), ("DC610", "error")])
    f = next(f for f in doc["findings"] if f["code"] == "DC610")
    assert f["message"].startswith('PostgreSQL at db.internal:5433 (DATABASE_URL) refused the service\'s login: '
                                   'password authentication failed for user "app"')
    assert (f["path"], f["line"]) == ("/srv/app/app/serve.py", 17)
    assert any("password authentication failed" in line for line in doc["measures"]["log_tail"])
    text = json.dumps(doc)
    assert "Right-pass-7f3k" not in text and "Wrong-pass-2b8d" not in text
    assert _settled() == []


def test_sigint_with_dependencies_leaves_nothing(with_deps, tmp_path):
    import signal
    import sys
    import time
    from pathlib import Path

    _project(tmp_path, "ok", "", DB + "REDIS_URL=redis://:Redis-pass-9q2w@cache:6380/0\n")
    exe = Path(sys.executable).with_name("deploycheck")
    proc = subprocess.Popen([str(exe), "start", with_deps, "--env-file", "prod.env", "--with", "postgres", "--with",
                             "redis", "--health", "/never", "--timeout", "60"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for _ in range(600):  # the service answers 501 to the probe: the wait goes on until the signal
            if any("app.serve" in line for line in _sandboxes()):
                break
            time.sleep(0.1)
        running = _sandboxes()
        assert any("deploycheck-postgres-" in line for line in running)
        assert any("redis-server" in line for line in running)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert _settled() == []
    tmp = os.environ.get("TMPDIR", "/tmp")
    assert not [d for d in os.listdir(tmp) if d.startswith(("deploycheck-postgres-", "deploycheck-redis-"))]


def test_with_postgres_needs_a_database_url(with_deps, tmp_path):
    project = _project(tmp_path, "ok")
    code, out, err = cli("start", with_deps, "--env-file", "prod.env", "--with", "postgres", cwd=project)
    assert code == 2 and out == "" and "--with postgres: no database URL in the environment" in err


def test_image_healthcheck_runs_in_the_sandbox(healthcheck_image, tmp_path):
    code, doc, got = _start(healthcheck_image, tmp_path, "ok")
    assert (code, got) == (0, [])
    assert doc["measures"]["health"] == "exec python3 /srv/app/app/healthcheck.py (HEALTHCHECK)"
    assert doc["measures"]["healthy_after_seconds"] >= 1.0  # the first check runs one interval after the start
    code, doc, got = _start(healthcheck_image, tmp_path, "unhealthy", "", "", "--timeout", "30")
    assert (code, got) == (1, [("DC602", "error")])
    failed = doc["timeline"][1]
    assert failed["event"] == "probe failed" and failed["failures"] == 2 and "HTTP Error 503" in failed["error"]


MANIFEST = """apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      containers:
        - name: web
          image: web
          ports: [{name: http, containerPort: 8080}]
          env: [{name: MODE, value: %s}]
%s
"""


def test_manifest_startup_probe_before_readiness(image, tmp_path):
    probes = ("          startupProbe: {httpGet: {path: /ready, port: http}, periodSeconds: 1, failureThreshold: 2}\n"
              "          readinessProbe: {tcpSocket: {port: 8080}}")
    (tmp_path / "deploy.yaml").write_text(MANIFEST % ("unhealthy", probes))
    code, doc = cli_json("start", image, "--manifest", "deploy.yaml", "--timeout", "30", cwd=tmp_path)
    assert (code, [f["code"] for f in doc["findings"]]) == (1, ["DC602"])
    assert doc["measures"]["health"] == "http :8080/ready (startupProbe of deploy.yaml)"
    failed = doc["timeline"][1]
    assert failed["event"] == "probe failed" and failed["failures"] == 2 and failed["t"] < 10
    (tmp_path / "deploy.yaml").write_text(MANIFEST % ("ok", probes))
    code, doc = cli_json("start", image, "--manifest", "deploy.yaml", cwd=tmp_path)
    assert (code, doc["findings"]) == (0, [])
    assert doc["timeline"][1]["event"] == "healthy" and doc["timeline"][1]["status"] == 200


def test_manifest_readiness_probe_and_bad_probe(image, tmp_path):
    (tmp_path / "deploy.yaml").write_text(MANIFEST % ("ok", "          readinessProbe: {tcpSocket: {port: http}}"))
    code, doc = cli_json("start", image, "--manifest", "deploy.yaml", cwd=tmp_path)
    assert (code, doc["findings"]) == (0, [])
    assert doc["measures"]["health"] == "tcp :8080 (readinessProbe of deploy.yaml)"
    (tmp_path / "deploy.yaml").write_text(MANIFEST % ("ok", "          readinessProbe: {tcpSocket: {port: metrics}}"))
    code, out, err = cli("start", image, "--manifest", "deploy.yaml", cwd=tmp_path)
    assert out == ""
    assert code == 2 and "readinessProbe of deploy.yaml: tcpSocket.port: the container declares no port named " \
        "'metrics'" in err and len(err.strip().splitlines()) == 1


def test_image_without_python_on_its_path_is_started_without_the_import_probe(tmp_path):
    ctx = tmp_path / "context"
    ctx.mkdir()
    containerfile = ("FROM scratch\nADD rootfs.tar /\nENV PATH=/nonexistent\n"
                     'CMD ["/bin/sh", "-c", "exec /usr/bin/python3 -m http.server $PORT"]\n')
    target = build(ctx, containerfile, "dc-start-nopython:1", tmp_path / "out")["oci-archive"]
    _project(tmp_path, "ok", "grace-seconds = 1")
    code, out, _err = cli("start", target, "--env-file", "prod.env", cwd=tmp_path)
    assert "import probe: not run: no Python interpreter (python3, python) on the image's PATH" in out
    assert "healthy after" in out
    # http.server as PID 1 has no SIGTERM handler, and PID 1 ignores a signal it does not handle
    assert code == 1 and out.startswith("<image command>: DC607 [error]")


def test_text_report_and_http_health(image, tmp_path):
    project = _project(tmp_path, "ok")
    code, out, err = cli("start", image, "--env-file", "prod.env", "--health", "/healthz", cwd=project)
    assert code == 0, err
    assert "(http :8080/healthz): healthy after" in out and out.rstrip().endswith("s") and "0 error(s)" in out


def test_exit_at_startup_with_a_traceback(image, tmp_path):
    code, doc, got = _start(image, tmp_path, "crash", "", "SECRET_TOKEN=hunter2-very-secret\n")
    assert (code, got) == (1, [("DC601", "error")])
    [f] = doc["findings"]
    assert f["path"] == "/srv/app/app/settings.py" and f["line"] == 3
    assert "exited with code 1" in f["message"] and "KeyError: 'DATABASE_URL'" in f["message"]
    frames = doc["measures"]["tracebacks"][-1]["frames"]
    assert [fr["statement"] for fr in frames if fr["path"] == f["path"]] == ['DATABASE_URL = os.environ["DATABASE_URL"]']
    assert "hunter2-very-secret" not in json.dumps(doc)


def test_bound_to_loopback_only(image, tmp_path):
    code, doc, got = _start(image, tmp_path, "loopback", "", "", "--timeout", "3")
    assert (code, got) == (1, [("DC602", "error"), ("DC603", "error")])
    assert doc["measures"]["listening"] == ["127.0.0.1:8080"]


def test_unhealthy_http_probe(image, tmp_path):
    code, doc, got = _start(image, tmp_path, "unhealthy", "", "", "--health", "/ready", "--timeout", "2")
    assert (code, got) == (1, [("DC602", "error")])
    assert doc["measures"]["healthy_after_seconds"] is None and doc["measures"]["listening"] == ["0.0.0.0:8080"]


def test_listening_on_another_port(image, tmp_path):
    code, _doc, got = _start(image, tmp_path, "otherport", "", "", "--timeout", "3")
    assert (code, got) == (1, [("DC602", "error"), ("DC604", "error")])


def test_too_slow_for_the_budget(image, tmp_path):
    code, doc, got = _start(image, tmp_path, "slow", "startup-seconds = 1", "DELAY=2.5\n")
    assert (code, got) == (1, [("DC605", "error")])
    assert doc["measures"]["healthy_after_seconds"] > 2.5


def test_over_the_memory_budget(image, tmp_path):
    code, doc, got = _start(image, tmp_path, "memory", 'memory = "100M"', "BALLAST_MB=150\n")
    assert (code, got) == (1, [("DC606", "error")])
    assert doc["measures"]["peak_memory_bytes"] > 150 * 1024**2


def test_ignores_sigterm(image, tmp_path):
    code, doc, got = _start(image, tmp_path, "nosigterm", "grace-seconds = 1")
    assert (code, got) == (1, [("DC607", "error")])
    assert doc["measures"]["stopped_after_sigterm_seconds"] is None
    assert doc["timeline"][-1]["event"] == "killed"


def test_error_lines_are_warnings(image, tmp_path):
    code, doc, got = _start(image, tmp_path, "errors")
    assert (code, got) == (0, [("DC608", "warning")])
    assert "cannot reach the cache" in doc["findings"][0]["message"]


def _cached_trees() -> list[str]:
    import tempfile

    return glob.glob(os.path.join(tempfile.gettempdir(), f"deploycheck-rootfs-{os.geteuid()}", "*"))


def test_the_sandbox(image, tmp_path):
    marker = "/tmp/deploycheck-sandbox-marker"
    if os.path.exists(marker):
        os.unlink(marker)
    code, doc, got = _start(image, tmp_path, "sandbox")
    assert (code, got) == (0, [])
    facts = _facts(doc)
    # the root is writable as a container's is: a private layer, never the cached tree nor the host
    assert facts["root-write"] == "ok" and doc["measures"]["root"].startswith("writable")
    trees = _cached_trees()
    assert trees and not os.path.exists("/usr/written-by-service")
    assert not [t for t in trees if os.path.exists(os.path.join(t, "usr", "written-by-service"))]
    from pathlib import Path

    inits = [Path(t, "srv/app/app/__init__.py") for t in trees]
    assert not [p for p in inits if p.is_file() and "changed by the service" in p.read_text()]
    assert facts["tmp-write"] == "ok" and not os.path.exists(marker)  # its /tmp is its own, and gone
    inside, outside, count = facts["uid-map"].split("-")
    assert (inside, count) == ("0", "1") and outside != "0"  # root inside only: never host root
    assert facts["uid"] == "0" and facts["pid1"] == "python3"
    assert facts["hostname"] == "1"  # EPERM: no CAP_SYS_ADMIN, as in a container, even in its own namespace


READ_ONLY = "          securityContext: {readOnlyRootFilesystem: true}"


def test_read_only_root_filesystem_of_the_manifest(image, tmp_path):
    """readOnlyRootFilesystem: true makes the root, /tmp included, read-only as Kubernetes does; a write
    there fails, and the finding says why."""
    (tmp_path / "deploy.yaml").write_text(MANIFEST % ("sandbox", READ_ONLY))
    code, doc = cli_json("start", image, "--manifest", "deploy.yaml", cwd=tmp_path)
    assert (code, doc["findings"]) == (0, []), doc["measures"]["log_tail"]
    facts = _facts(doc)
    assert (facts["root-write"], facts["tmp-write"]) == ("30", "30")  # EROFS
    assert doc["measures"]["root"] == "read-only (securityContext.readOnlyRootFilesystem of deploy.yaml)"
    (tmp_path / "deploy.yaml").write_text(MANIFEST % ("writes", READ_ONLY))
    code, doc = cli_json("start", image, "--manifest", "deploy.yaml", cwd=tmp_path)
    assert (code, [f["code"] for f in doc["findings"]]) == (1, ["DC601"])
    message = doc["findings"][0]["message"]
    assert "OSError: [Errno 30] Read-only file system: '/var/run/app.pid'" in message
    assert "the root filesystem is read-only (securityContext.readOnlyRootFilesystem of deploy.yaml)" in message
    # the same service with an emptyDir where it writes starts
    mounted = READ_ONLY + "\n          volumeMounts: [{name: run, mountPath: /run}, {name: home, mountPath: /root}]"
    (tmp_path / "deploy.yaml").write_text(MANIFEST % ("writes", mounted))
    code, doc = cli_json("start", image, "--manifest", "deploy.yaml", cwd=tmp_path)
    assert (code, doc["findings"]) == (0, []), doc["measures"]["log_tail"]


def test_a_service_writing_at_start_up_is_healthy(image, tmp_path):
    """A pid file in /var/run and a cache in $HOME, as a container's writable root takes them."""
    code, doc, got = _start(image, tmp_path, "writes")
    assert (code, got) == (0, []), doc["measures"]["log_tail"]
    assert not [t for t in _cached_trees() if os.path.exists(os.path.join(t, "run", "app.pid"))]


def test_fork_bomb_is_contained(image, tmp_path):
    code, doc, got = _start(image, tmp_path, "forkbomb", "processes = 64")
    stopped, errno = _facts(doc)["fork-stopped"].split(":")
    assert int(stopped) < 64 and errno == "11"  # EAGAIN at the process limit
    assert code == 0 and got == []


def test_memory_bomb_is_contained(image, tmp_path):
    code, doc, got = _start(image, tmp_path, "membomb", 'memory = "1G"\nmemory-limit = "512M"')
    assert int(_facts(doc)["memory-stopped"]) < 512
    assert code == 0 and got == []


def test_nothing_left_behind(image, tmp_path):
    assert _settled() == []
    _start(image, tmp_path, "nosigterm", "grace-seconds = 1")
    _start(image, tmp_path, "crash")
    assert _settled() == []


def test_sigint_leaves_nothing(image, tmp_path):
    import signal
    import sys
    import time
    from pathlib import Path

    project = _project(tmp_path, "unhealthy")  # answers 503: the wait goes on until the signal
    exe = Path(sys.executable).with_name("deploycheck")
    proc = subprocess.Popen([str(exe), "start", image, "--env-file", "prod.env", "--health", "/never",
                             "--timeout", "60"], cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for _ in range(300):
        if _sandboxes():
            break
        time.sleep(0.1)
    assert _sandboxes(), "the sandbox did not start"
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 130
    assert _settled() == []
    assert not [d for d in os.listdir(os.environ.get("TMPDIR", "/tmp")) if d.startswith(".unpack-")]


def _settled() -> list[str]:
    """``_sandboxes()`` once it is empty, or after 5 s: a process killed is reaped a moment later."""
    import time

    for _ in range(50):
        left = _sandboxes()
        if not left:
            break
        time.sleep(0.1)
    return left


def _sandboxes() -> list[str]:
    """Processes of this test run (they, or their parent, have RUN_MARK in their environment: the machine may
    run other sandboxes meanwhile) of the sandbox's user, bwrap, a namespace holder or a dependency."""
    out = subprocess.run(["ps", "-ww", "-eo", "pid,ppid,user:12,args"], capture_output=True, text=True,
                         check=True).stdout
    found = []
    for line in out.splitlines()[1:]:
        pid, ppid, user, *args = line.split(None, 3)
        text = " ".join(args)
        if not (" bwrap " in f" {text} " or "2000000000" in user or "ip_unprivileged_port_start" in text
                or "deploycheck-postgres-" in text or ("redis-server" in text and ":6380" in text)):
            continue
        if _marked(pid) or _marked(ppid):
            found.append(f"{pid} {user} {text}")
    return found


def _marked(pid: str) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return RUN_MARK.encode() in f.read()
    except OSError:
        return False


def _imports(image, project, cache, *args):
    code, doc = cli_json("start", image, "--env-file", "prod.env", "--cache-dir", cache, *args, cwd=project)
    return code, doc["measures"]["imports"]


def _cached(cache) -> dict[str, list[tuple[str, bytes]]]:
    import sqlite3

    with sqlite3.connect(cache / "cache-v1.sqlite") as db:
        rows = db.execute("SELECT space, key, value FROM kv WHERE space LIKE 'start-%'").fetchall()
    out: dict[str, list] = {}
    for space, key, value in rows:
        out.setdefault(space, []).append((key, value))
    return out


def test_import_probe_plan_cached_per_image_and_a_clean_probe_remembered(image, tmp_path):
    cache = tmp_path / "cache"
    project = _project(tmp_path, "ok")
    code, first = _imports(image, project, cache)
    assert code == 0 and not first["remembered"] and first["probed"] > 5 and first["failures"] == []
    stored = _cached(cache)
    assert len(stored["start-plan"]) == 1 and len(stored["start-imports"]) == 1
    code, second = _imports(image, project, cache)  # same image, same sandbox: nothing imported again
    assert code == 0 and second["remembered"] and second["probed"] == first["probed"]
    # the key is an HMAC under a private random key, not a plain digest of the environment (which has secrets)
    secret = cache / "start-probe-key"
    assert secret.stat().st_mode & 0o777 == 0o600 and len(secret.read_bytes()) == 32
    secret.unlink()  # another key: the entry remembered under the old one is not found
    code, again = _imports(image, project, cache)
    assert code == 0 and not again["remembered"] and again["probed"] == first["probed"]
    code, again = _imports(image, project, cache)
    assert code == 0 and again["remembered"]

    # a sandbox that cannot be set up (bwrap cannot clone past a process limit of 1) is said in one line,
    # exit 2: never a finding of the service (DC601) nor of the static check (DC609); the smoke start
    # (the probe remembered), then the import probe (--no-cache)
    (project / "pyproject.toml").write_text("[tool.deploycheck.start]\nprocesses = 1\n")
    for more in ([], ["--no-cache"]):
        code, out, err = cli("start", image, "--env-file", "prod.env", "--cache-dir", cache, *more, cwd=project)
        assert (code, out) == (2, "") and len(err.strip().splitlines()) == 1
        # bwrap's clone, or the exec of bwrap itself when another process of the sandbox's user is running
        assert err.startswith("deploycheck: error: the sandbox could not be set up, so the service was not run ("
                              ), err
        assert ("(bwrap: Creating new namespace failed: Resource temporarily unavailable): not a failure of the "
                "service" in err or "(nsenter: failed to execute bwrap: Resource temporarily unavailable): not a "
                "failure of the service" in err), err
    (project / "pyproject.toml").write_text("[tool.deploycheck.start]\n")
    (project / "prod.env").write_text("MODE=ok\nFEATURE=on\n")  # another environment: imported again
    code, third = _imports(image, project, cache)
    assert code == 0 and not third["remembered"] and third["probed"] == first["probed"]
    code, fourth = _imports(image, project, cache, "--no-cache")
    assert code == 0 and not fourth["remembered"]
    # the plan comes from the cache: an entry naming one module makes the probe import that one only
    import sqlite3

    [(key, value)] = _cached(cache)["start-plan"]
    python, roots, _closure, phases, found = json.loads(value)
    with sqlite3.connect(cache / "cache-v1.sqlite") as db:
        db.execute("UPDATE kv SET value = ? WHERE space = 'start-plan' AND key = ?",
                   (json.dumps([python, roots, {"json": 0}, phases, found]).encode(), key))
    code, fifth = _imports(image, project, cache)
    assert code == 0 and (fifth["probed"], fifth["remembered"]) == (1, False)


def test_failing_imports_are_never_remembered(failing_imports, tmp_path):
    cache = tmp_path / "cache"
    project = _project(tmp_path, "ok")
    for _ in range(2):
        code, imports = _imports(failing_imports, project, cache, "--timeout", "5")
        assert code == 1 and not imports["remembered"] and len(imports["failures"]) == 3
    assert "start-imports" not in _cached(cache)


def test_manifest_http_probe_host_is_where_the_kubelet_connects(image, tmp_path):
    """httpGet.host is the host the kubelet connects to (from the node): 127.0.0.1 is the node's loopback,
    which never reaches the pod, unless the pod shares the node's network (hostNetwork: true)."""
    probe = "          readinessProbe: {httpGet: {path: /healthz, port: 8080, host: 127.0.0.1}, periodSeconds: 1}"
    (tmp_path / "deploy.yaml").write_text(MANIFEST % ("ok", probe))
    code, doc = cli_json("start", image, "--manifest", "deploy.yaml", "--timeout", "3", cwd=tmp_path)
    assert (code, [f["code"] for f in doc["findings"]]) == (1, ["DC602"])
    assert doc["measures"]["health"] == "http 127.0.0.1:8080/healthz (readinessProbe of deploy.yaml)"
    assert doc["measures"]["listening"] == ["0.0.0.0:8080"]  # the service was there: the probe went elsewhere
    shared = (MANIFEST % ("ok", probe)).replace("    spec:\n      containers:", "    spec:\n      hostNetwork: true\n"
                                                                           "      containers:")
    (tmp_path / "deploy.yaml").write_text(shared)
    code, doc = cli_json("start", image, "--manifest", "deploy.yaml", "--timeout", "10", cwd=tmp_path)
    assert (code, doc["findings"]) == (0, [])
    assert doc["timeline"][1]["event"] == "healthy" and doc["timeline"][1]["status"] == 200


def _until(predicate, seconds: float = 120) -> bool:
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def _mounts_under(path) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line for line in f if str(path) in line]


@pytest.fixture
def sandbox_tmpdir():
    """A TMPDIR the sandbox's user (another uid when the tests run as root) can pass through, as /tmp is:
    pytest's own directory (mode 0700) is not, and bwrap could then not reach the tree at all."""
    import tempfile
    from pathlib import Path

    tmp = Path(tempfile.mkdtemp(prefix="dc-start-tmpdir-", dir="/tmp"))
    tmp.chmod(0o711)
    yield tmp
    shutil.rmtree(tmp, ignore_errors=True)


def test_sigint_while_unpacking_and_while_waiting_leaves_no_process_mount_or_file(image, tmp_path, sandbox_tmpdir):
    """With a TMPDIR of its own, `deploycheck start` interrupted by SIGINT while it unpacks the image, then
    while the service runs, exits 130 and leaves no process, no mount and nothing in TMPDIR but the one
    complete tree a finished run cached."""
    import signal
    import sys
    from pathlib import Path

    tmp = sandbox_tmpdir
    (tmp_path / "p").mkdir()
    project = _project(tmp_path / "p", "unhealthy")
    env = {**os.environ, "TMPDIR": str(tmp)}
    exe = Path(sys.executable).with_name("deploycheck")
    argv = [str(exe), "start", image, "--env-file", "prod.env", "--health", "/never", "--timeout", "120"]

    def interrupted(ready) -> None:
        proc = subprocess.Popen(argv, cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            assert _until(lambda: ready() or proc.poll() is not None), "never got there"
            assert proc.poll() is None, proc.communicate()
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=60) == 130
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert _settled() == []
        assert _mounts_under(tmp) == []

    def unpacking() -> bool:
        return any(p.name.startswith(".unpack-") for p in tmp.glob("deploycheck-rootfs-*/*"))

    interrupted(unpacking)
    assert list(tmp.rglob("*")) == [tmp / f"deploycheck-rootfs-{os.geteuid()}"]  # no partial tree

    (project / "prod.env").write_text("MODE=crash\n")  # a finished run caches the tree
    code, doc = cli_json("start", image, "--env-file", "prod.env", cwd=project, env=env)
    assert code == 1 and not doc["target"]["rootfs_cached"]
    # the service's own crash (not a sandbox that could not reach the tree)
    assert [f["code"] for f in doc["findings"]] == ["DC601"] and "KeyError: 'DATABASE_URL'" in doc["findings"][0]["message"]
    [tree] = (tmp / f"deploycheck-rootfs-{os.geteuid()}").iterdir()

    (project / "prod.env").write_text("MODE=unhealthy\n")
    interrupted(lambda: bool(_sandboxes()))
    assert list(tmp.iterdir()) == [tmp / f"deploycheck-rootfs-{os.geteuid()}"]
    assert list(tree.parent.iterdir()) == [tree]


KNATIVE = """apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: web}
spec:
  template:
    spec:
      containers:
        - image: web
%s          env: [{name: MODE, value: port}]
"""


def test_port_as_each_platform_gives_it(image, tmp_path):
    """Cloud Run sets PORT to the containerPort (8080 without one); Kubernetes sets none, and traffic and
    the default health check go to the containerPort; without a manifest, Cloud Run's 8080, said why."""
    (tmp_path / "run.yaml").write_text(KNATIVE % "          ports: [{containerPort: 8000}]\n")
    code, doc = cli_json("start", image, "--manifest", "run.yaml", cwd=tmp_path)
    assert (code, doc["findings"]) == (0, []), doc["measures"]["log_tail"]
    assert (_facts(doc)["port"], doc["measures"]["port"], doc["measures"]["listening"]) == ("8000", 8000, ["0.0.0.0:8000"])
    assert doc["measures"]["port_note"] == "PORT=8000: set by Cloud Run (containerPort of run.yaml)"
    (tmp_path / "run.yaml").write_text(KNATIVE % "")
    code, doc = cli_json("start", image, "--manifest", "run.yaml", cwd=tmp_path)
    assert (code, _facts(doc)["port"], doc["measures"]["port"]) == (0, "8080", 8080)
    assert doc["measures"]["port_note"] == "PORT=8080: set by Cloud Run (Cloud Run's default, run.yaml declares no containerPort)"

    kube = (MANIFEST % ("port", "")).replace("containerPort: 8080", "containerPort: 8000").replace(
        "env: [{name: MODE, value: port}]", "env: [{name: MODE, value: port}, {name: APP_PORT, value: '8000'}]")
    (tmp_path / "deploy.yaml").write_text(kube)
    code, doc = cli_json("start", image, "--manifest", "deploy.yaml", cwd=tmp_path)
    assert (code, doc["findings"]) == (0, []), doc["measures"]["log_tail"]
    assert (_facts(doc)["port"], doc["measures"]["port"], doc["measures"]["health"]) == ("-", 8000, "tcp :8000")
    assert doc["measures"]["port_note"] == ("no PORT: Kubernetes sets none and neither the manifest nor the image "
                                            "does; traffic and the default health check go to containerPort 8000 "
                                            "of deploy.yaml")

    (tmp_path / "p").mkdir()
    project = _project(tmp_path / "p", "port")
    code, out, _err = cli("start", image, "--env-file", "prod.env", cwd=project)
    assert code == 0
    assert ("port: PORT=8080: as Cloud Run sets it when no containerPort is given (no --manifest; an image's "
            "EXPOSE and Env PORT do not change it there)\n") in out


def test_secrets_the_service_prints_are_masked_in_every_format(image, tmp_path):
    _project(tmp_path, "secrets")
    outputs = []
    for fmt in ("json", "text", "json-lines", "sarif", "junit", "github", "gitlab"):
        code, out, err = cli("start", image, "--env-file", "prod.env", "--format", fmt, cwd=tmp_path)
        assert code == 0, err
        outputs.append(out + err)
    doc = json.loads(outputs[0])
    assert "connecting with DB password=***" in doc["measures"]["log_tail"]
    assert "error logged while starting: ERROR: upstream refused Authorization: Bearer ***" in [
        f["message"] for f in doc["findings"]]
    tail = doc["measures"]["log_tail"]
    for line in ("upstream answered Set-Cookie: sid=***; Path=/; HttpOnly",
                 "backup ran: mysql -u root -p*** -h db app", "clone failed with *** as token"):
        assert line in tail, line
    for out in outputs:
        assert "hunter2-xyz" not in out and "abc.def" not in out and "hunter2" not in out
        assert "Kk38sPq0wQ3" not in out and "TopQ15secret" not in out
        assert "A1bC2dE3fH4iJ5kL6mN7oP8qR9sT0uVwXyQ7" not in out


def test_exec_probe_timeout_cut_to_what_is_left_of_the_wait(image, tmp_path):
    """An exec probe whose timeoutSeconds (60) is longer than --timeout (2) runs no longer than the wait."""
    probe = "          startupProbe: {exec: {command: [sleep, '100']}, timeoutSeconds: 60, initialDelaySeconds: 1}"
    (tmp_path / "deploy.yaml").write_text(MANIFEST % ("ok", probe))
    code, doc = cli_json("start", image, "--manifest", "deploy.yaml", "--timeout", "2", cwd=tmp_path)
    assert (code, [f["code"] for f in doc["findings"]]) == (1, ["DC602"])
    [ended] = [e for e in doc["timeline"] if e["event"] == "timed out"]
    assert ended["waited"] == 2
    said = ended["error"]
    assert said.startswith("did not finish within ") and float(said.split()[-2]) <= 2, said
