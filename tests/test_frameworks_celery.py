"""The Celery loader (``frameworks/celery.py``) on fixture projects, with a real Celery (pinned, in a cached
environment) as the oracle: each breakage is checked by deploycheck from the app module, then the worker's
boot is run by the interpreter (``app.loader.import_default_modules()``, what ``celery worker`` runs before
it takes a task) and must fail at the file and line of the finding."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FIXTURES, check, venv

pytestmark = pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="fixtures state facts of Python 3.11")

# Celery 5.7 with its dependencies, flower (a celery.commands plugin), Django (the fix-up) and pluggy.
PINS = ["amqp==5.4.2", "billiard==4.3.2", "celery==5.7.0", "click==8.5.1", "click-didyoumean==0.3.1",
        "click-plugins==1.1.1.2", "click-repl==0.4.1", "flower==2.2.0", "humanize==4.17.0", "kombu==5.7.0",
        "prometheus_client==0.26.0", "prompt_toolkit==3.0.53", "python-dateutil==2.9.0.post0",
        "pytz==2026.6", "setuptools==65.5.0", "six==1.17.0", "tornado==6.6.1", "typing_extensions==4.16.0",
        "tzlocal==5.4.5", "vine==5.1.0", "wcwidth==0.9.4", "Django==5.2.19", "asgiref==3.13.0",
        "sqlparse==0.6.1", "pluggy==1.7.0"]
HERE = FIXTURES / "frameworks" / "celery"

# What the worker's boot runs, in the service's interpreter, from the project directory (its working
# directory: ``celery`` puts it first on the path). Prints the failure's last frame inside the project.
BOOT = """
import json, os, sys, traceback
sys.path.insert(0, os.getcwd())
module, _, attr = sys.argv[1].partition(":")
try:
    app = getattr(__import__(module, fromlist=[attr]), attr)
    if os.environ.get("DJANGO_SETTINGS_MODULE"):
        import django
        django.setup()  # Celery's Django fix-up does this when the worker starts
    app.loader.import_default_modules()
    print(json.dumps({"modules": sorted(sys.modules)}))
except Exception as e:
    frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename.startswith(os.getcwd() + "/")]
    f = frames[-1]
    print(json.dumps({"type": type(e).__name__, "at": f"{os.path.relpath(f.filename)}:{f.lineno}"}))
"""


@pytest.fixture(scope="module")
def python():
    return venv(PINS, no_deps=True)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("summaries")  # Celery's own files parsed once for the whole module


def boot(python: str, project: Path, app: str) -> dict:
    proc = subprocess.run([python, "-c", BOOT, app], cwd=project, capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])


def copy(name: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(HERE / name, tmp_path / name))


def findings(result, root: Path) -> list[tuple]:
    return [(f.code, f"{Path(f.path).relative_to(root)}:{f.line}", f.severity, f.when,
             [(h.module, h.line, h.step) for h in f.chain]) for f in result.findings]


def edit(project: Path, path: str, old: str, new: str) -> None:
    file = project / path
    text = file.read_text()
    assert old in text
    file.write_text(text.replace(old, new))


def test_the_worker_boot_is_in_the_closure(python, cache, tmp_path):
    project = copy("plain", tmp_path)
    result = check(project, python, ["proj.celery"], cache)
    assert result.findings == []
    booted = {m for m in boot(python, project, "proj.celery:app")["modules"] if m.split(".")[0] in
              ("proj", "shop", "billing")}
    assert booted <= set(result.closure)  # every module the worker's boot imported
    reached = {m: result.closure[m] for m in ("proj.jobs", "proj.reports", "shop.tasks")}
    assert reached == {m: ("project", 0) for m in reached}  # unshielded: their failures crash the boot


def test_what_the_loader_says(python):
    """Every edge and start-up call, exactly: include, config_from_object and its imports, autodiscovery (a
    package without ``tasks`` is tolerated), beat's task name (when the entry fires), the boot signal."""
    from deploycheck import frameworks
    from deploycheck.artifact.files import HostFiles
    from deploycheck.check import open_program, target_interpreter
    from deploycheck.frameworks.base import CALL, STARTUP, Edge, StartupCall
    from deploycheck.target.project import open_project

    project = open_project(str(HERE / "plain"))
    program, _ = open_program(target_interpreter(project, python), project.roots, HostFiles(), None, True)
    try:
        frameworks.close(program, ["proj.celery"])
    finally:
        program.store.close()
    assert sorted(program.edges, key=repr) == sorted([
        Edge("proj.celery", "proj.celeryconfig", 5, "celery config_from_object: proj.celeryconfig", STARTUP),
        Edge("proj.celeryconfig", "proj.reports", 2, "celery worker boot: imports", STARTUP),
        Edge("proj.celery", "proj.jobs", 4, "celery worker boot: include", STARTUP),
        Edge("proj.celery", "shop", 6, "autodiscover_tasks(): shop", STARTUP),
        Edge("proj.celery", "shop.tasks", 6, "autodiscover_tasks(): shop.tasks", STARTUP, optional=True),
        Edge("proj.celery", "billing", 6, "autodiscover_tasks(): billing", STARTUP),
        Edge("proj.celeryconfig", "proj.reports", 4, "celery beat schedule: a task of proj.reports", CALL,
             "nightly"),
    ], key=repr)
    assert program.calls == [StartupCall("proj.celery", "load_hooks", "proj.celery", 10,
                                         "celery worker boot: import_modules signal", STARTUP)]


