"""DC504 foreign-build: an installed wheel was built for another interpreter, ABI or platform.

Why it crashes: the interpreter cannot load an extension module built for another Python (``cp312`` in a 3.11
environment), another C library (``musllinux`` in a glibc image, or the reverse) or another architecture
(``aarch64`` in an ``x86_64`` image): the import fails with ``ModuleNotFoundError`` (the file name carries an
ABI tag the interpreter does not look for) or ``ImportError``. This is what ``pip install --target`` with the
wrong ``--python-version``/``--platform``, or a layer copied from another build stage, leaves behind.

Read two ways:

- each distribution's ``WHEEL`` file (its ``Tag:`` lines, PEP 427 / PEP 425), compared with ``packaging.tags``
  against the tags the target interpreter accepts: an error when a module of that distribution is in the
  import closure, else a warning;
- an import that fails although an extension module of that name lies where the import looks, with a file
  name suffix the interpreter does not load (``importlib.machinery.EXTENSION_SUFFIXES``; the suffix names
  the build, PEP 3149): ``_speedups.cpython-312-x86_64-linux-gnu.so`` beside a Python 3.11, or
  ``…-aarch64-linux-gnu.so`` on x86_64. This replaces the DC101 the import would get, with the same
  severity.

Example: ``orjson-3.10.0.dist-info/WHEEL`` says ``Tag: cp312-cp312-manylinux_2_17_x86_64`` in a Python 3.11 image.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

from packaging import tags

from deploycheck.findings.finding import ERROR, WARNING, Finding
from deploycheck.rules.context import Context, failed_imports

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


def foreign_extension(ctx: Context, module: str) -> str | None:
    """The file of an extension module named ``module`` that the target interpreter will not load (its name
    suffix is not one of the interpreter's extension suffixes), in the directories the import searches;
    None when there is none."""
    program = ctx.program
    parent, _, last = module.rpartition(".")
    if parent:
        pmod = program.find(parent)
        if pmod is None or not pmod.is_package:
            return None
        dirs = list(pmod.locations)
    else:
        dirs = list(program.search_path.entries)
    loadable = {last + suffix for suffix in ctx.interp.extension_suffixes}  # the names the finder tries
    files = program.finder.files
    for d in dirs:
        for name, is_dir in sorted((files.listdir(d) or {}).items()):
            if (not is_dir and name.startswith(last + ".") and name.endswith((".so", ".pyd"))
                    and name not in loadable):
                return os.path.join(d, name)
    return None


def check(ctx: Context) -> Iterator[Finding]:
    yield from _wheels(ctx)
    py = f"{ctx.interp.version[0]}.{ctx.interp.version[1]}"
    loads = ", ".join(f"*{s}" for s in ctx.interp.extension_suffixes)
    for name, node, site, sev, module, line, col in failed_imports(ctx):
        found = foreign_extension(ctx, module)
        if found is None:
            continue
        yield ctx.finding(CODE, sev, f"No module named '{module}': {os.path.basename(found)} is an extension "
                          f"module built for another interpreter or platform; Python {py} on "
                          f"{ctx.interp.machine or 'x86_64'} loads only {loads}", name, node, line, col,
                          symbol=module, context=site.context)


def _wheels(ctx: Context) -> Iterator[Finding]:
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
