"""The static evaluator of settings modules (frameworks/settings.py) against the interpreter.

Each case is a small project of settings modules. The real interpreter imports the settings module with the
environment variables unset (and, for the cases that read them, set), and everything the evaluator says is
certain must be what Python computed, whatever the environment; what it says is an environment variable's
default must be what Python computed with the variable unset. Items of a container said to be present are
there; a container said to be complete is exactly that.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import venv, write_tree
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from deploycheck.artifact.files import HostFiles
from deploycheck.check import open_program
from deploycheck.environment import interpreter
from deploycheck.frameworks import values as V
from deploycheck.frameworks.settings import MAX_ITEMS, Interpreter, evaluate_settings
from deploycheck.target.project import open_project

pytestmark = pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="the environment is pinned for 3.11")

ENV_LIBS = ["django-environ==0.12.0", "python-decouple==3.8"]

_DUMP = r"""
import importlib, json, sys
sys.path.insert(0, ".")
mod = importlib.import_module(sys.argv[1])
def plain(v):
    if isinstance(v, (list, tuple, set, frozenset)):
        items = [plain(i) for i in v]
        if isinstance(v, (set, frozenset)):
            return {"set": sorted(items, key=repr)}
        return {"list": items} if isinstance(v, list) else {"tuple": items}
    if isinstance(v, dict):
        return {"dict": [[plain(k), plain(x)] for k, x in v.items()]}
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    return {"other": type(v).__name__}
print(json.dumps({k: plain(getattr(mod, k)) for k in dir(mod) if k.isupper()}))
"""


@pytest.fixture(scope="module")
def python():
    return venv(ENV_LIBS)


def real(python: str, root: Path, module: str, env: dict[str, str] | None = None) -> dict:
    return real_many(python, root, [module], env)[module]


def real_many(python: str, root: Path, modules: list[str], env: dict[str, str] | None = None) -> dict:
    """The upper-case names of each module as the interpreter computes them, each module in a process of its
    own (one module's imports do not change another's)."""
    script = "import json, subprocess, sys\n" \
             "print(json.dumps({m: json.loads(subprocess.run([sys.executable, '-c', sys.argv[1], m], " \
             "capture_output=True, text=True, check=True).stdout) for m in sys.argv[2:]}))"
    proc = subprocess.run([python, "-c", script, _DUMP, *modules], cwd=root, capture_output=True, text=True,
                          check=True, env={"PATH": "/usr/bin:/bin", **(env or {})})
    return json.loads(proc.stdout)


def evaluated(python: str, root: Path, module: str):
    project = open_project(str(root))
    program, _ = open_program(interpreter.probe(python), project.roots, HostFiles(), None, True)
    try:
        interp = Interpreter(program)
        settings = evaluate_settings(interp, module)
    finally:
        program.store.close()
    return settings


def plain(value):
    """The evaluator's value as the dump above writes a real one, or None when it is not all known."""
    if isinstance(value, V.Const):
        return value.value
    complete = isinstance(value, V.Seq) and not value.open and value.exact
    if complete and all(p <= V.DEFAULT for _, p in value.items):
        items = [plain(v) for v, _ in value.items]
        if any(i is None and not (isinstance(v, V.Const) and v.value is None) for i, (v, _) in
               zip(items, value.items, strict=True)):
            return None
        return {value.kind: sorted(items, key=repr) if value.kind == "set" else items}
    if isinstance(value, V.Map) and not value.open and all(p <= V.DEFAULT for _, p in value.entries.values()):
        items = [[k, plain(v)] for k, (v, _) in value.entries.items()]
        if any(i[1] is None and not (isinstance(value.entries[i[0]][0], V.Const)) for i in items):
            return None
        return {"dict": items}
    return None


def status(value) -> int | None:
    """How sure a whole value is: the worst status or presence in it (None for UNKNOWN)."""
    if isinstance(value, V.Const):
        return value.status
    if isinstance(value, V.Seq):
        return max([p for _, p in value.items] + [status(v) or 0 for v, _ in value.items] + [0])
    if isinstance(value, V.Map):
        entries = value.entries.values()
        return max([p for _, p in entries] + [status(v) or 0 for v, _ in entries] + [0])
    return None


