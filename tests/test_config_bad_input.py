"""deploycheck config on bad input: a one-line message and exit 2 (or a finding), never a traceback, and never
a secret value in any output."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from conftest import cli

SECRET = "Pw-5ecret-d41d8c"


def _svc(tmp_path: Path, code: str = "import os\nU = os.environ['DATABASE_URL']\nT = os.environ['API_TOKEN']\n",
         pyproject: str | None = None) -> Path:
    proj = tmp_path / "svc"
    proj.mkdir()
    (proj / "app.py").write_text(code)
    if pyproject is not None:
        (proj / "pyproject.toml").write_text(pyproject)
    return proj


def run(proj, *args):
    return cli("config", proj, "--python", sys.executable, "--no-cache", *args)


def _error(result, *fragments):
    code, out, err = result
    assert code == 2, out + err
    assert out == "" and "Traceback" not in err
    assert err.startswith("deploycheck: error: ") and len(err.strip().splitlines()) == 1, err
    for f in fragments:
        assert f in err
    return err


@pytest.mark.parametrize("name, content, fragments", [
    ("bad.yaml", "apiVersion: v1\nkind: Pod\nspec:\n  containers: [\n", ["bad.yaml:5: invalid YAML"]),
    ("helm.yaml", "apiVersion: apps/v1\nkind: Deployment\n{{- if .Values.enabled }}\nspec: {}\n{{- end }}\n",
     ["helm.yaml:3: a Helm template, not YAML: render it first"]),
    ("dup.yaml", "apiVersion: v1\nkind: Pod\nkind: Deployment\n", ["dup.yaml:3: duplicate key `kind` (first at line 2)"]),
    ("ingress.yaml", ("apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: a}\n---\napiVersion: v1\n"
                     "kind: Service\nmetadata: {name: b}\n"),
     ["ingress.yaml: no workload with containers (kinds found: Ingress, Service)"]),
    ("list.yaml", "- a\n- b\n", ["list.yaml:1: not a Kubernetes manifest (no `kind`)"]),
    ("env.yaml", "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n    - name: a\n      env:\n        - value: x\n",
     ["env.yaml:7: an env entry needs a `name`"]),
    ("compose.yaml", "services:\n  a: {image: x}\n  b: {image: y}\n", ["services a, b: name the one that runs the code"]),
])
def test_bad_manifests(tmp_path, name, content, fragments):
    proj = _svc(tmp_path)
    (tmp_path / name).write_text(content)
    _error(run(proj, "--env", "staging", "--manifest", tmp_path / name), *fragments)


_POD = "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n    - name: a\n      env:\n"


@pytest.mark.parametrize("content, message", [
    (_POD + "        - name: API_TOKEN\n          value: \"x\"\n        - name: WORKERS\n          value: 5\n",
     "env `WORKERS`: the value is a number, not a string"),
    (_POD + "        - name: DEBUG\n          value: true\n", "env `DEBUG`: the value is a boolean, not a string"),
    (_POD + "        - name: HOSTS\n          value: [a, b]\n", "env `HOSTS`: the value is a list, not a string"),
    ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata:\n  a: x\n  PORT: 8080\n",
     "ConfigMap cfg `data` key PORT: the value is a number, not a string"),
    ("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData:\n  PIN: 1234\n",
     "Secret s `stringData` key PIN: the value is a number, not a string"),
])
def test_manifest_values_that_are_not_strings(tmp_path, content, message):
    """The Kubernetes API types env values and ConfigMap / Secret data as strings and rejects the manifest
    otherwise: exit 2 naming the file and the line of the value, without the value."""
    proj = _svc(tmp_path)
    (tmp_path / "k8s.yaml").write_text(content)
    line = len(content.splitlines())
    err = _error(run(proj, "--env", "staging", "--manifest", tmp_path / "k8s.yaml"))
    assert err == (f"deploycheck: error: {tmp_path / 'k8s.yaml'}:{line}: {message}, and the Kubernetes API rejects "
                   "the manifest: quote it\n")


def test_null_and_quoted_manifest_values_are_strings(tmp_path):
    proj = _svc(tmp_path)
    (tmp_path / "k8s.yaml").write_text(_POD + "        - name: DATABASE_URL\n          value: \"5\"\n"
                                       "        - name: API_TOKEN\n          value:\n")
    code, out, err = run(proj, "--env", "staging", "--manifest", tmp_path / "k8s.yaml", "--format", "json")
    assert code == 1, err  # DC404: "5" is not a database URL; the null value is the empty string
    status = {s["name"]: s["status"] for s in json.loads(out)["settings"]}
    assert status == {"API_TOKEN": "set", "DATABASE_URL": "set [DC404]"}


@pytest.mark.parametrize("content, fragments", [
    (f"API_TOKEN={SECRET}\nAPI_TOKEN=other\n", [".env:2: `API_TOKEN` is set twice (first at line 1)"]),
    (f"API_TOKEN {SECRET}\n# a comment\nnot an assignment either\n", [".env:1: not a dotenv file: no line is KEY=VALUE"]),
])
def test_bad_dotenv(tmp_path, content, fragments):
    proj = _svc(tmp_path)
    (tmp_path / ".env").write_text(content)
    err = _error(run(proj, "--env", "staging", "--env-file", tmp_path / ".env"), *fragments)
    assert SECRET not in err


def test_unparsable_dotenv_lines_are_skipped_as_python_dotenv_does(tmp_path):
    """python-dotenv (the service's parser) skips a line it cannot parse with a warning: so does the check, on
    stderr with file and line, never the line's text; the variables provided are exactly dotenv_values'."""
    from dotenv import dotenv_values

    proj = _svc(tmp_path)
    env = tmp_path / ".env"
    env.write_text(f"API_TOKEN {SECRET}\nDATABASE_URL=postgresql://a:{SECRET}@h/d\nthis line is not an assignment\n"
                   "OTHER='x'\n")
    assert sorted(k for k in dotenv_values(env)) == ["DATABASE_URL", "OTHER"]
    code, out, err = run(proj, "--env", "staging", "--env-file", env, "--format", "json")
    assert code == 1, err
    assert err == (f"deploycheck: warning: {env}:1: not a KEY=VALUE line: skipped, as python-dotenv's load_dotenv does\n"
                   f"deploycheck: warning: {env}:3: not a KEY=VALUE line: skipped, as python-dotenv's load_dotenv does\n")
    status = {s["name"]: s["status"] for s in json.loads(out)["settings"]}
    assert status == {"API_TOKEN": "missing [DC402]", "DATABASE_URL": "set"}
    assert SECRET not in out + err


def test_compose_env_file_lines_are_strict(tmp_path):
    """docker compose refuses an env_file line it cannot parse, so the check does too."""
    proj = _svc(tmp_path)
    (tmp_path / "web.env").write_text("API_TOKEN=x\nthis line is not an assignment\n")
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    build: .\n    env_file: web.env\n")
    _error(run(proj, "--env", "staging", "--manifest", tmp_path / "compose.yaml"),
           f"{tmp_path / 'web.env'}:2: not a KEY=VALUE line (the dotenv parser cannot parse it)")


def test_binary_missing_and_non_utf8_files(tmp_path):
    proj = _svc(tmp_path)
    (tmp_path / "bin.env").write_bytes(b"\x7fELF\x02\x01\x01\x00\x00\x00")
    _error(run(proj, "--env", "staging", "--env-file", tmp_path / "bin.env"), "bin.env: a binary file, not text")
    _error(run(proj, "--env", "staging", "--manifest", tmp_path / "bin.env"), "bin.env: a binary file, not text")
    (tmp_path / "latin.yaml").write_bytes(b"kind: Pod\nname: caf\xe9\n")
    _error(run(proj, "--env", "staging", "--manifest", tmp_path / "latin.yaml"), "latin.yaml: not UTF-8 text")
    _error(run(proj, "--env", "staging", "--env-file", tmp_path / "nope.env"), "nope.env: no such file")
    _error(run(proj, "--env", "staging", "--env-file", tmp_path), "not a regular file")


def test_environment_and_configuration_errors(tmp_path):
    proj = _svc(tmp_path)
    empty = tmp_path / "empty.env"
    empty.write_text("")
    _error(run(proj, "--env", "prod"), "environment `prod` is not in [tool.deploycheck.environments] (none configured)")
    (proj / "pyproject.toml").write_text('[tool.deploycheck.environments.prod]\nenv-file = [".env"]\n')
    _error(run(proj, "--env", "prod"), "environments.prod: unknown setting `env-file`")
    (proj / "pyproject.toml").write_text('[tool.deploycheck.environments.prod]\nlocal = "no"\n')
    _error(run(proj, "--env", "prod"), "`local` must be true or false")
    (proj / "pyproject.toml").write_text('[tool.deploycheck.config]\naccessors = { "app.get" = "not a class" }\n')
    _error(run(proj, "--env", "prod", "--env-file", empty), "accessors must map dotted names")
    (proj / "pyproject.toml").write_text('[tool.deploycheck.config]\naccessors = { "app.get" = "app.Missing" }\n')
    _error(run(proj, "--env", "prod", "--env-file", empty), "class `app.Missing` is not defined")
    code, _out, err = cli("config", proj)
    assert code == 2 and "--env" in err and "Traceback" not in err


def test_check_accepts_the_new_tables(tmp_path):
    proj = _svc(tmp_path, pyproject='[tool.deploycheck.environments.staging]\nenv-files = [".env.staging"]\n'
                                    '[tool.deploycheck.config]\naccessors = []\n')
    code, _out, err = cli("check", proj, "--python", sys.executable, "--no-cache")
    assert code == 0, err


def test_templated_values_are_provided_but_unknown(tmp_path):
    proj = _svc(tmp_path)
    (tmp_path / ".env").write_text("DATABASE_URL=${DB_URL_FROM_SHELL}\nAPI_TOKEN\n")
    (tmp_path / "k8s.yaml").write_text("apiVersion: v1\nkind: Pod\nspec:\n  containers:\n    - name: a\n      env:\n"
                                       "        - name: DATABASE_URL\n          value: \"{{ .Values.databaseUrl }}\"\n")
    code, out, err = run(proj, "--env", "staging", "--env-file", tmp_path / ".env", "--format", "json")
    assert code == 0, err
    status = {s["name"]: s["status"] for s in json.loads(out)["settings"]}
    assert status == {"API_TOKEN": "set (from the shell)", "DATABASE_URL": "set (templated)"}
    code, out, err = run(proj, "--env", "staging", "--manifest", tmp_path / "k8s.yaml", "--format", "json")
    assert code == 1, err
    status = {s["name"]: s["status"] for s in json.loads(out)["settings"]}
    assert status == {"API_TOKEN": "missing [DC402]", "DATABASE_URL": "set (templated)"}


def test_no_secret_in_any_output(tmp_path):
    """A password given in a URL (provided, in a Secret manifest, as a code default, malformed) and a token
    value appear nowhere: not in text, not in JSON, not on stderr."""
    code_text = (f"import os\n\nU = os.environ['DATABASE_URL']\nT = os.environ['API_TOKEN']\n"
                 f"R = os.getenv('REPORTS_DB_URL', 'postgresql://rep:{SECRET}-code@localhost/rep')\n"
                 "B = os.environ['BROKEN_DB_URL']\nS = os.environ['SECRET_DB_URL']\n")
    proj = _svc(tmp_path, code_text)
    (tmp_path / ".env").write_text(f"DATABASE_URL=postgresql+asyncpg://app:{SECRET}@db:5432/app?sslmode=require\n"
                                   f"API_TOKEN={SECRET}-token\n"
                                   # as urllib reads it the password is `{SECRET}@x`: every piece of it is
                                   # masked (a longer word after the `@` would be masked everywhere)
                                   f"BROKEN_DB_URL=postgresql://app:{SECRET}@x@db:5432/app\n")
    import base64
    encoded = base64.b64encode(f"postgresql://app:{SECRET}-k8s@db:port/app".encode()).decode()
    (tmp_path / "k8s.yaml").write_text(
        f"apiVersion: v1\nkind: Secret\nmetadata: {{name: db}}\ndata:\n  url: {encoded}\n---\n"
        "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n    - name: a\n      env:\n        - name: SECRET_DB_URL\n"
        "          valueFrom: {secretKeyRef: {name: db, key: url}}\n")
    outputs = []
    for fmt in ("text", "json"):
        code, out, err = run(proj, "--env", "staging", "--env-file", tmp_path / ".env", "--manifest",
                             tmp_path / "k8s.yaml", "--format", fmt)
        assert code == 1, err
        outputs += [out, err]
    doc = json.loads(outputs[2])
    assert sorted((f["code"], f["symbol"]) for f in doc["findings"]) == [
        ("DC403", "REPORTS_DB_URL"), ("DC404", "BROKEN_DB_URL"), ("DC404", "DATABASE_URL"), ("DC404", "SECRET_DB_URL")]
    broken = next(f for f in doc["findings"] if f["symbol"] == "BROKEN_DB_URL")
    assert broken["message"] == ("`BROKEN_DB_URL` = postgresql://app:***@db:5432/app: has an '@' in its password that "
                                 "is not percent-encoded (write it as %40)")
    assert "R = os.getenv('REPORTS_DB_URL', 'postgresql://rep:***@localhost/rep')" in outputs[0]
    for output in outputs:
        assert SECRET not in output


def test_templated_database_urls_are_checked_on_their_literal_parts(tmp_path):
    """What the literal parts of a templated URL decide is reported, whatever the placeholders hold; what a
    placeholder hides (the scheme, the host, a query key or value, the port) is not. The value is shown as
    written with its password position masked; a password resolved from an earlier variable never appears."""
    names = ["TRACKING_DATABASE_URL", "SCHEME_DB_URL", "MODE_DB_URL", "PARAMS_DB_URL", "SOCKET_DB_URL",
             "PORT_DB_URL", "RESOLVED_DB_URL", "K8S_DB_URL", "HELM_DB_URL", "COMPOSE_DB_URL"]
    proj = _svc(tmp_path, "import os\n\n" + "".join(f"{n} = os.environ[{n!r}]\n" for n in names))
    (tmp_path / ".env").write_text(
        "TRACKING_DATABASE_URL=postgresql+asyncpg://tracker:${TRACKER_PW}@10.20.0.5:5432/tracking?sslmode=require\n"
        "SCHEME_DB_URL=${DB_SCHEME}://app:${PW}@db/app?sslmode=require\n"
        "MODE_DB_URL=postgresql+psycopg://app:${PW}@db/app?sslmode=${MODE}\n"
        "PARAMS_DB_URL=postgresql+asyncpg://app:${PW}@db/app?${PARAMS}\n"
        "SOCKET_DB_URL=postgresql+psycopg://app@/app?host=${SOCKET_DIR}&sslmode=require\n"
        "PORT_DB_URL=postgresql+psycopg://app@db:${DB_PORT}/app\n"
        "DB_PW=Hidden-Pw-5e1f\n"
        "RESOLVED_DB_URL=postgresql+asyncpg://app:${DB_PW}@${DB_HOST}/app?sslmode=${MODE:-require}\n")
    (tmp_path / "k8s.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n    - name: a\n      env:\n"
        "        - name: DB_PASSWORD\n          valueFrom: {secretKeyRef: {name: db, key: pw}}\n"
        "        - name: K8S_DB_URL\n          value: postgresql+psycopg://app:$(DB_PASSWORD)@db:5432/app?ssl=true\n"
        "        - name: HELM_DB_URL\n"
        "          value: \"postgresql+asyncpg://app:{{ .Values.pw }}@{{ .Values.host }}/app?sslmode=verify-full\"\n")
    (tmp_path / "compose.yaml").write_text("services:\n  api:\n    build: .\n    environment:\n"
                                           "      - COMPOSE_DB_URL=postgresql+asyncpg://app:$PW@db/app?sslmode=prefer\n")
    code, out, err = run(proj, "--env", "staging", "--env-file", tmp_path / ".env", "--manifest",
                         tmp_path / "k8s.yaml", "--manifest", tmp_path / "compose.yaml", "--format", "json")
    assert code == 1, err
    doc = json.loads(out)
    sslmode = "asyncpg does not take `sslmode` (connect() got an unexpected keyword argument 'sslmode'); write ssl="
    assert [(f["symbol"], f["severity"], f["line"], f["message"].partition(": ")[2]) for f in doc["findings"]] == [
        ("TRACKING_DATABASE_URL", "error", 1, sslmode + "require"),
        ("RESOLVED_DB_URL", "error", 8, sslmode + "require"),
        ("COMPOSE_DB_URL", "error", 5, sslmode + "prefer"),
        ("K8S_DB_URL", "error", 9, 'psycopg (libpq) does not take `ssl` (invalid connection option "ssl"); write sslmode=require'),
        ("HELM_DB_URL", "error", 11, sslmode + "verify-full"),
    ]
    shown = [f["message"].partition(": ")[0] for f in doc["findings"]]
    assert shown == [
        "`TRACKING_DATABASE_URL` = postgresql+asyncpg://tracker:***@10.20.0.5:5432/tracking?sslmode=require",
        "`RESOLVED_DB_URL` = postgresql+asyncpg://app:***@${DB_HOST}/app?sslmode=require",
        "`COMPOSE_DB_URL` = postgresql+asyncpg://app:***@db/app?sslmode=prefer",
        "`K8S_DB_URL` = postgresql+psycopg://app:***@db:5432/app?ssl=true",
        "`HELM_DB_URL` = postgresql+asyncpg://app:***@{{ .Values.host }}/app?sslmode=verify-full",
    ]
    status = {s["name"]: s["status"] for s in doc["settings"]}
    assert status["TRACKING_DATABASE_URL"] == "set (templated) [DC404]"
    assert status["SCHEME_DB_URL"] == status["MODE_DB_URL"] == status["PARAMS_DB_URL"] == "set (templated)"
    assert status["SOCKET_DB_URL"] == status["PORT_DB_URL"] == "set (templated)"
    code, text, err = run(proj, "--env", "staging", "--env-file", tmp_path / ".env", "--manifest",
                          tmp_path / "k8s.yaml", "--manifest", tmp_path / "compose.yaml")
    assert "Hidden-Pw-5e1f" not in out + text + err


def test_templated_url_error_is_what_sqlalchemy_and_asyncpg_raise_for_any_password():
    """The oracle for the templated URL above: the real SQLAlchemy with asyncpg refuses it before any network
    traffic, whatever the placeholder resolves to."""
    import subprocess

    from conftest import venv

    python = venv(["sqlalchemy[asyncio]>=2,<3", "asyncpg>=0.30", "psycopg[binary]>=3.2", "psycopg2-binary>=2.9.10"])
    script = '''\
import asyncio, sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine


async def main(pw):
    engine = create_async_engine(f"postgresql+asyncpg://tracker:{pw}@10.20.0.5:5432/tracking?sslmode=require")
    try:
        async with engine.connect() as conn:
            await conn.execute(sa.text("select 1"))
    except TypeError as exc:
        print(exc)
    finally:
        await engine.dispose()

for pw in ("x", "Long%40Password-123", ""):
    asyncio.run(main(pw))
'''
    proc = subprocess.run([python, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert proc.stdout.splitlines() == ["connect() got an unexpected keyword argument 'sslmode'"] * 3
