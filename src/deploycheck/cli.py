"""Command line: ``deploycheck check [PATH] [--python PY] [--entry MODULE]... [--format FORMAT]``,
``deploycheck migrate status [PATH]``, ``deploycheck migrate apply ID [PATH] [--write]``, ``deploycheck rule``,
``deploycheck audit --log FILE|- [--source REPO] [--rev REV] [--image IMAGE]`` (exit 0: no crash in the log, 1: a crash
reported, 2: bad input).

The output options (``--format``, ``--output-file``, baselines, the exit-code policy) are ``outputs``'s.

Exit codes: 0 no errors, 1 errors found (``--fail-on``, ``--exit-zero`` change which), 2 usage or input error (a one-line message on stderr, never a
traceback; output that cannot be written is one), 130 on SIGINT and 143 on SIGTERM (128 + the signal, as a
shell reports a command the signal ended).
"""

from __future__ import annotations

# Only what installing the signal handlers needs is imported before main() runs: a signal that arrives
# while the rest is imported is then handled like any other (argparse and re alone take tens of ms).
import os
import sys

from deploycheck import interrupt
from deploycheck.errors import UsageError

_PARSER: list[type] = []


def _parser_class() -> type:
    if _PARSER:
        return _PARSER[0]
    import argparse

    class Formatter(argparse.HelpFormatter):
        # argparse sizes every formatter (one per add_argument) by importing shutil, which loads the
        # compression modules (some 5 ms); the same width without them
        def __init__(self, prog, indent_increment=2, max_help_position=24, width=None):
            super().__init__(prog, indent_increment, max_help_position,
                             _terminal_columns() - 2 if width is None else width)

    class Parser(argparse.ArgumentParser):
        def __init__(self, *args, **kwargs):
            kwargs.setdefault("formatter_class", Formatter)
            super().__init__(*args, **kwargs)

        def error(self, message: str):  # argparse exits 2 as well; keep its message short and ours
            from deploycheck.render.escape import underlying

            self.print_usage(underlying(sys.stderr))  # lines of our own, kept as they are
            sys.stderr.write(f"deploycheck: error: {message}\n")  # escaped by main's stderr
            raise SystemExit(2)

    _PARSER.append(Parser)
    return Parser


def _terminal_columns() -> int:
    """``shutil.get_terminal_size().columns``, as argparse sizes its help: ``COLUMNS`` when a positive
    number, else the width of the terminal on the original standard output, else 80."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns > 0:
        return columns
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80
    except (AttributeError, ValueError, OSError):
        return 80


def _no_project_python(parser) -> None:
    parser.add_argument("--no-project-python", action="store_true",
                        help="run no interpreter the project names (its `python` setting, its .venv): for CI "
                             "on untrusted code; pass --python (also DEPLOYCHECK_NO_PROJECT_PYTHON=1)")


def build_parser(command: str | None = None):
    """The ``argparse`` parser of the command line. With ``command`` (a name of ``_COMMAND_PARSERS``) only
    that subcommand is added: a command line that starts with it is parsed the same, and the other
    subcommands' options (a hundred ``add_argument`` calls) are not built for nothing."""
    from deploycheck import __version__

    _Parser = _parser_class()
    parser = _Parser(prog="deploycheck", description="Find the code that will crash on deploy.")
    parser.add_argument("--version", action="version", version=f"deploycheck {__version__}")
    # the usage line (of an error such as an unrecognized argument) names every command either way
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser,
                                metavar=None if command is None else "{" + ",".join(_COMMAND_PARSERS) + "}")
    for name, add in _COMMAND_PARSERS.items():
        if command is None or name == command:
            add(sub)
    return parser


