"""DC201 behind ``from m import *``: a name no star import can bind is undefined (index.stars), with the
interpreter as oracle for each case; where the star import's module decides its names at run time, nothing is
said."""

from __future__ import annotations

import subprocess
import sys
from textwrap import dedent

import pytest
from conftest import bare_venv, check, venv, write_tree

pytestmark = pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="fixtures state facts of Python 3.11")


def _tree(root, files: dict[str, str]):
    return write_tree(root, {path: dedent(text).lstrip("\n") for path, text in files.items()})


def _last_error(root, module: str, python: str = sys.executable) -> str:
    """Import ``module`` with ``root`` first on the search path; the last line of what it printed on stderr
    (empty when it imported), without the interpreter's "Did you mean" suggestion."""
    proc = subprocess.run([python, "-c", f"import {module}"], cwd=root, capture_output=True, text=True, check=False,
                          timeout=120)
    return proc.stderr.strip().splitlines()[-1].partition(". Did you mean")[0] if proc.returncode else ""


def _got(result) -> list[tuple]:
    return [(f.code, f.severity, f.when, f.module, f.line, f.symbol) for f in result.findings]


SHOP = {
    "shop/__init__.py": "",
    "shop/config.py": """
        def read_settings():
            return {}
        """,
    "shop/app.py": """
        from shop.config import *  # noqa
        SETTINGS = load_settings()
        """,
}


def test_a_name_the_star_import_does_not_bind_is_undefined(tmp_path):
    # the adversary's case: load_settings was renamed read_settings; shop.config has no __all__, so the star
    # import binds its public names, and load_settings is none of them
    _tree(tmp_path, SHOP)
    assert _last_error(tmp_path, "shop.app") == "NameError: name 'load_settings' is not defined"
    result = check(tmp_path, entries=["shop.app"])
    assert _got(result) == [("DC201", "error", "import", "shop.app", 2, "load_settings")]
    assert result.findings[0].message == ("name 'load_settings' is not defined, and `from shop.config import *` "
                                          "does not bind it")
    # in default mode too, and in a function body it fails when called
    _tree(tmp_path, {"shop/app.py": """
        from shop.config import *  # noqa

        def settings():
            return load_settings()
        """})
    assert _got(check(tmp_path)) == [("DC201", "error", "call", "shop.app", 4, "load_settings")]


def test_what_the_star_import_binds_is_defined(tmp_path):
    _tree(tmp_path, {**SHOP, "shop/app.py": "from shop.config import *  # noqa\nSETTINGS = read_settings()\n"})
    assert _last_error(tmp_path, "shop.app") == ""
    assert check(tmp_path, entries=["shop.app"]).findings == []


def test_a_private_name_or_one_left_out_of_all_is_not_bound(tmp_path):
    # without __all__ the names starting with an underscore are skipped; with one, only what it lists
    _tree(tmp_path, {**SHOP,
                     "shop/config.py": "def _defaults():\n    return {}\n\n\ndef read_settings():\n    return {}\n",
                     "shop/listed.py": '__all__ = ["read_settings"]\nread_settings = dict\nload_settings = dict\n',
                     "shop/app.py": "from shop.config import *  # noqa\nD = _defaults()\n",
                     "shop/app2.py": "from shop.listed import *  # noqa\nS = read_settings()\nL = load_settings()\n"})
    assert _last_error(tmp_path, "shop.app") == "NameError: name '_defaults' is not defined"
    assert _last_error(tmp_path, "shop.app2") == "NameError: name 'load_settings' is not defined"
    got = _got(check(tmp_path, entries=["shop.app", "shop.app2"]))
    assert got == [("DC201", "error", "import", "shop.app", 2, "_defaults"),
                   ("DC201", "error", "import", "shop.app2", 3, "load_settings")]


