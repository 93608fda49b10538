"""What the code reads, found statically in the project modules of the import closure: environment reads
(``os.environ[...]``, ``os.environ.get``, ``os.getenv``), the fields of pydantic-settings models, and the
attributes read from config objects (for DC401)."""

from __future__ import annotations

import ast
import difflib
import pickle
import re
import sys
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field

from deploycheck.contract.model import Read
from deploycheck.contract.scan import AttrSite, ModuleScan, scan
from deploycheck.contract.schema import ClassRef, Index, field_default, scalar_type, unwrap
from deploycheck.errors import UsageError
from deploycheck.index.parsing import NEEDS_MEMORY, TOO_NESTED, Parser, not_analyzed_reason
from deploycheck.index.store import LOAD_BYTES


@dataclass
class AttrMiss:
    """An attribute read from a config object that its schema class does not define (DC401)."""

    path: str
    line: int
    column: int
    module: str
    schema: str
    attr: str
    source: str  # how the object was obtained: `get_unified_config()`, `settings`
    suggestion: str | None
    when: str


@dataclass
class CodeContract:
    reads: list[Read] = field(default_factory=list)
    misses: list[AttrMiss] = field(default_factory=list)
    schemas: dict[str, str] = field(default_factory=dict)  # accessor -> schema class
    settings_classes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # "path: why", for modules whose reads are not known


# Python frames the scan of one module may use. The parser refuses a tree deeper than about 3,000 levels
# (a 3,000-term `a + a + ...`, which the interpreter runs), and the scan takes up to four frames a level.
SCAN_FRAMES = 20_000


@contextmanager
def frames(limit: int):
    """Within the block, Python may use at least ``limit`` frames (``sys.setrecursionlimit``); the limit is
    put back after."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, limit))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def scan_module(item: tuple[str, str, bool, bytes]) -> tuple[str, bytes | None]:
    """Parse and scan one module (``(name, path, is_package, source)``) in a parse worker: ``("ok",
    pickled ModuleScan)``, ``("parse", None)`` when it does not parse, ``("deep", None)`` when it is too deeply
    nested to scan. The scan is pickled here, with the raised recursion limit: its expressions nest as deep
    as the source's."""
    name, path, is_package, data = item
    with frames(SCAN_FRAMES):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tree = ast.parse(data, filename=path)
        except (SyntaxError, ValueError, RecursionError):
            return "parse", None
        try:
            return "ok", pickle.dumps(scan(name, path, is_package, tree))
        except RecursionError:
            return "deep", None


def _scan_group(parser: Parser, items: list[tuple[str, str, bool, bytes]], scans: list[ModuleScan],
                out: CodeContract) -> None:
    """Scan ``items`` (see ``scan_module``) with ``parser``: the scans are appended to ``scans``, a line for
    each module left out to ``out.warnings``."""
    results = parser.map(items, [len(item[3]) for item in items])
    with frames(SCAN_FRAMES):
        for (_, path, _, _), result in zip(items, results, strict=True):
            if result == NEEDS_MEMORY:
                out.warnings.append(f"{path}: not analyzed: {not_analyzed_reason()}: its reads are not known")
            elif result == TOO_NESTED or result[0] == "parse":
                out.warnings.append(f"{path}: not parsed (`deploycheck check` says why): its reads are not "
                                    "known")
            elif result[0] == "deep":
                out.warnings.append(f"{path}: too deeply nested to analyze: its reads are not known")
            else:
                scans.append(pickle.loads(result[1]))


