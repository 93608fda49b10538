"""An attribute of a class read through a module (``engineio.Client.reason`` in socketio's class body, which
python-engineio 4.3 lacks): DC103 when the class statement and its bases show it nowhere, nothing when the
class may get attributes its statements do not show. Each case is checked against the interpreter."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import check, write_tree

pytestmark = pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="fixtures state facts of Python 3.11")

LIB = {
    "lib/__init__.py": "from .client import Client, Hooked, Slotted, Patched, Decorated, Meta, Registry\n",
    "lib/base.py": "class Base:\n    kind = 'base'\n",
    "lib/client.py": (
        "import functools\n\nfrom lib.base import Base\n\n\n"
        "class Client(Base):\n    events = ['connect']\n\n    def connect(self):\n        pass\n\n\n"
        "class Registry:\n    def __init_subclass__(cls, **kw):\n        cls.registered = True\n\n\n"
        "class Hooked(Registry):\n    pass\n\n\n"
        "class Slotted:\n    __slots__ = ('sid',)\n\n\n"
        "class Patched:\n    @classmethod\n    def setup(cls):\n        cls.ready = True\n\n\n"
        "Patched.later = 1\nPatched.setup()\n\n\n"
        "def stamp(c):\n    c.stamped = True\n    return c\n\n\n"
        "@stamp\nclass Decorated:\n    pass\n\n\n"
        "class MetaType(type):\n    def __getattr__(cls, name):\n        return name\n\n\n"
        "class Meta(metaclass=MetaType):\n    pass\n"
    ),
}


def _run(root, module: str) -> str:
    proc = subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, '.'); import {module}"],
                          cwd=root, capture_output=True, text=True)
    return proc.stderr.strip().splitlines()[-1] if proc.returncode else ""


def test_a_missing_class_attribute_read_at_import_is_an_error(tmp_path):
    write_tree(tmp_path, {**LIB, "app.py": "import lib\n\n\nclass Wrapper:\n    reason = lib.Client.reason\n"})
    result = check(tmp_path, entries=["app"])
    got = [(f.code, f.path.rpartition("/")[2], f.line, f.severity, f.when, f.symbol) for f in result.findings]
    assert got == [("DC103", "app.py", 5, "error", "import", "reason")]
    assert _run(tmp_path, "app") == "AttributeError: type object 'Client' has no attribute 'reason'"


@pytest.mark.parametrize("read", [
    "lib.Client.kind",  # from its base
    "lib.Client.connect",  # a method
    "lib.Client.mro",  # from type
    "lib.Client.__name__",
    "lib.Hooked.registered",  # set by the base's __init_subclass__
    "lib.Slotted.sid",  # a slot's descriptor
    "lib.Patched.later",  # stored at module level
    "lib.Patched.ready",  # stored by a classmethod (called at import here)
    "lib.Decorated.stamped",  # set by its decorator
    "lib.Meta.anything",  # its metaclass serves every name
])
def test_class_attributes_the_statements_do_not_show_are_not_reported(tmp_path, read):
    write_tree(tmp_path, {**LIB, "app.py": f"import lib\n\nVALUE = {read}\n"})
    assert _run(tmp_path, "app") == ""
    assert check(tmp_path, entries=["app"]).findings == []
