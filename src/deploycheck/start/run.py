"""The pipeline of ``deploycheck start IMAGE``: budgets and environment -> the image's root filesystem ->
a private network -> the command in the sandbox, watched until healthy, exited or out of time -> SIGTERM
and the grace period -> rules DC6xx (those whose ``COMMAND`` is ``start``) -> report."""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
import time
from dataclasses import dataclass, field

from deploycheck.errors import UsageError
from deploycheck.findings.finding import ERROR, Finding
from deploycheck.start import budgets as budgets_mod
from deploycheck.start import deps, imports, inside, platform, rootfs, sandbox, tree
from deploycheck.start.logs import LogReader, shown
from deploycheck.start.network import Network
from deploycheck.start.observation import Observation
from deploycheck.start.probe import health, sources

TICK = 0.05  # seconds between two samples of the process tree
DEFAULT_PORT = 8080


@dataclass
class Options:
    image: str
    path: str = "."
    env: str | None = None
    env_files: list[str] = field(default_factory=list)
    manifests: list[str] = field(default_factory=list)
    container: str | None = None
    health: str | None = None
    dependencies: list[str] = field(default_factory=list)  # deps.KINDS
    timeout: float | None = None
    platform: str = "linux/amd64"
    tls_verify: bool | None = None
    progress: bool = False
    cache_dir: str | None = None  # the check's cache, which also keeps the import probe's plan per image
    source: str | None = None  # the repository the image was built from: findings placed in it
    containerfile: str | None = None  # its build file (default: Containerfile, then Dockerfile, in source)
    no_cache: bool = False
    entries: list[str] = field(default_factory=list)  # --entry: the import probe's entries, else the command's


@dataclass
class Result:
    image: str
    observation: Observation
    findings: list[Finding]
    seconds: float
    rootfs_cached: bool
    mapping: object = None  # target.copymap.CopyMap of --source's build file (start.place.image_map)
    build_file: str | None = None

    @property
    def errors(self) -> int:
        return sum(f.severity == ERROR for f in self.findings)

    @property
    def warnings(self) -> int:
        return len(self.findings) - self.errors


def _say(opts: Options, text: str) -> None:
    if opts.progress and sys.stderr.isatty():
        sys.stderr.write(f"deploycheck: {text}\n")
        sys.stderr.flush()


def _environment(opts: Options, root: str) -> dict[str, str]:
    """The variables the deployment sets (``--env``, ``--env-file``, ``--manifest``, read as
    ``deploycheck config`` reads them): name -> value, for those whose value is known."""
    if not (opts.env or opts.env_files or opts.manifests):
        return {}
    from deploycheck.contract import provides
    from deploycheck.contract.settings import EnvironmentConfig
    from deploycheck.target.config import load

    cfg = load(root).environments.get(opts.env or "") or EnvironmentConfig(opts.env or "start")
    env = provides.gather(cfg, root, opts.env_files, opts.manifests, opts.container)
    for warning in env.warnings:
        sys.stderr.write(f"deploycheck: warning: {warning}\n")
    return {p.name: p.value for p in env.provided if p.value is not None}


