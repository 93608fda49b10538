"""The large-tree benchmark: deploycheck on Django's own source tree, against anchors measured in the same
run.

    .venv/bin/python bench/run.py [--quick] [--runs N] [--django 'SPEC'] [--json FILE] [--skip-pylint]

Set-up (not timed, cached under ~/.cache/deploycheck-bench or $DEPLOYCHECK_BENCH_CACHE): Django's sdist from
PyPI (``pip download --no-deps --no-binary :all: django==SPEC``), extracted once and never modified; a virtual
environment with Django's runtime dependencies (read from its pyproject.toml); a separate tools environment
with ty, pylint and ruff. Nothing else touches the network.

Every timed command runs on a fresh copy of the tree. Rounds are interleaved (each round runs every command
once) so drift of a shared machine spreads over all of them; the ratios are given both as the ratio of the
medians and as the median of the per-round ratios. See bench/README.md and docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import sys
import tarfile
import tempfile
import time
import tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (CACHE_ROOT, Series, cached_venv, deploycheck_command, describe_machine, dist_versions,
                     fmt_s, machine, measure, run_quiet, site_packages, table, wait_idle, QUIET)

TOUCHED = "django/db/models/query.py"  # the file changed before each warm run: big, and deep in the closure
TOOLS = ["ty", "pylint", "ruff"]

# Imports every module of a list (argv[1], a file) after configuring settings with the usual contrib apps,
# so model modules import too. Run from the tree root, so `django` is the tree's.
IMPORT_ALL = r"""
import importlib, sys
from django.conf import settings
settings.configure(
    INSTALLED_APPS=["django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes",
                    "django.contrib.sessions", "django.contrib.messages", "django.contrib.staticfiles"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}})
import django
django.setup()
ok = failed = 0
for name in open(sys.argv[1]).read().split():
    try:
        importlib.import_module(name)
        ok += 1
    except BaseException:
        failed += 1
print("imported", ok, "failed", failed, "sys.modules", len(sys.modules))
"""

# Parses every .py file under the current directory with ast.parse, on one core.
AST_PARSE = r"""
import ast, os, warnings
warnings.simplefilter("ignore")
n = bad = 0
for d, dirs, files in os.walk("."):
    for f in files:
        if f.endswith(".py"):
            with open(os.path.join(d, f), "rb") as fh:
                src = fh.read()
            try:
                ast.parse(src)
            except (SyntaxError, ValueError):
                bad += 1
            n += 1
print("files", n, "unparsable", bad)
"""


# ------------------------------------------------------------------------------------------------ set-up


def django_sdist(spec: str, refresh: bool) -> Path:
    """The newest cached sdist matching ``spec``, else downloaded from PyPI into the cache."""
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    sdists = CACHE_ROOT / "sdists"
    sdists.mkdir(parents=True, exist_ok=True)
    spec_set = SpecifierSet(f"=={spec}" if spec[0].isdigit() else spec)
    found = []
    for p in sdists.glob("[Dd]jango-*.tar.gz"):
        m = re.fullmatch(r"[Dd]jango-(.+)\.tar\.gz", p.name)
        if m and Version(m.group(1)) in spec_set:
            found.append((Version(m.group(1)), p))
    if found and not refresh:
        return max(found)[1]
    print(f"  downloading the Django {spec} sdist", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        run_quiet([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                   "--no-deps", "--no-binary", ":all:", f"django{spec_set}", "-d", tmp], "pip download")
        (got,) = Path(tmp).glob("*.tar.gz")
        dest = sdists / got.name
        shutil.move(str(got), dest)
    return dest


def extracted(sdist: Path) -> Path:
    """The pristine extracted tree of ``sdist`` (extracted once; benchmarks only ever read copies of it)."""
    version = re.fullmatch(r"[Dd]jango-(.+)\.tar\.gz", sdist.name).group(1)
    base = CACHE_ROOT / f"django-{version}"
    if not (base / ".complete").exists():
        shutil.rmtree(base, ignore_errors=True)
        base.mkdir(parents=True)
        with tarfile.open(sdist) as tf:
            tf.extractall(base / "src", filter="data")
        (base / ".complete").touch()
    (root,) = (base / "src").iterdir()
    return root


def count_lines(root: Path) -> dict[str, list[int]]:
    """``{top-level directory: [files, lines]}`` of the .py files under ``root``, with a ``total``."""
    out: dict[str, list[int]] = {}
    for d, _, files in os.walk(root):
        top = Path(d).relative_to(root).parts[:1] or (".",)
        for f in files:
            if f.endswith(".py"):
                with open(os.path.join(d, f), "rb") as fh:
                    n = fh.read().count(b"\n")
                for key in (top[0], "total"):
                    cur = out.setdefault(key, [0, 0])
                    cur[0] += 1
                    cur[1] += n
    return out


def project_modules(tree: Path) -> tuple[list[str], list[str]]:
    """deploycheck's own view of the tree: (default entries, every module)."""
    from deploycheck.target.project import open_project

    p = open_project(str(tree))
    return list(p.config.entries or p.entry_candidates), list(p.modules)


