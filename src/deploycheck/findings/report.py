"""What the machine formats render: the placed findings of one command, after suppressions and the
baseline."""

from __future__ import annotations

from dataclasses import dataclass, field

from deploycheck.findings.baseline import Entry
from deploycheck.findings.finding import ERROR, WARNING
from deploycheck.findings.located import Located


@dataclass
class Report:
    """``command``: ``check``, ``config``, ``migrate status`` or ``start``; ``root``: the repository root (absolute);
    ``reported``: the findings to show; ``suppressed``: those a ``# noqa``, the configuration or the baseline
    hides (SARIF lists them as suppressed results); ``stale``: baseline entries nothing matched."""

    command: str
    root: str
    reported: list[Located]
    suppressed: list[Located] = field(default_factory=list)
    stale: list[Entry] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(i.finding.severity == ERROR for i in self.reported)

    @property
    def warnings(self) -> int:
        return sum(i.finding.severity == WARNING for i in self.reported)
