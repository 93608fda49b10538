"""False alarms found on real services (docs/corpus.md), each as the general pattern behind it, with the
interpreter as oracle: what deploycheck says must be what the interpreter does."""

from __future__ import annotations

import subprocess
import sys
from textwrap import dedent

import pytest
from conftest import check, write_tree

pytestmark = pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="fixtures state facts of Python 3.11")


def _tree(root, files: dict[str, str]):
    return write_tree(root, {path: dedent(text).lstrip("\n") for path, text in files.items()})


def _run(root, code: str) -> list[str]:
    """Run ``code`` with ``root`` as the working directory (first on sys.path); its stdout lines."""
    proc = subprocess.run([sys.executable, "-c", dedent(code)], cwd=root, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def _fails(root, code: str) -> str:
    """Run ``code`` as ``_run`` does; the last line of the traceback it must end with."""
    proc = subprocess.run([sys.executable, "-c", dedent(code)], cwd=root, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 1, proc.stdout
    return proc.stderr.strip().splitlines()[-1]


def _got(result, root) -> list[tuple]:
    return [(f.code, f.severity, str(f.path).replace(str(root) + "/", ""), f.line, f.symbol)
            for f in result.findings]


def test_names_bound_under_not_type_checking_exist_at_run_time(tmp_path):
    # stripe 7.9's stripe/error.py: `if not TYPE_CHECKING:` with TYPE_CHECKING from typing_extensions; here
    # from a module of the project, as the value is False whatever module it comes from
    _tree(tmp_path, {
        "vendor/__init__.py": "from vendor import error\n",
        "vendor/compat.py": "TYPE_CHECKING = False\n",
        "vendor/_error.py": "class StripeError(Exception):\n    pass\n",
        "vendor/error.py": """
            from vendor.compat import TYPE_CHECKING

            if not TYPE_CHECKING:
                from vendor._error import StripeError
            else:
                from vendor._error import Typed
            """,
        "app.py": """
            import vendor


            def pay():
                try:
                    return 1
                except vendor.error.StripeError:
                    return 2


            def typed():
                return vendor.error.Typed
            """,
    })
    # the `else` of `if not TYPE_CHECKING` never runs
    assert _got(check(tmp_path, entries=["app"]), tmp_path) == [("DC103", "error", "app.py", 12, "Typed")]
    assert _run(tmp_path, """
        import app, vendor
        print(vendor.error.StripeError.__name__)
        try:
            app.typed()
        except AttributeError as e:
            print(e)
        """) == ["StripeError", "module 'vendor.error' has no attribute 'Typed'"]


def test_a_name_imported_for_type_checkers_and_bound_at_run_time_is_defined(tmp_path):
    # prefect/tasks.py imports TaskRunContext at module level and again under TYPE_CHECKING; pint's
    # _typing.py binds HAS_NUMPY = False, then re-binds it under TYPE_CHECKING
    _tree(tmp_path, {
        "app/__init__.py": "",
        "app/context.py": "class TaskRunContext:\n    pass\n\nHAS_NUMPY = True\n",
        "app/tasks.py": """
            from typing import TYPE_CHECKING

            from app.context import TaskRunContext

            HAS_NUMPY = False
            if TYPE_CHECKING:
                from app.context import HAS_NUMPY, TaskRunContext
                from app.context import Only


            def run():
                return TaskRunContext, HAS_NUMPY


            def typed():
                return Only
            """,
    })
    got = _got(check(tmp_path, entries=["app.tasks"]), tmp_path)
    assert got == [("DC201", "error", "app/tasks.py", 8, "Only")]  # imported for type checkers only: real
    assert _run(tmp_path, """
        import app.tasks as t
        print(t.run()[1])
        try:
            t.typed()
        except NameError as e:
            print(e)
        """) == ["False", "name 'Only' is not defined"]


def test_names_a_decorator_adds_through_sys_modules_are_not_missing(tmp_path):
    # django-hierarkey: `@settings_hierarkey.set_global()` (an instance made in the project from the
    # library's class) binds a computed name in the decorated class's module with
    # setattr(sys.modules[cls.__module__], ...)
    _tree(tmp_path, {
        "hierarkey/__init__.py": "",
        "hierarkey/models.py": """
            import sys


            class Hierarkey:
                def __init__(self, attribute_name):
                    self.attribute_name = attribute_name

                def set_global(self):
                    def wrapper(cls):
                        name = '%s_%sStore' % (cls.__name__, self.attribute_name.title())
                        setattr(sys.modules[cls.__module__], name, type(name, (), {}))
                        return cls
                    return wrapper
            """,
        "app/__init__.py": "",
        "app/settings.py": """
            from hierarkey.models import Hierarkey

            settings_hierarkey = Hierarkey('settings')


            @settings_hierarkey.set_global()
            class GlobalSettings:
                pass
            """,
        "app/event.py": """
            from .settings import settings_hierarkey


            @settings_hierarkey.set_global()
            class Event:
                pass
            """,
        "app/models.py": """
            from .settings import GlobalSettings_SettingsStore
            from .event import Event_SettingsStore
            from .plain import Gone
            """,
        "app/plain.py": "class Here:\n    pass\n",
    })
    got = _got(check(tmp_path, entries=["app.models"]), tmp_path)
    assert got == [("DC102", "error", "app/models.py", 3, "Gone")]  # a module no such code is applied to
    assert _fails(tmp_path, "import app.models") == \
        f"ImportError: cannot import name 'Gone' from 'app.plain' ({tmp_path}/app/plain.py)"


def test_a_blueprint_named_after_its_module_does_not_make_the_package_dynamic(tmp_path):
    # pgAdmin: `blueprint = SchemaDiffModule(MODULE_NAME, __name__, ...)` is an object, not a lazy module,
    # so a deleted submodule of the package is reported
    _tree(tmp_path, {
        "app/__init__.py": "",
        "app/base.py": """
            class PgAdminModule:
                def __init__(self, name, import_name):
                    self.name = name
            """,
        "app/tools/__init__.py": """
            from app.base import PgAdminModule


            class SchemaDiffModule(PgAdminModule):
                pass


            blueprint = SchemaDiffModule('schema_diff', __name__)

            from app.tools.model import SchemaDiffModel
            """,
    })
    got = _got(check(tmp_path, entries=["app.tools"]), tmp_path)
    assert got == [("DC101", "error", "app/tools/__init__.py", 10, "app.tools.model")]
    assert _fails(tmp_path, "import app.tools") == "ModuleNotFoundError: No module named 'app.tools.model'"


def test_an_import_in_a_protocol_method_of_the_imported_package_needs_it_only_when_it_calls(tmp_path):
    # pint's dask facet: `def __dask_tokenize__(self): from dask.base import tokenize` (here a package named
    # zzdask, which no environment has)
    _tree(tmp_path, {
        "app/__init__.py": "",
        "app/quantity.py": """
            class Quantity:
                def __zzdask_tokenize__(self):
                    from zzdask.base import tokenize

                    return tokenize(self)

                def plain(self):
                    from zzdask.base import tokenize

                    return tokenize(self)
            """,
    })
    got = _got(check(tmp_path, entries=["app.quantity"]), tmp_path)
    assert got == [("DC101", "error", "app/quantity.py", 8, "zzdask")]  # an ordinary method: reported


def test_a_module_that_installs_distributions_while_running_makes_its_late_imports_uncertain(tmp_path):
    # prefect's provisioners: `await ainstall_packages(["coiled"])` then `importlib.import_module("coiled")`,
    # and later `import dask.config` (coiled depends on dask)
    _tree(tmp_path, {
        "app/__init__.py": "",
        "app/install.py": "def install_packages(names):\n    pass\n",
        "app/provision.py": """
            import importlib

            from app.install import install_packages


            def provision():
                install_packages(['zz_absent_coiled'])
                coiled = importlib.import_module('zz_absent_coiled')
                import zz_absent_dask.config

                return coiled, zz_absent_dask
            """,
        "app/plain.py": "def f():\n    import zz_absent_coiled\n\n    return zz_absent_coiled\n",
    })
    got = _got(check(tmp_path, entries=["app.provision", "app.plain"]), tmp_path)
    assert got == [("DC101", "error", "app/plain.py", 2, "zz_absent_coiled"),
                   ("DC101", "warning", "app/provision.py", 8, "zz_absent_coiled"),
                   ("DC101", "warning", "app/provision.py", 9, "zz_absent_dask")]


def test_a_private_class_used_only_on_another_platform_never_runs(tmp_path):
    # prefect's _process_manager: _WindowsJobTerminationScope is built only under sys.platform == "win32"
    _tree(tmp_path, {
        "app/__init__.py": "",
        "app/process.py": """
            import signal
            import sys


            class _WindowsScope:
                def kill(self, pid):
                    return signal.CTRL_BREAK_EVENT


            def _create_windows_scope():
                import msvcrt

                return _WindowsScope()


            class _PosixScope:
                def kill(self, pid):
                    return signal.NOPE


            def create_scope():
                if sys.platform == 'win32':
                    return _create_windows_scope()
                return _PosixScope()
            """,
    })
    got = _got(check(tmp_path, entries=["app.process"]), tmp_path)
    assert got == [("DC103", "error", "app/process.py", 18, "NOPE")]
    assert _run(tmp_path, """
        import signal
        import app.process as p
        print(type(p.create_scope()).__name__, hasattr(signal, 'CTRL_BREAK_EVENT'))
        """) == ["_PosixScope False"]


def test_a_failing_fallback_is_reported_where_its_try_body_fails(tmp_path):
    # the incident's repository: `try: from new import x / except ImportError: from old import x`, both
    # broken; the crash's first exception, and the line to fix, is the try body's
    _tree(tmp_path, {
        "app/__init__.py": "",
        "app/unified.py": "def get_unified_config():\n    return {}\n",
        "app/deep.py": "from app.gone_too import helper\n",
        "app/config.py": """
            try:
                from app.unified import get_config
            except ImportError:
                from app.legacy import get_config

            try:
                import app.deep
            except ImportError:
                from app.unified import get_deep
            """,
    })
    got = check(tmp_path, entries=["app.config"])
    assert [(f.code, f.severity, f.path.replace(f"{tmp_path}/", ""), f.line, f.symbol, f.message)
            for f in got.findings] == [
        ("DC102", "error", "app/config.py", 2, "get_config",
         "cannot import name 'get_config' from 'app.unified' (app/unified.py); the fallback "
         "`from app.legacy import get_config` (line 4) fails too: No module named 'app.legacy'"),
        ("DC101", "error", "app/deep.py", 1, "app.gone_too",
         "No module named 'app.gone_too'; the fallback `from app.unified import get_deep` "
         "(app.config, line 9) fails too: cannot import name 'get_deep' from 'app.unified'")]
    # the interpreter: the traceback's first exception is the body's, the last the fallback's
    proc = subprocess.run([sys.executable, "-c", "import app.config"], cwd=tmp_path, capture_output=True,
                          text=True)
    errors = [line for line in proc.stderr.splitlines() if "Error: " in line]
    assert errors == ["ImportError: cannot import name 'get_config' from 'app.unified' "
                      f"({tmp_path}/app/unified.py)", "ModuleNotFoundError: No module named 'app.legacy'"]


def test_a_handler_that_raises_again_guards_no_name(tmp_path):
    # The seed incident's own code (scripts/seed_incident.py): `except Exception as exc: raise
    # RuntimeError(...) from exc` around the NameError; it crashed the start-up yet DC201 took the try for a
    # guard. A handler that swallows it, or may return before raising, still guards. (Under `except NameError`
    # ruff's F821, which DC201 starts from, reports nothing, as pyflakes does.)
    _tree(tmp_path, {
        "app/__init__.py": "",
        "app/db.py": """
            def wrapped():
                try:
                    return {"pool_size": DatabaseConfig.POOL_SIZE}
                except Exception as exc:
                    raise RuntimeError(f"Database engine creation failed: {exc}") from exc


            def logged():
                try:
                    return Missing.X
                except Exception:
                    print("logging it")
                    raise


            def swallowed():
                try:
                    return Absent.X
                except Exception:
                    return None


            def maybe(flag=True):
                try:
                    return Gone.X
                except BaseException:
                    if flag:
                        return None
                    raise


            def first_handler_decides():
                try:
                    return Lost.X
                except ValueError:
                    raise
                except Exception:
                    return None
            """,
    })
    got = _got(check(tmp_path, entries=["app.db"]), tmp_path)
    assert got == [("DC201", "error", "app/db.py", 3, "DatabaseConfig"),
                   ("DC201", "error", "app/db.py", 10, "Missing")]
    assert _fails(tmp_path, "import app.db; app.db.wrapped()") == \
        "RuntimeError: Database engine creation failed: name 'DatabaseConfig' is not defined"
    assert _fails(tmp_path, "import app.db; app.db.logged()") == "NameError: name 'Missing' is not defined"
    assert _run(tmp_path, """
        import app.db
        print(app.db.swallowed(), app.db.maybe(), app.db.first_handler_decides())
        """) == ["None None None"]


def test_names_written_into_the_builtins_dict_are_defined(tmp_path):
    # builtins.__dict__["x"] = ..., vars(builtins)[...], __builtins__[...] (the dict in an imported module),
    # .update() and .setdefault() add names every module then reads; each was an error "not defined"
    _tree(tmp_path, {
        "app/__init__.py": """
            import builtins
            builtins.__dict__["dx"] = str
            vars(builtins)["vx"] = str
            __builtins__["bx"] = str
            builtins.__dict__.update({"ux": str}, kx=str)
            builtins.__dict__.setdefault("sx", str)
            """,
        "app/views.py": """
            import app
            print(dx(1), vx(2), bx(3), ux(4), kx(5), sx(6))
            print(missing)
            """,
    })
    assert _fails(tmp_path, "import app.views") == "NameError: name 'missing' is not defined"
    assert _run(tmp_path, "import app, builtins; print(builtins.dx(1), builtins.kx(5))") == ["1 5"]
    assert _got(check(tmp_path), tmp_path) == [("DC201", "error", "app/views.py", 3, "missing")]


def test_a_class_body_reads_the_module_name_after_deleting_its_own(tmp_path):
    # a class block looks names up in its namespace, then the module's, then builtins (LOAD_NAME): after
    # `del f` there, `f` is the module's; ruff's F821 says undefined, and it was an error at import
    _tree(tmp_path, {
        "app/__init__.py": "",
        "app/models.py": """
            import os


            def f():
                pass


            class C:
                f = 2
                del f
                g = f
                os = 1
                del os
                sep = os.sep
                list = 3
                del list
                empty = list()


            class D:
                x = 1
                del x
                y = x
            """,
    })
    assert _fails(tmp_path, "import app.models") == "NameError: name 'x' is not defined"
    assert _run(tmp_path, "import sys; sys.modules['app.models'] = None\n"
                          "exec(open('app/models.py').read().rpartition('class D')[0])\n"
                          "print(C.g.__name__, C.sep, C.empty)") == ["f / []"]
    assert _got(check(tmp_path), tmp_path) == [("DC201", "error", "app/models.py", 23, "x")]