def _check_parser(sub) -> None:
    from deploycheck import outputs

    check = sub.add_parser("check", help="check a project against the environment that will run it")
    check.add_argument("path", nargs="?", default=".", help="project root (default: .)")
    check.add_argument("--python", help="interpreter of the target environment (default: PATH/.venv/bin/python, else python3)")
    _no_project_python(check)
    check.add_argument("--entry", action="append", default=[], metavar="MODULE",
                       help="module the service starts from, or MODULE:NAME, or MODULE:FACTORY() for an app "
                            "factory the launcher calls (repeatable; default: every project module)")
    outputs.add_options(check)
    check.add_argument("--cache-dir", help="where summaries are cached (default: ~/.cache/deploycheck)")
    check.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    check.add_argument("--source", metavar="DIR",
                       help="for an image: the project's source tree (its requires-python and requirements)")
    check.add_argument("--rev", help="with --source: the revision the image should hold (default HEAD; DC501)")
    check.add_argument("--app-dir", metavar="PATH",
                       help="for an image: where the repository's root was copied (overrides the build file's COPY lines)")
    check.add_argument("--containerfile", metavar="FILE",
                       help="for an image: the build file whose COPY/ADD lines map --source into the image "
                            "(default: Containerfile, then Dockerfile, in --source)")
    check.add_argument("--platform", default="linux/amd64",
                       help="for an image index with several platforms: which one to read (default linux/amd64)")
    check.add_argument("--tls-verify", choices=["true", "false"],
                       help="for docker://REF: false reaches a registry over plain HTTP or with an unverified "
                            "certificate (default: verify)")


def _migrate_parser(sub) -> None:
    from deploycheck import outputs

    migrate = sub.add_parser("migrate", help="declared migrations: references left, rewrite them, ban them")
    msub = migrate.add_subparsers(dest="action", required=True, parser_class=_parser_class())
    status = msub.add_parser("status", help="references left of each declared migration")
    status.add_argument("path", nargs="?", default=".", help="project root (default: .)")
    outputs.add_options(status, fail_on_default=None)
    apply = msub.add_parser("apply", help="rewrite a migration's references (a diff; --write to change files)")
    apply.add_argument("id", help="the migration's id in pyproject.toml")
    apply.add_argument("path", nargs="?", default=".", help="project root (default: .)")
    apply.add_argument("--write", action="store_true", help="write the files (all or nothing)")
    for p in (status, apply):
        p.add_argument("--python", help="interpreter of the target environment (default as for check)")
        _no_project_python(p)
        p.add_argument("--cache-dir", help="where summaries are cached (default: ~/.cache/deploycheck)")
        p.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")


def _config_parser(sub) -> None:
    from deploycheck import outputs

    cfg = sub.add_parser("config", help="check the configuration contract of a service for an environment")
    cfg.add_argument("path", nargs="?", default=".", help="project root (default: .)")
    cfg.add_argument("--env", required=True, metavar="NAME", help="the environment (see [tool.deploycheck.environments])")
    cfg.add_argument("--env-file", action="append", default=[], metavar="FILE", help="a dotenv file (repeatable)")
    cfg.add_argument("--manifest", action="append", default=[], metavar="FILE",
                     help="a Kubernetes, Cloud Run / Knative or docker-compose file (repeatable)")
    cfg.add_argument("--container", metavar="NAME", help="the container or compose service that runs the code")
    cfg.add_argument("--connect", action="store_true", help="connect to the databases and caches (DC405)")
    outputs.add_options(cfg)
    cfg.add_argument("--python", help="interpreter of the target environment (as for check)")
    _no_project_python(cfg)
    cfg.add_argument("--entry", action="append", default=[], metavar="MODULE", help="module the service starts from")
    cfg.add_argument("--cache-dir", help="where summaries are cached (default: ~/.cache/deploycheck)")
    cfg.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")


