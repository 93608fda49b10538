"""DC404 on a unix-socket host, proved by the real drivers: a PostgreSQL server listening on a socket, each
URL given to deploycheck and then to SQLAlchemy with psycopg, psycopg2 and asyncpg (in a throwaway
environment). An error is reported exactly for the URLs whose first connection fails; a URL that connects
gets a warning (the SSL parameter has no effect) or nothing."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import cli, venv
from services import other_ca, start_cluster

# Connects each URL given as JSON on stdin through SQLAlchemy; prints {url: "ok" or the exception's class}.
_DRIVER = '''\
import asyncio, json, sys, warnings
warnings.simplefilter("ignore")
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine


async def one_async(url):
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.execute(sa.text("select 1"))
    finally:
        await engine.dispose()


def one(url):
    try:
        if "+asyncpg" in url:
            asyncio.run(one_async(url))
        else:
            engine = sa.create_engine(url)
            with engine.connect() as conn:
                conn.execute(sa.text("select 1"))
            engine.dispose()
        return "ok"
    except Exception as exc:
        return type(exc).__name__


print(json.dumps({u: one(u) for u in json.load(sys.stdin)}))
'''


@pytest.fixture(scope="module")
def socket_server():
    cluster = start_cluster([])  # `local all all trust` only: nothing listens for TLS
    try:
        yield cluster
    finally:
        cluster.stop()


def _connect(python: str, urls: list[str], home, extra_env: dict[str, str]) -> dict[str, str]:
    # HOME without ~/.postgresql: no root certificate, as in a container that does not ship one
    proc = subprocess.run([python, "-c", _DRIVER], input=json.dumps(urls), capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(home), **extra_env}, timeout=300, check=True)
    return json.loads(proc.stdout)


def _config(tmp_path, values: dict[str, str], extra: str = "") -> dict:
    proj = tmp_path / "svc"
    proj.mkdir(exist_ok=True)
    (proj / "app.py").write_text("import os\n\n" + "".join(f"{n} = os.environ[{n!r}]\n" for n in values))
    env = tmp_path / "socket.env"
    env.write_text("".join(f"{n}={v}\n" for n, v in values.items()) + extra)
    code, out, err = cli("config", proj, "--env", "staging", "--env-file", env, "--python", sys.executable,
                         "--no-cache", "--format", "json")
    assert code in (0, 1), err
    return json.loads(out)


def test_ssl_parameters_on_a_unix_socket_against_the_real_drivers(socket_server, tmp_path):
    python = venv(["sqlalchemy[asyncio]>=2,<3", "asyncpg>=0.30", "psycopg[binary]>=3.2", "psycopg2-binary>=2.9.10"])
    base = f"postgres@:{socket_server.port}/postgres?host={socket_server.base}"
    urls = {
        "PG3_REQUIRE_DB_URL": f"postgresql+psycopg://{base}&sslmode=require",
        "PG2_VERIFY_DB_URL": f"postgresql+psycopg2://{base}&sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
        "PG3_DIRECT_DB_URL": f"postgresql+psycopg://{base}&sslmode=require&sslnegotiation=direct",
        "PG3_WEAK_SYSTEM_DB_URL": f"postgresql+psycopg://{base}&sslmode=verify-ca&sslrootcert=system",
        "PG2_WEAK_DIRECT_DB_URL": f"postgresql+psycopg2://{base}&sslnegotiation=direct",
        "APG_REQUIRE_DB_URL": f"postgresql+asyncpg://{base}&ssl=require",
        "APG_VERIFY_DB_URL": f"postgresql+asyncpg://{base}&ssl=verify-full",
        "APG_TRUE_DB_URL": f"postgresql+asyncpg://{base}&ssl=true",
        "APG_DIRECT_DB_URL": f"postgresql+asyncpg://{base}&direct_tls=true",
        "APG_SSLMODE_DB_URL": f"postgresql+asyncpg://{base}&sslmode=require",
        "PLAIN_DB_URL": f"postgresql+asyncpg://{base}",
    }
    doc = _config(tmp_path, urls)
    ours = {name: sorted(f["severity"] for f in doc["findings"] if f["symbol"] == name) for name in urls}
    assert ours == {
        "PG3_REQUIRE_DB_URL": ["warning"],
        "PG2_VERIFY_DB_URL": ["warning"],
        "PG3_DIRECT_DB_URL": ["warning"],
        "PG3_WEAK_SYSTEM_DB_URL": ["error"],
        "PG2_WEAK_DIRECT_DB_URL": ["error"],
        "APG_REQUIRE_DB_URL": ["warning"],
        "APG_VERIFY_DB_URL": ["error"],
        "APG_TRUE_DB_URL": ["error"],
        "APG_DIRECT_DB_URL": ["error"],
        "APG_SSLMODE_DB_URL": ["error"],
        "PLAIN_DB_URL": [],
    }
    real = _connect(python, list(urls.values()), tmp_path, {})
    for name, url in urls.items():
        assert (real[url] == "ok") == ("error" not in ours[name]), (name, real[url])
    messages = {f["symbol"]: f["message"] for f in doc["findings"]}
    assert messages["PG2_VERIFY_DB_URL"].endswith(
        f"SSL parameters sslmode, sslrootcert on a unix-socket connection (host={socket_server.base}) have no "
        "effect: libpq uses no TLS on a socket; remove them")
    assert messages["APG_VERIFY_DB_URL"].endswith(
        f"ssl=verify-full on a unix-socket connection (host={socket_server.base}): asyncpg uses no TLS on a "
        "socket, but loads the root certificate before connecting and fails (root certificate file "
        "\"~/.postgresql/root.crt\" does not exist) unless the image has it or PGSSLROOTCERT names one; remove ssl")
    assert messages["PG3_WEAK_SYSTEM_DB_URL"].endswith(
        "libpq 16+ refuses sslmode=verify-ca with sslrootcert=system (weak sslmode \"verify-ca\" may not be used "
        "with sslrootcert=system); write sslmode=verify-full")


def test_asyncpg_verify_full_on_a_socket_works_when_pgsslrootcert_names_a_file(socket_server, tmp_path):
    python = venv(["sqlalchemy[asyncio]>=2,<3", "asyncpg>=0.30", "psycopg[binary]>=3.2", "psycopg2-binary>=2.9.10"])
    ca = other_ca(tmp_path)
    url = f"postgresql+asyncpg://postgres@:{socket_server.port}/postgres?host={socket_server.base}&ssl=verify-full"
    doc = _config(tmp_path, {"TRACKING_DB_URL": url}, extra=f"PGSSLROOTCERT={ca}\n")
    assert [(f["code"], f["severity"]) for f in doc["findings"]] == [("DC404", "warning")]
    assert _connect(python, [url], tmp_path, {"PGSSLROOTCERT": str(ca)}) == {url: "ok"}