# --------------------------------------------------------------------------------------------- the run


class Bench:
    def __init__(self, args, tree: Path, sdist: Path, venv_py: Path, tools: Path, work: Path):
        self.args, self.tree, self.sdist = args, tree, sdist
        self.venv_py, self.tools, self.work = venv_py, tools, work
        self.rows: dict[str, Series] = {}
        self.dc = deploycheck_command()
        self.n = 0

    def fresh(self, name: str) -> Path:
        self.n += 1
        dest = self.work / f"{name}-{self.n}"
        shutil.copytree(self.tree, dest, symlinks=True)
        return dest

    def row(self, key: str, name: str, command: str, note: str = "") -> Series:
        if key not in self.rows:
            self.rows[key] = Series(name, command, note=note)
        return self.rows[key]

    def sample(self, key: str, counted: bool, cmd: list[str], cwd: Path | None = None,
               env: dict | None = None, timeout: float = 3600, check=None):
        out = self.work / f"out-{key}.txt"
        if self.args.wait_idle:
            wait_idle(self.args.wait_idle)
        s = measure(cmd, cwd=cwd, env=env, stdout=out, timeout=timeout)
        if check:
            check(out, s)
        if counted:
            self.rows[key].samples.append(s)
        return s

    def deploycheck(self, key: str, counted: bool, tree: Path, cache: Path, entries: list[str]):
        cmd = [*self.dc, "check", str(tree), "--python", str(self.venv_py), "--cache-dir", str(cache),
               "--format", "json"]
        for e in entries:
            cmd += ["--entry", e]

        def check(out: Path, s):
            if s.rc not in (0, 1):
                sys.stderr.write(out.read_text()[-3000:])
                raise SystemExit(f"deploycheck failed (exit {s.rc}) in {key}")
            summary = json.loads(out.read_text())["summary"]
            if counted:
                self.rows[key].extra.setdefault("summaries", []).append(summary)
        return self.sample(key, counted, cmd, check=check)

    def round(self, counted: bool, r: int, entries_all: list[str], import_list: Path, pyc_tree: Path) -> None:
        quick = self.args.quick
        venv_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        tree = self.fresh("tree")

        cache = self.work / f"cache-{self.n}"
        self.deploycheck("dc_cold", counted, tree, cache, [])
        touched = self.fresh("touched")
        with open(touched / TOUCHED, "a") as f:
            f.write(f"\n_bench_touch = {r}\n")  # distinct per round: exactly one file is new to the cache
        self.deploycheck("dc_warm", counted, touched, cache, [])
        self.deploycheck("dc_noop", counted, touched, cache, [])
        self.deploycheck("dc_cold_django", counted, tree, self.work / f"cache-{self.n}-django", ["django"])
        if not quick:
            self.deploycheck("dc_cold_all", counted, tree, self.work / f"cache-{self.n}-all", entries_all)

        ty = [str(self.tools / "ty"), "check", "--python", str(self.venv_py)]
        self.sample("ty", counted, ty, cwd=tree)
        if not quick:
            self.sample("ty_django", counted, [*ty, "django"], cwd=tree)
        ruff = [str(self.tools / "ruff"), "check", "--select", "F", "--no-cache", "."]
        self.sample("ruff", counted, ruff, cwd=tree)
        imp = [str(self.venv_py), "-c", IMPORT_ALL, str(import_list)]
        self.sample("import_src", counted, imp, cwd=tree, env={**venv_env, "PYTHONDONTWRITEBYTECODE": "1"})
        self.sample("import_pyc", counted, imp, cwd=pyc_tree, env=venv_env)
        self.sample("ast", counted, [sys.executable, "-c", AST_PARSE], cwd=tree)
        dest = self.work / f"tar-{self.n}"
        dest.mkdir()
        self.sample("tar", counted, ["tar", "-xzf", str(self.sdist), "-C", str(dest)])
        for p in (tree, touched, dest, *self.work.glob("cache-*")):
            shutil.rmtree(p, ignore_errors=True)


