"""DC101 module-not-found: an import names a module that does not exist in the target environment.

Why it crashes: ``import x`` / ``from x import y`` raise ``ModuleNotFoundError`` when no finder on the
target's search path can locate ``x`` (or a package on its dotted path).

Reported in project code at module level and in function bodies, and in third-party code when the import runs
unconditionally when the module is imported or in a function called at start-up (``index.startup``: a
third-party ``AppConfig.ready()``, a console script's function). Not reported: imports guarded by ``try: ... except ImportError``
(or broader), under ``if TYPE_CHECKING:``, or under a version/platform condition that is false on the target.
A fallback in ``except ImportError:`` that fails is reported where its ``try`` body fails, naming the fallback
(``rules.fallback``). Parents that create submodules at run time (``sys.modules`` writes, ``__path__`` edits,
extension modules) are trusted. An import in a protocol method of the package it imports
(``__dask_tokenize__`` importing ``dask.base``) runs only when that package calls it: not reported when the
package is absent. In a module that installs distributions while it runs (``install_packages(["x"])``,
``pip install`` in a subprocess), a missing module imported in a function, or after the install, is a
warning: the install may bring it.

Example::

    from werkzeug.contrib.cache import SimpleCache   # werkzeug 1.0 removed werkzeug.contrib
"""

from __future__ import annotations

from collections.abc import Iterator

from deploycheck.findings.finding import ERROR, WARNING, Finding
from deploycheck.index import syspath
from deploycheck.index.program import MISSING
from deploycheck.index.summary import FUNCTION
from deploycheck.rules import fallback
from deploycheck.rules.context import Context, explained_elsewhere, import_sites

CODE = "DC101"
NAME = "module-not-found"


def check(ctx: Context) -> Iterator[Finding]:
    yield from fallback.reported(ctx, CODE)  # first: the same statement may also fail on its own
    program = ctx.program
    for name, node, _summ, site, sev in import_sites(ctx):
        base = program.absolute(name, node.module.is_package, site.module, site.level)
        if base is None:
            continue  # DC104
        status, missing = program.module_status(base)
        if status != MISSING:
            continue
        if explained_elsewhere(ctx, node, missing):
            continue  # DC502 or DC504 says why
        if fallback.explained(ctx, name, site):
            continue  # a fallback in `except ImportError:`: reported where its try body fails
        if _summ.path_inserts and site.context == FUNCTION and syspath.found_in(
                program, missing, syspath.local_dirs(program, node.module.path or "", _summ, site.line)):
            continue  # the function puts the module's directory on sys.path first
        parent, _, _ = missing.rpartition(".")
        pmod = program.find(parent) if parent else None
        why = f"No module named '{missing}'"
        if pmod is not None and not pmod.is_package:
            why += f"; '{parent}' is not a package"
        installed = [line for line in _summ.installs if site.context == FUNCTION or line < site.line]
        if installed and sev == ERROR:
            # `await ainstall_packages(["coiled"])` then `import_module("coiled")`: not certain to fail
            sev = WARNING
            why += (f"; this module installs distributions while it runs (line {installed[0]}), which may "
                    "bring it")
        yield ctx.finding(CODE, sev, why, name, node, site.line, site.col, symbol=missing, context=site.context)
