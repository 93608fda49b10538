"""An image's final file tree behind the same interface as the host directory reader."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable

from deploycheck import private
from deploycheck.artifact.files import MAX_SOURCE_BYTES
from deploycheck.artifact.image.errors import ImageError
from deploycheck.artifact.image.layers import DEFAULT_MAX_LAYER_BYTES, FileTree
from deploycheck.artifact.image.source import Image

# What a check reads from an image: Python sources, .pth files, distribution metadata, venv configuration.
_KEPT_SUFFIXES = (".py", ".pth", "/METADATA", "/RECORD", "/WHEEL", "/top_level.txt", "/entry_points.txt",
                  "/pyvenv.cfg", "/PKG-INFO", "/installed-files.txt")


_INTERPRETER = re.compile(r"/(bin/python3(\.\d+)?|lib[^/]*/libpython3[^/]*\.so[^/]*)$")
MAX_INTERPRETER_BYTES = 64 * 1024 * 1024


def wanted(path: str) -> bool:
    """Files a check reads: sources and metadata, and the interpreter binaries (scanned for the names of
    their built-in modules)."""
    return path.endswith(_KEPT_SUFFIXES) or bool(_INTERPRETER.search(path))


class ImageFiles:
    """Read-only view of an image's final tree: ``listdir``, ``is_dir``, ``is_file``, ``read_bytes`` by
    absolute image path, symbolic links resolved inside the image root. Call ``close()`` to delete the
    private directory holding the kept contents and to close the image (its archive, its fetched copy)."""

    def __init__(self, image: Image, keep: Callable[[str], bool] = wanted,
                 max_layer_bytes: int = DEFAULT_MAX_LAYER_BYTES,
                 on_bytes: Callable[[int], None] | None = None) -> None:
        self.image = image
        self.workdir = private.make("deploycheck-image-")
        try:
            self.tree = FileTree(self.workdir, max_layer_bytes)
            for i, layer in enumerate(image.layers):
                self.tree.apply_layer(i, lambda layer=layer: image.opener(layer.name), layer.digest, keep,
                                      layer.diff_id, on_bytes)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        private.remove(self.workdir)
        self.image.close()

    def listdir(self, path: str) -> dict[str, bool] | None:
        real = self.tree.resolve(path)
        if real is None or self.tree.entries[real].kind != "dir":
            return None
        out = {}
        for name in self.tree.children.get(real, ()):
            child = self.tree.resolve(posixpath.join(real, name))
            out[name] = child is not None and self.tree.entries[child].kind == "dir"
        return out

    def realpath(self, path: str) -> str:
        """The image path with its links resolved inside the image root (itself when it does not exist)."""
        return self.tree.resolve(path) or posixpath.normpath(path)

    def is_dir(self, path: str) -> bool:
        real = self.tree.resolve(path)
        return real is not None and self.tree.entries[real].kind == "dir"

    def is_file(self, path: str) -> bool:
        real = self.tree.resolve(path)
        return real is not None and self.tree.entries[real].kind in ("file", "hardlink")

    def read_bytes(self, path: str, limit: int = MAX_SOURCE_BYTES) -> bytes:
        """Contents of a kept file. Raises OSError when absent, ValueError when not kept or too large."""
        real = self.tree.resolve(path)
        seen = 0
        while real is not None and self.tree.entries[real].kind == "hardlink":
            seen += 1
            if seen > 40:
                raise ImageError(f"hard link loop at {path} in the image")
            real = self.tree.resolve(self.tree.entries[real].target)
        if real is None:
            raise FileNotFoundError(path)
        entry = self.tree.entries[real]
        if entry.kind != "file":
            raise ValueError("not a regular file")
        if entry.size > limit:
            raise ValueError(f"file is {entry.size} bytes, over the {limit}-byte limit")
        if entry.blob is None:
            raise ValueError("contents not extracted from the image")
        with open(entry.blob, "rb") as f:
            return f.read(limit + 1)
