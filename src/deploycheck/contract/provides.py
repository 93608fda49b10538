"""What a named environment provides: its dotenv files and manifests (from ``[tool.deploycheck.environments.
NAME]``, then the command line), read in that order. A YAML file is a docker-compose file when it has a
top-level ``services`` mapping and no ``kind``; otherwise Kubernetes / Cloud Run manifests.

Which files may be read: a file the repository names (in ``pyproject.toml``, or an ``env_file`` of a compose
file inside the project) must lie inside the project, links resolved: an untrusted repository must not make
the check read ``~/.aws/credentials`` or ``/etc/shadow`` and quote it. A file the user names on the command
line is read wherever it is, unless it is a project file whose link leads outside the project. All of them
together are bounded (``contract.limits``). Every value is registered with ``contract.scrub`` as soon as its
file is read, so no later message can show it."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from deploycheck.contract import dotenv_file, kube, scrub
from deploycheck.contract.limits import Budget
from deploycheck.contract.model import OpenSource, Provided
from deploycheck.contract.settings import EnvironmentConfig
from deploycheck.contract.textfile import inside

_NAMED = (" (named in pyproject.toml [tool.deploycheck.environments]): a repository may name only its own "
          "files; give a file outside the project with --env-file or --manifest")
_LINKED = ": a file of the project may not lead outside it; give the file it leads to on the command line"


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
    working directory. Raises ``UsageError`` for unusable input (see the readers), for a file the
    repository names outside the project, and past the bounds of ``contract.limits``."""
    env = Environment(cfg.name, cfg.is_local)
    container = container or cfg.container
    real_root = os.path.realpath(root)
    budget = Budget()

    def given(paths: list[str], what: str | None) -> list[tuple[str, str, str | None, str]]:
        """(path, what, the directory it must lie in or None, why); ``what`` None: the command line."""
        if what is not None:
            return [(os.path.join(root, p), what, real_root, _NAMED) for p in paths]
        # A project file named on the command line is still the repository's: its link may not lead out.
        return [(p, "", real_root, _LINKED) if inside(os.path.abspath(p), os.path.abspath(root))
                else (p, "", None, "") for p in paths]

    dotenvs = given(cfg.env_files, "env-files entry") + given(env_files, None)
    yamls = given(cfg.manifests, "manifests entry") + given(manifests, None)
    for path, what, within, why in dotenvs:
        env.files.append(("dotenv", path))
        provided = dotenv_file.read(path, what=what or "--env-file", warnings=env.warnings, budget=budget,
                                    within=within, why=why)
        _register(provided)
        env.provided += provided
    kube_state = kube.Manifests()
    if yamls:  # the YAML parser only when a file needs it (`deploycheck start --env-file` does without)
        from deploycheck.contract import compose, yamlfile
    for path, what, within, why in yamls:
        docs = yamlfile.load_all(path, budget, within, why, what or "--manifest")
        if compose.is_compose(docs):
            env.files.append(("compose", path))
            project_file = inside(os.path.abspath(path), os.path.abspath(root))
            provided = compose.read(path, docs[0], container, budget, real_root if project_file else None)
            _register(provided)
            env.provided += provided
        else:
            start = len(kube_state.provided)
            kube.read(path, docs, container, kube_state, budget)
            env.files.append((kube_state.sources[path], path))
            _register(kube_state.provided[start:])
            for (kind, _name), keys in kube_state.objects.items():
                for value, _line, _path in keys.values():
                    if kind == "secret":
                        scrub.register(value)
                    else:
                        scrub.register_url(value)
    provided, unknown = kube.resolve(kube_state, budget)
    _register(provided)
    env.provided += provided
    env.open = [OpenSource(u.source, u.path, u.line, f"envFrom {'secretRef' if u.kind == 'secret' else 'configMapRef'}"
                           f" {u.name}" + (f" (prefix {u.prefix})" if u.prefix else "")) for u in unknown]
    for (kind, _name), keys in kube_state.objects.items():
        if kind == "secret":
            env.secrets += [v for v, _l, _p in keys.values()]
    env.secrets += [p.value for p in env.provided if p.kind == "secret" and p.value]
    return env


def _register(provided: list[Provided]) -> None:
    for p in provided:
        scrub.register_value(p.name, p.value, p.kind == "secret")
        scrub.register_template(p.template)
