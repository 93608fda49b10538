"""A finding: one statement that will fail on the target, with the evidence for it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # an annotation only: a command that reports findings need not load the import closure's code
    from deploycheck.index.program import Hop

ERROR = "error"
WARNING = "warning"


@dataclass
class Finding:
    """``line`` is 1-based and ``column`` 0-based (as in ``ast``); rendered 1-based like ruff and rustc.
    ``distribution`` is ``(name, version)`` of the installed distribution that owns ``path``, if any;
    ``chain`` leads from an entry module to the module holding the failing statement; ``origin`` is
    ``project``, ``third-party`` or ``stdlib``."""

    code: str
    severity: str
    message: str
    path: str
    line: int
    column: int
    symbol: str = ""
    module: str = ""
    distribution: tuple[str, str] | None = None
    chain: list[Hop] = field(default_factory=list)
    origin: str = "project"
    # when the statement runs (``index.program.PHASES``): "import" when its module is imported, "startup" at
    # framework set-up or an app factory, "request" when the first request loads it, "call" when a function
    # nobody is known to call runs
    when: str = "import"

    def sort_key(self) -> tuple:
        return (self.origin != "project", self.path, self.line, self.column, self.code)