def _start_parser(sub) -> None:
    from deploycheck import outputs

    start = sub.add_parser("start", help="run an image's command in a sandbox and prove it starts healthy")
    start.add_argument("image", help="the image (oci-archive:FILE, oci:DIR, docker-archive:FILE, docker://REF, ...)")
    start.add_argument("--env", metavar="NAME", help="the environment whose settings the service gets")
    start.add_argument("--env-file", action="append", default=[], metavar="FILE", help="a dotenv file (repeatable)")
    start.add_argument("--manifest", action="append", default=[], metavar="FILE",
                       help="a Kubernetes, Cloud Run / Knative or docker-compose file (repeatable)")
    start.add_argument("--container", metavar="NAME", help="the container or compose service that runs the image")
    start.add_argument("--health", metavar="URL|PATH|PORT",
                       help="how to probe health (default: a TCP connection to $PORT)")
    start.add_argument("--with", dest="with_", action="append", default=[], choices=["postgres", "redis"],
                       help="start a throwaway PostgreSQL or Redis where the environment's URL points (repeatable)")
    start.add_argument("--timeout", type=float, metavar="S", help="seconds to wait for healthy (default 60)")
    start.add_argument("--entry", action="append", default=[], metavar="MODULE",
                       help="for the import probe: module the service starts from, as for check (repeatable; "
                            "default: what the image's command runs)")
    outputs.add_options(start)
    start.add_argument("--source", metavar="DIR",
                       help="the repository the image was built from: findings in its files are placed there")
    start.add_argument("--containerfile", metavar="FILE",
                       help="with --source: the build file whose COPY/ADD lines map the repository into the image "
                            "(default: Containerfile, then Dockerfile, in --source)")
    start.add_argument("--platform", default="linux/amd64", help="for an image index: which platform to run")
    start.add_argument("--tls-verify", choices=["true", "false"], help="for docker://REF (as for check)")
    start.add_argument("--cache-dir", help="where the check's summaries and the import probe's plan per image "
                                           "are cached (default: ~/.cache/deploycheck)")
    start.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")


def _audit_parser(sub) -> None:
    audit = sub.add_parser("audit", help="turn a crash in the logs into an evidence-backed incident report")
    audit.add_argument("--log", required=True, metavar="FILE", help="the log to read (`-`: standard input)")
    audit.add_argument("--source", metavar="REPO", help="the service's git repository")
    audit.add_argument("--rev", help="with --source: the deployed revision (default: the log's revision label "
                                     "when it names a commit, else HEAD)")
    audit.add_argument("--since", metavar="TIME", help="read only entries from this RFC 3339 time on")
    audit.add_argument("--python", help="interpreter for the check run on HEAD (default: deploycheck's own)")
    audit.add_argument("--no-rules", action="store_true", help="do not run deploycheck's check on HEAD")
    audit.add_argument("--image", metavar="IMAGE",
                       help="with --source: the image the service ran (as check reads it); does it hold the files "
                            "of the revision it claims, and if not, which commit they came from")
    audit.add_argument("--app-dir", metavar="PATH",
                       help="with --image: where the repository's root was copied (overrides the build file)")
    audit.add_argument("--platform", default="linux/amd64", help="with --image, for an image index: which "
                       "platform to read (default linux/amd64)")
    audit.add_argument("--tls-verify", choices=["true", "false"], help="with --image docker://REF: as for check")
    audit.add_argument("--format", choices=["text", "json", "markdown", "html"], default="text")
    audit.add_argument("-o", "--output-file", metavar="FILE", help="write the report here (default: stdout)")


def _rule_parser(sub) -> None:
    rule = sub.add_parser("rule", help="explain a rule (or list them all)")
    rule.add_argument("code", nargs="?", help="a rule code such as DC102")


# In the order ``deploycheck --help`` lists them.
_COMMAND_PARSERS = {"check": _check_parser, "migrate": _migrate_parser, "config": _config_parser,
                    "start": _start_parser, "audit": _audit_parser, "rule": _rule_parser}