def agree(settings, got_unset: dict, got_set: dict | None) -> dict[str, object]:
    """Check every known value against the interpreter; returns the known ones, as plain values."""
    known = {}
    for name in got_unset:
        value = settings.value(name) if settings.given(name) else V.UNKNOWN
        p = plain(value)
        if p is None and not (isinstance(value, V.Const) and value.value is None):
            continue
        known[name] = p
        assert p == got_unset[name], name  # certain or default: what Python computes without the variables
        if status(value) == V.CERTAIN and got_set is not None:
            assert p == got_set[name], name  # certain: whatever the environment says
    return known


def items_present(value) -> list:
    return [v.value for v, p in value.items if p == V.CERTAIN and isinstance(v, V.Const)]


SPLIT = {
    "proj/__init__.py": "",
    "proj/settings/__init__.py": "from .base import *  # noqa\nfrom .prod import *  # noqa\n",
    "proj/settings/base.py": (
        "import os\n"
        "DJANGO_APPS = ['django.contrib.auth', 'django.contrib.contenttypes']\n"
        "LOCAL_APPS = ('shop', 'blog')\n"
        "INSTALLED_APPS = DJANGO_APPS + list(LOCAL_APPS)\n"
        "MIDDLEWARE = ['a.A', 'b.B']\n"
        "MIDDLEWARE += ['c.C']\n"
        "MIDDLEWARE.insert(0, 'first.First')\n"
        "MIDDLEWARE.remove('b.B')\n"
        "TEMPLATES = [{'BACKEND': 'x.Y', 'OPTIONS': {'context_processors': ['p.one']}}]\n"
        "TEMPLATES[0]['OPTIONS']['context_processors'].append('p.two')\n"
        "PREFIX = 'svc'\n"
        "CACHE_KEY = f'{PREFIX}-cache'\n"
        "URL = '%s/%d' % ('host', 8080)\n"
        "NUMBERS = [n * 2 for n in (1, 2, 3) if n != 2]\n"
        "DOUBLE = {k: v for k, v in (('a', 1), ('b', 2))}\n"
        "_PRIVATE = 'not exported'\n"
        "LOGGING = {'version': 1, 'handlers': {}}\n"
        "LOGGING['handlers']['console'] = {'class': 'logging.StreamHandler'}\n"
        "LOGGING['handlers'].update({'file': {'class': 'logging.FileHandler'}})\n"
        "del LOGGING['version']\n"
        "TUPLE = ('a',)\n"
        "TUPLE += ('b',)\n"
        "FLAGS = {'x'} | {'y'}\n"
        "PARTS = 'a,b,c'.split(',')\n"
        "JOINED = '-'.join(['a', 'b'])\n"
        "for extra in ['d.D', 'e.E']:\n"
        "    MIDDLEWARE.append(extra)\n"),
    "proj/settings/prod.py": (
        "from .base import *  # noqa\n"
        "from .base import INSTALLED_APPS\n"
        "INSTALLED_APPS += ['reports']\n"
        "DEBUG = False\n"),
}


def test_split_settings_literals_and_mutations_are_what_python_computes(tmp_path, python):
    root = write_tree(tmp_path / "p", SPLIT)
    settings = evaluated(python, root, "proj.settings")
    known = agree(settings, real(python, root, "proj.settings"), None)
    # everything here is known, and certain
    assert set(known) == set(real(python, root, "proj.settings")) - {"BASE_DIR"}
    assert known["INSTALLED_APPS"] == {"list": ["django.contrib.auth", "django.contrib.contenttypes", "shop",
                                                "blog", "reports"]}
    assert known["MIDDLEWARE"] == {"list": ["first.First", "a.A", "c.C", "d.D", "e.E"]}
    # each string says where it is written
    apps = settings.value("INSTALLED_APPS")
    assert [v.where for v, _ in apps.items] == [("proj.settings.base", 2), ("proj.settings.base", 2),
                                                ("proj.settings.base", 3), ("proj.settings.base", 3),
                                                ("proj.settings.prod", 3)]


