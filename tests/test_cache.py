"""The summary cache: keyed by content, analyzer version and target facts; a second run parses only what
changed; a broken or unwritable cache never breaks a run."""

from __future__ import annotations

import os

import sys

from conftest import ROOT, check, cli


def _project(tmp_path):
    proj = tmp_path / "proj"
    (proj / "app").mkdir(parents=True)
    (proj / "app" / "__init__.py").write_text("")
    (proj / "app" / "a.py").write_text("import json\nfrom app.b import X\n")
    (proj / "app" / "b.py").write_text("X = 1\n")
    return proj


def test_second_run_parses_only_changed_files(tmp_path):
    proj = _project(tmp_path)
    cache = tmp_path / "cache"
    first = check(proj, cache_dir=cache)
    assert first.parsed == first.files > 3  # the project and the standard library modules it imports
    second = check(proj, cache_dir=cache)
    assert second.parsed == 0 and second.files == first.files
    (proj / "app" / "b.py").write_text("X = 2\n")
    third = check(proj, cache_dir=cache)
    assert third.parsed == 1
    assert [f.code for f in third.findings] == []
    (proj / "app" / "b.py").write_text("Y = 2\n")
    fourth = check(proj, cache_dir=cache)
    assert fourth.parsed == 1
    assert [(f.code, f.symbol) for f in fourth.findings] == [("DC102", "X")]
    assert not any(p.name == "__pycache__" for p in proj.rglob("*"))


def test_ruff_results_are_cached_too(tmp_path):
    proj = _project(tmp_path)
    (proj / "app" / "c.py").write_text("def f():\n    return nowhere\n")
    cache = tmp_path / "cache"
    first = check(proj, cache_dir=cache)
    second = check(proj, cache_dir=cache)
    assert [(f.code, f.symbol) for f in first.findings] == [("DC201", "nowhere")]
    assert [(f.code, f.symbol) for f in second.findings] == [("DC201", "nowhere")]


def test_corrupt_or_unwritable_cache_is_ignored(tmp_path):
    proj = _project(tmp_path)
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "cache-v1.sqlite").write_bytes(b"this is not a database")
    result = check(proj, cache_dir=cache)
    assert result.parsed == result.files
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where a directory should be")
    result = check(proj, cache_dir=blocked / "sub")
    assert result.parsed == result.files
    assert os.path.isfile(blocked)


def test_an_unusable_cache_directory_is_said_and_the_check_still_runs(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    code, out, err = cli("check", ROOT / "examples" / "seed-incident", "--python", sys.executable,
                         "--cache-dir", blocker)
    assert code == 1 and "DC201" in out
    assert err == (f"deploycheck: warning: cache directory {blocker} cannot be used (a file, not a directory); "
                   "checking without a cache\n")


def test_a_check_in_process_leaves_nothing_frozen(tmp_path):
    # the summary store freezes the summaries it loads (the collector need not walk them during the run);
    # a process that runs many checks must get them, and any cyclic garbage frozen with them, back
    import gc

    from conftest import check

    (tmp_path / "app.py").write_text("import json\nX = json.dumps(1)\n")
    garbage = []
    garbage.append(garbage)  # a cycle nothing refers to once dropped
    del garbage
    check(tmp_path, entries=["app"])
    assert gc.get_freeze_count() == 0