def collect(modules: list[tuple[str, str, bool]], read_bytes, accessors: dict[str, str | None]) -> CodeContract:
    """``modules`` are ``(name, path, is_package)`` of the project modules of the closure; ``read_bytes``
    reads a file; ``accessors`` come from the configuration. Raises ``UsageError`` when a configured
    accessor or schema class is not in the closure. A module that cannot be read, parsed or scanned is left
    out with a line in ``warnings`` (``deploycheck check`` reports why: DC202, DC203). Modules are parsed and
    scanned as every untrusted source is (``index.parsing``: big ones in the parse workers, within the parse
    memory budget); one whose tree does not fit is left out with a warning naming the limit."""
    scans: list[ModuleScan] = []
    out = CodeContract()
    parser = Parser(scan_module)
    items: list[tuple[str, str, bool, bytes]] = []
    held = 0
    for n, (name, path, is_package) in enumerate(modules):
        try:
            data = read_bytes(path)
        except (OSError, ValueError):
            out.warnings.append(f"{path}: not parsed (`deploycheck check` says why): its reads are not known")
            data = None
        if data is not None:
            items.append((name, path, is_package, data))
            held += len(data)
        if items and (held >= LOAD_BYTES or n == len(modules) - 1):  # the sources held at once are bounded
            _scan_group(parser, items, scans, out)
            items, held = [], 0
    index = Index(scans)
    at_import = import_time(index)
    for s in scans:
        for r in s.env_reads:
            out.reads.append(Read(r.name, s.path, r.line, r.column, s.module, r.via, r.required, r.has_default,
                                  r.default, True, (), _when(s, r.scope, at_import),
                                  set_by=tuple((s.path, line, how) for line, how in r.set_by)))
    schemas = _accessors(index, accessors)
    out.schemas = {a: ref.qualname for a, ref in schemas.items()}
    out.settings_classes = _settings_reads(index, out.reads, at_import)
    memo: dict = {}
    for s in scans:
        for site in s.attr_sites:
            miss = _check_site(index, s, site, schemas, _when(s, site.scope, at_import), memo)
            if miss is not None:
                out.misses.append(miss)
    return out


def import_time(index: Index) -> set[str]:
    """Qualified names (``module.function``, ``module.Class.method``) of the project functions that run while
    the modules are imported: called at module level or in a class body at module level, or called by a
    function that runs then (transitively). Calling a class runs its ``__init__`` (Python data model), and a
    pydantic model's ``model_post_init``. A call whose target is not a project function by name (a method of
    an instance, a callback) is not followed: its function counts as run when called."""
    callees: dict[str, list[str]] = {}
    todo: list[str] = []
    for mod in index.modules.values():
        for func, _w, scope, _env in mod.calls:
            target = index.qualify_in(mod, func)
            if target is None:
                continue
            targets = [target]
            ref = index.cls(target)
            if ref is not None:
                targets += [f"{c.qualname}.{m}" for c in index.mro(ref)[0] for m in ("__init__", "model_post_init")]
            if scope is None:
                todo += targets
            else:
                callees.setdefault(f"{mod.module}.{scope}", []).extend(targets)
    seen: set[str] = set()
    while todo:
        f = todo.pop()
        if f not in seen:
            seen.add(f)
            todo += callees.get(f, [])
    return seen


def _when(mod: ModuleScan, scope: str | None, at_import: set[str]) -> str:
    """``import`` for code at module level, in a class body, or in a function that runs at import;
    ``call`` for the body of any other function."""
    return "import" if scope is None or f"{mod.module}.{scope}" in at_import else "call"


_CONFIG_NAME = re.compile(r"config|settings", re.IGNORECASE)


def _accessors(index: Index, configured: dict[str, str | None]) -> dict[str, ClassRef]:
    """Callables that return a config object, with its class: configured ones, functions whose return
    annotation names a settings class (or a project class, when the function or the class is named like a
    configuration: ``get_config() -> AppConfig``), and the settings classes and configured schemas themselves."""
    out: dict[str, ClassRef] = {}
    for acc, schema in configured.items():
        if not any(m in index.modules for m in (acc.rpartition(".")[0], (schema or "").rpartition(".")[0])):
            continue  # the entries do not import the accessor: nothing of this closure reads it
        fn = index.function(acc)
        if schema is not None:
            ref = index.cls(schema)
            if ref is None:
                raise UsageError(f"[tool.deploycheck.config] accessors: class `{schema}` is not defined in the "
                                 "project modules of the import closure")
        else:
            if fn is None:
                raise UsageError(f"[tool.deploycheck.config] accessors: function `{acc}` is not defined in the "
                                 "project modules of the import closure")
            ref = index.cls(index.qualify_in(fn[0], unwrap(fn[1]))) if fn[1] is not None else None
            if ref is None:
                raise UsageError(f"[tool.deploycheck.config] accessors: the return annotation of `{acc}` does not "
                                 "name a project class; give the class (\"accessor\" = \"module.Class\")")
        out[index.resolve(acc) or acc] = ref
        out[ref.qualname] = ref
    for mod in index.modules.values():
        for name, ret in mod.functions.items():
            if ret is None:
                continue
            ref = index.cls(index.qualify_in(mod, unwrap(ret)))
            if ref is not None and (index.settings_flavour(ref) or _CONFIG_NAME.search(name)
                                    or _CONFIG_NAME.search(ref.scan.name)):
                out.setdefault(f"{mod.module}.{name}", ref)
        for name in mod.classes:
            ref = index.cls(f"{mod.module}.{name}")
            if ref is not None and index.settings_flavour(ref):
                out.setdefault(ref.qualname, ref)
    return out


