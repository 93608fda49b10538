"""What an image's command starts: the Python entries named by the usual launchers.

Understands ``uvicorn pkg.mod:app``, ``gunicorn pkg.wsgi:application`` (also ``--app``-less positional forms
and ``-k`` options), ``hypercorn``, ``celery -A pkg worker``, ``python -m pkg``, ``python path/script.py``, and
``sh -c "..."`` / ``bash -c`` wrapping any of these, with ``$VAR``, ``${VAR}``, ``${VAR:-default}`` and
``${VAR-default}`` expanded from the image's ``Env`` (shell parameter expansion, POSIX 2.6.2), and the
configuration file gunicorn runs first (``-c``, ``GUNICORN_CMD_ARGS``, else ``./gunicorn.conf.py``). Celery's
subcommand is kept (``worker``, or a plugin's command such as ``flower``), and the arguments of a script, of
``python -m``'s module and of another program (Django's ``manage.py migrate``); any other program is a
candidate that ``frameworks.entrypoints.resolve_scripts`` may find to be a console script of an installed
distribution.
"""

from __future__ import annotations

import dataclasses
import posixpath
import re
import shlex
from dataclasses import dataclass, field

_VAR = re.compile(r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?-)(?P<default>[^}]*))?\}|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))")
_ASGI_WSGI = {"uvicorn", "gunicorn", "hypercorn", "daphne", "granian"}
_SHELLS = {"sh", "bash", "dash", "ash", "zsh"}
# Options of the ASGI/WSGI servers that take a value (so the value is not the application).
_VALUED = {"-b", "--bind", "-w", "--workers", "-k", "--worker-class", "-c", "--config", "--host", "--port",
           "--log-level", "--timeout", "-t", "--root-path", "--env-file", "--log-config", "--name", "-n",
           "--chdir", "--app-dir", "--threads", "--max-requests", "--graceful-timeout", "--keep-alive",
           "--access-logfile", "--error-logfile", "--forwarded-allow-ips", "--proxy-headers", "--uds", "--fd",
           "--limit-concurrency", "--backlog", "--loop", "--http", "--ws", "--lifespan", "--interface",
           "--user", "-u", "--group", "-g", "--pid", "-p", "--worker-tmp-dir", "--certfile", "--keyfile",
           "-e", "--env", "--reload-dir"}


@dataclass(frozen=True)
class LaunchEntry:
    """A module the command imports first, and the attribute it looks up there (``app`` of ``pkg.mod:app``),
    or a script path when the command runs a file. ``workdir`` is prepended to the search path when the
    launcher does that (``python -m``, ``python script.py``'s own directory, the servers' ``--chdir``)."""

    module: str | None
    attribute: str | None
    script: str | None
    launcher: str
    search_dir: str | None = None
    # What must exist for the command to start at all (compared apart, in the launcher's own tests):
    program: str | None = field(default=None, compare=False)  # the server command run (`uvicorn`): on PATH?
    runner: str | None = field(default=None, compare=False)  # the module `python -m` runs (`uvicorn`, `celery`)
    path: str | None = field(default=None, compare=False)  # the PATH the program is looked up on
    command: str | None = field(default=None, compare=False)  # the subcommand (`celery ... flower`)
    # The words after the script, the module of `python -m` or a program not recognized (`manage.py migrate`,
    # `django-admin migrate`): what the entry's own command line reads.
    arguments: tuple[str, ...] = field(default=(), compare=False)
    console_script: str | None = field(default=None, compare=False)  # found as `name = module:function`
    # The module name a launcher runs ``script`` under when it loads the file itself, not by a module name
    # (gunicorn's configuration file runs as ``__config__``); the first step of its chains (``step``).
    loaded_as: str | None = field(default=None, compare=False)
    step: str | None = field(default=None, compare=False)
    candidate: bool = field(default=False, compare=False)  # a program not recognized: a console script?
    # Whether the launcher calls ``attribute`` at start-up: True for a factory (``gunicorn 'pkg:create_app()'``,
    # ``uvicorn --factory``), None when it does if it is a function (``flask --app pkg:create_app``).
    call: bool | None = field(default=False, compare=False)


def expand(text: str, env: dict[str, str]) -> str:
    """Shell parameter expansion of ``$VAR``, ``${VAR}``, ``${VAR:-default}`` and ``${VAR-default}``."""

    def sub(m: re.Match) -> str:
        name = m.group("braced") or m.group("plain")
        value = env.get(name)
        op = m.group("op")
        if op == ":-" and not value:
            return m.group("default") or ""
        if op == "-" and value is None:
            return m.group("default") or ""
        return value or ""

    return _VAR.sub(sub, text)


