"""SARIF 2.1.0 output (OASIS Static Analysis Results Interchange Format), as code scanning reads it.

One run; ``tool.driver`` lists every rule (its docstring's first line is the short description, the whole
docstring the full one). Each result's location is relative to ``%SRCROOT%``, the repository root, when it
is in the repository (none for a finding about an image as a whole that no build file line holds), with
the import chain as ``relatedLocations`` and the finding's fingerprint
(``findings.fingerprint``) as ``partialFingerprints``. Findings a ``# noqa``, the configuration or the
baseline hides are results with ``suppressions``. Columns count Unicode code points, as ``ast`` does.
Messages are shown to people by the viewer: their control and bidirectional characters are escaped
(``render.escape``), as in the text output.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import PurePosixPath
from urllib.parse import quote

from deploycheck import __version__, homepage
from deploycheck.findings.located import Located, Location
from deploycheck.findings.report import Report
from deploycheck.render.escape import escape
from deploycheck.render.scrubbed import scrubbed
from deploycheck.rules import RULES

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
FINGERPRINT_KEY = "deploycheck/v1"


def rule_descriptors() -> list[dict]:
    """``reportingDescriptor`` objects for every rule, in rule order (``ruleIndex`` points into it)."""
    out = []
    home = homepage()
    for rule in RULES:
        doc = (rule.__doc__ or "").strip()
        first = doc.splitlines()[0] if doc else rule.CODE
        descriptor = {
            "id": rule.CODE,
            "name": rule.NAME,
            "shortDescription": {"text": first},
            "fullDescription": {"text": doc or first},
            "defaultConfiguration": {"level": "error"},
        }
        if home:
            module = rule.__name__.rpartition(".")[2]
            descriptor["helpUri"] = f"{home.rstrip('/')}/blob/main/src/deploycheck/rules/{module}.py"
        out.append(descriptor)
    return out


def _artifact(loc: Location) -> dict:
    if loc.in_repository:
        return {"uri": quote(loc.uri, safe="/"), "uriBaseId": "%SRCROOT%"}
    if os.path.isabs(loc.uri):
        return {"uri": "file://" + quote(PurePosixPath(loc.uri).as_posix(), safe="/")}
    return {"uri": quote(loc.uri, safe="/")}


def _physical(loc: Location) -> dict:
    out: dict = {"artifactLocation": _artifact(loc)}
    if loc.line > 0:
        out["region"] = {"startLine": loc.line, "startColumn": loc.column, "endColumn": loc.end_column}
    return out


def _message(item: Located) -> str:
    f, loc = item.finding, item.location
    text = f.message
    if item.via == "requirement":
        text += f" (in {f.distribution[0]} {f.distribution[1]}, installed by this requirement)"
    elif loc.whole:
        text += f" (about the image {loc.uri} as a whole; no build file line to place it)"
    elif not loc.in_repository:
        text += " (a path in the image, not mapped to the repository)" if loc.in_image else \
            " (a file outside the repository)"
    return text


def result(item: Located, index: dict[str, int]) -> dict:
    """The SARIF ``result`` of one placed finding."""
    f = item.finding
    out: dict = {
        "ruleId": f.code,
        "level": "error" if f.severity == "error" else "warning",
        "message": {"text": escape(_message(item))},
        # about the image as a whole: no file holds it (SARIF 2.1.0 3.27.12 allows no location)
        "locations": [] if item.location.whole else [{"physicalLocation": _physical(item.location)}],
        "partialFingerprints": {FINGERPRINT_KEY: item.fingerprint},
        "properties": {"when": f.when, "module": f.module, "symbol": f.symbol, "origin": f.origin},
    }
    if f.code in index:
        out["ruleIndex"] = index[f.code]
    if item.related:
        out["relatedLocations"] = [{"id": n, "physicalLocation": _physical(loc), "message": {"text": text}}
                                   for n, (loc, text) in enumerate(item.related)]
    if item.suppression:
        out["suppressions"] = [{"kind": item.suppression, "justification": item.justification}]
    return out


def document(report: Report) -> dict:
    """The SARIF log of ``report``: a dict ready for ``json.dump``."""
    rules = rule_descriptors()
    driver = {"name": "deploycheck", "version": __version__, "semanticVersion": __version__, "rules": rules}
    if homepage():
        driver["informationUri"] = homepage()
    index = {r["id"]: n for n, r in enumerate(rules)}
    root = os.path.abspath(report.root).replace(os.sep, "/").rstrip("/") + "/"
    return scrubbed({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": driver},
            "automationDetails": {"id": f"deploycheck/{report.command.replace(' ', '-')}/"},
            "originalUriBaseIds": {"%SRCROOT%": {"uri": "file://" + quote(root, safe="/")}},
            "columnKind": "unicodeCodePoints",
            "results": [result(i, index) for i in report.reported + report.suppressed],
        }],
    })


def render(report: Report, stream=None) -> None:
    """Write ``document(report)`` as indented JSON to ``stream`` (default standard output)."""
    out = stream or sys.stdout
    json.dump(document(report), out, indent=2)
    out.write("\n")
