"""Application factories the launcher calls: ``gunicorn 'pkg.app:create_app()'``, ``uvicorn --factory
pkg.app:create_app``, ``hypercorn 'pkg.app:create_app()'``, and the same forms given as entries (``--entry``,
the configuration's ``entries``, ``target.entry``).

The server imports the module, then calls the factory before it serves (gunicorn's settings documentation,
"wsgi_app"; uvicorn's, "--factory"): the factory's body is start-up code (``index.startup``). ``flask --app``
and ``FLASK_APP`` are the flask loader's (``frameworks.flask``).
"""

from __future__ import annotations

from deploycheck.frameworks.base import REQUEST, STARTUP, StartupCall
from deploycheck.index import startup


def starts(program) -> list:
    """What the entries and the image's command name beyond a module (``target.entry.Start``)."""
    from deploycheck.target.entry import Start

    out = list(getattr(program, "starts", ()))
    for e in getattr(program, "launch", ()):
        if e.module and e.call is not False:  # flask's without an attribute too (frameworks.flask)
            out.append(Start(e.module, e.attribute, e.call, e.launcher))
    return out


def factory(program, start, who: str | None = None) -> StartupCall | None:
    """The start-up call of ``start`` when the launcher calls a function there: always for a factory
    (``call`` True), for ``call`` None only when the name is a function (a value is used as the app)."""
    if start.call is False or not start.attribute or start.module not in program.nodes:
        return None
    fn = startup.function_of(program, start.module, start.attribute)
    if fn is None:
        return None
    step = f"{who or start.who} calls {start.module}:{start.attribute}()"
    return StartupCall(fn[0], fn[1], start.module, 0, step, STARTUP)


def load(program):
    """The start-up calls of the factories that the entries and the image's command name, and the
    application gunicorn's configuration file names (``config_app``) (``Loaded``)."""
    from deploycheck.frameworks import Loaded

    found = Loaded()
    todo = list(starts(program))
    edge, start = config_app(program)
    if edge is not None:
        found.edges.append(edge)
        todo.append(start)
    for start in todo:
        if start.who == "flask":
            continue  # frameworks.flask
        call = factory(program, start)
        if call is not None and call not in found.calls:
            found.calls.append(call)
    found.calls += [c for c in config_hooks(program) if c not in found.calls]
    return found


# gunicorn's server hooks (its settings documentation, "Server Hooks") that every start runs, by phase: the
# arbiter's before and as it forks the workers, the worker's once it is set up; the request hooks around the
# first request. The others run on a reload, a signal, a worker's exit or the arbiter's.
HOOKS = {"on_starting": STARTUP, "when_ready": STARTUP, "pre_fork": STARTUP, "post_fork": STARTUP,
         "post_worker_init": STARTUP, "pre_request": REQUEST, "post_request": REQUEST}


def config_hooks(program) -> list:
    """The start-up calls of the server hooks that gunicorn's configuration file defines (``HOOKS``): a
    module-level ``def post_fork(server, worker):`` of it runs in every start, so its failures are deploy
    failures, not "when called"."""
    from deploycheck.environment.launcher import CONFIG_MODULE

    if CONFIG_MODULE not in program.nodes:
        return []
    out = []
    for hook, phase in HOOKS.items():
        fn = startup.function_of(program, CONFIG_MODULE, hook)
        if fn is not None and fn[0] == CONFIG_MODULE:
            out.append(StartupCall(fn[0], fn[1], CONFIG_MODULE, 0, f"gunicorn calls its {hook} server hook", phase))
    return out


def config_app(program) -> tuple:
    """``(Edge, Start)`` for the application gunicorn's configuration file names by its ``wsgi_app`` setting,
    or ``(None, None)``. gunicorn loads it when its command line names no application (gunicorn's settings
    documentation, "wsgi_app"; ``WSGIApplication.load_config``): ``wsgi_app = "proj.wsgi:application"``
    imports ``proj.wsgi`` at start-up and reads ``application`` (a missing one is reported at the setting's
    line); ``"pkg:create_app()"`` calls the factory. Only a value the configuration surely sets counts."""
    from deploycheck.environment.launcher import CONFIG_MODULE
    from deploycheck.frameworks.base import Edge
    from deploycheck.frameworks.settings import Interpreter, evaluate
    from deploycheck.frameworks.values import CERTAIN, strings
    from deploycheck.target.entry import parse

    if CONFIG_MODULE not in program.nodes or any(
            e.module and e.launcher.split()[0] == "gunicorn" for e in getattr(program, "launch", ())):
        return None, None  # no configuration file, or the command line names the application
    scope = evaluate(Interpreter(program), CONFIG_MODULE)
    value = scope.vars.get("wsgi_app") if scope is not None else None
    named = strings(value) if value is not None else []
    if len(named) != 1 or named[0][2] != CERTAIN:
        return None, None
    text, where, _ = named[0]
    start = parse(text)
    if start is None:
        return None, None
    start = start._replace(who="gunicorn")
    line = where[1] if where else 0
    step = f"gunicorn loads wsgi_app {text!r} of its configuration file"
    attribute = start.attribute.partition(".")[0] if start.attribute and not start.call else None
    return Edge(CONFIG_MODULE, start.module, line, step, STARTUP, attribute=attribute), start