def entries(entrypoint: list[str] | None, cmd: list[str] | None, env: dict[str, str], workdir: str = "/",
            is_file=None) -> list[LaunchEntry]:
    """The Python entries an image's ``Entrypoint`` + ``Cmd`` (OCI image config) start; [] when unknown.
    ``is_file(path)`` says whether the image holds a file: gunicorn's default configuration file
    (``./gunicorn.conf.py``) is an entry only where it is; without ``is_file`` it is not looked for."""
    argv = list(entrypoint or []) + list(cmd or [])
    return _argv(argv, env, workdir or "/", 0, is_file)


def _argv(argv: list[str], env: dict[str, str], workdir: str, depth: int, is_file=None) -> list[LaunchEntry]:
    if not argv or depth > 4:
        return []
    prog = posixpath.basename(argv[0])
    if prog in ("tini", "dumb-init", "gosu", "su-exec", "exec", "env"):
        rest = argv[1:]
        if prog in ("gosu", "su-exec") and rest:
            rest = rest[1:]  # the user
        while rest and (rest[0].startswith("-") or (prog == "env" and "=" in rest[0])):
            rest = rest[1:]
        return _argv(rest, env, workdir, depth + 1, is_file)
    if prog in _SHELLS and len(argv) >= 3 and argv[1] in ("-c", "-ec", "-ce", "-lc"):
        script = expand(argv[2], env)
        found: list[LaunchEntry] = []
        for command in re.split(r"&&|\|\||;|\n", script):
            try:
                words = shlex.split(command)
            except ValueError:
                continue
            while words and words[0] in ("exec", "command"):
                words = words[1:]
            while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):
                words = words[1:]  # VAR=value prefixes
            found.extend(_argv(words, env, workdir, depth + 1, is_file))
        return found
    argv = [expand(a, env) for a in argv]
    if re.fullmatch(r"python(3(\.\d+)?)?", prog):
        return _python(argv[1:], workdir, env, is_file)
    if prog.endswith(".py") and len(prog) > 3:  # a script run by its ``#!`` line (``./manage.py migrate``)
        return _python(argv, workdir, env, is_file)
    if prog in _ASGI_WSGI:
        return _needing(_server(prog, argv[1:], workdir, env, is_file), program=argv[0], path=env.get("PATH"))
    if prog == "celery":
        return _needing(_celery(argv[1:], workdir), program=argv[0], path=env.get("PATH"))
    if prog == "flask":
        return _needing(_flask(argv[1:], env, workdir), program=argv[0], path=env.get("PATH"))
    if prog and not prog.startswith("-") and "=" not in prog:
        # Perhaps a console script of an installed distribution (frameworks.entrypoints.resolve_scripts).
        return [LaunchEntry(None, None, None, prog, workdir, program=argv[0], path=env.get("PATH"),
                            candidate=True, arguments=tuple(argv[1:]))]
    return []


def _needing(found: list[LaunchEntry], program: str | None = None, runner: str | None = None,
             path: str | None = None) -> list[LaunchEntry]:
    return [dataclasses.replace(e, program=program, runner=runner, path=path) for e in found]


def _python(args: list[str], workdir: str, env: dict[str, str], is_file=None) -> list[LaunchEntry]:
    i = 0
    while i < len(args):
        a = args[i]
        if a == "-m" and i + 1 < len(args):
            module = args[i + 1]
            if module in _ASGI_WSGI:
                return _needing(_server(module, args[i + 2:], workdir, env, is_file), runner=module)
            if module == "celery":
                return _needing(_celery(args[i + 2:], workdir), runner=module)
            if module == "flask":
                return _needing(_flask(args[i + 2:], {}, workdir), runner=module)
            return [LaunchEntry(module, None, None, f"python -m {module}", workdir,
                                arguments=tuple(args[i + 2:]))]
        if a in ("-c",):
            return []
        if a.startswith("-"):
            i += 1
            continue
        script = a if a.startswith("/") else posixpath.normpath(posixpath.join(workdir, a))
        return [LaunchEntry(None, None, script, "python", posixpath.dirname(script),
                            arguments=tuple(args[i + 1:]))]
    return []


def _server(prog: str, args: list[str], workdir: str, env: dict[str, str], is_file=None) -> list[LaunchEntry]:
    """The application a server loads, and gunicorn's configuration file, which it runs first."""
    chdir = workdir
    factory = "--factory" in args  # uvicorn: the attribute is a factory it calls
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("--chdir", "--app-dir") and i + 1 < len(args):
            chdir = posixpath.normpath(posixpath.join(workdir, args[i + 1]))
        if a.startswith("-"):
            i += 2 if (a in _VALUED and "=" not in a) else 1
            continue
        module, _, attr = a.partition(":")
        if module and all(p.isidentifier() for p in module.split(".")):
            name = attr.split("(")[0] or ("application" if prog == "gunicorn" else None)
            found = [LaunchEntry(module, name, None, prog, chdir, call="(" in attr or (factory and bool(name)))]
            return gunicorn_config(args, env, workdir, is_file) + found if prog == "gunicorn" else found
        i += 1
    return gunicorn_config(args, env, workdir, is_file) if prog == "gunicorn" else []


