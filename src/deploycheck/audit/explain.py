"""Explain a crash from the repository: the failing line at the deployed revision and at HEAD, the commit
suspected of causing it, and whether a deploycheck rule reports it at HEAD.

Every statement carries its evidence (a file and line at a commit with the file's blob id, a commit, a log
line); where the evidence stops the statement is "unknown", with what would decide it.

The revision: with ``--image``, the commit the image's file of the failing frame came from when the image's
verdict (``audit.image``) finds it is not the claimed revision's (the image held other code than it claims, so
the claim is not what ran); else ``--rev``, else the log's revision label when it names a commit of the
repository (a label such as Cloud Run's ``api-00042-abc`` usually does not), else the image's revision label
when its files of the crash's frames are that commit's, else HEAD, and the report says which. Suspects are
searched up to that revision, never after it: ``git log -S NAME`` for the commit that removed or renamed a
missing name (git-log(1)), else ``git blame`` of the failing line.
"""

from __future__ import annotations

import re
import sys
from typing import TYPE_CHECKING

from deploycheck.audit import history
from deploycheck.audit.classify import Kind
from deploycheck.audit.groups import Group
from deploycheck.audit.history import Commit, GitError
from deploycheck.audit.model import Frozen, Record

if TYPE_CHECKING:  # the image reader is imported only when --image is given
    from deploycheck.audit.image import ImageVerdict

# The rule that reports each kind before deploy, and the command that runs it.
RULES = {
    "undefined-name": ("DC201", "deploycheck check . --python PYTHON"),
    "import-name": ("DC102", "deploycheck check . --python PYTHON"),
    "dependency-drift": ("DC102", "deploycheck check . --python PYTHON"),
    "missing-module": ("DC101", "deploycheck check . --python PYTHON"),
    "module-attribute": ("DC103", "deploycheck check . --python PYTHON"),
    # newer syntax is DC202 on the service's interpreter; a newer name or `X | Y` at run time parses on any
    # Python, so only DC503 (requires-python against the interpreter) reports it: see ``_rule``
    "python-too-old": ("DC503", "deploycheck check . --python PYTHON"),
    "missing-setting": ("DC402", "deploycheck config . --env ENVIRONMENT"),
    "invalid-setting": ("DC402", "deploycheck config . --env ENVIRONMENT"),
    "db-sslmode": ("DC404", "deploycheck config . --env ENVIRONMENT"),
    "db-localhost": ("DC403", "deploycheck config . --env ENVIRONMENT"),
    "db-auth": ("DC405", "deploycheck config . --env ENVIRONMENT --connect"),
    "db-refused": ("DC405", "deploycheck config . --env ENVIRONMENT --connect"),
}
_CODE_RULES = {"DC201", "DC102", "DC101", "DC103", "DC202"}  # rules a check of the source alone can run
_NAME_KINDS = {"undefined-name", "import-name", "module-attribute"}
# Kinds whose cause is the database's answer, not a line of code: the line that connects is cited, but its
# last commit is no suspect (a rotated password or a stopped server is nobody's commit).
ENVIRONMENT_KINDS = {"db-auth", "db-refused"}


def _rule(kind: Kind) -> tuple[str | None, str | None]:
    """The rule that reports ``kind``'s crash before deploy and its command (``RULES``; for Python too old,
    DC202 when the interpreter could not parse the file, else DC503)."""
    if kind.kind == "python-too-old" and kind.exception.exc_type.rpartition(".")[2] == "SyntaxError":
        return "DC202", "deploycheck check . --python PYTHON"
    return RULES.get(kind.kind, (None, None))


class Why(Frozen):
    """One step of the root cause: a statement and the evidence it rests on (citations)."""

    statement: str
    evidence: tuple[str, ...]

    def __init__(self, statement: str, evidence: tuple[str, ...] = ()) -> None:
        attrs = self.__dict__  # written directly: __setattr__ refuses
        attrs["statement"] = statement
        attrs["evidence"] = evidence

    _fields = ("statement", "evidence")

    def as_dict(self) -> dict:
        """The step as JSON-ready data: ``{"statement": str, "evidence": tuple of str}``."""
        return {"statement": self.statement, "evidence": self.evidence}


