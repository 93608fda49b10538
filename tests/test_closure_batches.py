"""The closure walk parses what a frontier needs in batches the parse workers share, not one file at a time:
``from lib7 import name`` needs lib7's summary to know whether ``name`` is a submodule, and attribute reads
need the summaries along ``a.b.c``. Asked one at a time, a cold walk of Django's tree parsed 215 files alone
in the main process."""

from __future__ import annotations

import sys

from deploycheck.artifact.files import HostFiles
from deploycheck.check import open_program
from deploycheck.environment import interpreter

LIBS = 12


def _tree(root):
    (root / "app.py").write_text("".join(f"from lib{i} import value{i}\n" for i in range(LIBS))
                                 + "import deep.a.b\nX = deep.a.b.c.VALUE\n")
    for i in range(LIBS):
        # each lib module imports the next one's names: the frontier's from-imports name modules not yet read
        nxt = f"from lib{i + 1} import value{i + 1}\n" if i + 1 < LIBS else ""
        (root / f"lib{i}.py").write_text(f"{nxt}value{i} = {i}\n")
    for part in ("deep", "deep/a", "deep/a/b"):
        (root / part).mkdir()
        (root / part / "__init__.py").write_text("")
    (root / "deep/a/b/c.py").write_text("VALUE = 1\n")


def test_a_walk_parses_no_file_alone_that_its_frontier_names(tmp_path):
    _tree(tmp_path)
    program, _ = open_program(interpreter.probe(sys.executable), [str(tmp_path)], HostFiles(), None, True)
    loads: list[list[str]] = []
    load = program.store.load

    def recorded(paths):
        before = set(program.store.summaries)
        load(paths)
        loads.append(sorted(set(program.store.summaries) - before))

    program.store.load = recorded
    program.build_closure(["app"])
    ours = [[p for p in batch if p.startswith(str(tmp_path))] for batch in loads]
    alone = [batch for batch in ours if len(batch) == 1 and not batch[0].endswith("app.py")]
    # every lib module is read with the frontier that imports it, the chain deep.a.b.c at once
    assert alone == []
    assert sorted(p for batch in ours for p in batch) == sorted(
        str(p) for p in tmp_path.rglob("*.py"))
    program.store.close()
