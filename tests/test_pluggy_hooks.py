"""pluggy hooks called at start-up (index/hooks.py): FlaskBB's ``create_app()`` calls
``pluggy.hook.flaskbb_load_blueprints(app=app)``, which runs each plugin module's ``@impl def
flaskbb_load_blueprints``; a stale name there kills every worker at start. The interpreter is the oracle: the
factory is called as the launcher calls it (pluggy is the one pytest runs on)."""

from __future__ import annotations

import subprocess
import sys

from conftest import check

PLUGINS = 'import pluggy\n\npm = pluggy.PluginManager("demo")\n'
# the hook implementation, with a half-done rename; a helper nothing calls at start-up
VIEWS = ('from pluggy import HookimplMarker\n\nimpl = HookimplMarker("demo")\n\n\n@impl(tryfirst=True)\n'
         'def load_blueprints(app):\n    return MemberListView\n\n\ndef later():\n    return OtherView\n')
# the same name without the marker: no plugin function, so never called by the hook
OTHER = 'def load_blueprints(app):\n    return AlsoMissing\n'
# a marker imported from the module that makes it
SHARED = ('import pluggy\n\nhookimpl = pluggy.HookimplMarker("demo")\n')
ADMIN = ('from shared import hookimpl\n\n\n@hookimpl\ndef load_blueprints(app):\n    return AdminView\n')
APP = ('import admin\nimport other\nimport views\nfrom plugins import pm\n\n\ndef create_app():\n'
       '    pm.register(views)\n    pm.register(admin)\n    pm.hook.load_blueprints(app=None)\n    return "app"\n')


def _project(root):
    for name, text in {"plugins": PLUGINS, "views": VIEWS, "other": OTHER, "shared": SHARED, "admin": ADMIN,
                       "app": APP}.items():
        (root / f"{name}.py").write_text(text)


def test_a_hook_implementation_called_by_the_factory_runs_at_start_up(tmp_path):
    _project(tmp_path)
    run = ("import app\ntry:\n    app.create_app()\nexcept NameError as e:\n    print(e)\n"
           "import views, other\nfor f in (views.later, lambda: other.load_blueprints(None)):\n    try:\n"
           "        f()\n    except NameError as e:\n        print(e)\n")
    out = subprocess.run([sys.executable, "-c", run], cwd=tmp_path, capture_output=True, text=True,
                         check=False).stdout
    # pluggy calls the implementations in LIFO order of registration, tryfirst ones first
    assert out.splitlines() == ["name 'MemberListView' is not defined", "name 'OtherView' is not defined",
                                "name 'AlsoMissing' is not defined"]
    result = check(tmp_path, entries=["app:create_app()"])
    got = sorted((f.code, f.module, f.line, f.symbol, f.when, f.severity) for f in result.findings)
    assert got == [("DC201", "admin", 6, "AdminView", "startup", "error"),
                   ("DC201", "other", 2, "AlsoMissing", "call", "error"),
                   ("DC201", "views", 8, "MemberListView", "startup", "error"),
                   ("DC201", "views", 12, "OtherView", "call", "error")]
    hook = next(f for f in result.findings if f.symbol == "MemberListView")
    assert hook.chain[-1].step == "the launcher calls app:create_app() → pluggy hook load_blueprints()"


def test_a_hook_nobody_calls_at_start_up_leaves_its_implementations_alone(tmp_path):
    _project(tmp_path)
    (tmp_path / "app.py").write_text(APP.replace("    pm.hook.load_blueprints(app=None)\n", ""))
    result = check(tmp_path, entries=["app:create_app()"])
    assert {(f.symbol, f.when) for f in result.findings} == {
        ("AdminView", "call"), ("AlsoMissing", "call"), ("OtherView", "call"), ("MemberListView", "call")}
