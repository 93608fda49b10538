"""Abuse of `deploycheck migrate`: journals it did not write, a live apply, files changed or refused while
it writes, FIFOs and devices where a state or journal file is expected, signals. Every run is the real command
in the sandbox of tests/abuse.py; faults are real (strace stops, signals and fails real system calls; chattr;
mounts).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from abuse import EXE, OUTSIDE_SECRET, _children, snapshot
from hypothesis import given, settings
from hypothesis import strategies as st

PY = sys.executable
STRACE = shutil.which("strace")
OLD = "from pkg.old import Old\n\nv = Old.A\n"
NEW = "from pkg.new import New\n\nv = New.a\n"
PROJECT = {
    "pyproject.toml": '[[tool.deploycheck.migrations]]\nid = "x"\nold = "pkg.old.Old"\nnew = "pkg.new.New"\n'
                      '[tool.deploycheck.migrations.attributes]\nA = "a"\n',
    "pkg/__init__.py": "",
    "pkg/old.py": "class Old:\n    A = 1\n",
    "pkg/new.py": "class New:\n    a = 1\n",
    "a.py": OLD,
    "b.py": OLD,
    "c.py": OLD,
}
STATUS = ("migrate", "status", ".", "--python", PY)
DRY_RUN = ("migrate", "apply", "x", ".", "--python", PY)
WRITE = (*DRY_RUN, "--write")
COMMANDS = {"status": STATUS, "dry-run": DRY_RUN, "write": WRITE}
# Renames of one apply --write, in order (all renameat(2)): the journal saved as prepared, then as committed,
# then a.py, b.py, c.py.
FIRST_FILE_RENAME = 3


def _sha(text: str | bytes) -> str:
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()


def _setup(sandbox, monkeypatch) -> Path:
    """The project, its baseline recorded (so the read-only commands change nothing in it), and the user
    cache of the sandbox as the place journals are looked for."""
    sandbox.write({**PROJECT, ".deploycheck-migrations.json": json.dumps(
        {"version": 1, "migrations": {"x": {"old": "pkg.old.Old", "baseline": 6, "completed": False}}})})
    monkeypatch.setenv("XDG_CACHE_HOME", str(sandbox.home / ".cache"))
    return sandbox.project


def _journal_path(sandbox) -> Path:
    from deploycheck.migrate import journal

    return Path(journal.location(os.path.realpath(sandbox.project)))


def _plant(sandbox, files: list, state: str = "committed", token: str = "ab" * 16, **fields) -> Path:
    """A journal in the user cache, where `apply --write` keeps its own; ``files`` as a journal lists them."""
    st = os.stat(sandbox.project)
    doc = {"format": "deploycheck-migrate-journal", "version": 1, "root": os.path.realpath(sandbox.project),
           "device": st.st_dev, "inode": st.st_ino, "migration": "x", "token": token, "state": state,
           "files": files, **fields}
    path = _journal_path(sandbox)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return path


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.is_symlink() and "__pycache__" not in p.parts}


def _litter(root: Path) -> list[str]:
    return sorted(p.name for p in root.rglob("*.deploycheck-tmp"))


# -- journals this run did not write ------------------------------------------------------------------------

def test_a_journal_shipped_in_the_project_is_an_ordinary_file(sandbox, monkeypatch):
    # The attack of the issue: the repository ships a journal (where earlier versions kept theirs) that
    # replaces authorized_keys with its own and moves the private key into the project.
    proj = _setup(sandbox, monkeypatch)
    keys = sandbox.outside / ".ssh" / "authorized_keys"
    key = sandbox.outside / ".ssh" / "id_ed25519"
    sandbox.write({".evil.deploycheck-tmp": "ssh-ed25519 AAAAattacker evil@host\n",
                   ".deploycheck-migrate.journal": json.dumps({"pairs": [
                       [str(proj / ".evil.deploycheck-tmp"), "../outside/.ssh/authorized_keys"],
                       [str(key), str(proj / "stolen_key")],
                       [".evil.deploycheck-tmp", str(keys)]]})})
    for name in ("status", "dry-run"):
        out = sandbox.run(*COMMANDS[name]).assert_safe(code=0, one_line=False, secrets=(OUTSIDE_SECRET,))
        assert "completed" not in out.stderr
    out = sandbox.run(*WRITE).assert_safe(code=0, one_line=False, project_unchanged=False,
                                          secrets=(OUTSIDE_SECRET,))
    assert out.stderr == "migrate apply x: rewrote 6 references in 3 files\n"
    assert out.changed_project == [".deploycheck-migrations.json", "a.py", "b.py", "c.py"]
    assert (proj / ".deploycheck-migrate.journal").exists() and not (proj / "stolen_key").exists()
    assert keys.read_text().endswith("user@host\n")


HOSTILE = {  # journals in the user cache naming what a journal of ours never names
    "parent": [["../outside/.ssh/authorized_keys", "0" * 64, "1" * 64, 1, 1]],
    "absolute": [["/etc/passwd", "0" * 64, "1" * 64, 1, 1]],
    "dot-dot inside": [["pkg/../../outside/credentials", "0" * 64, "1" * 64, 1, 1]],
    "old format": None,
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_a_journal_naming_paths_outside_the_project_is_refused_with_nothing_done(sandbox, monkeypatch, kind,
                                                                                  command):
    _setup(sandbox, monkeypatch)
    if HOSTILE[kind] is None:
        jpath = _journal_path(sandbox)
        jpath.parent.mkdir(parents=True)
        jpath.write_text(json.dumps({"pairs": [["../outside/x", "/etc/passwd"]]}))
    else:
        jpath = _plant(sandbox, HOSTILE[kind])
    before = jpath.read_bytes()
    out = sandbox.run(*COMMANDS[command]).assert_safe(code=2, secrets=(OUTSIDE_SECRET,))
    reason = "not a journal of this version" if HOSTILE[kind] is None else \
        "journal file #1 is an absolute path" if kind == "absolute" else \
        "journal file #1 is a path with an empty, `.` or `..` component"
    inside = ", not a file inside the project" if HOSTILE[kind] else ""
    assert out.stderr == (f"deploycheck: error: {jpath}: the journal of an interrupted `migrate apply` "
                          f"cannot be used: {reason}{inside}; nothing was done: check the project's files "
                          "(`git status`) and delete that journal by hand\n")
    assert jpath.read_bytes() == before


def test_a_journal_reaching_outside_through_a_symbolic_link_is_refused(sandbox, monkeypatch):
    # Every digest matches and the temporary file has the name the writer would give it: only the path is
    # wrong, through a link to a directory outside the project.
    proj = _setup(sandbox, monkeypatch)
    (proj / "ssh").symlink_to(sandbox.outside / ".ssh")
    keys = sandbox.outside / ".ssh" / "authorized_keys"
    evil = "ssh-ed25519 AAAAattacker evil@host\n"
    token = "cd" * 16
    (sandbox.outside / ".ssh" / f".authorized_keys.{token}.new.deploycheck-tmp").write_text(evil)
    jpath = _plant(sandbox, [["ssh/authorized_keys", _sha(keys.read_bytes()), _sha(evil), 1, len(evil)]],
                   token=token)
    for command in ("status", "dry-run", "write"):
        out = sandbox.run(*COMMANDS[command]).assert_safe(code=2, secrets=(OUTSIDE_SECRET,))
        assert "`ssh/authorized_keys`: a directory on its path is missing or a symbolic link; nothing was " \
               "done" in out.stderr
    assert jpath.exists() and keys.read_text().endswith("user@host\n")


def test_a_journal_is_checked_against_the_digests_it_records(sandbox, monkeypatch):
    proj = _setup(sandbox, monkeypatch)
    token = "ef" * 16
    temp = proj / f".a.py.{token}.new.deploycheck-tmp"
    temp.write_text(NEW)
    before = _files(proj)
    cases = {  # what differs from a journal of ours -> the reason given
        "new digest": ([["a.py", _sha(OLD), _sha("something else\n"), len(OLD), len(NEW)]],
                       "the new content of `a.py` does not have the digest the journal records"),
        "old digest": ([["a.py", _sha("another old\n"), _sha(NEW), len(OLD), len(NEW)]],
                       "`a.py` changed since the interrupted apply"),
    }
    for files, reason in cases.values():
        jpath = _plant(sandbox, files, token=token)
        for command in ("status", "dry-run", "write"):
            out = sandbox.run(*COMMANDS[command]).assert_safe(code=2)
            assert f"cannot be used: {reason}; nothing was done" in out.stderr
        assert jpath.exists()
    # another directory now at the project's path (a fresh clone): refused too
    jpath = _plant(sandbox, cases["new digest"][0], token=token, inode=1)
    out = sandbox.run(*WRITE).assert_safe(code=2)
    assert "the project directory was replaced since" in out.stderr
    assert _files(proj) == before
    # The same journal with the right digests is one of ours: the read-only commands say what is left and do
    # nothing; apply --write completes it (a.py), then rewrites what is left (b.py, c.py).
    jpath = _plant(sandbox, [["a.py", _sha(OLD), _sha(NEW), len(OLD), len(NEW)]], token=token)
    for command in ("status", "dry-run"):
        out = sandbox.run(*COMMANDS[command]).assert_safe(code=2)
        assert out.stderr == ("deploycheck: error: an interrupted `migrate apply --write` of `x` left 1 "
                              "file of 1 to replace; `deploycheck migrate apply x . --write` completes it "
                              "(nothing was done now)\n")
    out = sandbox.run(*WRITE).assert_safe(code=0, one_line=False, project_unchanged=False)
    assert out.stderr == ("deploycheck: completed an interrupted `migrate apply` of `x` (1 file)\n"
                          "migrate apply x: rewrote 4 references in 2 files\n")
    assert not jpath.exists() and not _litter(proj)
    assert [(proj / n).read_text() for n in ("a.py", "b.py", "c.py")] == [NEW] * 3


def test_a_temporary_file_that_is_a_fifo_or_a_link_is_refused(sandbox, monkeypatch):
    proj = _setup(sandbox, monkeypatch)
    token = "12" * 16
    temp = proj / f".a.py.{token}.new.deploycheck-tmp"
    jpath = _plant(sandbox, [["a.py", _sha(OLD), _sha(NEW), len(OLD), len(NEW)]], token=token)
    for make, why in ((os.mkfifo, "not a regular file"),
                      (lambda p: os.symlink(sandbox.outside / "credentials", p), "a symbolic link")):
        make(temp)
        for command in ("status", "write"):
            out = sandbox.run(*COMMANDS[command]).assert_safe(code=2, secrets=(OUTSIDE_SECRET,))
            assert f"the new content of `a.py` is not a regular file of ours ({why})" in out.stderr
        temp.unlink()
    assert jpath.exists()


_PARTS = st.one_of(st.sampled_from(["..", ".", "", "a", "b.py", "/", "\0", "~"]), st.text(max_size=4))


@settings(max_examples=200, deadline=None)
@given(st.lists(_PARTS, max_size=6).map("/".join))
def test_every_path_a_journal_may_name_stays_inside_the_project(rel):
    # Lexically: a path accepted by the journal's check, joined to the root, never leaves it (links are the
    # other half: every directory is opened with O_NOFOLLOW, see the symbolic link test above).
    from deploycheck.migrate import tree

    if tree.bad_relative(rel) is None:
        root = "/project/root"
        joined = os.path.normpath(os.path.join(root, rel))
        assert joined.startswith(root + "/") and "\0" not in rel


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                     lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner,
                                                                                 max_size=5), max_leaves=20)


@settings(max_examples=200, deadline=None)
@given(st.fixed_dictionaries({"format": st.just("deploycheck-migrate-journal"), "version": st.just(1)},
                             optional={"root": _JSON, "device": _JSON, "inode": _JSON, "migration": _JSON,
                                       "token": _JSON, "state": _JSON, "files": _JSON | st.lists(
                                           st.lists(_JSON, min_size=5, max_size=5))}))
def test_any_journal_document_is_read_or_refused_with_a_reason(doc):
    from deploycheck.migrate import journal

    try:
        j = journal.decode(json.dumps(doc).encode(), "J")
    except journal.Unusable as exc:
        assert exc.reason and "\n" not in exc.reason
        return
    assert all(isinstance(e.rel, str) and ".." not in e.rel.split("/") for e in j.files)


# -- files that are not what they seem ----------------------------------------------------------------------

def _special(kind: str, path: Path) -> None:
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "/dev/zero":
        path.symlink_to("/dev/zero")
    elif kind == "huge":  # sparse, just over the largest journal read (and the state file's bound)
        with open(path, "wb") as f:
            f.truncate(9 << 20)
    else:  # JSON nested past the parser's recursion limit
        path.write_text("[" * 200_000 + "]" * 200_000)


@pytest.mark.parametrize("kind", ["fifo", "/dev/zero", "huge", "nested"])
def test_a_state_file_that_is_no_state_file(sandbox, monkeypatch, kind):
    proj = _setup(sandbox, monkeypatch)
    state = proj / ".deploycheck-migrations.json"
    state.unlink()
    _special(kind, state)
    why = {"fifo": "not a readable migration state file (not a regular file)",
           "/dev/zero": "not a readable migration state file (not a regular file)",
           "huge": "over 1048576 bytes: not a migration state file",
           "nested": "not a readable migration state file (nested too deeply)"}[kind]
    for command in ("status", "dry-run", "write"):
        out = sandbox.run(*COMMANDS[command]).assert_safe(code=2)
        assert out.stderr == f"deploycheck: error: {state}: {why}; fix or delete it\n"


@pytest.mark.parametrize("kind", ["fifo", "/dev/zero", "huge", "nested"])
def test_a_journal_that_is_no_journal(sandbox, monkeypatch, kind):
    _setup(sandbox, monkeypatch)
    jpath = _journal_path(sandbox)
    jpath.parent.mkdir(parents=True)
    _special(kind, jpath)
    why = {"fifo": "cannot be read (not a regular file)", "/dev/zero": "cannot be read (not a regular file)",
           "huge": f"cannot be read (file is {9 << 20} bytes, over the 8388608-byte limit)",
           "nested": "not a journal (not JSON)"}[kind]
    for command in ("status", "dry-run", "write"):
        out = sandbox.run(*COMMANDS[command]).assert_safe(code=2)
        assert f"{jpath}: the journal of an interrupted `migrate apply` cannot be used: {why}; nothing was" \
               in out.stderr


# -- a live apply, and files changed or refused while it writes ---------------------------------------------

strace_usable = pytest.mark.skipif(
    STRACE is None
    or subprocess.run([STRACE, "-f", "-o", os.devnull, "true"], capture_output=True, check=False).returncode != 0,
    reason="strace (Debian package strace) not installed or cannot trace here")


def _traced_apply(sandbox, inject: str, tmp: Path) -> subprocess.Popen:
    """``apply --write`` under strace with ``inject`` (renameat(2) and linkat(2) are traced)."""
    tmp.mkdir(exist_ok=True)  # its own TMPDIR: what the other runs leave in theirs is theirs alone
    return subprocess.Popen([STRACE, "-f", "-o", os.devnull, "-e", "trace=renameat,linkat", "-e", inject, EXE,
                             *WRITE], cwd=sandbox.project, env=sandbox.env({"TMPDIR": str(tmp)}),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _stopped_after_first_rename(sandbox, tmp: Path) -> subprocess.Popen:
    """An ``apply --write`` stopped (SIGSTOP on strace's request) right after renaming a.py, the first file:
    the journal is committed, a.py is new, b.py and c.py old, and it holds the project lock."""
    proc = _traced_apply(sandbox, f"inject=renameat:signal=STOP:when={FIRST_FILE_RENAME}", tmp)
    deadline = time.monotonic() + 300
    while (sandbox.project / "a.py").read_text() != NEW:  # once renamed, it runs no more code until SIGCONT
        if proc.poll() is not None or time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail(f"the traced apply did not reach its first rename: {proc.communicate()}")
        time.sleep(0.05)
    return proc


def _resume(proc: subprocess.Popen) -> tuple[int, str, str]:
    # SIGCONT again until it ends: a SIGCONT that came before the stop took effect would be lost.
    children = _children(proc.pid)[:1]
    while True:
        for child in children:
            try:
                os.kill(child, signal.SIGCONT)
            except ProcessLookupError:
                pass
        try:
            out, err = proc.communicate(timeout=0.5)
            return proc.returncode, out, err
        except subprocess.TimeoutExpired:
            continue


@strace_usable
def test_a_live_apply_is_neither_recovered_nor_disturbed(sandbox, monkeypatch, tmp_path):
    proj = _setup(sandbox, monkeypatch)
    proc = _stopped_after_first_rename(sandbox, tmp_path / "apply-tmp")
    try:
        jpath = _journal_path(sandbox)
        assert json.loads(jpath.read_text())["state"] == "committed"
        for command in ("status", "dry-run", "write"):
            out = sandbox.run(*COMMANDS[command], env={"DEPLOYCHECK_LOCK_WAIT": "0.5"}).assert_safe(code=2)
            who = "another `deploycheck migrate` command" if command == "write" else \
                "a `migrate apply --write`"
            assert out.stderr == (f"deploycheck: error: .: {who} is running on this project (a migration may "
                                  "be in progress); waited 0.5 s for it to end (DEPLOYCHECK_LOCK_WAIT sets "
                                  "how long); try again when it has ended\n")
    finally:
        code, _, err = _resume(proc)
    assert (code, err) == (0, "migrate apply x: rewrote 6 references in 3 files\n")
    assert [(proj / n).read_text() for n in ("a.py", "b.py", "c.py")] == [NEW] * 3
    assert not jpath.exists() and not _litter(proj)


@strace_usable
def test_a_file_edited_while_the_apply_renames_is_not_overwritten(sandbox, monkeypatch, tmp_path):
    proj = _setup(sandbox, monkeypatch)
    proc = _stopped_after_first_rename(sandbox, tmp_path / "apply-tmp")
    edited = OLD + "w = 2  # an edit made meanwhile\n"
    try:
        (proj / "c.py").write_text(edited)  # as an editor saves: a new file renamed over it
    finally:
        code, out, err = _resume(proc)
    assert code == 2 and "+v = New.a\n" in out  # the diff is printed before writing
    assert err == ("deploycheck: error: c.py changed since it was read (another program edited it "
                   "meanwhile); the 2 files already replaced were put back: nothing was changed (run apply "
                   "again)\n")
    assert [(proj / n).read_text() for n in ("a.py", "b.py", "c.py")] == [OLD, OLD, edited]
    assert not _journal_path(sandbox).exists() and not _litter(proj)


@strace_usable
def test_a_rename_refused_by_the_file_system_puts_every_file_back(sandbox, monkeypatch):
    _setup(sandbox, monkeypatch)
    # renameat of b.py fails with EROFS after a.py was replaced: a.py must be put back.
    out = sandbox.run("-f", "-o", os.devnull, "-e", "trace=renameat",
                      "-e", f"inject=renameat:error=EROFS:when={FIRST_FILE_RENAME + 1}", EXE, *WRITE,
                      exe=STRACE).assert_safe(code=2)  # the project is entirely unchanged
    assert out.stderr == ("deploycheck: error: b.py: the file system refused to replace it (Read-only file "
                          "system); the 1 file already replaced was put back: nothing was changed (run apply "
                          "again)\n")
    assert not _journal_path(sandbox).exists()


@strace_usable
def test_a_put_back_refused_too_is_finished_by_the_next_write(sandbox, monkeypatch):
    proj = _setup(sandbox, monkeypatch)
    # renameat #4 (b.py) and #6 (putting a.py back, after #5 saved the journal as rolling-back) both fail
    when = f"{FIRST_FILE_RENAME + 1}..{FIRST_FILE_RENAME + 3}+2"
    out = sandbox.run("-f", "-o", os.devnull, "-e", "trace=renameat",
                      "-e", f"inject=renameat:error=EROFS:when={when}", EXE, *WRITE, exe=STRACE)
    out.assert_safe(code=2, project_unchanged=False)
    jpath = _journal_path(sandbox)
    assert out.stderr == ("deploycheck: error: b.py: the file system refused to replace it (Read-only file "
                          "system); putting the files back failed for a.py (Read-only file system): the "
                          f"journal ({jpath}) keeps what is needed, and `deploycheck migrate apply x "
                          "--write` finishes putting the tree back once the cause is fixed\n")
    assert [(proj / n).read_text() for n in ("a.py", "b.py", "c.py")] == [NEW, OLD, OLD]
    assert json.loads(jpath.read_text())["state"] == "rolling-back"
    out = sandbox.run(*STATUS).assert_safe(code=2)
    assert out.stderr == ("deploycheck: error: an interrupted `migrate apply --write` of `x` left 1 file to "
                          "put back as before; `deploycheck migrate apply x . --write` finishes that "
                          "(nothing was done now)\n")
    out = sandbox.run(*WRITE).assert_safe(code=0, one_line=False, project_unchanged=False)
    assert out.stderr == ("deploycheck: put back 1 file of an interrupted `migrate apply` of `x` that was "
                          "undoing itself: the tree is as it was before it\n"
                          "migrate apply x: rewrote 6 references in 3 files\n")
    assert [(proj / n).read_text() for n in ("a.py", "b.py", "c.py")] == [NEW] * 3
    assert not jpath.exists() and not _litter(proj)


def _unshare_usable() -> bool:
    if shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-m", "true"], capture_output=True, check=False).returncode == 0


@pytest.mark.skipif(not _unshare_usable(), reason="cannot make a mount namespace here (unshare -m)")
@pytest.mark.parametrize("options, message", [
    # a file bind-mounted read-only: found before anything is written
    ("-o ro", "deploycheck: error: b.py is on a read-only file system; nothing was written\n"),
    # a file bind-mounted over itself (writable): rename(2) over a mount point fails with EBUSY, found only
    # when renaming: a.py, already replaced, is put back
    ("", ("deploycheck: error: b.py: the file system refused to replace it (Device or resource busy); the 1 "
          "file already replaced was put back: nothing was changed (run apply again)\n")),
])
def test_a_file_that_is_a_mount_point(sandbox, monkeypatch, options, message):
    _setup(sandbox, monkeypatch)
    target = sandbox.project / "b.py"
    script = f'mount --bind {options} "$1" "$1" && shift && exec "$@"'
    out = sandbox.run("-m", "sh", "-c", script, "sh", target, EXE, *WRITE, exe=shutil.which("unshare"))
    out.assert_safe(code=2)
    assert out.stderr == message
    assert not _journal_path(sandbox).exists()


def _chattr(flag: str, path: Path) -> bool:
    return subprocess.run(["chattr", flag, str(path)], capture_output=True, check=False).returncode == 0


@pytest.mark.skipif(shutil.which("chattr") is None, reason="chattr (e2fsprogs) not installed")
@pytest.mark.parametrize("flag, where, message", [
    ("+i", "b.py", "b.py is immutable or append-only (chattr +i or +a; see lsattr)"),
    ("+a", "b.py", "b.py is immutable or append-only (chattr +i or +a; see lsattr)"),
    ("+a", "sub",
     "sub/b.py is in a directory that is immutable or append-only (chattr +i or +a; see lsattr)"),
])
def test_an_immutable_or_append_only_file_or_directory_is_found_before_writing(sandbox, monkeypatch, flag,
                                                                               where, message):
    # Root is not stopped by permission bits; inode flags stop root too.
    proj = _setup(sandbox, monkeypatch)
    (proj / "sub").mkdir()
    (proj / "sub" / "b.py").write_text(OLD)
    target = proj / where
    if not _chattr(flag, target):
        pytest.skip(f"the file system here has no inode flags (chattr {flag})")
    try:
        out = sandbox.run(*WRITE).assert_safe(code=2)
    finally:
        _chattr(flag.replace("+", "-"), target)
    assert out.stderr == f"deploycheck: error: {message}; nothing was written\n"


NOBODY = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]


def _as_nobody_usable() -> str | None:
    """An interpreter another user can run, when this test runs as root with setpriv; else None."""
    python = "/usr/bin/python3"
    if os.geteuid() != 0 or shutil.which("setpriv") is None or not os.path.exists(python):
        return None
    proc = subprocess.run([*NOBODY, EXE, "--version"], capture_output=True, check=False)
    return python if proc.returncode == 0 else None


@pytest.mark.skipif(_as_nobody_usable() is None,
                    reason="needs root, setpriv and an interpreter that user 65534 can run")
def test_another_users_file_in_a_sticky_directory_is_found_before_writing():
    # rename(2) over another user's file in a directory with the sticky bit fails (EPERM) even when the
    # directory and the file are writable: the check says so before anything is written.
    base = Path(tempfile.mkdtemp(prefix="deploycheck-sticky-"))  # not under pytest's 0700 directory
    try:
        base.chmod(0o755)
        proj, home = base / "proj", base / "home"
        home.mkdir()
        os.chown(home, 65534, 65534)
        for rel, text in PROJECT.items():
            (proj / rel).parent.mkdir(parents=True, exist_ok=True)
            (proj / rel).write_text(text)
        for name in ("a.py", "b.py", "c.py"):
            (proj / name).chmod(0o666)
        proj.chmod(0o1777)
        before = snapshot(proj)
        proc = subprocess.run([*NOBODY, EXE, "migrate", "apply", "x", ".", "--python", _as_nobody_usable(),
                               "--write"],
                              cwd=proj, capture_output=True, text=True, timeout=300, check=False,
                              env={"PATH": "/usr/bin:/bin", "HOME": str(home), "TMPDIR": str(home)})
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr == ("deploycheck: error: a.py belongs to another user, in a sticky directory "
                               "(mode +t, like /tmp): rename(2) over it would be refused; nothing was "
                               "written\n")
        assert snapshot(proj) == before
    finally:
        shutil.rmtree(base)


# -- signals ------------------------------------------------------------------------------------------------

@strace_usable
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_after_the_commit_waits_for_the_last_rename(sandbox, monkeypatch, tmp_path, sig):
    proj = _setup(sandbox, monkeypatch)
    inject = f"inject=renameat:signal={sig.name[3:]}:when={FIRST_FILE_RENAME}"
    proc = _traced_apply(sandbox, inject, tmp_path / "t")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode in (-sig, 128 + sig), err  # ended as interrupted ...
    assert [(proj / n).read_text() for n in ("a.py", "b.py", "c.py")] == [NEW] * 3  # ... with every file new
    assert not _journal_path(sandbox).exists() and not _litter(proj)


@strace_usable
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL])
def test_a_signal_before_the_commit_changes_nothing_and_leaves_no_litter(sandbox, monkeypatch, tmp_path, sig):
    proj = _setup(sandbox, monkeypatch)
    before = snapshot(proj)
    # at the second linkat(2): the old content of b.py being kept, before the journal is committed
    proc = _traced_apply(sandbox, f"inject=linkat:signal={sig.name[3:]}:when=2", tmp_path / "t")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode in (-sig, 128 + sig), err
    assert {k: v for k, v in snapshot(proj).items() if not k.endswith(".deploycheck-tmp")} == before
    # Whatever an interrupted run could not remove itself (after SIGKILL: its temporary files and a journal
    # saying it had changed nothing), the next apply --write removes, then does its own work.
    out = sandbox.run(*WRITE).assert_safe(code=0, one_line=False, project_unchanged=False)
    removed = "deploycheck: removed the temporary files of an interrupted `migrate apply` of `x` (it had " \
              "changed nothing)\n"
    # (A run that handles the signal removes its own; one ended by it, as by SIGKILL, cannot.)
    assert out.stderr == (removed if proc.returncode == -sig else "") + \
        "migrate apply x: rewrote 6 references in 3 files\n"
    assert not _journal_path(sandbox).exists() and not _litter(proj)


def test_a_user_cache_that_cannot_hold_the_journal(sandbox, monkeypatch):
    # The read-only commands need no journal; apply --write refuses before writing anything.
    _setup(sandbox, monkeypatch)
    (sandbox.home / "cache-file").write_text("not a directory\n")
    env = {"XDG_CACHE_HOME": str(sandbox.home / "cache-file")}
    out = sandbox.run(*STATUS, "--no-cache", env=env).assert_safe(code=0, one_line=False)
    assert "6 references left of 6 at the baseline" in out.stdout
    out = sandbox.run(*WRITE, "--no-cache", env=env).assert_safe(code=2)
    jpath = sandbox.home / "cache-file" / "deploycheck" / "migrate"
    assert out.stderr.startswith(f"deploycheck: error: cannot write the journal of `migrate apply` ({jpath}/")
    assert out.stderr.endswith(".journal): Not a directory (XDG_CACHE_HOME chooses where it goes); nothing "
                               "was written\n")


def test_the_lock_wait_setting_is_checked(sandbox, monkeypatch):
    _setup(sandbox, monkeypatch)
    out = sandbox.run(*STATUS, env={"DEPLOYCHECK_LOCK_WAIT": "soon"}).assert_safe(code=2)
    assert out.stderr == \
        "deploycheck: error: DEPLOYCHECK_LOCK_WAIT must be a number of seconds from 0 to 86400\n"


def test_a_module_too_big_for_libcst_within_the_bound(sandbox):
    # 500 KB of ordinary code: its ast fits the parse budget, LibCST's tree took 400 MB in the main process
    body = "".join(f"def f{i}(a, b=1, *c, **d):\n    x = [a + b for _ in range(3)]\n    return {{'k': x}}\n\n"
                   for i in range(6000))
    sandbox.write({**PROJECT, "big.py": "from pkg.old import Old\n" + body + "v = Old.A\n"})
    out = sandbox.run(*DRY_RUN, "--no-cache", timeout=120).assert_safe(code=2)
    assert out.stderr == ("deploycheck: error: 1 file to rewrite cannot be parsed by LibCST (big.py: not analyzed: its "
                          "syntax tree needs more than the 192 MiB parse memory limit (raise it with "
                          "DEPLOYCHECK_PARSE_MEMORY_MB)); nothing was written\n")


def test_a_new_expression_too_deep_for_the_parser(sandbox):
    sandbox.write({**PROJECT, "pyproject.toml": '[[tool.deploycheck.migrations]]\nid = "x"\nold = "pkg.old.Old"\n'
                                               f'new = "{"a+" * 200_000}a"\n'})
    out = sandbox.run(*STATUS, "--no-cache").assert_safe(code=2)
    assert out.stderr.endswith("`x`: new `" + "a+" * 40 + "…` is not a Python expression (or one nested too deeply "
                               "to read)\n")


# --- Bounds on what pyproject.toml declares ----------------------------------------------------------------

def test_an_old_name_of_100000_dotted_parts(sandbox):
    # Resolved one prefix at a time: quadratic in the parts, minutes for 100,000 (0.4 MB, within the bound
    # on pyproject.toml). Now a prompt one-line error naming the limit, the value cut short.
    old = ".".join(["app"] * 100000)
    sandbox.write({"app/__init__.py": "", "app/u.py": "import app\n",
                   "pyproject.toml": f"[[tool.deploycheck.migrations]]\nid = 'm'\nold = '{old}'\nnew = 'x.y'\n"})
    for args in (STATUS, ("migrate", "apply", "m", ".", "--python", PY)):
        run = sandbox.run(*args)
        run.assert_safe(code=2)
        assert run.stderr == ("deploycheck: error: pyproject.toml [[tool.deploycheck.migrations]] #1 `m`: old "
                              f"`{old[:80]}…` is longer than the limit of 64 dotted parts and 1024 characters\n")


def test_an_unresolved_old_name_is_cut_short_in_the_message(sandbox):
    # 60 parts (within the limit) that do not resolve: the one-line error quoted all of it (16 KB for 4,000).
    old = "app." + ".".join(f"part{i}" for i in range(59))
    sandbox.write({"app/__init__.py": "", "app/u.py": "import app\n",
                   "pyproject.toml": f"[[tool.deploycheck.migrations]]\nid = 'm'\nold = '{old}'\nnew = 'x.y'\n"})
    run = sandbox.run(*STATUS)
    run.assert_safe(code=2)
    assert run.stderr == (f"deploycheck: error: migration `m`: old `{old[:80]}…` does not resolve: module `app` "
                          "has no attribute `part0`\n")


def test_twelve_thousand_migrations_are_over_the_limit(sandbox):
    # Every migration was searched in every file: 12,000 over 30 files ran for minutes.
    n = 12000
    sandbox.write({"app/__init__.py": "", "app/old.py": "".join(f"class Old{i}: pass\n" for i in range(n)),
                   **{f"app/u{j}.py": "".join(f"from app.old import Old{i}\n" for i in range(0, n, 50))
                      for j in range(30)},
                   "pyproject.toml": "".join(f"[[tool.deploycheck.migrations]]\nid='m{i}'\nold='app.old.Old{i}'\n"
                                             "new='app.new.New'\n" for i in range(n))})
    run = sandbox.run(*STATUS)
    run.assert_safe(code=2)
    assert run.stderr == ("deploycheck: error: pyproject.toml [[tool.deploycheck.migrations]]: 12000 migrations, "
                          "over the limit of 1000\n")
