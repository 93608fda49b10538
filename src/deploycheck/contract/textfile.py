"""Reading an input file (dotenv, manifest) as text, with the checks that make bad input a clear message."""

from __future__ import annotations

import os

from deploycheck.errors import UsageError

MAX_INPUT_BYTES = 8 * 1024 * 1024


def read_text(path: str, what: str) -> str:
    """The file's text (UTF-8, a BOM allowed). Raises ``UsageError`` when it is missing, not a regular file,
    too large, binary (holds NUL bytes) or not UTF-8."""
    if not os.path.exists(path):
        raise UsageError(f"{what} {path}: no such file")
    if not os.path.isfile(path):
        raise UsageError(f"{what} {path}: not a regular file")
    try:
        size = os.path.getsize(path)
        if size > MAX_INPUT_BYTES:
            raise UsageError(f"{what} {path}: too large ({size} bytes; at most {MAX_INPUT_BYTES})")
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise UsageError(f"{what} {path}: cannot read: {exc.strerror}") from None
    if b"\0" in data:
        raise UsageError(f"{what} {path}: a binary file, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{what} {path}: not UTF-8 text (byte {exc.start})") from None
