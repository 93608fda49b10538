"""What kind of failure a traceback is, read from its exception types, messages and frames.

Kinds, with the message shapes CPython and the drivers print (the ``builtins`` exception docs; psycopg,
asyncpg and SQLAlchemy messages; pydantic's ValidationError):

- ``undefined-name``: ``NameError: name 'X' is not defined`` (a rename or a migration left a use behind);
- ``import-name``: ``ImportError: cannot import name 'X' from 'M'``;
- ``dependency-drift``: the same, with M's file under ``site-packages`` or ``dist-packages`` (CPython prints
  the module's file after the name): an installed distribution no longer has the name the code imports
  (``explain`` makes it ``import-name`` again when that file is the repository's own, a project installed
  into site-packages);
- ``missing-module``: ``ModuleNotFoundError: No module named 'M'``;
- ``module-attribute``: ``AttributeError: module 'M' has no attribute 'X'``;
- ``missing-setting``: ``KeyError: 'X'`` raised reading ``os.environ``;
- ``invalid-setting``: a pydantic ``ValidationError`` naming the fields of a settings class;
- ``db-auth``: ``password authentication failed for user``;
- ``db-sslmode``: asyncpg's ``connect() got an unexpected keyword argument 'sslmode'``;
- ``db-localhost``: a connection refused on localhost / 127.0.0.1 / ::1 (no database URL reached the service);
- ``db-refused``: any other refused connection;
- ``python-too-old``: a SyntaxError on syntax newer than the interpreter, an import of a standard-library name
  newer than it, or ``X | None`` evaluated on Python before 3.10.
"""

from __future__ import annotations

import re

from deploycheck.audit.groups import in_app
from deploycheck.audit.model import Frame, Frozen, Traceback
from deploycheck.regexes import compiled

# Standard-library names by the Python version that added them (the "What's New" documents).
NEWER_NAMES = {
    ("typing", "TypeAlias"): "3.10", ("typing", "ParamSpec"): "3.10", ("typing", "TypeGuard"): "3.10",
    ("typing", "Self"): "3.11", ("typing", "Never"): "3.11", ("typing", "LiteralString"): "3.11",
    ("typing", "Required"): "3.11", ("typing", "NotRequired"): "3.11", ("typing", "assert_never"): "3.11",
    ("typing", "reveal_type"): "3.11", ("typing", "dataclass_transform"): "3.11", ("typing", "override"): "3.12",
    ("typing", "TypeAliasType"): "3.12", ("datetime", "UTC"): "3.11", ("enum", "StrEnum"): "3.11",
    ("itertools", "pairwise"): "3.10", ("itertools", "batched"): "3.12", ("asyncio", "TaskGroup"): "3.11",
    ("asyncio", "timeout"): "3.11", ("contextlib", "chdir"): "3.11", ("warnings", "deprecated"): "3.13",
}
NEWER_MODULES = {"tomllib": "3.11", "zoneinfo": "3.9", "graphlib": "3.9", "wsgiref.types": "3.11"}
# The patterns are strings, compiled when first used (``regexes.compiled``): a crash needs one or two.
# Syntax by the version that added it (PEP 634 match, PEP 654 except*, PEP 695 type parameters and aliases).
NEWER_SYNTAX = [(r"^\s*match\s+[^=]+:\s*$|^\s*case\s+.+:\s*$", "3.10", "a match statement (PEP 634)"),
                (r"^\s*except\s*\*", "3.11", "except* (PEP 654)"),
                (r"^\s*type\s+\w+(\[.*\])?\s*=", "3.12", "a type alias statement (PEP 695)"),
                (r"^\s*(async\s+)?(def|class)\s+\w+\[", "3.12", "type parameters (PEP 695)")]
_PYTHON_IN_PATH = r"/python(\d+\.\d+)/"
# ImportError's message ends with the module's file: ``... from 'M' (/usr/lib/python3/site-packages/m/x.py)``
_INSTALLED_FILE = r"\([^()]*[/\\](?:site|dist)-packages[/\\](?P<top>[A-Za-z_][\w.-]*?)(?:[/\\][^()]*)?\)\s*$"

_QUOTED = r"['\"](?P<name>[^'\"]+)['\"]"
_PATTERNS = [
    ("undefined-name", r"^name " + _QUOTED + r" is not defined"),
    ("import-name", r"^cannot import name " + _QUOTED + r" from ['\"](?P<module>[^'\"]+)['\"]"),
    ("missing-module", r"^No module named " + _QUOTED),
    ("module-attribute", r"^module ['\"](?P<module>[^'\"]+)['\"] has no attribute " + _QUOTED),
]
_DB = [
    ("db-auth", r"(?i)password authentication failed for user"),
    ("db-sslmode", r"unexpected keyword argument ['\"]sslmode['\"]"),
    ("db-localhost", (r"(?is)(localhost|127\.0\.0\.1|::1|/var/run/postgresql|/tmp/\.s\.PGSQL).{0,200}"
                      r"(refused|No such file)|(refused|Connect call failed).{0,200}"
                      r"(localhost|127\.0\.0\.1|'::1')")),
    ("db-refused", r"(?i)Connection refused|Connect call failed|could not connect to server"),
]


