"""Edited file contents seen through the files layer, so the whole check pipeline reads the tree as it would be
after a rewrite, without writing it."""

from __future__ import annotations

import os

from deploycheck.artifact.files import MAX_SOURCE_BYTES, HostFiles


class _Edits(dict):
    """Edited bytes by path; a path that reaches an edited file through a symbolic link finds it too."""

    def __init__(self, edits: dict[str, bytes]) -> None:
        super().__init__(edits)
        self._real = {os.path.realpath(p): data for p, data in edits.items()}

    def get(self, path, default=None):
        data = super().get(path)
        if data is None and self._real:
            data = self._real.get(os.path.realpath(path))
        return default if data is None else data

    def __contains__(self, path) -> bool:
        return self.get(path) is not None


class OverlayFiles(HostFiles):
    """The host's files, except that each path of ``overlay`` (absolute path -> bytes) reads as those bytes,
    also when reached through a symbolic link.

    Only existing files are overlaid (a rewrite adds no file), so directory listings are the host's. Summaries
    and ruff results are cached by content hash, so the new bytes get their own cache entries; ruff is given
    overlaid files on standard input (see ``index/ruff.py``)."""

    def __init__(self, overlay: dict[str, bytes]) -> None:
        super().__init__()
        self.overlay = _Edits(overlay)

    def read_bytes(self, path: str, limit: int = MAX_SOURCE_BYTES) -> bytes:
        data = self.overlay.get(path)
        if data is None:
            return super().read_bytes(path, limit)
        if len(data) > limit:
            raise ValueError(f"file is {len(data)} bytes, over the {limit}-byte limit")
        return data