ENVIRONMENT = {
    "proj/__init__.py": "",
    "proj/settings.py": (
        "import os\n"
        "import environ\n"
        "from decouple import Csv, config\n"
        "env = environ.Env(DEBUG=(bool, False), HOSTS=(list, ['localhost']))\n"
        "DEBUG = env('DEBUG')\n"
        "ALLOWED_HOSTS = env('HOSTS')\n"
        "SECRET_KEY = os.environ.get('SECRET_KEY', 'dev')\n"
        "TIME_ZONE = os.getenv('TZ_NAME', 'UTC')\n"
        "CACHE_BACKEND = env.str('CACHE_BACKEND', 'django.core.cache.backends.locmem.LocMemCache')\n"
        "EXTRA_APPS = env.list('EXTRA_APPS', default=['debug_toolbar'])\n"
        "ADMINS = config('ADMINS', default='a@x.org,b@x.org', cast=Csv())\n"
        "USE_SSL = config('USE_SSL', default='true', cast=bool)\n"
        "WORKERS = config('WORKERS', default=4, cast=int)\n"
        "INSTALLED_APPS = ['core']\n"
        "if DEBUG:\n"
        "    INSTALLED_APPS.append('devtools')\n"
        "else:\n"
        "    INSTALLED_APPS.append('prodtools')\n"
        "if os.environ.get('SENTRY_DSN'):\n"
        "    INSTALLED_APPS.append('sentry_app')\n"
        "MODE = 'debug' if DEBUG else 'prod'\n"
        "LABEL = os.environ.get('LABEL') or 'default-label'\n"
        "REQUIRED = os.environ['REQUIRED_VAR'] if 'REQUIRED_VAR' in os.environ else 'none'\n"),
}


def test_environment_reads_give_their_default_marked_as_such(tmp_path, python):
    root = write_tree(tmp_path / "p", ENVIRONMENT)
    settings = evaluated(python, root, "proj.settings")
    unset = real(python, root, "proj.settings")
    overridden = real(python, root, "proj.settings", {
        "DEBUG": "1", "HOSTS": "a,b", "SECRET_KEY": "k", "TZ_NAME": "Europe/Paris", "CACHE_BACKEND": "x.Y",
        "EXTRA_APPS": "z", "ADMINS": "c@x.org", "USE_SSL": "false", "WORKERS": "8", "SENTRY_DSN": "https://x",
        "LABEL": "l", "REQUIRED_VAR": "r"})
    known = agree(settings, unset, overridden)
    assert known == {
        "DEBUG": False, "ALLOWED_HOSTS": {"list": ["localhost"]}, "SECRET_KEY": "dev", "TIME_ZONE": "UTC",
        "CACHE_BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "EXTRA_APPS": {"list": ["debug_toolbar"]},
        "ADMINS": {"list": ["a@x.org", "b@x.org"]}, "USE_SSL": True, "WORKERS": 4, "MODE": "prod",
        "LABEL": "default-label"}
    for name in known:
        assert status(settings.value(name)) == V.DEFAULT, name  # the environment may change each of them
    # INSTALLED_APPS: 'core' whatever happens, 'prodtools' unless DEBUG is set, the others only possible
    apps = settings.value("INSTALLED_APPS")
    assert [(v.value, p) for v, p in apps.items] == [("core", V.CERTAIN), ("prodtools", V.DEFAULT),
                                                     ("devtools", V.MAYBE), ("sentry_app", V.MAYBE)]
    assert settings.value("REQUIRED") is V.UNKNOWN  # depends on the environment, with no default to give


FLOW = {
    "proj/__init__.py": "",
    "proj/constants.py": "BASE_APPS = ['core']\n__all__ = ['BASE_APPS']\nHIDDEN = 'x'\n",
    "proj/settings.py": (
        "import importlib\n"
        "from proj.constants import *\n"
        "from proj.plugins import discover\n"
        "INSTALLED_APPS = list(BASE_APPS)\n"
        "try:\n"
        "    import not_installed_toolbar\n"
        "    INSTALLED_APPS.append('not_installed_toolbar')\n"
        "except ImportError:\n"
        "    INSTALLED_APPS.append('fallback')\n"
        "try:\n"
        "    import json\n"
        "    INSTALLED_APPS.append('json_app')\n"
        "except ImportError:\n"
        "    pass\n"
        "PLUGINS = discover()\n"
        "INSTALLED_APPS += PLUGINS\n"
        "MIDDLEWARE = ['m.One', 'm.Two']\n"
        "def configure(middleware):\n"
        "    middleware.remove('m.One')\n"
        "configure(MIDDLEWARE)\n"
        "for name in discover():\n"
        "    INSTALLED_APPS.remove(name)\n"
        "ORDER = []\n"
        "while len(ORDER) < 2:\n"
        "    ORDER.append('x')\n"
        "class Config:\n"
        "    name = 'proj.app'\n"
        "    label = name.rpartition('.')[2]\n"
        "APP_NAME = Config.name\n"
        "HAS_HIDDEN = 'HIDDEN' in dir()\n"),
    "proj/plugins.py": "def discover():\n    return ['core']\n",
}


