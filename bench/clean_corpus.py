"""The clean-corpus benchmark: deploycheck over the whole clean corpus (tests/oracle/data/clean.json),
timed, and then judged by the interpreter.

    .venv/bin/python bench/clean_corpus.py [--quick] [--runs N] [--skip-oracle] [--skip-every-module]

1. closure: a temporary project whose one module imports every top-level entry of the corpus; deploycheck's
   run is timed cold (empty cache) and warm (same cache, nothing changed). It must find no errors. The
   interpreter then imports every module of the closure that deploycheck considers firmly imported (third
   party, not behind a guard) and the two are compared.
2. every module: every importable module of every distribution (``site_modules``) is an entry; timed the
   same way, then each module is imported by the interpreter and compared: false alarms (deploycheck reports
   an import-time error, the import succeeds) and misses (the import fails at a statement where deploycheck
   reported nothing).

The environment is the test suite's (tests/conftest.py ``venv``: cached under ~/.cache/deploycheck-tests,
keyed by the requirement list); its creation is timed separately and is not part of the benchmark.
``--quick`` uses the corpus' small ``ci_subset`` instead of the full list.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
from _common import (CACHE_ROOT, Series, deploycheck_command, describe_machine, fmt_s, machine, measure,
                     site_packages, table, wait_idle)
from conftest import check, venv  # the test suite's helpers: same environments, same in-process API
from oracle.harness import compare, site_modules

from deploycheck.render.json import document

CLEAN = json.loads((HERE.parent / "tests" / "oracle" / "data" / "clean.json").read_text())


def timed_runs(name: str, project: Path, python: str, entries: list[str], runs: int, work: Path,
               rows: dict[str, Series], idle: float = 0) -> None:
    """``runs`` cold runs (each with an empty cache), each followed by a warm run on its cache."""
    cmd = [*deploycheck_command(), "check", str(project), "--python", python, "--format", "json"]
    for e in entries:
        cmd += ["--entry", e]
    shown = "deploycheck check <project> --python <venv>/bin/python --format json"
    shown += f" --entry M (x{len(entries)})" if entries else ""
    cold = rows.setdefault(f"{name} cold",
                           Series(f"{name}: deploycheck cold", shown + " --cache-dir <empty>"))
    warm = rows.setdefault(f"{name} warm", Series(f"{name}: deploycheck warm, nothing changed",
                                                  shown + " --cache-dir <the cold run's>"))
    for i in range(runs):
        cache = work / f"cache-{name}-{i}"
        for series in (cold, warm):
            if idle:
                wait_idle(idle)
            out = work / "out.json"
            s = measure([*cmd, "--cache-dir", str(cache)], stdout=out)
            if s.rc not in (0, 1):
                sys.stderr.write(out.read_text()[-3000:])
                raise SystemExit(f"deploycheck failed (exit {s.rc})")
            series.samples.append(s)
            series.extra.setdefault("summaries", []).append(json.loads(out.read_text())["summary"])
        shutil.rmtree(cache, ignore_errors=True)


def oracle(result, python: str, project: Path, modules: list[str]) -> tuple[dict, float]:
    report = json.loads(json.dumps(document(result)))
    t = time.perf_counter()
    cmp = compare(report, python, str(project), modules=modules)
    return {"imported": cmp.imported, "failed": len(cmp.failed),
            "failed_by_type": dict(collections.Counter(r[0] for r in cmp.failed.values())),
            "false_alarms": [{k: f[k] for k in ("code", "module", "path", "line", "message")}
                             for f in cmp.false_alarms],
            "misses": cmp.missed}, time.perf_counter() - t


def show_oracle(label: str, o: dict, seconds: float) -> None:
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(o["failed_by_type"].items())) or "none"
    print(f"\n{label}: the interpreter imported {o['imported']} modules in {seconds:.0f} s; "
          f"{o['failed']} failed ({kinds})")
    print(f"  false alarms: {len(o['false_alarms'])}")
    for f in o["false_alarms"]:
        print(f"    {f['code']} {f['module']} {f['path']}:{f['line']} {f['message']}")
    print(f"  misses: {len(o['misses'])}")
    for m in o["misses"]:
        print(f"    {m['module']}: {m['error']}: {m['message'][:150]} ({m['path']}:{m['line']})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="the corpus' ci_subset (17 distributions), one run")
    ap.add_argument("--runs", type=int, help="timed cold+warm pairs (default 3; --quick: 1)")
    ap.add_argument("--skip-oracle", action="store_true", help="time only; do not import anything")
    ap.add_argument("--skip-every-module", action="store_true", help="only the closure of the entries")
    ap.add_argument("--json", help="write every sample here (default: under the benchmark cache)")
    ap.add_argument("--wait-idle", type=float, default=0, metavar="SECONDS",
                    help="before each timed run, wait up to SECONDS for the CPUs to be idle")
    args = ap.parse_args()
    runs = args.runs or (1 if args.quick else 3)
    corpus = CLEAN["ci_subset"] if args.quick else CLEAN
    info = machine()
    print(f"# deploycheck clean-corpus benchmark{' (quick: ci_subset)' if args.quick else ''}\n\n"
          f"machine: {describe_machine(info)}\n")

    t = time.perf_counter()
    python = venv(corpus["requirements"])
    setup = time.perf_counter() - t
    site = site_packages(python)
    print(f"environment: {len(corpus['requirements'])} pinned requirements, "
          f"{len(corpus['entries'])} top-level entries; ready in {setup:.1f} s "
          f"(cached: {Path(python).parent.parent})")

    work = Path(tempfile.mkdtemp(prefix="dcbench-corpus-"))
    rows: dict[str, Series] = {}
    out: dict = {"machine": info, "quick": args.quick, "requirements": corpus["requirements"]}
    try:
        # 1. the closure of every top-level entry
        project = work / "closure-project"
        project.mkdir()
        (project / "service.py").write_text("".join(f"import {m}\n" for m in corpus["entries"]))
        timed_runs("closure", project, python, [], runs, work, rows, args.wait_idle)
        result = check(project, python=python)
        by_origin = collections.Counter(origin for origin, _ in result.closure.values())
        firm = sorted(m for m, (origin, shield) in result.closure.items()
                      if origin == "third-party" and shield == 0)
        errors = [f for f in result.findings if f.severity == "error"]
        closure = {"modules": result.modules, "files": result.files, "by_origin": dict(by_origin),
                   "firm_third_party": len(firm), "errors": result.errors, "warnings": result.warnings,
                   "findings": [(f.code, f.severity, f.path, f.line, f.message) for f in result.findings]}
        out["closure"] = closure

        # 2. every module of every distribution
        modules = site_modules(site)
        every = None
        if not args.skip_every_module:
            project2 = work / "every-project"
            project2.mkdir()
            (project2 / "service.py").write_text("x = 1\n")
            timed_runs("every module", project2, python, modules, runs, work, rows, args.wait_idle)
            result2 = check(project2, python=python, entries=modules)
            every = {"entries": len(modules), "modules": result2.modules, "files": result2.files,
                     "errors": result2.errors, "warnings": result2.warnings,
                     "by_code": dict(collections.Counter(f"{f.code} {f.severity}" for f in result2.findings))}
            out["every_module"] = every

        print(f"\n## Timings ({runs} cold+warm pair(s))\n")
        print(table(list(rows.values())))
        print("\nCommands:\n")
        for r in rows.values():
            print(f"- {r.name}: `{r.command}`")

        print("\n## Findings\n")
        origins = ", ".join(f"{k} {v}" for k, v in sorted(by_origin.items()))
        verdict = "OK (no errors)" if not errors else "NOT OK: errors found"
        print(f"closure of {len(corpus['entries'])} entries: {closure['modules']} modules ({origins}), "
              f"{closure['files']} files; {len(firm)} third-party modules firmly imported; "
              f"{closure['errors']} errors, {closure['warnings']} warnings -> {verdict}")
        for f in result.findings:
            print(f"  {f.code} {f.severity} {f.path}:{f.line} {f.message}")
        if every:
            print(f"every module: {every['entries']} entries, {every['modules']} modules, "
                  f"{every['files']} files; {every['errors']} errors, {every['warnings']} warnings "
                  f"({', '.join(f'{k}: {v}' for k, v in sorted(every['by_code'].items()))})")
        cold, warm = rows["closure cold"], rows["closure warm"]
        print(f"closure: cold {fmt_s(cold.median())} s, warm {fmt_s(warm.median())} s (median wall); "
              f"peak {cold.peak('maxrss_kb') / 1024:.0f} MB largest process, "
              f"{cold.peak('tree_pss_kb') / 1024:.0f} MB process tree")

        if not args.skip_oracle:
            print("\n## The interpreter as oracle")
            o1, s1 = oracle(result, python, project, firm)
            show_oracle(f"closure ({len(firm)} firm third-party modules)", o1, s1)
            out["oracle_closure"] = o1
            if every:
                o2, s2 = oracle(result2, python, project2, modules)
                show_oracle(f"every module ({len(modules)} modules)", o2, s2)
                out["oracle_every_module"] = o2
    finally:
        shutil.rmtree(work, ignore_errors=True)

    out["rows"] = {k: v.to_json() for k, v in rows.items()}
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = Path(args.json) if args.json else CACHE_ROOT / "results" / f"clean-corpus-{stamp}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1, default=str))
    print(f"\nload average at end {[round(x, 2) for x in os.getloadavg()]}; samples written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
