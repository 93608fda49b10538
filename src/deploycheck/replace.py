"""Files deploycheck writes for users to commit (the migration state, a baseline): replaced whole, never
left half written."""

from __future__ import annotations

import os
import tempfile


def replace_text(path: str, text: str, prefix: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file named ``prefix``... in the same directory,
    renamed over it (``os.replace`` is atomic on POSIX), with the mode a new file gets under the umask (a file
    users commit, not ``mkstemp``'s private 0600). Raises ``OSError``; the temporary file is removed."""
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=os.path.dirname(os.path.abspath(path)))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