def ratios(a: Series, b: Series) -> dict[str, float | None]:
    """Wall-time ratios four ways (medians; median of the per-round ratios, which holds when the machine's
    speed drifts between rounds; minimums, the least disturbed runs; medians of the quiet runs only), and the
    ratio of median CPU time."""
    paired = ([x.wall / y.wall for x, y in zip(a.samples, b.samples)]
              if len(a.samples) == len(b.samples) else None)
    qa, qb = a.quiet_median(), b.quiet_median()
    return {"median": a.median() / b.median(), "paired": statistics.median(paired) if paired else None,
            "min": a.spread()[0] / b.spread()[0], "quiet": qa / qb if qa and qb else None,
            "cpu": a.median("cpu") / b.median("cpu")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: one round, no warm-up, pylint on "
                    "django/utils only, no whole-tree variants")
    ap.add_argument("--runs", type=int, help="counted rounds (default 5; --quick: 1)")
    ap.add_argument("--pylint-runs", type=int, default=1,
                    help="pylint -E runs (default 1: it takes about a minute)")
    ap.add_argument("--skip-pylint", action="store_true")
    ap.add_argument("--django", default="5.2.*", help="Django version specifier (default 5.2.*)")
    ap.add_argument("--refresh", action="store_true", help="download the sdist again even if one is cached")
    ap.add_argument("--phases", action=argparse.BooleanOptionalAction, default=True,
                    help="also time deploycheck's phases in-process (bench/phases.py)")
    ap.add_argument("--json", help="write every sample here (default: under the benchmark cache)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--wait-idle", type=float, default=0, metavar="SECONDS",
                    help="before each timed command, wait up to SECONDS for the CPUs to be idle")
    args = ap.parse_args()
    runs = args.runs or (1 if args.quick else 5)

    info = machine()
    print(f"# deploycheck large-tree benchmark\n\nmachine: {describe_machine(info)}\n", flush=True)
    print("set-up (not timed):", flush=True)
    sdist = django_sdist(args.django, args.refresh)
    tree = extracted(sdist)
    with open(tree / "pyproject.toml", "rb") as f:
        deps = tomllib.load(f)["project"]["dependencies"]
    venv_py = cached_venv(f"django-deps-{tree.name}", deps)
    tools_py = cached_venv("tools", TOOLS)
    tools = tools_py.parent
    versions = {"django": tree.name.split("-", 1)[1],
                **{k: v for k, v in dist_versions(venv_py, ["asgiref", "sqlparse"]).items()},
                **dist_versions(tools_py, ["ty", "pylint", "astroid", "ruff"]),
                "ruff used by deploycheck": dist_versions(sys.executable, ["ruff"])["ruff"],
                "deploycheck": dist_versions(sys.executable, ["deploycheck"])["deploycheck"]}
    print(f"  sdist {sdist} ({sdist.stat().st_size / 1e6:.1f} MB), tree {tree}")
    print(f"  target environment {venv_py.parent.parent} ({', '.join(deps)})")
    print(f"  versions: {', '.join(f'{k} {v}' for k, v in versions.items())}")

    lines = count_lines(tree)
    print("  .py files and lines: " + ", ".join(f"{k}/ {v[0]} files {v[1]:,} lines" if k != "total"
                                               else f"whole tree {v[0]} files {v[1]:,} lines"
                                               for k, v in sorted(lines.items(), key=lambda kv: -kv[1][1])))
    entries_default, entries_all = project_modules(tree)
    work = Path(tempfile.mkdtemp(prefix="dcbench-"))
    import_list = work / "import-modules.txt"
    imported = [m for m in entries_default if not m.startswith("django.contrib.gis")]
    import_list.write_text("\n".join(imported))
    print(f"  deploycheck default entries: {len(entries_default)} modules; every module of the tree: "
          f"{len(entries_all)}; import anchor: {len(imported)} modules "
          "(the default entries less django.contrib.gis)")

    b = Bench(args, tree, sdist, venv_py, tools, work)
    dc = " ".join(Path(x).name for x in b.dc)
    t = "<tree>"
    py = "<venv>/bin/python"
    b.row("dc_cold", "deploycheck cold (default entries)",
          f"{dc} check {t} --python {py} --cache-dir <empty> --format json")
    b.row("dc_warm", f"deploycheck warm, 1 file changed ({TOUCHED})", "same, with the cold run's cache")
    b.row("dc_noop", "deploycheck warm, nothing changed", "same again")
    b.row("dc_cold_django", "deploycheck cold --entry django",
          f"{dc} check {t} --python {py} --entry django ...")
    if not args.quick:
        b.row("dc_cold_all", f"deploycheck cold, every module of the tree as entry ({len(entries_all)})",
              f"{dc} check {t} --python {py} --entry M (for every module, tests/ and docs/ included) ...")
    b.row("ty", "ty check (whole tree)", f"ty check --python {py}  (in {t})")
    if not args.quick:
        b.row("ty_django", "ty check django (the package only)", f"ty check --python {py} django  (in {t})")
    b.row("ruff", "ruff check --select F (whole tree)", f"ruff check --select F --no-cache .  (in {t})")
    b.row("import_src", "interpreter: import every entry module, from source",
          f"PYTHONDONTWRITEBYTECODE=1 {py} -c <import each module> (in {t})")
    b.row("import_pyc", "interpreter: import every entry module, bytecode cached",
          f"{py} -c <import each module>")
    b.row("ast", "ast.parse of every .py file (one core)", f"python -c <ast.parse each file>  (in {t})")
    b.row("tar", "tar -xzf of the sdist", f"tar -xzf {sdist.name}")

    pyc_tree = b.fresh("pyc")
    measure([str(venv_py), "-c", IMPORT_ALL, str(import_list)], cwd=pyc_tree,
            env={k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"})  # writes __pycache__

    started = time.time()
    if not args.quick:
        print("\nwarm-up round (not counted)", flush=True)
        b.round(False, 0, entries_all, import_list, pyc_tree)
    for r in range(1, runs + 1):
        print(f"round {r}/{runs}", flush=True)
        b.round(True, r, entries_all, import_list, pyc_tree)

    if not args.skip_pylint:
        target = "django/utils" if args.quick else "django"
        b.row("pylint", f"pylint -E {target}",
              f"PYTHONPATH=<venv site-packages> pylint -E {target}  (in {t})",
              note="one process (pylint's default --jobs=1)")
        # pylint is one process and deploycheck's parser uses every core, so a competing process hurts
        # deploycheck more: each pylint run is bracketed by deploycheck cold runs, and the ratio is taken
        # against those neighbours too.
        b.row("dc_cold_pylint", "deploycheck cold (default entries), next to each pylint run",
              "as deploycheck cold, run just before and just after each pylint run")
        for i in range(args.pylint_runs):
            print(f"pylint -E {target} {i + 1}/{args.pylint_runs}", flush=True)
            tr = b.fresh("pylint")
            b.deploycheck("dc_cold_pylint", True, tr, work / f"cache-p{i}a", [])
            b.sample("pylint", True, [str(tools / "pylint"), "-E", target], cwd=tr,
                     env={**os.environ, "PYTHONPATH": site_packages(venv_py)}, timeout=3600)
            b.deploycheck("dc_cold_pylint", True, tr, work / f"cache-p{i}b", [])
            shutil.rmtree(tr, ignore_errors=True)

    phases = {}
    if args.phases:
        tr = b.fresh("phases")
        cache = work / "phases-cache"
        cmd = [sys.executable, str(Path(__file__).with_name("phases.py")), str(tr), "--python", str(venv_py),
               "--cache-dir", str(cache)]
        phases["cold"] = json.loads(run_quiet(cmd, "phases (cold)"))
        with open(tr / TOUCHED, "a") as f:
            f.write("\n_bench_touch = 'phases'\n")
        phases["warm"] = json.loads(run_quiet(cmd, "phases (warm)"))
        shutil.rmtree(tr, ignore_errors=True)

    info["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    rows = b.rows
    print(f"\n## Results ({runs} counted round(s), {time.time() - started:.0f} s)\n")
    print(table(list(rows.values())))
    print("\nCommands (<tree> a fresh copy of the extracted sdist, <venv> the environment with Django's "
          "dependencies):\n")
    for r in rows.values():
        if r.samples:
            print(f"- {r.name}: `{r.command}`" + (f" ({r.note})" if r.note else ""))

    cold = rows["dc_cold"]
    s = cold.extra["summaries"][0]
    warm_parsed = sorted({x["parsed"] for x in rows["dc_warm"].extra["summaries"]})
    if warm_parsed != [1] or len({(x["errors"], x["warnings"]) for x in cold.extra["summaries"]}) > 1:
        print("\nWARNING: a warm run parsed more than the changed file, or the findings changed between "
              "rounds: was deploycheck's source edited during the run? Those figures are not comparable.")
    print(f"\ndeploycheck (default entries) found {s['errors']} errors and {s['warnings']} warnings over "
          f"{s['modules']} modules ({s['files']} files, {s['parsed']} parsed cold); warm runs parsed "
          f"{warm_parsed} file(s).")
    if "dc_cold_all" in rows and rows["dc_cold_all"].samples:
        s = rows["dc_cold_all"].extra["summaries"][0]
        print(f"every-module variant: {s['modules']} modules, {s['files']} files, {s['errors']} errors.")
    s = rows["dc_cold_django"].extra["summaries"][0]
    print(f"--entry django variant: {s['modules']} modules, {s['files']} files, {s['errors']} errors.")

    print("\n## Ratios\n\nWall time as the ratio of the medians, the median of the per-round ratios, the "
          "ratio of the minimums, and the ratio of the medians of the quiet runs (other load under "
          f"{QUIET} CPUs); then the ratio of median CPU seconds (user + system, child processes included). "
          "A target is judged on the ratio of the medians of all runs.\n")
    print("| ratio | medians | per round | minimums | quiet runs | CPU | target |\n"
          "|---|---:|---:|---:|---:|---:|---|")
    result_ratios = {}

    def show(label, a, b_, target=None, goal=""):
        if a not in rows or b_ not in rows or not rows[a].samples or not rows[b_].samples:
            return
        r = ratios(rows[a], rows[b_])
        result_ratios[label] = r
        verdict = f"{goal}: {'met' if target(r['median']) else 'NOT met'}" if target else ""
        paired = f"{r['paired']:.2f}" if r["paired"] is not None else "-"
        quiet = f"{r['quiet']:.2f}" if r["quiet"] is not None else "-"
        print(f"| {label} | {r['median']:.2f} | {paired} | {r['min']:.2f} | {quiet} | {r['cpu']:.2f} "
              f"| {verdict} |")

    show("deploycheck cold / ty check (whole tree)", "dc_cold", "ty", lambda m: m <= 1, "<= 1")
    show("deploycheck cold, every module of the tree / ty check (whole tree)", "dc_cold_all", "ty")
    show("deploycheck cold / ty check django", "dc_cold", "ty_django")
    show("pylint -E / deploycheck cold" + (" (quick: pylint on django/utils only)" if args.quick else ""),
         "pylint", "dc_cold", lambda m: m >= 20, ">= 20")
    show("pylint -E / deploycheck cold next to it", "pylint", "dc_cold_pylint", lambda m: m >= 20, ">= 20")
    show("deploycheck cold / ruff F-rules (whole tree)", "dc_cold", "ruff")
    show("deploycheck cold / import of every entry module from source", "dc_cold", "import_src")
    show("deploycheck warm / import of every entry module with bytecode", "dc_warm", "import_pyc")
    show("deploycheck cold / ast.parse of the whole tree (one core)", "dc_cold", "ast")
    show("deploycheck cold / tar -xzf of the sdist", "dc_cold", "tar")
    print()
    busy = {r.name: r.median("others") for r in rows.values() if r.samples and r.median("others") > 0.25}
    if busy:
        which = "; ".join(f"{k} ({v:.2f} CPUs)" for k, v in busy.items())
        print(f"NOTE: other processes kept CPUs busy during {which}: those wall times (and ratios) are "
              "inflated, deploycheck's cold runs most, as its parser uses every CPU. The CPU-time column is "
              "the steadier comparison.\n")
    warm = rows["dc_warm"].median()
    print(f"- deploycheck warm after changing one file: {fmt_s(warm)} s median, max "
          f"{fmt_s(rows['dc_warm'].spread()[1])} s -> target < 1 s {'met' if warm < 1 else 'NOT met'}")
    print(f"- peak memory, deploycheck cold: {rows['dc_cold'].peak('maxrss_kb') / 1024:.0f} MB largest "
          f"process, {rows['dc_cold'].peak('tree_pss_kb') / 1024:.0f} MB process tree (ty: "
          f"{rows['ty'].peak('maxrss_kb') / 1024:.0f} MB)")
    tot = lines["total"][1]
    print(f"- lines of Python in the tree: {tot:,} ({lines.get('django', [0, 0])[1]:,} in django/); "
          f"ruff {tot / rows['ruff'].median() / 1e3:,.0f}k lines/s, "
          f"ty {tot / rows['ty'].median() / 1e3:,.0f}k lines/s, "
          f"ast.parse {tot / rows['ast'].median() / 1e3:,.0f}k lines/s on one core")

    if phases:
        print("\n## deploycheck phases (in-process, one cold and one warm run, seconds)\n")
        keys = [k for k in phases["cold"] if isinstance(phases["cold"][k], float)]
        print("| phase | cold | warm (1 file changed) |\n|---|---:|---:|")
        for k in keys:
            print(f"| {k} | {phases['cold'][k]:.3f} | {phases['warm'].get(k, 0.0):.3f} |")
        c = phases["cold"]
        print(f"\ncold: {c['parsed']} files parsed, {c['lines']:,} lines summarized "
              f"({c['lines'] / c['parse'] / 1e3:,.0f}k lines/s in the parser pool of {os.cpu_count()})")

    print(f"\nload average at start {info.get('load_avg')}, at end {info['load_avg_end']}")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = Path(args.json) if args.json else CACHE_ROOT / "results" / f"run-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": info, "versions": versions, "lines": lines, "quick": args.quick,
                               "rows": {k: v.to_json() for k, v in rows.items()}, "ratios": result_ratios,
                               "phases": phases}, indent=1))
    print(f"samples written to {out}")
    if args.keep:
        print(f"temporary directory kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