def test_what_depends_on_code_that_is_not_run_is_unknown_or_possible(tmp_path, python):
    root = write_tree(tmp_path / "p", FLOW)
    settings = evaluated(python, root, "proj.settings")
    got = real(python, root, "proj.settings")
    known = agree(settings, got, None)
    assert known == {"APP_NAME": "proj.app", "BASE_APPS": {"list": ["core"]}}
    # a star import honours __all__
    assert not settings.given("HIDDEN") and got["HAS_HIDDEN"] is False
    # the try that fails runs its handler, the one that succeeds its body; what discover() returns is unknown,
    # and the loop that removes its names makes every item only possible
    apps = settings.value("INSTALLED_APPS")
    assert [(v.value, p) for v, p in apps.items] == [("core", V.MAYBE), ("fallback", V.MAYBE),
                                                     ("json_app", V.MAYBE)]
    assert apps.open
    assert got["INSTALLED_APPS"]["list"] == ["fallback", "json_app", "core"]  # the first 'core' was removed
    # a list handed to a function we do not run may have lost any item
    middleware = settings.value("MIDDLEWARE")
    assert items_present(middleware) == [] and got["MIDDLEWARE"] == {"list": ["m.Two"]}
    assert items_present(settings.value("ORDER")) == []


def test_the_try_body_runs_when_its_import_succeeds(tmp_path, python):
    files = {"proj/__init__.py": "",
             "proj/settings.py": "A = ['a']\ntry:\n    import json\n    A.append('b')\nexcept ImportError:\n"
                                 "    A.append('c')\nelse:\n    A.append('d')\nfinally:\n    A.append('e')\n"}
    root = write_tree(tmp_path / "p", files)
    settings = evaluated(python, root, "proj.settings")
    assert agree(settings, real(python, root, "proj.settings"), None) == {"A": {"list": ["a", "b", "d", "e"]}}


def test_bounds_make_a_value_unknown_not_wrong(tmp_path, python):
    files = {"proj/__init__.py": "",
             "proj/settings.py": f"BIG = ['x'] * 3\nMANY = [i for i in range({MAX_ITEMS * 2})]\n"
                                 f"LONG = 'ab' * {10 ** 7}\nGROWN = []\n"
                                 "for i in [1] * 3:\n    GROWN.append(i)\n"}
    root = write_tree(tmp_path / "p", files)
    settings = evaluated(python, root, "proj.settings")
    assert settings.value("MANY") is V.UNKNOWN and settings.value("LONG") is V.UNKNOWN
    assert plain(settings.value("GROWN")) == {"list": [1, 1, 1]}


def test_a_context_manager_that_suppresses_import_errors_is_a_try(tmp_path, python):
    # pretalx's settings: `with suppress(ImportError): import django_extensions; INSTALLED_APPS.append(...)`
    files = {"proj/__init__.py": "",
             "proj/settings.py": "from contextlib import suppress\nB = ['a']\n"
                                 "with suppress(ImportError):\n    import not_installed_mod\n"
                                 "    B.append('x')\n"
                                 "with suppress(ImportError):\n    import json\n    B.append('y')\n"
                                 "with open(__file__) as f:\n    B.append('z')\n"}
    root = write_tree(tmp_path / "p", files)
    settings = evaluated(python, root, "proj.settings")
    assert agree(settings, real(python, root, "proj.settings"), None) == {"B": {"list": ["a", "y", "z"]}}


