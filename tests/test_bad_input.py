"""Bad input: a clear message and exit 2, or a finding; never a traceback; never a write into the target."""

from __future__ import annotations

import os
import sys

from conftest import cli, cli_json


def _tree(root):
    out = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            out[os.path.relpath(p, root)] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return out


def _project(tmp_path, files: dict[str, bytes | str]):
    proj = tmp_path / "proj"
    proj.mkdir()
    for rel, content in files.items():
        p = proj / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content if isinstance(content, bytes) else content.encode())
    return proj


def test_missing_or_non_python_interpreter(tmp_path):
    proj = _project(tmp_path, {"m.py": "x = 1\n"})
    code, _, err = cli("check", proj, "--python", tmp_path / "no-python")
    assert code == 2 and "--python" in err and "no such file" in err and "Traceback" not in err
    code, _, err = cli("check", proj, "--python", "/bin/true")
    assert code == 2 and "not a Python interpreter" in err
    code, _, err = cli("check", proj, "--python", "/bin/false")
    assert code == 2 and "not a usable Python 3 interpreter" in err
    code, _, err = cli("check", proj, "--python", "definitely-not-on-path-python")
    assert code == 2 and "not found on PATH" in err


def test_path_is_a_file_or_empty(tmp_path):
    f = tmp_path / "file.py"
    f.write_text("x = 1\n")
    code, _, err = cli("check", f, "--python", sys.executable)
    assert code == 2 and "not a directory" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = cli("check", empty, "--python", sys.executable)
    assert code == 2 and "no Python modules found" in err


def test_malformed_configuration(tmp_path):
    proj = _project(tmp_path, {"m.py": "x = 1\n", "pyproject.toml": "[tool.deploycheck\nentries = 1\n"})
    code, _, err = cli("check", proj, "--python", sys.executable)
    assert code == 2 and "invalid TOML" in err
    (proj / "pyproject.toml").write_text('[tool.deploycheck]\nentries = "m"\n')
    code, _, err = cli("check", proj, "--python", sys.executable)
    assert code == 2 and "`entries` must be a list of strings" in err
    (proj / "pyproject.toml").write_text('[tool.deploycheck]\nignore = ["E501"]\n')
    code, _, err = cli("check", proj, "--python", sys.executable)
    assert code == 2 and "`E501` is not a rule code" in err
    (proj / "pyproject.toml").write_text('[tool.deploycheck]\nentries = ["nowhere.to.be.found"]\n')
    code, _, err = cli("check", proj, "--python", sys.executable)
    assert code == 2 and "entry module not found" in err and "nowhere.to.be.found" in err


def test_broken_files_become_findings_and_nothing_is_written(tmp_path):
    deep = "x = " + "(" * 250 + "1" + ")" * 250 + "\n"
    proj = _project(tmp_path, {
        "app/__init__.py": "",
        "app/nul.py": b"x = 1\x00\n",
        "app/latin.py": b"name = 'caf\xe9'\n",
        "app/declared.py": b"# -*- coding: utf-8 -*-\nname = 'caf\xe9'\n",
        "app/bogus_codec.py": b"# -*- coding: no-such-codec -*-\nx = 1\n",
        "app/deep.py": deep,
        "app/fine.py": "# -*- coding: latin-1 -*-\nname = 'caf\xe9'\n".encode("latin-1"),
        "app/huge.py": b"# padding\n" + b"x = 1\n" * (3 * 1024 * 1024),
    })
    os.symlink(proj / "app", proj / "app" / "loop")  # a directory link loop
    os.symlink(proj / "app" / "missing_target.py", proj / "app" / "dangling.py")
    os.mkfifo(proj / "app" / "fifo.py")
    before = _tree(proj)
    code, doc = cli_json("check", proj, "--python", sys.executable, "--no-cache")
    assert _tree(proj) == before
    found = {(f["module"], f["code"], f["severity"]) for f in doc["findings"]}
    assert ("app.nul", "DC202", "error") in found
    assert ("app.latin", "DC202", "error") in found
    assert ("app.declared", "DC202", "error") in found
    assert ("app.bogus_codec", "DC202", "error") in found
    assert ("app.deep", "DC202", "error") in found
    assert ("app.fifo", "DC203", "warning") in found
    assert not any(m == "app.fine" for m, _, _ in found)
    assert code == 1
    # the FIFO, the huge file and the dangling link are neither parsed nor taken from a cache (they were
    # counted "from cache" with --no-cache)
    unread = sorted(f["module"] for f in doc["findings"] if f["code"] == "DC203" and "cannot read" in f["message"])
    assert unread == ["app.dangling", "app.fifo", "app.huge"]
    assert doc["summary"]["unreadable"] == doc["summary"]["files"] - doc["summary"]["parsed"] == 3