def test_an_all_chosen_at_run_time_is_not_known(tmp_path):
    # which __all__ the module ends with depends on the environment: the star import's names are unknown
    _tree(tmp_path, {**SHOP, "shop/config.py": """
        import os

        __all__ = ["read_settings", "load_settings"]
        if os.environ.get("SHOP_SLIM"):
            __all__ = ["read_settings"]
        read_settings = load_settings = dict
        """})
    assert _last_error(tmp_path, "shop.app") == ""
    proc = subprocess.run([sys.executable, "-c", "import shop.app"], cwd=tmp_path, capture_output=True, check=False,
                          text=True, env={"SHOP_SLIM": "1"})
    assert proc.stderr.strip().splitlines()[-1].startswith("NameError: name 'load_settings' is not defined")
    assert check(tmp_path, entries=["shop.app"]).findings == []


def test_a_name_of_all_is_no_use_of_it(tmp_path):
    # ruff reports the strings of __all__ that a star import may bind as F405 too: listing a name runs nothing
    # (importing the module works), only a star import of it fails (DC102 there)
    _tree(tmp_path, {**SHOP, "shop/app.py": """
        from shop.config import *  # noqa
        __all__ = ["read_settings", "load_settings"]
        """, "shop/main.py": "from shop.app import *  # noqa\n"})
    assert _last_error(tmp_path, "shop.app") == ""
    assert _last_error(tmp_path, "shop.main") == "AttributeError: module 'shop.app' has no attribute 'load_settings'"
    assert _got(check(tmp_path, entries=["shop.main"])) == [("DC102", "error", "import", "shop.main", 1,
                                                             "load_settings")]


def test_all_listing_a_name_the_module_lacks_fails_at_the_star_import(tmp_path):
    # `from m import *` fetches every name of m.__all__: the missing one raises AttributeError at the star
    # import itself, so the use after it never runs (DC102 at the star import, no DC201)
    _tree(tmp_path, {**SHOP, "shop/config.py": """
        __all__ = ["load_settings", "read_settings"]

        def read_settings():
            return {}
        """})
    assert _last_error(tmp_path, "shop.app") == "AttributeError: module 'shop.config' has no attribute 'load_settings'"
    result = check(tmp_path, entries=["shop.app"])
    assert _got(result) == [("DC102", "error", "import", "shop.app", 1, "load_settings")]
    assert result.findings[0].message.startswith("'shop.config' lists 'load_settings' in __all__ but does not define "
                                                 "it, so `from shop.config import *` fails")


CHAIN = {
    "shop/__init__.py": "",
    "shop/a.py": "from .b import *  # noqa\nfrom shop.extra import *  # noqa\nSETTINGS = load_settings()\n",
    "shop/b.py": "from shop.c import *  # noqa\nB = 1\n",
    "shop/c.py": "def read_settings():\n    return {}\n",
    "shop/extra.py": "E = 1\n",
}


def test_star_imports_are_followed_down_a_chain(tmp_path):
    # a -> b -> c: b has no __all__, so what b's own star import bound is b's to export too
    _tree(tmp_path, CHAIN)
    assert _last_error(tmp_path, "shop.a") == "NameError: name 'load_settings' is not defined"
    result = check(tmp_path, entries=["shop.a"])
    assert _got(result) == [("DC201", "error", "import", "shop.a", 3, "load_settings")]
    assert result.findings[0].message == (
        "name 'load_settings' is not defined, and neither `from .b import *` nor `from shop.extra import *` binds "
        "it (nor do the star imports they lead to: shop.c)")
    # the name defined at the end of the chain is bound
    _tree(tmp_path, {"shop/c.py": "def load_settings():\n    return {}\n"})
    assert _last_error(tmp_path, "shop.a") == ""
    assert check(tmp_path, entries=["shop.a"]).findings == []
    # an __all__ in the middle of the chain stops it: b's __all__ does not list what c gave b
    _tree(tmp_path, {"shop/b.py": 'from shop.c import *  # noqa\n__all__ = ["B"]\nB = 1\n'})
    assert _last_error(tmp_path, "shop.a") == "NameError: name 'load_settings' is not defined"
    assert _got(check(tmp_path, entries=["shop.a"])) == [("DC201", "error", "import", "shop.a", 3, "load_settings")]


