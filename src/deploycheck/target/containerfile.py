"""The build file's ``COPY``/``ADD`` lines as a map from the build context to the image (``copymap.CopyMap``).

Parsing (line continuations, comments, the ``escape`` directive, ``ARG``/``ENV`` values per stage) is
dockerfile-parse's; what each line copies follows the Dockerfile reference (docs.docker.com, "Dockerfile
reference", COPY and ADD): sources are relative to the context (a leading ``/`` too), may hold Go
``filepath.Match`` wildcards (``*`` never matches ``/``), a directory source copies its contents, a
destination ending in ``/`` (or given several sources, or naming an existing directory) is a directory, a
relative destination is relative to ``WORKDIR``. Only the final stage ships; ``COPY --from=STAGE`` is
followed into the stages that got the files from the context.
"""

from __future__ import annotations

import fnmatch
import io
import json
import os
import posixpath
import re
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field

from dockerfile_parse import DockerfileParser
from dockerfile_parse.parser import image_from
from dockerfile_parse.util import WordSplitter

from deploycheck.errors import UsageError
from deploycheck.inputs import open_regular
from deploycheck.target.boundary import Boundary, quote
from deploycheck.target.copymap import Copy, CopyMap, Ignore

NAMES = ("Containerfile", "Dockerfile")  # the order buildah and podman look for them
RUNTIME = ("CMD", "ENTRYPOINT", "EXPOSE", "HEALTHCHECK", "STOPSIGNAL", "USER")  # what the image runs, and how
_FLAG = re.compile(r"--([A-Za-z][\w-]*)(?:=(\S*))?\s*")
_DEFAULTS = re.compile(r"\$\{(\w+):([-+])([^}]*)\}")
_URL = re.compile(r"^([a-z][a-z0-9+.-]*://|git@)", re.IGNORECASE)
_MAGIC = re.compile(r"[*?\[]")
MAX_BUILD_FILE_BYTES = 1024 * 1024
# The build file's text after ARG/ENV substitution, summed over its lines (an upper bound, see
# _check_expansion): real ones stay under a few KiB.
MAX_EXPANDED_BYTES = 16 * 1024 * 1024
_REF = re.compile(r"\$(?:\{(\w+)|(\w+))")
_ASSIGNED = re.compile(r"(\w+)=")


def find(source: str, containerfile: str | None = None) -> str | None:
    """The build file: ``containerfile`` when given (UsageError when it is not a file), else
    ``Containerfile`` then ``Dockerfile`` in ``source``; None when there is none."""
    if containerfile is not None:
        if not os.path.isfile(containerfile):
            raise UsageError(f"--containerfile {containerfile}: not a file")
        return containerfile
    for name in NAMES:
        path = os.path.join(source, name)
        if os.path.lexists(path):
            return path
    return None


def _read(path: str, context: str, shown: str) -> bytes:
    """The build file's bytes. One named inside the repository is one of its settings: it may not lead
    outside (``target.boundary``); one the user names outside the repository (``--containerfile``) is the
    user's own."""
    boundary = Boundary(context)
    got = boundary.read(path, MAX_BUILD_FILE_BYTES, shown)
    if got is None:
        raise UsageError(f"{shown}: no such file")
    data, outside = got
    if outside and boundary.named_inside(path):
        raise UsageError(f"{shown} is a link to a file outside the repository: deploycheck reads the "
                         "project's settings and build files only from inside it")
    return data


def _check_expansion(structure: list[dict], shown: str) -> None:
    """Refuse a build file whose ``ARG``/``ENV`` substitution would grow past ``MAX_EXPANDED_BYTES``.

    dockerfile-parse substitutes variables into every later line, so ``ENV A=$A$A`` repeated doubles the text
    at each line (a "billion laughs"). An upper bound is summed over the lines before substituting anything:
    each line's length plus, for each ``$NAME``/``${NAME...}`` in it, the largest size NAME may have."""
    sizes: dict[str, int] = {}
    total = 0
    for instr in structure:
        value = instr["value"]
        size = len(value) + sum(sizes.get(m.group(1) or m.group(2), 0) for m in _REF.finditer(value))
        total += size
        if total > MAX_EXPANDED_BYTES:
            raise UsageError(f"{shown}:{instr['startline'] + 1}: ARG and ENV values would expand the build "
                             f"file past {MAX_EXPANDED_BYTES} bytes")
        if instr["instruction"] in ("ENV", "ARG"):
            for name in _ASSIGNED.findall(value) + value.split()[:1]:
                name = name.split("=", 1)[0]
                sizes[name] = max(sizes.get(name, 0), size)


