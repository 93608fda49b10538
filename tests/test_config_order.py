"""deploycheck config follows the order of statements: which config object a variable holds at each read
(DC401), and which environment variables the code itself has set before a read (DC402, DC403). The real
interpreter is the oracle: each case runs, and a finding is where it raises."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import FIXTURES, cli, venv, write_tree

ORDERING = FIXTURES / "contract" / "ordering"


def config(path, *args):
    code, out, err = cli("config", path, "--python", sys.executable, "--no-cache", "--format", "json", *args)
    return code, (json.loads(out) if out.strip() else None), err


def brief(doc, root: Path) -> list[tuple]:
    return [(f["code"], str(Path(f["path"]).relative_to(root)), f["line"], f["symbol"])
            for f in doc["findings"]]


def test_settings_loader_and_config_migration_shapes():
    code, doc, err = config(ORDERING, "--env", "staging")
    assert code == 1, err
    assert brief(doc, ORDERING) == [
        # the variable holds the unified config by then; legacy reads before the rebinding are not findings
        ("DC401", "billing/jobs.py", 18, "db_pool"),
        # read before the legacy config is assigned to the same name: the later rebinding does not count
        ("DC401", "billing/jobs.py", 23, "db_pool_sise"),
        # both branches leave a UnifiedConfig in `cfg`
        ("DC401", "billing/jobs.py", 48, "regoin"),
        ("DC402", "billing/payments.py", 12, "PAYMENTS_WEBHOOK_SECRET"),
        # the default put into the environment is itself a default pointing at this machine
        ("DC403", "billing/settings.py", 8, "CACHE_URL"),
        ("DC402", "billing/settings.py", 15, "STRIPE_API_KEY"),
        ("DC402", "billing/settings.py", 19, "PAYMENTS_SANDBOX"),  # set in one branch only
        ("DC402", "billing/settings.py", 21, "BILLING_REGION"),  # read before the code sets it
        ("DC402", "billing/settings.py", 26, "WORKER_ID"),  # os.putenv does not update os.environ
        ("DC402", "billing/settings.py", 33, "OTEL_EXPORTER_OTLP_ENDPOINT"),
    ]
    by_name = {f["symbol"]: f for f in doc["findings"]}
    assert by_name["db_pool"]["message"] == (
        "`UnifiedConfig` (billing.config.UnifiedConfig) has no attribute `db_pool`, read as cfg.db_pool "
        "(= get_unified_config()); did you mean `db_pool_size`?")
    assert by_name["CACHE_URL"]["message"].startswith(
        "`CACHE_URL` is not set in environment `staging`, so the default 'redis://localhost:6379/1' is used")
    settings = {s["name"]: s for s in doc["settings"]}
    where = {n: [(Path(w["path"]).name, w["line"], w["how"]) for w in s["set_by_code"]]
             for n, s in settings.items()}
    assert {n: w for n, w in where.items() if w} == {
        "BILLING_ENV": [("settings.py", 6, "setdefault")],
        "BILLING_REGION": [("settings.py", 22, "assignment")],  # covers the second read only
        "CACHE_URL": [("settings.py", 8, "setdefault")],
        "LOG_LEVEL": [("settings.py", 7, "setdefault")],
        "OTEL_SERVICE_NAME": [("settings.py", 30, "update")],
        "OTEL_TRACES_SAMPLER": [("settings.py", 30, "update")],
        "PAYMENTS_API_BASE": [("payments.py", 17, "setdefault")],  # before the only PaymentsSettings()
    }
    assert {n: (s["required"], s["status"]) for n, s in settings.items() if where[n]} == {
        "BILLING_ENV": (False, "default"),  # the environment may override it
        "BILLING_REGION": (True, "missing [DC402]"),
        "CACHE_URL": (False, "default [DC403]"),
        "LOG_LEVEL": (False, "default"),
        "OTEL_SERVICE_NAME": (False, "set by the code"),
        "OTEL_TRACES_SAMPLER": (False, "set by the code"),
        "PAYMENTS_API_BASE": (False, "default"),
    }
    region = settings["BILLING_REGION"]["reads"]
    assert [(r["line"], bool(r["set_by"])) for r in region] == [(21, False), (23, True)]
    # the default of a read the code sets before is never used: LOG_LEVEL's is the setdefault's
    assert settings["LOG_LEVEL"]["value_from"] == "default"

    code, out, err = cli("config", ORDERING, "--env", "staging", "--python", sys.executable, "--no-cache",
                         cwd=ORDERING)
    rows = [re.split(r"\s{2,}", line.strip()) for line in out.splitlines()
            if line.startswith(("BILLING_ENV ", "OTEL_SERVICE_NAME ", "LOG_LEVEL "))]
    assert rows == [
        ["BILLING_ENV", "billing/settings.py:6 (+1)", "default 'production'",
         "set by the code at billing/settings.py:6", "default"],
        ["LOG_LEVEL", "billing/settings.py:7 (+1)", "default 'info'",
         "set by the code at billing/settings.py:7", "default"],
        ["OTEL_SERVICE_NAME", "billing/settings.py:31", "set by the code",
         "set by the code at billing/settings.py:30", "set by the code"],
    ]


def test_settings_loader_agrees_with_the_interpreter():
    """Importing the fixture's entry with the staging values and a value for every name DC402 reports
    succeeds; leaving out any one reported name fails. So every other read is provided, by the environment
    or by the code before it (the oracle: the real interpreter with the real pydantic-settings)."""
    python = venv(["pydantic-settings>=2.3,<3"])
    _, doc, _ = config(ORDERING, "--env", "staging")
    staging = dict(line.split("=", 1) for line in (ORDERING / ".env.staging").read_text().splitlines())
    reported = sorted(f["symbol"] for f in doc["findings"] if f["code"] == "DC402")
    for left_out in [None, *reported]:
        env = {"PATH": os.environ["PATH"], **staging, **{n: "x" for n in reported if n != left_out}}
        real = subprocess.run([python, "-c", "import billing.main"], cwd=ORDERING, capture_output=True,
                              text=True, env=env, check=False)
        assert (real.returncode == 0) == (left_out is None), (left_out, real.stderr[-800:])


_DRIVER = '''\
import importlib, json, sys, traceback
mod = importlib.import_module(sys.argv[1])
out = {}
for name in sys.argv[2:]:
    try:
        getattr(mod, name)()
        out[name] = None
    except Exception as e:
        frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename == mod.__file__]
        out[name] = [type(e).__name__, frames[-1].lineno]
print(json.dumps(out))
'''


def _run_cases(proj: Path, module: str, names: list[str]) -> dict[str, list | None]:
    """Call each function of ``module`` in a real interpreter with an empty environment: name -> [exception
    type, line in the module] or None."""
    proc = subprocess.run([sys.executable, "-c", _DRIVER, module, *names], cwd=proj, capture_output=True,
                          text=True, env={"PATH": os.environ["PATH"]}, check=True)
    return json.loads(proc.stdout)


def _functions(text: str) -> list[str]:
    return [line[4:].split("(")[0] for line in text.splitlines() if line.startswith("def ")]


ENV_CASES = '''\
import contextlib
import os


def set_then_read():
    os.environ["A1"] = "x"
    return os.environ["A1"]


def setdefault_then_read():
    os.environ.setdefault("A2", "x")
    return os.environ["A2"], os.getenv("A2", "localhost:1")


def update_then_read():
    os.environ.update({"A3": "x"}, A4="y")
    return os.environ["A3"], os.environ["A4"]


def merge_then_read():
    os.environ |= {"A5": "x"}
    return os.environ["A5"]


def set_in_both_branches(flag=False):
    if flag:
        os.environ["A6"] = "x"
    else:
        os.environ.setdefault("A6", "y")
    return os.environ["A6"]


def set_and_read_in_one_iteration(items=(1,)):
    for _ in items:
        os.environ["A7"] = "x"
        value = os.environ["A7"]
    return value


def set_in_with():
    with open(os.devnull) as f:
        os.environ["A8"] = f.name
    return os.environ["A8"]


def setdefault_in_an_expression():
    prefix = os.environ.setdefault("A9", "svc") + "-"
    return prefix, os.environ["A9"]


def every_case_of_a_match(kind="b"):
    match kind:
        case "a":
            os.environ["A10"] = "x"
        case _:
            os.environ["A10"] = "y"
    return os.environ["A10"]


def read_before_set():
    value = os.environ["B1"]
    os.environ["B1"] = "x"
    return value


def set_in_one_branch(flag=False):
    if flag:
        os.environ["B2"] = "x"
    return os.environ["B2"]


def putenv_then_read():
    os.putenv("B3", "x")
    return os.environ["B3"]


def set_in_a_loop_that_may_not_run(items=()):
    for _ in items:
        os.environ["B4"] = "x"
    return os.environ["B4"]


def set_then_pop():
    os.environ["B5"] = "x"
    os.environ.pop("B5")
    return os.environ["B5"]


def set_then_delete():
    os.environ["B6"] = "x"
    del os.environ["B6"]
    return os.environ["B6"]


def set_in_a_part_that_may_not_run(flag=False):
    flag and os.environ.setdefault("B7", "x")
    return os.environ["B7"]


def set_after_what_may_raise():
    try:
        int("not a number")
        os.environ["B8"] = "x"
    except ValueError:
        pass
    return os.environ["B8"]


def set_under_suppress():
    with contextlib.suppress(ValueError):
        int("not a number")
        os.environ["B9"] = "x"
    return os.environ["B9"]


def read_and_set_in_one_statement():
    os.environ["B10"] = os.environ["B10"].strip()


def update_from_a_mapping(values=None):
    os.environ.update(values or {})
    return os.environ["B11"]


def set_in_a_while_that_may_not_run():
    n = 0
    while n < 0:
        os.environ["B12"] = "x"
        n += 1
    return os.environ["B12"]


def some_cases_of_a_match(kind="c"):
    match kind:
        case "a":
            os.environ["B13"] = "x"
        case "b":
            os.environ["B13"] = "y"
    return os.environ["B13"]


def set_then_clear():
    os.environ["B14"] = "x"
    os.environ.clear()
    return os.environ["B14"]


def set_in_the_else_of_a_loop_that_breaks(items=(1,)):
    for _ in items:
        break
    else:
        os.environ["B15"] = "x"
    return os.environ["B15"]


def set_in_finally():
    try:
        int("1")
    finally:
        os.environ["A11"] = "x"
    return os.environ["A11"]


def set_in_the_else_of_a_try():
    try:
        int("1")
    except ValueError:
        return None
    else:
        os.environ["A12"] = "x"
    return os.environ["A12"]


def set_where_the_handler_leaves():
    try:
        os.environ["A13"] = "x"
    except OSError:
        raise
    return os.environ["A13"]
'''


def test_environment_writes_before_a_read_agree_with_the_interpreter(tmp_path):
    proj = write_tree(tmp_path / "svc", {"envcases.py": ENV_CASES})
    empty = tmp_path / "empty.env"
    empty.write_text("# nothing\n")
    code, doc, err = config(proj, "--env", "staging", "--env-file", empty, "--entry", "envcases")
    assert code == 1, err
    found = [(f["code"], f["line"], f["symbol"]) for f in doc["findings"]]
    lines = {n: i + 1 for i, n in enumerate(ENV_CASES.splitlines())}
    expected = [("DC402", lines[f'    {text}'], name) for text, name in [
        ('value = os.environ["B1"]', "B1"),
        ('return os.environ["B2"]', "B2"),
        ('return os.environ["B3"]', "B3"),
        ('return os.environ["B4"]', "B4"),
        ('return os.environ["B5"]', "B5"),
        ('return os.environ["B6"]', "B6"),
        ('return os.environ["B7"]', "B7"),
        ('return os.environ["B8"]', "B8"),
        ('return os.environ["B9"]', "B9"),
        ('os.environ["B10"] = os.environ["B10"].strip()', "B10"),
        ('return os.environ["B11"]', "B11"),
        ('return os.environ["B12"]', "B12"),
        ('return os.environ["B13"]', "B13"),
        ('return os.environ["B14"]', "B14"),
        ('return os.environ["B15"]', "B15"),
    ]]
    assert found == expected
    # the oracle: exactly the reported reads raise KeyError; every other case runs
    outcome = _run_cases(proj, "envcases", _functions(ENV_CASES))
    raised = sorted((o[1], o[0]) for o in outcome.values() if o is not None)
    assert raised == [(line, "KeyError") for _c, line, _n in expected]
    settings = {s["name"]: s for s in doc["settings"]}
    assert settings["A2"]["status"] == "default"  # os.getenv's localhost default is not used: no DC403
    assert [r["via"] for r in settings["A2"]["reads"]] == ["os.environ.setdefault", "os.environ[]",
                                                           "os.getenv"]


CFG_CASES = '''\
import contextlib
import types


class LegacyConfig:
    def __init__(self):
        self.db_host = "db"
        self.db_pool = 5


class UnifiedConfig:
    region = "eu"

    def __init__(self):
        self.db_pool_size = 10


def load_legacy() -> LegacyConfig:
    return LegacyConfig()


def get_unified_config() -> UnifiedConfig:
    return UnifiedConfig()


CFG = load_legacy()
HOST = CFG.db_host
CFG = get_unified_config()
POOL = CFG.db_pool_size


class Handler:
    cfg = get_unified_config()
    size = cfg.db_pool_size


def reads_belong_to_each_assignment():
    cfg = load_legacy()
    host = cfg.db_host
    cfg = get_unified_config()
    return host, cfg.db_pool_size


def legacy_name_after_the_rebinding():
    cfg = load_legacy()
    pool = cfg.db_pool
    cfg = get_unified_config()
    return pool, cfg.db_pool


def read_before_the_rebinding():
    cfg = get_unified_config()
    size = cfg.db_pool_sise
    cfg = load_legacy()
    return size


def one_class_in_either_branch(flag=True):
    if flag:
        cfg = load_legacy()
    else:
        cfg = get_unified_config()
    return cfg.db_host


def same_class_on_every_path(flag=False):
    cfg = get_unified_config()
    if flag:
        cfg = get_unified_config()
    return cfg.regoin


def not_a_config_on_some_path(flag=True):
    cfg = get_unified_config()
    if flag:
        cfg = types.SimpleNamespace(db_host="db")
    return cfg.db_host


def through_an_alias():
    cfg = get_unified_config()
    current = cfg
    return current.db_pool


def rebound_in_a_loop(batches=(1, 2)):
    cfg = load_legacy()
    for _ in batches:
        cfg.db_pool
        cfg = get_unified_config()


def rebound_in_a_try():
    cfg = load_legacy()
    try:
        cfg = get_unified_config()
    except RuntimeError:
        pass
    return cfg.db_pool_size


def assigned_in_a_condition():
    if (cfg := get_unified_config()) is not None:
        return cfg.db_host


def a_comprehension_has_its_own_variable():
    cfg = get_unified_config()
    hosts = [cfg.db_host for cfg in [load_legacy()]]
    return hosts, cfg.db_pool_size


def read_by_a_closure():
    cfg = get_unified_config()

    def inner():
        return cfg.db_pool

    return inner()


def closure_sees_any_later_value():
    cfg = load_legacy()

    def inner():
        return cfg.region

    cfg = get_unified_config()
    return inner()


def a_global_holds_every_module_value():
    return CFG.region


_current = None


def a_global_set_by_a_function():
    global _current
    _current = get_unified_config()
    return _current.region


def rebound_in_finally():
    cfg = load_legacy()
    try:
        int("1")
    finally:
        cfg = get_unified_config()
    return cfg.db_host


def rebound_under_suppress():
    cfg = load_legacy()
    with contextlib.suppress(RuntimeError):
        cfg = get_unified_config()
    return cfg.db_pool_size


def rebound_by_a_nested_function():
    cfg = get_unified_config()

    def swap():
        nonlocal cfg
        cfg = load_legacy()

    swap()
    return cfg.db_host


def rebound_unless_the_loop_breaks(items=(1,)):
    cfg = get_unified_config()
    for _ in items:
        break
    else:
        cfg = load_legacy()
    return cfg.region
'''


def test_config_objects_follow_statement_order_and_agree_with_the_interpreter(tmp_path):
    proj = write_tree(tmp_path / "svc", {"cfgcases.py": CFG_CASES})
    empty = tmp_path / "empty.env"
    empty.write_text("# nothing\n")
    code, doc, err = config(proj, "--env", "staging", "--env-file", empty, "--entry", "cfgcases")
    assert code == 1, err
    lines = {n.strip(): i + 1 for i, n in enumerate(CFG_CASES.splitlines())}
    found = [(f["line"], f["symbol"], f["message"].split(", read as ")[1]) for f in doc["findings"]]
    assert found == [
        (lines["return pool, cfg.db_pool"], "db_pool",
         "cfg.db_pool (= get_unified_config()); did you mean `db_pool_size`?"),
        (lines["size = cfg.db_pool_sise"], "db_pool_sise",
         "cfg.db_pool_sise (= get_unified_config()); did you mean `db_pool_size`?"),
        (lines["return cfg.regoin"], "regoin", "cfg.regoin (= get_unified_config()); did you mean `region`?"),
        (lines["return current.db_pool"], "db_pool", "current.db_pool (= get_unified_config()); did you mean "
                                                     "`db_pool_size`?"),
        (_line_after(CFG_CASES, "def assigned_in_a_condition", 2), "db_host",
         "cfg.db_host (= get_unified_config())"),
        (_line_after(CFG_CASES, "def read_by_a_closure", 4), "db_pool",
         "cfg.db_pool; did you mean `db_pool_size`?"),
        (_line_after(CFG_CASES, "def rebound_in_finally", 6), "db_host",
         "cfg.db_host (= get_unified_config())"),
    ]
    assert {f["code"] for f in doc["findings"]} == {"DC401"}
    # the oracle: every reported read raises AttributeError there; the one read that raises unreported is in
    # a loop, where a later iteration sees a later assignment (loops are followed conservatively)
    outcome = _run_cases(proj, "cfgcases", _functions(CFG_CASES))
    raised = {o[1] for o in outcome.values() if o is not None}
    assert {o[0] for o in outcome.values() if o is not None} == {"AttributeError"}
    assert raised - {line for line, _s, _m in found} == {_line_after(CFG_CASES, "def rebound_in_a_loop", 3)}
    assert {line for line, _s, _m in found} <= raised


def _line_after(text: str, start: str, offset: int) -> int:
    return next(i + 1 for i, line in enumerate(text.splitlines()) if line.startswith(start)) + offset


def test_settings_fields_set_before_every_instantiation(tmp_path):
    """A pydantic-settings field is provided by the code only when every instantiation of the model comes
    after code that sets it; the real pydantic-settings agrees."""
    settings = '''\
import os

from pydantic_settings import BaseSettings


class WorkerSettings(BaseSettings):
    queue_name: str
    broker_url: str


class ApiSettings(BaseSettings):
    bind: str


def worker_settings() -> WorkerSettings:
    os.environ.setdefault("QUEUE_NAME", "default")
    return WorkerSettings()


def cli_settings() -> WorkerSettings:
    return WorkerSettings()


def api_settings() -> ApiSettings:
    os.environ["BIND"] = "0.0.0.0:8000"
    return ApiSettings()
'''
    proj = write_tree(tmp_path / "svc", {"svc/__init__.py": "", "svc/settings.py": settings,
                                         "svc/main.py": "from svc import settings\n"})
    empty = tmp_path / "empty.env"
    empty.write_text("# nothing\n")
    code, doc, err = config(proj, "--env", "staging", "--env-file", empty, "--entry", "svc.main")
    assert code == 1, err
    # QUEUE_NAME: cli_settings() creates the model without setting it first
    assert sorted(f["symbol"] for f in doc["findings"]) == ["BROKER_URL", "QUEUE_NAME"]
    status = {s["name"]: s["status"] for s in doc["settings"]}
    assert status["BIND"] == "set by the code"
    python = venv(["pydantic-settings>=2.3,<3"])
    probe = ("import sys, svc.settings as s\ntry:\n    getattr(s, sys.argv[1])()\n    print('ok')\n"
             "except Exception as e:\n    print(sorted(x['loc'][0] for x in e.errors()))\n")
    missing = {}
    for name in ("worker_settings", "cli_settings", "api_settings"):  # each in a fresh environment
        real = subprocess.run([python, "-c", probe, name], cwd=proj, capture_output=True, text=True,
                              env={"PATH": os.environ["PATH"]}, check=True)
        missing[name] = real.stdout.strip()
    assert missing == {"worker_settings": "['broker_url']", "cli_settings": "['broker_url', 'queue_name']",
                       "api_settings": "ok"}


def test_deep_expressions_are_scanned_and_unparsable_modules_are_named(tmp_path):
    """A 2,900-term expression parses and runs; its module's reads are still found. A module that does not
    parse is named on stderr (its reads are not known), never skipped in silence."""
    long_sum = " + ".join(["1"] * 2900)
    proj = write_tree(tmp_path / "svc", {
        "svc/__init__.py": "",
        "svc/main.py": "import svc.generated\nimport svc.broken\n",
        "svc/generated.py": f'import os\n\nTOTAL = {long_sum}\nTOKEN = os.environ["API_TOKEN"]\n',
        "svc/broken.py": 'import os\nURL = os.environ["BROKEN_URL"\n',
    })
    assert subprocess.run([sys.executable, "-c", "import svc.generated"], cwd=proj, capture_output=True,
                          env={"PATH": os.environ["PATH"], "API_TOKEN": "t"}).returncode == 0
    empty = tmp_path / "empty.env"
    empty.write_text("# nothing\n")
    code, doc, err = config(proj, "--env", "staging", "--env-file", empty, "--entry", "svc.main")
    assert code == 1, err
    assert brief(doc, proj) == [("DC402", "svc/generated.py", 4, "API_TOKEN")]
    broken = proj / "svc" / "broken.py"
    assert err == (f"deploycheck: warning: {broken}: not parsed (`deploycheck check` says why): its reads "
                   "are not known\n")