def run(opts: Options) -> Result:
    """Start ``opts.image`` as the module docstring says. Raises UsageError (or ImageError, one) for bad
    input, a missing tool, or a host that refuses the sandbox."""
    from deploycheck.artifact.image.source import open_image
    from deploycheck.target.config import load

    began = time.monotonic()
    budgets = budgets_mod.load(load(opts.path).start)
    if opts.health:
        health.parse(opts.health, DEFAULT_PORT)  # bad input refused before the image is read
    provided = _environment(opts, opts.path)
    plat = platform.read(opts.manifests, opts.container)  # bad input refused before the image is read
    from deploycheck.start import place

    place.build_path(opts.source, opts.containerfile)  # bad input refused before the image is read
    image = open_image(opts.image, opts.platform, opts.tls_verify)
    try:
        config = image.config
        argv = list(config.get("Entrypoint") or []) + list(config.get("Cmd") or [])
        if not argv:
            raise UsageError(f"{opts.image}: the image has no Entrypoint or Cmd to start")
        _say(opts, "unpacking the image's layers")
        root, cached = rootfs.unpack(image, sandbox.host_owner())
        static_key = imports.cache_key(config, [f"{la.digest}:{la.diff_id}" for la in image.layers],
                                       image.platform, opts.entries)
    finally:
        image.close()
    mapping, build_file = place.image_map(opts.source, opts.containerfile, root)
    try:
        uid, gid, home = sandbox.resolve_user(root, config.get("User") or "")
    except sandbox.UserNotFound as exc:
        raise UsageError(f"{opts.image}: {exc} (a container runtime refuses to start it)") from None
    given, port_note = platform.port(plat, provided, _image_env(config))
    exposed = [p.partition("/")[0] for p in (config.get("ExposedPorts") or {}) if p.endswith("/tcp") or "/" not in p]
    fallback = exposed[0] if plat.name == "kubernetes" and len(exposed) == 1 else str(DEFAULT_PORT)
    port_text = given or _image_env(config).get("PORT") or str(plat.container_port or fallback)
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise UsageError(f"PORT={port_text!r}: not a port number")
    port = plat.container_port if plat.name == "kubernetes" and plat.container_port else int(port_text)
    if plat.name == "kubernetes":
        port_note += (f"; traffic and the default health check go to containerPort {port} of {plat.source}"
                      if plat.container_port else f"; no containerPort in {plat.source}: port {port} is probed"
                      + (" (the image's only EXPOSE)" if port_text == fallback and fallback != str(DEFAULT_PORT) else ""))
    env = sandbox.environment(config.get("Env") or [], {**provided, **({"PORT": given} if given else {})}, home)
    wanted = [deps.target(kind, env) for kind in opts.dependencies]
    for want in wanted:
        if want.port == port:
            raise UsageError(f"--with: {want.setting} names port {want.port}, the service's PORT")
    hosts = [w.host for w in wanted if not _is_address(w.host)]
    probe = sources.choose(opts.health, opts.manifests, opts.container, config, port)
    timeout = opts.timeout if opts.timeout is not None else budgets.timeout_seconds
    sandbox.refuse_nul(argv, env, config.get("WorkingDir") or "/", sorted(config.get("Volumes") or {}))
    volumes = []
    for volume in sorted(config.get("Volumes") or {}) + plat.mounts:
        placed = inside.mount_point(root, volume)
        if placed is None or placed == "/":
            raise UsageError(f"{opts.image}: the image's volume {volume[:200]!r} cannot be mounted: "
                             f"{'it is the root' if placed else 'a file or a broken link is on its path'} "
                             "(a container runtime refuses to start it)")
        volumes.append(placed)
    obs = Observation(argv, port, probe.describe(), budgets.startup_seconds, budgets.memory,
                      budgets.grace_seconds, timeout, memory_limit=budgets.memory_limit)
    obs.dependency_ports = [w.port for w in wanted]
    obs.port_note = port_note
    obs.port_name = "containerPort" if plat.name == "kubernetes" and plat.container_port else "PORT"
    obs.root = (f"read-only (securityContext.readOnlyRootFilesystem of {plat.source})" if plat.read_only_root
                else "writable (a private layer, discarded afterwards, as a container's)")
    workdir = config.get("WorkingDir") or "/"
    if inside.mount_point(root, workdir) is None:  # made when missing, as runc makes the working directory
        raise UsageError(f"{opts.image}: the image's WorkingDir {workdir[:200]!r} cannot be made: a file or a "
                         "broken link is on its path (a container runtime refuses to start it)")
    limits = sandbox.Limits(budgets.memory_limit, budgets.processes, budgets.open_files)
    _say(opts, "finding what the service imports (deploycheck check on the image, or its cached answer)")
    from deploycheck.index.store import Cache, default_cache_dir

    cache_dir = None if opts.no_cache else (opts.cache_dir or default_cache_dir())
    cache = Cache(cache_dir)
    plan, obs.imports_note = imports.plan(
        lambda: imports.static(opts.image, opts.platform, opts.tls_verify, static_key, cache, opts.cache_dir,
                               opts.no_cache, opts.entries), config, env)
    probed_key = None
    if plan is not None:
        probed_key = imports.probe_key(static_key, plan, [sorted(env.items()), workdir, uid, gid, volumes,
                                                          [(w.host, w.port) for w in wanted], opts.dependencies,
                                                          plat.read_only_root],
                                       imports.probe_secret(cache_dir))
        if cache.get_many(imports.PROBED_SPACE, [probed_key]).get(probed_key) == b"%d" % len(plan.steps):
            obs.imports_remembered, obs.imports_probed = True, len(plan.steps)
            obs.imports_left_out = len(plan.left_out)
            plan = None
    net = Network()
    prober = proc = reader = None
    started: list[deps.Dependency] = []
    try:
        sandbox.check_available(net.enter)
        for kind, want in zip(opts.dependencies, wanted):
            _say(opts, f"starting a throwaway {kind} at {want.host}:{want.port} ({want.setting})")
            started.append(deps.start(kind, want, net.enter))
        if plan is not None:
            _say(opts, f"importing {len(plan.steps)} module(s) in the sandbox")
            failures, obs.imports_probed = imports.run(
                plan, lambda argv: sandbox.spawn(net.enter, root, argv, env, workdir, uid, gid, volumes, limits, hosts,
                                                 plat.read_only_root),
                shown, max(timeout, imports.BATCH_SECONDS))
            obs.import_failures = [f.to_json() for f in failures]
            obs.imports_left_out = len(plan.left_out) + max(0, len(plan.steps) - obs.imports_probed)
            if not failures and obs.imports_probed == len(plan.steps):  # only a clean probe is remembered
                cache.put(imports.PROBED_SPACE, probed_key, b"%d" % len(plan.steps))
            cache.close()
        prober = health.Prober(net.enter)
        _say(opts, f"starting {' '.join(argv)} (waiting for {probe.describe()}, at most {timeout:g} s)")
        proc = sandbox.spawn(net.enter, root, argv, env, workdir, uid, gid, volumes, limits, hosts,
                             plat.read_only_root)
        reader = LogReader(proc.stdout, shown)
        def attempt(p: health.Probe) -> dict:
            if p.kind != "exec":
                return prober.attempt(p)
            pid = tree.child(proc.pid)
            if pid is None:
                return {"ok": False, "status": None, "error": "the service is not running"}
            result = health.run_exec(p, pid, uid, gid, env)
            return {**result, "error": shown(result["error"])}

        _watch(obs, proc, net, attempt, probe, timeout)
        if obs.healthy_at is not None:
            _say(opts, f"healthy after {obs.healthy_at:.2f} s; stopping it with SIGTERM")
            _stop(obs, proc, budgets.grace_seconds)
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
        if proc is not None:
            proc.wait()
        if reader is not None:
            reader.join(5)
            obs.log_tail, obs.tracebacks, obs.errors = reader.snapshot()
        if proc is not None:
            proc.stdout.close()
        if prober is not None:
            prober.close()
        for dep in started:
            refused = [shown(line) for line in deps.refusals(dep)]
            obs.dependencies.append({"dependency": dep.describe(), "setting": dep.setting, "refused": refused})
            deps.stop(dep)
        net.close()
        cache.close()
    if obs.exited_at is not None and obs.healthy_at is None and not obs.tracebacks:
        failed = sandbox.setup_failure(obs.log_tail)
        if failed is not None:  # bwrap (or a tool before it) gave up: the service never ran
            raise sandbox.setup_error(failed)
    findings = _rules(obs)
    return Result(opts.image, obs, findings, time.monotonic() - began, cached, mapping, build_file)