def test_a_list_imported_from_another_module_and_changed_on_a_possible_path(tmp_path, python):
    files = {"proj/__init__.py": "",
             "proj/base.py": "MIDDLEWARE = ['a.A']\nAPPS = ['x']\n",
             "proj/settings.py": "import os\nfrom proj.base import APPS, MIDDLEWARE\n"
                                 "if os.environ.get('PROFILING', 'off') == 'on':\n"
                                 "    MIDDLEWARE.append('p.Profile')\n"
                                 "APPS.append('y')\n"
                                 "from proj import base\nBASE_MIDDLEWARE = base.MIDDLEWARE\n"
                                 "BASE_APPS = base.APPS\n"}
    root = write_tree(tmp_path / "p", files)
    settings = evaluated(python, root, "proj.settings")
    unset = real(python, root, "proj.settings")
    # APPS is changed in place: the module it comes from sees it too; base's MIDDLEWARE was changed on a path
    # that may not run, so what base holds is no longer sure
    assert agree(settings, unset, real(python, root, "proj.settings", {"PROFILING": "on"})) == {
        "APPS": {"list": ["x", "y"]}, "BASE_APPS": {"list": ["x", "y"]}}
    assert [(v.value, p) for v, p in settings.value("MIDDLEWARE").items] == [("a.A", V.CERTAIN),
                                                                             ("p.Profile", V.MAYBE)]


# -- property: random settings programs against the interpreter ---------------------------------------------

_LISTS = ("A", "B", "C")
_ITEMS = st.sampled_from(["'a'", "'b'", "'c'", "'d'"])
_ENV = st.sampled_from(["os.environ.get('F', 'off') == 'on'", "os.environ.get('F')",
                        "os.getenv('G', 'x') != 'x'", "S == 'dflt'", "'a' in A", "DEBUG", "helper()"])


def _simple() -> st.SearchStrategy[str]:
    name, other = st.sampled_from(_LISTS), st.sampled_from(_LISTS)
    return st.one_of(
        st.builds(lambda n, xs: f"{n} = [{', '.join(xs)}]", name, st.lists(_ITEMS, max_size=3)),
        st.builds(lambda n, o, x: f"{n} = {o} + [{x}]", name, other, _ITEMS),
        st.builds(lambda n, x: f"{n} += [{x}]", name, _ITEMS),
        st.builds(lambda n, x: f"{n}.append({x})", name, _ITEMS),
        st.builds(lambda n, x: f"{n}.insert(0, {x})", name, _ITEMS),
        st.builds(lambda n, x: f"if {x} in {n}:\n    {n}.remove({x})", name, _ITEMS),
        st.builds(lambda n, o: f"{n}.extend({o})", name, other),
        st.builds(lambda n, o: f"{n} = {o}", name, other),  # aliasing
        st.builds(lambda n, o: f"{n} = list({o})", name, other),
        st.builds(lambda n: f"touch({n})", name),  # a function that is not run changes it
        st.builds(lambda x: f"D[{x}] = S", _ITEMS),
        st.builds(lambda x: f"D.update({{{x}: 1}})", _ITEMS),
        st.just("S = os.environ.get('S', 'dflt')"),
        st.just("S = S + '-x'"),
        st.just("DEBUG = os.environ.get('DEBUG', '') == '1'"),
        st.builds(lambda n: f"for item in ['p', 'q']:\n    {n}.append(item)", name),
        st.builds(lambda n: f"for item in helper():\n    {n}.append(item)", name),
        st.builds(lambda n, m: f"try:\n    import {m}\n    {n}.append('imp')\nexcept ImportError:\n"
                               f"    {n}.append('fallback')",
                  name, st.sampled_from(["json", "not_installed_x"])),
        st.builds(lambda n: "with suppress(ImportError):\n    import not_installed_y\n"
                            f"    {n}.append('never')", name),
    )


def _statement() -> st.SearchStrategy[str]:
    def indent(text: str) -> str:
        return "\n".join("    " + line for line in text.splitlines())

    branch = st.builds(lambda c, a, b: f"if {c}:\n{indent(a)}\nelse:\n{indent(b)}",
                       _ENV, _simple(), _simple())
    return st.one_of(_simple(), branch, st.builds(lambda c, a: f"if {c}:\n{indent(a)}", _ENV, _simple()))


