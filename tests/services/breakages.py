"""Injected breakages of the corpus (``corpus.json``, each service's ``breakages``), the three kinds of the
issue, each a reproducible transformation of a copy of the service or of its environment:

- ``drift``: third-party code the framework loads changes under the service: ``pins`` (name -> version)
  installs other versions of some distributions (``corpus.drift_environment``; the cached environment is
  never changed);
- ``rename``: a half-done rename: ``edits`` (``path``, ``old``, ``new``: ``old`` must occur exactly once in
  the file) rename a function or class at its definition and leave a use elsewhere;
- ``delete``: ``delete`` lists files of the service removed from the copy.

A breakage records the crash the interpreter shows when the service starts (``crash``: the start step,
exception type, file and line) and where an error finding must point for it to count as caught (``catch``:
``path:line`` as ``corpus.where`` writes them), and what deploycheck does today (``today``: caught with the
real entries, caught with every module as an entry).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import corpus


def prepare(svc: dict, python: str, breakage: dict, workdir: Path) -> tuple[Path, str]:
    """A project copy and interpreter with ``breakage`` applied, under ``workdir``; returns (project,
    python). Raises ``AssertionError`` when an edit no longer applies (the pinned code changed)."""
    project = corpus.project_copy(python, svc["packages"], workdir / f"{svc['name']}-{breakage['id']}",
                                  svc.get("contents", False))
    kind = breakage["kind"]
    if kind == "rename":
        for edit in breakage["edits"]:
            path = project / edit["path"]
            text = path.read_text()
            count = text.count(edit["old"])
            assert count == 1, f"{edit['path']}: {edit['old']!r} occurs {count} times"
            path.unlink()  # a new file: never write through to what the copy came from
            path.write_text(text.replace(edit["old"], edit["new"]))
    elif kind == "delete":
        for rel in breakage["delete"]:
            path = project / rel
            assert path.is_file(), rel
            path.unlink()
    elif kind == "drift":
        python = corpus.drift_environment(python, breakage["pins"])
    else:
        raise ValueError(f"unknown breakage kind {kind}")
    return project, python


def crash_of(started: corpus.Start, project: Path, python: str) -> dict | None:
    """The first failure of a start as the corpus records it: step, exception type, file, line."""
    failure = started.failure
    if failure is None:
        return None
    # the failing statement of the service or of third-party code, not the standard library's import
    # machinery that ran it (``importlib.import_module`` in a plugin loop)
    file, line = failure["file"], failure["line"]
    for path, lineno, _ in reversed(failure["frames"]):
        if not corpus.where(path, project, python).startswith("/") and not path.endswith("started.py"):
            if file is None or corpus.where(file, project, python).startswith("/"):
                file, line = path, lineno
            break
    return {"step": corpus.describe_step(failure["step"]), "type": failure["type"],
            "file": corpus.where(file, project, python) if file else None,
            "line": line, "message": failure["message"][:300]}


def caught(result, breakage: dict, project: Path, python: str) -> dict:
    """Whether ``result`` has an error finding where ``breakage`` says one must point, and which (when not,
    the warning there, if any: a failure deploycheck saw but did not call a crash)."""
    spots = set(breakage["catch"])
    warned = None
    for f in result.findings:
        if f"{corpus.where(f.path, project, python)}:{f.line}" not in spots:
            continue
        if f.severity == "error":
            return {"caught": True, "finding": corpus.finding_key(f, project, python), "when": f.when,
                    "chain": [h.module for h in f.chain] or [f.module], "steps": [h.step for h in f.chain]}
        warned = warned or {"finding": corpus.finding_key(f, project, python), "when": f.when,
                            "chain": [h.module for h in f.chain]}
    return {"caught": False, "warning": warned,
            "errors": [corpus.finding_key(f, project, python) for f in result.findings
                       if f.severity == "error"][:20]}


def outcome(svc: dict, python: str, breakage: dict, workdir: Path) -> dict:
    """Apply ``breakage``, start the service (the oracle) and check it in both modes."""
    project, py = prepare(svc, python, breakage, workdir)
    try:
        started = corpus.start(svc, py, project)
        out = {"crash": crash_of(started, project, py)}
        for mode, entries in (("entries", svc["entries"]), ("default", [])):
            result = corpus.deploycheck(project, py, entries, corpus.CACHE / "corpus-summaries")
            out[mode] = caught(result, breakage, project, py)
        return out
    finally:
        shutil.rmtree(project, ignore_errors=True)
