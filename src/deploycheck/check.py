"""The pipeline of ``deploycheck check``: target → files → environment → module index → rules → findings."""

from __future__ import annotations

import os
import posixpath
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from deploycheck import frameworks, scripts
from deploycheck.artifact.files import HostFiles, source_lines
from deploycheck.artifact.image.source import parse_target
from deploycheck.environment import interpreter as interp_mod
from deploycheck.environment import launcher, searchpath
from deploycheck.environment.distributions import Distributions
from deploycheck.environment.interpreter import Interpreter
from deploycheck.errors import UsageError
from deploycheck.findings.finding import ERROR, WARNING, Finding
from deploycheck.findings.suppress import Suppressor
from deploycheck.index import ruff
from deploycheck.index.conditions import Facts
from deploycheck.index.finder import ModuleFinder
from deploycheck.index.program import Hop, Program
from deploycheck.index.store import Cache, SummaryStore, default_cache_dir
from deploycheck.render import progress
from deploycheck.rules import RULES
from deploycheck.rules.context import Context
from deploycheck.target import containerfile, copymap, declared, gitsource, imagemap, layout
from deploycheck.target.config import Config
from deploycheck.target.entry import Start
from deploycheck.target.entry import parse as parse_entry
from deploycheck.target.project import Project, open_project

if TYPE_CHECKING:
    from deploycheck.artifact.image.files import ImageFiles


@dataclass
class Options:
    path: str = "."
    python: str | None = None
    entries: list[str] = field(default_factory=list)
    cache_dir: str | None = None
    no_cache: bool = False
    platform: str = "linux/amd64"
    source: str | None = None  # the project's source tree, for an image target
    rev: str | None = None  # with source and app_dir: the revision the image should hold (DC501)
    app_dir: str | None = None  # where the repository's root is in the image
    progress: bool = False  # a progress bar on stderr while reading image layers (when it is a terminal)
    tls_verify: bool | None = None  # docker:// only: False to reach a plain-HTTP registry (None: skopeo's default)
    containerfile: str | None = None  # the build file mapping the repository into the image


@dataclass
class Result:
    """The outcome of one check: findings after suppression, and what was looked at."""

    project: Project
    interp: Interpreter
    findings: list[Finding]
    modules: int
    files: int
    parsed: int
    entries: list[str]
    seconds: float
    search_path: list[str]
    closure: dict[str, tuple[str, int]] = field(default_factory=dict)  # module name -> (origin, shield)
    sources: dict[str, list[str]] | None = None  # source lines of image findings (read before cleanup)
    image: dict | None = None  # transport, reference, manifest digest and platform of an image target
    unreadable: int = 0  # files of the closure that could not be read (neither parsed nor from the cache)
    notes: list[str] = field(default_factory=list)  # summary lines: what was checked otherwise, or not at all
    layout: object = None  # default mode: target.layout.Layout (script directories, files not entries)
    # (finding, SARIF suppression kind, justification) of the findings a noqa or the configuration hides
    suppressed: list[tuple[Finding, str, str]] = field(default_factory=list)
    repository: str | None = None  # the repository root the findings are placed in (the source tree)
    declared: object = None  # target.declared.Declared of the repository: where requirements are declared
    mapping: object = None  # for an image with its source: target.copymap.CopyMap (image path -> repository)
    phases: dict[str, str] = field(default_factory=dict)  # module name -> when it first runs (program.PHASES)

    @property
    def reader(self):
        """What the renderers read source lines through: the kept image lines, or the host."""
        if self.sources is None:
            return None
        return _Lines(self.sources)

    @property
    def errors(self) -> int:
        return sum(f.severity == ERROR for f in self.findings)

    @property
    def warnings(self) -> int:
        return sum(f.severity == WARNING for f in self.findings)


class _Lines:
    def __init__(self, sources: dict[str, list[str]]) -> None:
        self.sources = sources

    def read_bytes(self, path: str, limit: int = 0) -> bytes:
        if path not in self.sources:
            raise FileNotFoundError(path)
        return "\n".join(self.sources[path]).encode()


# Set to anything but "" or "0", forbids running an interpreter the project names (CI on untrusted pull
# requests); ``--no-project-python`` sets it for one run.
NO_PROJECT_PYTHON = "DEPLOYCHECK_NO_PROJECT_PYTHON"
_ON_PATH = "python3 on PATH"


