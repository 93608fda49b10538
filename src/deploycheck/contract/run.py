"""The pipeline of ``deploycheck config``: project -> import closure -> what the code reads -> what the
environment provides -> settings -> rules DC401-DC405 (those whose ``COMMAND`` is ``config``) -> report."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from deploycheck.artifact.files import HostFiles
from deploycheck.contract import closure, live, provides, reads, scrub, urls
from deploycheck.contract.model import Provided, Read, Setting
from deploycheck.contract.settings import EnvironmentConfig
from deploycheck.contract.values import database_values, is_live_kind, live_targets
from deploycheck.contract.withhold import withhold
from deploycheck.errors import UsageError
from deploycheck.findings.finding import ERROR, WARNING, Finding
from deploycheck.findings.suppress import Suppressor
from deploycheck.target.project import Project, open_project


@dataclass
class Options:
    path: str = "."
    env: str = ""
    env_files: list[str] = field(default_factory=list)
    manifests: list[str] = field(default_factory=list)
    connect: bool = False
    container: str | None = None
    python: str | None = None
    entries: list[str] = field(default_factory=list)
    cache_dir: str | None = None
    no_cache: bool = False


@dataclass
class Context:
    """What the config rules see: the settings (reads joined with what the environment provides), the
    attribute misses of config objects, the environment, and whether to connect."""

    project: Project
    env: provides.Environment
    code: reads.CodeContract
    settings: list[Setting]
    connect: bool
    live: dict[str, live.Outcome] = field(default_factory=dict)  # setting name -> outcome of --connect

    def finding(self, code: str, message: str, path: str, line: int, column: int = 0, symbol: str = "",
                module: str = "", when: str = "import", severity: str = ERROR) -> Finding:
        return Finding(code, severity, message, path, line, column, symbol=symbol, module=module, origin="project",
                       when=when)

    @property
    def sources_text(self) -> str:
        return ", ".join(os.path.relpath(p) if not os.path.relpath(p).startswith("..") else p
                         for _, p in self.env.files) or "no sources"

    def open_note(self) -> str:
        return "; ".join(f"{o.ref} ({os.path.basename(o.path)}:{o.line})" for o in self.env.open)

    def unless_open(self, message: str) -> tuple[str, str]:
        """A missing value is certain only when every source's contents are known: with an ``envFrom`` whose
        contents were not given, the finding says so and is a warning. Returns (message, severity)."""
        if self.env.open:
            return f"{message}, unless {self.open_note()} sets it", WARNING
        return message, ERROR


@dataclass
class Result:
    project: Project
    env: provides.Environment
    settings: list[Setting]
    findings: list[Finding]
    closure: closure.Closure
    seconds: float
    scrub: scrub.Scrubber

    @property
    def errors(self) -> int:
        return sum(f.severity == ERROR for f in self.findings)

    @property
    def warnings(self) -> int:
        return len(self.findings) - self.errors


def run(opts: Options) -> Result:
    """Check the contract of the project at ``opts.path`` for environment ``opts.env``. Raises
    ``UsageError`` for bad input (unknown environment without files, unreadable or malformed sources)."""
    start = time.perf_counter()
    if not opts.env or not opts.env.strip():
        raise UsageError("--env NAME is required (the environment to check, such as staging)")
    project = open_project(opts.path)
    env_cfg = project.config.environments.get(opts.env)
    if env_cfg is None:
        if not opts.env_files and not opts.manifests:
            known = ", ".join(sorted(project.config.environments)) or "none configured"
            raise UsageError(f"environment `{opts.env}` is not in [tool.deploycheck.environments] ({known}) and no "
                             "--env-file or --manifest was given")
        env_cfg = EnvironmentConfig(opts.env)
    env = provides.gather(env_cfg, project.root, opts.env_files, opts.manifests, opts.container)
    files = HostFiles()
    clo = closure.build(project, opts.python, opts.entries, opts.cache_dir, opts.no_cache, files)
    code = reads.collect(clo.modules, files.read_bytes, project.config.config_accessors)
    env.warnings += code.warnings
    settings = join(code.reads, env.provided)
    scrubber = scrub.Scrubber()
    for v in env.secrets:
        scrubber.add(v)
    for s in settings:
        for p in s.provided:
            scrubber.value(s.name, p.value, s.secret or p.kind == "secret")
        for r in s.reads:
            scrubber.value(s.name, r.default)
    for p in env.provided:  # variables no code reads may still be secrets
        scrubber.value(p.name, p.value, p.kind == "secret")
        scrub.register_template(p.template)  # a password resolved from an earlier variable
    ctx = Context(project, env, code, settings, opts.connect)
    from deploycheck.rules import of_command

    suppressor = Suppressor(project.config, project.root, [], files)
    findings: list[Finding] = []
    for rule in of_command("config"):
        for f in rule.check(ctx):
            f.message = scrubber(f.message)
            if not suppressor.suppressed(f):
                findings.append(f)
    findings.sort(key=Finding.sort_key)
    _status(settings, findings, ctx)
    withhold(settings, findings, project.boundary)
    return Result(project, env, settings, findings, clo, time.perf_counter() - start, scrubber)


def matches(read: Read, name: str) -> bool:
    names = (read.name, *read.alternatives)
    if read.case_sensitive:
        return name in names
    return name.upper() in {n.upper() for n in names}


def join(code_reads: list[Read], provided: list[Provided]) -> list[Setting]:
    """One setting per name the code reads (case-insensitive pydantic names shown upper-case), with every
    source that provides it; the effective value is the last known provided value, else the single literal
    default of the reads the code does not set before."""
    by_key: dict[str, Setting] = {}
    for r in code_reads:
        key = r.key()
        s = by_key.setdefault(key, Setting(key if not r.case_sensitive else r.name))
        s.reads.append(r)
    # provided variables by name, and by upper-case name, each in source order (index)
    exact: dict[str, list[int]] = {}
    folded: dict[str, list[int]] = {}
    for i, p in enumerate(provided):
        exact.setdefault(p.name, []).append(i)
        folded.setdefault(p.name.upper(), []).append(i)
    for s in by_key.values():
        found: set[int] = set()
        for r in s.reads:
            for n in (r.name, *r.alternatives):
                found.update(exact.get(n, []) if r.case_sensitive else folded.get(n.upper(), []))
        s.provided = [provided[i] for i in sorted(found)]
        known = [p for p in s.provided if p.value is not None]
        if known:
            s.value, s.value_from = known[-1].value, "env"
        elif not s.provided and len(s.used_defaults) == 1:
            s.value, s.value_from = s.used_defaults[0], "default"
    return sorted(by_key.values(), key=lambda s: s.name)


def _status(settings: list[Setting], findings: list[Finding], ctx: Context) -> None:
    codes: dict[str, list[str]] = {}
    for f in findings:
        if f.code != "DC401":
            codes.setdefault(f.symbol, []).append(f.code)
    for s in settings:
        if s.provided:
            last = s.provided[-1]
            kinds = {p.kind for p in s.provided}
            if any(p.value is not None for p in s.provided):
                base = "set"
            elif "secret" in kinds:
                base = "set (secret, value not given)"
            elif "configmap" in kinds:
                base = "set (config map, value not given)"
            elif "templated" in kinds:
                base = "set (templated)"
            elif "host" in kinds:
                base = "set (from the shell)"
            else:
                base = f"set ({last.ref or last.kind})"
        elif s.required:
            base = "missing"
        elif not s.open_reads:
            base = "set by the code"
        elif ctx.env.open:
            base = "default (unless envFrom sets it)"
        else:
            base = "default"
        outcome = ctx.live.get(s.name)
        if outcome is not None:
            base += f", connect: {outcome.result}"
        found = list(dict.fromkeys(codes.get(s.name, [])))
        s.status = base + (f" [{', '.join(found)}]" if found else "")


__all__ = ["Context", "Options", "Result", "database_values", "is_live_kind", "join", "live_targets", "run", "urls"]
