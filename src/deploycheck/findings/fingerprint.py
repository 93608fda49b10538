"""Fingerprints: a finding's identity that survives unrelated edits, for baselines, SARIF
``partialFingerprints`` and GitLab Code Quality ``fingerprint``.

A fingerprint hashes the rule code, the file's path relative to the repository root, the symbol, the module
and the text of the finding's line with its white space collapsed, never the line number: inserting lines
above a finding keeps it, renaming its file or editing its line does not. Findings that would share a
fingerprint (the same call twice in one file) are told apart by their order in the file, which an edit
elsewhere does not change; GitLab drops all but one of findings whose fingerprints collide.
"""

from __future__ import annotations

import hashlib

# Bumped when the inputs change: a baseline written with another version matches nothing, and says so.
VERSION = 1


def normalized(line: str) -> str:
    """``line`` with leading and trailing white space removed and every run of white space made one space:
    re-indenting a block keeps its findings."""
    return " ".join(line.split())


def base(code: str, path: str, symbol: str, module: str, line_text: str) -> str:
    """The fingerprint of one finding before duplicates are told apart: 32 hexadecimal digits of the SHA-256
    of its parts (``path`` POSIX, relative to the repository root when the file is in it)."""
    parts = [f"v{VERSION}", code, path, symbol, module, normalized(line_text)]
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:32]


def unique(bases: list[str]) -> list[str]:
    """One fingerprint per finding, all different: the first finding with a given base keeps it, the n-th
    (n >= 2, in the order given, which is the order in the file) gets the hash of the base and n."""
    seen: dict[str, int] = {}
    out = []
    for b in bases:
        n = seen.get(b, 0) + 1
        seen[b] = n
        out.append(b if n == 1 else hashlib.sha256(f"{b}:{n}".encode()).hexdigest()[:32])
    return out
