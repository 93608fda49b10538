"""DC504 foreign-build: an installed wheel was built for another interpreter, ABI or platform.

Why it crashes: the interpreter cannot load an extension module built for another Python (``cp312`` in a 3.11
environment), another C library (``musllinux`` in a glibc image, or the reverse) or another architecture
(``aarch64`` in an ``x86_64`` image): the import fails with ``ModuleNotFoundError`` (the file name carries an
ABI tag the interpreter does not look for) or ``ImportError``. This is what ``pip install --target`` with the
wrong ``--python-version``/``--platform``, or a layer copied from another build stage, leaves behind.

Read from each distribution's ``WHEEL`` file (its ``Tag:`` lines, PEP 427 / PEP 425) and compared, with
``packaging.tags``, against the tags the target interpreter accepts. An error when a module of that
distribution is in the import closure, else a warning.

Example: ``orjson-3.10.0.dist-info/WHEEL`` says ``Tag: cp312-cp312-manylinux_2_17_x86_64`` in a Python 3.11 image.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

from packaging import tags

from deploycheck.findings.finding import ERROR, WARNING, Finding
from deploycheck.rules.context import Context

CODE = "DC504"
NAME = "foreign-build"
_ARCH = {"amd64": "x86_64", "arm64": "aarch64"}


def supported(version: tuple[int, ...], machine: str, musl: bool) -> set[tags.Tag]:
    """Tags an interpreter of ``version`` on ``machine`` (glibc or musl) accepts (packaging.tags)."""
    arch = _ARCH.get(machine, machine) or "x86_64"
    if musl:
        platforms = [f"musllinux_1_{m}_{arch}" for m in range(3, -1, -1)]
    else:
        platforms = [f"manylinux_2_{m}_{arch}" for m in range(45, 4, -1)]
        platforms += [f"manylinux2014_{arch}", f"manylinux2010_{arch}", f"manylinux1_{arch}"]
    platforms.append(f"linux_{arch}")
    py = (version[0], version[1])
    return set(tags.cpython_tags(py, platforms=platforms)) | set(tags.compatible_tags(py, platforms=platforms))


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _wheel_tags(text: str) -> set[tags.Tag]:
    out: set[tags.Tag] = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() == "tag" and value.strip():
            try:
                out |= set(tags.parse_tag(value.strip()))
            except ValueError:
                continue
    return out


def check(ctx: Context) -> Iterator[Finding]:
    files = ctx.distributions.files
    musl = any(n.startswith("ld-musl-") for n in (files.listdir("/lib") or {}))
    accepted = supported(ctx.interp.version, ctx.interp.machine, musl)
    used: set | None = None  # distributions with a module in the closure, computed only when needed
    for (name, version), directory in sorted(ctx.distributions.installed().items()):
        wheel = os.path.join(directory, "WHEEL")
        try:
            text = files.read_bytes(wheel).decode("utf-8", errors="replace")
        except (OSError, ValueError):
            continue
        built = _wheel_tags(text)
        if not built or built & accepted:
            continue
        if used is None:
            used = {_norm(d[0]) for n in ctx.program.nodes.values() if n.origin == "third-party"
                    and (d := ctx.distributions.owner(n.module.path))}
        shown = ", ".join(sorted(str(t) for t in built)[:3])
        libc = "musl" if musl else "glibc"
        yield Finding(CODE, ERROR if _norm(name) in used else WARNING,
                      f"{name} {version} was built for {shown}, which Python "
                      f"{ctx.interp.version[0]}.{ctx.interp.version[1]} on {ctx.interp.machine or 'x86_64'} "
                      f"({libc}) cannot load", wheel, 1, 0, symbol=name, module=name,
                      distribution=(name, version), origin="third-party")
