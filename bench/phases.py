"""Where one deploycheck run spends its time: the pipeline of ``deploycheck.check.run`` timed phase by phase
in-process (by wrapping its steps, nothing in deploycheck is changed), printed as JSON.

    python bench/phases.py PATH --python PY [--entry M]... [--cache-dir DIR | --no-cache] [--profile N]

Phases nest: ``closure`` includes ``summaries`` (read, hash, cache look-up, parse), which includes ``parse``
(the parser pool alone). ``lines`` counts the lines of every file deploycheck summarized.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

T0 = time.perf_counter()
import deploycheck.check as check_mod
from deploycheck.environment import interpreter, searchpath
from deploycheck.index import ruff
from deploycheck.index.parsing import Parser
from deploycheck.index.program import Program
from deploycheck.index.store import Cache, SummaryStore
from deploycheck.rules import RULES

IMPORT_S = time.perf_counter() - T0
TIMES: dict[str, float] = {}
PATHS: set[str] = set()


def _timed(name, fn):
    def wrapper(*a, **kw):
        t = time.perf_counter()
        try:
            return fn(*a, **kw)
        finally:
            TIMES[name] = TIMES.get(name, 0.0) + time.perf_counter() - t
    return wrapper


def _timed_rule(rule):
    fn = rule.check

    def check(ctx):
        t = time.perf_counter()
        out = list(fn(ctx))
        TIMES["rules"] = TIMES.get("rules", 0.0) + time.perf_counter() - t
        TIMES[f"rule {rule.__name__.rsplit('.', 1)[-1]}"] = time.perf_counter() - t
        return out
    return check


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("path")
    ap.add_argument("--python")
    ap.add_argument("--entry", action="append", default=[])
    ap.add_argument("--cache-dir")
    ap.add_argument("--no-cache", action="store_true")
    ap.add_argument("--profile", type=int, default=0,
                    help="also print the N functions with the most cumulative time (to stderr)")
    args = ap.parse_args()

    check_mod.open_project = _timed("project", check_mod.open_project)
    interpreter.probe = _timed("probe", interpreter.probe)
    searchpath.build = _timed("search path", searchpath.build)
    Program.build_closure = _timed("closure", Program.build_closure)
    load = SummaryStore.load

    def load_recording(self, paths):
        PATHS.update(paths)
        return load(self, paths)

    SummaryStore.load = _timed("summaries", load_recording)
    Parser.map = _timed("parse", Parser.map)  # the parser pool, on the files the cache did not have
    ruff.analyze = _timed("ruff", ruff.analyze)
    Cache.flush = _timed("cache write", Cache.flush)
    for rule in RULES:
        rule.check = _timed_rule(rule)

    opts = check_mod.Options(path=args.path, python=args.python, entries=args.entry, cache_dir=args.cache_dir,
                             no_cache=args.no_cache)
    prof = None
    if args.profile:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    t = time.perf_counter()
    result = check_mod.run(opts)
    total = time.perf_counter() - t
    if prof:
        prof.disable()
    lines = 0
    for path in PATHS:
        try:
            with open(path, "rb") as f:
                lines += f.read().count(b"\n")
        except OSError:
            pass
    out = {"import deploycheck": IMPORT_S, "run": total, **TIMES,
           "other": total - sum(v for k, v in TIMES.items()
                                if k in ("project", "probe", "search path", "closure", "ruff", "rules",
                                         "cache write")),
           "modules": result.modules, "files": result.files, "parsed": result.parsed, "lines": lines,
           "errors": result.errors, "warnings": result.warnings}
    print(json.dumps(out))
    if prof:
        import io
        import pstats

        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(args.profile)
        sys.stderr.write(buf.getvalue())


if __name__ == "__main__":
    main()
