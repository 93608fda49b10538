"""The edge of the project: which files outside it are read, and the rule that none of their text is shown.

The project is the directory checked (for an image, the repository given with ``--source``). Its files come
from whoever wrote the repository, and they can point anywhere on the machine that checks it: a module
``app.py`` that is a link to ``~/.aws/credentials``, ``-r /etc/shadow`` in a requirements file, a
``.gitignore`` linked to ``/dev/zero``. A file is *outside* the project when its real path (links resolved)
is not under the project's real path. What is read follows the tool that really reads each input:

- Code (modules and packages) is followed wherever a link leads, as Python imports it: monorepos link
  shared packages into a service. It is analyzed.
- Requirements files and their ``-r`` includes are followed, as pip follows them: monorepos share a base
  file (``-r ../../requirements/base.txt``).
- ``.gitignore`` is never read through a link, as git (since 2.32) opens in-tree ``.gitignore`` files
  without following links: a linked one counts as absent.
- ``pyproject.toml``, the build file found in the repository and its ignore file are the project's own
  settings: one that leads outside is refused (exit 2). Their values reach many messages (the interpreter,
  entries, roots, copy lines, ignore patterns), so they are read only from the project.

And one rule for everything: **no text of a file outside the project is ever shown.** A finding located in
such a file keeps its code, severity and location; its message says the text is withheld, and no source line
is printed under it (``Boundary.shows``). A message about such a file names it as the project names it (the
link, the ``-r`` path) and the line, never its content.

Every read goes through ``deploycheck.inputs`` (regular files only, opened without blocking, bounded), and
whether a file is outside is decided on the file that was opened (its device and inode), so a link swapped
between the check and the read cannot lead elsewhere.
"""

from __future__ import annotations

import os
import stat

from deploycheck.errors import UsageError
from deploycheck.inputs import NotRegularFile, TooLarge, open_regular

# Bounds on the project's own text files, in bytes. Real ones are far smaller: a pyproject.toml with 20,000
# dependencies is 0.4 MiB, a .gitignore of every template GitHub ships under 100 KiB.
MAX_SETTINGS_BYTES = 1024 * 1024  # pyproject.toml: tomllib takes up to 90 times a file's size and 2 s per MiB
MAX_REQUIREMENTS_BYTES = 4 * 1024 * 1024  # each requirements file
MAX_IGNORE_BYTES = 1024 * 1024  # .gitignore, .dockerignore, .containerignore

WITHHELD = "the file is outside the project, so its text is not shown"


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


class Boundary:
    """The project directory ``root`` (any spelling; compared by real path) and what lies outside it."""

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)
        self.real_root = os.path.realpath(root)
        # Directories the project's own code puts on ``sys.path`` (``sys.path.insert(0, "/abs/dir")``,
        # ``site.addsitedir``): the project names them, so what is found there is its business too.
        self.named_dirs: list[str] = []

    def outside(self, path: str) -> bool:
        """Whether ``path``, links resolved, lies outside the project."""
        return not _under(os.path.realpath(path), self.real_root)

    def shows(self, path: str) -> bool:
        """Whether text of ``path`` may be shown: it lies inside the project."""
        return not self.outside(path)

    def governs(self, path: str, origin: str = "project") -> bool:
        """Whether the text of ``path`` is the project's business: a file the project names (a project
        module, a declaration, an include: ``origin`` "project"), or any file reached through a path inside
        the project. The environment's own files, named outside the project (the interpreter's standard
        library and site-packages), are not: their text is shown. Files in a directory the project's code
        adds to ``sys.path`` (``named_dirs``) are named by the project."""
        return origin == "project" or self.named_inside(path) or any(
            _under(os.path.abspath(path), d) for d in self.named_dirs)

    def named_inside(self, path: str) -> bool:
        """Whether ``path`` as spelled (links not resolved) lies inside the project."""
        path = os.path.abspath(path)
        return _under(path, self.root) or _under(path, self.real_root)

    def withholds(self, path: str, origin: str = "project") -> bool:
        """Whether no text of ``path`` may be shown: the project governs it and it lies outside. Names that
        are not file paths (``<image config: Labels>``) are not files of the project."""
        return os.path.isabs(path) and self.governs(path, origin) and self.outside(path)

    def read(self, path: str, limit: int, shown: str, follow: bool = True) -> tuple[bytes, bool] | None:
        """The bytes of the project file ``path`` and whether the file read lies outside the project; None
        when there is no such file (or, with ``follow=False``, when it is a symbolic link: git's rule for
        ``.gitignore``). ``limit`` is the bound in bytes; ``shown`` how messages name the file.

        Raises ``UsageError`` (naming ``shown``, never the content) for anything but a regular file, a file
        over ``limit``, or one that cannot be read.
        """
        try:
            return self._read(path, limit, follow)
        except FileNotFoundError:
            return None  # missing, or a dangling link
        except NotRegularFile:
            raise UsageError(f"{shown}: not a regular file") from None
        except TooLarge as exc:
            raise UsageError(f"{shown}: {exc.size} bytes, over the {limit}-byte limit for it") from None
        except OSError as exc:
            raise UsageError(f"cannot read {shown}: {exc.strerror or exc}") from None

    def text(self, path: str, limit: int) -> bytes | None:
        """The bytes of ``path`` when they may be shown (a readable regular file inside the project, within
        ``limit``), else None."""
        try:
            got = self._read(path, limit, True)
        except (OSError, ValueError):
            return None
        return None if got is None or got[1] else got[0]

    def _read(self, path: str, limit: int, follow: bool) -> tuple[bytes, bool] | None:
        before = os.lstat(path)
        if not follow and stat.S_ISLNK(before.st_mode):
            return None
        with open_regular(path, limit) as f:
            opened = os.fstat(f.fileno())
            data = f.read(limit + 1)
        if len(data) > limit:
            raise TooLarge(len(data), limit)
        if not follow and (opened.st_dev, opened.st_ino) != (before.st_dev, before.st_ino):
            return None  # replaced by a link meanwhile
        return data, self._outside_opened(path, opened)

    def read_setting(self, path: str, limit: int, shown: str) -> bytes | None:
        """A settings file of the project (pyproject.toml, the build file, its ignore file): None when
        missing. Raises ``UsageError`` when it leads outside the project, or as ``read``."""
        got = self.read(path, limit, shown)
        if got is None:
            return None
        data, outside = got
        if outside:
            raise UsageError(f"{shown} is a link to a file outside the project: deploycheck reads the "
                             "project's settings and build files only from inside it")
        return data

    def _outside_opened(self, path: str, opened: os.stat_result) -> bool:
        # The real path is taken after opening and must name the file that was opened.
        real = os.path.realpath(path)
        try:
            now = os.stat(real)
        except OSError:
            return True
        if (now.st_dev, now.st_ino) != (opened.st_dev, opened.st_ino):
            return True
        return not _under(real, self.real_root)



MAX_QUOTED = 80  # characters of a project's value quoted in a message; the rest is cut


def quote(value: object) -> str:
    """How a value read from the project appears in a message: control characters escaped (a newline must
    not split the one-line message, an escape sequence must not reach the terminal) and cut after
    ``MAX_QUOTED`` characters."""
    text = str(value)
    if not text.isprintable():
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= MAX_QUOTED else text[:MAX_QUOTED] + "…"
