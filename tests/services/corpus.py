"""The corpus of real services (``corpus.json``): their cached environments, a working copy of each service's
code, the interpreter as oracle (``started.py``: the service started as its launcher and framework start it)
and deploycheck's closure of the same service, for comparison.

Each service is a distribution published on PyPI whose wheel holds the whole service. Its environment is the
pinned set recorded in ``corpus.json`` (``pip freeze`` after one resolution of ``requirement``, see
``regen.py``), installed without dependency resolution into a throwaway virtual environment cached by its
inputs (``conftest.venv``). The service's own packages are then copied out of that environment into a
temporary project directory, where deploycheck checks them as a project and the oracle imports them (the
project directory is first on ``sys.path``, as the working directory of ``python -m``/``gunicorn`` is):
breakages are applied to that copy, never to the cached environment.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus.json"
STARTED = HERE / "started.py"
ORACLE_TIMEOUT = 600  # seconds for one start of one service (the largest takes well under a minute)
CACHE = Path(os.environ.get("DEPLOYCHECK_TEST_CACHE", Path.home() / ".cache" / "deploycheck-tests"))
# Set to 1 to start every service again instead of reusing a recorded start with the same inputs.
FRESH = os.environ.get("DEPLOYCHECK_CORPUS_FRESH") == "1"


def load() -> dict:
    """``corpus.json`` as a dict: ``{"python": "3.11", "services": [...]}``."""
    return json.loads(CORPUS.read_text())


def services() -> list[dict]:
    return load()["services"]


def service(name: str) -> dict:
    for s in services():
        if s["name"] == name:
            return s
    raise KeyError(name)


def environment(svc: dict) -> str:
    """The interpreter of the service's cached environment: exactly its ``pins``, installed without
    dependency resolution (the pins are the resolution) by ``conftest.venv``."""
    from conftest import venv

    return venv(svc["pins"], no_deps=True)


def drift_environment(python: str, pins: dict[str, str]) -> str:
    """An environment where the distributions of ``pins`` (name -> version) are the given versions and
    everything else is the environment of ``python``: a new virtual environment whose own site-packages holds
    those versions and whose ``.pth`` line adds the cached environment's site-packages after them (``site``
    reads ``.pth`` directory lines; a package found first wins whole). Nothing of the cached environment is
    changed. Cached like ``conftest.venv``, keyed by both; returns the new interpreter."""
    base = site_packages(python)
    key = hashlib.sha256(json.dumps([str(base), sorted(pins.items()), sys.version]).encode()).hexdigest()[:16]
    target = CACHE / "venvs" / f"drift-{key}"
    done = target / ".complete"
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f"venv-drift-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            subprocess.run(["rm", "-rf", str(target)], check=True)
            subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(target)], check=True)
            site = next(target.glob("lib/python3*/site-packages"))
            # --target never uninstalls: the cached environment keeps its own version
            proc = subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                                   "--no-deps", "--no-compile", "--target", str(site),
                                   *(f"{n}=={v}" for n, v in sorted(pins.items()))],
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(f"pip install {pins} failed:\n{proc.stderr[-3000:]}")
            shutil.rmtree(site / "bin", ignore_errors=True)
            (site / "zz-corpus-base.pth").write_text(str(base) + "\n")
            done.touch()
    return str(target / "bin" / "python")


def site_packages(python: str) -> Path:
    """The site-packages directory of the virtual environment whose interpreter is ``python``."""
    return next(Path(python).parent.parent.glob("lib/python3*/site-packages"))


def _copy_py_link_rest(src: str, dst: str) -> str:
    # Python sources are copied (breakages edit them); data files are links (read only, and large: static
    # bundles); deploycheck and the interpreter read the copies, code reading data finds the links.
    if src.endswith((".py", ".pyi")):
        return shutil.copy2(src, dst)
    os.symlink(src, dst)
    return dst


def project_copy(python: str, packages: list[str], dest: Path, contents: bool = False) -> Path:
    """Copy the service's top-level ``packages`` (directories or ``name.py`` modules) out of the environment
    of ``python`` into ``dest``; returns ``dest``. With ``contents``, the one package directory's contents are
    the project (a service its launcher starts from inside that directory, as ``gunicorn --chdir``)."""
    site = site_packages(python)
    if contents:
        (name,) = packages
        shutil.copytree(site / name, dest, copy_function=_copy_py_link_rest, symlinks=False,
                        ignore=shutil.ignore_patterns("__pycache__"))
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    for name in packages:
        src = site / name
        if src.is_dir():
            shutil.copytree(src, dest / name, copy_function=_copy_py_link_rest, symlinks=False,
                            ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(site / f"{name}.py", dest / f"{name}.py")
    return dest


@dataclass
class Start:
    """What one start of a service did: the modules each step loaded (name -> file or None) and the first
    failure (``started.py``'s description), if any."""

    steps: list[dict]
    baseline: set[str]

    @property
    def failure(self) -> dict | None:
        for s in self.steps:
            if s["failure"] is not None:
                return {"step": s["step"], **s["failure"]}
        return None

    @property
    def modules(self) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        for s in self.steps:
            out.update(s["modules"])
        return out

    def step_of(self, module: str) -> str | None:
        for s in self.steps:
            if module in s["modules"]:
                return describe_step(s["step"])
        return None


def describe_step(step: dict) -> str:
    """A short name of a start step, as the docs and test reasons show it."""
    kind = step["kind"]
    if kind == "import":
        return f"import {step['module']}"
    if kind == "call":
        return f"call {step['target']}()"
    if kind == "django":
        return "Django's first request (ROOT_URLCONF, MIDDLEWARE, template libraries, auth backends)"
    if kind == "django-commands":
        return "Django management commands of INSTALLED_APPS"
    if kind == "flask-routes":
        return "the Flask app's view functions"
    if kind == "celery":
        return f"celery -A {step['app']} worker boot (finalize, imports, autodiscover_tasks)"
    if kind == "entry-points":
        return f"entry points {step['group']}"
    return kind


def oracle_env(svc: dict, project: Path, home: Path) -> dict[str, str]:
    """The process environment a start runs with: a private HOME, the service's own variables (a dummy secret,
    a SQLite database in HOME), the project copy first on ``sys.path``, no bytecode written."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LC_ALL": "C.UTF-8",
           "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(project), "TMPDIR": str(home)}
    for k, v in svc.get("env", {}).items():
        env[k] = v.replace("{home}", str(home)).replace("{project}", str(project))
    return env


def tree_digest(project: Path) -> str:
    """A digest of a project copy: every path, each Python file's bytes and each link's target."""
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(project):
        dirnames.sort()
        for f in sorted(filenames):
            p = os.path.join(dirpath, f)
            rel = os.path.relpath(p, project)
            h.update(rel.encode() + b"\0")
            if os.path.islink(p):
                h.update(os.readlink(p).encode() + b"\0")
            else:
                with open(p, "rb") as fh:
                    h.update(hashlib.sha256(fh.read()).digest())
    return h.hexdigest()


def start(svc: dict, python: str, project: Path, steps: list[dict] | None = None) -> Start:
    """Start ``svc`` from the code in ``project`` with ``python`` (a fresh process, in a private HOME that is
    removed afterwards) and return what it loaded and what failed.

    A start is recorded under the test cache keyed by everything it depends on (the environment's pins and
    site-packages path, the steps, variables and files, this oracle's code, the digest of the project copy),
    and reused while none of them changes (``DEPLOYCHECK_CORPUS_FRESH=1`` starts again)."""
    steps = steps if steps is not None else svc["start"]
    key_parts = [svc.get("pins"), str(site_packages(python).resolve()), steps, svc.get("env"),
                 svc.get("files"), STARTED.read_text(), tree_digest(project), sys.version]
    key = hashlib.sha256(json.dumps(key_parts, sort_keys=True).encode()).hexdigest()[:24]
    record = CACHE / "corpus-starts" / f"{svc['name']}-{key}.json"
    if record.exists() and not FRESH:
        report = json.loads(record.read_text())
        return Start(_relocate(report["steps"], report["project"], str(project)), set(report["baseline"]))
    report = _start(svc, python, project, steps)
    report["project"] = str(project)
    record.parent.mkdir(parents=True, exist_ok=True)
    tmp_record = record.with_suffix(".tmp")
    tmp_record.write_text(json.dumps(report))
    tmp_record.replace(record)
    return Start(report["steps"], set(report["baseline"]))


def _relocate(steps: list[dict], old: str, new: str) -> list[dict]:
    # a recorded start names the project copy it ran in: point its paths at this copy
    return json.loads(json.dumps(steps).replace(json.dumps(old)[1:-1], json.dumps(new)[1:-1]))


def _start(svc: dict, python: str, project: Path, steps: list[dict]) -> dict:
    with tempfile.TemporaryDirectory(prefix="corpus-start-") as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        for rel, text in svc.get("files", {}).items():  # configuration files the service reads at start
            p = home / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text.replace("{home}", str(home)))
        spec = Path(tmp) / "spec.json"
        out = Path(tmp) / "out.json"
        spec.write_text(json.dumps(steps))
        proc = subprocess.run([python, str(STARTED), str(spec), str(out)], cwd=str(project),
                              env=oracle_env(svc, project, home), stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=ORACLE_TIMEOUT)
        if not out.exists():
            raise RuntimeError(f"{svc['name']}: the start died (exit {proc.returncode}): "
                               f"{proc.stderr[-2000:]}")
        return json.loads(out.read_text())


@dataclass
class Coverage:
    """Started modules (with a source file) against deploycheck's closure, split by where they live."""

    started: dict[str, list[str]] = field(default_factory=dict)  # origin -> module names
    missed: dict[str, list[str]] = field(default_factory=dict)  # origin -> started but not in the closure

    def counts(self) -> dict[str, tuple[int, int]]:
        """origin -> (started, of which in the closure)."""
        return {o: (len(m), len(m) - len(self.missed.get(o, []))) for o, m in self.started.items()}


def origin_of(path: str, project: Path, python: str) -> str:
    """``service``, ``third-party`` (a site directory of ``python``'s environment) or ``stdlib``."""
    where_ = where(path, project, python)
    if where_.startswith("<site>/"):
        return "third-party"
    return "stdlib" if where_.startswith("/") else "service"


def coverage(started: Start, closure: dict, project: Path, python: str) -> Coverage:
    """Compare the modules a start loaded (those with a ``.py`` file, outside the oracle's own baseline) with
    ``closure`` (deploycheck's ``Result.closure``: module name -> (origin, shield))."""
    cov = Coverage()
    for name, path in sorted(started.modules.items()):
        if not path or not path.endswith(".py"):
            continue
        origin = origin_of(path, project, python)
        cov.started.setdefault(origin, []).append(name)
        if name not in closure:
            cov.missed.setdefault(origin, []).append(name)
    return cov


def deploycheck(project: Path, python: str, entries: list[str], cache_dir: Path | None = None):
    """deploycheck's check of the project copy with the service's interpreter, in this process: the
    ``Result`` (findings, ``closure``)."""
    from deploycheck.check import Options, run

    return run(Options(path=str(project), python=python, entries=list(entries),
                       cache_dir=str(cache_dir) if cache_dir else None, no_cache=cache_dir is None))


def where(path: str, project: Path, python: str) -> str:
    """A file as the corpus records it: relative to the project copy, or ``<site>/`` + relative to the
    environment's site-packages, or absolute (the standard library)."""
    real = os.path.realpath(path)
    proj = str(project.resolve())
    if real.startswith(proj + os.sep):
        return os.path.relpath(real, proj)
    for site in site_dirs(python):
        if real.startswith(site + os.sep):
            return "<site>/" + os.path.relpath(real, site)
    return real


def site_dirs(python: str) -> list[str]:
    """The environment's site-packages, then the directories its ``.pth`` files add (a drift environment's
    base), resolved."""
    site = site_packages(python).resolve()
    dirs = [str(site)]
    for pth in sorted(site.glob("*.pth")):
        for line in pth.read_text().splitlines():
            if line and not line.startswith(("#", "import")) and os.path.isdir(line):
                dirs.append(os.path.realpath(line))
    return dirs


def finding_key(f, project: Path, python: str) -> str:
    """``CODE path:line`` of a finding, paths as ``where`` writes them."""
    return f"{f.code} {where(f.path, project, python)}:{f.line}"


@dataclass
class Verdicts:
    """Error findings of a check, judged: ``real`` (the oracle or a recorded verdict shows the failure),
    ``false`` (the oracle imports the module, or a recorded verdict shows the code cannot fail), ``unjudged``
    (a call-time finding with no recorded verdict, or one whose probe the interpreter contradicts). Each maps
    ``CODE path:line`` to the evidence."""

    real: dict[str, str] = field(default_factory=dict)
    false: dict[str, str] = field(default_factory=dict)
    unjudged: dict[str, str] = field(default_factory=dict)


def judge(svc: dict, python: str, project: Path, result, setup: list[dict] | None = None) -> Verdicts:
    """Judge every error finding of ``result``. Import-time findings go to the interpreter: their modules
    are imported one by one after the service's own start steps (``setup``, default ``svc["start"]``), and a
    finding is real when its module fails with the exception it predicts at its line (or naming its
    symbol). A recorded verdict decides instead when there is one (always for call-time findings):
    ``svc["verdicts"]``: ``{"CODE path:line": {"verdict": "real" |
    "false", "evidence": text, "probe": code, "raises": exception name}}``, each written from reading the
    code, its ``probe`` run by the interpreter (``probe``) to confirm it."""
    out = Verdicts()
    errors = [f for f in result.findings if f.severity == "error"]
    at_import = [f for f in errors if f.when != "call"]
    outcomes: dict[str, dict | None] = {}
    if at_import:
        modules = sorted({f.module for f in at_import})
        steps = list(setup if setup is not None else svc["start"])
        steps.append({"kind": "import-each", "modules": modules})
        started = start(svc, python, project, steps)
        last = started.steps[-1]
        if last["step"]["kind"] == "import-each":
            outcomes = {r["module"]: r["failure"] for r in last["soft"]}
    recorded = svc.get("verdicts", {})
    keys = {finding_key(f, project, python) for f in errors}
    probes = probe(svc, python, project,
                   {k: v["probe"] for k, v in recorded.items() if k in keys and "probe" in v})
    for f in errors:
        key = finding_key(f, project, python)
        v = recorded.get(key)
        if v is not None:  # a recorded verdict, its probe run by the interpreter
            if key in probes and probes[key] != v.get("raises"):
                out.unjudged[key] = f"its probe raised {probes[key]}, the verdict expects {v.get('raises')}"
            else:
                (out.real if v["verdict"] == "real" else out.false)[key] = v["evidence"]
            continue
        if f.when == "call":
            out.unjudged[key] = f.message
            continue
        if f.module not in outcomes:
            out.unjudged[key] = f"the start failed before {f.module} could be imported"
            continue
        failure = outcomes[f.module]
        if failure is None:
            out.false[key] = f"`import {f.module}` succeeds after the service's start ({f.message})"
            continue
        spots = [(failure["file"], failure["line"])] + [(c["file"], c["line"]) for c in failure["causes"]]
        real = os.path.realpath(f.path)
        at_line = any(p and os.path.realpath(p) == real and ln == f.line for p, ln in spots)
        named = f.symbol and f"'{f.symbol}'" in failure["message"]
        evidence = f"`import {f.module}`: {failure['type']}: {failure['message'][:200]}"
        if at_line or named:
            out.real[key] = evidence
        else:
            spot = f"{where(failure['file'] or '?', project, python)}:{failure['line']}"
            out.unjudged[key] = f"{evidence} at {spot}"
    return out


_PROBE = r"""
import json, sys
out = {}
for key, code in json.loads(sys.argv[1]).items():
    try:
        exec(compile(code, key, "exec"), {})
        out[key] = None
    except Exception as e:
        out[key] = type(e).__name__
print(json.dumps(out))
"""


def probe(svc: dict, python: str, project: Path, codes: dict[str, str]) -> dict[str, str | None]:
    """Run each snippet of ``codes`` (key -> Python source) in one fresh process of the service's interpreter,
    with the service's variables and the project copy first on the path; key -> the name of the exception
    it raised, or None. A recorded verdict's ``probe`` shows what the finding claims: that the code runs
    (``raises`` absent: a false alarm) or fails as predicted (``raises``: the exception's name)."""
    if not codes:
        return {}
    with tempfile.TemporaryDirectory(prefix="corpus-probe-") as tmp:
        proc = subprocess.run([python, "-c", _PROBE, json.dumps(codes)], cwd=str(project),
                              env=oracle_env(svc, project, Path(tmp)), capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=ORACLE_TIMEOUT)
    if proc.returncode != 0:
        raise RuntimeError(f"{svc['name']}: the probes died: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.splitlines()[-1])


def python_files(project: Path) -> int:
    return sum(1 for _ in project.rglob("*.py"))