def _rule(code: str | None) -> int:
    from deploycheck.rules import RULES

    if code is None:
        for r in RULES:
            first = (r.__doc__ or "").strip().splitlines()[0]
            sys.stdout.write(f"{first}\n")
        return 0
    for r in RULES:
        if r.CODE == code.upper():
            sys.stdout.write((r.__doc__ or "").strip() + "\n")
            return 0
    sys.stderr.write(f"deploycheck: error: unknown rule code {code} (see `deploycheck rule`)\n")
    return 2


def _migrate(args) -> int:
    if args.action == "status":
        from deploycheck import outputs
        from deploycheck.findings.located import Placer
        from deploycheck.migrate import status

        result = status.run(args.path, args.python, args.cache_dir, args.no_cache)
        root = outputs.repository_root(result.workspace.project.root)
        findings = [f for f, _ in status.findings(result)]
        # the text and JSON stay the whole progress report (a baseline does not make a migration done); the
        # baseline narrows the findings of the other formats and the exit code
        return outputs.emit(args, "migrate status", root, findings, Placer(root, outputs.source_line()),
                            outputs.Renderers(lambda stream, color: status.render_text(result, stream),
                                              lambda stream: status.render_json(result, stream)))

    from deploycheck.migrate import apply
    from deploycheck.render.escape import EscapedLines

    # The diff quotes the project's source: escaped on a terminal; kept byte for byte for `git apply`.
    out = EscapedLines(sys.stdout, keep_newlines=True) if sys.stdout.isatty() else None
    return apply.run(args.id, args.path, write=args.write, python=args.python, cache_dir=args.cache_dir,
                     no_cache=args.no_cache, out=out)


def _config(args) -> int:
    from deploycheck.contract import report
    from deploycheck.contract import run as contract_run

    result = contract_run.run(contract_run.Options(
        path=args.path, env=args.env, env_files=args.env_file, manifests=args.manifest, connect=args.connect,
        container=args.container, python=args.python, entries=args.entry, cache_dir=args.cache_dir,
        no_cache=args.no_cache,
    ))
    from deploycheck import outputs
    from deploycheck.findings.located import Placer

    for warning in result.env.warnings:
        sys.stderr.write(f"deploycheck: warning: {result.scrub(warning)}\n")
    root = outputs.repository_root(result.project.root)
    return outputs.emit(args, "config", root, result.findings, Placer(root, outputs.source_line()),
                        outputs.Renderers(lambda stream, color: report.render_text(result, stream, color),
                                          lambda stream: report.render_json(result, stream)))


def _check(args) -> int:
    from deploycheck import check as check_mod
    from deploycheck import outputs
    from deploycheck.findings.located import Placer
    result = check_mod.run(check_mod.Options(
        path=args.path, python=args.python, entries=args.entry, cache_dir=args.cache_dir, no_cache=args.no_cache,
        platform=args.platform, source=args.source, rev=args.rev, app_dir=args.app_dir,
        progress=args.format == "text" or args.output_file is not None,
        tls_verify=None if args.tls_verify is None else args.tls_verify == "true",
        containerfile=args.containerfile,
    ))
    if result.image and not result.repository:
        root = result.project.root  # an image without its source: nothing to place in a repository
    else:
        root = outputs.repository_root(result.repository or result.project.root)
    mapping = result.mapping
    declared = result.declared
    placer = Placer(root, outputs.source_line(result.reader),
                    outputs.image_to_repository(mapping, root) if result.image else None,
                    [(req.name, path, line) for req, path, line in declared.requirements] if declared else [],
                    image=bool(result.image))
    def text(stream, color) -> None:
        from deploycheck.render import text as text_render  # rich: only when text is written

        text_render.render(result, stream, color)

    def json(stream) -> None:
        from deploycheck.render import json as json_render

        json_render.render(result, stream)

    return outputs.emit(args, "check", root, result.findings, placer, outputs.Renderers(text, json),
                        result.suppressed)


