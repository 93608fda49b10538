"""DC609 import-fails-at-run-time: a module the service imports at start-up fails to import in the image.

Why it fails the deploy: the import runs when the service starts (the static check found nothing between
the entry and it: no ``try``, no condition), so its exception ends the start-up. Found by ``deploycheck
start``'s import probe: the image's own interpreter, in the sandbox, with the deployment's environment,
imports every module ``deploycheck check`` finds firmly imported at start-up (``start.imports``). It catches
what only running shows: a module ``__getattr__`` (PEP 562) refusing a moved name, an extension module that
does not load (built for another Python or platform, a missing shared library), a setting read at import,
code run at import that raises. The finding points at the statement that raised (the last frame in the
service's or its dependencies' code), names the modules whose import reached it, and says whether ``check``
reported something at a frame of that traceback (``check agreed: DC101 at /app/x.py:3``) or missed it.

Example::

    from app.compat import render_page   # app.compat's __getattr__ raises ImportError: moved to app.pages
"""

from __future__ import annotations

from collections.abc import Iterator

from deploycheck.findings.finding import Finding
from deploycheck.start.findings import finding, own_frame, read_only_hint
from deploycheck.start.observation import Observation, Traceback

CODE = "DC609"
NAME = "import-fails-at-run-time"
COMMAND = "start"


def check(obs: Observation) -> Iterator[Finding]:
    for failure in obs.import_failures:
        tb = Traceback(failure["exception"], [tuple(f) for f in failure.get("frames", [])])
        modules = failure["modules"]
        names = ", ".join(modules[:3]) + (f" and {len(modules) - 3} more" if len(modules) > 3 else "")
        frame = own_frame(tb)
        statement = frame[3] if frame else ""
        said = f" at `{statement}`" if statement else ""
        agreed = f"check agreed: {failure['check']}" if failure.get("check") else "the static check missed this"
        yield finding(CODE, f"importing {names} fails in the image{said}: {failure['exception']}{read_only_hint(obs, failure['exception'])} ({agreed})", obs,
                      symbol=modules[0], traceback=tb)
