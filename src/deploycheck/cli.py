"""Command line: ``deploycheck check [PATH] [--python PY] [--entry MODULE]... [--format text|json]``,
``deploycheck migrate status [PATH]``, ``deploycheck migrate apply ID [PATH] [--write]``, ``deploycheck rule``.

Exit codes: 0 no errors, 1 errors found, 2 usage or input error (a one-line message on stderr, never a
traceback).
"""

from __future__ import annotations

import argparse
import os
import sys

from deploycheck import __version__
from deploycheck.errors import UsageError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse exits 2 as well; keep its message short and ours
        self.print_usage(sys.stderr)
        sys.stderr.write(f"deploycheck: error: {message}\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="deploycheck", description="Find the code that will crash on deploy.")
    parser.add_argument("--version", action="version", version=f"deploycheck {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    check = sub.add_parser("check", help="check a project against the environment that will run it")
    check.add_argument("path", nargs="?", default=".", help="project root (default: .)")
    check.add_argument("--python", help="interpreter of the target environment (default: PATH/.venv/bin/python, else python3)")
    check.add_argument("--entry", action="append", default=[], metavar="MODULE",
                       help="module the service starts from (repeatable; default: every project module)")
    check.add_argument("--format", choices=["text", "json"], default="text")
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
    migrate = sub.add_parser("migrate", help="declared migrations: references left, rewrite them, ban them")
    msub = migrate.add_subparsers(dest="action", required=True, parser_class=_Parser)
    status = msub.add_parser("status", help="references left of each declared migration")
    status.add_argument("path", nargs="?", default=".", help="project root (default: .)")
    status.add_argument("--format", choices=["text", "json"], default="text")
    apply = msub.add_parser("apply", help="rewrite a migration's references (a diff; --write to change files)")
    apply.add_argument("id", help="the migration's id in pyproject.toml")
    apply.add_argument("path", nargs="?", default=".", help="project root (default: .)")
    apply.add_argument("--write", action="store_true", help="write the files (all or nothing)")
    for p in (status, apply):
        p.add_argument("--python", help="interpreter of the target environment (default as for check)")
        p.add_argument("--cache-dir", help="where summaries are cached (default: ~/.cache/deploycheck)")
        p.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    cfg = sub.add_parser("config", help="check the configuration contract of a service for an environment")
    cfg.add_argument("path", nargs="?", default=".", help="project root (default: .)")
    cfg.add_argument("--env", required=True, metavar="NAME", help="the environment (see [tool.deploycheck.environments])")
    cfg.add_argument("--env-file", action="append", default=[], metavar="FILE", help="a dotenv file (repeatable)")
    cfg.add_argument("--manifest", action="append", default=[], metavar="FILE",
                     help="a Kubernetes, Cloud Run / Knative or docker-compose file (repeatable)")
    cfg.add_argument("--container", metavar="NAME", help="the container or compose service that runs the code")
    cfg.add_argument("--connect", action="store_true", help="connect to the databases and caches (DC405)")
    cfg.add_argument("--format", choices=["text", "json"], default="text")
    cfg.add_argument("--python", help="interpreter of the target environment (as for check)")
    cfg.add_argument("--entry", action="append", default=[], metavar="MODULE", help="module the service starts from")
    cfg.add_argument("--cache-dir", help="where summaries are cached (default: ~/.cache/deploycheck)")
    cfg.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    rule = sub.add_parser("rule", help="explain a rule (or list them all)")
    rule.add_argument("code", nargs="?", help="a rule code such as DC102")
    return parser


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
        from deploycheck.migrate import status

        result = status.run(args.path, args.python, args.cache_dir, args.no_cache)
        (status.render_json if args.format == "json" else status.render_text)(result)
        return 0
    from deploycheck.migrate import apply

    return apply.run(args.id, args.path, write=args.write, python=args.python, cache_dir=args.cache_dir,
                     no_cache=args.no_cache)


def _config(args) -> int:
    from deploycheck.contract import report
    from deploycheck.contract import run as contract_run

    result = contract_run.run(contract_run.Options(
        path=args.path, env=args.env, env_files=args.env_file, manifests=args.manifest, connect=args.connect,
        container=args.container, python=args.python, entries=args.entry, cache_dir=args.cache_dir,
        no_cache=args.no_cache,
    ))
    for warning in result.env.warnings:
        sys.stderr.write(f"deploycheck: warning: {result.scrub(warning)}\n")
    (report.render_json if args.format == "json" else report.render_text)(result)
    return 1 if result.errors else 0


def _check(args) -> int:
    from deploycheck import check as check_mod
    from deploycheck.render import json as json_render
    from deploycheck.render import text as text_render

    result = check_mod.run(check_mod.Options(
        path=args.path, python=args.python, entries=args.entry, cache_dir=args.cache_dir, no_cache=args.no_cache,
        platform=args.platform, source=args.source, rev=args.rev, app_dir=args.app_dir,
        progress=args.format == "text",
        tls_verify=None if args.tls_verify is None else args.tls_verify == "true",
        containerfile=args.containerfile,
    ))
    (json_render.render if args.format == "json" else text_render.render)(result)
    return 1 if result.errors else 0


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


def main(argv: list[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):
        try:  # a terminal or pipe that cannot encode a character gets an escape, not a crash
            stream.reconfigure(errors="backslashreplace")  # type: ignore[attr-defined]
        except (AttributeError, ValueError):
            pass
    args = build_parser().parse_args(argv)
    if args.command == "rule":
        return _rule(args.code)
    command = {"check": _check, "migrate": _migrate, "config": _config}[args.command]
    try:
        return command(args)
    # Messages may quote a configuration value (a database URL): every one passes through URL redaction.
    except UsageError as exc:
        sys.stderr.write(f"deploycheck: error: {_redacted(str(exc))}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("deploycheck: interrupted\n")
        return 130
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
