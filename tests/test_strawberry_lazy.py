"""Strawberry's lazy types (frameworks/strawberry.py) against a real strawberry: the name in
``Annotated["Name", strawberry.lazy("module")]`` is looked up in that module when the schema is built, not in
the module that writes it (NetBox's GraphQL types: 118 warnings said such names were undefined)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import check, venv, write_tree

pytestmark = pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="the environment is pinned for 3.11")

TREE = {
    "gql/__init__.py": "",
    "gql/enums.py": ("import enum\n\nimport strawberry\n\n\n@strawberry.enum\nclass Side(enum.Enum):\n"
                     "    A = 'a'\n"),
    "gql/types.py": ("from typing import TYPE_CHECKING, Annotated\n\nimport strawberry\n\n"
                     "if TYPE_CHECKING:\n    from .enums import *\n\n\n@strawberry.type\nclass Term:\n"
                     "    side: Annotated['Side', strawberry.lazy('gql.enums')]\n"
                     "    near: Annotated['Side', strawberry.lazy('.enums')]\n"),
    # a renamed enum that one type still names
    "gql/broken.py": ("from typing import Annotated\n\nimport strawberry\n\n\n@strawberry.type\nclass Broken:\n"
                      "    side: Annotated['Sides', strawberry.lazy('.enums')]\n"),
    "gql/schema.py": ("import strawberry\n\nfrom gql import types\n\n\n@strawberry.type\nclass Query:\n"
                      "    term: types.Term\n\n\nschema = strawberry.Schema(query=Query)\n"),
}


def test_a_lazy_type_name_is_looked_up_where_strawberry_looks(tmp_path):
    python = venv(["strawberry-graphql==0.324.0"])
    root = write_tree(tmp_path / "p", TREE)
    run = ("import strawberry\nimport gql.schema\nprint('built')\nfrom gql.broken import Broken\n"
           "@strawberry.type\nclass Query:\n    b: Broken\n"
           "try:\n    strawberry.Schema(query=Query)\nexcept Exception as e:\n    print(type(e).__name__, 'Sides' in str(e))\n")
    out = subprocess.run([python, "-c", run], cwd=root, capture_output=True, text=True, check=False)
    assert out.stdout.splitlines() == ["built", "TypeError True"], out.stderr
    result = check(root, python=python, entries=["gql.schema", "gql.broken"])
    got = [(f.code, f.module, f.line, f.symbol, f.severity) for f in result.findings]
    assert got == [("DC201", "gql.broken", 8, "Sides", "warning")]
    assert result.findings[0].message == ("name 'Sides' is not defined in gql.enums, where `strawberry.lazy` "
                                          "looks it up")
