"""docker-compose files (the Compose Specification): a service's ``environment`` (a list of ``KEY=VALUE`` /
``KEY``, or a mapping) and ``env_file`` (a path, a list of paths, or of ``{path, required}``), relative to
the compose file. ``environment`` overrides ``env_file``. ``${VAR}`` and ``$VAR`` are interpolated by Compose
from the shell and the project's ``.env`` at run time, so such values are templated (unknown); ``$$`` is a
literal ``$``. A key without a value takes it from the shell.

The fields read are checked against the Compose Specification's types (a message names the file, line and
field, never a value). An ``env_file`` named by a compose file inside the project must lie inside the project
too (``provides``)."""

from __future__ import annotations

import os
import re

from deploycheck.contract import dotenv_file, template
from deploycheck.contract.limits import Budget
from deploycheck.contract.model import Provided
from deploycheck.contract.yamlfile import Mapping
from deploycheck.errors import UsageError

_INTERP = re.compile(r"(?<!\$)\$(\{[^}]*\}|[A-Za-z_])")
_PLACEHOLDER = re.compile(r"\$\$|\$\{[^}]*\}|\$[A-Za-z_]\w*|\{\{.*?\}\}", re.DOTALL)


def is_compose(docs: list[object]) -> bool:
    return len(docs) == 1 and isinstance(docs[0], dict) and "kind" not in docs[0] and isinstance(
        docs[0].get("services"), dict)


def read(path: str, doc: dict, service: str | None, budget: Budget | None = None,
         within: str | None = None) -> list[Provided]:
    """Variables of the service that runs the code: ``service`` when named, else the one service that is
    built (has ``build``), else the only service. Its ``env_file`` entries must lie inside ``within`` when
    given. Raises ``UsageError`` when that is ambiguous, a field has the wrong type, and past the bounds of
    ``budget``."""
    budget = budget or Budget()
    services = doc["services"]
    names = [str(n) for n in services]
    if service is not None:
        if service not in services:
            raise UsageError(f"{path}: no service `{service}` (services: {_names(names)})")
        name = service
    else:
        built = [n for n, s in services.items() if isinstance(s, dict) and "build" in s]
        if len(built) == 1:
            name = built[0]
        elif len(services) == 1:
            name = next(iter(services))
        else:
            raise UsageError(f"{path}: services {_names(names)}: name the one that runs the code "
                             "with --container or `container` in [tool.deploycheck.environments.NAME]")
    svc = services[name]
    if not isinstance(svc, dict):
        raise UsageError(f"{path}: service `{name}` must be a mapping")
    out: list[Provided] = []
    out += _env_files(path, svc, budget, within)
    env = svc.get("environment")
    line = svc.line_of("environment") if isinstance(svc, Mapping) else 1
    if isinstance(env, list):
        for i, item in enumerate(env):
            if not isinstance(item, str):
                raise UsageError(f"{path}:{line + i + 1}: an `environment` entry must be KEY=VALUE")
            budget.charge_variable(f"{path}:{line + i + 1}")
            key, eq, value = item.partition("=")
            out.append(_provided(path, line + i + 1, key.strip(), value if eq else None))
    elif isinstance(env, dict):
        for key, value in env.items():
            where = env.line_of(key) if isinstance(env, Mapping) else line
            if value is not None and not isinstance(value, (str, int, float, bool)):
                raise UsageError(f"{path}:{where}: `environment` value of {key} must be a string")
            budget.charge_variable(f"{path}:{where}")
            text = None if value is None else ("true" if value is True else "false" if value is False else str(value))
            out.append(_provided(path, where, str(key), text))
    elif env is not None:
        raise UsageError(f"{path}:{line}: `environment` must be a list or a mapping")
    return out


def _names(names: list[str], most: int = 10) -> str:
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def _provided(path: str, line: int, key: str, value: str | None) -> Provided:
    if value is None:
        return Provided(key, "compose", path, line, "host")
    if _INTERP.search(value) or "{{" in value:
        marked = _PLACEHOLDER.sub(lambda m: "$" if m.group(0) == "$$" else template.mark(m.group(0)), value)
        return Provided(key, "compose", path, line, "templated", template=marked)
    return Provided(key, "compose", path, line, "value", value.replace("$$", "$"))


def _env_files(path: str, svc: dict, budget: Budget, within: str | None) -> list[Provided]:
    spec = svc.get("env_file")
    if spec is None:
        return []
    line = svc.line_of("env_file") if isinstance(svc, Mapping) else 1
    items = spec if isinstance(spec, list) else [spec]
    out: list[Provided] = []
    for item in items:
        required = True
        if isinstance(item, dict):
            flag = item.get("required", True)
            if not isinstance(flag, bool):
                raise UsageError(f"{path}:{line}: `env_file` `required` must be true or false")
            required = flag
            item = item.get("path")
        if not isinstance(item, str):
            raise UsageError(f"{path}:{line}: `env_file` entries must be paths")
        file = os.path.join(os.path.dirname(os.path.abspath(path)), item)
        if not os.path.lexists(file) and not required:
            continue
        why = (f" (an env_file of {path}): a file of the project may name only files inside it"
               if within is not None else "")
        out += dotenv_file.read(file, source="compose", what=f"env_file of {path}:", budget=budget,
                                within=within, why=why)
    return out
