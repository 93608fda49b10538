"""``[tool.deploycheck.config]`` and ``[tool.deploycheck.environments.NAME]`` in pyproject.toml: validated here
so that the core configuration only has to pass the tables on.

.. code-block:: toml

    [tool.deploycheck.config]
    accessors = { "app.core.config.get_unified_config" = "app.core.config.AppConfig" }
    # or a list, the schema class read from each accessor's return annotation:
    # accessors = ["app.core.config.get_unified_config"]

    [tool.deploycheck.environments.staging]
    env-files = [".env.staging"]                      # dotenv files
    manifests = ["deploy/k8s.yaml", "deploy/run.yaml"] # Kubernetes, Cloud Run / Knative, docker-compose
    local = false                                     # default: true for dev, local, test
    container = "api"                                 # the container / compose service (default: all / the one built)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from deploycheck.errors import UsageError

LOCAL_NAMES = {"dev", "local", "test"}
_ENV_KEYS = {"env-files", "manifests", "local", "container"}


@dataclass
class EnvironmentConfig:
    """One named environment: its dotenv files and manifests (paths relative to the project root), whether it
    is local (defaults in it may point at this machine), and which container or compose service runs the
    code (None: every container of a workload; the one built service of a compose file)."""

    name: str
    env_files: list[str] = field(default_factory=list)
    manifests: list[str] = field(default_factory=list)
    local: bool | None = None
    container: str | None = None

    @property
    def is_local(self) -> bool:
        return self.local if self.local is not None else self.name.lower() in LOCAL_NAMES


def _dotted(value: object) -> bool:
    return isinstance(value, str) and bool(value) and all(p.isidentifier() for p in value.split("."))


def parse_accessors(table: object, where: str) -> dict[str, str | None]:
    """``accessors`` as ``{accessor qualified name: schema class qualified name or None}`` (None: read the
    schema from the accessor's return annotation). Raises ``UsageError`` for any other shape."""
    where = f"{where}.config"
    if not isinstance(table, dict):
        raise UsageError(f"{where} must be a table")
    unknown = sorted(set(table) - {"accessors"})
    if unknown:
        raise UsageError(f"{where}: unknown setting `{unknown[0]}` (known: accessors)")
    acc = table.get("accessors", {})
    out: dict[str, str | None] = {}
    if isinstance(acc, list):
        for a in acc:
            if not _dotted(a):
                raise UsageError(f"{where}: accessor `{a}` is not a dotted name such as app.config.get_settings")
            out[a] = None
    elif isinstance(acc, dict):
        for a, schema in acc.items():
            if not _dotted(a) or not _dotted(schema):
                raise UsageError(f"{where}: accessors must map dotted names to dotted class names "
                                 "(\"app.config.get_settings\" = \"app.config.Settings\")")
            out[a] = schema
    else:
        raise UsageError(f"{where}: `accessors` must be a table of accessor = class, or a list of accessors")
    return out


def parse_environments(table: object, where: str) -> dict[str, EnvironmentConfig]:
    """``environments`` as ``{name: EnvironmentConfig}``. Raises ``UsageError`` for unknown keys or wrong
    types."""
    where = f"{where}.environments"
    if not isinstance(table, dict):
        raise UsageError(f"{where} must be a table of environments")
    out: dict[str, EnvironmentConfig] = {}
    for name, env in table.items():
        w = f"{where}.{name}"
        if not isinstance(env, dict):
            raise UsageError(f"{w} must be a table")
        unknown = sorted(set(env) - _ENV_KEYS)
        if unknown:
            raise UsageError(f"{w}: unknown setting `{unknown[0]}` (known: {', '.join(sorted(_ENV_KEYS))})")
        cfg = EnvironmentConfig(name)
        for key in ("env-files", "manifests"):
            value = env.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise UsageError(f"{w}: `{key}` must be a list of paths")
            setattr(cfg, key.replace("-", "_"), value)
        local = env.get("local")
        if local is not None and not isinstance(local, bool):
            raise UsageError(f"{w}: `local` must be true or false")
        cfg.local = local
        container = env.get("container")
        if container is not None and not isinstance(container, str):
            raise UsageError(f"{w}: `container` must be a string")
        cfg.container = container
        out[name] = cfg
    return out
