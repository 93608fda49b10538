"""deploycheck config: what the code reads against what a named environment provides (DC401-DC404), on a
sample service shaped like the staging incidents, and on smaller projects for each source and reader."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from conftest import FIXTURES, cli, write_tree

INCIDENT = FIXTURES / "contract" / "incident"


def config(path, *args):
    """Run `deploycheck config` with JSON output; returns (exit code, document or None, stderr)."""
    code, out, err = cli("config", path, "--python", sys.executable, "--no-cache", "--format", "json", *args)
    return code, (json.loads(out) if out.strip() else None), err


def brief(doc, root: Path) -> list[tuple]:
    return [(f["code"], f["severity"], str(Path(f["path"]).relative_to(root)), f["line"], f["symbol"])
            for f in doc["findings"]]


def test_incident_service_in_staging():
    code, doc, err = config(INCIDENT, "--env", "staging")
    assert code == 1, err
    assert brief(doc, INCIDENT) == [
        ("DC404", "error", ".env.staging", 3, "DATABASE_URL"),
        ("DC403", "error", "app/analytics/clickhouse.py", 3, "CLICKHOUSE_URL"),
        ("DC401", "error", "app/db/session.py", 6, "db_pool_sizee"),
        ("DC402", "error", "app/workers.py", 5, "WORKER_QUEUE"),
        ("DC404", "warning", "deploy/cloudrun.yaml", 11, "ANALYTICS_DATABASE_URL"),
    ]
    msgs = [f["message"] for f in doc["findings"]]
    assert msgs[0] == ("`DATABASE_URL` = postgresql+asyncpg://orders:***@10.20.0.5:5432/orders?sslmode=require: "
                       "asyncpg does not take `sslmode` (connect() got an unexpected keyword argument 'sslmode'); "
                       "write ssl=require")
    assert msgs[1].startswith("`CLICKHOUSE_URL` is not set in environment `staging`, so the default "
                              "'http://localhost:8123' is used: it points at localhost:8123")
    assert msgs[2] == ("`AppConfig` (app.core.config.AppConfig) has no attribute `db_pool_sizee`, read as "
                       "cfg.db_pool_sizee (= get_unified_config()); did you mean `db_pool_size`?")
    assert msgs[4] == ("`ANALYTICS_DATABASE_URL` = postgresql+psycopg://reporter@/analytics?host=/cloudsql/"
                       "proj:europe-west1:main&sslmode=verify-full: SSL parameter sslmode on a unix-socket "
                       "connection (host=/cloudsql/proj:europe-west1:main) has no effect: libpq uses no TLS on a "
                       "socket; remove it")
    assert doc["findings"][2]["column"] == 55 and doc["findings"][2]["when"] == "call"
    assert doc["environment"] == {
        "name": "staging", "local": False, "open": [],
        "sources": [{"kind": "dotenv", "path": str(INCIDENT / ".env.staging")},
                    {"kind": "cloud-run", "path": str(INCIDENT / "deploy/cloudrun.yaml")},
                    {"kind": "kubernetes", "path": str(INCIDENT / "deploy/k8s/deployment.yaml")}]}
    table = {s["name"]: s for s in doc["settings"]}
    assert sorted(table) == ["ANALYTICS_DATABASE_URL", "APP_ENVIRONMENT", "APP_REDIS_URL", "APP_SECRET_KEY",
                             "CLICKHOUSE_URL", "DATABASE_URL", "DB_ECHO", "DB_POOL_SIZE", "REDIS_URL", "WORKER_QUEUE"]
    assert table["APP_SECRET_KEY"]["required"] is True
    assert [(p["source"], p["line"], p["kind"], p["ref"], p["value_known"]) for p in table["APP_SECRET_KEY"]["provided_by"]] == [
        ("cloud-run", 13, "secret", "secret orders-secret-key key latest", False),
        ("kubernetes", 24, "secret", "secret orders key secret-key", False)]
    assert table["APP_SECRET_KEY"]["status"] == "set (secret, value not given)"
    assert table["WORKER_QUEUE"]["status"] == "missing [DC402]"
    assert table["CLICKHOUSE_URL"]["status"] == "default [DC403]"
    assert table["DB_POOL_SIZE"]["reads"][0]["default"] == "5" and table["DB_POOL_SIZE"]["status"] == "default"
    assert table["APP_REDIS_URL"]["status"] == "set"  # pydantic's case-insensitive name, set by the Deployment
    assert table["DATABASE_URL"]["reads"][0]["via"] == "AppSettings.database_url (pydantic-settings)"
    assert doc["summary"] == {"errors": 4, "warnings": 1, "settings": 10, "modules": 10}
    assert "Sup3r-S3cret-pw" not in json.dumps(doc)


def test_incident_service_text_output():
    code, out, err = cli("config", INCIDENT, "--env", "staging", "--python", sys.executable, "--no-cache",
                         cwd=INCIDENT)
    assert code == 1, err
    assert out.startswith("environment staging (not local) · sources: .env.staging (dotenv), deploy/cloudrun.yaml "
                          "(cloud-run), deploy/k8s/deployment.yaml (kubernetes)\n")
    assert ("app/db/session.py:6:55: DC401 [error, when called] `AppConfig` (app.core.config.AppConfig) has no "
            "attribute `db_pool_sizee`") in out
    assert '6 |     return {"url": cfg.database_url, "pool_size": cfg.db_pool_sizee}' in out
    assert "  |                                                       ^^^^^^^^^^^^^\n" in out
    assert ".env.staging:3:1: DC404 [error, on connect] `DATABASE_URL` = postgresql+asyncpg://orders:***@" in out
    rows = [line.split() for line in out.splitlines() if line.startswith(("SETTING ", "WORKER_QUEUE ", "REDIS_URL "))]
    assert rows == [["SETTING", "READ", "AT", "REQUIRED", "/", "DEFAULT", "PROVIDED", "BY", "STATUS"],
                    ["REDIS_URL", "app/cache.py:3", "required", "deploy/k8s/deployment.yaml:20", "set"],
                    ["WORKER_QUEUE", "app/workers.py:5", "required", "-", "missing", "[DC402]"]]
    assert out.rstrip().splitlines()[-1].startswith("4 errors, 1 warning in 10 settings read by 10 project modules")
    assert "Sup3r-S3cret-pw" not in out + err


def test_dev_environment_is_local():
    code, doc, err = config(INCIDENT, "--env", "dev")
    assert code == 1, err
    # localhost defaults are the point of a local environment; the typo in the code is still a crash
    assert brief(doc, INCIDENT) == [("DC401", "error", "app/db/session.py", 6, "db_pool_sizee")]
    assert doc["environment"]["local"] is True


def test_unconfigured_environment_from_the_command_line(tmp_path):
    env = tmp_path / "prod.env"
    env.write_text("DATABASE_URL=postgresql+asyncpg://orders:pw-one-two@db:5432/orders?ssl=require\n"
                   "APP_SECRET_KEY=x\nREDIS_URL=redis://cache:6379\nWORKER_QUEUE=q\nCLICKHOUSE_URL=http://ch:8123\n"
                   "APP_REDIS_URL=redis://cache:6379/1\n")
    code, doc, err = config(INCIDENT, "--env", "prod", "--env-file", env)
    assert code == 1, err
    assert brief(doc, INCIDENT) == [("DC401", "error", "app/db/session.py", 6, "db_pool_sizee")]
    assert [s["name"] for s in doc["settings"] if s["status"].startswith("missing")] == []
    code, doc, err = config(INCIDENT, "--env", "prod", "--env-file", env, "--entry", "app.workers")
    assert code == 0, err
    assert [s["name"] for s in doc["settings"]] == ["WORKER_QUEUE"]  # only what the closure of the entry reads


def _project(tmp_path: Path, files: dict[str, str]) -> Path:
    return write_tree(tmp_path / "svc", files)


SETTINGS = '''\
from typing import Optional
from pydantic import BaseModel, Field, AliasChoices
from pydantic_settings import BaseSettings, SettingsConfigDict


class Db(BaseModel):
    host: str
    port: int = 5432


class Base(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SVC_", env_nested_delimiter="__")
    debug: bool = False


class Settings(Base):
    db: Db
    token: Optional[str]
    region: str = Field("eu", validation_alias=AliasChoices("REGION", "CLOUD_REGION"))
    workers: int = Field(default_factory=lambda: 4)
    api_url: str = Field(..., alias="API_URL")


settings = Settings()
'''


def test_pydantic_settings_names_defaults_and_nesting(tmp_path):
    proj = _project(tmp_path, {"svc/__init__.py": "", "svc/settings.py": SETTINGS,
                               "svc/main.py": "from svc.settings import settings\n\nprint(settings.db.host, settings.dbg)\n"})
    env = tmp_path / "stage.env"
    env.write_text("svc_db__host=db.internal\nCLOUD_REGION=us\n")
    code, doc, err = config(proj, "--env", "stage", "--env-file", env, "--entry", "svc.main")
    assert code == 1, err
    table = {s["name"]: (s["required"], s["status"], [r["default"] for r in s["reads"]]) for s in doc["settings"]}
    assert table == {
        "API_URL": (True, "missing [DC402]", [None]),
        "REGION": (False, "set", ["eu"]),  # provided through the alias choice CLOUD_REGION
        "SVC_DB__HOST": (True, "set", [None]),  # case-insensitive; nested through the delimiter
        "SVC_DB__PORT": (False, "default", ["5432"]),
        "SVC_DEBUG": (False, "default", ["False"]),
        "SVC_TOKEN": (True, "missing [DC402]", [None]),  # pydantic 2: Optional without a default is required
        "SVC_WORKERS": (False, "default", [None]),
    }
    assert brief(doc, proj) == [
        ("DC401", "error", "svc/main.py", 3, "dbg"),
        ("DC402", "error", "svc/settings.py", 18, "SVC_TOKEN"),
        ("DC402", "error", "svc/settings.py", 21, "API_URL"),
    ]


def test_reads_of_os_environ_forms(tmp_path):
    code_text = '''\
import os
from os import environ, getenv as ge

A = os.environ["A_REQUIRED"]
B = os.environ.get("B_DEFAULT", "redis://127.0.0.1:6379/0")
C = ge("C_NONE")
D = os.getenv("D_OR") or "localhost:9000"
E = environ.get("E_HOST", "")
try:
    F = os.environ["F_GUARDED"]
except KeyError:
    F = None
G = os.getenv("G_BIND", "0.0.0.0")
H = os.getenv("H_URL", "postgresql://app@/app")
'''
    proj = _project(tmp_path, {"m.py": code_text})
    code, doc, err = config(proj, "--env", "staging", "--env-file", _empty(tmp_path))
    assert code == 1, err
    reads = {s["name"]: (s["reads"][0]["line"], s["required"], s["reads"][0]["default"], s["reads"][0]["via"])
             for s in doc["settings"]}
    assert reads == {
        "A_REQUIRED": (4, True, None, "os.environ[]"),
        "B_DEFAULT": (5, False, "redis://127.0.0.1:6379/0", "os.environ.get"),
        "C_NONE": (6, False, None, "os.getenv"),
        "D_OR": (7, False, "localhost:9000", "os.getenv"),
        "E_HOST": (8, False, "", "os.environ.get"),
        "F_GUARDED": (10, False, None, "os.environ[]"),
        "G_BIND": (13, False, "0.0.0.0", "os.getenv"),
        "H_URL": (14, False, "postgresql://app@/app", "os.getenv"),
    }
    assert [(f["code"], f["symbol"]) for f in doc["findings"]] == [
        ("DC402", "A_REQUIRED"), ("DC403", "B_DEFAULT"), ("DC403", "D_OR"), ("DC403", "E_HOST"), ("DC403", "H_URL")]
    assert "points at an unset host" in doc["findings"][-1]["message"]


def _empty(tmp_path: Path) -> Path:
    p = tmp_path / "empty.env"
    p.write_text("# nothing\n")
    return p


def test_kubernetes_secret_and_configmap_manifests_and_env_from(tmp_path):
    proj = _project(tmp_path, {"m.py": "import os\nU = os.environ['DATABASE_URL']\nQ = os.environ['QUEUE']\n"
                                       "L = os.environ['LEVEL']\nP = os.environ['POD_IP']\n"})
    (tmp_path / "k8s.yaml").write_text('''\
apiVersion: v1
kind: Secret
metadata: {name: db}
data:
  url: cG9zdGdyZXNxbCtwc3ljb3BnOi8vYXBwOmhpZGRlbi1wd0BkYjo1NDMyL2FwcD9zc2w9dHJ1ZQ==
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data:
  LEVEL: info
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  jobTemplate:
    spec:
      template:
        spec:
          containers:
            - name: job
              env:
                - name: DATABASE_URL
                  valueFrom: {secretKeyRef: {name: db, key: url}}
                - name: POD_IP
                  valueFrom: {fieldRef: {fieldPath: status.podIP}}
              envFrom:
                - configMapRef: {name: settings}
                - secretRef: {name: queue-credentials}
''')
    code, doc, err = config(proj, "--env", "staging", "--manifest", tmp_path / "k8s.yaml")
    assert code == 1, err
    table = {s["name"]: s["status"] for s in doc["settings"]}
    assert table == {"DATABASE_URL": "set [DC404]", "LEVEL": "set", "POD_IP": "set (fieldRef)",
                     "QUEUE": "missing [DC402]"}
    dc404, dc402 = sorted(doc["findings"], key=lambda f: f["code"], reverse=True)
    # the Secret's value is known and analyzed, shown with its password masked
    assert dc404["message"] == ("`DATABASE_URL` = postgresql+psycopg://app:***@db:5432/app?ssl=true: psycopg (libpq) "
                                "does not take `ssl` (invalid connection option \"ssl\"); write sslmode=require")
    assert dc404["line"] == 24
    # a secret whose keys are unknown might provide QUEUE: a warning, not an error
    assert dc402["severity"] == "warning" and "unless envFrom secretRef queue-credentials" in dc402["message"]
    assert doc["environment"]["open"] == [{"ref": "envFrom secretRef queue-credentials", "path": str(tmp_path / "k8s.yaml"),
                                           "line": 30}]
    assert "hidden-pw" not in json.dumps(doc)


def test_docker_compose_environment_and_env_file(tmp_path):
    proj = _project(tmp_path, {"m.py": "import os\nA = os.environ['A']\nB = os.environ['B']\nC = os.environ['C']\n"
                                       "D = os.environ['D']\nE = os.getenv('E', 'http://localhost:1')\n"})
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "common.env").write_text("A=1\nE=from-file\n")
    (tmp_path / "deploy" / "compose.yaml").write_text('''\
services:
  api:
    build: .
    env_file: [common.env, {path: optional.env, required: false}]
    environment:
      - B=2
      - C=${FROM_SHELL}
  db:
    image: postgres:16
    environment:
      D: only-for-the-database
''')
    code, doc, err = config(proj, "--env", "staging", "--manifest", tmp_path / "deploy" / "compose.yaml")
    assert code == 1, err
    table = {s["name"]: s["status"] for s in doc["settings"]}
    assert table == {"A": "set", "B": "set", "C": "set (templated)", "D": "missing [DC402]", "E": "set"}
    assert [p["line"] for s in doc["settings"] if s["name"] == "B" for p in s["provided_by"]] == [6]
    code, doc, err = config(proj, "--env", "staging", "--manifest", tmp_path / "deploy" / "compose.yaml",
                            "--container", "db")
    assert {s["name"]: s["status"] for s in doc["settings"]}["D"] == "set"


def test_config_rules_do_not_run_in_check(tmp_path):
    proj = tmp_path / "p"
    shutil.copytree(INCIDENT, proj)
    code, out, _err = cli("check", proj, "--python", sys.executable, "--no-cache", "--format", "json")
    assert not any(f["code"].startswith("DC40") for f in json.loads(out)["findings"])
    code, out, _ = cli("rule", "DC404")
    assert code == 0 and out.startswith("DC404 database-url: a PostgreSQL URL that its driver will reject or misuse.")


def test_attribute_reads_through_an_inferred_accessor_and_a_module_variable(tmp_path):
    conf = '''\
import os


class ServiceConfig:
    timeout = 5

    def __init__(self):
        self.db_url = os.environ["DB_URL"]

    @property
    def cache(self) -> "CacheConfig":
        return CacheConfig()


class CacheConfig:
    ttl: int = 60


def load_config() -> ServiceConfig:
    return ServiceConfig()
'''
    main = '''\
from svc.conf import load_config

CONFIG = load_config()


def handler():
    return CONFIG.timeout, CONFIG.db_url, CONFIG.cache.ttll, load_config().retries


def reassigned():
    c = load_config()
    if c:
        c = object()
    return c.anything
'''
    proj = _project(tmp_path, {"svc/__init__.py": "", "svc/conf.py": conf, "svc/main.py": main})
    code, doc, err = config(proj, "--env", "staging", "--env-file", _empty(tmp_path), "--entry", "svc.main")
    assert code == 1, err
    assert [(f["code"], f["line"], f["column"], f["message"]) for f in doc["findings"] if f["code"] == "DC401"] == [
        ("DC401", 7, 56, ("`CacheConfig` (svc.conf.CacheConfig) has no attribute `ttll`, read as "
                          "CONFIG.cache.ttll; did you mean `ttl`?")),
        ("DC401", 7, 76, ("`ServiceConfig` (svc.conf.ServiceConfig) has no attribute `retries`, read as "
                          "load_config().retries")),
    ]


def test_required_names_agree_with_real_pydantic_settings(tmp_path):
    """The oracle: the real pydantic-settings (in a throwaway environment) fails to build the settings exactly
    when deploycheck reports DC402, for the full environment and for each required name left out."""
    import subprocess

    from conftest import venv

    python = venv(["pydantic-settings>=2.3,<3"])
    proj = _project(tmp_path, {"svc/__init__.py": "", "svc/settings.py": SETTINGS,
                               "svc/main.py": "from svc.settings import settings\n"})
    full = {"svc_db__host": "db", "svc_token": "t", "API_URL": "http://api"}
    for left_out in [None, *full]:
        env = {k: v for k, v in full.items() if k != left_out}
        env_file = tmp_path / "case.env"
        env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
        _, doc, _err = config(proj, "--env", "stage", "--env-file", env_file, "--entry", "svc.main")
        ours = sorted(f["symbol"] for f in doc["findings"] if f["code"] == "DC402")
        real = subprocess.run([python, "-c", "import svc.settings"], cwd=proj, capture_output=True, text=True,
                              env={"PATH": "/usr/bin:/bin", **env}, check=False)
        assert (real.returncode == 0) == (ours == []), (left_out, ours, real.stderr[-500:])
        if left_out is not None:
            assert ours == [left_out.upper()]


def test_when_a_read_runs_follows_the_calls_made_at_import(tmp_path):
    """A read runs at import when it is at module level, in a class body, or in a function that module-level
    code calls (directly, through other functions, or by instantiating a class); else when called."""
    config_py = '''\
import os
from functools import lru_cache

from pydantic_settings import BaseSettings


class FleetSettings(BaseSettings):
    maps_api_token: str
    cache_url: str = "redis://localhost:6379/0"


class LazySettings(BaseSettings):
    lazy_token: str


@lru_cache
def get_fleet_config() -> FleetSettings:
    return FleetSettings()


def lazy() -> LazySettings:
    return LazySettings()


class Client:
    TIMEOUT = os.environ["CLIENT_TIMEOUT"]

    def __init__(self):
        self.key = os.environ["CLIENT_KEY"]


def _region():
    return os.environ["REGION"]


def boot():
    return _region()


def handler():
    return os.environ["HANDLER_ONLY"], lazy()
'''
    engines_py = '''\
import os

from fleet.config import Client, boot, get_fleet_config

cfg = get_fleet_config()
client = Client()
boot()
GEOCODER = os.getenv("GEOCODER_URL", "http://127.0.0.1:8080")
'''
    proj = _project(tmp_path, {"fleet/__init__.py": "", "fleet/config.py": config_py, "fleet/engines.py": engines_py})
    code, doc, err = config(proj, "--env", "staging", "--env-file", _empty(tmp_path), "--entry", "fleet.engines")
    assert code == 1, err
    assert [(f["code"], f["symbol"], f["when"]) for f in doc["findings"]] == [
        ("DC402", "MAPS_API_TOKEN", "import"),  # FleetSettings() in an accessor called at module level
        ("DC403", "CACHE_URL", "import"),
        ("DC402", "LAZY_TOKEN", "call"),  # LazySettings() only in a function nothing calls at import
        ("DC402", "CLIENT_TIMEOUT", "import"),  # class body
        ("DC402", "CLIENT_KEY", "import"),  # __init__ of a class instantiated at module level
        ("DC402", "REGION", "import"),  # called by boot(), called at module level
        ("DC402", "HANDLER_ONLY", "call"),
        ("DC403", "GEOCODER_URL", "import"),
    ]
    code, out, err = cli("config", proj, "--env", "staging", "--env-file", _empty(tmp_path), "--entry",
                         "fleet.engines", "--python", sys.executable, "--no-cache", cwd=proj)
    assert "fleet/config.py:8:5: DC402 [error, at import] `MAPS_API_TOKEN` is required" in out
    assert "fleet/config.py:41:12: DC402 [error, when called] `HANDLER_ONLY` is required" in out


TYPED = '''\
from typing import Annotated, Optional

from pydantic import Field
from pydantic_settings import BaseSettings


class Settings(BaseSettings):
    count: int
    ratio: float = 1.0
    debug: bool = False
    limit: Optional[int] = None
    timeout: "float | None" = None
    enabled: Annotated[bool, Field(description="feature flag")] = True
    mixed: int | str = 0
    name: str = "x"
    secret_token: int = 0
'''

_REAL_ERRORS = '''\
import json
from pydantic import ValidationError
try:
    from svc.settings import Settings
    Settings()
    print("[]")
except ValidationError as exc:
    print(json.dumps(sorted(str(e["loc"][0]).upper() for e in exc.errors())))
'''


def test_provided_values_that_pydantic_cannot_parse_agree_with_real_pydantic_settings(tmp_path):
    """The oracle: the real pydantic-settings refuses exactly the values deploycheck reports, field by field,
    over values at the edges of pydantic's lax parsing."""
    import subprocess

    from conftest import venv

    python = venv(["pydantic-settings>=2.3,<3"])
    proj = _project(tmp_path, {"svc/__init__.py": "", "svc/settings.py": TYPED,
                               "svc/main.py": "from svc.settings import Settings\n\nsettings = Settings()\n"})
    rounds = [
        ({"COUNT": "ten", "RATIO": "1,5", "DEBUG": "maybe", "LIMIT": "10.5", "TIMEOUT": "inf", "ENABLED": "YES",
          "MIXED": "ten", "NAME": "ten", "SECRET_TOKEN": "Hidden-7f3a"},
         ["COUNT", "DEBUG", "LIMIT", "RATIO", "SECRET_TOKEN"]),
        ({"COUNT": "10", "RATIO": "1e3", "DEBUG": "on", "LIMIT": "1_000", "TIMEOUT": "", "ENABLED": "2",
          "MIXED": "5", "NAME": "", "SECRET_TOKEN": "12"},
         ["ENABLED", "TIMEOUT"]),
        ({"COUNT": "10.0", "RATIO": "nan", "DEBUG": "0", "LIMIT": "0x10", "TIMEOUT": "1_e3", "ENABLED": "t",
          "MIXED": "", "NAME": "n", "SECRET_TOKEN": "-0"},
         ["LIMIT"]),
        ({"COUNT": "", "RATIO": "1__0", "DEBUG": "On", "LIMIT": "+10", "TIMEOUT": "abc", "ENABLED": "n",
          "MIXED": "x", "NAME": "n", "SECRET_TOKEN": "1e3"},
         ["COUNT", "RATIO", "SECRET_TOKEN", "TIMEOUT"]),
    ]
    for values, expected in rounds:
        env_file = tmp_path / "typed.env"
        env_file.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
        code, doc, err = config(proj, "--env", "stage", "--env-file", env_file, "--entry", "svc.main")
        assert code == (1 if expected else 0), err
        ours = sorted(f["symbol"] for f in doc["findings"] if f["code"] == "DC402")
        real = subprocess.run([python, "-c", _REAL_ERRORS], cwd=proj, capture_output=True, text=True,
                              env={"PATH": "/usr/bin:/bin", **values}, check=True)
        assert ours == json.loads(real.stdout) == expected, (values, ours, real.stdout)
        assert "Hidden-7f3a" not in json.dumps(doc)
        if values["COUNT"] == "ten":
            count = next(f for f in doc["findings"] if f["symbol"] == "COUNT")
            message = ("`COUNT` is provided but its value 'ten' is not a valid int for Settings.count "
                       "(pydantic-settings): pydantic raises ValidationError (Input should be a valid integer) when "
                       "the settings are created")
            assert (count["message"], count["line"], count["when"], count["severity"]) == (message, 1, "import",
                                                                                          "error")
            token = next(f for f in doc["findings"] if f["symbol"] == "SECRET_TOKEN")
            assert token["message"].startswith("`SECRET_TOKEN` is provided but its value (not shown) is not a valid int")


