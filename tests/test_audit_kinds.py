"""audit: classifying real crashes of real drivers and settings libraries (psycopg against a real PostgreSQL,
asyncpg, pydantic-settings), and the report keeping their secrets out."""

from __future__ import annotations

import glob
import os
import subprocess
import sys

import pytest
from audit_crash import crash
from conftest import cli, venv, write_tree
from services import free_port, start_cluster

from deploycheck.audit import classify, groups, logs, tracebacks

DRIVERS = ["psycopg==3.3.6", "asyncpg==0.31.0", "pydantic-settings==2.15.0"]
PASSWORD = "Wr0ng-Horse-Battery"


def run_crash(tmp_path, name: str, program: str, env: dict | None = None) -> str:
    root = write_tree(tmp_path / name, {"svc.py": program})
    proc = subprocess.run([venv(DRIVERS), "svc.py"], cwd=root, capture_output=True, text=True, timeout=120,
                          check=False, env={**os.environ, **(env or {})})
    assert proc.returncode != 0, proc.stdout
    return proc.stderr


def kind_of(tmp_path, text: str) -> classify.Kind:
    path = tmp_path / "svc.log"
    path.write_text(text)
    grouping = groups.group(tracebacks.collect(logs.read(str(path))))
    return classify.classify(grouping.stopped.sample)


def test_database_crashes(tmp_path):
    cluster = start_cluster(["host all all 127.0.0.1/32 scram-sha-256"])
    try:
        cluster.sql("CREATE ROLE app LOGIN PASSWORD 'right-password'")
        url = f"postgresql://app:{PASSWORD}@127.0.0.1:{cluster.port}/postgres"
        auth = run_crash(tmp_path, "auth", "import os, psycopg\npsycopg.connect(os.environ['DATABASE_URL'])\n",
                         {"DATABASE_URL": url})
        assert "password authentication failed" in auth
        assert kind_of(tmp_path, auth).kind == "db-auth"
        log = tmp_path / "auth.log"
        log.write_text(auth)
        code, out, _ = cli("audit", "--log", log, "--format", "json")
        assert code == 1 and PASSWORD not in out and '"kind": "db-auth"' in out
        assert "DC405" in out
    finally:
        cluster.stop()
    refused = run_crash(tmp_path, "refused", f"import psycopg\npsycopg.connect('postgresql://app@localhost:{free_port()}/app')\n")
    assert kind_of(tmp_path, refused).kind == "db-localhost"
    sslmode = run_crash(tmp_path, "sslmode", "import asyncio, asyncpg\n"
                                             "asyncio.run(asyncpg.connect(host='db', sslmode='require'))\n")
    assert kind_of(tmp_path, sslmode).kind == "db-sslmode"


def test_pydantic_settings_missing_field(tmp_path):
    err = run_crash(tmp_path, "settings", (
        "from pydantic_settings import BaseSettings\n"
        "class Settings(BaseSettings):\n    database_url: str\n    secret_key: str\n"
        "settings = Settings()\n"))
    k = kind_of(tmp_path, err)
    assert k.kind == "invalid-setting" and k.name == "database_url"
    assert "database_url, secret_key" in k.sentence


PYENV = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))


def _python(minor: str) -> str | None:
    found = sorted(glob.glob(os.path.join(PYENV, f"versions/{minor}.*/bin/python{minor}")))
    return found[-1] if found else None


@pytest.mark.skipif(_python("3.9") is None or _python("3.10") is None, reason="needs pyenv's CPython 3.9 and 3.10")
def test_python_too_old_on_real_older_interpreters(tmp_path):
    def on(minor, program):
        root = write_tree(tmp_path / minor / str(abs(hash(program))), {"svc.py": program})
        proc = subprocess.run([_python(minor), "svc.py"], cwd=root, capture_output=True, text=True, timeout=60,
                              check=False)
        assert proc.returncode != 0
        return kind_of(tmp_path, proc.stderr)

    self_type = on("3.10", "from typing import Self\n")
    assert (self_type.kind, self_type.version) == ("python-too-old", "3.11")
    utc = on("3.10", "import datetime\nfrom datetime import UTC\n")
    assert (utc.kind, utc.version) == ("python-too-old", "3.11")
    match = on("3.9", "command = 'go'\nmatch command:\n    case 'go':\n        pass\n")
    assert (match.kind, match.version) == ("python-too-old", "3.10")
    toml = on("3.10", "import tomllib\n")
    assert (toml.kind, toml.module) == ("python-too-old", "tomllib")
    union = on("3.9", "def f(x: int | None):\n    pass\n")
    assert (union.kind, union.version) == ("python-too-old", "3.10")


def test_a_newer_name_on_a_new_enough_interpreter_is_not_too_old(tmp_path):
    # this interpreter has datetime.UTC: a misspelt name there is an ordinary import-name error
    err = crash(tmp_path / "svc", {"svc.py": "from datetime import UTCC\n"}, "svc.py")
    assert kind_of(tmp_path, err).kind == "import-name"
    if sys.version_info < (3, 12):
        err = crash(tmp_path / "svc", {"svc.py": "from typing import override\n"}, "svc.py")
        assert kind_of(tmp_path, err).kind == "python-too-old"