_PRELUDE = ("import os\nfrom contextlib import suppress\nfrom proj.tools import helper, touch\n"
            "A = []\nB = []\nC = ['c']\nD = {}\nS = ''\nDEBUG = False\n")


@hsettings(max_examples=12, deadline=None,
           suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(programs=st.lists(st.lists(_statement(), min_size=1, max_size=8), min_size=10, max_size=10))
def test_random_settings_programs_agree_with_the_interpreter(tmp_path_factory, python, programs):
    root = tmp_path_factory.mktemp("random")
    files = {"proj/__init__.py": "",
             "proj/tools.py": "def helper():\n    return ['h']\n\n\ndef touch(items):\n    items.clear()\n"}
    for i, stmts in enumerate(programs):
        files[f"proj/s{i}.py"] = _PRELUDE + "\n".join(stmts) + "\n"
    write_tree(root, files)
    project = open_project(str(root))
    program, _ = open_program(interpreter.probe(python), project.roots, HostFiles(), None, True)
    modules = [f"proj.s{i}" for i in range(len(programs))]
    all_unset = real_many(python, root, modules)
    all_overridden = real_many(python, root, modules, {"F": "on", "G": "y", "S": "env", "DEBUG": "1"})
    known = 0
    try:
        for i, module in enumerate(modules):
            settings = evaluate_settings(Interpreter(program), module)
            unset, overridden = all_unset[module], all_overridden[module]
            known += len(agree(settings, unset, overridden))
            for name in _LISTS:
                value = settings.value(name)
                for item, presence in value.items if isinstance(value, V.Seq) else ():
                    if isinstance(item, V.Const) and presence < V.MAYBE:
                        assert item.value in unset[name]["list"], (name, files[f"proj/s{i}.py"])
                        if presence == V.CERTAIN and item.status == V.CERTAIN:
                            assert item.value in overridden[name]["list"], (name, files[f"proj/s{i}.py"])
    finally:
        program.store.close()
    assert known >= len(modules)  # the prelude's names at least: the comparison is not empty


DEDUPED = {
    "proj/__init__.py": "",
    "proj/settings.py": (
        "import os\n"
        "PLUGINS = os.environ['PLUGINS'].split(',') if os.environ.get('PLUGINS') else []\n"
        "INSTALLED_APPS = ['django.contrib.auth', 'core', 'tenancy', 'core']\n"
        "for plugin in PLUGINS:\n"
        "    INSTALLED_APPS.extend([plugin])\n"
        "    # NetBox's settings: keep the last occurrence of each app\n"
        "    sorted_apps = reversed(list(dict.fromkeys(reversed(INSTALLED_APPS))))\n"
        "    INSTALLED_APPS = list(sorted_apps)\n"
        "DEDUP = list(reversed(list(dict.fromkeys(reversed(['a', 'b', 'a', 'c'])))))\n"
        "KEYS = dict.fromkeys(['x', 'y', 'x'], 0)\n"
        "BACKWARDS = tuple(reversed(('p', 'q')))\n"),
}


def test_reversed_and_dict_fromkeys_keep_the_items(tmp_path, python):
    # NetBox deduplicates INSTALLED_APPS in its plugin loop with reversed() and dict.fromkeys(): both were
    # calls the evaluator did not model, so every app became possible and each app's ready() a warning
    root = write_tree(tmp_path / "p", DEDUPED)
    settings = evaluated(python, root, "proj.settings")
    unset = real(python, root, "proj.settings")
    with_plugin = real(python, root, "proj.settings", {"PLUGINS": "extra"})
    assert with_plugin["INSTALLED_APPS"] == {"list": ["django.contrib.auth", "tenancy", "core", "extra"]}
    known = agree(settings, unset, with_plugin)
    assert known["DEDUP"] == {"list": ["b", "a", "c"]}
    assert known["KEYS"] == {"dict": [["x", 0], ["y", 0]]}
    assert known["BACKWARDS"] == {"tuple": ["q", "p"]}
    # the loop may run or not: the apps written in the list are there either way
    assert set(items_present(settings.value("INSTALLED_APPS"))) == {"django.contrib.auth", "core", "tenancy"}
