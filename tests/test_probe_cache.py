"""The interpreter probe's answer is remembered between runs while nothing it depends on changes
(environment.probe_cache): the same Interpreter, without running the interpreter again; a changed executable,
pyvenv.cfg or standard-library directory makes it probe again."""

from __future__ import annotations

import os
import sys
import time

from deploycheck.environment import interpreter, probe_cache


def _counting_python(tmp_path):
    """An interpreter (a script that runs this one) that counts its runs in ``runs``."""
    runs = tmp_path / "runs"
    script = tmp_path / "bin" / "python"
    script.parent.mkdir()
    script.write_text(f"#!/bin/sh\necho run >> {runs}\nexec {sys.executable} \"$@\"\n")
    script.chmod(0o755)
    return script, runs


def _count(runs) -> int:
    return len(runs.read_text().splitlines()) if runs.exists() else 0


def test_an_answer_is_remembered_and_the_same(tmp_path):
    python, runs = _counting_python(tmp_path)
    cache = str(tmp_path / "cache")
    fresh = interpreter.probe(str(python))
    assert _count(runs) == 1
    first = interpreter.probe(str(python), cache_dir=cache)
    again = interpreter.probe(str(python), cache_dir=cache)
    assert _count(runs) == 2  # the second answer came from the cache
    assert first == again == fresh
    assert len(os.listdir(os.path.join(cache, "probe-v1"))) == 1


def test_a_change_of_what_the_answer_depends_on_probes_again(tmp_path):
    python, runs = _counting_python(tmp_path)
    cache = str(tmp_path / "cache")
    interpreter.probe(str(python), cache_dir=cache)
    interpreter.probe(str(python), cache_dir=cache)
    assert _count(runs) == 1
    (tmp_path / "pyvenv.cfg").write_text("home = /nowhere\n")  # a pyvenv.cfg appears beside bin/
    interpreter.probe(str(python), cache_dir=cache)
    assert _count(runs) == 2
    time.sleep(0.01)
    python.write_text(python.read_text() + "# changed\n")  # the executable itself changes
    interpreter.probe(str(python), cache_dir=cache)
    interpreter.probe(str(python), cache_dir=cache)
    assert _count(runs) == 3


def test_a_damaged_or_foreign_entry_is_probed_again(tmp_path):
    python, runs = _counting_python(tmp_path)
    cache = tmp_path / "cache"
    first = interpreter.probe(str(python), cache_dir=str(cache))
    (entry,) = (cache / "probe-v1").iterdir()
    foreign = '{"answer": {"version": [2, 7, 18]}, "seen": {}}'
    for text in ("{not json", '{"answer": [], "seen": {}}', foreign):
        entry.write_text(text)
        assert interpreter.probe(str(python), cache_dir=str(cache)) == first
    assert _count(runs) == 4
    assert probe_cache.recall(str(cache), str(python)) is not None  # written back whole
