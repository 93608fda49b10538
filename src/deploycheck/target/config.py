"""``[tool.deploycheck]`` in the project's pyproject.toml (TOML, read with the standard ``tomllib``)."""

from __future__ import annotations

import hashlib
import os
import re
import tomllib
from dataclasses import dataclass, field

from deploycheck.errors import UsageError
from deploycheck.target.boundary import MAX_SETTINGS_BYTES, Boundary, quote

# Not entries by default: test suites and build scripts do not run in the deployed service (they may still be
# checked when an entry imports them, or by naming them with --entry).
DEFAULT_EXCLUDE = [
    "tests/", "test/", "testing/", "docs/", "doc/", "examples/", "benchmarks/", "bench/",
    "test_*.py", "*_test.py", "tests.py", "conftest.py", "setup.py", "noxfile.py", "fabfile.py",
]
KNOWN_KEYS = {"roots", "entries", "exclude", "extend-exclude", "ignore", "per-file-ignores", "python",
              "migrations", "config", "environments", "start"}
_CODE = re.compile(r"^DC\d{3}$")


@dataclass
class Config:
    """Validated settings. Paths are relative to the project root; codes look like ``DC102``."""

    roots: list[str] | None = None
    entries: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=lambda: list(DEFAULT_EXCLUDE))
    extend_exclude: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    per_file_ignores: dict[str, list[str]] = field(default_factory=dict)
    python: str | None = None
    migrations: list = field(default_factory=list)  # deploycheck.migrate.config.Migration, validated there
    # `deploycheck config`: accessor -> schema class (None: from the return annotation); named environments
    config_accessors: dict[str, str | None] = field(default_factory=dict)
    environments: dict = field(default_factory=dict)  # name -> contract.settings.EnvironmentConfig
    start: dict = field(default_factory=dict)  # `deploycheck start`'s budgets, validated by start.budgets


def _str_list(table: dict, key: str, where: str) -> list[str] | None:
    if key not in table:
        return None
    value = table[key]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UsageError(f"{where}: `{key}` must be a list of strings")
    return value


def _codes(values: list[str], where: str) -> list[str]:
    from deploycheck.rules import RULES

    known = {r.CODE for r in RULES}
    for v in values:
        if not _CODE.match(v):
            raise UsageError(f"{where}: `{quote(v)}` is not a rule code (like DC102)")
        if v not in known:
            raise UsageError(f"{where}: `{quote(v)}` is not a deploycheck rule (see `deploycheck rule`)")
    return values


def read_pyproject(root: str) -> tuple[str, dict] | None:
    """``(path, document)`` of ``root/pyproject.toml`` (TOML 1.0, read with ``tomllib``), None when there is
    none. Raises ``UsageError`` for a file that leads outside the project (``target.boundary``), is not a
    regular file, is over ``MAX_SETTINGS_BYTES``, is not UTF-8, or is not valid TOML (also when nested too
    deeply to parse); the message names the file and the position, never its text."""
    path = os.path.join(root, "pyproject.toml")
    data = Boundary(root).read_setting(path, MAX_SETTINGS_BYTES, path)
    if data is None:
        return None
    key = (path, hashlib.blake2b(data, digest_size=16).digest())
    if key in _PARSED:  # read for the settings and again for the declarations: parsed once
        return path, _PARSED[key]
    try:
        document = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: invalid TOML: not UTF-8 (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: invalid TOML: {exc}") from None
    except RecursionError:
        raise UsageError(f"{path}: invalid TOML: nested too deeply to read") from None
    except (ValueError, MemoryError) as exc:  # tomllib's own errors are ValueErrors with a position
        raise UsageError(f"{path}: invalid TOML: {type(exc).__name__}") from None
    _PARSED.clear()
    _PARSED[key] = document
    return path, document


_PARSED: dict[tuple[str, bytes], dict] = {}  # the last document read, by path and content digest


def load(root: str) -> Config:
    """Read ``[tool.deploycheck]`` from ``root/pyproject.toml``; a missing file or table gives defaults.
    Raises ``UsageError`` for an unreadable or malformed file (``read_pyproject``) or a wrongly typed
    setting, naming the key."""
    where = "pyproject.toml [tool.deploycheck]"
    found = read_pyproject(root)
    if found is None:
        return Config()
    data = found[1]
    tool = data.get("tool", {})
    if not isinstance(tool, dict):
        raise UsageError("pyproject.toml: `tool` must be a table")
    table = tool.get("deploycheck", {})
    if not isinstance(table, dict):
        raise UsageError(f"{where} must be a table")
    unknown = sorted(set(table) - KNOWN_KEYS)
    if unknown:
        known = ", ".join(sorted(KNOWN_KEYS))
        raise UsageError(f"{where}: unknown setting `{quote(unknown[0])}` (known: {known})")
    # imported here: pathspec only for a project with a pyproject.toml
    from deploycheck.target.patterns import gitignore_spec

    cfg = Config()
    cfg.roots = _str_list(table, "roots", where)
    cfg.entries = _str_list(table, "entries", where) or []
    exclude = _str_list(table, "exclude", where)
    if exclude is not None:
        cfg.exclude = exclude
    cfg.extend_exclude = _str_list(table, "extend-exclude", where) or []
    for key in ("exclude", "extend-exclude"):
        gitignore_spec(table.get(key) or [], f"{where} `{key}`")
    cfg.ignore = _codes(_str_list(table, "ignore", where) or [], where)
    cfg.start = table.get("start", {})
    if not isinstance(cfg.start, dict):
        raise UsageError(f"{where}: `start` must be a table")
    pfi = table.get("per-file-ignores", {})
    if not isinstance(pfi, dict):
        raise UsageError(f"{where}: `per-file-ignores` must be a table of pattern = [codes]")
    for pattern, codes in pfi.items():
        if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
            raise UsageError(f"{where}: per-file-ignores `{quote(pattern)}` must be a list of codes")
        gitignore_spec([pattern], f"{where} per-file-ignores")
        cfg.per_file_ignores[pattern] = _codes(codes, where)
    py = table.get("python")
    if py is not None and not isinstance(py, str):
        raise UsageError(f"{where}: `python` must be a string")
    cfg.python = py
    from deploycheck.migrate.config import parse as parse_migrations

    cfg.migrations = parse_migrations(table.get("migrations"))
    if "config" in table or "environments" in table:  # validated by the contract package, which owns them
        from deploycheck.contract.settings import parse_accessors, parse_environments

        cfg.config_accessors = parse_accessors(table.get("config", {}), where)
        cfg.environments = parse_environments(table.get("environments", {}), where)
    return cfg
