"""The committed state of the migrations: ``PATH/.deploycheck-migrations.json``.

``{"version": 1, "migrations": {ID: {"old": ..., "baseline": N, "completed": bool}}}``. The first ``status``
run of a migration records ``baseline``, the number of references it found, so later runs report the
fraction done. ``completed`` becomes true the first time no reference is left; from then on the migration
is a ban (DC301). A changed ``old`` starts a new baseline. Written atomically (a temporary file and a rename).
"""

from __future__ import annotations

import json
import os

from deploycheck.errors import UsageError
from deploycheck.inputs import TooLarge, read_regular
from deploycheck.replace import replace_text

STATE_FILE = ".deploycheck-migrations.json"
# The largest state file read (bytes): about 150 bytes a migration, so thousands of them.
STATE_LIMIT = 1024 * 1024


def path(root: str) -> str:
    return os.path.join(root, STATE_FILE)


def read(root: str) -> dict[str, dict]:
    """The recorded migrations by id; ``{}`` when the file does not exist. Raises ``UsageError`` when it
    exists but is not a state file of this version, is not a regular file (a FIFO, a link to a device) or
    holds more than ``STATE_LIMIT`` bytes."""
    p = path(root)
    try:
        data = json.loads(read_regular(p, STATE_LIMIT))
    except FileNotFoundError:
        return {}
    except TooLarge:
        raise UsageError(f"{p}: over {STATE_LIMIT} bytes: not a migration state file; fix or delete it") \
            from None
    except (OSError, ValueError, RecursionError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else \
            "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise UsageError(f"{p}: not a readable migration state file ({reason}); fix or delete it") from None
    if not isinstance(data, dict) or data.get("version") != 1 or not isinstance(data.get("migrations"), dict):
        raise UsageError(f"{p}: not a migration state file of version 1; fix or delete it")
    return {k: v for k, v in data["migrations"].items() if isinstance(v, dict)}


def entry(state: dict[str, dict], mid: str, old: str) -> dict | None:
    """The recorded state of migration ``mid`` if it was recorded for the same ``old``."""
    e = state.get(mid)
    return e if e is not None and e.get("old") == old and isinstance(e.get("baseline"), int) else None


def completed(root: str, mid: str, old: str) -> bool:
    """Has migration ``mid`` (retiring ``old``) reached zero references? Unreadable state answers no."""
    try:
        e = entry(read(root), mid, old)
    except UsageError:
        return False
    return bool(e and e.get("completed"))


def write(root: str, state: dict[str, dict]) -> None:
    """Write the state atomically. Raises ``UsageError`` when it cannot be written."""
    p = path(root)
    text = json.dumps({"version": 1, "migrations": state}, indent=2, sort_keys=True) + "\n"
    try:
        replace_text(p, text, ".deploycheck-migrations.")
    except OSError as exc:
        raise UsageError(f"cannot record the migration state in {p}: {exc.strerror or exc}") from None
