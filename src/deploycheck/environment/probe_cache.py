"""The interpreter probe's answer, remembered between runs while nothing it depends on has changed.

The probe (``probe_script.py``, run as ``python -I -S`` with only ``PATH`` and ``LC_ALL`` set) answers from
the interpreter's executable, its ``pyvenv.cfg`` and the directories of its ``sys.path`` (the standard
library, ``lib-dynload``, whose extension modules it lists the names of). An answer is kept in
``CACHE_DIR/probe-v1/KEY.json`` with the file signature (inode, size, modification and change times) of each
of those: the executable as named and resolved, both ``pyvenv.cfg`` places, every directory of ``sys.path``
and of site-packages, and every file of ``lib-dynload``. A later run uses it only when every signature is the
same and the probe script is the same; otherwise it probes again. The probe takes about 75 ms of CPU, a
tenth of a warm check of Django's tree. At most ``KEEP`` answers are kept (the oldest go).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

KEEP = 32
MAX_BYTES = 8 << 20  # an answer is under 100 KB; a larger file is not one of ours
_SCRIPT = Path(__file__).with_name("probe_script.py")


def _signature(path: str) -> list[int] | None:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return [st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def _key(exe: str) -> str:
    real = os.path.realpath(exe)
    script = hashlib.sha256(_SCRIPT.read_bytes()).hexdigest()
    text = json.dumps([script, exe, real, _signature(exe), _signature(real)])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _watched(exe: str, data: dict) -> list[str]:
    """The files and directories the answer ``data`` depends on (see the module docstring)."""
    bindir = os.path.dirname(exe)
    paths = [exe, os.path.realpath(exe), os.path.join(bindir, "pyvenv.cfg"),
             os.path.join(os.path.dirname(bindir), "pyvenv.cfg")]
    dirs = [p for p in [*data.get("path", []), *data.get("site_packages", []), data.get("user_site")]
            if isinstance(p, str) and p]
    paths += dirs
    for d in dirs:
        if os.path.basename(d.rstrip(os.sep)) == "lib-dynload":
            try:
                paths += sorted(os.path.join(d, name) for name in os.listdir(d))
            except OSError:
                pass
    return list(dict.fromkeys(paths))


def recall(cache_dir: str, exe: str) -> dict | None:
    """The answer remembered for ``exe`` under ``cache_dir`` when nothing it depends on changed, else None.
    Never raises for a missing, damaged or foreign entry."""
    try:
        path = os.path.join(cache_dir, "probe-v1", _key(exe) + ".json")
        with open(path, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
        if len(raw) > MAX_BYTES:
            return None
        entry = json.loads(raw)
        data, seen = entry["answer"], entry["seen"]
        if not isinstance(data, dict) or not isinstance(seen, dict):
            return None
        watched = _watched(exe, data)
        if sorted(watched) != sorted(seen) or any(_signature(p) != seen[p] for p in watched):
            return None
        return data
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return None


def remember(cache_dir: str, exe: str, data: dict) -> None:
    """Keep the answer ``data`` of ``exe`` under ``cache_dir`` (written whole or not at all; a cache that
    cannot be written is no error: the next run probes again)."""
    try:
        where = os.path.join(cache_dir, "probe-v1")
        os.makedirs(where, exist_ok=True)
        entry = {"answer": data, "seen": {p: _signature(p) for p in _watched(exe, data)}}
        fd, tmp = tempfile.mkstemp(prefix=".probe-", dir=where)
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(entry, f)
            os.replace(tmp, os.path.join(where, _key(exe) + ".json"))
        except BaseException:
            os.unlink(tmp)
            raise
        kept = sorted((e for e in os.scandir(where) if e.name.endswith(".json")),
                      key=lambda e: e.stat().st_mtime_ns, reverse=True)
        for old in kept[KEEP:]:
            os.unlink(old.path)
    except OSError:
        pass
