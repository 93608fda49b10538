"""How paths are shown: relative to the working directory when inside it, else as they are."""

from __future__ import annotations

import os


def display(path: str | None) -> str:
    if not path:
        return "<built-in>"
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel
