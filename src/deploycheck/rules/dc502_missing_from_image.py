"""DC502 missing-from-image: a module the image imports exists in the source but not in the image.

Why it crashes: ``ModuleNotFoundError`` at start, although the module is right there in the repository: a
``.dockerignore`` pattern left it out of the build context, or no ``COPY`` line copies it. With ``--source
DIR`` and a map of the repository into the image (the ``COPY``/``ADD`` lines of ``Containerfile`` or
``Dockerfile`` in DIR, or of ``--containerfile FILE``; or ``--app-dir PATH``, which overrides them), every
import that fails in the image (what DC101 would report in project code) is looked up in the source at the
place the map gives, or, when no line copies that place, beside the files that the lines put next to it
(``COPY main.py /srv/app/`` puts the repository root at ``/srv/app``). When the file is there, this finding
replaces DC101 and names the ignore file's pattern that excludes it (Docker's rules: patterns rooted at the
context, ``!`` exceptions, the last match wins; ``.containerignore`` is read before ``.dockerignore``), or
the ``COPY`` lines that copy its neighbours but not it.

Examples: ``app/settings_local.py``: ``.dockerignore pattern '**/*_local.py' excludes it``;
``lib/util.py``: ``no COPY/ADD line of Containerfile copies it (COPY lines: Containerfile:6)``.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterator

from deploycheck.findings.finding import Finding
from deploycheck.rules.context import Context, failed_imports

CODE = "DC502"
NAME = "missing-from-image"


def source_file(ctx: Context, module: str) -> tuple[str, list] | None:
    """The repository file of ``module`` that would be in the image but is not, with the copies that
    suggest where it belongs; None when the source has no such file."""
    if not ctx.stale:
        return None
    mapping = ctx.stale.mapping
    for root in ctx.program.search_path.project_roots:
        base = posixpath.join(root, *module.split("."))
        for path in (base + ".py", base + "/__init__.py"):
            for rel, copies in mapping.candidates(path):
                if os.path.isfile(os.path.join(ctx.stale.repo, rel)):
                    return rel, copies
    return None


def check(ctx: Context) -> Iterator[Finding]:
    if not ctx.stale:
        return
    for name, node, site, sev, module, line, col in failed_imports(ctx):
        found = source_file(ctx, module) if node.origin == "project" else None
        if found is None:
            continue
        rel, copies = found
        yield ctx.finding(CODE, sev, f"No module named '{module}' in the image, but the source has {rel}: "
                          f"{ctx.stale.mapping.why_missing(rel, copies)}", name, node, line, col,
                          symbol=module, context=site.context)
