"""Baselines: the findings a repository already has, recorded so that a gate reports only new ones.

The file is JSON, small and sorted so that its diff reviews well::

    {"version": 1, "findings": [{"code": "DC102", "path": "app/x.py", "symbol": "Y", "fingerprint": "…"}]}

Findings match entries by fingerprint only (``findings.fingerprint``): a finding moved by lines inserted
above it still matches; one whose file was renamed or whose line was edited does not. An entry no finding
matches any more is stale (fixed since): the summary says so, and writing the baseline again drops it.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass

from deploycheck.errors import UsageError
from deploycheck.findings.fingerprint import VERSION
from deploycheck.findings.located import Located
from deploycheck.replace import replace_text

MAX_BYTES = 64 << 20  # a baseline larger than this is not one deploycheck wrote


@dataclass(frozen=True)
class Entry:
    """One recorded finding: its rule code, repository path (POSIX), symbol and fingerprint."""

    code: str
    path: str
    symbol: str
    fingerprint: str


def entry(item: Located) -> Entry:
    """The baseline entry of a placed finding. A finding about an image as a whole has the path ``<image>``:
    the image's name or archive path is the run's, not the repository's."""
    path = "<image>" if item.location.whole else item.location.uri
    return Entry(item.finding.code, path, item.finding.symbol, item.fingerprint)


def read(path: str) -> list[Entry]:
    """The entries of the baseline file ``path``. Raises ``UsageError`` (one line) for a file that cannot be
    read, is too large, is not this JSON shape, or was written with another fingerprint version."""
    try:
        # non-blocking open, then only a regular file is read: a FIFO named as the baseline must not hang
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise UsageError(f"--baseline {path}: not a regular file")
            data = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"--baseline {path}: cannot read it ({exc.strerror or exc})") from None
    if len(data) > MAX_BYTES:
        raise UsageError(f"--baseline {path}: larger than {MAX_BYTES >> 20} MiB, not a deploycheck baseline")
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise UsageError(f"--baseline {path}: not JSON ({str(exc).splitlines()[0]})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("findings"), list):
        raise UsageError(f"--baseline {path}: not a deploycheck baseline (no \"findings\" list)")
    if doc.get("version") != VERSION:
        raise UsageError(f"--baseline {path}: written with fingerprint version {doc.get('version')!r}, this "
                         f"deploycheck uses {VERSION}: write it again with --write-baseline")
    out = []
    for e in doc["findings"]:
        if not isinstance(e, dict) or not all(isinstance(e.get(k), str) for k in
                                               ("code", "path", "symbol", "fingerprint")):
            raise UsageError(f"--baseline {path}: an entry is not {{code, path, symbol, fingerprint}} strings")
        out.append(Entry(e["code"], e["path"], e["symbol"], e["fingerprint"]))
    return out


def write(path: str, items: list[Located]) -> int:
    """Write the baseline of ``items`` to ``path`` (replaced whole, never left half written); returns the
    number of entries. Raises ``UsageError`` when it cannot be written."""
    entries = sorted({entry(i) for i in items}, key=lambda e: (e.path, e.code, e.symbol, e.fingerprint))
    doc = {"version": VERSION, "findings": [e.__dict__ for e in entries]}
    text = json.dumps(doc, indent=1, ensure_ascii=True) + "\n"
    try:
        replace_text(path, text, ".deploycheck-baseline.")
    except OSError as exc:
        raise UsageError(f"--write-baseline {path}: cannot write it ({exc.strerror or exc})") from None
    return len(entries)


@dataclass
class Split:
    """Findings split by a baseline: ``new`` are reported, ``known`` are in the baseline, ``stale`` are the
    entries nothing matched."""

    new: list[Located]
    known: list[Located]
    stale: list[Entry]


def split(items: list[Located], entries: list[Entry]) -> Split:
    """Match ``items`` to ``entries`` by fingerprint."""
    recorded = {e.fingerprint for e in entries}
    found = {i.fingerprint for i in items}
    return Split([i for i in items if i.fingerprint not in recorded], [i for i in items if i.fingerprint in recorded],
                 [e for e in entries if e.fingerprint not in found])