BREAKAGES = [
    pytest.param("plain", "proj/text.py", "def slugify(", "def make_slug(",
                 [("DC102", "proj/jobs.py:2", "error", "startup",
                   [("proj.celery", 4, "celery worker boot: include")])],
                 ("ImportError", "proj/jobs.py:2"), id="include"),
    pytest.param("plain", "shop/orders.py", None, None,
                 [("DC101", "shop/tasks.py:3", "error", "startup",
                   [("proj.celery", 6, "autodiscover_tasks(): shop.tasks")])],
                 ("ModuleNotFoundError", "shop/tasks.py:3"), id="autodiscover"),
    pytest.param("plain", "proj/formats.py", "def as_csv(", "def to_csv(",
                 [("DC102", "proj/reports.py:2", "error", "startup",
                   [("proj.celery", 5, "celery config_from_object: proj.celeryconfig"),
                    ("proj.celeryconfig", 2, "celery worker boot: imports")])],
                 ("ImportError", "proj/reports.py:2"), id="config-imports"),
    pytest.param("django", "orders/pricing.py", None, None,
                 [("DC101", "orders/tasks.py:3", "error", "startup",
                   [("shopsite.celery_app", 9, "autodiscover_tasks(): orders.tasks")])],
                 ("ModuleNotFoundError", "orders/tasks.py:3"), id="django-installed-apps"),
    pytest.param("django", "shopsite/clock.py", "def today(", "def now(",
                 [("DC102", "shopsite/periodic.py:3", "error", "startup",
                   [("shopsite.celery_app", 5, "DJANGO_SETTINGS_MODULE"),
                    ("shopsite.settings", 8, "celery worker boot: imports")])],
                 ("ImportError", "shopsite/periodic.py:3"), id="django-celery-imports"),
    # split settings (``from .base import *``), read by Django's settings evaluator
    pytest.param("djsplit", "invoices/pdf.py", None, None,
                 [("DC101", "invoices/tasks.py:3", "error", "startup",
                   [("site_cfg.celery", 9, "autodiscover_tasks(): invoices.tasks")])],
                 ("ModuleNotFoundError", "invoices/tasks.py:3"), id="split-settings-installed-apps"),
    # the task module an environment variable's default names fails too, unless the environment names another
    pytest.param("djsplit", "site_cfg/numbers.py", "def total(", "def add_up(",
                 [("DC102", "site_cfg/jobs.py:3", "error", "startup",
                   [("site_cfg.celery", 5, "DJANGO_SETTINGS_MODULE"), ("site_cfg.settings.production", 3, ""),
                    ("site_cfg.settings.base", 7, "celery worker boot: imports")]),
                  ("DC102", "site_cfg/nightly.py:3", "warning", "startup",
                   [("site_cfg.celery", 5, "DJANGO_SETTINGS_MODULE"),
                    ("site_cfg.settings.production", 6, "celery worker boot: imports")])],
                 ("ImportError", "site_cfg/jobs.py:3"), id="split-settings-celery-imports"),
    # an app installed only when the environment says so: not certain to be discovered, and it is not here
    pytest.param("djsplit", "exports/writer.py", None, None,
                 [("DC101", "exports/tasks.py:3", "warning", "startup",
                   [("site_cfg.celery", 9, "autodiscover_tasks(): exports.tasks")])],
                 (None, None), id="split-settings-app-maybe-installed"),
]
APPS = {"plain": ("proj.celery", "proj.celery:app"),
        "django": ("shopsite.celery_app", "shopsite.celery_app:app"),
        "djsplit": ("site_cfg.celery", "site_cfg.celery:app")}


@pytest.mark.parametrize(("fixture", "path", "old", "new", "expected", "crash"), BREAKAGES)
def test_breakage_fails_the_boot_where_reported(python, cache, tmp_path, fixture, path, old, new, expected,
                                                crash):
    project = copy(fixture, tmp_path)
    if old is None:
        (project / path).unlink()
    else:
        edit(project, path, old, new)
    entry, app = APPS[fixture]
    assert findings(check(project, python, [entry], cache), project) == expected
    got = boot(python, project, app)
    assert (got.get("type"), got.get("at")) == crash


def test_django_app_names_come_from_their_app_config(python, cache):
    """``autodiscover_tasks()`` without packages: Celery's Django fix-up hands it each installed app's
    ``AppConfig.name`` (``orders`` for ``orders.apps.OrdersConfig``); the worker imports ``orders.tasks``."""
    result = check(HERE / "django", python, ["shopsite.celery_app"], cache)
    assert result.findings == []
    assert {"orders.tasks", "mailing.tasks", "shopsite.periodic"} <= set(result.closure)
    booted = boot(python, HERE / "django", "shopsite.celery_app:app")["modules"]
    assert {"orders.tasks", "mailing.tasks", "shopsite.periodic"} <= set(booted)


