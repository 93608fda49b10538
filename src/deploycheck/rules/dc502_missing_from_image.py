"""DC502 missing-from-image: a module the image imports exists in the source but not in the image.

Why it crashes: ``ModuleNotFoundError`` at start, although the module is right there in the repository: a
``.dockerignore`` pattern or a missing ``COPY`` left it out of the build context. With ``--source DIR`` and
``--app-dir PATH``, every import that fails in the image (what DC101 would report in project code) is looked
up in the source tree at the same place; when it is there, this finding replaces DC101 and names the
``.dockerignore`` pattern that excludes it (gitignore-style matching with pathspec), or says that no
pattern does (then a ``COPY``/``ADD`` line does not bring it in).

Example: ``app/settings_local.py`` matched by ``*_local.py`` in .dockerignore.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pathspec

from deploycheck.findings.finding import Finding
from deploycheck.index.program import MISSING
from deploycheck.rules.context import Context, import_sites

CODE = "DC502"
NAME = "missing-from-image"


def source_file(ctx: Context, module: str) -> str | None:
    """The file of ``module`` in the source tree mapped to the image's application directory, if any."""
    stale = ctx.stale
    if not stale:
        return None
    repo, app_dir = stale["repo"], stale["app_dir"]
    for root in ctx.program.search_path.project_roots:
        if root != app_dir and not root.startswith(app_dir.rstrip("/") + "/"):
            continue
        base = os.path.join(repo, os.path.relpath(root, app_dir), *module.split("."))
        for candidate in (base + ".py", os.path.join(base, "__init__.py")):
            if os.path.isfile(candidate):
                return os.path.normpath(candidate)
    return None


def _why(repo: str, rel: str) -> str:
    try:
        with open(os.path.join(repo, ".dockerignore"), encoding="utf-8", errors="replace") as f:
            patterns = [p.strip() for p in f.read().splitlines() if p.strip() and not p.startswith("#")]
    except OSError:
        patterns = []
    matching = [p for p in patterns if not p.startswith("!") and pathspec.GitIgnoreSpec.from_lines([p]).match_file(rel)]
    if matching and pathspec.GitIgnoreSpec.from_lines(patterns).match_file(rel):
        return f".dockerignore pattern '{matching[-1]}' excludes it"
    return "no .dockerignore pattern excludes it, so no COPY/ADD line brings it in"


def check(ctx: Context) -> Iterator[Finding]:
    if not ctx.stale:
        return
    program = ctx.program
    for name, node, _summ, site, sev in import_sites(ctx):
        if node.origin != "project":
            continue
        base = program.absolute(name, node.module.is_package, site.module, site.level)
        if base is None:
            continue
        status, missing = program.module_status(base)
        candidates: list[tuple[str, int, int]] = []
        if status == MISSING:
            candidates.append((missing, site.line, site.col))
        elif status == "found":  # `from pkg import sub` where the submodule did not make it into the image
            for imported, (line, col) in zip(site.names, site.positions):
                if imported != "*" and program.has_name(base, imported) == MISSING:
                    candidates.append((f"{base}.{imported}", line, col))
        for module, line, col in candidates:
            found = source_file(ctx, module)
            if found is None:
                continue
            rel = os.path.relpath(found, ctx.stale["repo"])
            yield ctx.finding(CODE, sev, f"No module named '{module}' in the image, but the source has {rel}: "
                              f"{_why(ctx.stale['repo'], rel)}", name, node, line, col, symbol=module,
                              context=site.context)
