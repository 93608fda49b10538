"""The incident report as one self-contained HTML page: no script, no external style sheet, font or image;
every text escaped (``html.escape``, quotes included) after its control characters were made visible."""

from __future__ import annotations

from html import escape as html_escape

from deploycheck.audit.report import Report, amount
from deploycheck.render.escape import escape

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b}
pre{background:#f5f5f5;padding:1rem;overflow-x:auto}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top}
.stopped{background:#fdecea}code{background:#f0f0f0;padding:0 .2rem}
"""


def h(value: str) -> str:
    """``value`` escaped for HTML text and attribute values."""
    return html_escape(escape(value), quote=True)


def _when(line: int, time: str | None) -> str:
    return f"line {line}" + (f" ({h(time)})" if time else "")


def page(r: Report) -> str:
    """The report's HTML page."""
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'">',
           f"<title>Incident report: {h(r.log)}</title><style>{_STYLE}</style></head><body>",
           f"<h1>Incident report: {h(r.log)}</h1>", '<section id="summary"><h2>Summary</h2>',
           f"<p>{h(r.summary)}</p>", f"<p>{h(amount(r))}, {r.crashes} traceback{'s' if r.crashes != 1 else ''} found.</p></section>"]
    if r.crashed:
        out += ['<section id="error"><h2>Error identified</h2>', "<pre>" + "\n".join(h(line) for line in r.error) + "</pre>",  # escaped line by line: newlines stay
                "<p>Why this crash is the one that stopped the service:</p><ul>"]
        out += [f"<li>{h(w)}</li>" for w in r.stopped_why]
        out += ["</ul></section>", '<section id="groups"><h2>Crash groups</h2><table>',
                "<tr><th>Exception</th><th>Count</th><th>First seen</th><th>Last seen</th><th>Revisions</th></tr>"]
        for g in r.groups:
            row = '<tr class="stopped">' if g.stopped else "<tr>"
            out.append(f"{row}<td>{h(g.exc_type or '(cut short)')}: {h(g.message)}</td>"
                       f"<td>{g.count}</td><td>{_when(g.first_line, g.first_time)}</td>"
                       f"<td>{_when(g.last_line, g.last_time)}</td><td>{h(', '.join(g.revisions))}</td></tr>")
        out += ["</table></section>", '<section id="timeline"><h2>Timeline</h2><table>',
                "<tr><th>When</th><th>Event</th><th>What the log says</th></tr>"]
        out += [f"<tr><td>{_when(e.line, e.time)}</td><td>{h(e.kind)}</td><td>{h(e.text)}</td></tr>"
                for e in r.timeline]
        out += ["</table></section>", '<section id="root-cause"><h2>Root cause</h2>']
        if r.revision:
            out.append(f"<p>Revision examined: <code>{h(r.revision)}</code> ({h(r.revision_from)}).</p>")
        out.append("<ol>")
        for w in r.whys:
            evidence = "; ".join(f"<code>{h(e)}</code>" for e in w.evidence)
            out.append(f"<li>{h(w.statement)}" + (f"<br>Evidence: {evidence}" if evidence else "") + "</li>")
        out.append("</ol></section>")
        if r.image is not None:
            out += ['<section id="image"><h2>The image</h2>',
                    f"<p><code>{h(r.image['image'])}</code>: {h(r.image['summary'])}.</p><ul>"]
            out += [f"<li>{h(f)}</li>" for f in [*r.image_files, *r.image["notes"]]]
            out.append("</ul></section>")
        out += ['<section id="caught-by"><h2>What would have caught it</h2>',
                (f"<p>{h(r.caught_by) if r.caught_by else 'unknown: no deploycheck rule covers this kind of crash.'}"
                "</p></section>"), f'<section id="fix"><h2>Suggested fix</h2><p>{h(r.fix)}</p></section>',
                f'<section id="test"><h2>Regression test</h2><p>{h(r.test)}</p></section>',
                '<section id="verify"><h2>Verification</h2><ol>']
        out += [f"<li>{h(v)}</li>" for v in r.verify]
        out.append("</ol></section>")
        if r.unknowns:
            out += ['<section id="unknown"><h2>Unknown</h2><ul>'] + [f"<li>{h(u)}</li>" for u in r.unknowns]
            out.append("</ul></section>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def render(r: Report, stream) -> None:
    """Write the report's HTML page to ``stream``."""
    stream.write(page(r))