def test_empty_values_follow_env_ignore_empty(tmp_path):
    import subprocess

    from conftest import venv

    python = venv(["pydantic-settings>=2.3,<3"])
    for ignore, expected in ((True, []), (False, ["LIMIT"])):
        config_line = f"    model_config = {{\"env_ignore_empty\": {ignore!r}}}\n"
        text = TYPED.replace("class Settings(BaseSettings):\n", "class Settings(BaseSettings):\n" + config_line)
        proj = _project(tmp_path / str(ignore), {"svc/__init__.py": "", "svc/settings.py": text,
                                                 "svc/main.py": "from svc.settings import Settings\n\nSettings()\n"})
        values = {"COUNT": "3", "LIMIT": ""}
        env_file = tmp_path / f"{ignore}.env"
        env_file.write_text("COUNT=3\nLIMIT=\n")
        _code, doc, err = config(proj, "--env", "stage", "--env-file", env_file, "--entry", "svc.main")
        ours = sorted(f["symbol"] for f in doc["findings"] if f["code"] == "DC402")
        real = subprocess.run([python, "-c", _REAL_ERRORS], cwd=proj, capture_output=True, text=True,
                              env={"PATH": "/usr/bin:/bin", **values}, check=True)
        assert ours == json.loads(real.stdout) == expected, (ignore, ours, real.stdout, err)
