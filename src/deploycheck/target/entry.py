"""What an entry names: a module, or an object of a module that a launcher loads or calls.

The forms are the launchers' own: ``pkg.mod`` (a module), ``pkg.mod:app`` (gunicorn's and uvicorn's
``MODULE:VARIABLE``), ``pkg.mod:create_app()`` (gunicorn's application factory, called with the arguments
written: gunicorn's settings documentation, "wsgi_app"), and ``pkg.mod:obj.attr``. They are accepted
everywhere an entry is (``--entry``, the configuration's ``entries``, an image's command).
"""

from __future__ import annotations

import re
from typing import NamedTuple

_FORM = re.compile(r"(?P<module>[^:()\s]+)(?::(?P<attr>[^:()\s]+)(?P<call>\(.*\))?)?")


class Start(NamedTuple):
    """A launcher loads ``module`` and then ``attribute`` of it (None: the module only). ``call`` is True when
    it calls that attribute at start-up (an application factory), None when it calls it only if it is a
    function (``flask --app pkg:name``), False when it only uses the object; ``who`` names the launcher for
    chains (``gunicorn``; ``the launcher`` for an entry). ``text`` is the entry as written and ``declared``
    the ``(file, line)`` that declares it (the configuration's ``entries``), None when unknown (``--entry``)."""

    module: str
    attribute: str | None
    call: bool | None
    who: str
    text: str = ""
    declared: tuple[str, int] | None = None


def parse(text: str, who: str = "the launcher") -> Start | None:
    """``text`` as an entry, or None when it is no entry of these forms (a dotted module name, then
    optionally ``:`` and a dotted attribute, then optionally a call's parentheses)."""
    m = _FORM.fullmatch(text.strip())
    if m is None:
        return None
    module, attr = m.group("module"), m.group("attr")
    if not all(p.isidentifier() for p in module.split(".")):
        return None
    if attr is not None and not all(p.isidentifier() for p in attr.split(".")):
        return None
    return Start(module, attr, bool(m.group("call")), who, text.strip())
