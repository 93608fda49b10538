"""What a project declares: pyproject dependencies and pip requirements files, read as pip reads them."""

from __future__ import annotations

import os

import pytest

from deploycheck.errors import UsageError
from deploycheck.target import declared


def _reqs(root) -> list[tuple[str, str, int]]:
    return [(str(r), os.path.relpath(p, root), line) for r, p, line in declared.read(str(root)).requirements]


def test_includes_continuations_hashes_and_constraints(tmp_path):
    (tmp_path / "reqs").mkdir()
    (tmp_path / "requirements.txt").write_text(
        "-r reqs/base.txt\nflask==2.0.3 \\\n    --hash=sha256:0123\n-c constraints.txt\n--index-url https://x\n")
    (tmp_path / "reqs" / "base.txt").write_text('requests>=2\n--requirement=more.txt\nredis>=5 ; python_version >= "3.8"\n')
    (tmp_path / "reqs" / "more.txt").write_text("click\n")
    assert _reqs(tmp_path) == [("requests>=2", "reqs/base.txt", 1), ("click", "reqs/more.txt", 1),
                               ('redis>=5; python_version >= "3.8"', "reqs/base.txt", 3),
                               ("flask==2.0.3", "requirements.txt", 2)]


@pytest.mark.parametrize("files, message", [
    ({"requirements.txt": "-r nope.txt\n"}, "cannot read requirements file {root}/nope.txt: No such file or directory"),
    ({"requirements.txt": "ok\nflask=2\n"}, "{root}/requirements.txt:2: invalid requirement 'flask=2': Expected"),
    ({"requirements.txt": "-r requirements.txt\n"}, "{root}/requirements.txt: includes itself (through -r)"),
    ({"pyproject.toml": '[project]\nname = "s"\nversion = "1"\ndependencies = [\n  "ok",\n  "bad name",\n]\n'},
     "{root}/pyproject.toml:6: invalid requirement 'bad name': Expected"),
])
def test_what_pip_would_refuse_is_a_usage_error(tmp_path, files, message):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(UsageError) as err:
        declared.read(str(tmp_path))
    assert str(err.value).startswith(message.format(root=tmp_path))
    assert "\n" not in str(err.value)


def test_dependencies_that_are_not_a_list_are_a_usage_error(tmp_path):
    # a string was read character by character ("invalid requirement '>'")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "s"\nversion = "1"\ndependencies = "flask>=2"\n')
    with pytest.raises(UsageError, match=r"\[project\] dependencies must be a list of strings \(PEP 621\)"):
        declared.read(str(tmp_path))