CYCLE = {
    "shop/__init__.py": "",
    # a binds A, then star-imports b, which star-imports the partially initialized a (it has A so far)
    "shop/a.py": "A = 1\nfrom shop.b import *  # noqa\nUSES_B = helper()\nSETTINGS = load_settings()\n",
    "shop/b.py": "from shop.a import *  # noqa\n\n\ndef helper():\n    return A\n\n\nFROM_A = A\n",
}


def test_a_cycle_of_star_imports(tmp_path):
    _tree(tmp_path, CYCLE)
    assert _last_error(tmp_path, "shop.a") == "NameError: name 'load_settings' is not defined"
    result = check(tmp_path)
    # A reaches b through the cycle, helper reaches a; load_settings is bound nowhere in it
    assert _got(result) == [("DC201", "error", "import", "shop.a", 4, "load_settings")]
    assert result.findings[0].message == ("name 'load_settings' is not defined, and `from shop.b import *` does not "
                                          "bind it (nor do the star imports it leads to: shop.a)")
    # What a partially initialized module gives depends on which module of the cycle runs first: imported
    # first, b star-imports a, whose own star import then finds b still empty, and `helper()` fails. The
    # search follows no order, so it reports only what fails in every order (above), and not this one.
    assert _last_error(tmp_path, "shop.b") == "NameError: name 'helper' is not defined"
    assert [f.symbol for f in check(tmp_path, entries=["shop.b"]).findings] == ["load_settings"]


@pytest.mark.parametrize("writer", [
    "globals().update({'load_settings': dict})",
    "globals()['load_settings'] = dict",
    "exec('def load_settings():\\n    return {}')",
    "vars().update(load_settings=dict)",
    "import sys\nsetattr(sys.modules[__name__], 'load_settings', dict)",
])
def test_a_star_import_of_a_namespace_written_at_run_time_says_nothing(tmp_path, writer):
    _tree(tmp_path, {**SHOP, "shop/config.py": f"{writer}\nread_settings = dict\n"})
    assert _last_error(tmp_path, "shop.app") == ""
    assert check(tmp_path, entries=["shop.app"]).findings == []
    # also further down a chain
    _tree(tmp_path, {"shop/config.py": "from shop.dynamic import *  # noqa\n", "shop/dynamic.py": f"{writer}\n"})
    assert _last_error(tmp_path, "shop.app") == ""
    assert check(tmp_path, entries=["shop.app"]).findings == []


def test_the_module_getattr_is_asked_only_for_names_of_all(tmp_path):
    # PEP 562: without __all__ the star import takes the module's __dict__ and never asks __getattr__ (it
    # asks it for __all__, which this one does not serve); with an __all__ naming what it serves, it does
    getattr_module = "def __getattr__(name):\n    if name == 'load_settings':\n        return dict\n" \
                     "    raise AttributeError(name)\n"
    _tree(tmp_path, {**SHOP, "shop/config.py": getattr_module})
    assert _last_error(tmp_path, "shop.app") == "NameError: name 'load_settings' is not defined"
    assert _got(check(tmp_path, entries=["shop.app"])) == [("DC201", "error", "import", "shop.app", 2,
                                                            "load_settings")]
    _tree(tmp_path, {"shop/config.py": "__all__ = ['load_settings']\n" + getattr_module})
    assert _last_error(tmp_path, "shop.app") == ""
    assert check(tmp_path, entries=["shop.app"]).findings == []
    # a __getattr__ that serves __all__ itself: the star import's names are what it computes
    _tree(tmp_path, {"shop/config.py": "_SERVED = {'load_settings': dict}\n\n\ndef __getattr__(name):\n"
                                       "    if name == '__all__':\n        return list(_SERVED)\n"
                                       "    if name in _SERVED:\n        return _SERVED[name]\n"
                                       "    raise AttributeError(name)\n"})
    assert _last_error(tmp_path, "shop.app") == ""
    assert check(tmp_path, entries=["shop.app"]).findings == []


