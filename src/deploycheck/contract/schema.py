"""Classes across the project's modules: which are pydantic-settings models, their fields with environment
names (pydantic-settings docs: ``env_prefix``, aliases, ``case_sensitive``, ``env_nested_delimiter``), and
the members an instance has (for DC401), through re-exports and inheritance. Static: nothing is imported.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from deploycheck.contract.scan import ClassScan, ModuleScan, literal, parse_annotation

SETTINGS_V2 = {"pydantic_settings.BaseSettings", "pydantic_settings.main.BaseSettings"}
SETTINGS_V1 = {"pydantic.BaseSettings", "pydantic.env_settings.BaseSettings", "pydantic.v1.BaseSettings",
               "pydantic.v1.env_settings.BaseSettings"}
MODELS = {"pydantic.BaseModel", "pydantic.main.BaseModel", "pydantic.v1.BaseModel", "pydantic.v1.main.BaseModel"}
_PYDANTIC_MEMBERS = {"dict", "json", "copy", "parse_obj", "parse_raw", "parse_file", "from_orm", "construct",
                     "schema", "schema_json", "validate", "update_forward_refs", "fields", "Config",
                     "settings_customise_sources", "customise_sources"}
# bases whose instances have no public members beyond dunders (and these)
_PLAIN = {"builtins.object": set(), "typing.Generic": set(), "abc.ABC": set(),
          "typing.NamedTuple": {"_asdict", "_replace", "_fields", "_make", "_field_defaults", "count", "index"}}
_FIELD_FUNCS = {"pydantic.Field", "pydantic.fields.Field", "pydantic.v1.Field", "pydantic_settings.Field"}


@dataclass
class ClassRef:
    qualname: str
    scan: ClassScan
    module: ModuleScan


class Index:
    """Every scanned project module, and resolution of dotted names to classes and functions."""

    def __init__(self, scans: list[ModuleScan]) -> None:
        self.modules = {s.module: s for s in scans}

    def resolve(self, qualname: str | None, depth: int = 0) -> str | None:
        """Follow re-exports: ``app.config.Settings`` imported into ``app`` resolves ``app.Settings``."""
        if qualname is None or depth > 20:
            return qualname
        mod, _, name = qualname.rpartition(".")
        scan = self.modules.get(mod)
        if scan is None:
            return qualname
        if name in scan.classes or name in scan.functions or name in scan.variables:
            return qualname
        if name in scan.imports and scan.imports[name] != qualname:
            return self.resolve(scan.imports[name], depth + 1)
        return qualname

    def cls(self, qualname: str | None) -> ClassRef | None:
        q = self.resolve(qualname)
        if q is None:
            return None
        mod, _, name = q.rpartition(".")
        scan = self.modules.get(mod)
        if scan is None or name not in scan.classes:
            return None
        return ClassRef(q, scan.classes[name], scan)

    def function(self, qualname: str) -> tuple[ModuleScan, ast.expr | None] | None:
        q = self.resolve(qualname)
        mod, _, name = (q or "").rpartition(".")
        scan = self.modules.get(mod)
        if scan is None or name not in scan.functions:
            return None
        return scan, scan.functions[name]

    def qualify_in(self, module: ModuleScan, expr: ast.expr | None) -> str | None:
        return self.resolve(module.qualify(expr))

    # -- inheritance ----------------------------------------------------------------------------------------
    def mro(self, ref: ClassRef, depth: int = 0) -> tuple[list[ClassRef], set[str], bool]:
        """(project classes from ``ref`` up, in lookup order; external bases; closed). ``closed`` is False
        when a base is neither a project class nor one whose members are known here."""
        chain, external, closed = [ref], set(), not ref.scan.dynamic
        if depth > 30:
            return chain, external, False
        for b in ref.scan.bases:
            q = self.qualify_in(ref.module, b)
            base = self.cls(q)
            if base is not None:
                sub, ext, ok = self.mro(base, depth + 1)
                chain += [c for c in sub if c.qualname not in {x.qualname for x in chain}]
                external |= ext
                closed &= ok
            elif q in SETTINGS_V2 | SETTINGS_V1 | MODELS or q in _PLAIN:
                external.add(q)
            else:
                closed = False
        return chain, external, closed

    def settings_flavour(self, ref: ClassRef) -> str | None:
        """``v2`` (pydantic-settings), ``v1`` (pydantic 1 ``BaseSettings``) or None (not a settings class)."""
        _, external, _ = self.mro(ref)
        if external & SETTINGS_V2:
            return "v2"
        if external & SETTINGS_V1:
            return "v1"
        return None

    def is_model(self, ref: ClassRef) -> bool:
        _, external, _ = self.mro(ref)
        return bool(external & (MODELS | SETTINGS_V1 | SETTINGS_V2))

    def members(self, ref: ClassRef) -> set[str] | None:
        """Every attribute an instance has, or None when that cannot be known (an unknown base,
        ``__getattr__``, a pydantic model with ``extra = "allow"``)."""
        chain, external, closed = self.mro(ref)
        if not closed:
            return None
        names: set[str] = set()
        for c in chain:
            if c.scan.config.get("extra") in ("allow", ...):
                return None
            names |= c.scan.members
        for e in external:
            names |= _PLAIN.get(e, set())
        if external & (MODELS | SETTINGS_V1 | SETTINGS_V2):
            names |= _PYDANTIC_MEMBERS  # and every model_* name (has_member)
        return names

    def has_member(self, ref: ClassRef, name: str) -> bool | None:
        names = self.members(ref)
        if names is None:
            return None
        if name.startswith("__") and name.endswith("__"):
            return True
        if name.startswith("model_") and self.is_model(ref):
            return True
        return name in names

    def member_class(self, ref: ClassRef, name: str) -> ClassRef | None:
        """The class of ``instance.name`` when its annotation (field or property return) names a project
        class (``Optional[X]`` and ``X | None`` unwrapped)."""
        for c in self.mro(ref)[0]:
            ann = None
            if name in c.scan.fields:
                ann = c.scan.fields[name][2]
            elif name in c.scan.properties:
                ann = c.scan.properties[name]
            if ann is not None:
                return self.cls(self.qualify_in(c.module, unwrap(ann)))
        return None

    # -- settings fields -------------------------------------------------------------------------------------
    def config(self, ref: ClassRef) -> dict[str, object]:
        """``model_config`` merged down the inheritance chain (pydantic merges a subclass's config over its
        bases')."""
        merged: dict[str, object] = {}
        for c in reversed(self.mro(ref)[0]):
            merged.update(c.scan.config)
        return merged

    def fields(self, ref: ClassRef) -> dict[str, tuple[ClassRef, tuple]]:
        """Fields in definition order, a subclass overriding its bases: name -> (defining class, field)."""
        out: dict[str, tuple[ClassRef, tuple]] = {}
        for c in reversed(self.mro(ref)[0]):
            for name, f in c.scan.fields.items():
                out[name] = (c, f)
        return out


def unwrap(ann: ast.expr) -> ast.expr:
    """``Optional[X]``, ``X | None``, ``Annotated[X, ...]`` -> ``X``; a string annotation is parsed."""
    if isinstance(ann, ast.Constant) and isinstance(ann.value, str):
        parsed = parse_annotation(ann.value)
        if parsed is None:
            return ann
        ann = parsed
    if isinstance(ann, ast.BinOp) and isinstance(ann.op, ast.BitOr):
        for side in (ann.left, ann.right):
            if not (isinstance(side, ast.Constant) and side.value is None):
                return unwrap(side)
    if isinstance(ann, ast.Subscript):
        name = ann.value.attr if isinstance(ann.value, ast.Attribute) else getattr(ann.value, "id", "")
        if name in ("Optional", "Annotated"):
            inner = ann.slice.elts[0] if isinstance(ann.slice, ast.Tuple) else ann.slice
            return unwrap(inner)
        if name == "Union" and isinstance(ann.slice, ast.Tuple):
            rest = [e for e in ann.slice.elts if not (isinstance(e, ast.Constant) and e.value is None)]
            if len(rest) == 1:
                return unwrap(rest[0])
    return ann


_SCALARS = {"builtins.int": "int", "builtins.float": "float", "builtins.bool": "bool"}


def scalar_type(index: Index, module: ModuleScan, ann: ast.expr) -> str | None:
    """``int``, ``float`` or ``bool`` when the annotation is that builtin, or ``Optional`` / ``X | None`` /
    ``Annotated`` of it; None for anything else (a union of two types, a constrained or container type)."""
    if isinstance(ann, ast.Constant) and isinstance(ann.value, str):
        ann = parse_annotation(ann.value)
        if ann is None:
            return None
    if isinstance(ann, ast.BinOp) and isinstance(ann.op, ast.BitOr):
        sides = [x for x in (ann.left, ann.right) if not (isinstance(x, ast.Constant) and x.value is None)]
        return scalar_type(index, module, sides[0]) if len(sides) == 1 else None
    if isinstance(ann, ast.Subscript):
        name = ann.value.attr if isinstance(ann.value, ast.Attribute) else getattr(ann.value, "id", "")
        args = list(ann.slice.elts) if isinstance(ann.slice, ast.Tuple) else [ann.slice]
        if name in ("Optional", "Annotated"):
            return scalar_type(index, module, args[0])
        if name == "Union":
            rest = [x for x in args if not (isinstance(x, ast.Constant) and x.value is None)]
            return scalar_type(index, module, rest[0]) if len(rest) == 1 else None
        return None
    if isinstance(ann, (ast.Name, ast.Attribute)):
        return _SCALARS.get(index.qualify_in(module, ann) or "")
    return None


def optional(ann: ast.expr) -> bool:
    """Whether an annotation admits None (``Optional[X]``, ``X | None``, ``Union[X, None]``)."""
    for n in ast.walk(ann):
        if isinstance(n, ast.Constant) and n.value is None:
            return True
        if isinstance(n, ast.Name) and n.id == "Optional" or isinstance(n, ast.Attribute) and n.attr == "Optional":
            return True
    return False


@dataclass
class FieldDefault:
    """A field's default as pydantic reads it: ``required``, ``has_default``, the literal ``default`` text,
    and the environment names given by ``alias`` / ``validation_alias`` (``AliasChoices``) / v1 ``env``."""

    required: bool
    has_default: bool
    default: str | None
    aliases: tuple[str, ...] = ()


def field_default(index: Index, module: ModuleScan, ann: ast.expr, value: ast.expr | None, flavour: str) -> FieldDefault:
    aliases: tuple[str, ...] = ()
    if isinstance(value, ast.Call) and (index.qualify_in(module, value.func) in _FIELD_FUNCS
                                        or getattr(value.func, "id", "") == "Field"):
        kw = {k.arg: k.value for k in value.keywords if k.arg}
        for key in ("validation_alias", "alias", "env"):
            if key in kw:
                aliases = _alias_names(kw[key])
                break
        if "default_factory" in kw:
            return FieldDefault(False, True, None, aliases)
        default = value.args[0] if value.args else kw.get("default")
        if default is None or (isinstance(default, ast.Constant) and default.value is Ellipsis):
            if default is None and flavour == "v1" and optional(ann):
                return FieldDefault(False, True, None, aliases)
            return FieldDefault(True, False, None, aliases)
        value = default
    if value is None:
        if flavour == "v1" and optional(ann):
            return FieldDefault(False, True, None, aliases)
        return FieldDefault(True, False, None, aliases)
    if isinstance(value, ast.Constant) and value.value is Ellipsis:
        return FieldDefault(True, False, None, aliases)
    is_lit, text = literal(value)
    return FieldDefault(False, True, text if is_lit else None, aliases)


def _alias_names(expr: ast.expr) -> tuple[str, ...]:
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return (expr.value,)
    if isinstance(expr, ast.Call):  # AliasChoices("A", "B"); AliasPath is not an environment name
        if getattr(expr.func, "id", getattr(expr.func, "attr", "")) == "AliasChoices":
            return tuple(a.value for a in expr.args if isinstance(a, ast.Constant) and isinstance(a.value, str))
        return ()
    if isinstance(expr, (ast.List, ast.Tuple, ast.Set)):  # v1 env=["A", "B"]
        return tuple(e.value for e in expr.elts if isinstance(e, ast.Constant) and isinstance(e.value, str))
    return ()
