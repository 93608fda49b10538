"""The incident report as Markdown (GitHub-flavoured: tables, fenced code).

Every text from the log or the repository is escaped: emphasis, link and table punctuation get a backslash
and ``<>&`` an entity (GitHub renders raw HTML and links otherwise), control characters become visible escapes
(``render.escape``), and code blocks are fenced with more backticks than the text holds.
"""

from __future__ import annotations

import re

from deploycheck.audit.report import Report, amount
from deploycheck.render.escape import escape

# Backslashes, emphasis, links and table cells; a backtick is left alone so that a code span of the report's
# own prose stays one (code from the input goes through ``code`` or ``block``).
_PUNCT = re.compile(r"([\\*_\[\]|])")


def text(value: str) -> str:
    """``value`` as inline Markdown text, shown as is."""
    value = escape(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _PUNCT.sub(r"\\\1", value)


def code(value: str) -> str:
    """``value`` as inline code."""
    value = escape(value)
    ticks = max((len(m) for m in re.findall(r"`+", value)), default=0) + 1
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{'`' * ticks}{pad}{value}{pad}{'`' * ticks}"


def block(lines: list[str]) -> list[str]:
    """``lines`` as a fenced code block."""
    body = [escape(line) for line in lines]
    ticks = max([3] + [len(m) + 1 for line in body for m in re.findall(r"`{3,}", line)])
    return ["`" * ticks + "text", *body, "`" * ticks]


def _time(line: int, when: str | None, text=text) -> str:
    return f"line {line}" + (f" ({text(when)})" if when else "")


def lines(r: Report, plain: bool = False) -> list[str]:
    """The report's Markdown, line by line; ``plain``: for a terminal (``--format text``), the same outline
    with only control characters escaped."""
    text, code, block = (escape, escape, _indented) if plain else (globals()["text"], globals()["code"],
                                                                   globals()["block"])
    out = [f"# Incident report: {text(r.log)}", "", "## Summary", "", text(r.summary), ""]
    out.append(f"{amount(r)}, {r.crashes} traceback{'s' if r.crashes != 1 else ''} found"
               + (f", {r.lines_cut} overlong lines cut" if r.lines_cut else "")
               + (f", {r.lines_skipped} entries before --since skipped" if r.lines_skipped else "") + ".")
    out.append("")
    if not r.crashed:
        return out
    out += ["## Error identified", ""]
    out += block(r.error) + [""]
    out += ["Why this crash is the one that stopped the service:", ""]
    out += [f"- {text(w)}" for w in r.stopped_why] + [""]
    out += ["## Crash groups", "", "| | Exception | Count | First seen | Last seen | Revisions |",
            "|---|---|---|---|---|---|"]
    for g in r.groups:
        out.append(f"| {'**stopped**' if g.stopped else ''} | {text(g.exc_type or '(cut short)')}: {text(g.message)} | {g.count} "
                   f"| {_time(g.first_line, g.first_time, text)} | {_time(g.last_line, g.last_time, text)} "
                   f"| {text(', '.join(g.revisions)) or '—'} |")
    out += ["", "## Timeline", "", "| When | Event | What the log says |", "|---|---|---|"]
    for e in r.timeline:
        out.append(f"| {_time(e.line, e.time, text)} | {text(e.kind)} | {text(e.text)} |")
    out += ["", "## Root cause", ""]
    if r.revision:
        out += [f"Revision examined: {code(r.revision)} ({text(r.revision_from)}).", ""]
    for i, w in enumerate(r.whys, 1):
        out.append(f"{i}. {text(w.statement)}")
        if w.evidence:
            out.append("   Evidence: " + "; ".join(code(e) for e in w.evidence))
    if r.image is not None:
        out += ["", "## The image", "", f"{code(r.image['image'])}: {text(r.image['summary'])}.", ""]
        out += [f"- {text(f)}" for f in r.image_files]
        out += [f"- {text(n)}" for n in r.image["notes"]]
    out += ["", "## What would have caught it", ""]
    out.append(text(r.caught_by) if r.caught_by else "unknown: no deploycheck rule covers this kind of crash.")
    out += ["", "## Suggested fix", "", text(r.fix), "", "## Regression test", "", text(r.test), "",
            "## Verification", ""]
    out += [f"{i}. {text(v)}" for i, v in enumerate(r.verify, 1)]
    if r.unknowns:
        out += ["", "## Unknown", ""]
        out += [f"- {text(u)}" for u in r.unknowns]
    out.append("")
    return out


def _indented(lines: list[str]) -> list[str]:
    return ["    " + escape(line) for line in lines]


def render(r: Report, stream, plain: bool = False) -> None:
    """Write the report as Markdown (``plain``: as text for a terminal) to ``stream``."""
    stream.write("\n".join(lines(r, plain)) + "\n")
