"""An image's final file tree behind the same interface as the host directory reader."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable

from deploycheck import private
from deploycheck.artifact.files import MAX_SOURCE_BYTES
from deploycheck.artifact.image.layers import EMPTY, FileTree, Node
from deploycheck.artifact.image.limits import Limits
from deploycheck.artifact.image.source import Image

# What a check reads from an image: Python sources, .pth files, distribution metadata, venv configuration.
_KEPT_SUFFIXES = (".py", ".pth", "/METADATA", "/RECORD", "/WHEEL", "/top_level.txt", "/entry_points.txt",
                  "/pyvenv.cfg", "/PKG-INFO", "/installed-files.txt")


_INTERPRETER = re.compile(r"/(bin/python3(\.\d+)?|lib[^/]*/libpython3[^/]*\.so[^/]*)$")
MAX_INTERPRETER_BYTES = 64 * 1024 * 1024


def wanted(path: str) -> bool:
    """Files a check reads: sources and metadata, and the interpreter binaries (scanned for the names of
    their built-in modules)."""
    return path.endswith(_KEPT_SUFFIXES) or bool(_INTERPRETER.search(path[-2 * 256:]))  # two components


class ImageFiles:
    """Read-only view of an image's final tree: ``listdir``, ``is_dir``, ``is_file``, ``read_bytes`` by
    absolute image path, symbolic links resolved inside the image root. Call ``close()`` to delete the
    private directory holding the kept contents and to close the image (its archive, its fetched copy).

    ``limits`` bound the reading (``limits.Limits``; from the environment when None). Raises ImageError for
    a malicious, broken or oversized image; nothing is left behind then, whatever is raised."""

    def __init__(self, image: Image, keep: Callable[[str], bool] = wanted, limits: Limits | None = None,
                 on_bytes: Callable[[int], None] | None = None) -> None:
        self.image = image
        self.workdir = private.make("deploycheck-image-")
        try:
            self.tree = FileTree(self.workdir, limits)
            for i, layer in enumerate(image.layers):
                self.tree.apply_layer(i, lambda layer=layer: image.opener(layer.name), layer.digest, keep,
                                      layer.diff_id, on_bytes, layer.size)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        private.remove(self.workdir)
        self.image.close()

    def _node(self, path: str) -> Node | None:
        found = self.tree.find(path)
        return found[1] if found is not None else None

    def listdir(self, path: str) -> dict[str, bool] | None:
        found = self.tree.find(path)
        if found is None or found[1].kind != "dir":
            return None
        real, node = found
        out = {}
        for name, child in node.children.items():
            if child.kind == "symlink":
                child = self._node(posixpath.join(real, name))
            out[name] = child is not None and child.kind == "dir"
        return out

    def realpath(self, path: str) -> str:
        """The image path with its links resolved inside the image root (itself when it does not exist)."""
        return self.tree.resolve(path) or posixpath.normpath(path)

    def is_dir(self, path: str) -> bool:
        node = self._node(path)
        return node is not None and node.kind == "dir"

    def is_file(self, path: str) -> bool:
        node = self._node(path)
        return node is not None and node.kind == "file"

    def read_bytes(self, path: str, limit: int = MAX_SOURCE_BYTES) -> bytes:
        """Contents of a kept file. Raises OSError when absent, ValueError when not kept or too large."""
        node = self._node(path)
        if node is None:
            raise FileNotFoundError(path)
        if node.kind != "file":
            raise ValueError("not a regular file")
        if node.size > limit:
            raise ValueError(f"file is {node.size} bytes, over the {limit}-byte limit")
        if node.blob is None:
            raise ValueError("contents not extracted from the image")
        if node.blob == EMPTY:
            return b""
        with open(self.tree.blob_path(node.blob), "rb") as f:
            return f.read(limit + 1)
