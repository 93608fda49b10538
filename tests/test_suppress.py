"""Suppressions: `# noqa: CODE` on the line, bare `# noqa`, `ignore` and `per-file-ignores` in pyproject."""

from __future__ import annotations

from conftest import bare_venv, check


def _project(tmp_path, pyproject=""):
    proj = tmp_path / "proj"
    (proj / "app").mkdir(parents=True)
    (proj / "app" / "__init__.py").write_text("")
    (proj / "app" / "one.py").write_text(
        "import missing_one  # noqa: DC101\n"
        "import missing_two  # noqa: DC102\n"
        "import missing_three  # noqa\n"
        "from json import nothing_here  # NOQA:DC101,DC102\n"
        "def f():\n"
        "    return undefined_one\n"
    )
    (proj / "app" / "two.py").write_text("import missing_four\n")
    if pyproject:
        (proj / "pyproject.toml").write_text(pyproject)
    return proj


def _codes(result):
    return sorted((f.module, f.code, f.symbol) for f in result.findings)


def test_noqa_comments(tmp_path):
    result = check(_project(tmp_path))
    # A bare `# noqa` is a linter's business: it does not silence a crash.
    assert _codes(result) == [
        ("app.one", "DC101", "missing_three"),
        ("app.one", "DC101", "missing_two"),
        ("app.one", "DC201", "undefined_one"),
        ("app.two", "DC101", "missing_four"),
    ]


def test_ignore_and_per_file_ignores(tmp_path):
    proj = _project(tmp_path, '[tool.deploycheck]\nignore = ["DC201"]\n\n'
                              '[tool.deploycheck.per-file-ignores]\n"app/two.py" = ["DC101"]\n')
    assert _codes(check(proj)) == [("app.one", "DC101", "missing_three"), ("app.one", "DC101", "missing_two")]


def test_noqa_in_third_party_code_does_not_hide_a_crash(tmp_path):
    python, site = bare_venv(tmp_path)
    (site / "vendorlib").mkdir()
    (site / "vendorlib" / "__init__.py").write_text("from json import no_such_name  # noqa: DC102\n")
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "service.py").write_text("import vendorlib\n")
    result = check(proj, python=python)
    assert [(f.module, f.code, f.symbol) for f in result.findings] == [("vendorlib", "DC102", "no_such_name")]