class Explanation(Record):
    """What the repository says about a crash. ``revision`` is the full commit id used and ``revision_from``
    how it was chosen; ``path`` the repository file of the failing frame; ``suspect`` the commit suspected
    and ``suspect_how`` by which search; ``head`` one sentence on HEAD; ``rule``/``command`` what would have
    caught it. ``unknowns`` are the questions the evidence left open, each with what would decide it. The
    lists left None are new empty lists."""

    __slots__ = ("command", "fix", "head", "kind", "line_at_head", "line_at_revision", "path", "revision",
                 "revision_from", "rule", "suspect", "suspect_how", "test", "unknowns", "verify", "whys")
    kind: Kind
    whys: list[Why]
    revision: str | None
    revision_from: str
    path: str | None
    line_at_revision: str | None
    line_at_head: str | None
    suspect: Commit | None
    suspect_how: str
    head: str
    rule: str | None
    command: str | None
    fix: str
    test: str
    verify: list[str]
    unknowns: list[str]

    def __init__(self, kind: Kind, whys: list[Why] | None = None, revision: str | None = None,
                 revision_from: str = "", path: str | None = None, line_at_revision: str | None = None,
                 line_at_head: str | None = None, suspect: Commit | None = None, suspect_how: str = "",
                 head: str = "", rule: str | None = None, command: str | None = None, fix: str = "",
                 test: str = "", verify: list[str] | None = None, unknowns: list[str] | None = None) -> None:
        self.kind = kind
        self.whys = [] if whys is None else whys
        self.revision = revision
        self.revision_from = revision_from
        self.path = path
        self.line_at_revision = line_at_revision
        self.line_at_head = line_at_head
        self.suspect = suspect
        self.suspect_how = suspect_how
        self.head = head
        self.rule = rule
        self.command = command
        self.fix = fix
        self.test = test
        self.verify = [] if verify is None else verify
        self.unknowns = [] if unknowns is None else unknowns

    _fields = ("kind", "whys", "revision", "revision_from", "path", "line_at_revision", "line_at_head",
               "suspect", "suspect_how", "head", "rule", "command", "fix", "test", "verify", "unknowns")


def _log_why(group: Group, kind: Kind) -> Why:
    spot = group.first_seen
    tb = kind.exception
    cites = [f"log line {spot.line}" + (f" ({spot.timestamp})" if spot and spot.timestamp else "")]
    if group.count > 1 and group.last_seen:
        cites.append(f"{group.count} times, last at log line {group.last_seen.line}")
    if group.revisions:
        cites.append("revision label " + ", ".join(group.revisions))
    where = f" in {kind.frame.path}, line {kind.frame.line}" if kind.frame else ""
    return Why(f"The service crashed with {tb.headline()}{where}: {kind.sentence}.", tuple(cites))


def explain(group: Group, kind: Kind, repo: str | None, rev: str | None, python: str | None = None,
            run_rules: bool = True, image: ImageVerdict | None = None) -> Explanation:
    """Explain ``group``'s crash (classified as ``kind``) from the repository ``repo`` at ``rev``.

    Without ``repo`` only the log's evidence is given and the rest is "unknown". ``python``: the interpreter
    the HEAD check uses (default deploycheck's own). ``run_rules``: run the rule on HEAD. ``image``: the image's
verdict on the crash's files (``audit.image.verdict``), which can name the code that really ran. Raises
    ``UsageError`` when ``repo`` is not a git repository or ``rev`` is given but names no commit.
    """
    out = Explanation(kind)
    out.rule, out.command = _rule(kind)
    out.whys.append(_log_why(group, kind))
    _fix(out)
    if repo is None:
        out.unknowns.append("which commit introduced it: pass --source REPO (and --rev, the deployed commit)")
        return out
    top = history.check_repository(repo)
    if image is not None:
        out.whys.append(_image_why(image))
    if not (image is not None and _image_revision(out, top, image, kind)):
        _revision(out, top, rev, group, image)
    if out.revision is None:
        return out
    kind = _own_code(out, top, group, kind)
    try:
        _from_repository(out, top, kind, python, run_rules)
    except GitError as exc:  # a damaged repository, or git giving up: the evidence stops there
        out.unknowns.append(f"what the repository says beyond this point: git failed ({exc})")
    return out


