"""What a named environment provides: its dotenv files and manifests (from ``[tool.deploycheck.environments.
NAME]``, then the command line), read in that order. A YAML file is a docker-compose file when it has a
top-level ``services`` mapping and no ``kind``; otherwise Kubernetes / Cloud Run manifests."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from deploycheck.contract import compose, dotenv_file, kube, yamlfile
from deploycheck.contract.model import OpenSource, Provided
from deploycheck.contract.settings import EnvironmentConfig


@dataclass
class Environment:
    """``provided`` in source order (a later known value overrides an earlier one); ``open`` are sources
    whose variable names are unknown (``envFrom`` a Secret or ConfigMap that was not given); ``files`` are
    ``(kind, path)`` of every source read; ``secrets`` the values known to be secret (for scrubbing);
    ``warnings`` one-line notes on input that was skipped (``"path:line: ..."``, never a value)."""

    name: str
    local: bool
    files: list[tuple[str, str]] = field(default_factory=list)
    provided: list[Provided] = field(default_factory=list)
    open: list[OpenSource] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def gather(cfg: EnvironmentConfig, root: str, env_files: list[str], manifests: list[str],
           container: str | None) -> Environment:
    """Read every source. Configured paths are relative to the project root, command-line ones to the
    working directory. Raises ``UsageError`` for unusable input (see the readers)."""
    env = Environment(cfg.name, cfg.is_local)
    container = container or cfg.container
    dotenvs = [os.path.join(root, p) for p in cfg.env_files] + list(env_files)
    yamls = [os.path.join(root, p) for p in cfg.manifests] + list(manifests)
    for path in dotenvs:
        env.files.append(("dotenv", path))
        env.provided += dotenv_file.read(path, warnings=env.warnings)
    kube_state = kube.Manifests()
    for path in yamls:
        docs = yamlfile.load_all(path)
        if compose.is_compose(docs):
            env.files.append(("compose", path))
            env.provided += compose.read(path, docs[0], container)
        else:
            kube.read(path, docs, container, kube_state)
            env.files.append((kube_state.sources[path], path))
    provided, unknown = kube.resolve(kube_state)
    env.provided += provided
    env.open = [OpenSource(u.source, u.path, u.line, f"envFrom {'secretRef' if u.kind == 'secret' else 'configMapRef'}"
                           f" {u.name}" + (f" (prefix {u.prefix})" if u.prefix else "")) for u in unknown]
    for (kind, _name), keys in kube_state.objects.items():
        if kind == "secret":
            env.secrets += [v for v, _l, _p in keys.values()]
    env.secrets += [p.value for p in env.provided if p.kind == "secret" and p.value]
    return env