CONFIG_MODULE = "__config__"  # the module name gunicorn runs its configuration file under
DEFAULT_CONFIG = "gunicorn.conf.py"


def _config_option(args: list[str]) -> str | None:
    """The value of the last ``-c``/``--config`` in ``args`` (argparse keeps the last one)."""
    value = None
    for i, a in enumerate(args):
        if a in ("-c", "--config") and i + 1 < len(args):
            value = args[i + 1]
        elif a.startswith("--config="):
            value = a.partition("=")[2]
        elif a.startswith("-c") and len(a) > 2 and not a.startswith("--"):
            value = a[2:]
    return value


def gunicorn_config(args: list[str], env: dict[str, str], workdir: str, is_file) -> list[LaunchEntry]:
    """The configuration file gunicorn runs before it loads the application (gunicorn's settings
    documentation, "config", and ``Application.load_config``): ``-c``/``--config`` of the command line, else of
    ``GUNICORN_CMD_ARGS``, else ``./gunicorn.conf.py`` when it exists. ``python:MODULE`` is imported by name;
    any other value (``file:PATH`` or a path) is a file run as the module ``__config__``. Relative paths and the
    search path are the working directory's: gunicorn reads its configuration before it applies ``--chdir``."""
    value = _config_option(args)
    where = "-c {}"
    if value is None and env.get("GUNICORN_CMD_ARGS"):
        try:
            value = _config_option(shlex.split(env["GUNICORN_CMD_ARGS"]))
        except ValueError:
            value = None  # gunicorn fails on it too, before any of the service's code runs
        where = "GUNICORN_CMD_ARGS -c {}"
    if value is None:
        default = posixpath.join(workdir, DEFAULT_CONFIG)
        if is_file is None or not is_file(default):
            return []
        value, where = DEFAULT_CONFIG, "the default ./{}"
    if value.startswith("python:"):
        module = value[len("python:"):]
        ok = module and all(p.isidentifier() for p in module.split("."))
        return [LaunchEntry(module, None, None, "gunicorn --config", workdir,
                            step=f"imports its configuration module ({where.format(value)})")] if ok else []
    path = value.removeprefix("file:")
    if not path:
        return []
    script = posixpath.normpath(posixpath.join(workdir, path))
    return [LaunchEntry(None, None, script, "gunicorn --config", workdir, loaded_as=CONFIG_MODULE,
                        step=f"runs its configuration file ({where.format(value)})")]


def _flask(args: list[str], env: dict[str, str], workdir: str) -> list[LaunchEntry]:
    """``flask --app APP COMMAND`` (or ``FLASK_APP``): Flask's command line loads ``APP``, a module, a file
    path or ``MODULE:NAME``, and calls ``NAME`` when it is a function (Flask's documentation, "Application
    Discovery"); without a name, the flask loader looks for the app or factory Flask looks for."""
    app = env.get("FLASK_APP")
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("--app", "-A") and i + 1 < len(args):
            app = args[i + 1]
        elif a.startswith("--app="):
            app = a.partition("=")[2]
        i += 1
    if not app:
        return []
    module, _, attr = app.partition(":")
    if module.endswith(".py"):
        module = module[:-3].replace("/", ".")
    if not module or not all(p.isidentifier() for p in module.split(".")):
        return []
    name = attr.split("(")[0] or None
    return [LaunchEntry(module, name, None, "flask", workdir, call=True if "(" in attr else None)]


# Celery's global options that take a value (``celery --help``): what follows them is not the subcommand.
_CELERY_VALUED = {"-A", "--app", "-b", "--broker", "--result-backend", "--loader", "--config", "--workdir"}


def _celery(args: list[str], workdir: str) -> list[LaunchEntry]:
    """``celery [-A app] [global options] COMMAND ...``: the app module and the subcommand (``worker``,
    ``beat``, or a plugin's command such as ``flower``)."""
    app: str | None = None
    command: str | None = None
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-A", "--app") and i + 1 < len(args):
            app = app or args[i + 1]
        elif a.startswith("--app="):
            app = app or a.split("=", 1)[1]
        if a.startswith("-"):
            i += 2 if (a in _CELERY_VALUED and command is None) else 1
            continue
        command = command or a
        i += 1
    if app:
        module, _, attr = app.partition(":")
        return [LaunchEntry(module, attr or None, None, "celery", workdir, command=command)]
    return [LaunchEntry(None, None, None, "celery", workdir, command=command)]
