"""GitLab Code Quality output: a JSON array of issues in the subset of the Code Climate format GitLab reads
(``description``, ``check_name``, ``fingerprint``, ``severity``, ``location.path``,
``location.lines.begin``). Fingerprints are unique within a report (``findings.fingerprint``): GitLab keeps
one of the issues that share one. Paths are relative to the repository root; a finding outside it keeps its
own path (GitLab then shows it without a link). Every string is scrubbed of secrets."""

from __future__ import annotations

import json
import sys

from deploycheck.findings.report import Report
from deploycheck.render.escape import escape
from deploycheck.render.scrubbed import scrubbed

# An error crashes the service: GitLab's "critical"; a warning may: "minor".
SEVERITY = {"error": "critical", "warning": "minor"}


def document(report: Report) -> list[dict]:
    """The Code Quality issues of ``report``'s reported findings, in order."""
    out = []
    for item in report.reported:
        f, loc = item.finding, item.location
        out.append({
            "type": "issue",
            "description": escape(f"{f.code} {f.message}"),  # shown in the merge request as is
            "check_name": f.code,
            "categories": ["Bug Risk"],
            "fingerprint": item.fingerprint,
            "severity": SEVERITY.get(f.severity, "info"),
            "location": {"path": loc.uri, "lines": {"begin": max(loc.line, 1)}},
        })
    return scrubbed(out)


def render(report: Report, stream=None) -> None:
    """Write ``document(report)`` as indented JSON to ``stream`` (default standard output)."""
    out = stream or sys.stdout
    json.dump(document(report), out, indent=2)
    out.write("\n")