def test_noqa_for_other_tools_does_not_hide_the_undefined_name(tmp_path):
    # linters ask for a noqa comment naming F405 on each use of a star import's name, and a bare one is for
    # linters too: the crash is still one; a noqa comment naming DC201 silences it
    _tree(tmp_path, {**SHOP, "shop/app.py": """
        from shop.config import *  # noqa: F403
        SETTINGS = load_settings()  # noqa: F405
        OTHER = gone()  # noqa
        KNOWN = gone_too()  # noqa: DC201
        """})
    result = check(tmp_path, entries=["shop.app"])
    assert _got(result) == [("DC201", "error", "import", "shop.app", 2, "load_settings"),
                            ("DC201", "error", "import", "shop.app", 3, "gone")]
    assert [(f.code, f.line) for f, _kind, _why in result.suppressed] == [("DC201", 4)]


def test_a_star_import_from_an_installed_distribution(tmp_path):
    # uvicorn 0.30.6's __init__ has `__all__ = ["main", "run", "Config", "Server"]`: ServerState is a name of
    # uvicorn.server, not of the star import
    python = venv(["uvicorn==0.30.6"])
    _tree(tmp_path, {"svc.py": "from uvicorn import *  # noqa\nSERVER = Server\nSTATE = ServerState\n"})
    assert _last_error(tmp_path, "svc", python) == "NameError: name 'ServerState' is not defined"
    result = check(tmp_path, python=python, entries=["svc"])
    assert _got(result) == [("DC201", "error", "import", "svc", 3, "ServerState")]
    assert result.findings[0].message == ("name 'ServerState' is not defined, and `from uvicorn import *` does not "
                                          "bind it")


def test_a_star_import_from_a_distribution_without_source_says_nothing(tmp_path):
    # a distribution shipping only bytecode (a legacy .pyc beside where its source would be): its names are
    # not read, so nothing is concluded
    python, site = bare_venv(tmp_path)
    (site / "vendored.py").write_text("def load_settings():\n    return {}\n")
    subprocess.run([python, "-m", "compileall", "-q", "-b", str(site / "vendored.py")], check=True)
    (site / "vendored.py").unlink()
    project = _tree(tmp_path / "project", {"svc.py": "from vendored import *  # noqa\nS = load_settings()\n"})
    assert _last_error(project, "svc", python) == ""
    assert check(project, python=python, entries=["svc"]).findings == []


def test_del_of_a_name_a_star_import_binds_is_no_error(tmp_path):
    # ruff reports `del one` after `from r.base import *` as F821, not F405: found by an adversary as a false error
    _tree(tmp_path, {
        "r/__init__.py": "",
        "r/base.py": """
            __all__ = ("one",)
            one = 1
            """,
        "r/deleter.py": """
            from r.base import *
            del one
            """,
        "r/gone.py": """
            from r.base import *
            del two
            """,
    })
    assert _last_error(tmp_path, "r.deleter") == ""
    assert _got(check(tmp_path, entries=["r.deleter"])) == []
    assert _last_error(tmp_path, "r.gone") == "NameError: name 'two' is not defined"
    assert _got(check(tmp_path, entries=["r.gone"])) == [("DC201", "error", "import", "r.gone", 2, "two")]


def test_path_of_a_package_after_a_star_import_is_defined(tmp_path):
    # ruff says F405 for `__path__` after a star import even in a package's __init__ (and, read as a plain
    # module, F821): the import system sets __path__ in a package, nowhere else
    _tree(tmp_path, {
        "plugins/__init__.py": """
            from plugins.base import *
            SEARCHED = list(__path__)
            """,
        "plugins/base.py": "NAME = 'base'\n",
        "extend/__init__.py": "from pkgutil import extend_path\n__path__ = extend_path(__path__, __name__)\n",
        "single.py": """
            from plugins.base import *
            SEARCHED = list(__path__)
            """,
    })
    assert _last_error(tmp_path, "plugins") == ""
    assert _last_error(tmp_path, "single") == "NameError: name '__path__' is not defined"
    assert _last_error(tmp_path, "extend") == ""
    result = check(tmp_path, entries=["plugins", "single", "extend"])
    assert _got(result) == [("DC201", "error", "import", "single", 2, "__path__")]