def _audit(args) -> int:
    import json

    from deploycheck.audit import run as audit_run

    report = audit_run.run(audit_run.Options(log=args.log, source=args.source, rev=args.rev, since=args.since,
                                             python=args.python, run_rules=not args.no_rules,
                                             image=args.image, app_dir=args.app_dir, platform=args.platform,
                                             tls_verify=None if args.tls_verify is None else args.tls_verify == "true"))
    if args.format == "json":
        text = json.dumps({"version": 1, **report.as_dict()}, indent=2) + "\n"
    elif args.format == "html":
        from deploycheck.render import audit_html

        text = audit_html.page(report)
    else:
        from deploycheck.render import audit_markdown

        text = "\n".join(audit_markdown.lines(report, plain=args.format == "text")) + "\n"
    if not args.output_file:
        sys.stdout.write(text)
        return 1 if report.crashed else 0
    try:  # the report is a few hundred lines at most: written whole
        with open(args.output_file, "w", encoding="utf-8") as stream:
            stream.write(text)
    except OSError as exc:
        raise UsageError(f"--output-file {args.output_file}: cannot write it ({exc.strerror or exc})") from None
    return 1 if report.crashed else 0


def _start(args) -> int:
    from deploycheck import outputs
    from deploycheck.start import place, report
    from deploycheck.start import run as start_run

    if args.timeout is not None and not 0 < args.timeout <= 86400:
        raise UsageError("--timeout: expected seconds, more than 0 and at most 86400")
    result = start_run.run(start_run.Options(
        image=args.image, env=args.env, env_files=args.env_file, manifests=args.manifest,
        container=args.container, health=args.health, timeout=args.timeout, platform=args.platform,
        dependencies=list(dict.fromkeys(args.with_)),
        tls_verify=None if args.tls_verify is None else args.tls_verify == "true",
        progress=args.format == "text" or args.output_file is not None, cache_dir=args.cache_dir,
        no_cache=args.no_cache, source=args.source, containerfile=args.containerfile, entries=args.entry,
    ))
    root = outputs.repository_root(args.source or ".")
    return outputs.emit(args, "start", root, result.findings,
                        place.StartPlacer(root, args.image, result.mapping, result.build_file),
                        outputs.Renderers(lambda stream, color: report.render_text(result, stream),
                                          lambda stream: report.render_json(result, stream)))


_NO_PROJECT_PYTHON = "DEPLOYCHECK_NO_PROJECT_PYTHON"  # check.NO_PROJECT_PYTHON, without importing check here


def _redacted(message: str) -> str:
    """A message safe to print: every secret known to the process masked in all its forms, every URL
    redacted (``deploycheck.contract.scrub``)."""
    from deploycheck.contract.scrub import scrub

    return scrub(message)


def _raised_at(exc: BaseException) -> str:
    """Where deploycheck's own code raised ``exc`` (``module.py:line``): an internal error names its place,
    never its message, which may quote any value of the input (``int("secret")``)."""
    tb, where = exc.__traceback__, ""
    while tb is not None:
        path = tb.tb_frame.f_code.co_filename
        if f"{os.sep}deploycheck{os.sep}" in path:
            where = f"{path[path.rindex(f'{os.sep}deploycheck{os.sep}') + 1:]}:{tb.tb_lineno}"
        tb = tb.tb_next
    return where or "?"


class OutputError(UsageError):
    """Standard output cannot be written (a full disk, ``>/dev/full``, an I/O error): exit 2."""


class _Output:
    # Standard output during a command: a write or flush that fails for another reason than a reader gone
    # away (BrokenPipeError, handled in _run) becomes OutputError; the descriptor then points to /dev/null so
    # that what is still buffered cannot fail again when Python flushes it at exit.
    def __init__(self, stream) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        return self._guarded(self.stream.write, text)

    def flush(self) -> None:
        self._guarded(self.stream.flush)

    def _guarded(self, call, *args):
        try:
            return call(*args)
        except BrokenPipeError:
            raise
        except OSError as exc:
            _to_devnull(self.stream)
            raise OutputError(f"cannot write the output ({exc.strerror or exc})") from None

    def __getattr__(self, name: str):
        return getattr(self.stream, name)


