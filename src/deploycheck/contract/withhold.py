"""The project's edge in ``deploycheck config`` output: no text of a module outside the project is shown.

A project module may be a link to a file outside the project (``target.boundary``): its reads are analyzed,
as the service imports it, but what config would quote of it is withheld, as ``check`` withholds it: a
finding located in it keeps its code, severity and place with the rule's name for a message (and no source
line, ``report``); a literal default read there is not shown; and a setting only such files read, that no
source of the environment provides, is named by the withholding note instead of its name. Names that a
source of the environment provides are the environment's own text, not the file's.
"""

from __future__ import annotations

from deploycheck.contract.model import Setting
from deploycheck.findings.finding import Finding
from deploycheck.rules.context import _rule_name
from deploycheck.target.boundary import WITHHELD, Boundary

# What a withheld default or name is replaced with (in a column of the table: short).
WITHHELD_TEXT = "(withheld: outside the project)"


def withhold(settings: list[Setting], findings: list[Finding], boundary: Boundary | None) -> None:
    """Replace, in place, what ``settings`` and ``findings`` would quote of files outside ``boundary``
    (None: a project not on the host, nothing to withhold). Run after the findings are tied to their
    settings: the names are needed for that."""
    if boundary is None:
        return
    for f in findings:
        if f.path.endswith(".py") and boundary.withholds(f.path):
            f.message = f"{_rule_name(f.code)} ({WITHHELD})"
            f.symbol = ""
    for s in settings:
        outside = [r for r in s.reads if boundary.withholds(r.path)]
        for r in outside:
            if r.default is not None:
                r.default = WITHHELD_TEXT
        if outside and len(outside) == len(s.reads) and not s.provided:
            s.name = WITHHELD_TEXT
            if s.value_from == "default":
                s.value = None