def _settings_reads(index: Index, reads: list[Read], at_import: set[str]) -> list[str]:
    """Add a Read per environment variable of every settings class that is instantiated in the closure or
    that no project class subclasses (a base that only others extend reads nothing itself). The reads run
    at import when some instantiation does (``settings = Settings()`` at module level, or in an accessor
    called at module level). A variable is set by the code when every instantiation in the closure comes
    after code that sets it on every path (``contract.flow``): pydantic-settings reads ``os.environ`` when
    the object is created."""
    instantiated: dict[str, str] = {}
    set_before: dict[str, list[tuple[str, dict | None]]] = {}  # class -> (path, variables set) per call
    for mod in index.modules.values():
        for func, _w, scope, env in mod.calls:
            when = _when(mod, scope, at_import)
            ref = index.cls(index.qualify_in(mod, func))
            if ref is None or not index.settings_flavour(ref):
                continue
            set_before.setdefault(ref.qualname, []).append((mod.path, env))
            if instantiated.get(ref.qualname) != "import":
                instantiated[ref.qualname] = when
    subclassed: set[str] = set()
    classes: list[ClassRef] = []
    for mod in index.modules.values():
        for name in mod.classes:
            ref = index.cls(f"{mod.module}.{name}")
            if ref is None or not index.settings_flavour(ref):
                continue
            classes.append(ref)
            for base in index.mro(ref)[0][1:]:
                subclassed.add(base.qualname)
    used = []
    for ref in classes:
        if ref.qualname not in instantiated and ref.qualname in subclassed:
            continue
        used.append(ref.qualname)
        start = len(reads)
        _class_reads(index, ref, instantiated.get(ref.qualname, "import"), reads)
        calls = set_before.get(ref.qualname, [])
        for r in reads[start:]:
            r.set_by = _set_before_every(r, calls)
    return used


def _set_before_every(read: Read, calls: list[tuple[str, dict | None]]) -> tuple[tuple[str, int, str], ...]:
    """Where the code sets one of the read's names before every instantiation (none: not set by the code)."""
    out: set[tuple[str, int, str]] = set()
    names = {n if read.case_sensitive else n.upper() for n in (read.name, *read.alternatives)}
    for path, env in calls:
        found = [w for name, where in (env or {}).items()
                 if (name if read.case_sensitive else name.upper()) in names for w in where]
        if not found:
            return ()
        out.update((path, line, how) for line, how in found)
    return tuple(sorted(out))


def _class_reads(index: Index, ref: ClassRef, when: str, reads: list[Read]) -> None:
    flavour = index.settings_flavour(ref) or "v2"
    cfg = index.config(ref)
    prefix = cfg.get("env_prefix") if isinstance(cfg.get("env_prefix"), str) else ""
    sensitive = cfg.get("case_sensitive") is True
    delim = cfg.get("env_nested_delimiter") if isinstance(cfg.get("env_nested_delimiter"), str) else None
    ignore_empty = cfg.get("env_ignore_empty") is True
    none_str = cfg.get("env_parse_none_str") if isinstance(cfg.get("env_parse_none_str"), str) else None

    def typed(owner_module, ann) -> str | None:  # pydantic 1 parses differently: not judged
        return scalar_type(index, owner_module, ann) if flavour == "v2" else None

    for fname, (owner, (line, col, ann, value)) in index.fields(ref).items():
        fd = field_default(index, owner.module, ann, value, flavour)
        names = fd.aliases or (f"{prefix}{fname}",)
        via = f"{ref.scan.name}.{fname} (pydantic-settings)"
        sub = index.cls(index.qualify_in(owner.module, unwrap(ann)))
        if delim and sub is not None and index.is_model(sub) and not index.settings_flavour(sub):
            for sname, (sowner, (_sl, _sc, sann, svalue)) in index.fields(sub).items():
                sd = field_default(index, sowner.module, sann, svalue, flavour)
                reads.append(Read(f"{names[0]}{delim}{sname}", owner.module.path, line, col, owner.module.module,
                                  f"{ref.scan.name}.{fname}.{sname} (pydantic-settings)",
                                  fd.required and sd.required, fd.has_default or sd.has_default,
                                  sd.default if not fd.has_default else None, sensitive, tuple(names), when,
                                  typed(sowner.module, sann), ignore_empty, none_str))
            continue
        reads.append(Read(names[0], owner.module.path, line, col, owner.module.module, via, fd.required,
                          fd.has_default, fd.default, sensitive, tuple(names[1:]), when, typed(owner.module, ann),
                          ignore_empty, none_str))


