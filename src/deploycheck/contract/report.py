"""Output of ``deploycheck config``: text in the style of ``check`` (findings rustc-style, then a table of
every setting) and JSON (schema version 1). Whatever is written goes through the run's scrubber, so no known
secret value can appear; source lines are shown for code only (a dotenv or manifest line may hold a value)."""

from __future__ import annotations

import io
import json
import os
import sys

from rich.console import Console
from rich.text import Text

from deploycheck.artifact.files import source_lines
from deploycheck.contract import redact
from deploycheck.contract.model import Setting
from deploycheck.contract.run import Result
from deploycheck.contract.withhold import WITHHELD_TEXT
from deploycheck.findings.finding import ERROR, Finding
from deploycheck.render.escape import console as escaping_console
from deploycheck.render.paths import display

SCHEMA_VERSION = 1
_WHEN = {"import": "at import", "call": "when called", "connect": "on connect"}


def _rel(path: str, root: str) -> str:
    rel = os.path.relpath(path, root)
    return path if rel.startswith("..") else rel


def read_at(s: Setting, root: str) -> str:
    first = s.reads[0]
    more = len({(r.path, r.line) for r in s.reads}) - 1
    return f"{_rel(first.path, root)}:{first.line}" + (f" (+{more})" if more > 0 else "")


def requirement(s: Setting) -> str:
    if s.required:
        return "required"
    if not s.open_reads:
        return "set by the code"
    shown = [d if d == WITHHELD_TEXT else repr(redact.shown(s.name, d)) for d in s.used_defaults]
    if shown:
        return "default " + ", ".join(shown)
    return "default (expression)" if any(r.has_default for r in s.open_reads) else "default None"


def provided_by(s: Setting, root: str) -> list[str]:
    out = []
    for p in s.provided:
        where = f"{_rel(p.path, root)}:{p.line}"
        extra = {"secret": p.ref, "configmap": p.ref, "field": p.ref, "templated": "templated",
                 "host": "from the shell"}.get(p.kind)
        out.append(f"{where} ({extra})" if extra else where)
    out += [f"set by the code at {_rel(path, root)}:{line}" for path, line in
            dict.fromkeys((path, line) for path, line, _how in s.set_by_code)]
    return out


def render_text(result: Result, stream=None, color: bool | None = None) -> None:
    out = stream or sys.stdout
    buf = io.StringIO()
    tty = color if color is not None else (hasattr(out, "isatty") and out.isatty())
    console = escaping_console(buf, tty, result.scrub)  # control characters of the input escaped
    root = result.project.root
    env = result.env
    head = Text(f"environment {env.name}", style="bold")
    head.append(f" ({'local' if env.local else 'not local'}) · sources: ")
    head.append(", ".join(f"{display(p)} ({k})" for k, p in env.files) or "none")
    console.print(head)
    console.print()
    for f in result.findings:
        _finding(console, f, result.project.boundary)
    _table(console, result.settings, root)
    summary = Text()
    e, w = result.errors, result.warnings
    summary.append(f"{e} error{'s' * (e != 1)}, {w} warning{'s' * (w != 1)}",
                   style="bold red" if e else "bold green")
    entries = result.closure.entries
    shown = ", ".join(entries[:3]) + (f" and {len(entries) - 3} more" if len(entries) > 3 else "")
    summary.append(f" in {len(result.settings)} settings read by {len(result.closure.modules)} project modules of "
                   f"the import closure of {shown} · environment {env.name} · {result.seconds:.2f} s")
    console.print(summary)
    out.write(result.scrub(buf.getvalue()))


def _finding(console: Console, f: Finding, boundary=None) -> None:
    head = Text()
    head.append(f"{display(f.path)}:{f.line}:{f.column + 1}: ", style="bold")
    head.append(f.code + " ", style="bold red" if f.severity == ERROR else "bold yellow")
    head.append(f"[{f.severity}, {_WHEN.get(f.when, f.when)}] ", style="red" if f.severity == ERROR else "yellow")
    head.append(f.message)
    console.print(head)
    if f.path.endswith(".py"):  # never a line of a dotenv file or manifest: it may hold a value
        lines = source_lines(f.path, boundary=boundary)  # none of a file outside the project
        if 0 < f.line <= len(lines):
            gutter = " " * len(str(f.line))
            console.print(Text(f"{gutter} |", style="blue"))
            console.print(Text(f"{f.line} | ", style="blue") + Text(lines[f.line - 1].expandtabs(1)))
            console.print(Text(f"{gutter} | ", style="blue") +
                          Text(" " * f.column + "^" * max(len(f.symbol), 1), style="red"))
    console.print()


def _table(console: Console, settings: list[Setting], root: str) -> None:
    rows = [("SETTING", "READ AT", "REQUIRED / DEFAULT", "PROVIDED BY", "STATUS")]
    for s in settings:
        rows.append((s.name, read_at(s, root), requirement(s), ", ".join(provided_by(s, root)) or "-", s.status))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for i, row in enumerate(rows):
        line = "  ".join(cell.ljust(widths[j]) for j, cell in enumerate(row[:4])) + "  " + row[4]
        console.print(Text(line.rstrip(), style="bold" if i == 0 else ""))
    console.print()


def document(result: Result) -> dict:
    root = result.project.root
    env = result.env
    doc = {
        "version": SCHEMA_VERSION,
        "environment": {"name": env.name, "local": env.local,
                        "sources": [{"kind": k, "path": p} for k, p in env.files],
                        "open": [{"ref": o.ref, "path": o.path, "line": o.line} for o in env.open]},
        "target": {"path": root, "entries": result.closure.entries},
        "settings": [_setting(s) for s in result.settings],
        "findings": [_finding_dict(f) for f in result.findings],
        "summary": {"errors": result.errors, "warnings": result.warnings, "settings": len(result.settings),
                    "modules": len(result.closure.modules)},
    }
    return _scrubbed(doc, result.scrub)


def _setting(s: Setting) -> dict:
    return {
        "name": s.name,
        "reads": [{"path": r.path, "line": r.line, "column": r.column + 1, "module": r.module, "via": r.via,
                   "required": r.required, "default": redact.shown(s.name, r.default),
                   "has_default": r.has_default, "case_sensitive": r.case_sensitive, "when": r.when,
                   "set_by": [{"path": p, "line": line, "how": how} for p, line, how in r.set_by]}
                  for r in s.reads],
        "required": s.required,
        "provided_by": [{"source": p.source, "path": p.path, "line": p.line, "kind": p.kind, "ref": p.ref,
                         "value_known": p.value is not None} for p in s.provided],
        "set_by_code": [{"path": p, "line": line, "how": how} for p, line, how in s.set_by_code],
        "value_from": s.value_from,
        "status": s.status,
    }


def _finding_dict(f: Finding) -> dict:
    return {"code": f.code, "severity": f.severity, "message": f.message, "path": f.path, "line": f.line,
            "column": f.column + 1, "symbol": f.symbol, "module": f.module, "when": f.when}


def _scrubbed(obj, scrub):
    if isinstance(obj, str):
        return scrub(obj)
    if isinstance(obj, dict):
        return {k: _scrubbed(v, scrub) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_scrubbed(v, scrub) for v in obj]
    return obj


def render_json(result: Result, stream=None) -> None:
    out = stream or sys.stdout
    json.dump(document(result), out, indent=2)
    out.write("\n")
