"""JUnit XML output, in the shape CI systems read (Jenkins, GitLab, Azure Pipelines; the Ant JUnit
schema): one ``testsuite`` per command, one ``testcase`` per rule and file (``classname`` the rule code,
``name`` the file), and in each a ``failure`` whose ``message`` is the first finding and whose text lists
every finding of that rule in that file as ``path:line:column: CODE message``. A run without findings has one
passing test case, so that the report is never empty.

XML 1.0 cannot carry most control characters even as references: they are written as Python-style escapes
(``render.escape``); every text is scrubbed of secrets first.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET

from deploycheck.findings.located import Located
from deploycheck.findings.report import Report
from deploycheck.render.escape import escape
from deploycheck.render.scrubbed import scrubbed


def _clean(text: str) -> str:
    return escape(scrubbed(text))


def where(item: Located) -> str:
    """``path:line:column`` of a placed finding (``path`` alone for a finding about a whole file)."""
    loc = item.location
    return f"{loc.uri}:{loc.line}:{loc.column}" if loc.line else loc.uri


def document(report: Report) -> ET.Element:
    """The ``testsuites`` element of ``report``."""
    cases: dict[tuple[str, str], list[Located]] = {}
    for item in report.reported:
        cases.setdefault((item.finding.code, item.location.uri), []).append(item)
    root = ET.Element("testsuites", name="deploycheck", tests=str(max(len(cases), 1)),
                      failures=str(len(cases)), errors="0")
    suite = ET.SubElement(root, "testsuite", name=f"deploycheck {report.command}",
                          tests=str(max(len(cases), 1)), failures=str(len(cases)), errors="0", skipped="0")
    if not cases:
        ET.SubElement(suite, "testcase", classname="deploycheck", name=_clean(f"{report.command}: no findings"))
    for (code, uri), items in sorted(cases.items()):
        case = ET.SubElement(suite, "testcase", classname=code, name=_clean(uri),
                             file=_clean(uri), line=str(items[0].location.line))
        first = items[0]
        failure = ET.SubElement(case, "failure", type=code,
                                message=_clean(f"{where(first)}: {first.finding.message}"))
        failure.text = "\n".join(_clean(f"{where(i)}: {code} [{i.finding.severity}] {i.finding.message}")
                                 for i in items)
    return root


def render(report: Report, stream=None) -> None:
    """Write ``document(report)`` with an XML declaration to ``stream`` (default standard output)."""
    out = stream or sys.stdout
    tree = ET.ElementTree(document(report))
    ET.indent(tree)
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    tree.write(out, encoding="unicode")
    out.write("\n")