def _to_devnull(stream) -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def _settle(stream) -> None:
    """Flush ``stream``; if it cannot be written, point its descriptor to /dev/null so that the flush Python
    does at exit cannot fail (a failed flush at exit makes the exit status 120, not ours)."""
    try:
        stream.flush()
    except (OSError, ValueError):
        _to_devnull(stream)


def _tell_nonblocking(stream, text: str) -> None:
    """Write ``text`` (shorter than PIPE_BUF, so all or nothing) to ``stream``'s descriptor without
    blocking: after a stop signal a stalled reader of stderr must not keep the process alive. What is still
    buffered in ``stream`` goes first when it can without blocking; if anything could not be written, the
    descriptor then points to /dev/null, so that nothing blocks at exit either."""
    try:
        fd = stream.fileno()
        blocking = os.get_blocking(fd)
        os.set_blocking(fd, False)
    except (OSError, ValueError, AttributeError):
        return
    done = True
    try:
        stream.flush()
    except (OSError, ValueError):
        done = False
    try:
        done = os.write(fd, text.encode()) == len(text.encode()) and done
    except OSError:
        done = False
    try:
        os.set_blocking(fd, blocking)
    except OSError:
        pass
    if not done:
        _to_devnull(stream)


# Options naming a path: an empty one is refused rather than read as the working directory.
_PATH_OPTIONS = {"path": "PATH", "source": "--source", "containerfile": "--containerfile",
                 "app_dir": "--app-dir", "cache_dir": "--cache-dir", "log": "--log", "env_file": "--env-file",
                 "manifest": "--manifest", "output_file": "--output-file", "baseline": "--baseline",
                 "write_baseline": "--write-baseline"}


def _empty_path(args) -> str | None:
    for dest, name in _PATH_OPTIONS.items():
        value = getattr(args, dest, None)
        if value == "" or (isinstance(value, list) and "" in value):
            return name
    return None


