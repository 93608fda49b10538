"""Kubernetes manifests and Cloud Run / Knative Services: the environment of their containers.

Read as the Kubernetes API documents them (core/v1 ``Container.env`` and ``envFrom``, ``EnvVarSource``):
``value``, ``valueFrom.secretKeyRef`` / ``configMapKeyRef`` (set at run time; the value is known only when
the Secret or ConfigMap manifest is given too, ``data`` base64-decoded, ``stringData`` as is),
``fieldRef`` / ``resourceFieldRef``, and ``envFrom`` ``secretRef`` / ``configMapRef`` with ``prefix``.
``$(VAR)`` references are expanded from the container's earlier variables, as the kubelet does.
Workloads: Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob, and a
Knative ``serving.knative.dev`` Service (which is what Cloud Run's service YAML is); init containers are not
the service.

The fields read are checked against their API types (``EnvVar``, ``EnvVarSource``, ``EnvFromSource``,
``Container``, ``Secret``, ``ConfigMap``, ``ObjectMeta``): a field of the wrong type or shape is an input
error naming the file, the line and the field (never a value), because the Kubernetes API rejects such a
manifest whole. ``$(VAR)`` expansion and the number of variables are bounded (``contract.limits``).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field

from deploycheck.contract import template
from deploycheck.contract.limits import Budget
from deploycheck.contract.model import Provided
from deploycheck.errors import UsageError

_POD_PATHS = {
    "Pod": ("spec",), "Deployment": ("spec", "template", "spec"), "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"), "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"), "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
_REF = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")
_SOURCES = ("secretKeyRef", "configMapKeyRef", "fieldRef", "resourceFieldRef")
_REJECTS = "the Kubernetes API rejects the manifest"
_HELM = re.compile(r"\{\{.*?\}\}", re.DOTALL)


@dataclass
class EnvFrom:
    kind: str  # secret | configmap
    name: str
    prefix: str
    path: str
    line: int
    source: str


@dataclass
class Manifests:
    """What the manifests of one environment hold: container variables, ``envFrom`` references, and the
    Secrets and ConfigMaps given (``{(kind, name): {key: (value, line, path)}}``)."""

    provided: list[Provided] = field(default_factory=list)
    env_from: list[EnvFrom] = field(default_factory=list)
    objects: dict[tuple[str, str], dict[str, tuple[str, int, str]]] = field(default_factory=dict)
    workloads: int = 0
    sources: dict[str, str] = field(default_factory=dict)  # file -> kubernetes | cloud-run


def read(path: str, docs: list[object], container: str | None, into: Manifests,
         budget: Budget | None = None) -> None:
    """Add the environment of ``docs`` (one file's YAML documents) to ``into``. Raises ``UsageError`` for a
    document that is not a manifest, a field read here of the wrong type, a file with neither a workload
    nor a Secret or ConfigMap, and past the bounds of ``budget``."""
    budget = budget or Budget()
    kinds: list[str] = []
    into.sources.setdefault(path, "kubernetes")
    before = into.workloads, len(into.objects)
    for doc in _flatten(path, docs):
        if not isinstance(doc, dict) or not isinstance(doc.get("kind"), str):
            raise UsageError(f"{path}:{_line(doc)}: not a Kubernetes manifest (no `kind`)")
        kind = doc["kind"]
        api = _optional(path, doc, "apiVersion", str, "apiVersion", "a string") or ""
        _optional(path, doc, "metadata", dict, "metadata", "a mapping")
        kinds.append(kind)
        if kind in ("Secret", "ConfigMap"):
            _object(path, doc, into, budget)
            continue
        if kind == "Service" and api.startswith("serving.knative.dev/"):
            keys, source = ("spec", "template", "spec"), "cloud-run"
            into.sources[path] = source
        elif kind in _POD_PATHS:
            keys, source = _POD_PATHS[kind], "kubernetes"
        else:
            continue
        spec = _get(path, doc, keys)
        if not isinstance(spec, dict):
            raise UsageError(f"{path}:{_line(doc)}: {kind} has no pod template spec")
        containers = spec.get("containers")
        if not isinstance(containers, list) or not all(isinstance(c, dict) for c in containers):
            raise UsageError(f"{path}:{_line(spec)}: {kind} `containers` must be a list of containers")
        for i, c in enumerate(containers):
            _optional(path, c, "name", str, f"containers[{i}].name", "a string")
        chosen = [c for c in containers if container is None or c.get("name") == container]
        if container is not None and not chosen and len(containers) == 1 and "name" not in containers[0]:
            chosen = containers
        into.workloads += bool(chosen)
        for c in chosen:
            _container(path, c, source, into, budget)
    if (into.workloads, len(into.objects)) == before:
        found = _names(sorted(set(kinds))) or "none"
        what = f"no container named `{container}`" if container and any(k in _POD_PATHS for k in kinds) else (
            "no workload with containers")
        raise UsageError(f"{path}: {what} (kinds found: {found}); give a Deployment, StatefulSet, DaemonSet, Job, "
                         "CronJob, Pod, a Cloud Run / Knative Service, or a docker-compose file")


def containers(path: str, docs: list[object], container: str | None) -> list[dict]:
    """The containers of the workloads in ``docs`` (one file's YAML documents) that ``container`` names (all
    of them when None), as ``read`` chooses them; a document that is no workload is skipped."""
    out: list[dict] = []
    for doc in _flatten(path, docs):
        if not isinstance(doc, dict) or not isinstance(doc.get("kind"), str):
            continue
        kind, api = doc["kind"], str(doc.get("apiVersion") or "")
        if kind == "Service" and api.startswith("serving.knative.dev/"):
            keys = ("spec", "template", "spec")
        elif kind in _POD_PATHS:
            keys = _POD_PATHS[kind]
        else:
            continue
        spec = _get(path, doc, keys)
        found = spec.get("containers") if isinstance(spec, dict) else None
        if not isinstance(found, list):
            continue
        found = [c for c in found if isinstance(c, dict)]
        chosen = [c for c in found if container is None or c.get("name") == container]
        if container is not None and not chosen and len(found) == 1 and "name" not in found[0]:
            chosen = found
        out += chosen
    return out


def _names(names: list[str], most: int = 10) -> str:
    """Names for a message, at most ``most`` of them."""
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def _flatten(path: str, docs: list[object]):
    for d in docs:
        if isinstance(d, dict) and d.get("kind") == "List":
            items = d.get("items")
            if not isinstance(items, list):
                raise UsageError(f"{path}:{_line(d)}: List `items` must be a list of manifests")
            yield from items
        else:
            yield d


def _line(obj: object) -> int:
    from deploycheck.contract.yamlfile import Mapping  # here: only manifests read from YAML have lines

    return obj.line if isinstance(obj, Mapping) else 1


def _line_of(mapping: dict, key: object) -> int:
    from deploycheck.contract.yamlfile import Mapping

    return mapping.line_of(key) if isinstance(mapping, Mapping) else _line(mapping)


def _wrong(path: str, mapping: dict, key: object, field: str, expected: str) -> UsageError:
    return UsageError(f"{path}:{_line_of(mapping, key)}: `{field}` must be {expected}, and {_REJECTS}")


def _optional(path: str, mapping: dict, key: str, typ: type, field: str, expected: str):
    """``mapping[key]`` when present and not null, of type ``typ`` (else ``UsageError`` naming ``field``)."""
    value = mapping.get(key)
    if value is not None and (not isinstance(value, typ) or typ is not bool and isinstance(value, bool)):
        raise _wrong(path, mapping, key, field, expected)
    return value


def _required(path: str, mapping: dict, key: str, field: str) -> str:
    """``mapping[key]``, a string that must be there (else ``UsageError`` naming ``field``)."""
    value = mapping.get(key)
    if not isinstance(value, str):
        raise UsageError(f"{path}:{_line_of(mapping, key)}: `{field}` must be a string"
                         f"{'' if key in mapping else ' and is missing'}, and {_REJECTS}")
    return value


def _get(path: str, doc: dict, keys: tuple[str, ...]):
    cur: object = doc
    for i, key in enumerate(keys):
        if not isinstance(cur, dict):
            return None
        if cur.get(key) is not None and not isinstance(cur.get(key), dict) and i < len(keys) - 1:
            raise _wrong(path, cur, key, ".".join(keys[:i + 1]), "a mapping")
        cur = cur.get(key)
    return cur


def _object(path: str, doc: dict, into: Manifests, budget: Budget) -> None:
    kind = "secret" if doc["kind"] == "Secret" else "configmap"
    name = _get(path, doc, ("metadata", "name"))
    if not isinstance(name, str):
        raise UsageError(f"{path}:{_line(doc)}: {doc['kind']} without metadata.name")
    keys = into.objects.setdefault((kind, name), {})
    data = doc.get("data") or {}
    if not isinstance(data, dict):
        raise UsageError(f"{path}:{_line(doc)}: {doc['kind']} `data` must be a mapping")
    for k in data:
        budget.charge_variable(f"{path}:{_line_of(data, k)}")
        value = _string(path, data, k, f"{doc['kind']} {name} `data` key {k}")
        if kind == "secret":
            value = _base64(path, data, k, f"Secret {name} key {k}")
        keys[str(k)] = (value, _line_of(data, k), path)
    if kind == "configmap":  # binaryData: base64 bytes, checked as the API does; not an environment value
        binary = _optional(path, doc, "binaryData", dict, "binaryData", "a mapping") or {}
        for k in binary:
            _string(path, binary, k, f"ConfigMap {name} `binaryData` key {k}")
            _base64(path, binary, k, f"ConfigMap {name} binaryData key {k}", text=False)
    string_data = _optional(path, doc, "stringData", dict, "stringData", "a mapping") or {}
    if kind == "secret":
        for k in string_data:
            budget.charge_variable(f"{path}:{_line_of(string_data, k)}")
            keys[str(k)] = (_string(path, string_data, k, f"Secret {name} `stringData` key {k}"),
                            _line_of(string_data, k), path)


def _base64(path: str, mapping: dict, key: object, what: str, text: bool = True) -> str:
    """The base64 string at ``mapping[key]`` decoded (to UTF-8 text with ``text``). Raises ``UsageError``
    naming ``what``, never the value."""
    try:
        raw = base64.b64decode(_string(path, mapping, key, what), validate=True)
        return raw.decode("utf-8") if text else ""
    except (binascii.Error, ValueError):
        raise UsageError(f"{path}:{_line_of(mapping, key)}: {what} is not base64 text") from None


def _container(path: str, c: dict, source: str, into: Manifests, budget: Budget) -> None:
    env = c.get("env") or []
    if not isinstance(env, list):
        raise UsageError(f"{path}:{_line(c)}: container `env` must be a list")
    earlier: dict[str, str | None] = {}
    for i, e in enumerate(env):
        if not isinstance(e, dict) or not isinstance(e.get("name"), str):
            raise UsageError(f"{path}:{_line(e) if isinstance(e, dict) else _line(c)}: an env entry needs a `name`")
        name, line = e["name"], _line(e)
        budget.charge_variable(f"{path}:{line}")
        if e.get("valueFrom") is not None:
            p = _value_from(path, e, f"env[{i}]", source)
        else:
            value: str | None = _string(path, e, "value", f"env `{name}`")
            kind, marked = "value", None
            if "{{" in value:
                marked = _HELM.sub(lambda m: template.mark(m.group(0)), value)
                value, kind = None, "templated"
            elif "$(" in value:
                value, marked = _expand(value, earlier, budget, f"{path}:{line}", name)
                kind = "value" if value is not None else "templated"
            p = Provided(name, source, path, line, kind, value, template=marked if value is None else None)
        earlier[name] = p.value
        into.provided.append(p)
    env_from = c.get("envFrom") or []
    if not isinstance(env_from, list):
        raise UsageError(f"{path}:{_line(c)}: container `envFrom` must be a list")
    for i, ef in enumerate(env_from):
        field = f"envFrom[{i}]"
        if not isinstance(ef, dict):
            raise _wrong(path, c, "envFrom", field, "a mapping")
        budget.charge_variable(f"{path}:{_line(ef)}")
        prefix = _optional(path, ef, "prefix", str, f"{field}.prefix", "a string") or ""
        refs = [k for k in ("secretRef", "configMapRef") if ef.get(k) is not None]
        if len(refs) != 1:
            raise UsageError(f"{path}:{_line(ef)}: `{field}` must have one of secretRef and configMapRef, "
                             f"and {_REJECTS}")
        ref = _optional(path, ef, refs[0], dict, f"{field}.{refs[0]}", "a mapping")
        _optional(path, ref, "optional", bool, f"{field}.{refs[0]}.optional", "true or false")
        ref_name = _required(path, ref, "name", f"{field}.{refs[0]}.name")
        kind = "secret" if refs[0] == "secretRef" else "configmap"
        into.env_from.append(EnvFrom(kind, ref_name, prefix, path, _line(ef), source))


def _value_from(path: str, e: dict, field: str, source: str) -> Provided:
    """The variable of an env entry with ``valueFrom`` (``EnvVarSource``: exactly one of its four
    sources)."""
    name, line = e["name"], _line(e)
    if _string(path, e, "value", f"env `{name}`"):
        raise UsageError(f"{path}:{line}: `{field}` has both `value` and `valueFrom`, and {_REJECTS}")
    vf = _optional(path, e, "valueFrom", dict, f"{field}.valueFrom", "a mapping")
    given = [k for k in _SOURCES if vf.get(k) is not None]
    if len(given) != 1:
        raise UsageError(f"{path}:{_line(vf)}: `{field}.valueFrom` must have one of {', '.join(_SOURCES)}, "
                         f"and {_REJECTS}")
    what = given[0]
    ref = _optional(path, vf, what, dict, f"{field}.valueFrom.{what}", "a mapping")
    where = f"{field}.valueFrom.{what}"
    if what in ("secretKeyRef", "configMapKeyRef"):
        ref_name = _required(path, ref, "name", f"{where}.name")
        key = _required(path, ref, "key", f"{where}.key")
        _optional(path, ref, "optional", bool, f"{where}.optional", "true or false")
        kind = "secret" if what == "secretKeyRef" else "configmap"
        return Provided(name, source, path, line, kind, ref=f"{kind} {ref_name} key {key}",
                        key_ref=(kind, ref_name, key))
    _required(path, ref, "fieldPath" if what == "fieldRef" else "resource", f"{where}."
              f"{'fieldPath' if what == 'fieldRef' else 'resource'}")
    return Provided(name, source, path, line, "field", ref=what)


def _string(path: str, mapping: dict, key: object, what: str) -> str:
    """The string at ``mapping[key]`` ("" when absent or null). The Kubernetes API types ``EnvVar.value``,
    ``ConfigMap.data`` and ``Secret.data`` / ``stringData`` as strings and rejects the whole manifest when one
    is a number, a boolean, a list or a mapping (``kubectl apply``: "cannot unmarshal number into Go struct
    field EnvVar...value of type string"), so such a value raises ``UsageError`` naming file and line (never
    the value)."""
    raw = mapping.get(key)
    if raw is None or isinstance(raw, str):
        return raw or ""
    kind = ("a boolean" if isinstance(raw, bool) else "a number" if isinstance(raw, (int, float)) else
            "a list" if isinstance(raw, list) else "a mapping" if isinstance(raw, dict) else
            "binary data (!!binary)" if isinstance(raw, bytes) else "a date (!!timestamp)")
    raise UsageError(f"{path}:{_line_of(mapping, key)}: {what}: the value is {kind}, not a string, and the "
                     "Kubernetes API rejects the manifest: quote it")


def _expand(value: str, earlier: dict[str, str | None], budget: Budget, where: str,
            name: str) -> tuple[str | None, str]:
    """``$(VAR)`` from the container's earlier variables; ``$$(VAR)`` stays literal (Kubernetes' rule).
    Returns ``(value or None when a reference is unknown, the text with unknown references marked)``. The
    size is charged to ``budget`` before the text is built."""
    text = value.replace("$$(", "\0")
    size = len(text)
    for m in _REF.finditer(text):
        got = earlier.get(m.group(1))
        size += (len(got) if got is not None else len(template.mark(m.group(0)))) - len(m.group(0))
    budget.charge_expanded(where, name, size)
    unknown = False

    def sub(m: re.Match) -> str:
        nonlocal unknown
        got = earlier.get(m.group(1))
        if got is None:
            unknown = True
            return template.mark(m.group(0))
        return got

    out = _REF.sub(sub, text).replace("\0", "$(")
    return (None if unknown else out), out


def resolve(m: Manifests, budget: Budget | None = None) -> tuple[list[Provided], list[EnvFrom]]:
    """Fill secret and config map values from the given Secret and ConfigMap manifests, and expand
    ``envFrom`` of known objects into variables (each charged to ``budget``). Returns (variables, envFrom
    references whose keys are unknown)."""
    budget = budget or Budget()
    out: list[Provided] = []
    for p in m.provided:
        if p.key_ref is not None:
            kind, name, key = p.key_ref
            got = m.objects.get((kind, name), {}).get(key)
            if got is not None:
                p.value = got[0]
        out.append(p)
    unknown: list[EnvFrom] = []
    for ef in m.env_from:
        keys = m.objects.get((ef.kind, ef.name))
        if keys is None:
            unknown.append(ef)
            continue
        for key, (value, _line_, _path) in keys.items():
            budget.charge_variable(f"{ef.path}:{ef.line}")
            out.append(Provided(ef.prefix + key, ef.source, ef.path, ef.line, ef.kind, value,
                                ref=f"{ef.kind} {ef.name} key {key}"))
    return out, unknown
