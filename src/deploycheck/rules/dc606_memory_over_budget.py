"""DC606 memory-over-budget: the service's processes together used more memory than the budget.

Why it fails the deploy: past the container's memory limit the kernel kills it (OOMKilled, exit 137), and
close to it every request risks it. Measured by ``deploycheck start`` as the peak resident memory of the
whole process tree (workers included) until healthy and through shutdown; the budget is ``memory`` in
``[tool.deploycheck.start]`` (512 MB by default). Past ``memory-limit`` the sandbox is killed, as the
container would be.
"""

from __future__ import annotations

from collections.abc import Iterator

from deploycheck.findings.finding import Finding
from deploycheck.start.findings import finding, megabytes
from deploycheck.start.observation import Observation

CODE = "DC606"
NAME = "memory-over-budget"
COMMAND = "start"


def check(obs: Observation) -> Iterator[Finding]:
    if obs.killed_for_memory:
        yield finding(CODE, f"the service was killed: its processes used more than the memory limit of "
                      f"{megabytes(obs.memory_limit)} (budget {megabytes(obs.budget_memory)})", obs)
    elif obs.peak_memory > obs.budget_memory:
        yield finding(CODE, f"the service's processes used {megabytes(obs.peak_memory)} of memory at their peak, "
                      f"over the budget of {megabytes(obs.budget_memory)}", obs)
