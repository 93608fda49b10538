"""JSON Lines output: one JSON object per reported finding, one per line (for ``jq`` and log pipelines).
Each object has ``code``, ``severity``, ``message``, ``path`` (relative to the repository root when
``in_repository``), ``line``, ``column``, ``end_column`` (1-based), ``symbol``, ``module``, ``when`` and
``fingerprint``; every string scrubbed of secrets, every control character escaped by ``json.dumps``."""

from __future__ import annotations

import json
import sys

from deploycheck.findings.report import Report
from deploycheck.render.scrubbed import scrubbed


def render(report: Report, stream=None) -> None:
    """Write one JSON object line per reported finding to ``stream`` (default standard output)."""
    out = stream or sys.stdout
    for item in report.reported:
        f, loc = item.finding, item.location
        out.write(json.dumps(scrubbed({
            "code": f.code, "severity": f.severity, "message": f.message, "path": loc.uri,
            "in_repository": loc.in_repository, "line": loc.line, "column": loc.column,
            "end_column": loc.end_column, "symbol": f.symbol, "module": f.module, "when": f.when,
            "fingerprint": item.fingerprint,
        })) + "\n")
