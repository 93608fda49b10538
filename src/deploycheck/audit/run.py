"""``deploycheck audit``: read a log, find the crash that stopped the service, explain it from the repository,
and build the report (``report.Report``); the CLI renders it."""

from __future__ import annotations

import os
from itertools import chain
from typing import TYPE_CHECKING

from deploycheck.audit import groups, logs, tracebacks
from deploycheck.audit.model import Record
from deploycheck.errors import UsageError

if TYPE_CHECKING:  # imported while the log's search runs (``run``)
    from deploycheck.audit import report


class Options(Record):
    """``log``: a file or ``-``; ``source``: the repository; ``rev``: the deployed revision; ``since``: an
    RFC 3339 time; ``python``: the interpreter of the HEAD check; ``run_rules``: run the rule on HEAD; ``image``: the image the
    service ran (any target ``check`` reads), compared with the repository (``audit.image``), read as ``check``
    reads it with ``app_dir``, ``platform`` and ``tls_verify``."""

    log: str
    source: str | None
    rev: str | None
    since: str | None
    python: str | None
    run_rules: bool
    image: str | None
    app_dir: str | None
    platform: str
    tls_verify: bool | None

    def __init__(self, log: str, source: str | None = None, rev: str | None = None, since: str | None = None,
                 python: str | None = None, run_rules: bool = True, image: str | None = None,
                 app_dir: str | None = None, platform: str = "linux/amd64",
                 tls_verify: bool | None = None) -> None:
        self.log = log
        self.source = source
        self.rev = rev
        self.since = since
        self.python = python
        self.run_rules = run_rules
        self.image = image
        self.app_dir = app_dir
        self.platform = platform
        self.tls_verify = tls_verify

    _fields = ("log", "source", "rev", "since", "python", "run_rules", "image", "app_dir", "platform",
               "tls_verify")


def run(opts: Options) -> report.Report:
    """The report of ``opts.log``. Raises ``UsageError`` for bad input (an unreadable or binary log, a
    ``--source`` that is not a repository, a ``--rev`` it lacks)."""
    if opts.rev is not None and opts.source is None:
        raise UsageError("--rev needs --source (the repository the revision is in)")
    if opts.image is not None and opts.source is None:
        raise UsageError("--image needs --source (the repository its files are compared with)")
    if opts.app_dir is not None and opts.image is None:
        raise UsageError("--app-dir needs --image")
    if opts.source is not None and not os.path.isdir(opts.source):
        raise UsageError(f"--source {opts.source}: not a directory")
    stats = logs.Stats()
    collector = tracebacks.Collector()
    entries = logs.read(opts.log, opts.since, stats, logs.Skip(collector.idle, tracebacks.TRIGGERS, collector.runs))
    # The first entry opens the log and starts its search (ripgrep runs beside this process); the modules
    # that explain and report are imported meanwhile, not before.
    first = next(entries, None)
    from deploycheck.audit import classify, explain, report

    grouping = groups.group(collector.events(entries if first is None else chain((first,), entries)))
    name = "standard input" if opts.log == "-" else opts.log
    if grouping.stopped is None:
        if opts.source is not None:
            from deploycheck.audit import history

            history.check_repository(opts.source)
        return report.build(name, grouping, None, stats)
    kind = classify.classify(grouping.stopped.sample)
    seen = _image_verdict(opts, grouping.stopped.sample) if opts.image is not None else None
    explanation = explain.explain(grouping.stopped, kind, opts.source, opts.rev, opts.python, opts.run_rules,
                                  image=seen)
    return report.build(name, grouping, explanation, stats, seen)


def _image_verdict(opts: Options, tb):
    """The image's verdict on the in-app files of the crash's frames (its whole chain), innermost first."""
    from pathlib import Path

    from deploycheck.audit import image

    frames = [f.path for t in reversed(tb.chain()) for f in reversed(t.frames) if groups.in_app(f)]
    assert opts.image is not None and opts.source is not None
    return image.verdict(opts.image, Path(opts.source), opts.rev, frames, app_dir=opts.app_dir,
                         platform=opts.platform, tls_verify=opts.tls_verify)
