"""The output options every command that reports findings shares (``check``, ``config``, ``migrate
status``, ``start``): ``--format``, ``--output-file``, ``--baseline``, ``--write-baseline``, ``--exit-zero`` and
``--fail-on``, and the exit code they decide.

Formats: ``text`` and ``json`` (each command's own), ``json-lines``, ``sarif`` (SARIF 2.1.0), ``junit``
(JUnit XML), ``github`` (GitHub Actions workflow commands) and ``gitlab`` (GitLab Code Quality). With
``--output-file`` the format goes to the file and the text output still goes to standard output, so a CI
log shows what was found. The baseline lines (findings known, entries stale) go with the text: to standard
output when it holds the text, else to standard error.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from deploycheck.errors import UsageError

if TYPE_CHECKING:  # the findings' modules load the index: imported when findings are emitted, not for parsing
    from deploycheck.findings.finding import Finding
    from deploycheck.findings.located import Placer
    from deploycheck.findings.report import Report

FORMATS = ["text", "json", "json-lines", "sarif", "junit", "github", "gitlab"]


def add_options(parser, fail_on_default: str | None = "error") -> None:
    """Add the output options to an ``argparse`` parser."""
    parser.add_argument("--format", choices=FORMATS, default="text",
                        help="output format (default text; see README: In CI)")
    parser.add_argument("--output-file", metavar="FILE",
                        help="write the format to FILE; the text output still goes to standard output")
    parser.add_argument("--baseline", metavar="FILE",
                        help="report only findings not recorded in FILE (matched by fingerprint)")
    parser.add_argument("--write-baseline", metavar="FILE",
                        help="record the current findings in FILE (exit 0 unless the input is bad)")
    parser.add_argument("--exit-zero", action="store_true", help="exit 0 even when findings are reported")
    parser.add_argument("--fail-on", choices=["error", "warning"], default=fail_on_default,
                        help="exit 1 for findings of this severity or worse (default: "
                             f"{fail_on_default or 'never'})")


@dataclass
class Renderers:
    """The command's own renderers: ``text(stream, color)`` and ``json(stream)``, each writing the
    command's result (whose findings the baseline may have narrowed)."""

    text: Callable
    json: Callable


def _renderer(fmt: str) -> Callable:
    # imported on demand: a text run loads no XML or SARIF code
    if fmt == "sarif":
        from deploycheck.render import sarif as mod
    elif fmt == "junit":
        from deploycheck.render import junit as mod
    elif fmt == "github":
        from deploycheck.render import github as mod
    elif fmt == "gitlab":
        from deploycheck.render import gitlab as mod
    else:
        from deploycheck.render import jsonlines as mod
    return mod.render


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' * (n != 1)}"


def emit(args, command: str, root: str, findings: list[Finding], placer: Placer, renderers: Renderers,
         suppressed: list[tuple[Finding, str, str]] = ()) -> int:
    """Place ``findings`` (the command's result list, narrowed in place to the findings reported), apply the
    baseline options, write the chosen format and return the exit code: 0, or 1 when a finding of
    ``--fail-on`` severity or worse is reported and ``--exit-zero`` is not given. Raises ``UsageError`` for
    a baseline or output file that cannot be read or written."""
    from deploycheck.findings import baseline
    from deploycheck.findings.located import place_all
    from deploycheck.findings.report import Report

    shown, hidden = place_all(placer, findings, suppressed)
    lines: list[str] = []
    if args.write_baseline:
        n = baseline.write(args.write_baseline, shown)
        lines.append(f"baseline {args.write_baseline}: {_count(n, 'finding')} recorded")
    stale: list[baseline.Entry] = []
    if args.baseline:
        split = baseline.split(shown, baseline.read(args.baseline))
        for item in split.known:
            item.suppression, item.justification = "external", f"in the baseline {args.baseline}"
        shown, hidden, stale = split.new, hidden + split.known, split.stale
        lines.append(f"baseline {args.baseline}: {_count(len(split.known), 'known finding')} not reported, "
                     f"{_count(len(split.new), 'new finding')}")
        if stale:
            lines.append(f"baseline {args.baseline}: {_count(len(stale), 'entry')} stale (fixed since; "
                         "--write-baseline drops them):")
            lines += [f"  {e.code} {e.path} {e.symbol}".rstrip() for e in stale]
    keep = {id(i.finding) for i in shown}
    findings[:] = [f for f in findings if id(f) in keep]
    report = Report(command, root, shown, hidden, stale)
    fmt = args.format
    text_on_stdout = fmt == "text" or args.output_file is not None
    if args.output_file is not None:
        _to_file(args.output_file, fmt, report, renderers)
        renderers.text(sys.stdout, None)
    elif fmt == "text":
        renderers.text(sys.stdout, None)
    elif fmt == "json":
        renderers.json(sys.stdout)
    else:
        _renderer(fmt)(report, sys.stdout)
    from deploycheck.contract.scrub import scrub

    for line in lines:  # paths and codes from the baseline file: escaped by stderr, or here for stdout
        if text_on_stdout:
            from deploycheck.render.escape import escape

            sys.stdout.write(escape(scrub(line)) + "\n")
        else:
            sys.stderr.write(scrub(line) + "\n")
    if args.exit_zero or args.write_baseline:
        return 0
    if args.fail_on == "warning":
        return 1 if report.reported else 0
    if args.fail_on == "error":
        return 1 if report.errors else 0
    return 0


def _to_file(path: str, fmt: str, report: Report, renderers: Renderers) -> None:
    if os.path.isdir(path):
        raise UsageError(f"--output-file {path}: is a directory")
    try:
        # non-blocking open: a FIFO nobody reads is an error (ENXIO), not a hang; then writes block as usual
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NONBLOCK, 0o666)
        os.set_blocking(fd, True)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
            if fmt == "text":
                renderers.text(out, False)
            elif fmt == "json":
                renderers.json(out)
            else:
                _renderer(fmt)(report, out)
    except OSError as exc:
        raise UsageError(f"--output-file {path}: cannot write it ({exc.strerror or exc})") from None



def repository_root(path: str) -> str:
    """The root of the git repository holding the directory ``path`` (the nearest directory up from it with
    a ``.git`` entry, a directory or a worktree's file), else ``path`` itself: CI annotations name files
    relative to the repository, also when the project is a directory of it (a monorepo)."""
    here = os.path.abspath(path)
    while True:
        if os.path.lexists(os.path.join(here, ".git")):
            return here
        parent = os.path.dirname(here)
        if parent == here:
            return os.path.abspath(path)
        here = parent


def image_to_repository(mapping, root: str) -> Callable[[str], str | None]:
    """``to_repository`` for an image target: the POSIX path relative to ``root`` of the repository file an
    image path was copied from, by the build's map (``target.copymap.CopyMap``, None when unknown: no
    path is mapped)."""

    def to_repository(path: str) -> str | None:
        rel = mapping.source_path(path) if mapping is not None else None
        if rel is None:
            return None
        return os.path.relpath(os.path.join(mapping.context, rel), root).replace(os.sep, "/")

    return to_repository


def source_line(files=None) -> Callable[[str, int], str]:
    """``line_of(path, line)`` for a ``Placer``: the line of a Python source file read through ``files``
    (the host's by default); '' for any other file (a dotenv or manifest line may hold a value)."""
    from deploycheck.artifact.files import source_lines

    def line_of(path: str, line: int) -> str:
        if not path.endswith(".py"):
            return ""
        lines = source_lines(path, files)
        return lines[line - 1] if 0 < line <= len(lines) else ""

    return line_of
