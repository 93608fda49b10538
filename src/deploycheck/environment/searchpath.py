"""The target's ordered module search path, built statically the way ``site`` would build it.

Order (importlib's PathFinder walks it front to back; the first match wins, see the ``sys.path`` docs and the
``site`` module docs): the project roots (the working directory of ``python -m``), the interpreter's own
``sys.path`` without site (standard library and ``lib-dynload``), the user site directory when it applies, then
each site-packages directory followed by the directories its ``.pth`` files add. ``.pth`` lines that start with
``import`` are code and are never run; the one kind we understand statically is setuptools' editable-install
finder, whose ``MAPPING`` literal names top-level packages living elsewhere.
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass, field

from deploycheck.artifact.files import HostFiles
from deploycheck.environment.interpreter import Interpreter

MAX_PTH_BYTES = 1024 * 1024  # each .pth file: real ones hold a few lines
MAX_FINDER_BYTES = 256 * 1024  # a setuptools editable finder module: real ones are a few KiB


@dataclass
class SearchPath:
    """``entries`` in lookup order; ``editable`` maps top-level names to package directories (meta path
    finders installed by editable ``.pth`` files, consulted after all entries); ``overrides`` likewise, for
    finders placed first (setuptools' ``distutils`` shim); ``site_dirs`` and ``stdlib_dirs``
    classify where a module came from; ``pth_code`` lists ``.pth`` code lines that were not run."""

    entries: list[str]
    project_roots: list[str]
    site_dirs: list[str]
    stdlib_dirs: list[str]
    editable: dict[str, str] = field(default_factory=dict)
    overrides: dict[str, str] = field(default_factory=dict)
    pth_code: list[tuple[str, str]] = field(default_factory=list)
    added: list[str] = field(default_factory=list)  # directories the program's own code adds (index.syspath)
    named: list[str] = field(default_factory=list)  # those of ``added`` that the project's own modules add

    def origin(self, path: str) -> str:
        """Classify a file path: ``project``, ``stdlib``, ``third-party`` or ``other``, by the most specific
        directory that holds it. A virtual environment often lives inside the project root, site-packages
        inside the standard library directory, and an image's project root may be ``/`` (no ``WORKDIR``):
        the deepest directory decides; between equal ones, site directories win, then project roots."""
        best, found = -1, "other"
        for kind, dirs in (("third-party", self.site_dirs), ("project", self.project_roots),
                           ("third-party", list(self.editable.values())), ("stdlib", self.stdlib_dirs)):
            for d in dirs:
                depth = len(d.rstrip(os.sep))
                if depth > best and _under(path, d):
                    best, found = depth, kind
        return found


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def site_directories(interp: Interpreter, files: HostFiles) -> list[str]:
    """The site directories ``site.main()`` would add, in order, for this interpreter: the user site when it
    applies (not in a virtual environment unless it includes system site-packages), then site-packages."""
    dirs: list[str] = []
    if (not interp.in_venv or interp.system_site_packages) and interp.user_site and files.is_dir(interp.user_site):
        dirs.append(interp.user_site)
    dirs.extend(interp.site_packages)
    return [d for d in dict.fromkeys(files.realpath(d) for d in dirs) if files.is_dir(d)]


def _editable_mapping(path: str, files: HostFiles) -> dict[str, str]:
    """Read ``MAPPING = {...}`` from a setuptools editable finder module without running it (parsed in this
    process, so only a file as small as the real ones, a few KiB, is read)."""
    try:
        tree = ast.parse(files.read_bytes(path, MAX_FINDER_BYTES))
    except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
        return {}
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        if node.value is not None and any(isinstance(t, ast.Name) and t.id == "MAPPING" for t in targets):  # type: ignore[union-attr]
            try:
                value = ast.literal_eval(node.value)  # type: ignore[union-attr, arg-type]
            except (ValueError, TypeError, RecursionError, MemoryError):  # not a literal, or a malformed one
                return {}
            if isinstance(value, dict):
                return {str(k): str(v) for k, v in value.items()}
    return {}


def build(interp: Interpreter, project_roots: list[str], files: HostFiles) -> SearchPath:
    """Build the search path for ``interp`` with ``project_roots`` first."""
    roots = [files.realpath(r) for r in project_roots]
    entries: list[str] = list(roots)
    stdlib = [files.realpath(p) for p in interp.path]
    entries.extend(stdlib)
    sites = site_directories(interp, files)
    editable: dict[str, str] = {}
    overrides: dict[str, str] = {}
    pth_code: list[tuple[str, str]] = []
    for site_dir in sites:
        entries.append(site_dir)
        listing = files.listdir(site_dir) or {}
        for name in sorted(n for n, is_dir in listing.items() if n.endswith(".pth") and not is_dir):
            pth = os.path.join(site_dir, name)
            try:
                text = files.read_bytes(pth, MAX_PTH_BYTES).decode("utf-8", errors="replace")
            except (OSError, ValueError):
                continue
            for line in text.splitlines():
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                if line.startswith(("import ", "import\t")):
                    pth_code.append((pth, line))
                    if ("_distutils_hack" in line and "'local') == 'local'" in line.replace('"', "'")
                            and files.is_dir(os.path.join(site_dir, "setuptools", "_distutils"))):
                        # setuptools' shim puts a finder first on sys.meta_path: `distutils` is its own copy.
                        overrides.setdefault("distutils", os.path.join(site_dir, "setuptools", "_distutils"))
                    for mod in _editable_finders(line):
                        editable.update(_editable_mapping(os.path.join(site_dir, mod + ".py"), files))
                    continue
                d = files.realpath(os.path.join(site_dir, line))
                if files.is_dir(d):
                    entries.append(d)
    seen: set[str] = set()
    ordered = [e for e in entries if not (e in seen or seen.add(e))]  # type: ignore[func-returns-value]
    stdlib_dirs = list(stdlib)
    if interp.stdlib:
        stdlib_dirs.append(files.realpath(interp.stdlib))
    return SearchPath(ordered, roots, sites, stdlib_dirs, editable, overrides, pth_code)


def _editable_finders(line: str) -> list[str]:
    # `import __editable___pkg_1_0_finder; __editable___pkg_1_0_finder.install()`
    out = []
    for part in line.split(";"):
        part = part.strip()
        if part.startswith("import "):
            for name in part[len("import "):].split(","):
                name = name.strip()
                if name.startswith("__editable__") and name.endswith("_finder"):
                    out.append(name)
    return out
