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


def mount_point(root: str, path: str) -> str | None:
    """The image path a volume at ``path`` is mounted on, as a container runtime places it (links resolved
    inside the root, as moby's ``FollowSymlinkInScope``), its missing directories made under ``root`` as
    the runtime makes them; None when something on the way is not a directory or the links loop."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    done: list[str] = []  # image path of the part resolved so far
    for i, part in enumerate(parts):
        found = resolve(root, "/".join([*done, part]))
        if found is None:
            here = os.path.join(root, *done, part)
            if os.path.lexists(here):
                return None  # a link whose target is missing, or one that loops
            try:
                os.mkdir(here, 0o755)
            except FileExistsError:
                pass  # made meanwhile by another start of the same tree
            except OSError:
                return None
            found = here
        if not os.path.isdir(found):
            return None
        done = [p for p in os.path.relpath(found, root).split("/") if p not in ("", ".")]
    return "/" + "/".join(done)
