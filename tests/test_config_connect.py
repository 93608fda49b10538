"""deploycheck config --connect against real servers: a PostgreSQL cluster with scram-sha-256 password
authentication, one with ssl = on (a self-signed certificate), nothing at all on a free port, and a Redis
server with a password. Every outcome is told apart, in the server's own words, and no password appears in
any output."""

from __future__ import annotations

import json
import sys

import pytest
from conftest import cli
from services import free_port, other_ca, start_cluster, start_redis

RIGHT = "Right-Pw-7c1e9a"
WRONG = "Wrong-Pw-44b0d2"
REDIS_PW = "Redis-Pw-93f1aa"


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    made = []
    try:
        scram = start_cluster(["host all all 127.0.0.1/32 scram-sha-256"])
        made.append(scram)
        scram.sql(f"CREATE ROLE app LOGIN PASSWORD '{RIGHT}'")
        scram.sql("CREATE DATABASE app OWNER app")
        tls = start_cluster(["hostssl all all 127.0.0.1/32 trust", "hostnossl all all 127.0.0.1/32 reject"],
                            certificate=True)
        made.append(tls)
        redis = start_redis(REDIS_PW)
        made.append(redis)
        yield {"scram": scram.port, "tls": tls.port, "redis": redis.port, "down": free_port(),
               "ca": other_ca(tmp_path_factory.mktemp("ca"))}
    finally:
        for s in reversed(made):
            s.stop()


def _service(tmp_path, names):
    proj = tmp_path / "svc"
    proj.mkdir()
    (proj / "app.py").write_text("import os\n\n" + "".join(f"{n} = os.environ[{n!r}]\n" for n in names))
    return proj


def test_connect_tells_the_outcomes_apart(servers, tmp_path):
    s = servers
    env = {
        "GOOD_DB_URL": f"postgresql+psycopg://app:{RIGHT}@127.0.0.1:{s['scram']}/app",
        "BAD_PASSWORD_DB_URL": f"postgresql+psycopg://app:{WRONG}@127.0.0.1:{s['scram']}/app",
        "DOWN_DB_URL": f"postgresql://app:{RIGHT}@127.0.0.1:{s['down']}/app",
        "NO_TLS_DB_URL": f"postgresql+psycopg2://app:{RIGHT}@127.0.0.1:{s['scram']}/app?sslmode=require",
        "TLS_DB_URL": f"postgresql+asyncpg://postgres@127.0.0.1:{s['tls']}/postgres?ssl=require",
        "UNTRUSTED_DB_URL": (f"postgresql+psycopg://postgres@127.0.0.1:{s['tls']}/postgres?sslmode=verify-full"
                             f"&sslrootcert={s['ca']}"),
        "REDIS_URL": f"redis://:{REDIS_PW}@127.0.0.1:{s['redis']}/0",
        "BAD_REDIS_URL": f"redis://:{WRONG}@127.0.0.1:{s['redis']}/0",
        "DOWN_REDIS_URL": f"redis://127.0.0.1:{s['down']}/0",
    }
    proj = _service(tmp_path, env)
    env_file = tmp_path / "staging.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    args = ("config", proj, "--env", "staging", "--env-file", env_file, "--connect", "--python", sys.executable,
            "--no-cache")
    code, out, err = cli(*args, "--format", "json")
    assert code == 1, err
    doc = json.loads(out)
    got = {f["symbol"]: f["message"] for f in doc["findings"]}
    assert [f["code"] for f in doc["findings"]] == ["DC405"] * 6
    assert sorted(got) == ["BAD_PASSWORD_DB_URL", "BAD_REDIS_URL", "DOWN_DB_URL", "DOWN_REDIS_URL", "NO_TLS_DB_URL",
                           "UNTRUSTED_DB_URL"]
    scram, tls, down = s["scram"], s["tls"], s["down"]
    assert got["BAD_PASSWORD_DB_URL"].startswith(f"`BAD_PASSWORD_DB_URL`: PostgreSQL at 127.0.0.1:{scram} refused "
                                                 "the credentials: ")
    assert 'password authentication failed for user "app"' in got["BAD_PASSWORD_DB_URL"]
    assert got["DOWN_DB_URL"].startswith(f"`DOWN_DB_URL`: PostgreSQL at 127.0.0.1:{down} is unreachable: ")
    assert "Connection refused" in got["DOWN_DB_URL"]
    assert got["NO_TLS_DB_URL"].startswith(f"`NO_TLS_DB_URL`: PostgreSQL at 127.0.0.1:{scram} failed the TLS "
                                           "handshake: ")
    assert "server does not support SSL, but SSL was required" in got["NO_TLS_DB_URL"]
    assert got["UNTRUSTED_DB_URL"].startswith(f"`UNTRUSTED_DB_URL`: PostgreSQL at 127.0.0.1:{tls} failed the TLS "
                                              "handshake: ")
    assert "certificate verify failed" in got["UNTRUSTED_DB_URL"]
    assert got["BAD_REDIS_URL"].startswith("`BAD_REDIS_URL`: Redis at redis://:***@127.0.0.1:")
    assert "refused the credentials: " in got["BAD_REDIS_URL"]
    assert got["DOWN_REDIS_URL"].startswith(f"`DOWN_REDIS_URL`: Redis at redis://127.0.0.1:{down}/0 is unreachable: ")
    status = {x["name"]: x["status"] for x in doc["settings"]}
    assert status["GOOD_DB_URL"] == "set, connect: ok"
    assert status["TLS_DB_URL"] == "set, connect: ok"
    assert status["REDIS_URL"] == "set, connect: ok"
    assert status["BAD_PASSWORD_DB_URL"] == "set, connect: credentials [DC405]"
    # not a single password in any output format, servers' messages included
    text_code, text, text_err = cli(*args)
    assert text_code == 1
    for output in (out, err, text, text_err):
        for secret in (RIGHT, WRONG, REDIS_PW):
            assert secret not in output
    assert "refused the credentials" in text


def test_connect_with_an_unknown_secret_value_is_a_warning(servers, tmp_path):
    proj = _service(tmp_path, ["DATABASE_URL"])
    manifest = tmp_path / "deploy.yaml"
    manifest.write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\nspec:\n  template:\n    spec:\n"
                        "      containers:\n        - name: api\n          env:\n            - name: DATABASE_URL\n"
                        "              valueFrom: {secretKeyRef: {name: db, key: url}}\n")
    args = ("config", proj, "--env", "staging", "--manifest", manifest, "--connect", "--python", sys.executable,
            "--no-cache", "--format", "json")
    code, out, err = cli(*args)
    assert code == 0, err
    doc = json.loads(out)
    assert [(f["code"], f["severity"], f["line"], f["message"]) for f in doc["findings"]] == [
        ("DC405", "warning", 10, ("`DATABASE_URL` not tried: its value comes from secret db key url and was not given "
                                 "(give it with --env-file)"))]
    # the value given beside the manifest is the one tried
    secrets = tmp_path / "secrets.env"
    secrets.write_text(f"DATABASE_URL=postgresql://app:{WRONG}@127.0.0.1:{servers['scram']}/app\n")
    code, out, err = cli(*args, "--env-file", secrets)
    doc = json.loads(out)
    assert code == 1 and [(f["code"], f["line"]) for f in doc["findings"]] == [("DC405", 1)]
    assert "password authentication failed" in doc["findings"][0]["message"] and WRONG not in out + err
