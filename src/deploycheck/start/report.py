"""The report of ``deploycheck start``: text (findings, then the measures and, when it failed, the last
lines of output) or JSON (``{"version", "target", "measures", "timeline", "findings", "summary"}``). Every
text from the service is escaped (no terminal control sequences) and was scrubbed of secrets when read."""

from __future__ import annotations

import json
import sys

from deploycheck.render.escape import escape
from deploycheck.start.findings import megabytes
from deploycheck.start.run import Result

SCHEMA_VERSION = 1
TAIL_SHOWN = 15


def measures(result: Result) -> dict:
    """The measured values: seconds, bytes, CPU seconds, sockets, exit codes."""
    o = result.observation
    return {
        "port": o.port, "port_note": o.port_note, "root": o.root, "health": o.health, "healthy_after_seconds": o.healthy_at,
        "exited_after_seconds": o.exited_at, "exit_code": o.exit_code, "timed_out": o.timed_out,
        "peak_memory_bytes": o.peak_memory, "killed_for_memory": o.killed_for_memory,
        "cpu_seconds": o.cpu_seconds, "listening": [f"{a}:{p}" for a, p in o.listening],
        "stopped_after_sigterm_seconds": o.stopped_after, "stop_exit_code": o.stop_exit_code,
        "budgets": {"startup_seconds": o.budget_seconds, "memory_bytes": o.budget_memory,
                    "grace_seconds": o.grace, "memory_limit_bytes": o.memory_limit},
        "tracebacks": [{"exception": t.exception, "count": t.count,
                        "frames": [{"path": p, "line": n, "function": fn, "statement": s} for p, n, fn, s in t.frames]}
                       for t in o.tracebacks],
        "errors": [{"line": line, "count": n} for line, n in o.errors.items()],
        "log_tail": o.log_tail,
        "dependencies": o.dependencies,
        "imports": {"probed": o.imports_probed, "left_out": o.imports_left_out, "note": o.imports_note,
                    "remembered": o.imports_remembered, "failures": o.import_failures},
    }


def render_json(result: Result, stream=None) -> None:
    from deploycheck.render.json import finding_dict

    stream = stream or sys.stdout
    doc = {"version": SCHEMA_VERSION,
           "target": {"image": result.image, "command": result.observation.command,
                      "rootfs_cached": result.rootfs_cached},
           "measures": measures(result), "timeline": result.observation.timeline,
           "findings": [finding_dict(f) for f in result.findings],
           "summary": {"errors": result.errors, "warnings": result.warnings, "seconds": round(result.seconds, 3)}}
    stream.write(json.dumps(doc, indent=2) + "\n")


def render_text(result: Result, stream=None) -> None:
    stream = stream or sys.stdout
    o = result.observation
    for f in result.findings:
        where = f"{f.path}:{f.line}" if f.line else f.path
        stream.write(escape(f"{where}: {f.code} [{f.severity}] {f.message}") + "\n")
        frames = o.tracebacks[-1].frames if f.code == "DC601" and o.tracebacks else []
        if f.code == "DC609":
            frames = next((x["frames"] for x in o.import_failures if x["modules"][0] == f.symbol), [])
        for path, line, function, statement in frames:
            said = f": {statement}" if statement else ""
            stream.write(escape(f"   | {path}:{line} in {function}{said}") + "\n")
    if o.healthy_at is not None:
        state = f"healthy after {o.healthy_at:.2f} s"
    elif o.exited_at is not None:
        state = f"exited with code {o.exit_code} after {o.exited_at:.2f} s"
    else:
        state = "not healthy"
    stop = (f"; stopped {o.stopped_after:.2f} s after SIGTERM (code {o.stop_exit_code})"
            if o.stopped_after is not None else "")
    stream.write(f"start: {escape(' '.join(o.command))} ({o.health}): {state}; peak memory "
                 f"{megabytes(o.peak_memory)}; CPU {o.cpu_seconds:.2f} s{stop}\n")
    if o.port_note:
        stream.write(f"port: {escape(o.port_note)}\n")
    if o.root:
        stream.write(f"root filesystem: {escape(o.root)}\n")
    if o.imports_note:
        stream.write(f"import probe: {escape(o.imports_note)}\n")
    else:
        left = (f"; {o.imports_left_out} left out (start-up modules of a framework set-up it does not know, "
                "or out of time)" if o.imports_left_out else "")
        again = (" (remembered: an earlier run of this image with the same environment imported them all; "
                 "--no-cache imports them again)" if o.imports_remembered else "")
        stream.write(f"import probe: {o.imports_probed} module(s) imported in the image, "
                     f"{len(o.import_failures)} failure(s){left}{again}\n")
    for dep in o.dependencies:
        refused = f"; refused {len(dep['refused'])} login(s)" if dep["refused"] else ""
        stream.write(f"with: {escape(dep['dependency'])}, throwaway{refused}\n")
    if o.listening:
        stream.write(f"listening: {', '.join(f'{a}:{p}' for a, p in o.listening)}\n")
    if o.healthy_at is None and o.log_tail:
        stream.write("last lines of output:\n")
        for line in o.log_tail[-TAIL_SHOWN:]:
            stream.write(f"   | {escape(line)}\n")
    stream.write(f"{result.errors} error(s), {result.warnings} warning(s) in {result.seconds:.1f} s\n")