def default_python(project: Project) -> tuple[str, str]:
    """The interpreter and where it was named: ``python`` in the configuration (relative to the project
    root), else PATH/.venv/bin/python when present, else ``python3`` on PATH. Raises ``UsageError`` for a
    ``.venv`` whose interpreter link is broken (checking with another Python would check the wrong thing)."""
    if project.config.python:
        py = project.config.python
        if os.sep in py and not os.path.isabs(py):
            py = os.path.join(project.root, py)
        return py, "python (pyproject.toml [tool.deploycheck])"
    venv = os.path.join(project.root, ".venv", "bin", "python")
    if os.path.lexists(venv) and not os.path.exists(venv):
        raise UsageError(f"{venv} is a broken link: repair the virtual environment or pass --python")
    if os.path.exists(venv):
        return venv, "the project's .venv"
    return "python3", _ON_PATH


def project_python_refused() -> bool:
    """Whether ``DEPLOYCHECK_NO_PROJECT_PYTHON`` forbids running an interpreter the project names."""
    return os.environ.get(NO_PROJECT_PYTHON, "") not in ("", "0")


def target_interpreter(project: Project, python: str | None, cache_dir: str | None = None) -> Interpreter:
    """The interpreter of the target environment, probed: ``python`` (``--python``) when given, else the
    project's default (``default_python``). Probing runs that program: with ``project_python_refused()``, one
    the project names (its ``python`` setting, its ``.venv``, a ``python3`` on PATH inside the project) is
    refused. Raises ``UsageError`` when it is refused or cannot be run."""
    if python is not None:
        return interp_mod.probe(python, cache_dir=cache_dir)
    py, source = default_python(project)
    if project_python_refused() and (source != _ON_PATH or _inside(interp_mod.resolve_executable(py, source),
                                                                   project.root)):
        raise UsageError(f"{source} {py}: not run, since --no-project-python ({NO_PROJECT_PYTHON}) forbids "
                         "running an interpreter the project names; pass the target's interpreter with "
                         "--python")
    return interp_mod.probe(py, source, cache_dir=cache_dir)


def _project_and_interpreter(path: str, python: str | None,
                             cache_dir: str | None = None) -> tuple[Project, Interpreter]:
    """``open_project(path)`` and the probed target interpreter. With ``--python`` given, the probe (a
    process started and waited for) runs in a thread while the project is listed: the two took a quarter
    of a warm check of Django's tree one after the other. A project error (or Ctrl-C) is raised at once, as
    before: the probe is killed, not waited for (a ``--python`` that never answers held the error for
    ``PROBE_TIMEOUT_S`` seconds)."""
    if python is None:
        project = open_project(path)
        return project, target_interpreter(project, None, cache_dir)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="deploycheck-probe") as pool:
        stop = threading.Event()
        probed = pool.submit(interp_mod.probe, python, "--python", stop, cache_dir)
        try:
            project = open_project(path)
        except BaseException:
            probed.cancel()
            interp_mod.stop_probes(stop)
            raise
        return project, probed.result()


def _gunicorn_config(project: Project, program: Program) -> str | None:
    """Default mode: the project root's ``gunicorn.conf.py`` (not excluded), set up to run as gunicorn runs it
    when started there without ``-c`` (gunicorn's settings documentation, "config": the file
    ``./gunicorn.conf.py`` is read by default, as the module ``__config__``, before the application
    loads). Its name is no module name, so the project walk lists it with the scripts. Only gunicorn runs
    the file, and its ``import gunicorn`` cannot fail there: where the interpreter cannot import gunicorn the
    file never runs, and is not checked (the caller says so)."""
    path = os.path.join(project.root, launcher.DEFAULT_CONFIG)
    if path not in project.scripts or program.find("gunicorn") is None:
        return None
    found = launcher.gunicorn_config([], {}, project.root, os.path.isfile)  # what gunicorn does there
    _launched(program, found)
    return path if found else None


def _launched(program: Program, entries: list) -> None:
    """Set ``program`` up for what launchers run before the application (``LaunchEntry``: gunicorn's
    configuration file): a file found under the launcher's module name, and the hop that begins its chains."""
    for e in entries:
        if e.loaded_as and e.script:  # a file, under a module name of the launcher's
            program.finder.from_files[e.loaded_as] = e.script
        if e.step and (e.loaded_as or e.module):
            program.launched[e.loaded_as or e.module] = Hop(e.launcher.split()[0], None, 0, e.step)


def _inside(path: str, root: str) -> bool:
    return os.path.realpath(path).startswith(os.path.realpath(root) + os.sep)


