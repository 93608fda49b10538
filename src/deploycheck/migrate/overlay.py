"""Edited file contents seen through the files layer, so the whole check pipeline reads the tree as it would be
after a rewrite, without writing it."""

from __future__ import annotations

from deploycheck.artifact.files import MAX_SOURCE_BYTES, HostFiles


class OverlayFiles(HostFiles):
    """The host's files, except that each path of ``overlay`` (absolute path -> bytes) reads as those bytes.

    Only existing files are overlaid (a rewrite adds no file), so directory listings are the host's. Summaries
    and ruff results are cached by content hash, so the new bytes get their own cache entries; ruff is given
    overlaid files on standard input (see ``index/ruff.py``)."""

    def __init__(self, overlay: dict[str, bytes]) -> None:
        super().__init__()
        self.overlay = overlay

    def read_bytes(self, path: str, limit: int = MAX_SOURCE_BYTES) -> bytes:
        data = self.overlay.get(path)
        if data is None:
            return super().read_bytes(path, limit)
        if len(data) > limit:
            raise ValueError(f"file is {len(data)} bytes, over the {limit}-byte limit")
        return data
