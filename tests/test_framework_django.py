"""The Django loader (frameworks/django.py) and DC106 on a fixture project (tests/fixtures/frameworks/django:
split settings with star imports, apps with ``AppConfig.ready()``, URLconfs with ``include`` strings, template
tags, middleware, a logging handler class, a management command), checked against a real Django 5.2.

The interpreter is the oracle: the project copy is started as a WSGI server starts it (``import proj.wsgi``:
``django.setup()`` and the handler's middleware), then as its first request loads it (the URLconf with its
includes resolved, the template engines with their tag libraries and context processors, authentication
backends, password hashers, database, cache, session and storage backends), or a management command is
loaded as ``manage.py COMMAND`` does; each breakage must fail exactly where deploycheck reports its error, in
the phase it says.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FIXTURES, check, venv

FIXTURE = FIXTURES / "frameworks" / "django"
DJANGO = ["Django==5.2.19", "asgiref==3.13.0", "sqlparse==0.6.1"]

pytestmark = pytest.mark.skipif(sys.version_info[:2] != (3, 11),
                                reason="the Django environment is pinned for 3.11")

# Run by the project's interpreter in the project copy: the start, then the first request, or one command.
_ORACLE = r"""
import importlib, json, os, sys, traceback
out, what = sys.argv[1], sys.argv[2]
root = os.getcwd()
sys.path.insert(0, root)
state = {"step": None, "failure": None}

def project_frame(exc):
    chain, seen = [], set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    where = None
    for e in chain:
        frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename.startswith(root + os.sep)]
        if frames:
            where = [os.path.relpath(frames[-1].filename, root), frames[-1].lineno]
    return where, " | ".join(f"{type(e).__name__}: {e}" for e in chain)

def first_request():
    from django.conf import settings
    from django.urls import URLPattern, URLResolver, get_resolver
    def walk(patterns):
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns)
            elif isinstance(p, URLPattern):
                p.lookup_str
    walk(get_resolver().url_patterns)
    from django.template import engines
    for engine in engines.all():
        engine.engine.template_context_processors
    from django.contrib.auth import get_backends
    from django.contrib.auth.hashers import get_hashers
    from django.core.cache import caches
    from django.core.files.storage import default_storage
    from django.db import connections
    from django.utils.module_loading import import_string
    get_backends()
    get_hashers()
    for alias in settings.DATABASES:
        connections[alias]
    for alias in settings.CACHES:
        caches[alias]
    importlib.import_module(settings.SESSION_ENGINE)
    import_string(settings.MESSAGE_STORAGE)
    default_storage._setup()

try:
    if what.startswith("command:"):
        state["step"] = "call"
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")
        import django
        django.setup()
        from django.core.management import get_commands, load_command_class
        name = what.split(":", 1)[1]
        load_command_class(get_commands()[name], name)
    else:
        state["step"] = "startup"
        importlib.import_module("proj.wsgi")
        state["step"] = "request"
        first_request()
except Exception as e:
    where, text = project_frame(e)
    state["failure"] = {"where": where, "message": text[:2000]}
with open(out, "w") as f:
    json.dump(state, f)