def check_entries(entries: list[str]) -> list[Start]:
    """The entries parsed (``target.entry``: ``pkg.mod``, ``pkg.mod:app``, ``pkg.mod:create_app()``).
    Raises ``UsageError`` for an entry of none of these forms."""
    out = []
    for e in entries:
        start = parse_entry(e)
        if start is None:
            raise UsageError(f"entry `{e}` is not a module name: give dotted module names such as app.main, "
                             "or MODULE:NAME, or MODULE:FACTORY() for an application factory")
        out.append(start)
    return out


def open_program(interp: Interpreter, roots: list[str], files, cache_dir: str | None,
                 no_cache: bool) -> tuple[Program, Cache]:
    """A program (module finder, summary store, name resolution) over the target's search path for the
    project ``roots``, reading through ``files``, and its summary cache (``cache_dir``, the default one, or
    none with ``no_cache``). The caller closes ``program.store`` and flushes the cache."""
    cache = Cache(None if no_cache else (cache_dir or default_cache_dir()))
    facts = Facts(interp.version, interp.platform, interp.os_name, interp.implementation,
                  tuple(sorted(interp.builtin_modules)))
    store = SummaryStore(facts, cache, files.read_bytes)
    return program_on(interp, roots, files, store), cache


def program_on(interp: Interpreter, roots: list[str], files, store: SummaryStore) -> Program:
    """A program over the target's search path with ``roots`` first, sharing the summary ``store``."""
    spath = searchpath.build(interp, roots, files)
    finder = ModuleFinder(spath.entries, files, interp.extension_suffixes, interp.builtin_modules,
                          interp.frozen_modules, spath.editable, spath.overrides)
    return Program(finder, spath, interp, store)


def run(opts: Options) -> Result:
    """Run every rule over the import closure of the entries, for a source tree or an image target
    (``oci-archive:FILE``, ``oci:DIR``, ``docker-archive:FILE``, ``docker-daemon:NAME[:TAG]``, ``docker://REF``,
    ``containers-storage:REF``). Raises ``UsageError`` for bad input."""
    if parse_target(opts.path) is not None:
        return _run_image(opts)
    if opts.tls_verify is not None:
        raise UsageError("--tls-verify applies to docker:// targets only")
    image_only = {"--source": opts.source, "--rev": opts.rev, "--app-dir": opts.app_dir,
                  "--containerfile": opts.containerfile,
                  "--platform": None if opts.platform == Options.platform else opts.platform}
    given = [flag for flag, value in image_only.items() if value is not None]
    if given:  # silently ignoring them would let a user believe the image checks ran
        verb = "applies" if len(given) == 1 else "apply"
        raise UsageError(f"{', '.join(given)} {verb} to an image target only, not to the directory {opts.path}")
    start = time.perf_counter()
    project, interp = _project_and_interpreter(opts.path, opts.python,
                                               None if opts.no_cache else opts.cache_dir or default_cache_dir())
    entries = opts.entries or project.config.entries
    if not entries and not project.entry_candidates and not project.scripts:
        raise UsageError(f"{opts.path}: no Python modules found (roots: {', '.join(project.roots)})")
    return _analyze(opts, project, interp, HostFiles(), entries, [], start, declared.read(project.root),
                    from_config=not opts.entries)


