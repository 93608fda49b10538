"""The project walk (target.project): which modules are entries, on real directory trees with links."""

import os

from deploycheck.target.project import open_project, python_files


def _tree(root, files):
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_a_link_deep_in_the_tree_to_a_directory_outside_is_not_walked(tmp_path):
    proj, outside = tmp_path / "proj", tmp_path / "outside"
    _tree(proj, {"app/__init__.py": "", "app/sub/__init__.py": "", "app/sub/views.py": ""})
    _tree(outside, {"__init__.py": "", "secret.py": ""})
    os.symlink(outside, proj / "app" / "sub" / "ext")
    os.symlink(proj / "app" / "sub", proj / "app" / "again")  # inside: walked once, under its first name
    project = open_project(str(proj))
    # the linked package's __init__ is importable (an entry), but nothing under it is walked: no
    # app.again.ext.secret; app/sub is listed once under each name, its modules under the first walked
    assert project.entry_candidates == ["app", "app.again", "app.again.ext", "app.again.views", "app.sub"]
    assert python_files(str(proj)) == [str(proj / "app" / "__init__.py"), str(proj / "app" / "sub" / "__init__.py"),
                                       str(proj / "app" / "sub" / "views.py")]


def test_exclude_patterns_match_paths_from_the_project_root_and_from_the_source_root(tmp_path):
    _tree(tmp_path, {"src/app/__init__.py": "", "src/app/a.py": "", "src/app/b.py": "", "src/app/c.py": "",
                     "pyproject.toml": '[tool.deploycheck]\nexclude = ["src/app/a.py", "app/b.py"]\n'})
    project = open_project(str(tmp_path))
    assert project.entry_candidates == ["app", "app.c"]
    assert sorted(project.modules) == ["app", "app.a", "app.b", "app.c"]
