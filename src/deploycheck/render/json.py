"""JSON output, schema version 1 (documented in the README; new keys may be added, none removed or changed
without bumping ``version``)."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

from deploycheck.findings.finding import Finding
from deploycheck.render.scrubbed import scrubbed

if TYPE_CHECKING:  # only annotations: `start` and `config` use finding_dict without the analyzer
    from deploycheck.check import Result

SCHEMA_VERSION = 1


def finding_dict(f: Finding) -> dict:
    return {
        "code": f.code,
        "severity": f.severity,
        "message": f.message,
        "path": f.path,
        "line": f.line,
        "column": f.column + 1,
        "symbol": f.symbol,
        "module": f.module,
        "origin": f.origin,
        "when": f.when,
        "distribution": {"name": f.distribution[0], "version": f.distribution[1]} if f.distribution else None,
        "chain": [{"module": h.module, "path": h.path, "line": h.line, "step": h.step} for h in f.chain],
    }


def document(result: Result) -> dict:
    i = result.interp
    layout = result.layout
    scripts = [{"path": d.rel, "modules": sorted(d.modules), "why": d.why}
               for d in (layout.scripts if layout else [])]
    skipped = [{"path": path, "why": why} for path, why in layout.skipped] if layout else []
    return {
        "version": SCHEMA_VERSION,
        "target": {"path": result.project.root, "roots": result.project.roots, "entries": result.entries,
                   "scripts": scripts, "skipped": skipped,
                   **({"image": result.image} if result.image else {})},
        "python": {
            "executable": i.executable,
            "version": i.version_text,
            "implementation": i.implementation,
            "platform": i.platform,
            "search_path": result.search_path,
        },
        "findings": [finding_dict(f) for f in result.findings],
        "summary": {"errors": result.errors, "warnings": result.warnings, "modules": result.modules,
                    "files": result.files, "parsed": result.parsed, "unreadable": result.unreadable,
                    "notes": result.notes},
    }


def render(result: Result, stream=None) -> None:
    out = stream or sys.stdout
    json.dump(scrubbed(document(result)), out, indent=2)
    out.write("\n")