def _run_image(opts: Options) -> Result:
    # Image reading is imported only for image targets: a source tree's check starts faster without it.
    from deploycheck.artifact.image.files import ImageFiles
    from deploycheck.artifact.image.source import open_image
    from deploycheck.environment import image_python, launcher
    from deploycheck.frameworks import entrypoints

    start = time.perf_counter()
    if opts.python is not None:
        raise UsageError("--python does not apply to an image: the image's own interpreter is used")
    image = open_image(opts.path, opts.platform, opts.tls_verify)
    with progress.layer_bytes(sum(layer.size for layer in image.layers), opts.progress) as on_bytes:
        files = ImageFiles(image, on_bytes=on_bytes)  # owns the image from here: files.close() closes it
    try:
        config = image.config
        env = image_python.environment(config)
        workdir = config.get("WorkingDir") or "/"
        launch = launcher.entries(config.get("Entrypoint"), config.get("Cmd"), env, workdir, files.is_file)
        program_name = None
        argv = list(config.get("Entrypoint") or []) + list(config.get("Cmd") or [])
        if argv and posixpath.basename(argv[0]).startswith("python"):
            program_name = argv[0]
        interp = image_python.interpreter(files, config, image.platform.partition("/")[2], program_name)
        sites = searchpath.site_directories(interp, files)
        launch = [e for e in entrypoints.resolve_scripts(launch, sites, files)
                  if not e.candidate or e.module]  # a program that is no console script is not ours to check
        roots = list(dict.fromkeys([e.search_dir for e in launch if e.search_dir] or [workdir]))
        entries = list(opts.entries) or [e.loaded_as or e.module or posixpath.basename(e.script or "")[:-3]
                                         for e in launch]
        entries = [e for e in entries if e]
        settings = env.get("DJANGO_SETTINGS_MODULE", "")
        if entries and not opts.entries and settings and all(p.isidentifier() for p in settings.split(".")):
            entries.append(settings)  # Django imports it when the service sets itself up
        if not entries:
            raise UsageError(f"{opts.path}: the image's command starts no Python module that deploycheck "
                             "recognizes; name the entries with --entry")
        project = Project(roots[0], roots, Config(), {}, [])
        source = None
        if opts.source is not None:
            if not os.path.isdir(opts.source):
                raise UsageError(f"--source {opts.source}: not a directory")
            source = declared.read(opts.source)
        notes: list[str] = []
        stale = _image_source(opts, files, config.get("Labels") or {}, notes)
        result = _analyze(opts, project, interp, files, entries, [] if opts.entries else launch, start, source,
                          stale, settings_given=bool(settings), environ=env)
        result.notes = notes + result.notes
        result.image = {"transport": image.transport, "reference": image.reference, "manifest": image.manifest,
                        "platform": image.platform}
        if stale is not None and stale.mapping.notes:  # build-file lines DC501/DC502 could not follow
            result.image["notes"] = list(stale.mapping.notes)
        return result
    finally:
        files.close()


def _image_source(opts: Options, files: ImageFiles, labels: dict,
                  notes: list[str]) -> copymap.ImageSource | None:
    """What DC501 and DC502 compare the image with: ``--app-dir`` when given, else the COPY/ADD lines of
    the build file (``--containerfile``, or Containerfile/Dockerfile in ``--source``), else a map inferred
    from where the repository's files are in the image (``target.imagemap``; ``notes`` gets a line saying
    which, or that none could be and the rules did not run); None without a map.
    The commit is resolved when ``--app-dir`` or ``--rev`` is given (UsageError when it cannot be), else
    only when the source is a git repository."""
    if opts.source is None:
        for flag, value in (("--app-dir", opts.app_dir), ("--containerfile", opts.containerfile)):
            if value is not None:
                raise UsageError(f"{flag} needs --source (the repository the image was built from)")
        return None
    if opts.app_dir is not None:
        mapping = copymap.from_app_dir(opts.source, opts.app_dir)
    else:
        build_file = containerfile.find(opts.source, opts.containerfile)
        if build_file is None:
            inferred = imagemap.infer(opts.source, files.tree.root, files)
            notes.append(inferred.note)
            if inferred.mapping is None:
                return None
            mapping = inferred.mapping
        else:
            mapping = containerfile.parse(build_file, opts.source, files.is_dir)
    rev = opts.rev or "HEAD"
    explicit = opts.app_dir is not None or opts.rev is not None
    commit = gitsource.resolve(opts.source, rev) if explicit or gitsource.is_repository(opts.source) else None
    return copymap.ImageSource(opts.source, rev, commit, mapping, labels)