"""


@pytest.fixture(scope="module")
def django_python():
    return venv(DJANGO, no_deps=True)


@pytest.fixture(scope="module")
def summaries(tmp_path_factory):
    # one summary cache for the module's checks: Django is parsed once
    return tmp_path_factory.mktemp("summaries")


def checked(root: Path, python: str, entries: list[str], cache: Path):
    return check(root, python, entries, cache)


def project(tmp_path: Path, edits: dict[str, tuple[str, str] | None]) -> Path:
    """A copy of the fixture with ``edits`` applied: ``{path: (old, new)}`` replaces the first ``old``,
    ``{path: None}`` deletes the file."""
    dest = tmp_path / "project"
    shutil.copytree(FIXTURE, dest)
    for rel, change in edits.items():
        path = dest / rel
        if change is None:
            path.unlink()
            continue
        old, new = change
        text = path.read_text()
        assert old in text, (rel, old)
        path.write_text(text.replace(old, new, 1))
    return dest


def started(python: str, root: Path, what: str = "wsgi") -> dict:
    out = root.parent / "oracle.json"
    env = {"PATH": os.environ.get("PATH", "/usr/bin"), "HOME": str(root.parent)}
    subprocess.run([python, "-c", _ORACLE, str(out), what], cwd=root, env=env, check=True, timeout=300,
                   capture_output=True)
    return json.loads(out.read_text())


def brief(result, root: Path) -> list[tuple]:
    from deploycheck.render.text import chain_text

    out = []
    for f in result.findings:
        chain = chain_text(f).replace(str(root) + "/", "")
        out.append((f.code, f.severity, f.when, os.path.relpath(f.path, root), f.line, f.symbol, f.message,
                    chain))
    return out


SETTINGS = "proj.wsgi (proj/wsgi.py:5) → DJANGO_SETTINGS_MODULE → proj.settings (proj/settings/__init__.py:1)"
SHOP = f"{SETTINGS} → proj.settings.base (proj/settings/base.py:16) → django.setup(): INSTALLED_APPS → shop"
URLS = f"{SETTINGS} → proj.settings.base (proj/settings/base.py:30) → first request: ROOT_URLCONF → proj.urls"


def test_the_clean_project_starts_and_has_no_finding(tmp_path, django_python, summaries):
    root = project(tmp_path, {})
    assert started(django_python, root) == {"step": "request", "failure": None}
    assert started(django_python, root, "command:restock")["failure"] is None
    for entries in (["proj.wsgi"], ["manage"], []):
        assert brief(checked(root, django_python, entries, summaries), root) == []


def test_the_closure_holds_what_django_loads(tmp_path, django_python, summaries):
    # the modules of the project that the start and the first request import (the interpreter's sys.modules)
    root = project(tmp_path, {})
    result = checked(root, django_python, ["proj.wsgi"], summaries)
    ours = {m: result.closure[m] for m in result.closure if m.split(".")[0] in ("proj", "shop", "blog")}
    assert set(ours) == {
        "proj", "proj.wsgi", "proj.settings", "proj.settings.base", "proj.settings.production", "proj.urls",
        "proj.views", "proj.middleware", "proj.logutil", "proj.reports", "proj.reports.models",
        "shop", "shop.apps", "shop.models", "shop.admin", "shop.signals", "shop.urls", "shop.views",
        "shop.templatetags", "shop.templatetags.shop_tags", "blog", "blog.apps", "blog.urls", "blog.views"}
    # every one on an unshielded chain: shop.signals too, imported inside ShopConfig.ready(), which
    # django.setup() calls (its body is start-up code)
    assert {m for m, (_, shield) in ours.items() if shield} == set()
    listed = subprocess.run(
        [django_python, "-c", ("import os, sys; sys.path.insert(0, os.getcwd()); import proj.wsgi\n"
         "from django.urls import get_resolver; get_resolver().url_patterns\n"
         "from django.template import engines; [e.engine.template_libraries for e in engines.all()]\n"
         "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in ('proj', 'shop', 'blog'))))")],
        cwd=root, capture_output=True, text=True, check=True, env={"PATH": os.environ.get("PATH", "")})
    assert set(listed.stdout.split()) == set(ours)


BREAKAGES = {
    "middleware class renamed": (
        {"proj/middleware.py": ("class TimingMiddleware", "class ElapsedMiddleware")},
        [("DC106", "error", "startup", "proj/settings/base.py", 27, "proj.middleware.TimingMiddleware",
          "MIDDLEWARE: module 'proj.middleware' has no attribute 'TimingMiddleware'",
          f"{SETTINGS} → proj.settings.base")],
        "startup", ["proj/wsgi.py", 7],
        'Module "proj.middleware" does not define a "TimingMiddleware" attribute/class'),
    "app config class misspelled": (
        {"proj/settings/base.py": ("blog.apps.BlogConfig", "blog.apps.BlogConf")},
        [("DC106", "error", "startup", "proj/settings/base.py", 17, "blog.apps.BlogConf",
          "django.setup(): INSTALLED_APPS: module 'blog.apps' has no attribute 'BlogConf'",
          f"{SETTINGS} → proj.settings.base")],
        "startup", ["proj/wsgi.py", 7], "Module 'blog.apps' does not contain a 'BlogConf' class"),
    "logging handler module deleted": (
        {"proj/logutil.py": None},
        [("DC106", "error", "startup", "proj/settings/base.py", 58, "proj.logutil",
          "django.setup(): LOGGING handlers: No module named 'proj.logutil'",
          f"{SETTINGS} → proj.settings.base")],
        "startup", ["proj/wsgi.py", 7], "No module named 'proj.logutil'"),
    "admin module of an app broken": (
        {"shop/admin.py": ("import Product", "import Item")},
        [("DC102", "error", "startup", "shop/admin.py", 3, "Item",
          "cannot import name 'Item' from 'shop.models' (shop/models.py)",
          f"{SHOP} → django.setup(): admin.autodiscover() → shop.admin"),
         ("DC201", "error", "startup", "shop/admin.py", 5, "Product", "name 'Product' is not defined",
          f"{SHOP} → django.setup(): admin.autodiscover() → shop.admin")],
        "startup", ["shop/admin.py", 3], "cannot import name 'Item'"),
    "view renamed, the URLconf not": (
        {"shop/views.py": ("def product_detail", "def product_view")},
        [("DC103", "error", "request", "shop/urls.py", 7, "product_detail",
          "module 'shop.views' (shop/views.py) has no attribute 'product_detail'",
          f"{URLS} (proj/urls.py:9) → include() → shop.urls")],
        "request", ["shop/urls.py", 7], "has no attribute 'product_detail'"),
    "include string misspelled": (
        {"proj/urls.py": ('include("shop.urls")', 'include("shop.url")')},
        [("DC106", "error", "request", "proj/urls.py", 9, "shop.url", "include(): No module named 'shop.url'",
          URLS)],
        "request", ["proj/urls.py", 9], "No module named 'shop.url'"),
    "template tag library broken": (
        {"shop/templatetags/shop_tags.py": ("import Product", "import Item")},
        [("DC102", "error", "request", "shop/templatetags/shop_tags.py", 3, "Item",
          "cannot import name 'Item' from 'shop.models' (shop/models.py)",
          f"{SHOP} → first request: template tag libraries → shop.templatetags.shop_tags"),
         ("DC201", "error", "call", "shop/templatetags/shop_tags.py", 10, "Product",
          "name 'Product' is not defined",
          f"{SHOP} → first request: template tag libraries → shop.templatetags.shop_tags")],
        "request", ["shop/templatetags/shop_tags.py", 3], "cannot import name 'Item'"),
    "cache backend default misspelled": (
        {"proj/settings/production.py": ("locmem.LocMemCache", "locmem.LocMemCach")},
        [("DC106", "warning", "request", "proj/settings/production.py", 14,
          "django.core.cache.backends.locmem.LocMemCach",
          ("first request: CACHES: module 'django.core.cache.backends.locmem' has no attribute 'LocMemCach' "
          "(the default of an environment variable)"),
          ("proj.wsgi (proj/wsgi.py:5) → DJANGO_SETTINGS_MODULE → "
          "proj.settings (proj/settings/__init__.py:2) → proj.settings.production"))],
        "request", None, "has no attribute 'LocMemCach'"),
}


@pytest.mark.parametrize("case", sorted(BREAKAGES))
def test_a_breakage_is_reported_where_the_started_service_fails(tmp_path, django_python, summaries, case):
    edits, expected, step, where, message = BREAKAGES[case]
    root = project(tmp_path, edits)
    assert brief(checked(root, django_python, ["proj.wsgi"], summaries), root) == expected
    got = started(django_python, root)
    assert got["step"] == step
    assert got["failure"]["where"] == where, got
    assert message in got["failure"]["message"], got
    # the first finding says when it fails; an import error is where the interpreter fails (a dotted path of
    # the settings is read by the framework's own code: the project frame is the line that set Django up)
    assert expected[0][2] == step
    if expected[0][0] != "DC106":
        assert [expected[0][3], expected[0][4]] == where


def test_a_breakage_of_a_management_command_fails_when_it_is_run(tmp_path, django_python, summaries):
    root = project(tmp_path, {"shop/management/commands/restock.py": ("import Product", "import Item")})
    chain = "manage (manage.py:8) → manage.py COMMAND → shop.management.commands.restock"
    assert brief(checked(root, django_python, ["manage"], summaries), root) == [
        ("DC102", "error", "call", "shop/management/commands/restock.py", 3, "Item",
         "cannot import name 'Item' from 'shop.models' (shop/models.py)", chain),
        ("DC201", "error", "call", "shop/management/commands/restock.py", 10, "Product",
         "name 'Product' is not defined", chain)]
    assert started(django_python, root) == {"step": "request", "failure": None}  # the server does not load it
    got = started(django_python, root, "command:restock")
    assert got["failure"]["where"] == ["shop/management/commands/restock.py", 3]
    # the web server's entry does not run commands
    assert brief(checked(root, django_python, ["proj.wsgi"], summaries), root) == []


def test_a_signals_module_that_ready_imports_fails_at_start_up(tmp_path, django_python, summaries):
    root = project(tmp_path, {"shop/signals.py": ("import Product", "import Item")})
    got = started(django_python, root)
    assert (got["step"], got["failure"]["where"]) == ("startup", ["shop/signals.py", 4])
    result = checked(root, django_python, ["proj.wsgi"], summaries)
    found = [(f.code, f.severity, f.when, f.line) for f in result.findings if f.path.endswith("signals.py")]
    assert ("DC102", "error", "startup", 4) in found


def test_two_settings_modules_named_make_nothing_certain(tmp_path, django_python, summaries):
    # which setdefault runs first decides (in one process, the first one to run wins): each is only possible,
    # so the settings' misses are not reported, and the closure still follows them (shielded)
    root = project(tmp_path, {"manage.py": ('"proj.settings"', '"proj.settings.base"'),
                              "proj/settings/base.py": ('"proj.middleware.TimingMiddleware"',
                                                        '"proj.gone.Gone"')})
    result = checked(root, django_python, ["proj.wsgi", "manage"], summaries)
    assert brief(result, root) == []
    assert result.closure["proj.urls"] == ("project", 2)


def test_the_installed_apps_and_settings_other_loaders_read(tmp_path, django_python, summaries):
    # Celery's autodiscover_tasks() and config_from_object("django.conf:settings") read these
    from deploycheck import frameworks
    from deploycheck.artifact.files import HostFiles
    from deploycheck.check import open_program
    from deploycheck.environment import interpreter
    from deploycheck.frameworks import django as loader
    from deploycheck.frameworks.values import strings
    from deploycheck.target.project import open_project

    root = project(tmp_path, {})
    program, _ = open_program(interpreter.probe(django_python), open_project(str(root)).roots, HostFiles(),
                              None, True)
    try:
        frameworks.close(program, ["proj.wsgi"])
        apps = loader.installed_apps(program)
        (settings, basis), = loader.settings(program)
    finally:
        program.store.close()
    assert apps == [("django.contrib.admin", "certain"), ("django.contrib.auth", "certain"),
                    ("django.contrib.contenttypes", "certain"), ("django.contrib.sessions", "certain"),
                    ("django.contrib.messages", "certain"), ("shop", "certain"), ("blog", "certain"),
                    ("proj.reports", "certain")]
    assert (settings.module, basis) == ("proj.settings", "certain")
    assert [s for s, _, _ in strings(settings.value("ROOT_URLCONF"))] == ["proj.urls"]
    # the start-up calls Django makes: each app configuration's ready() that some class of it defines
    assert sorted((c.module, c.qualname) for c in program.calls) == [
        ("django.contrib.admin.apps", "AdminConfig.ready"), ("django.contrib.auth.apps", "AuthConfig.ready"),
        ("django.contrib.contenttypes.apps", "ContentTypesConfig.ready"),
        ("django.contrib.messages.apps", "MessagesConfig.ready"), ("shop.apps", "ShopConfig.ready")]


# -- manage.py COMMAND in an image's command ------------------------------------------------------------------
# The image: Debian's Python 3.11 (test_image_check), the pinned Django copied from the test environment, and
# the fixture project under /srv/app. The oracle is the project run as the command runs it, on the host:
# ``manage.py COMMAND --help`` loads the command's class without running it.


@pytest.fixture(scope="module")
def image_layers(django_python):
    from test_image_check import BINARY, STDLIB, _python_layer
    from test_image_layers import _tar

    if not (os.path.isdir(STDLIB) and os.path.exists(BINARY)):
        pytest.skip("needs Debian's python3.11 files")
    site = subprocess.run([django_python, "-c", "import django, os; print(os.path.dirname(django.__path__[0]))"],
                          capture_output=True, text=True, check=True).stdout.strip()
    members = [("usr/local/bin/django-admin", "file",
                (b"#!/usr/bin/python3\nimport sys\nfrom django.core.management import execute_from_command_line\n"
                b"sys.exit(execute_from_command_line())\n"))]
    dist_info = [d for d in os.listdir(site) if d.startswith("django-") and d.endswith(".dist-info")]
    for top in ("django", "asgiref", "sqlparse", *dist_info):
        for dirpath, dirnames, filenames in os.walk(os.path.join(site, top)):
            dirnames[:] = [d for d in dirnames if d != "__pycache__"]
            for name in filenames:
                full = os.path.join(dirpath, name)
                rel = os.path.relpath(full, site)
                members.append((f"usr/lib/python3/dist-packages/{rel}", "file", Path(full).read_bytes()))
    return [_python_layer(), _tar(members)]


def command_image(tmp_path: Path, layers: list[bytes], root: Path, cmd: list[str]) -> str:
    from test_image_layers import _tar, oci_layout

    app = [(f"srv/app/{p.relative_to(root)}", "file", p.read_bytes()) for p in sorted(root.rglob("*.py"))]
    layout = tmp_path / "layout"
    oci_layout(layout, [*layers, _tar(app)],
               config={"Env": ["PATH=/usr/local/bin:/usr/bin:/bin"], "WorkingDir": "/srv/app", "Cmd": cmd})
    return f"oci:{layout}"


def run_command(python: str, root: Path, command: str) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ.get("PATH", "/usr/bin"), "HOME": str(root.parent)}
    return subprocess.run([python, "manage.py", command, "--help"], cwd=root, env=env, capture_output=True,
                          text=True, timeout=300, check=False)


def image_findings(target: str, cache: Path) -> list[tuple]:
    from conftest import cli_json

    _, doc = cli_json("check", target, "--cache-dir", cache)
    return [(f["code"], f["severity"], f["when"], f["path"].replace("/srv/app/", ""), f["line"], f["symbol"],
             [(h["module"], h["line"], h["step"]) for h in f["chain"]]) for f in doc["findings"]]


RESTOCK_BROKEN = {"shop/management/commands/restock.py": ("import Product", "import Item")}


def test_the_command_an_image_runs_is_loaded_at_start_up(tmp_path, django_python, image_layers, summaries):
    root = project(tmp_path, RESTOCK_BROKEN)
    chain = [("manage", 8, "manage.py restock")]
    target = command_image(tmp_path, image_layers, root, ["python3", "manage.py", "restock"])
    assert image_findings(target, summaries) == [
        ("DC102", "error", "startup", "shop/management/commands/restock.py", 3, "Item", chain),
        ("DC201", "error", "call", "shop/management/commands/restock.py", 10, "Product", chain)]
    ran = run_command(django_python, root, "restock")
    assert ran.returncode == 1 and "cannot import name 'Item'" in ran.stderr


def test_a_command_the_image_does_not_run_is_not_loaded(tmp_path, django_python, image_layers, summaries):
    root = project(tmp_path, RESTOCK_BROKEN)
    target = command_image(tmp_path, image_layers, root,
                           ["sh", "-c", "python3 manage.py migrate --noinput && python3 manage.py check"])
    assert image_findings(target, summaries) == []
    assert run_command(django_python, root, "migrate").returncode == 0


def test_an_unknown_command_is_reported(tmp_path, django_python, image_layers, summaries):
    root = project(tmp_path, {})
    target = command_image(tmp_path, image_layers, root, ["python3", "manage.py", "process_tasks"])
    assert image_findings(target, summaries) == [
        ("DC505", "error", "startup", "manage.py", 0, "process_tasks", [])]
    ran = run_command(django_python, root, "process_tasks")
    assert ran.returncode == 1 and "Unknown command: 'process_tasks'" in ran.stderr


def test_the_first_installed_app_providing_a_command_wins(tmp_path, django_python, image_layers, summaries):
    # blog (after shop in INSTALLED_APPS) has a broken restock of its own: Django loads shop's
    root = project(tmp_path, {})
    commands = root / "blog" / "management" / "commands"
    commands.mkdir(parents=True)
    (root / "blog" / "management" / "__init__.py").write_text("")
    (commands / "__init__.py").write_text("")
    (commands / "restock.py").write_text("from blog.models import Post\n\nCommand = None\n")
    target = command_image(tmp_path, image_layers, root, ["python3", "manage.py", "restock"])
    assert image_findings(target, summaries) == []
    assert run_command(django_python, root, "restock").returncode == 0
    # with the order reversed, blog's is the one loaded, and it fails
    text = (root / "proj" / "settings" / "base.py").read_text()
    (root / "proj" / "settings" / "base.py").write_text(text.replace('''    "shop",
    "blog.apps.BlogConfig",''', '''    "blog.apps.BlogConfig",
    "shop",'''))
    target = command_image(tmp_path / "reversed", image_layers, root, ["python3", "manage.py", "restock"])
    assert [f[:6] for f in image_findings(target, summaries)] == [
        ("DC101", "error", "startup", "blog/management/commands/restock.py", 1, "blog.models")]
    ran = run_command(django_python, root, "restock")
    assert ran.returncode == 1 and "No module named 'blog.models'" in ran.stderr


def test_django_admin_runs_a_command_with_the_settings_of_the_image(tmp_path, image_layers, summaries):
    # django-admin, a console script of Django's distribution, with DJANGO_SETTINGS_MODULE in the image's Env
    from test_image_layers import _tar, oci_layout

    root = project(tmp_path, RESTOCK_BROKEN)
    app = [(f"srv/app/{p.relative_to(root)}", "file", p.read_bytes()) for p in sorted(root.rglob("*.py"))]
    for command, expected in (("restock", ["DC102", "DC201"]), ("process_tasks", ["DC505"])):
        layout = tmp_path / f"layout-{command}"
        oci_layout(layout, [*image_layers, _tar(app)],
                   config={"Env": ["PATH=/usr/local/bin:/usr/bin:/bin", "DJANGO_SETTINGS_MODULE=proj.settings",
                                   "PYTHONPATH=/srv/app"],
                           "WorkingDir": "/srv/app", "Cmd": ["django-admin", command]})
        got = image_findings(f"oci:{layout}", summaries)
        assert [f[0] for f in got] == expected, got
        if command == "restock":
            assert got[0][6][-1] == ("django.core.management", 0, "django-admin restock")
