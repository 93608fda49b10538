"""Text output in the style of ruff and rustc: location, code, message, the source line with a caret, the
import chain from an entry, and a summary line. Colour only on a terminal (rich decides)."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.text import Text

from deploycheck.artifact.files import source_lines
from deploycheck.check import Result
from deploycheck.findings.finding import ERROR, Finding
from deploycheck.render.paths import display


def _source_line(path: str, line: int, files=None, boundary=None, origin: str = "project") -> str | None:
    lines = source_lines(path, files, boundary, origin)
    return lines[line - 1] if 0 < line <= len(lines) else None


def chain_text(f: Finding) -> str:
    hops = [f"{h.module} ({display(h.path)}:{h.line})" for h in f.chain]
    return " → ".join(hops + [f.module])


def image_line(image: dict) -> str:
    """Which image and manifest were read: ``image docker://REF: manifest sha256:… (linux/amd64)``; for the
    docker-archive form (``docker save``, the Docker daemon), which has no manifest digest, the config named
    by its ``manifest.json``."""
    t, ref = image["transport"], image["reference"]
    shown = f"docker://{ref}" if t == "docker" else f"{t}:{ref}"
    read = image["manifest"]
    what = f"manifest {read}" if read.startswith(("sha256:", "sha512:")) else f"manifest.json with config {read}"
    return f"image {shown}: {what} ({image['platform']})"


def render(result: Result, stream=None, color: bool | None = None) -> None:
    console = Console(file=stream or sys.stdout, highlight=False, soft_wrap=True,
                      force_terminal=color, no_color=color is False)
    for f in result.findings:
        head = Text()
        # line 0: a finding about a file or the image config as a whole, with no line to point at
        where = f"{display(f.path)}:{f.line}:{f.column + 1}: " if f.line else f"{display(f.path)}: "
        head.append(where, style="bold")
        head.append(f.code + " ", style="bold red" if f.severity == ERROR else "bold yellow")
        when = "at import" if f.when == "import" else "when called"
        head.append(f"[{f.severity}, {when}] ", style="red" if f.severity == ERROR else "yellow")
        head.append(f.message)
        console.print(head)
        # never a line of a file outside the project (target.boundary)
        boundary = result.project.boundary
        src = _source_line(f.path, f.line, result.reader, boundary, f.origin) if f.line else None
        if src is not None:
            gutter = " " * len(str(f.line))
            width = max(min(len(f.symbol), len(src.expandtabs(1)) - f.column), 1)  # never past the line's end
            console.print(Text(f"{gutter} |", style="blue"))
            console.print(Text(f"{f.line} | ", style="blue") + Text(src.expandtabs(1)))
            console.print(Text(f"{gutter} | ", style="blue") + Text(" " * f.column + "^" * width, style="red"))
        if f.chain:
            console.print(Text(f"  = imported via: {chain_text(f)}", style="dim"))
        if f.distribution:
            console.print(Text(f"  = in distribution: {f.distribution[0]} {f.distribution[1]}", style="dim"))
        console.print()
    if result.image:
        console.print(Text(image_line(result.image), style="dim"))
        for note in result.image.get("notes", []):
            console.print(Text(f"  note: {note}", style="dim"))
    interp = result.interp
    summary = Text()
    status = "error" if result.errors else "ok"
    summary.append(
        f"{result.errors} error{'s' * (result.errors != 1)}, {result.warnings} warning{'s' * (result.warnings != 1)}",
        style="bold red" if status == "error" else "bold green",
    )
    cached = result.files - result.parsed - result.unreadable
    entries = result.entries
    shown = ", ".join(entries[:3]) + (f" and {len(entries) - 3} more" if len(entries) > 3 else "")
    summary.append(
        f" in {_count(result.modules, 'module')} of the import closure of {shown} ({_count(result.files, 'file')}"
        f"{f', {cached} from cache' if cached else ''}"
        f"{f', {result.unreadable} unreadable' if result.unreadable else ''}) · Python {interp.version_text} ({interp.executable})"
        f" · {result.seconds:.2f} s"
    )
    console.print(summary)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' * (n != 1)}"