def _analyze(opts: Options, project: Project, interp: Interpreter, files, entries: list[str],
             launch: list, start: float, declarations=None, stale: copymap.ImageSource | None = None,
             settings_given: bool = False, environ: dict[str, str] | None = None,
             from_config: bool = False) -> Result:
    """Walk the closure and run the rules. No ``entries`` is default mode (``scripts``): every module of the
    project's packages is an entry and each directory of scripts is checked with its own search path.
    ``from_config``: the entries are the configuration's (findings about them point at its lines)."""
    starts = check_entries(entries)
    if from_config and entries:
        pyproject = os.path.join(project.root, "pyproject.toml")
        starts = [s._replace(declared=(pyproject, declared.value_line(pyproject, s.text, "entries")))
                  for s in starts]
    entries = list(dict.fromkeys(s.module for s in starts))
    program, cache = open_program(interp, project.roots, files, opts.cache_dir, opts.no_cache)
    program.starts = [s for s in starts if s.attribute]
    program.environ = environ  # an image's Env: what the framework loaders read (DJANGO_SETTINGS_MODULE)
    store, spath = program.store, program.search_path
    program.launch = list(launch)
    _launched(program, launch)
    distributions = Distributions(spath.site_dirs, files)
    default = None
    try:
        if entries:
            missing = frameworks.close(program, entries, settings_given)
        else:
            config = _gunicorn_config(project, program)
            default = scripts.run(project, program, layout.describe(program, distributions),
                                  lambda roots: program_on(interp, roots + project.roots, files, store),
                                  settings_given, extra=[launcher.CONFIG_MODULE] if config else [])
            if config:
                default.notes.append(f"{launcher.DEFAULT_CONFIG} checked as gunicorn runs it when it starts in "
                                     "the project root (its configuration file, before the application)")
            elif os.path.join(project.root, launcher.DEFAULT_CONFIG) in project.scripts:
                default.notes.append(f"{launcher.DEFAULT_CONFIG} not checked: the interpreter cannot import "
                                     "gunicorn, the only program that runs it")
            entries, missing = default.entries, []
    finally:
        store.close()
    if missing and not launch:
        raise UsageError(f"entry module not found on the target's search path: {', '.join(missing)}")

    on_host = isinstance(files, HostFiles)
    contexts = [Context(program, interp, distributions, {}, launch, declarations, stale, project,
                        list(entries))]
    for sp in default.programs if default else ():
        contexts.append(Context(sp.program, interp, distributions, {}, [], None, stale, project, sp.entries,
                                only=sp.only))
    boundary = getattr(project, "boundary", None)
    if on_host and boundary is not None:  # what the project's code puts on sys.path (target.boundary)
        for ctx in contexts:
            boundary.named_dirs.extend(d for d in ctx.program.search_path.named if d not in boundary.named_dirs)
    checked = {
        n.module.path: store.hashes[n.module.path]
        for ctx in contexts for n in ctx.program.nodes.values()
        if n.module.path and n.module.path in store.hashes and (
            n.origin == "project" or (n.origin == "third-party" and (on_host or _unparsed(store, n.module.path))))
    }
    overlaid = getattr(files, "overlay", None) is not None  # edited contents (migrate apply's re-check)
    infile = ruff.analyze(checked, interp.version, cache, None if on_host and not overlaid else files)
    suppressor = Suppressor(project.config, project.root, spath.site_dirs, files)
    findings: list[Finding] = []
    hidden: list[tuple[Finding, str, str]] = []
    seen: set[tuple] = set()
    for i, ctx in enumerate(contexts):
        ctx.infile = infile
        for rule in RULES:
            if getattr(rule, "COMMAND", "check") != "check":
                continue  # the configuration-contract rules run in `deploycheck config`
            if i and rule.CODE in _PROJECT_WIDE:
                continue  # about the project, not a closure: said once
            for f in rule.check(ctx):
                key = (f.code, f.path, f.line, f.column, f.symbol)
                if key in seen:
                    continue
                seen.add(key)
                why = suppressor.reason(f)
                if why is None:
                    findings.append(f)
                else:
                    hidden.append((f, *why))
    cache.flush()
    findings.sort(key=Finding.sort_key)
    closure = {name: (node.origin, node.shield) for name, node in program.nodes.items()}
    paths = {n.module.path for n in program.nodes.values()}
    for ctx in contexts[1:]:  # a script directory's modules, and what only scripts import
        for name, node in ctx.program.nodes.items():
            if name not in closure and node.module.path not in paths:
                closure[name] = (node.origin, node.shield)
    shown = entries + [e for sp in default.programs for e in sp.entries] if default else entries
    result = Result(project, interp, findings, len(closure), len(store.summaries), store.parsed, shown,
                    time.perf_counter() - start, spath.entries + spath.added, closure)
    result.unreadable = store.unreadable
    result.suppressed = hidden
    result.declared = declarations
    result.mapping = stale.mapping if stale is not None else None
    result.repository = project.root if on_host else (stale.repo if stale is not None else opts.source)
    result.phases = {name: node.phase for name, node in program.nodes.items()}
    if default is not None:
        result.notes = default.notes
        result.layout = default.layout
    if not on_host:  # the text renderer shows source lines after the image's private files are gone
        result.sources = {f.path: source_lines(f.path, files) for f in findings + [h[0] for h in hidden]}
    return result


# Rules about the project or the target as a whole, not about a closure: a script directory's program does not
# run them again.
_PROJECT_WIDE = {"DC301", "DC501", "DC503", "DC505", "DC506"}


def _unparsed(store: SummaryStore, path: str) -> bool:
    summ = store.summaries.get(path)
    return bool(summ and summ.syntax_error)
