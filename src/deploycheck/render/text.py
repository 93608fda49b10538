"""Text output in the style of ruff and rustc: location, code, message, the source line with a caret, the
import chain from an entry, and a summary line. Colour only on a terminal (rich decides; ``NO_COLOR`` turns it
off). Every control character of the input is shown escaped (``render.escape``)."""

from __future__ import annotations

import re
import sys

from rich.text import Text

from deploycheck.artifact.files import source_lines
from deploycheck.check import Result
from deploycheck.contract.scrub import scrub
from deploycheck.findings.finding import ERROR, Finding
from deploycheck.render.escape import console as escaping_console
from deploycheck.render.escape import escape
from deploycheck.render.paths import display


def _source_line(path: str, line: int, files=None, boundary=None, origin: str = "project") -> str | None:
    lines = source_lines(path, files, boundary, origin)
    return lines[line - 1] if 0 < line <= len(lines) else None


# How the text output says when a statement runs (``Finding.when``).
WHEN = {"import": "at import", "startup": "at start-up", "request": "at first request", "call": "when called"}


def chain_text(f: Finding) -> str:
    """``a (a.py:3) → b (b.py:7) → c``; a hop a framework makes adds its step: ``settings (settings.py:33) →
    django.setup(): INSTALLED_APPS → shop``."""
    parts = []
    for h in f.chain:
        parts.append(f"{h.module} ({display(h.path)}:{h.line})" if h.line else h.module)
        if h.step:
            parts.append(h.step)
    return " → ".join(parts + [f.module])


def image_line(image: dict) -> str:
    """Which image and manifest were read: ``image docker://REF: manifest sha256:… (linux/amd64)``; for the
    docker-archive form (``docker save``, the Docker daemon), which has no manifest digest, the config named
    by its ``manifest.json``."""
    t, ref = image["transport"], image["reference"]
    shown = f"docker://{ref}" if t == "docker" else f"{t}:{ref}"
    read = image["manifest"]
    what = f"manifest {read}" if read.startswith(("sha256:", "sha512:")) else f"manifest.json with config {read}"
    return f"image {shown}: {what} ({image['platform']})"


def _redacted(src: str, column: int, width: int) -> tuple[str, int]:
    """``src`` with its secrets masked (``contract.scrub``) and where the ``width`` characters at ``column``
    now start: the occurrence of that text nearest to where the masked prefix ends (masking changes lengths)."""
    clean = scrub(src)
    if clean == src:
        return src, column
    symbol, near = src[column:column + width], len(scrub(src[:column]))
    spots = [m.start() for m in re.finditer(re.escape(symbol), clean)] if symbol else []
    return clean, min(spots, key=lambda i: abs(i - near)) if spots else min(near, len(clean))


def _line(*pieces: str | tuple[str, str]) -> Text:
    """One output line from pieces of text (``text`` or ``(text, style)``), each escaped: any piece may hold a
    name, path or message from the input."""
    return Text.assemble(*((escape(p), "") if isinstance(p, str) else (escape(p[0]), p[1]) for p in pieces))


def render(result: Result, stream=None, color: bool | None = None) -> None:
    # a source line may hold a credential (a database URL beside the name a finding is about)
    console = escaping_console(stream or sys.stdout, color, scrub)
    for f in result.findings:
        # line 0: a finding about a file or the image config as a whole, with no line to point at
        where = f"{display(f.path)}:{f.line}:{f.column + 1}: " if f.line else f"{display(f.path)}: "
        when = WHEN.get(f.when, f.when)
        red = f.severity == ERROR
        console.print(_line((where, "bold"), (f.code + " ", "bold red" if red else "bold yellow"),
                            (f"[{f.severity}, {when}] ", "red" if red else "yellow"), f.message))
        # never a line of a file outside the project (target.boundary)
        boundary = result.project.boundary
        src = _source_line(f.path, f.line, result.reader, boundary, f.origin) if f.line else None
        if src is not None:
            gutter = " " * len(str(f.line))
            src = src.expandtabs(1)
            width = max(min(len(f.symbol), len(src) - f.column), 1)  # never past the line's end
            src, column = _redacted(src, f.column, width)
            # the caret is placed in the line as shown, where a control character takes its escape's width
            shown_column = len(escape(src[:column]))
            shown_width = max(len(escape(src[column:column + width])), 1)
            console.print(_line((f"{gutter} |", "blue")))
            console.print(_line((f"{f.line} | ", "blue"), src))
            console.print(_line((f"{gutter} | ", "blue"), (" " * shown_column + "^" * shown_width, "red")))
        if f.chain:
            console.print(_line((f"  = imported via: {chain_text(f)}", "dim")))
        if f.distribution:
            console.print(_line((f"  = in distribution: {f.distribution[0]} {f.distribution[1]}", "dim")))
        console.print()
    if result.image:
        console.print(_line((image_line(result.image), "dim")))
        for note in result.image.get("notes", []):
            console.print(_line((f"  note: {note}", "dim")))
    for note in result.notes:  # what was checked another way, or not at all, and why
        console.print(_line((f"note: {note}", "dim")))
    interp = result.interp
    cached = result.files - result.parsed - result.unreadable
    entries = result.entries
    shown = ", ".join(entries[:3]) + (f" and {len(entries) - 3} more" if len(entries) > 3 else "")
    counts = f"{_count(result.errors, 'error')}, {_count(result.warnings, 'warning')}"
    console.print(_line(
        (counts, "bold red" if result.errors else "bold green"),
        f" in {_count(result.modules, 'module')} of the import closure of {shown}"
        f" ({_count(result.files, 'file')}"
        f"{f', {cached} from cache' if cached else ''}"
        f"{f', {result.unreadable} unreadable' if result.unreadable else ''})"
        f" · Python {interp.version_text} ({interp.executable}) · {result.seconds:.2f} s",
    ))


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' * (n != 1)}"
