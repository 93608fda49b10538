"""Application factories the launcher calls: ``gunicorn 'pkg.app:create_app()'``, ``uvicorn --factory
pkg.app:create_app``, ``hypercorn 'pkg.app:create_app()'``, and the same forms given as entries (``--entry``,
the configuration's ``entries``, ``target.entry``).

The server imports the module, then calls the factory before it serves (gunicorn's settings documentation,
"wsgi_app"; uvicorn's, "--factory"): the factory's body is start-up code (``index.startup``). ``flask --app``
and ``FLASK_APP`` are the flask loader's (``frameworks.flask``).
"""

from __future__ import annotations

from deploycheck.frameworks.base import STARTUP, StartupCall
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
    """The start-up calls of the factories that the entries and the image's command name (``Loaded``)."""
    from deploycheck.frameworks import Loaded

    found = Loaded()
    for start in starts(program):
        if start.who == "flask":
            continue  # frameworks.flask
        call = factory(program, start)
        if call is not None and call not in found.calls:
            found.calls.append(call)
    return found