def test_huge_file_is_not_analyzed_but_reported(tmp_path):
    proj = _project(tmp_path, {"big.py": b"x = 1\n" * (3 * 1024 * 1024)})
    code, doc = cli_json("check", proj, "--python", sys.executable, "--no-cache")
    assert code == 0
    assert [(f["code"], f["severity"]) for f in doc["findings"]] == [("DC203", "warning")]
    assert "over the 16777216-byte limit" in doc["findings"][0]["message"]


def test_project_path_that_is_not_utf8(tmp_path):
    root = os.path.join(os.fsencode(tmp_path), b"proj\xff")
    os.makedirs(os.path.join(root, b"app"))
    with open(os.path.join(root, b"app", b"__init__.py"), "wb") as f:
        f.write(b"")
    with open(os.path.join(root, b"app", b"mod.py"), "wb") as f:
        f.write(b"x = undefined_q\n")
    cache = tmp_path / "cache"
    code, doc = cli_json("check", os.fsdecode(root), "--python", sys.executable, "--cache-dir", cache)
    assert code == 1
    assert [(f["code"], f["symbol"]) for f in doc["findings"]] == [("DC201", "undefined_q")]
    # the same content at an ordinary path, with the same cache, is still reported
    plain = tmp_path / "plain"
    (plain / "app").mkdir(parents=True)
    (plain / "app" / "__init__.py").write_text("")
    (plain / "app" / "mod.py").write_text("x = undefined_q\n")
    code, doc = cli_json("check", plain, "--python", sys.executable, "--cache-dir", cache)
    assert [(f["code"], f["symbol"]) for f in doc["findings"]] == [("DC201", "undefined_q")]


def test_damaged_cache_entries_are_parsed_again(tmp_path):
    import sqlite3

    proj = _project(tmp_path, {"app/__init__.py": "", "app/mod.py": "from json import nothing\n"})
    cache = tmp_path / "cache"
    assert cli_json("check", proj, "--python", sys.executable, "--cache-dir", cache)[0] == 1
    db = sqlite3.connect(cache / "cache-v1.sqlite")
    with db:
        db.execute("UPDATE kv SET value = ?", (b"\xe9\x01garbage",))
    db.close()
    code, doc = cli_json("check", proj, "--python", sys.executable, "--cache-dir", cache)
    assert code == 1 and [f["symbol"] for f in doc["findings"]] == ["nothing"]


def test_escape_sequences_in_source_are_not_sent_to_the_terminal(tmp_path):
    proj = _project(tmp_path, {"app/__init__.py": "", "app/mod.py": "x = undefined_name  # \x1b]0;pwned\x07\n"})
    code, out, _ = cli("check", proj, "--python", sys.executable, "--no-cache")
    assert code == 1 and "undefined_name" in out
    assert "\x1b]0;pwned" not in out and "\x07" not in out


def test_configuration_typos_are_errors(tmp_path):
    proj = _project(tmp_path, {"m.py": "x = 1\n", "pyproject.toml": '[tool.deploycheck]\nentry = ["m"]\n'})
    code, _, err = cli("check", proj, "--python", sys.executable)
    assert code == 2 and "unknown setting `entry`" in err
    (proj / "pyproject.toml").write_text('[tool.deploycheck]\nignore = ["DC999"]\n')
    code, _, err = cli("check", proj, "--python", sys.executable)
    assert code == 2 and "`DC999` is not a deploycheck rule" in err


def test_entry_given_as_a_launcher_target_or_a_path(tmp_path):
    # a launcher's MODULE:NAME is an entry (its module is walked); a path is not
    proj = _project(tmp_path, {"svc/__init__.py": "", "svc/main.py": "app = 1\n"})
    code, _, err = cli("check", proj, "--python", sys.executable, "--entry", "svc.main:app")
    assert (code, err) == (0, "")
    for entry in ("svc/main.py", "svc.main:", "svc.main:app:x"):
        code, _, err = cli("check", proj, "--python", sys.executable, "--entry", entry)
        assert code == 2 and "give dotted module names such as app.main" in err
