"""The budgets of ``deploycheck start``, from ``[tool.deploycheck.start]`` in ``pyproject.toml``:

- ``startup-seconds`` (30): from starting the command to healthy; later is DC605;
- ``memory`` (``"512M"``, or bytes): peak resident memory of the whole process tree; more is DC606;
- ``grace-seconds`` (10): after SIGTERM, within this the service must exit (DC607; Kubernetes'
  ``terminationGracePeriodSeconds`` and ``docker stop``'s default);
- ``timeout-seconds`` (60): how long to wait for healthy at most (``--timeout`` overrides);
- ``memory-limit`` (four times ``memory``): past it the sandbox is killed, as a container's memory limit
  kills it; also each process's address space (RLIMIT_AS);
- ``processes`` (1024) and ``open-files`` (65536): the sandbox's process and descriptor limits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from deploycheck.errors import UsageError

_AMOUNT = re.compile(r"^\s*(\d+)\s*([KMGT]?)(?:i?B)?\s*$", re.IGNORECASE)
KEYS = ("startup-seconds", "memory", "grace-seconds", "timeout-seconds", "memory-limit", "processes",
        "open-files")


@dataclass(frozen=True)
class Budgets:
    """Seconds, bytes and counts as the module docstring lists them."""

    startup_seconds: float = 30.0
    memory: int = 512 * 1024**2
    grace_seconds: float = 10.0
    timeout_seconds: float = 60.0
    memory_limit: int = 2048 * 1024**2
    processes: int = 1024
    open_files: int = 65536


def _bytes(value, where: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    m = _AMOUNT.match(value) if isinstance(value, str) else None
    if not m or int(m.group(1)) <= 0:
        raise UsageError(f"{where}: expected a positive amount of bytes (\"512M\", \"2G\")")
    return int(m.group(1)) * 1024 ** "_KMGT".index(m.group(2).upper() or "_")


def _number(value, where: str, integer: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int if integer else (int, float)) or value <= 0:
        raise UsageError(f"{where}: expected a positive {'whole ' if integer else ''}number")
    return value


def load(table: dict) -> Budgets:
    """Budgets from the ``[tool.deploycheck.start]`` table (already parsed). Raises UsageError naming the key
    for an unknown key or a value that is not a positive amount."""
    where = "pyproject.toml [tool.deploycheck.start]"
    unknown = sorted(set(table) - set(KEYS))
    if unknown:
        raise UsageError(f"{where}: unknown setting `{unknown[0]}` (known: {', '.join(KEYS)})")
    memory = _bytes(table["memory"], f"{where} memory") if "memory" in table else Budgets.memory
    return Budgets(
        startup_seconds=float(_number(table.get("startup-seconds", 30.0), f"{where} startup-seconds")),
        memory=memory,
        grace_seconds=float(_number(table.get("grace-seconds", 10.0), f"{where} grace-seconds")),
        timeout_seconds=float(_number(table.get("timeout-seconds", 60.0), f"{where} timeout-seconds")),
        memory_limit=(_bytes(table["memory-limit"], f"{where} memory-limit") if "memory-limit" in table
                      else 4 * memory),
        processes=int(_number(table.get("processes", 1024), f"{where} processes", integer=True)),
        open_files=int(_number(table.get("open-files", 65536), f"{where} open-files", integer=True)),
    )
