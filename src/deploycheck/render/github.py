"""GitHub Actions workflow commands: one ``::error`` or ``::warning`` line per finding, which the runner
turns into an annotation on the pull request's file::

    ::error file=app/x.py,line=3,col=29,endColumn=43,title=DC102::cannot import name 'X' from 'app.y'

Escaped as the runner reads them (GitHub's actions/toolkit, ``command.ts``): in the message ``%``, CR and
LF become ``%25``, ``%0D``, ``%0A``; in a property value ``:`` and ``,`` also become ``%3A`` and ``%2C``.
Other control characters are written as Python-style escapes (``render.escape``): a raw one would reach
the job log. A finding outside the repository has no ``file`` (the runner could not place it): its path
starts the message.
"""

from __future__ import annotations

import sys

from deploycheck.findings.located import Located
from deploycheck.findings.report import Report
from deploycheck.render.escape import escape
from deploycheck.render.scrubbed import scrubbed


def data(text: str) -> str:
    """``text`` escaped as a command's message."""
    return escape(scrubbed(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"))


def prop(text: str) -> str:
    """``text`` escaped as a command's property value."""
    return data(text).replace(":", "%3A").replace(",", "%2C")


def command(item: Located) -> str:
    """The workflow command line of one placed finding (without its newline)."""
    f, loc = item.finding, item.location
    level = "error" if f.severity == "error" else "warning"
    props = []
    message = f.message
    if loc.in_repository:
        props.append(f"file={prop(loc.uri)}")
        if loc.line:
            props += [f"line={loc.line}", f"col={loc.column}", f"endColumn={loc.end_column}"]
        if item.via == "requirement":
            message += f" (in {f.distribution[0]} {f.distribution[1]}, installed by this requirement)"
    else:
        message = f"{loc.uri}:{loc.line}:{loc.column}: {message}" if loc.line else f"{loc.uri}: {message}"
    props.append(f"title={prop(f.code)}")
    return f"::{level} {','.join(props)}::{data(message)}"


def render(report: Report, stream=None) -> None:
    """Write one workflow command line per reported finding to ``stream`` (default standard output)."""
    out = stream or sys.stdout
    for item in report.reported:
        out.write(command(item) + "\n")