def _is_address(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _image_env(config: dict) -> dict[str, str]:
    return dict(item.partition("=")[::2] for item in (config.get("Env") or []) if "=" in item)


def _event(obs: Observation, t: float, event: str, **more) -> None:
    obs.timeline.append({"t": round(t, 3), "event": event, **more})


def _watch(obs: Observation, proc, net: Network, attempt, probe: health.Probe, timeout: float) -> None:
    """Watch the sandbox until healthy, exited, killed for memory, or out of time (``timeout`` seconds, which
    bounds each attempt too); fills ``obs``. ``attempt(probe)`` makes one attempt (``health.Prober.attempt``'s
    answer)."""
    t0 = time.monotonic()
    _event(obs, 0.0, "started", command=obs.command)
    next_probe, failures = probe.initial_delay, 0
    cpu = 0.0
    last_error = ""
    while True:
        tick = time.monotonic()
        now = tick - t0
        rss, cpu_now, _count = tree.sample(proc.pid)
        cpu = max(cpu, cpu_now)
        obs.peak_memory = max(obs.peak_memory, rss)
        if rss > obs.memory_limit:
            proc.kill()
            obs.killed_for_memory = True
            _event(obs, now, "killed", why=f"resident memory {rss} bytes over the limit {obs.memory_limit}")
            break
        code = proc.poll()
        if code is not None:
            obs.exited_at, obs.exit_code = now, (128 - code if code < 0 else code)
            _event(obs, now, "exited", code=obs.exit_code)
            break
        if now >= timeout:
            obs.timed_out = True
            _event(obs, now, "timed out", waited=timeout, **({"error": last_error} if last_error else {}))
            break
        if now >= next_probe:
            # no attempt runs past the wait: a probe's own timeout (an exec probe's timeoutSeconds) is cut
            # to what is left of it
            result = attempt(dataclasses.replace(probe, timeout=max(TICK, min(probe.timeout, timeout - now))))
            done = time.monotonic() - t0
            if result["ok"]:
                obs.healthy_at = done
                _event(obs, done, "healthy", probe=probe.describe(), status=result.get("status"))
                break
            last_error = result.get("error") or (f"HTTP status {result['status']}" if result.get("status") else "")
            failures += done >= probe.start_period  # Docker: failures in the start period do not count
            if probe.failure_threshold is not None and failures >= probe.failure_threshold:
                obs.timed_out = True
                _event(obs, done, "probe failed", failures=failures, error=result.get("error"))
                break
            next_probe = max(next_probe + probe.period, done)
        # the rest of the tick, and not past the next attempt: the work above is not added to every tick
        time.sleep(max(0.0, min(tick + TICK, t0 + next_probe) - time.monotonic()))
    if proc.poll() is None:  # a service healthy within a tick did its work after the last sample
        rss, cpu_now, _count = tree.sample(proc.pid)
        cpu = max(cpu, cpu_now)
        obs.peak_memory = max(obs.peak_memory, rss)
    obs.cpu_seconds = round(cpu, 3)
    obs.listening = net.listening()
    _event(obs, time.monotonic() - t0, "listening", sockets=[f"{a}:{p}" for a, p in obs.listening])


def _stop(obs: Observation, proc, grace: float) -> None:
    """SIGTERM to the service (PID 1 of the sandbox, as ``docker stop`` and the kubelet send it), then up to
    ``grace`` seconds for it to exit; SIGKILL after that."""
    pid = tree.child(proc.pid)
    t0 = time.monotonic()
    if pid is None or proc.poll() is not None:
        return
    base = obs.healthy_at or 0.0
    _event(obs, base, "SIGTERM")
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    while (tick := time.monotonic()) - t0 < grace:
        rss, _cpu, _n = tree.sample(proc.pid)
        obs.peak_memory = max(obs.peak_memory, rss)
        code = proc.poll()
        if code is not None:
            obs.stopped_after = round(time.monotonic() - t0, 3)
            obs.stop_exit_code = 128 - code if code < 0 else code
            _event(obs, base + obs.stopped_after, "stopped", code=obs.stop_exit_code)
            return
        time.sleep(max(0.0, tick + TICK - time.monotonic()))
    proc.kill()
    _event(obs, base + grace, "killed", why=f"still running {grace:g} s after SIGTERM")


def _rules(obs: Observation) -> list[Finding]:
    from deploycheck.rules import of_command

    findings = []
    for rule in of_command("start"):
        findings.extend(rule.check(obs))
    findings.sort(key=lambda f: f.code)
    return findings