def _prestart(argv: list[str]) -> None:
    """``deploycheck audit``: start the search of the log now, before the arguments are parsed and the
    modules that read and report are imported (``audit.search.prestart``); the reader claims it."""
    if argv[:1] == ["audit"]:
        from deploycheck.audit import search, triggers

        search.prestart(argv[1:], triggers.TRIGGERS)


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); returns the exit code (see the module
    docstring). On SIGINT or SIGTERM any command stops, every private directory and child process is removed,
    ``deploycheck: interrupted`` is printed and the exit code is 130 or 143 (``deploycheck.interrupt``); both
    signals are then ignored, so that another one while the interpreter exits changes nothing. After a run
    not interrupted, the handlers stay installed, recording only. Called with no ``argv`` (the program's own
    command line: its last call), the objects left are frozen (``gc.freeze``), never collected again."""
    for stream in (sys.stdout, sys.stderr):
        try:  # a terminal or pipe that cannot encode a character gets an escape, not a crash
            stream.reconfigure(errors="backslashreplace")  # type: ignore[attr-defined]
        except (AttributeError, ValueError):
            pass
    if sys.stderr is None:  # started with stderr closed (`2>&-`): there is no one to tell anything
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 -- for the whole process
    if sys.stdout is None:  # started with stdout closed (`>&-`): no report can be written
        sys.stderr.write("deploycheck: error: cannot write the output (standard output is closed)\n")
        _settle(sys.stderr)
        return 2
    streams = sys.stdout, sys.stderr
    code = 2
    try:
        try:
            try:
                interrupt.install()  # inside the try: from here on a signal is an Interrupted caught below
                _prestart(sys.argv[1:] if argv is None else argv)
                from deploycheck.render.escape import EscapedLines

                # stderr: every line escaped (messages quote paths and names from the input); when stderr
                # itself cannot be written there is no one left to tell
                sys.stdout, sys.stderr = _Output(streams[0]), EscapedLines(streams[1], ignore_errors=True)
                code = _run(argv)
                # Still under the handlers: a signal while the report waits on a reader that never reads
                # (a stalled pipe) stops the run instead of waiting with it.
                try:
                    sys.stdout.flush()
                except OutputError as exc:
                    sys.stderr.write(f"deploycheck: error: {exc}\n")
                    code = 2
                except BrokenPipeError:
                    _to_devnull(streams[0])
            finally:
                interrupt.hold()  # from here on a signal is recorded: the cleanup below always runs whole
        except interrupt.Interrupted:
            _to_devnull(streams[0])  # the rest of the report is dropped: flushing it could block again
    finally:
        interrupt.hold()
        early = sys.modules.get("deploycheck.audit.search")  # a search started early and never claimed
        if early is not None:
            early.discard()
        private = sys.modules.get("deploycheck.private")  # made no directory if it was never imported
        if private is not None:
            private.remove_all()
        parsing = sys.modules.get("deploycheck.index.parsing")  # its pool of workers lives for the whole run
        if parsing is not None and interrupt.received() is None:
            parsing.shutdown()  # idle workers end on their own
        interrupt.kill_children()
        if parsing is not None:
            parsing.shutdown(killed=True)  # after a signal: the workers were killed, the pool's thread ends
        if interrupt.received() is not None:
            interrupt.ignore()
            _to_devnull(streams[0])
            _tell_nonblocking(streams[1], "deploycheck: interrupted\n")
        sys.stdout, sys.stderr = streams
        for stream in streams:  # what Python would flush at exit must not fail there (exit status 120)
            _settle(stream)
    signum = interrupt.received()
    # The process exits next, and what must happen before was done above: its objects need no collecting,
    # which Python's collections at exit would do anyway, walking every one of them (some 15 ms).
    if argv is None:  # a caller that passes its own arguments may call again: its garbage stays collectable
        import gc

        gc.freeze()
    return code if signum is None else 128 + signum


def _run(argv: list[str] | None) -> int:
    flag = os.environ.get(_NO_PROJECT_PYTHON)
    try:
        try:
            given = sys.argv[1:] if argv is None else argv
            args = build_parser(given[0] if given and given[0] in _COMMAND_PARSERS else None).parse_args(argv)
        except SystemExit as exc:  # --help, --version, or a usage error argparse has reported
            return 0 if exc.code is None else exc.code if isinstance(exc.code, int) else 2
        command = {"check": _check, "migrate": _migrate, "config": _config, "start": _start,
                   "audit": _audit, "rule": lambda args: _rule(args.code)}[args.command]
        if getattr(args, "no_project_python", False):
            os.environ[_NO_PROJECT_PYTHON] = "1"  # the flag is the variable, for this run (check.py reads it)
        empty = _empty_path(args)
        if empty is not None:
            hint = "name a log file (`-` for standard input)" if empty == "--log" else \
                "name a directory or file (`.` for the working directory)"
            raise UsageError(f"{empty} is empty: {hint}")
        return command(args)
    # Messages may quote a configuration value (a database URL): every one passes through URL redaction.
    except UsageError as exc:
        sys.stderr.write(f"deploycheck: error: {_redacted(str(exc))}\n")
        return 2
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly, as the Python docs advise
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except Exception as exc:  # a bug of ours: one line for the user, the traceback on request
        if os.environ.get("DEPLOYCHECK_DEBUG"):
            raise
        sys.stderr.write(f"deploycheck: internal error: {type(exc).__name__} at {_raised_at(exc)} (its "
                         "message is not shown: it may quote the input; set DEPLOYCHECK_DEBUG=1 for the "
                         "traceback, and please report it)\n")
        return 2
    finally:
        if flag is None:
            os.environ.pop(_NO_PROJECT_PYTHON, None)
        else:
            os.environ[_NO_PROJECT_PYTHON] = flag
