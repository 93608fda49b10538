"""The interpreter as oracle: import each module of an import closure with the target interpreter, each batch
in a fresh process, and compare what fails with what deploycheck reported.

A *false alarm* is an import-time error finding (DC101-DC103, DC202) in a module whose import succeeds in a
fresh process. A *miss* is an import that fails with ImportError, AttributeError, NameError or SyntaxError at
a statement (file and line from the traceback) where deploycheck reported nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass, field

# Run inside the target interpreter. Output goes to a file because imported modules may print.
_IMPORTER = r"""
import importlib, json, sys, traceback
out, names = sys.argv[1], sys.argv[2:]
res = {}
for name in names:
    try:
        importlib.import_module(name)
        res[name] = None
    except BaseException as e:
        frames = [f for f in traceback.extract_tb(e.__traceback__) if not f.filename.startswith("<frozen")]
        where = (frames[-1].filename, frames[-1].lineno) if frames else (None, None)
        if isinstance(e, SyntaxError) and e.filename:
            where = (e.filename, e.lineno)
        res[name] = [type(e).__name__, str(e)[:400], where[0], where[1]]
        if isinstance(e, KeyboardInterrupt):
            break
with open(out, "w") as f:
    json.dump(res, f)
"""

IN_SCOPE = {"ModuleNotFoundError", "ImportError", "AttributeError", "NameError", "SyntaxError"}
_SKIP = {"antigravity", "this", "__main__", "__phello__", "__hello__"}


@dataclass
class Comparison:
    imported: int = 0
    failed: dict[str, list] = field(default_factory=dict)
    false_alarms: list[dict] = field(default_factory=list)
    missed: list[dict] = field(default_factory=list)


def import_each(python: str, modules: list[str], cwd: str, pythonpath: list[str] | None = None,
                batch: int = 200, timeout: float = 300) -> dict[str, list | None]:
    """``{module: None | [exception type, message, file, line]}``; each batch runs in a new process."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"), "LC_ALL": "C.UTF-8",
           "PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "Agg"}
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(pythonpath)
    results: dict[str, list | None] = {}
    todo = [m for m in modules if m.split(".")[0] not in _SKIP]
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.json")
        for i in range(0, len(todo), batch):
            names = todo[i : i + batch]
            try:
                subprocess.run([python, "-c", _IMPORTER, out, *names], cwd=cwd, env=env, timeout=timeout,
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                with open(out) as f:
                    results.update(json.load(f))
                os.unlink(out)
            except (subprocess.TimeoutExpired, OSError, ValueError):
                if batch > 1:
                    results.update(import_each(python, names, cwd, pythonpath, batch=1, timeout=60))
    return results


def compare(report: dict, python: str, cwd: str, pythonpath: list[str] | None = None,
            modules: list[str] | None = None) -> Comparison:
    """Import every closure module named in ``modules`` (default: the modules of the report's findings and
    entries) and compare with ``report`` (deploycheck's JSON document)."""
    if modules is None:
        modules = sorted({f["module"] for f in report["findings"]} | set(report["target"]["entries"]))
    first = import_each(python, modules, cwd, pythonpath)
    # Re-check every disagreement alone in a fresh process: earlier imports in a batch can change the outcome.
    errors = [f for f in report["findings"] if f["severity"] == "error" and f["when"] == "import"]
    by_module: dict[str, list[dict]] = {}
    for f in errors:
        by_module.setdefault(f["module"], []).append(f)
    suspects = [m for m, r in first.items() if (r is None) == (m in by_module) or (r and r[0] in IN_SCOPE)]
    fresh = {m: import_each(python, [m], cwd, pythonpath, batch=1, timeout=120).get(m) for m in suspects}
    results = {**first, **fresh}
    cmp = Comparison(imported=len(results))
    located = {(os.path.realpath(f["path"]), f["line"]) for f in errors}
    symbols = {(os.path.realpath(f["path"]), f["symbol"]) for f in errors}
    for module, res in results.items():
        if res is None:
            cmp.false_alarms.extend(by_module.get(module, []))
            continue
        cmp.failed[module] = res
        etype, message, path, line = res
        if etype not in IN_SCOPE or not path:
            continue
        real = os.path.realpath(path)
        named = [s for s in _quoted(message) if (real, s) in symbols]
        if (real, line) not in located and not named:
            cmp.missed.append({"module": module, "error": etype, "message": message, "path": path, "line": line})
    return cmp


def _quoted(message: str) -> list[str]:
    parts = message.split("'")
    return [parts[i] for i in range(1, len(parts), 2)]


_NOT_SERVICE_CODE = {"tests", "test", "testing", "_vendor", "vendor", "benchmarks", "examples"}
_TOOLING = {"pip", "setuptools", "pkg_resources", "_distutils_hack", "wheel"}


def site_modules(site: str) -> list[str]:
    """Every importable source module under a site-packages directory, except test suites, vendored copies
    and the packaging tools themselves."""
    mods: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(site):
        rel = os.path.relpath(dirpath, site)
        parts = [] if rel == "." else rel.split(os.sep)
        if parts and (not all(p.isidentifier() for p in parts) or parts[-1] in _NOT_SERVICE_CODE
                      or parts[0] in _TOOLING or "__init__.py" not in filenames):
            dirnames[:] = []
            continue
        for f in filenames:
            stem = f[:-3]
            if not f.endswith(".py") or f == "__main__.py" or not stem.isidentifier() or stem.startswith("test_"):
                continue
            if not parts and stem in _TOOLING | {"conftest"}:
                continue
            name = ".".join(parts) if stem == "__init__" else ".".join(parts + [stem])
            if name:
                mods.add(name)
    return sorted(mods)