def test_an_app_a_web_process_imports_boots_no_worker(python, cache, tmp_path):
    """Only a module started as the worker's app (an entry, or ``celery -A``) boots: a web entry importing the
    app module does not import the task modules, so their failures are not its failures."""
    project = copy("plain", tmp_path)
    (project / "web.py").write_text("from proj import celery_app\n\napplication = object()\n")
    (project / "shop" / "orders.py").unlink()
    result = check(project, python, ["web"], cache)
    assert result.findings == [] and "shop.tasks" not in result.closure


def test_a_huge_literal_is_not_followed():
    import ast

    from deploycheck.frameworks.literals import MAX_ITEMS, UNKNOWN, top_level

    items = ", ".join(f'"m{i}"' for i in range(MAX_ITEMS + 1))
    code = f"imports = [{items}]\ninclude = ['a'] * 2\nsmall = ['a']\nsmall += ['b']\n"
    values = top_level(ast.parse(code).body)
    assert values == {"imports": UNKNOWN, "include": UNKNOWN,
                      "small": ("seq", [("s", "a", 3), ("s", "b", 4)])}


def test_split_django_settings_feed_the_worker_boot(python, cache):
    """``config_from_object("django.conf:settings", namespace="CELERY")`` and ``autodiscover_tasks()`` read
    the settings as Django's loader evaluates them: ``INSTALLED_APPS`` and ``CELERY_IMPORTS`` extended in a
    module that star-imports the base settings, an environment variable's default, a beat schedule."""
    result = check(HERE / "djsplit", python, ["site_cfg.celery"], cache)
    assert result.findings == []
    booted = {m for m in boot(python, HERE / "djsplit", "site_cfg.celery:app")["modules"]
              if m.split(".")[0] in ("site_cfg", "catalog", "invoices", "exports")}
    assert booted == {"site_cfg", "site_cfg.celery", "site_cfg.settings", "site_cfg.settings.base",
                      "site_cfg.settings.production", "site_cfg.jobs", "site_cfg.nightly", "site_cfg.numbers",
                      "catalog", "catalog.apps", "catalog.tasks", "catalog.feed", "invoices", "invoices.tasks",
                      "invoices.pdf"}
    assert booted <= set(result.closure)
    # only what is certain to be loaded carries an unshielded chain
    unshielded = {m for m, (_, shield) in result.closure.items() if shield == 0}
    assert {"site_cfg.jobs", "catalog.tasks", "invoices.tasks", "invoices.pdf"} <= unshielded
    assert not {"site_cfg.nightly", "exports.tasks", "exports.writer"} & unshielded


def test_installed_apps_as_written_are_what_a_lambda_hands_over(python, cache, tmp_path):
    """``autodiscover_tasks(lambda: settings.INSTALLED_APPS)`` gets the entries as written: for
    ``catalog.apps.CatalogConfig`` Celery looks for ``catalog.apps.tasks`` (one level up from a name that is
    no module), so ``catalog.tasks`` is not imported at boot; only the beat schedule names it, when its entry
    fires."""
    project = copy("djsplit", tmp_path)
    edit(project, "site_cfg/celery.py", "from celery import Celery\n",
         "from celery import Celery\nfrom django.conf import settings\n")
    edit(project, "site_cfg/celery.py", "app.autodiscover_tasks()",
         "app.autodiscover_tasks(lambda: settings.INSTALLED_APPS)")
    (project / "catalog" / "feed.py").unlink()
    assert findings(check(project, python, ["site_cfg.celery"], cache), project) == [
        ("DC101", "catalog/tasks.py:3", "error", "call",
         [("site_cfg.celery", 6, "DJANGO_SETTINGS_MODULE"), ("site_cfg.settings.production", 3, ""),
          ("site_cfg.settings.base", 9, "celery beat schedule: a task of catalog.tasks")])]
    got = boot(python, project, "site_cfg.celery:app")
    assert "type" not in got and "catalog.tasks" not in got["modules"] and "invoices.tasks" in got["modules"]


def test_the_settings_object_itself_is_django_settings_too(python, cache, tmp_path):
    """``config_from_object(settings)`` with ``from django.conf import settings``: the same settings."""
    project = copy("djsplit", tmp_path)
    edit(project, "site_cfg/celery.py", "from celery import Celery\n",
         "from celery import Celery\nfrom django.conf import settings\n")
    edit(project, "site_cfg/celery.py", 'config_from_object("django.conf:settings"', "config_from_object(settings")
    edit(project, "site_cfg/numbers.py", "def total(", "def add_up(")
    assert [f[:3] for f in findings(check(project, python, ["site_cfg.celery"], cache), project)] == [
        ("DC102", "site_cfg/jobs.py:3", "error"), ("DC102", "site_cfg/nightly.py:3", "warning")]
    got = boot(python, project, "site_cfg.celery:app")
    assert (got.get("type"), got.get("at")) == ("ImportError", "site_cfg/jobs.py:3")
