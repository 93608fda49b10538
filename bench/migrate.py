"""Benchmark: `deploycheck migrate status` against a cold `deploycheck check` of the same tree.

The tree is Django's sdist (the same one as ``run.py``: Django and its test suite, about 750,000 lines), with a
migration declared in its pyproject.toml. Both commands start with an empty ``--cache-dir`` on a fresh copy,
in interleaved rounds (one warm-up round, then ``--runs`` counted ones). ``migrate status`` reads every Python
file under the root (tests included), while ``check`` reads the import closure of the default entries
(tests excluded) and runs ruff on the project's files. The issue's target: status within 1.5 times check.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Series, cached_venv, deploycheck_command, describe_machine, machine, measure, table
from run import count_lines, django_sdist, extracted

MIGRATION = """
[[tool.deploycheck.migrations]]
id = "force-str"
old = "django.utils.encoding.force_str"
new = "str"
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="counted rounds (default 3)")
    ap.add_argument("--django", default="5.2.*", help="Django version specifier (default 5.2.*)")
    args = ap.parse_args()

    tree = extracted(django_sdist(args.django, refresh=False))
    with open(tree / "pyproject.toml", "rb") as f:
        deps = tomllib.load(f)["project"]["dependencies"]
    venv_py = cached_venv(f"django-deps-{tree.name}", deps)
    lines = count_lines(tree)["total"]
    print(f"tree: {tree.name}, {lines[0]} Python files, {lines[1]} lines")
    dc = deploycheck_command()
    rows = {"check": Series("deploycheck check (cold)", "check PATH --cache-dir EMPTY"),
            "status": Series("deploycheck migrate status (cold)", "migrate status PATH --cache-dir EMPTY")}
    refs = []
    with tempfile.TemporaryDirectory(prefix="dc-bench-migrate-") as tmp:
        work = Path(tmp)
        n = 0
        for r in range(args.runs + 1):
            counted = r > 0
            for key in ("check", "status"):
                n += 1
                copy = work / f"tree-{n}"
                shutil.copytree(tree, copy, symlinks=True)
                with open(copy / "pyproject.toml", "a") as f:
                    f.write(MIGRATION)
                cache = work / f"cache-{n}"
                out = work / f"out-{n}.txt"
                if key == "check":
                    cmd = [*dc, "check", str(copy), "--python", str(venv_py), "--cache-dir", str(cache),
                           "--format", "json"]
                else:
                    cmd = [*dc, "migrate", "status", str(copy), "--python", str(venv_py), "--cache-dir", str(cache),
                           "--format", "json"]
                s = measure(cmd, stdout=out)
                if s.rc not in (0, 1) or (key == "status" and s.rc != 0):
                    sys.stderr.write(out.read_text()[-3000:])
                    raise SystemExit(f"{key} failed (exit {s.rc})")
                if key == "status":
                    text = out.read_text()
                    refs.append(json.loads(text[text.index("{"):])["migrations"][0]["remaining"])
                if counted:
                    rows[key].samples.append(s)
                shutil.rmtree(copy, ignore_errors=True)
                shutil.rmtree(cache, ignore_errors=True)
    print(describe_machine(machine()))
    print(table(list(rows.values())))
    ratio = rows["status"].median() / rows["check"].median()
    print(f"\nstatus / cold check: {ratio:.2f}x (target: at most 1.5x) -> {'met' if ratio <= 1.5 else 'not met'}")
    print(f"references of django.utils.encoding.force_str found by status: {sorted(set(refs))}")
    return 0


if __name__ == "__main__":
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    raise SystemExit(main())