def _from_repository(out: Explanation, top: str, kind: Kind, python: str | None, run_rules: bool) -> None:
    assert out.revision is not None
    frame = kind.frame
    if frame is None:
        out.unknowns.append("where in the repository: the traceback has no frame")
        return
    tree = history.paths(top, out.revision)
    path, candidates = history.map_path(frame.path, tree)
    if path is None:
        out.unknowns.append(f"which repository file {frame.path} is: " + (
            f"several end the same way ({', '.join(candidates)})" if candidates else
            f"no file of {out.revision[:12]} ends with its name (a library's file, or not committed)"))
        return
    out.path = path
    blob = tree[path]
    out.line_at_revision = history.line_at(top, out.revision, path, frame.line)
    shown = out.line_at_revision.strip() if out.line_at_revision is not None else "(no such line)"
    agree = "" if frame.text is None or out.line_at_revision is None else (
        " — the same line the traceback printed" if frame.text.strip() == out.line_at_revision.strip()
        else f" — but the traceback printed {frame.text.strip()!r}: the service ran another version of the file")
    if agree.startswith(" — but"):
        out.unknowns.append(f"which revision the service ran: its {path} is not {out.revision[:12]}'s (check "
                            "--rev, or whether the image holds the files of the revision it claims)")
    out.whys.append(Why(f"{path} line {frame.line} at {out.revision[:12]} is `{shown}`{agree}.",
                        (f"{path}:{frame.line} at {out.revision[:12]}", f"blob {blob}")))
    _suspect(out, top, kind, path, frame.line)
    head = history.resolve(top, "HEAD")
    if head is not None:
        _head(out, top, head, kind, path, frame, python, run_rules)


def _own_code(out: Explanation, repo: str, group: Group, kind: Kind) -> Kind:
    """``kind`` as it is, unless it is a dependency's drift whose module file is a file of the repository at
    the revision (the project itself installed into site-packages): then it is ``import-name``, and the
    explanation's rule, first statement and fix follow."""
    if kind.kind != "dependency-drift" or not kind.module_file or out.revision is None:
        return kind
    # the whole path below site-packages must be the end of a repository path: a bare ``__init__.py`` says
    # nothing about whose package it is
    below = re.split(r"[/\\](?:site|dist)-packages[/\\]", kind.module_file)[-1].replace("\\", "/")
    if not any(p == below or p.endswith("/" + below) for p in history.paths(repo, out.revision)):
        return kind
    kind = kind.replace(kind="import-name", sentence=f"the module {kind.module} has no name {kind.name}",
                        distribution=None)
    out.kind = kind
    out.rule, out.command = _rule(kind)
    out.whys[0] = _log_why(group, kind)
    _fix(out)
    return kind


def _image_why(image: ImageVerdict) -> Why:
    """The image's verdict as a step of the root cause, citing blob ids and the commits found."""
    from deploycheck.audit.image import DIFFERS, IN_HISTORY

    cites: list[str] = [f"image {image.image}"]
    if image.commit is not None:
        cites.append(f"claimed revision {image.commit} ({image.claim_source})")
    for f in image.files:
        if f.image_blob:
            cites.append(f"{f.image_path} in the image: blob {f.image_blob}")
        if f.source_blob and f.source_blob != f.image_blob and image.commit:
            cites.append(f"{f.rel} at {image.commit[:12]}: blob {f.source_blob}")
        if f.origins and f.state in DIFFERS + (IN_HISTORY,):
            cites.append(f"{f.rel} in the image is the file of commit {f.origins[0].commit}")
    summary = image.summary()
    return Why(summary[:1].upper() + summary[1:] + ".", tuple(cites) + image.notes)


