"""Functions that run at start-up (index/startup.py): called at module level, then what they call; their
bodies' imports join the closure unshielded, and what fails there fails at import. Nested functions,
lambdas and calls under a condition are not known to run. The interpreter is the oracle: what importing the
entry loads is exactly what is unshielded."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import check, write_tree

pytestmark = pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="fixtures state facts of Python 3.11")

TREE = {
    "pkg/__init__.py": "",
    "pkg/factory.py": (
        "import os\n"
        "\n"
        "\n"
        "def create_app():\n"
        "    from pkg import blueprints\n"
        "\n"
        "    helper()\n"
        "\n"
        "    def later():\n"
        "        from pkg import never\n"
        "\n"
        "        return never\n"
        "\n"
        "    callback = lambda: lazy()  # noqa: E731\n"
        "    if os.environ.get('MAYBE'):\n"
        "        from pkg import maybe  # noqa: F401\n"
        "    return blueprints, later, callback\n"
        "\n"
        "\n"
        "def helper():\n"
        "    from pkg.sub import helped  # noqa: F401\n"
        "\n"
        "\n"
        "def lazy():\n"
        "    from pkg import lazy_mod  # noqa: F401\n"
    ),
    "pkg/wsgi.py": "from pkg.factory import create_app\n\napp = create_app()\n",
    "pkg/blueprints.py": "", "pkg/never.py": "", "pkg/maybe.py": "", "pkg/lazy_mod.py": "",
    "pkg/sub/__init__.py": "", "pkg/sub/helped.py": "",
}


def loaded(root) -> set[str]:
    code = "import sys, pkg.wsgi\nprint(' '.join(m for m in sys.modules if m.split('.')[0] == 'pkg'))"
    proc = subprocess.run([sys.executable, "-c", code],
                          cwd=root, capture_output=True, text=True, check=True,
                          env={"PATH": os.environ.get("PATH", "")})
    return set(proc.stdout.split())


def test_what_runs_at_import_is_unshielded(tmp_path):
    write_tree(tmp_path, TREE)
    closure = check(tmp_path, entries=["pkg.wsgi"]).closure
    ours = {m: shield for m, (_, shield) in closure.items() if m.split(".")[0] == "pkg"}
    assert {m for m, shield in ours.items() if shield == 0} == loaded(tmp_path)
    assert {m for m, shield in ours.items() if shield} == {"pkg.never", "pkg.maybe", "pkg.lazy_mod"}


def test_a_function_called_at_import_fails_at_import(tmp_path):
    write_tree(tmp_path, {k: v for k, v in TREE.items() if k != "pkg/sub/helped.py"})
    proc = subprocess.run([sys.executable, "-c", "import pkg.wsgi"], cwd=tmp_path, capture_output=True,
                          text=True, check=False)
    assert "cannot import name 'helped' from 'pkg.sub'" in proc.stderr
    from deploycheck.render.text import chain_text

    got = [(f.code, f.severity, f.when, f.line, chain_text(f).replace(str(tmp_path) + "/", ""))
           for f in check(tmp_path, entries=["pkg.wsgi"]).findings]
    assert got == [("DC102", "error", "import", 21,
                    "pkg.wsgi (pkg/wsgi.py:3) → create_app() called at import → pkg.factory")]
    # nobody calls create_app() when pkg.factory is the entry: a function body, an error when called
    got = [(f.code, f.severity, f.when) for f in check(tmp_path, entries=["pkg.factory"]).findings]
    assert got == [("DC102", "error", "call")]


@pytest.mark.parametrize(("argv", "called"), [
    (["uvicorn", "--factory", "pkg.factory:create_app"], True),
    (["gunicorn", "pkg.factory:create_app()"], True),
    (["hypercorn", "pkg.factory:create_app()"], True),
    (["gunicorn", "pkg.factory:create_app"], False),  # the object itself is the application
    (["uvicorn", "pkg.factory:create_app"], False),
])
def test_the_factory_a_server_calls(tmp_path, argv, called):
    from deploycheck import frameworks
    from deploycheck.artifact.files import HostFiles
    from deploycheck.check import open_program
    from deploycheck.environment import interpreter, launcher

    write_tree(tmp_path, TREE)
    program, _ = open_program(interpreter.probe(sys.executable), [str(tmp_path)], HostFiles(), None, True)
    try:
        program.launch = launcher.entries(argv, None, {}, str(tmp_path))
        frameworks.close(program, [e.module for e in program.launch])
        assert (("pkg.factory", "create_app") in program.reached) == called
        assert (program.nodes["pkg.sub.helped"].shield == 0) == called
        if called:
            assert program.nodes["pkg.blueprints"].step == f"{argv[0]} calls pkg.factory:create_app()"
            assert program.nodes["pkg.blueprints"].phase == "startup"
    finally:
        program.store.close()
