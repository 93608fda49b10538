"""gitenv: reading ``git cat-file --batch`` answers, from a real repository's real output."""

from __future__ import annotations

import io
import subprocess

import pytest
from audit_crash import commit, git

from deploycheck import gitenv
from deploycheck.audit import head


def test_batch_answers_blob_big_blob_missing_and_tree(tmp_path):
    repo = tmp_path / "repo"
    commit(repo, {"app.py": "print('hi')\n", "big.txt": "x" * 5000 + "\n"}, "first")
    small, big = git(repo, "rev-parse", "HEAD:app.py", "HEAD:big.txt").split()
    tree = git(repo, "rev-parse", "HEAD^{tree}").strip()
    asked = f"{small}\n{'0' * 40}\n{big}\n{tree}\n{small}\n"
    out = subprocess.run(["git", "-C", str(repo), "cat-file", "--batch"], input=asked.encode(),
                         capture_output=True, check=True).stdout
    answers = io.BytesIO(out)
    assert gitenv.batch_answer(answers, 1000) == (b"blob", b"print('hi')\n")
    assert gitenv.batch_answer(answers, 1000) is None  # missing
    assert gitenv.batch_answer(answers, 1000) == (b"blob", None)  # 5001 bytes: read past, not kept
    kind, content = gitenv.batch_answer(answers, 1000)
    assert kind == b"tree" and b"app.py\0" in content
    assert gitenv.batch_answer(answers, 1000) == (b"blob", b"print('hi')\n")  # still in step after all that
    with pytest.raises(ValueError):
        gitenv.batch_answer(answers, 1000)  # the output is over
    with pytest.raises(ValueError):  # an answer cut in its content
        gitenv.batch_answer(io.BytesIO(out[:len(small) + 20]), 1000)


def test_materialize_writes_the_revision_s_wanted_files(tmp_path):
    repo = tmp_path / "repo"
    first = commit(repo, {"app/main.py": "import os\n", "README.md": "# app\n", "requirements.txt": "flask\n"},
                   "first")
    commit(repo, {"app/main.py": "import sys\n"}, "second")
    into = tmp_path / "out"
    into.mkdir()
    assert head.materialize(str(repo), first, str(into)) == 2
    assert (into / "app" / "main.py").read_text() == "import os\n"
    assert (into / "requirements.txt").read_text() == "flask\n"
    assert not (into / "README.md").exists()