@dataclass
class _Stage:
    name: str | None
    workdir: str = "/"
    copies: list[Copy] = field(default_factory=list)
    dirs: set[str] = field(default_factory=lambda: {"/"})  # image directories the build file makes
    lines: dict[str, int] = field(default_factory=dict)  # RUNTIME instruction -> its line


def parse(path: str, context: str, image_is_dir: Callable[[str], bool] | None = None) -> CopyMap:
    """The map of the final stage of the build file at ``path`` built in ``context`` (the repository).
    ``image_is_dir`` answers whether an image path is a directory in the final image, for a destination
    without a trailing ``/``. Raises UsageError for a build file that cannot be read or parsed."""
    shown = os.path.relpath(path, context) if _inside(path, context) else path
    data = _read(path, context, shown)
    try:
        _check_expansion(DockerfileParser(fileobj=io.BytesIO(data), env_replace=False).structure, shown)
        parser = DockerfileParser(fileobj=io.BytesIO(data), env_replace=True)
        structure = parser.structure
        contexts = parser.context_structure
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        reason = "not UTF-8" if isinstance(exc, UnicodeDecodeError) else \
            quote(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        raise UsageError(f"{shown}: cannot parse the build file: {reason}") from None
    ignore = Ignore.read(context, path)
    mapping = CopyMap(context, [], ignore, os.path.basename(shown))
    stages: list[_Stage] = []
    for instr, ctx in zip(structure, contexts):
        kind, value, where = instr["instruction"], instr["value"], f"{shown}:{instr['startline'] + 1}"
        if kind == "FROM":
            image, name = image_from(value)
            parent = _stage(stages, image or "")
            stage = _Stage(name.lower() if name else None)
            if parent is not None:  # FROM an earlier stage: its files and WORKDIR carry on
                stage.workdir, stage.copies, stage.dirs = parent.workdir, list(parent.copies), set(parent.dirs)
                stage.lines = dict(parent.lines)
            stages.append(stage)
        elif not stages:
            continue  # ARG before the first FROM: dockerfile-parse keeps its value for the stages
        elif kind == "WORKDIR":
            stage = stages[-1]
            stage.workdir = posixpath.normpath(posixpath.join(stage.workdir, _expand(value, ctx)))
            stage.dirs.update(_parents(stage.workdir))
        elif kind in ("COPY", "ADD"):
            line = " ".join(instr["content"].split())
            _copy(kind, value, ctx, stages, mapping, where, line, image_is_dir)
        if stages and kind in RUNTIME:
            stages[-1].lines[kind] = instr["startline"] + 1
    if stages:
        mapping.copies = stages[-1].copies
        mapping.instructions = stages[-1].lines
    return mapping


def _copy(kind: str, value: str, ctx, stages: list[_Stage], mapping: CopyMap, where: str, line: str,
          image_is_dir) -> None:
    stage = stages[-1]
    flags: dict[str, str] = {}
    rest = value.strip()
    while rest.startswith("--"):
        m = _FLAG.match(rest)
        if m is None:
            break
        flags[m.group(1).lower()] = _expand(m.group(2) or "", ctx)  # --chown, --chmod, --link: no effect on paths
        rest = rest[m.end():]
    if rest.startswith("["):
        try:
            words = [_expand(w, ctx) for w in json.loads(rest)]
        except (ValueError, TypeError):
            words = _words(rest, ctx)
    else:
        words = _words(rest, ctx)
    if len(words) < 2:
        mapping.notes.append(f"{where}: {kind} needs a source and a destination")
        return
    *sources, dest = words
    if not dest.startswith("/"):
        dest = posixpath.join(stage.workdir, dest)
    dest_is_dir = dest.endswith(("/", "/.")) or len(sources) > 1
    dest = posixpath.normpath(dest)
    source_stage = None
    if "from" in flags:
        source_stage = _stage(stages[:-1], flags["from"])
        if source_stage is None:
            mapping.notes.append(f"{where}: copies from the image {flags['from']}, not from the build context")
            return
    resolved: list[tuple[str, bool, str]] = []  # context path, is a directory, path under the destination
    for src in sources:
        if src.startswith("<<"):
            mapping.notes.append(f"{where}: a here-document, not a file of the build context")
        elif kind == "ADD" and _URL.match(src):
            mapping.notes.append(f"{where}: ADD {src} downloads a file, not from the build context")
        elif source_stage is not None:
            resolved += _from_stage(source_stage, src, mapping, where)
        else:
            resolved += _from_context(mapping, src, where, kind)
    is_dir = dest_is_dir or len(resolved) > 1 or dest in stage.dirs or bool(image_is_dir and image_is_dir(dest))
    for rel, src_is_dir, sub in resolved:
        if src_is_dir:
            target = posixpath.join(dest, sub) if sub else dest
        elif sub:
            target = posixpath.join(dest, sub)
        else:
            target = posixpath.join(dest, posixpath.basename(rel)) if is_dir else dest
        stage.copies.append(Copy(rel, posixpath.normpath(target), src_is_dir, where, line))
        stage.dirs.update(_parents(target if src_is_dir else posixpath.dirname(target)))


def _from_context(mapping: CopyMap, src: str, where: str, kind: str) -> list[tuple[str, bool, str]]:
    rel = posixpath.normpath(src.lstrip("/"))
    rel = "" if rel == "." else rel
    if rel == ".." or rel.startswith("../"):
        mapping.notes.append(f"{where}: {src} is outside the build context")
        return []
    found = _glob(mapping, rel) if _MAGIC.search(rel) else [rel]
    out = []
    for item in found:
        full = os.path.join(mapping.context, item)
        if not os.path.exists(full):
            mapping.notes.append(f"{where}: {src} is not in the build context")
        elif kind == "ADD" and os.path.isfile(full) and _is_archive(full):
            mapping.notes.append(f"{where}: ADD {item} extracts a local archive; its members are not mapped")
        elif item and mapping.excluded_by(item):
            mapping.notes.append(f"{where}: {item} is excluded by {mapping.ignore.name}")
        else:
            out.append((item, os.path.isdir(full), ""))
    return out


def _from_stage(stage: _Stage, src: str, mapping: CopyMap, where: str) -> list[tuple[str, bool, str]]:
    """What ``COPY --from=stage src`` takes from the context through the stage's own copies, as
    ``(context path, is a directory, path under the destination)``."""
    path = posixpath.normpath("/" + src.lstrip("/"))
    if _MAGIC.search(src):
        mapping.notes.append(f"{where}: wildcards in COPY --from are not followed")
        return []
    out = []
    for copy in stage.copies:
        rel = copy.source_of(path)
        if rel is not None:  # the stage put `path` (or the directory holding it) there from the context
            out.append((rel, os.path.isdir(os.path.join(mapping.context, rel)), ""))
        elif copy.image.startswith(path.rstrip("/") + "/"):  # `path` is a directory holding the copy
            out.append((copy.context, copy.is_dir, posixpath.relpath(copy.image, path)))
    if not out:
        mapping.notes.append(f"{where}: the stage {stage.name or ''} did not get {src} from the build context")
    return out


def _glob(mapping: CopyMap, pattern: str) -> list[str]:
    """Context paths matching a wildcard pattern segment by segment (Go's filepath.Match: ``*`` and ``?``
    never match ``/``), sorted, as Docker expands them."""
    found = [""]
    for part in pattern.split("/"):
        nxt = []
        for base in found:
            full = os.path.join(mapping.context, base)
            if not _MAGIC.search(part):
                if os.path.lexists(os.path.join(full, part)):
                    nxt.append(posixpath.join(base, part))
                continue
            try:
                names = sorted(os.listdir(full))
            except OSError:
                continue
            nxt += [posixpath.join(base, n) for n in names if fnmatch.fnmatchcase(n, part)]
        found = nxt
    return [f for f in found if not mapping.excluded_by(f)]


def _is_archive(path: str) -> bool:
    try:
        with open_regular(path) as f:  # never a FIFO or a device
            return tarfile.is_tarfile(f)
    except (OSError, ValueError, EOFError, tarfile.TarError):
        return False


def _stage(stages: list[_Stage], ref: str) -> _Stage | None:
    if ref.isdigit():
        return stages[int(ref)] if int(ref) < len(stages) else None
    for stage in reversed(stages):
        if stage.name == ref.lower():
            return stage
    return None


def _expand(text: str, ctx) -> str:
    """ARG and ENV values substituted (ENV wins over ARG, an unset variable is empty), with Docker's
    ``${VAR:-word}`` and ``${VAR:+word}`` forms; quotes and escapes removed."""
    values = {**ctx.args, **ctx.envs}
    text = _DEFAULTS.sub(lambda m: (values.get(m.group(1)) or m.group(3)) if m.group(2) == "-" else
                         (m.group(3) if values.get(m.group(1)) else ""), text)
    return WordSplitter(text, args=ctx.args, envs=ctx.envs).dequote()


def _words(text: str, ctx) -> list[str]:
    text = _DEFAULTS.sub(lambda m: _expand(m.group(0), ctx), text)
    return list(WordSplitter(text, args=ctx.args, envs=ctx.envs).split())


def _parents(path: str) -> list[str]:
    out = []
    while True:
        out.append(path)
        if path in ("/", ""):
            return out
        path = posixpath.dirname(path)


def _inside(path: str, root: str) -> bool:
    path, root = os.path.abspath(path), os.path.abspath(root)
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)
