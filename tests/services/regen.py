"""Regenerate the corpus's recorded data and the numbers of docs/corpus.md.

    python tests/services/regen.py pins NAME            # resolve NAME's requirement once, record `pip freeze`
    python tests/services/regen.py start NAME           # start NAME once: its first failure, modules loaded
    python tests/services/regen.py measure [NAME...]    # start, check and compare; prints JSON
    python tests/services/regen.py record FILE.json     # write `measure`'s outcomes into corpus.json (today)
    python tests/services/regen.py table FILE.json      # the markdown table of docs/corpus.md from `measure`

Run with the project's interpreter (``.venv/bin/python``): ``measure`` imports deploycheck.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

import breakages  # noqa: E402
import corpus  # noqa: E402


def pins(name: str) -> None:
    """Resolve ``requirement`` in a scratch environment; write its ``pip freeze`` (less pip) as ``pins``."""
    data = corpus.load()
    svc = next(s for s in data["services"] if s["name"] == name)
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([sys.executable, "-m", "venv", d], check=True)
        py = str(Path(d) / "bin" / "python")
        subprocess.run([py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "--prefer-binary", svc["requirement"]], check=True)
        out = subprocess.run([py, "-m", "pip", "freeze", "--all"], check=True, capture_output=True, text=True)
    svc["pins"] = [line for line in out.stdout.splitlines() if line and not line.startswith("pip==")]
    corpus.CORPUS.write_text(json.dumps(data, indent=1) + "\n")


def start(name: str) -> dict:
    """Start one service from a fresh copy: the first failure and the count of modules loaded, by origin."""
    svc = corpus.service(name)
    python = corpus.environment(svc)
    with tempfile.TemporaryDirectory() as d:
        project = corpus.project_copy(python, svc["packages"], Path(d) / "project",
                                      svc.get("contents", False))
        started = corpus.start(svc, python, project)
        cov = corpus.coverage(started, {}, project, python)
    return {"failure": started.failure, "started": {o: len(m) for o, m in cov.started.items()}}


def measure(names: list[str]) -> dict:
    """For each service: files, modules started (by origin), the closure's coverage of them with the real
    entries, error findings judged in both modes, and each breakage's outcome."""
    out = {}
    for svc in corpus.services():
        if names and svc["name"] not in names:
            continue
        python = corpus.environment(svc)
        with tempfile.TemporaryDirectory() as d:
            project = corpus.project_copy(python, svc["packages"], Path(d) / "project",
                                          svc.get("contents", False))
            started = corpus.start(svc, python, project)
            row: dict = {"version": svc["requirement"].split("==")[1], "framework": svc["framework"],
                         "files": corpus.python_files(project), "start_failure": started.failure}
            for mode, entries in (("entries", svc["entries"]), ("default", [])):
                result = corpus.deploycheck(project, python, entries, corpus.CACHE / "corpus-summaries")
                cov = corpus.coverage(started, result.closure, project, python)
                verdicts = corpus.judge(svc, python, project, result)
                missed = [(m, started.step_of(m)) for m in cov.missed.get("service", [])]
                missed_3p = [(m, started.step_of(m)) for m in cov.missed.get("third-party", [])]
                row[mode] = {"closure": len(result.closure), "errors": result.errors,
                             "warnings": result.warnings, "coverage": cov.counts(), "missed_service": missed,
                             "missed_third_party": missed_3p,
                             "real": verdicts.real, "false": verdicts.false, "unjudged": verdicts.unjudged}
            row["breakages"] = {}
            for b in svc.get("breakages", []):
                row["breakages"][b["id"]] = breakages.outcome(svc, python, b, Path(d))
        out[svc["name"]] = row
        print(json.dumps({svc["name"]: row}, indent=1), file=sys.stderr, flush=True)
    return out


def record(measured: dict) -> None:
    """Write what ``measure`` found into ``corpus.json``: each service's ``today`` (modules started, started
    modules the closure misses and the framework steps that loaded them, false error findings per mode) and
    each breakage's ``crash`` and ``today`` (caught per mode; the reason of a miss is the breakage's
    ``why_entries``, else its ``loader``, for the real entries, ``why_default`` with every module as an
    entry)."""
    data = corpus.load()
    for svc in data["services"]:
        row = measured.get(svc["name"])
        if row is None:
            continue
        cov = row["entries"]["coverage"]
        missed = row["entries"]["missed_service"] + row["entries"].get("missed_third_party", [])
        steps = sorted({step for _, step in missed if step})
        svc["today"] = {"started": {o: n for o, (n, _) in cov.items()},
                        "missed": {o: n - c for o, (n, c) in cov.items() if o != "stdlib"},
                        "missed_steps": steps,
                        "false": {m: sorted(row[m]["false"]) for m in ("entries", "default")}}
        for b in svc.get("breakages", []):
            got = row["breakages"][b["id"]]
            crash = got["crash"]
            b["crash"] = {k: crash[k] for k in ("step", "type", "file", "line")} if crash else None
            reasons = {"entries": b.get("why_entries", f"framework loader missing: {b.get('loader', '?')}"),
                       "default": b.get("why_default", "not caught with every module as an entry")}
            b["today"] = {}
            for mode, reason in reasons.items():
                g = got[mode]
                if g["caught"] and g["when"] == "call":  # an error, but not called a deploy failure
                    reason = (f"reported as {g['finding']} with `when: call`, but the service crashes at "
                              f"start-up ({crash['step']})")
                b["today"][mode] = {"caught": g["caught"] and g["when"] != "call", "reason": reason}
    corpus.CORPUS.write_text(json.dumps(data, indent=1) + "\n")


def table(measured: dict) -> str:
    lines = ["| service | version | framework | files | modules started (service / all) | closure coverage "
             "with real entries (service / all) | false errors (entries / default) | breakages caught "
             "(entries / every module) |",
             "|---|---|---|---:|---:|---:|---:|---:|"]
    for name, row in measured.items():
        cov = row["entries"]["coverage"]
        all_started = sum(s for s, _ in cov.values())
        all_in = sum(c for _, c in cov.values())
        svc_started, svc_in = cov.get("service", (0, 0))
        br = row["breakages"]
        caught_e = sum(1 for b in br.values() if b["entries"]["caught"])
        caught_d = sum(1 for b in br.values() if b["default"]["caught"])
        lines.append(f"| {name} | {row['version']} | {row['framework']} | {row['files']:,} | "
                     f"{svc_started:,} / {all_started:,} | "
                     f"{svc_in:,}/{svc_started:,} ({_pct(svc_in, svc_started)}) / "
                     f"{all_in:,}/{all_started:,} ({_pct(all_in, all_started)}) | "
                     f"{len(row['entries']['false'])} / {len(row['default']['false'])} | "
                     f"{caught_e}/{len(br)} / {caught_d}/{len(br)} |")
    return "\n".join(lines)


def _pct(a: int, b: int) -> str:
    return f"{100 * a / b:.0f}%" if b else "-"


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "pins":
        pins(sys.argv[2])
    elif cmd == "start":
        print(json.dumps(start(sys.argv[2]), indent=1))
    elif cmd == "measure":
        print(json.dumps(measure(sys.argv[2:]), indent=1))
    elif cmd == "record":
        record(json.loads(Path(sys.argv[2]).read_text()))
    elif cmd == "table":
        print(table(json.loads(Path(sys.argv[2]).read_text())))
    else:
        sys.exit(__doc__)
