"""Reading a file of an unpacked root filesystem as a process chrooted there would: symbolic links are
resolved inside the root (an absolute target starts at the root, ``..`` stops there), never on the host."""

from __future__ import annotations

import os
import posixpath

MAX_LINK_HOPS = 40  # as Linux (ELOOP)
MAX_BYTES = 4 * 1024 * 1024


def resolve(root: str, path: str) -> str | None:
    """The host path of image path ``path`` under ``root`` with every link resolved inside ``root``; None
    when something on the way is missing or the links loop."""
    todo = [p for p in reversed(path.split("/")) if p]
    names: list[str] = []
    hops = 0
    while todo:
        part = todo.pop()
        if part in ("", "."):
            continue
        if part == "..":
            if names:
                names.pop()
            continue
        here = os.path.join(root, *names, part)
        try:
            target = os.readlink(here)
        except FileNotFoundError:
            return None
        except OSError:  # not a link
            if not os.path.lexists(here):
                return None
            names.append(part)
            continue
        hops += 1
        if hops > MAX_LINK_HOPS:
            return None
        if target.startswith("/"):
            names = []
        todo.extend(p for p in reversed(target.split("/")) if p)
    return os.path.join(root, *names)


def read_text(root: str, path: str) -> str | None:
    """The text of image file ``path`` (at most MAX_BYTES), or None when it is missing or not a file."""
    real = resolve(root, path)
    if real is None or not os.path.isfile(real):
        return None
    with open(real, "rb") as f:
        return f.read(MAX_BYTES).decode("utf-8", "replace")


def is_file(root: str, path: str) -> bool:
    """Whether image path ``path`` is a regular file (links resolved inside the root)."""
    real = resolve(root, posixpath.normpath(path))
    return real is not None and os.path.isfile(real)