def _image_revision(out: Explanation, repo: str, image: ImageVerdict, kind: Kind) -> bool:
    """Take the revision from the image's verdict when it names the code that ran: the commit the image's
    file of the failing frame (else of another frame, innermost first) came from when that file is not the
    claimed revision's. Returns whether it did."""
    from deploycheck.audit.image import ELSEWHERE, IN_HISTORY, NEWER, OLDER

    failing = kind.frame.path if kind.frame else None
    moved = [f for f in image.files if f.origins and f.state in (OLDER, NEWER, ELSEWHERE, IN_HISTORY)]
    moved.sort(key=lambda f: f.path != failing)
    if not moved:
        return False
    f = moved[0]
    origin = f.origins[0]
    out.revision = origin.commit
    claim = f"; the image claims {image.commit[:12]}" if image.commit else ""
    out.revision_from = f"the commit the image's {f.rel} came from, by the image's verdict{claim}"
    # the file's version lasted past the commit that brought it, and the build may come from any commit
    # that holds it: the first of them at which the missing name was already removed is examined (at the
    # commit that brought the file the name may still have been defined elsewhere, and the crash impossible)
    if f.state == OLDER and image.commit and f.rel and f.image_blob and kind.kind in _NAME_KINDS and kind.name:
        try:
            first = _first_without(repo, origin.commit, image.commit, f.rel, f.image_blob, kind.name)
        except GitError:
            first = None
        if first is not None and first != origin.commit:
            out.revision = first
            out.revision_from = (f"the first commit whose {f.rel} is the image's (blob {f.image_blob[:12]}, "
                                 f"brought by {origin.commit[:12]}) and that lacks {kind.name}, by the image's "
                                 f"verdict{claim}")
    return True


def _first_without(repo: str, origin: str, claimed: str, path: str, blob: str, name: str) -> str | None:
    """The oldest commit from ``origin`` on the way to ``claimed`` whose ``path`` is still ``blob`` and after
    which some commit had removed ``name`` (``history.removed``), or None."""
    for c in [origin, *history.holding(repo, origin, claimed, path, blob)]:
        if history.removed(repo, c, name) is not None:
            return c
    return None


def _revision(out: Explanation, repo: str, rev: str | None, group: Group,
              image: ImageVerdict | None = None) -> None:
    if rev is not None:
        out.revision = history.resolve(repo, rev)
        if out.revision is None:
            from deploycheck.errors import UsageError

            raise UsageError(f"--rev {rev}: no such commit in {repo}")
        out.revision_from = f"--rev {rev}"
        return
    for label in group.revisions:
        for candidate in [label, *re.findall(r"[0-9a-f]{7,40}", label)]:
            resolved = history.resolve(repo, candidate) if re.fullmatch(r"[\w./-]+", candidate) else None
            if resolved is not None:
                out.revision, out.revision_from = resolved, f"the log's revision label {label}"
                return
    if image is not None and image.commit is not None and not image.stale and \
            any(f.state == "matches" for f in image.files):
        out.revision = image.commit
        out.revision_from = (f"the image's revision label {image.label}, whose files of the crash's frames "
                             "are that commit's")
        return
    out.revision = history.resolve(repo, "HEAD")
    if out.revision is None:
        out.unknowns.append("the deployed revision: the repository has no commit")
        return
    labels = f" (its labels {', '.join(group.revisions)} name no commit)" if group.revisions else ""
    out.revision_from = "HEAD, since neither --rev nor the log named a commit" + labels
    out.unknowns.append("whether HEAD is what was deployed: pass --rev with the deployed commit")


def _drift(out: Explanation, repo: str, kind: Kind) -> Commit | None:
    """For a dependency's drift: the requirement lines naming the distribution at the revision and the commit
    that last changed one (the suspect), each a step of the root cause."""
    assert out.revision is not None and kind.distribution is not None
    dist = kind.distribution
    out.unknowns.append(f"which version of {dist} the service ran: `pip show {dist}` where it runs, or "
                        f"`deploycheck check IMAGE --source .` (DC102 names the distribution and its version)")
    files = history.requirement_files(history.paths(repo, out.revision))
    lines = history.requirement_lines(repo, out.revision, files, dist)
    if not lines:
        out.whys.append(Why(f"No requirement file at {out.revision[:12]} names {dist} ({', '.join(files) or 'none'}"
                            " read): whatever version the build resolved was installed.",
                            tuple(f"{f} at {out.revision[:12]}" for f in files)))
        return None
    shown = "; ".join(f"{p}:{n} `{text}`" for p, n, text in lines[:5])
    out.whys.append(Why(f"At {out.revision[:12]} the project declares {dist} as {shown}: a range that lets "
                        f"another version of {dist} than the code was written for be installed."
                        if not any("==" in text for _, _, text in lines) else
                        f"At {out.revision[:12]} the project declares {dist} as {shown}.",
                        tuple(f"{p}:{n} at {out.revision[:12]}" for p, n, _ in lines[:5])))
    found = history.requirement_changed(repo, out.revision, files, dist)
    if found is None:
        return None
    parent = history.resolve(repo, f"{found.id}^")
    before = history.requirement_lines(repo, parent, files, dist) if parent else []
    was = ("; before it: " + "; ".join(f"`{text}`" for _, _, text in before[:5])) if before else \
        f"; before it no requirement named {dist}"
    out.suspect, out.suspect_how = found, f"git log -G{dist!r}: it last changed the requirement on {dist}"
    out.whys.append(Why(f"Commit {found.short} ({found.subject!r}, {found.author}, {found.date}) last changed the "
                        f"requirement on {dist}{was}.", (f"commit {found.id}", f"git log -G {dist} -- "
                                                         + " ".join(files[:5]))))
    return found