def _config_class(index: Index, mod: ModuleScan, base: tuple, schemas: dict[str, ClassRef],
                  memo: dict) -> tuple[ClassRef, str] | None:
    """The class of a config object expression, and how it was obtained: a call of an accessor, or a name
    whose every value that may reach the read (``contract.flow``) is a config object of that one class."""
    if base[0] == "call":
        return _value_class(index, mod, base[1], schemas, memo)
    _, name, values, local = base
    found = _values_class(index, mod, values, schemas, memo)
    if found is None:
        return None
    return (found[0], f"{name} (= {found[1]})") if local else (found[0], name)


def _values_class(index: Index, mod: ModuleScan, values: frozenset, schemas: dict[str, ClassRef],
                  memo: dict) -> tuple[ClassRef, str] | None:
    """The one class of every value (None when any is not a config object, or they differ), with how the
    first was obtained."""
    if not values or any(isinstance(v, str) for v in values):  # OTHER or UNBOUND may reach the read
        return None
    found = [_value_class(index, mod, v, schemas, memo) for v in _ordered(values)]
    if not found or any(f is None for f in found):
        return None
    if len({f[0].qualname for f in found}) != 1:  # type: ignore[index]
        return None
    return found[0]


def _ordered(values: frozenset) -> list:
    """Values in source order (calls by position, then imports), for a stable message."""
    return sorted(values, key=lambda v: (0, v.lineno, v.col_offset, "") if isinstance(v, ast.AST)
                  else (1, 0, 0, str(v)))


def _value_class(index: Index, mod: ModuleScan, value, schemas: dict[str, ClassRef],
                 memo: dict) -> tuple[ClassRef, str] | None:
    if isinstance(value, ast.AST):  # the function of a call
        q = index.qualify_in(mod, value)
        return (schemas[q], f"{ast.unparse(value)}()") if q in schemas else None
    if not (isinstance(value, tuple) and value[0] == "import"):
        return None
    # a module-level variable of another module: the values it holds once that module has run
    owner, _, var = (index.resolve(value[1]) or "").rpartition(".")
    key = (owner, var)
    if key not in memo:
        memo[key] = None  # an import cycle resolves to nothing
        scan_ = index.modules.get(owner)
        if scan_ is not None and var in scan_.variables:
            found = _values_class(index, scan_, scan_.variables[var], schemas, memo)
            memo[key] = (found[0], var) if found is not None else None
    return memo[key]


def _check_site(index: Index, mod: ModuleScan, site: AttrSite, schemas: dict[str, ClassRef],
                when: str, memo: dict) -> AttrMiss | None:
    found = _config_class(index, mod, site.base, schemas, memo)
    if found is None:
        return None
    ref, source = found
    for i, attr in enumerate(site.attrs):
        has = index.has_member(ref, attr)
        if has is None:
            return None
        if not has:
            names = sorted(n for n in (index.members(ref) or set()) if not n.startswith("_"))
            close = difflib.get_close_matches(attr, names, n=1)
            line, col = site.positions[i]
            var, _, origin = source.partition(" ")
            shown = var + "".join(f".{a}" for a in site.attrs[:i]) + (f".{attr} {origin}" if origin else f".{attr}")
            return AttrMiss(mod.path, line, col, mod.module, ref.qualname, attr, shown,
                            close[0] if close else None, when)
        nxt = index.member_class(ref, attr)
        if nxt is None:
            return None
        ref = nxt
    return None
