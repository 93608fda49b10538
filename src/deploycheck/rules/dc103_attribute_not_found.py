"""DC103 attribute-not-found: ``M.attr`` read on an imported module ``M`` that has no attribute ``attr``.

Why it crashes: ``AttributeError: module 'M' has no attribute 'attr'`` when the expression runs: at import for
module-level code, class bodies and decorators (``@asyncio.coroutine`` on Python 3.11), when called for code in
function bodies of the project.

A submodule is an attribute of its package only once something imports it: ``import app`` then
``app.jobs.run()`` fails when nothing imports ``app.jobs``. For packages of the project, such a read is
reported when no import statement of the closure names the submodule, no module of the closure imports by a
computed name (``import_module(f"{pkg}.{name}")``, Django's and Celery's autodiscovery), and the submodule
is neither an entry nor the package of one (with the
default entries, every module of the project is one, so this needs ``--entry``, ``entries`` in the
configuration, or an image's command). Standard-library and third-party submodules are not reported this
way: the interpreter's start-up, ``python -m`` and the launcher import many of them before any of your code.

A read under a condition that cannot be decided is still an error in project code when the module read is
the project's own and the attribute exists on no path (nothing in the module binds it: a renamed function):
that line fails whenever it runs, so it is reported "when called", not as a deploy failure. A module of the
standard library or of a distribution stays a warning there: such a condition is usually a test of versions
(``if PY311: ... else: enum._decompose(...)``) that cannot be decided. In a function that runs at start-up (``index.startup``), a read fails
the deploy like one at import.

An attribute of a class read through a module (``engineio.Client.reason`` in a class body) is checked the
same way when the class statement can be read: the names its body binds (with ``__slots__`` and
``cls.X = ...`` in its methods), then its bases, then what ``type`` gives every class. A class with a
decorator, a metaclass or class keywords, ``__init_subclass__``, ``setattr`` or ``locals()`` in its body, or
a base that is not a class we read, is not judged.

Only names bound by an import are followed (``import asyncio``, ``import a.b as c``, ``from pkg import mod``),
and only while they are not rebound in the same scope. Reads guarded by ``try: ... except AttributeError`` (or
broader), ``hasattr`` checks and other undecidable conditions are not reported as errors. Resolution is the
same as DC102's.

Example::

    import asyncio

    @asyncio.coroutine          # removed in Python 3.11
    def legacy(): ...
"""

from __future__ import annotations

from collections.abc import Iterator

from deploycheck.findings.finding import ERROR, WARNING, Finding
from deploycheck.index.program import CALL, MISSING
from deploycheck.index.summary import FUNCTION
from deploycheck.rules.context import Context, severity

CODE = "DC103"
NAME = "attribute-not-found"


def check(ctx: Context) -> Iterator[Finding]:
    program = ctx.program
    for name, node, summ in ctx.modules():
        for read in summ.reads:
            if any(program.branch_runs(name, b) is not False for b in read.unless):
                continue  # the name may be the fallback value of an `except ImportError` branch
            runs = program.branch_runs(name, read.branch)
            if runs is False:
                continue  # in an `except ImportError` handler whose try succeeds on the target, or the like
            reach = ctx.startup_reach(name, read.positions[0][0]) if read.context == FUNCTION else None
            conditional = read.conditional or runs is None
            sev = severity(node, summ, read.context, read.guarded, conditional, "AttributeError", reach)
            if sev is None:
                continue
            current = program.descriptor_module(name, node.module.is_package, read.target)
            for i, (attr, (line, col)) in enumerate(zip(read.attrs, read.positions)):
                if current is None:
                    break
                status = program.has_name(current, attr)
                if status == MISSING and program.module_fails_within(current, name):
                    break  # the import of `current` itself fails; that is the finding, not this read
                if status == MISSING:
                    when = None
                    if (sev == WARNING and conditional and node.origin == "project" and _own(program, current)
                            and severity(node, summ, read.context, read.guarded, False, "AttributeError", reach)
                            == ERROR):
                        # The project's own module has the attribute on no path: the line fails whenever it
                        # runs, whatever the condition in front of it decides.
                        sev, when = ERROR, CALL
                    yield ctx.finding(CODE, sev, f"module '{current}' ({ctx.provider(current)}) has no attribute '{attr}'",
                                      name, node, line, col, symbol=attr, context=read.context, when=when)
                    break
                if status != "found":
                    break
                if _unimported_submodule(ctx, current, attr):
                    yield ctx.finding(CODE, sev, f"module '{current}' ({ctx.provider(current)}) has no attribute "
                                      f"'{attr}': the submodule {current}.{attr} exists, but nothing imports it "
                                      f"(add `import {current}.{attr}`)", name, node, line, col, symbol=attr,
                                      context=read.context)
                    break
                module = current
                current = program.member_module(current, attr)
                if current is None and i + 1 < len(read.attrs):
                    # `engineio.Client.reason`: an attribute of a class the module defines or re-exports
                    cls = program.class_of(module, attr)
                    nxt, (line, col) = read.attrs[i + 1], read.positions[i + 1]
                    if cls is not None and program.class_has(cls, nxt) == MISSING:
                        yield ctx.finding(CODE, sev, f"class '{cls[0]}.{cls[1]}' ({ctx.provider(cls[0])}) has no "
                                          f"attribute '{nxt}'", name, node, line, col, symbol=nxt,
                                          context=read.context)


def _own(program, module: str) -> bool:
    """``module`` is the project's: no version of an installed distribution may have what it lacks (a test on
    ``PY311`` in front of ``enum._decompose`` is compatibility code that cannot be decided here)."""
    mod = program.find(module)
    return mod is not None and program.origin(mod) == "project"


def _unimported_submodule(ctx: Context, package: str, attr: str) -> bool:
    """``package.attr`` is found only as a submodule file of a project package that no import statement of
    the closure names, that is not an entry, and that the package does not bind or create by other means."""
    program = ctx.program
    sub = f"{package}.{attr}"
    mod = program.find(package)
    if mod is None or not mod.is_package or program.origin(mod) != "project" or program.find(sub) is None:
        return False
    summ = program.summary(package) if mod.has_source else None
    if mod.has_source and (summ is None or summ.syntax_error or summ.bindings.get(attr) or summ.has_getattr
                           or summ.dynamic or "." + attr in summ.registered):
        return False
    if (package, attr) in program.stores or sub in ctx.entries:
        return False
    imported = ctx.imported_modules()
    return "*" not in imported and sub not in imported and f"{package}.*" not in imported