def _suspect(out: Explanation, repo: str, kind: Kind, path: str, line: int) -> None:
    assert out.revision is not None
    if kind.kind == "dependency-drift" and _drift(out, repo, kind) is not None:
        return
    if kind.kind in _NAME_KINDS and kind.name:
        try:
            found = history.removed(repo, out.revision, kind.name)
        except GitError:
            found = None
        if found is not None:
            now = history.count(repo, out.revision, kind.name)
            out.suspect, out.suspect_how = found, f"git log -S{kind.name!r}: it removed or renamed {kind.name}"
            out.whys.append(Why(f"Commit {found.short} ({found.subject!r}, {found.author}, {found.date}) removed "
                                f"or renamed {kind.name}; the word still occurs {now} time(s) at {out.revision[:12]}.",
                                (f"commit {found.id}", f"git log -S{kind.name} {out.revision[:12]}")))
            return
    found = history.blame(repo, out.revision, path, line)
    if found is not None and kind.kind in ENVIRONMENT_KINDS:
        out.whys.append(Why(f"Commit {found.short} ({found.subject!r}, {found.author}, {found.date}) last "
                            f"changed {path} line {line}; the refusal is the database's answer to what the "
                            "deployment gave, so no commit is the suspect.",
                            (f"commit {found.id}", f"git blame -L {line},{line}")))
    elif found is not None:
        out.suspect, out.suspect_how = found, f"git blame: it last changed {path}:{line}"
        out.whys.append(Why(f"Commit {found.short} ({found.subject!r}, {found.author}, {found.date}) last "
                            f"changed {path} line {line}.", (f"commit {found.id}", f"git blame -L {line},{line}")))
    else:
        out.unknowns.append(f"which commit introduced {path}:{line}: git blame found none")


def _head(out: Explanation, repo: str, head: str, kind: Kind, path: str, frame, python, run_rules) -> None:
    lines = history.file_lines(repo, head, path)
    text = (frame.text or (out.line_at_revision or "")).strip()
    still = [i + 1 for i, line in enumerate(lines or []) if text and line.strip() == text]
    if lines is None:
        out.line_at_head = None
    elif still:
        out.line_at_head = lines[still[0] - 1]
    if head == out.revision and still:
        out.head = f"HEAD is the deployed revision: the failing line is still at {path}:{still[0]}."
    elif head == out.revision:
        out.head = (f"HEAD is the deployed revision, but its {path} does not hold the failing line: the service "
                    "ran another version of the file.")
    elif still:
        out.head = f"the failing line is still at HEAD ({head[:12]}), {path}:{still[0]}."
    elif lines is None:
        out.head = f"{path} is gone at HEAD ({head[:12]})."
    else:
        fixed = _fixing_commit(repo, out.revision or "", head, path, text)
        out.head = (f"the failing line is gone at HEAD ({head[:12]}): commit {fixed.short} ({fixed.subject!r}) "
                    "removed it." if fixed else f"the failing line is gone at HEAD ({head[:12]}).")
    if out.rule in _CODE_RULES and run_rules:
        _run_rule(out, repo, head, path, kind, python)
    elif out.rule in _CODE_RULES:
        out.unknowns.append(f"whether {out.rule} still reports it at HEAD: not checked (--no-rules); "
                            f"`{out.command}` decides it")
    elif out.rule:
        out.unknowns.append(f"whether HEAD would still fail: the cause lies in the environment, not the code; "
                            f"`{out.command}` ({out.rule}) decides it")
    out.whys.append(Why(out.head[:1].upper() + out.head[1:], (f"HEAD {head}",)))


