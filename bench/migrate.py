"""Benchmark: `deploycheck migrate status` against a cold `deploycheck check` of the same tree.

The tree is Django's sdist (the same one as ``run.py``: Django and its test suite, 492,000 lines) with SymPy's
package and tests from its sdist (745,000 lines) copied in beside ``django/``: 1.24 million lines of real code,
over the issue's 750,000. Two migrations are declared in its pyproject.toml and measured one at a time:

- ``force-str`` retires ``django.utils.encoding.force_str``: a typical symbol, spelled in a few dozen files;
- ``test-case`` retires ``django.test.TestCase``: the worst case, a name spelled in most test files, so
  that nearly every one must be parsed.

Each command starts with an empty ``--cache-dir`` on a fresh copy, in interleaved rounds (one warm-up round,
then ``--runs`` counted ones). ``migrate status`` reads every Python file under the root (tests included),
while ``check`` reads the import closure of the default entries (tests excluded) and runs ruff on the
project's files. The issue's target: status within 1.5 times check.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tarfile
import tempfile
import tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    CACHE_ROOT,
    Series,
    cached_venv,
    deploycheck_command,
    describe_machine,
    machine,
    measure,
    run_quiet,
    table,
)
from run import count_lines, django_sdist, extracted

MIGRATIONS = {
    "force-str": '[[tool.deploycheck.migrations]]\nid = "force-str"\nold = "django.utils.encoding.force_str"\n'
                 'new = "str"\n',
    "test-case": '[[tool.deploycheck.migrations]]\nid = "test-case"\nold = "django.test.TestCase"\n'
                 'new = "unittest.TestCase"\n',
}
SYMPY = "1.13.3"


def sympy_tree(version: str) -> Path:
    """SymPy's sdist, downloaded once into the cache and extracted there; the extracted root."""
    base = CACHE_ROOT / f"sympy-{version}"
    if not (base / ".complete").exists():
        shutil.rmtree(base, ignore_errors=True)
        (base / "dl").mkdir(parents=True)
        run_quiet([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps",
                   "--no-binary", ":all:", f"sympy=={version}", "-d", str(base / "dl")], "pip download")
        (sdist,) = (base / "dl").glob("*.tar.gz")
        with tarfile.open(sdist) as tf:
            tf.extractall(base / "src", filter="data")
        (base / ".complete").touch()
    (root,) = (base / "src").iterdir()
    return root


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="counted rounds (default 3)")
    ap.add_argument("--django", default="5.2.*", help="Django version specifier (default 5.2.*)")
    args = ap.parse_args()

    django = extracted(django_sdist(args.django, refresh=False))
    sympy = sympy_tree(SYMPY)
    with open(django / "pyproject.toml", "rb") as f:
        deps = tomllib.load(f)["project"]["dependencies"]
    venv_py = cached_venv(f"django-sympy-deps-{django.name}", deps + ["mpmath>=1.1,<1.4"])
    dc = deploycheck_command()
    rows = {"check": Series("deploycheck check (cold)", "check PATH --cache-dir EMPTY")}
    for mid in MIGRATIONS:
        rows[mid] = Series(f"deploycheck migrate status (cold), {mid}", "migrate status PATH --cache-dir EMPTY")
    refs: dict[str, set[int]] = {mid: set() for mid in MIGRATIONS}
    with tempfile.TemporaryDirectory(prefix="dc-bench-migrate-") as tmp:
        work = Path(tmp)
        tree = work / "tree"
        shutil.copytree(django, tree, symlinks=True)
        shutil.copytree(sympy / "sympy", tree / "sympy", symlinks=True)
        lines = count_lines(tree)["total"]
        print(f"tree: {django.name} + sympy-{SYMPY}, {lines[0]} Python files, {lines[1]} lines")
        n = 0
        for r in range(args.runs + 1):
            counted = r > 0
            for key, row in rows.items():
                n += 1
                copy = work / f"tree-{n}"
                shutil.copytree(tree, copy, symlinks=True)
                cache = work / f"cache-{n}"
                out = work / f"out-{n}.txt"
                if key == "check":
                    cmd = [*dc, "check", str(copy), "--python", str(venv_py), "--cache-dir", str(cache),
                           "--format", "json"]
                else:
                    with open(copy / "pyproject.toml", "a") as f:
                        f.write("\n" + MIGRATIONS[key])
                    cmd = [*dc, "migrate", "status", str(copy), "--python", str(venv_py), "--cache-dir", str(cache),
                           "--format", "json"]
                s = measure(cmd, stdout=out)
                if s.rc not in (0, 1) or (key != "check" and s.rc != 0):
                    sys.stderr.write(out.read_text()[-3000:])
                    raise SystemExit(f"{key} failed (exit {s.rc})")
                if key != "check":
                    text = out.read_text()
                    refs[key].add(json.loads(text[text.index("{"):])["migrations"][0]["remaining"])
                if counted:
                    row.samples.append(s)
                shutil.rmtree(copy, ignore_errors=True)
                shutil.rmtree(cache, ignore_errors=True)
    print(describe_machine(machine()))
    print(table(list(rows.values())))
    for mid in MIGRATIONS:
        ratio = rows[mid].median() / rows["check"].median()
        print(f"\n{mid}: status / cold check: {ratio:.2f}x (target: at most 1.5x) -> "
              f"{'met' if ratio <= 1.5 else 'not met'}; references found: {sorted(refs[mid])}")
    return 0


if __name__ == "__main__":
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    raise SystemExit(main())
