"""Entry points that a launcher loads (``frameworks/entrypoints.py``): Celery's ``celery.commands``, a pluggy
plugin manager's group, and the console scripts an image's command runs; each checked against the
interpreter starting the same thing.

The plugins are installed the way an installer would (their ``*.dist-info`` with ``entry_points.txt``) into
a small environment whose ``.pth`` line adds the cached Celery environment after it."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FIXTURES, bare_venv, check, cli, cli_json, venv, write_tree
from test_frameworks_celery import PINS
from test_image_layers import _tar, oci_layout

pytestmark = pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="fixtures state facts of Python 3.11")

HERE = FIXTURES / "frameworks" / "entrypoints"


def dist(site: Path, name: str, entry_points: str, files: dict[str, str]) -> None:
    """Install distribution ``name`` 1.0 into ``site`` as pip would: its files and its ``.dist-info``."""
    info = f"{name.replace('-', '_')}-1.0.dist-info"
    write_tree(site, {**files, f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n",
                      f"{info}/entry_points.txt": entry_points,
                      f"{info}/RECORD": "".join(f"{p},,\n" for p in [*files, f"{info}/METADATA"])})


@pytest.fixture(scope="module")
def base():
    return venv(PINS, no_deps=True)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("summaries")  # what the checks parse, parsed once for the module


@pytest.fixture
def env(tmp_path, base):
    """A new environment over the cached one: ``(python, its own site-packages)``."""
    python, site = bare_venv(tmp_path)
    base_site = next(Path(base).parent.parent.glob("lib/python3*/site-packages"))
    (site / "base.pth").write_text(f"{base_site}\n")
    return python, site


HELLO = {"celery_hello/__init__.py": "",
         "celery_hello/command.py": "import click\n\nfrom celery_hello.texts import GREETING\n\n\n"
                                    "@click.command()\ndef hello():\n    click.echo(GREETING)\n",
         "celery_hello/texts.py": "GREETING = 'hello'\n"}


def test_celery_loads_its_command_plugins(tmp_path, env, cache):
    python, site = env
    dist(site, "celery-hello", "[celery.commands]\nhello = celery_hello.command:hello\n", HELLO)
    (site / "celery_hello" / "texts.py").unlink()  # the plugin's own module is missing: `celery hello` fails
    project = write_tree(tmp_path / "svc", {"svc.py": "X = 1\n"})
    result = check(project, python, ["celery.bin.celery"], cache)
    got = [(f.code, os.path.relpath(f.path, site), f.line, f.severity, f.when,
            [(h.module, h.line, h.step) for h in f.chain]) for f in result.findings]
    step = "celery loads entry point hello = celery_hello.command:hello"
    assert got == [("DC101", "celery_hello/command.py", 3, "error", "startup",
                    [("celery.bin.celery", 47, step)])]
    assert "flower.command" in result.closure  # the other plugin of the environment, loaded the same way
    # the interpreter: Celery's command line starts, and its `hello` command fails with the plugin's error
    proc = subprocess.run([python, "-m", "celery", "hello"], cwd=project, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 1
    assert f'File "{site}/celery_hello/command.py", line 3' in proc.stdout + proc.stderr
    assert "No module named 'celery_hello.texts'" in proc.stdout + proc.stderr


GREET = {"hostapp_greet/__init__.py": "from hostapp.hookspecs import hookimpl\n\n\n"
                                      "@hookimpl\ndef greeting():\n    return 'hello'\n"}


@pytest.mark.parametrize("broken", [False, True])
def test_a_pluggy_group_loaded_at_import(tmp_path, env, cache, broken):
    python, site = env
    greet = dict(GREET)
    if broken:  # written for a newer host: its decorator has another name there
        greet["hostapp_greet/__init__.py"] = greet["hostapp_greet/__init__.py"].replace("import hookimpl",
                                                                                          "import hook_impl")
    dist(site, "hostapp-greet", "[hostapp]\ngreet = hostapp_greet\n", greet)
    # a group loaded in a function body (as pytest loads pytest11) is not loaded at start-up
    dist(site, "hostapp-tests", "[hostapp_tests]\nbroken = hostapp_gone\n", {})
    project = HERE / "pluggy"
    result = check(project, python, ["hostapp.cli"], cache)
    got = [(f.code, os.path.relpath(f.path, site), f.line, f.severity, f.when,
            [(h.module, h.line, h.step) for h in f.chain]) for f in result.findings]
    expected = [("DC102", "hostapp_greet/__init__.py", 1, "error", "import",
                 [("hostapp.cli", 1, ""), ("hostapp.plugins", 7, "pluggy loads entry point hostapp: greet = "
                                                               "hostapp_greet")])]
    assert got == (expected if broken else [])
    assert "hostapp_greet" in result.closure and "hostapp_gone" not in result.closure
    code = ("import os, sys, traceback\nsys.path.insert(0, os.getcwd())\ntry:\n    import hostapp.cli\n"
            "except ImportError as e:\n    f = traceback.extract_tb(e.__traceback__)[-1]\n"
            "    print(f.filename, f.lineno)\n")
    out = subprocess.run([python, "-c", code], cwd=project, capture_output=True, text=True, check=True).stdout
    assert out.split() == ([str(site / "hostapp_greet" / "__init__.py"), "1"] if broken else [])


# -- an image's command ------------------------------------------------------------------------------------
SITE = "usr/lib/python3/dist-packages"
# What `celery -A proj worker` needs in the image, copied from the cached environment as pip installed it.
CELERY_DISTS = ("celery", "kombu", "vine", "billiard", "amqp", "click", "click_didyoumean", "click_plugins",
                "click_repl", "dateutil", "six", "tzlocal", "prompt_toolkit", "wcwidth", "python_dateutil",
                "typing_extensions")  # click_repl imports it: without it `celery` itself fails to start


def _site_members(base: str) -> list[tuple]:
    src = next(Path(base).parent.parent.glob("lib/python3*/site-packages"))
    out = []
    for entry in sorted(src.iterdir()):
        dist_info = entry.name.endswith(".dist-info")
        stem = entry.name.split("-")[0].lower() if dist_info else entry.name.split(".")[0]
        if stem not in CELERY_DISTS:
            continue
        files = [entry] if entry.is_file() else sorted(p for p in entry.rglob("*") if p.is_file())
        for f in files:
            if "__pycache__" in f.parts or f.suffix == ".so":
                continue
            out.append((f"{SITE}/{f.relative_to(src)}", "file", f.read_bytes()))
    return out


def _script(name: str, module: str, func: str) -> tuple:
    return (f"usr/local/bin/{name}", "file",
            f"#!/usr/bin/python3\nimport sys\nfrom {module} import {func}\nsys.exit({func}())\n".encode())


@pytest.fixture(scope="module")
def image_layers(base):
    if not (os.path.isdir("/usr/lib/python3.11") and os.path.exists("/usr/bin/python3.11")):
        pytest.skip("needs Debian's python3.11 files")
    from test_image_check import _python_layer

    site = _site_members(base) + [_script("celery", "celery.__main__", "main")]
    plugin = [(f"{SITE}/{p}", "file", t.encode()) for p, t in HELLO.items() if not p.endswith("texts.py")]
    plugin += [(f"{SITE}/celery_hello-1.0.dist-info/METADATA", "file", b"Name: celery-hello\nVersion: 1.0\n"),
               (f"{SITE}/celery_hello-1.0.dist-info/entry_points.txt", "file",
                b"[celery.commands]\nhello = celery_hello.command:hello\n")]
    return gzip.compress(_python_layer(), 1), gzip.compress(_tar(site + plugin), 1)  # compressed once


def _image(tmp_path, layers, cmd, app):
    root = tmp_path / "layout"
    oci_layout(root, [*layers, gzip.compress(_tar([(p, "file", t.encode()) for p, t in app.items()]))],
               config={"Env": ["PATH=/usr/local/bin:/usr/bin:/bin"], "WorkingDir": "/srv/app", "Cmd": cmd},
               as_is=True)
    return f"oci:{root}"


PROJ = {"srv/app/proj/__init__.py": "",
        "srv/app/proj/celery.py": "from celery import Celery\n\n"
                                  "app = Celery('proj', include=['proj.jobs'])\n",
        "srv/app/proj/jobs.py": "from proj.celery import app\nfrom proj.text import slugify\n",
        "srv/app/proj/text.py": "def make_slug(text):\n    return text\n"}


def test_celery_worker_image(tmp_path, image_layers, cache):
    """``celery -A proj worker``: ``proj`` has no ``app`` or ``celery``, so Celery loads ``proj.celery``
    (``find_app``); the worker boots its app; the ``celery`` program is Celery's console script; the broken
    ``hello`` plugin does not matter, since the command run is ``worker``."""
    target = _image(tmp_path, image_layers, ["celery", "-A", "proj", "worker", "-l", "info"], PROJ)
    code, doc = cli_json("check", target, "--cache-dir", cache)
    assert doc["target"]["entries"] == ["proj", "celery.__main__"]
    got = [(f["code"], f["path"], f["line"], f["when"], [(h["module"], h["line"], h.get("step", ""))
                                                        for h in f["chain"]]) for f in doc["findings"]]
    assert (code, got) == (1, [("DC102", "/srv/app/proj/jobs.py", 2, "startup",
                                [("proj", 0, "celery -A proj: proj.celery"),
                                 ("proj.celery", 3, "celery worker boot: include")])])


def test_console_script_image(tmp_path, image_layers, cache):
    """A program that is a console script of an installed distribution is its ``module:function``."""
    app = {f"{SITE}/hello_srv/__init__.py": "",
           f"{SITE}/hello_srv/main.py": "import yaml_gone\n\n\ndef serve():\n    return 0\n",
           f"{SITE}/hello_server-1.0.dist-info/METADATA": "Name: hello-server\nVersion: 1.0\n",
           f"{SITE}/hello_server-1.0.dist-info/entry_points.txt":
               "[console_scripts]\nhello-server = hello_srv.main:run\n",
           "usr/local/bin/hello-server": "#!/usr/bin/python3\nfrom hello_srv.main import run\nrun()\n"}
    target = _image(tmp_path, image_layers, ["hello-server", "--port", "80"], app)
    code, doc = cli_json("check", target, "--cache-dir", cache)
    assert doc["target"]["entries"] == ["hello_srv.main"]
    got = sorted((f["code"], f["path"], f["line"], f["symbol"]) for f in doc["findings"])
    assert (code, got) == (1, [("DC101", f"/{SITE}/hello_srv/main.py", 1, "yaml_gone"),
                               ("DC505", f"/{SITE}/hello_srv/main.py", 0, "run")])
    msg = next(f["message"] for f in doc["findings"] if f["code"] == "DC505")
    assert msg == ("the image's command (hello-server (console script)) uses 'hello_srv.main:run', but "
                   "'hello_srv.main' has no attribute 'run'")
    # a program that is no console script is still not a Python entry
    target = _image(tmp_path / "n", image_layers, ["nginx", "-g", "daemon off;"], {})
    code, _, err = cli("check", target, "--cache-dir", cache)
    assert code == 2
    assert err.strip().endswith("starts no Python module that deploycheck recognizes; name the entries with "
                                "--entry")


def test_the_distributions_read_are_bounded(tmp_path, env):
    python, _site = env
    base = {**os.environ, "DEPLOYCHECK_MAX_DISTRIBUTIONS": "5"}
    code, _, err = cli("check", HERE / "pluggy", "--python", python, "--entry", "hostapp.cli", "--no-cache",
                       env=base)
    assert code == 2
    assert err.startswith("deploycheck: error: ") and err.count("\n") == 1
    assert "more than 5 installed distributions on the search path" in err
    assert "DEPLOYCHECK_MAX_DISTRIBUTIONS" in err
    code, _, err = cli("check", HERE / "pluggy", "--python", python, "--entry", "hostapp.cli", "--no-cache",
                       env={**os.environ, "DEPLOYCHECK_MAX_DISTRIBUTIONS": "many"})
    assert (code, err) == (2, "deploycheck: error: DEPLOYCHECK_MAX_DISTRIBUTIONS must be a whole number of "
                              "distributions\n")


def test_code_importing_celerys_command_line_does_not_run_its_plugins(tmp_path, env, cache):
    """A project adding a command to Celery's command line imports it, but runs only its own command: a broken
    plugin (which click_plugins turns into a broken command of its own) is not its failure."""
    python, site = env
    dist(site, "celery-hello", "[celery.commands]\nhello = celery_hello.command:hello\n", HELLO)
    (site / "celery_hello" / "texts.py").unlink()
    project = write_tree(tmp_path / "svc", {"svc.py": "from celery.bin.celery import celery\n\n\n"
                                                      "@celery.command()\ndef mine():\n    pass\n"})
    result = check(project, python, ["svc"], cache)
    assert result.findings == [] and "celery.bin.celery" in result.closure
    assert "celery_hello.command" not in result.closure