def _fixing_commit(repo: str, old: str, new: str, path: str, text: str) -> Commit | None:
    for c in history.commits_between(repo, old, new, path):
        lines = history.file_lines(repo, c.id, path)
        if lines is None or not any(line.strip() == text for line in lines):
            return c
    return None


def _run_rule(out: Explanation, repo: str, head: str, path: str, kind: Kind, python: str | None) -> None:
    import subprocess  # here, as below: an audit without --source runs no program but the log's search

    from deploycheck.audit import head as head_mod  # here: a report without --source never needs it
    from deploycheck.errors import UsageError

    try:
        findings, _ = head_mod.run_check(repo, head, python)
    except (UsageError, GitError, OSError, subprocess.TimeoutExpired) as exc:
        out.unknowns.append(f"whether {out.rule} reports it at HEAD: the check could not run ({exc})")
        return
    hits = [f for f in findings if f[0] == out.rule and f[1] == path and (kind.name is None or kind.name in
                                                                          (f[3] or "") or kind.name in f[4])]
    # the command as it was run (on HEAD's files; the interpreter named, since the check used it)
    command = (out.command or "").replace("PYTHON", python or sys.executable)
    if hits:
        code, rel, line, _, message = hits[0]
        out.head += f" `{command}` reports it at HEAD: {code} at {rel}:{line} ({message})."
    else:
        out.head += f" `{command}` at HEAD reports no {out.rule} in {path}."


def _fix(out: Explanation) -> None:
    k = out.kind
    name = k.name or k.module or ""
    fixes = {
        "undefined-name": ((f"define {name} again or finish the rename: replace every use of {name} with its new "
                           "name"), (f"a test that imports the module using {name} (an import-time NameError "
                           "fails it), and `deploycheck check` in CI (DC201)")),
        "import-name": (f"import {name} from where it lives now, or restore it in {k.module}",
                        "a test that imports the importing module; `deploycheck check` in CI (DC102)"),
        "dependency-drift": ((f"pin {k.distribution} to the version the code was written for (the requirement "
                              f"before the suspect commit), or port the code to the installed version, where "
                              f"{name} is gone from {k.module}"),
                             "`deploycheck check` against the environment or image built for deploy, in CI (DC102)"),
        "module-attribute": (f"use the attribute's new name, or restore {k.module}.{name}",
                             "a test that runs the failing line; `deploycheck check` in CI (DC103)"),
        "missing-module": (f"declare and install the distribution that provides {k.module}",
                           "`deploycheck check` against the deployed environment or image in CI (DC101)"),
        "missing-setting": (f"set {name} in the deployment (manifest, env file or secret), or give it a default",
                            "`deploycheck config --env ENVIRONMENT` in CI for every environment (DC402)"),
        "invalid-setting": (f"provide a valid {name} in the deployment",
                            ("a test that loads the settings from the deployment's environment; "
                            "`deploycheck config` (DC402)")),
        "db-sslmode": ("remove sslmode from the URL given to asyncpg (use ssl=... in connect_args)",
                       "`deploycheck config` (DC404) in CI"),
        "db-localhost": ("give the service the database URL of the environment (it fell back to localhost)",
                         "`deploycheck config` (DC403) in CI"),
        "db-auth": ("rotate or correct the password the deployment gives the service",
                    "`deploycheck config --connect` against the environment before deploy (DC405)"),
        "db-refused": ("check the database host and port the deployment gives, and that it accepts connections",
                       "`deploycheck config --connect` (DC405)"),
        "python-too-old": ((f"run the service on Python {k.version} or later (the image's base), or avoid the "
                           "newer feature; declare requires-python"), ("`deploycheck check` with the service's "
                           "interpreter, or `deploycheck check IMAGE --source .`, in CI (DC503, DC202)")),
    }
    out.fix, out.test = fixes.get(k.kind, ("unknown: the crash is not of a kind deploycheck recognises",
                                           "a test that reproduces the traceback"))
    out.verify = [("redeploy the fixed revision and read its logs with `deploycheck audit --log -` again: "
                  "exit code 0 means no crash")]
    if out.command:
        out.verify.insert(0, f"`{out.command}` exits 0 on the fixed revision")
