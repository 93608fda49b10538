"""Two revisions of deploycheck against each other on Django's tree: is this change slower than a base?

    .venv/bin/python bench/ab.py BASE [--new REV] [--cold 5] [--warm 9] [--entry django]

Each revision (a git commit of this repository; ``--new`` defaults to the working tree) is installed from a
wheel built of it into a virtual environment of its own, cached under the benchmark cache by its tree id, so
both run as users run them: from bytecode-compiled site-packages. The tree and the dependency environment are
``run.py``'s (run ``bench/run.py --quick`` once to set them up).

Pairs are interleaved (new, base, new, base, ...) so a shared machine's drift falls on both sides:

- cold: an empty ``--cache-dir``, ``--cold`` pairs;
- warm: each side's own cache from a first run, and before each run one line appended to
  ``django/db/models/query.py`` (one file to parse again, as ``run.py``'s warm row), ``--warm`` pairs.

It prints, for cold and warm, each side's median wall and CPU seconds and the median of the per-pair ratios
new/base (with their range), and the findings only one side reports. Issue 10's target: the ratios within
1.10.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import CACHE_ROOT, REPO, describe_machine, machine, measure, run_quiet

TOUCHED = "django/db/models/query.py"


def tree_id(rev: str | None) -> str:
    """The git tree id of ``rev``, or of the working tree (``git stash create`` keeps it off the stash list)."""
    if rev is None:
        rev = subprocess.run(["git", "-C", str(REPO), "stash", "create"], capture_output=True, text=True,
                             check=True).stdout.strip() or "HEAD"
    return subprocess.run(["git", "-C", str(REPO), "rev-parse", f"{rev}^{{tree}}"], capture_output=True,
                          text=True, check=True).stdout.strip()


def installed(rev: str | None) -> Path:
    """A virtual environment with deploycheck as of ``rev`` (None: the working tree) installed from a wheel;
    its ``bin/deploycheck``. Cached by the revision's tree id."""
    tid = tree_id(rev)
    venv = CACHE_ROOT / "ab" / tid[:16]
    exe = venv / "bin" / "deploycheck"
    if exe.exists():
        return exe
    with tempfile.TemporaryDirectory(prefix="dc-bench-ab-") as tmp:
        src = Path(tmp) / "src"
        if rev is None:
            shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(".venv", ".git", "__pycache__"))
        else:
            src.mkdir()
            archive = subprocess.run(["git", "-C", str(REPO), "archive", rev], capture_output=True, check=True)
            subprocess.run(["tar", "-x", "-C", str(src)], input=archive.stdout, check=True)
        shutil.rmtree(venv, ignore_errors=True)
        run_quiet([sys.executable, "-m", "venv", str(venv)], f"creating {venv.name}")
        run_quiet([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(src)],
                  f"installing deploycheck {rev or 'working tree'}")
    return exe


def setup() -> tuple[Path, Path]:
    """``run.py``'s extracted Django tree and the python of its dependency environment."""
    trees = sorted((CACHE_ROOT).glob("django-*/src/django-*"))
    pythons = sorted((CACHE_ROOT / "venvs").glob("django-deps-*/bin/python"))
    if not trees or not pythons:
        raise SystemExit("no Django tree in the benchmark cache: run bench/run.py --quick once first")
    return trees[-1], pythons[-1]


def findings(path: Path) -> list:
    data = json.loads(path.read_text())
    return sorted((f["code"], f["path"], f["line"], f["symbol"] or "") for f in data["findings"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("base", help="the git revision to compare with")
    ap.add_argument("--new", help="the revision measured against it (default: the working tree)")
    ap.add_argument("--cold", type=int, default=5, help="cold pairs (default 5)")
    ap.add_argument("--warm", type=int, default=9, help="warm pairs (default 9)")
    ap.add_argument("--entry", action="append", default=[], help="entries passed to both (default: none)")
    args = ap.parse_args()
    tree, python = setup()
    sides = {"new": installed(args.new), "base": installed(args.base)}
    print(describe_machine(machine()))
    print(f"new: {args.new or 'working tree'}, base: {args.base}; tree {tree}")
    extra = [a for e in args.entry for a in ("--entry", e)]
    with tempfile.TemporaryDirectory(prefix="dc-bench-ab-") as tmp:
        work = Path(tmp) / "tree"
        shutil.copytree(tree, work)
        out = {side: Path(tmp) / f"{side}.json" for side in sides}

        def command(side: str, cache: Path) -> list[str]:
            return [str(sides[side]), "check", str(work), "--python", str(python), "--cache-dir", str(cache),
                    "--format", "json", *extra]

        results: dict[str, dict[str, list]] = {"cold": {s: [] for s in sides}, "warm": {s: [] for s in sides}}
        for _ in range(args.cold):
            for side in sides:
                cache = Path(tmp) / f"cold-{side}"
                shutil.rmtree(cache, ignore_errors=True)
                results["cold"][side].append(measure(command(side, cache), stdout=out[side]))
        for side in sides:  # each side's warm cache
            measure(command(side, Path(tmp) / f"warm-{side}"))
        for i in range(args.warm):
            for side in sides:
                with open(work / TOUCHED, "a") as f:
                    f.write(f"# ab {side} {i}\n")
                results["warm"][side].append(measure(command(side, Path(tmp) / f"warm-{side}"), stdout=out[side]))
        got = {side: findings(out[side]) for side in sides}
    print()
    print("| run | pairs | base wall s | new wall s | new/base wall (min-max) | base CPU s | new CPU s | "
          "new/base CPU (min-max) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for kind, by in results.items():
        new, base = by["new"], by["base"]
        wall = [n.wall / b.wall for n, b in zip(new, base)]
        cpu = [(n.user + n.sys) / (b.user + b.sys) for n, b in zip(new, base)]
        med = statistics.median
        print(f"| {kind} | {len(new)} | {med(b.wall for b in base):.3f} | {med(n.wall for n in new):.3f} | "
              f"{med(wall):.2f} ({min(wall):.2f}-{max(wall):.2f}) | {med(b.user + b.sys for b in base):.3f} | "
              f"{med(n.user + n.sys for n in new):.3f} | {med(cpu):.2f} ({min(cpu):.2f}-{max(cpu):.2f}) |")
    others = [s.others for by in results.values() for side in by.values() for s in side]
    print(f"\nother load during the runs: median {statistics.median(others):.2f} CPUs")
    only_new = [f for f in got["new"] if f not in got["base"]]
    only_base = [f for f in got["base"] if f not in got["new"]]
    if not only_new and not only_base:
        print(f"the same {len(got['new'])} findings on both sides")
    else:  # a change of analysis, not of speed: said, so that the ratio is read with it
        print(f"findings: {len(only_new)} only in new, {len(only_base)} only in base")
        for label, rows in (("new", only_new), ("base", only_base)):
            for row in rows[:10]:
                print(f"  only in {label}: {' '.join(str(x) for x in row)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