class Kind(Frozen):
    """A classification: ``kind`` (see the module docstring, or ``unclassified``), the name or module it is
    about, the exception it was read from, its innermost in-app frame, and a sentence saying what it is."""

    kind: str
    exception: Traceback
    frame: Frame | None
    sentence: str
    name: str | None
    module: str | None
    version: str | None  # for python-too-old: the version that added what failed
    distribution: str | None  # for dependency-drift: the installed package's top directory
    module_file: str | None  # for dependency-drift: the module's file, as the message gives it

    def __init__(self, kind: str, exception: Traceback, frame: Frame | None, sentence: str,
                 name: str | None = None, module: str | None = None, version: str | None = None,
                 distribution: str | None = None, module_file: str | None = None) -> None:
        attrs = self.__dict__  # written directly: __setattr__ refuses
        attrs["kind"] = kind
        attrs["exception"] = exception
        attrs["frame"] = frame
        attrs["sentence"] = sentence
        attrs["name"] = name
        attrs["module"] = module
        attrs["version"] = version
        attrs["distribution"] = distribution
        attrs["module_file"] = module_file

    _fields = ("kind", "exception", "frame", "sentence", "name", "module", "version", "distribution",
               "module_file")


def failing_frame(tb: Traceback) -> Frame | None:
    """The innermost in-app frame of ``tb``, else its innermost frame."""
    for f in reversed(tb.frames):
        if in_app(f):
            return f
    return tb.frames[-1] if tb.frames else None


def running_python(tb: Traceback) -> str | None:
    """The Python version the frames' paths show (``/usr/local/lib/python3.9/``), or an ImportError's message
    (``cannot import name 'Self' from 'typing' (/usr/lib/python3.10/typing.py)``), or None."""
    for t in tb.chain():
        for text in [f.path for f in t.frames] + [t.message.partition("\n")[0]]:
            m = compiled(_PYTHON_IN_PATH).search(text)
            if m:
                return m.group(1)
    return None


def _older(running: str | None, needed: str) -> bool:
    if running is None:
        return True  # the syntax or name says the version on its own; the path would only confirm it
    return tuple(map(int, running.split("."))) < tuple(map(int, needed.split(".")))


def classify(tb: Traceback) -> Kind:
    """The kind of the crash ``tb`` (its whole chain is read, the first exception first: a cause often says
    more than the exception that wrapped it)."""
    running = running_python(tb)
    chain = tb.chain()
    for t in chain:
        found = _one(t, running)
        if found is not None:
            return found
    return Kind("unclassified", tb, failing_frame(tb), "not a kind deploycheck recognises"
                if tb.exc_type else "the log does not say which exception it was")


def _one(t: Traceback, running: str | None) -> Kind | None:
    base = t.exc_type.rpartition(".")[2]
    message = t.message
    frame = failing_frame(t)
    if base == "SyntaxError" and t.frames:
        text = t.frames[-1].text or ""
        for pattern, version, what in NEWER_SYNTAX:
            if compiled(pattern).search(text) and _older(running, version):
                return Kind("python-too-old", t, t.frames[-1], f"{what} needs Python {version}", version=version)
        return None
    if base == "TypeError" and "unsupported operand type(s) for |" in message and _older(running, "3.10"):
        return Kind("python-too-old", t, frame, "`X | Y` between types needs Python 3.10 (PEP 604)", version="3.10")
    for kind, pattern in _PATTERNS:
        m = compiled(pattern).search(message)
        if not m:
            continue
        name = m.group("name")
        module = m.groupdict().get("module")
        if kind == "import-name" and (module, name) in NEWER_NAMES and _older(running, NEWER_NAMES[module, name]):
            v = NEWER_NAMES[module, name]
            return Kind("python-too-old", t, frame, f"{module}.{name} was added in Python {v}", name, module, v)
        if kind == "missing-module" and name in NEWER_MODULES and _older(running, NEWER_MODULES[name]):
            v = NEWER_MODULES[name]
            return Kind("python-too-old", t, frame, f"the module {name} was added in Python {v}", None, name, v)
        if kind == "missing-module":
            return Kind(kind, t, frame, f"the module {name} is not installed where the service runs", module=name)
        if kind == "undefined-name":
            return Kind(kind, t, frame, f"the name {name} is used but defined nowhere it could come from", name)
        if kind == "import-name":
            installed = compiled(_INSTALLED_FILE).search(message.partition("\n")[0])
            if installed is not None:
                top = re.sub(r"\.(py|pyc|so|pyd)$|\.cpython-.*$", "", installed.group("top"))
                return Kind("dependency-drift", t, frame, f"the installed {top} has no name {name} (the code was "
                            f"written for another version of it)", name, module, distribution=top,
                            module_file=installed.group(0).strip()[1:-1])
            return Kind(kind, t, frame, f"the module {module} has no name {name}", name, module)
        return Kind(kind, t, frame, f"the module {module} has no attribute {name}", name, module)
    if base == "KeyError" and any("environ" in (f.text or "") or f.path.endswith(("/os.py", "<frozen os>"))
                                  for f in t.frames):
        name = message.strip("'\"")
        return Kind("missing-setting", t, frame, f"the environment variable {name} is not set", name)
    if base == "ValidationError" and "validation error" in message:
        fields = _pydantic_fields(message)
        if fields:
            return Kind("invalid-setting", t, frame,
                        f"the settings field{'s' if len(fields) > 1 else ''} {', '.join(fields)} "
                        f"{'are' if len(fields) > 1 else 'is'} missing or invalid", fields[0])
    for kind, pattern in _DB:
        if compiled(pattern).search(message):
            sentence = {"db-auth": "the database refused the service's password",
                        "db-sslmode": "asyncpg was given libpq's sslmode parameter, which it does not take",
                        "db-localhost": "the service connected to a database on its own host, where none runs",
                        "db-refused": "the database refused the connection"}[kind]
            return Kind(kind, t, frame, sentence)
    return None


def _pydantic_fields(message: str) -> list[str]:
    """The field names of a pydantic ValidationError message: the unindented lines after the first, each
    followed by an indented explanation."""
    lines = message.split("\n")
    out = []
    for i, line in enumerate(lines[1:], start=1):
        if line and not line[0].isspace() and i + 1 < len(lines) and lines[i + 1][:1].isspace():
            out.append(line.strip())
    return out
