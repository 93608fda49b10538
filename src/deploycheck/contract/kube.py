"""Kubernetes manifests and Cloud Run / Knative Services: the environment of their containers.

Read as the Kubernetes API documents them (core/v1 ``Container.env`` and ``envFrom``, ``EnvVarSource``):
``value``, ``valueFrom.secretKeyRef`` / ``configMapKeyRef`` (set at run time; the value is known only when
the Secret or ConfigMap manifest is given too, ``data`` base64-decoded, ``stringData`` as is),
``fieldRef`` / ``resourceFieldRef``, and ``envFrom`` ``secretRef`` / ``configMapRef`` with ``prefix``.
``$(VAR)`` references are expanded from the container's earlier variables, as the kubelet does.
Workloads: Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob, and a
Knative ``serving.knative.dev`` Service (which is what Cloud Run's service YAML is); init containers are not
the service.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field

from deploycheck.contract import template
from deploycheck.contract.model import Provided
from deploycheck.contract.yamlfile import Mapping
from deploycheck.errors import UsageError

_POD_PATHS = {
    "Pod": ("spec",), "Deployment": ("spec", "template", "spec"), "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"), "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"), "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
_REF = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")
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


def read(path: str, docs: list[object], container: str | None, into: Manifests) -> None:
    """Add the environment of ``docs`` (one file's YAML documents) to ``into``. Raises ``UsageError`` for a
    document that is not a manifest, wrongly typed env entries, or a file with neither a workload nor a
    Secret or ConfigMap."""
    kinds: list[str] = []
    into.sources.setdefault(path, "kubernetes")
    before = into.workloads, len(into.objects)
    for doc in _flatten(docs):
        if not isinstance(doc, dict) or not isinstance(doc.get("kind"), str):
            raise UsageError(f"{path}:{_line(doc)}: not a Kubernetes manifest (no `kind`)")
        kind, api = doc["kind"], str(doc.get("apiVersion", ""))
        kinds.append(kind)
        if kind in ("Secret", "ConfigMap"):
            _object(path, doc, into)
            continue
        if kind == "Service" and api.startswith("serving.knative.dev/"):
            spec, source = _get(doc, ("spec", "template", "spec")), "cloud-run"
            into.sources[path] = source
        elif kind in _POD_PATHS:
            spec, source = _get(doc, _POD_PATHS[kind]), "kubernetes"
        else:
            continue
        if not isinstance(spec, dict):
            raise UsageError(f"{path}:{_line(doc)}: {kind} has no pod template spec")
        containers = spec.get("containers")
        if not isinstance(containers, list) or not all(isinstance(c, dict) for c in containers):
            raise UsageError(f"{path}:{_line(spec)}: {kind} `containers` must be a list of containers")
        chosen = [c for c in containers if container is None or c.get("name") == container]
        if container is not None and not chosen and len(containers) == 1 and "name" not in containers[0]:
            chosen = containers
        into.workloads += bool(chosen)
        for c in chosen:
            _container(path, c, source, into)
    if (into.workloads, len(into.objects)) == before:
        found = ", ".join(sorted(set(kinds))) or "none"
        what = f"no container named `{container}`" if container and any(k in _POD_PATHS for k in kinds) else (
            "no workload with containers")
        raise UsageError(f"{path}: {what} (kinds found: {found}); give a Deployment, StatefulSet, DaemonSet, Job, "
                         "CronJob, Pod, a Cloud Run / Knative Service, or a docker-compose file")


def _flatten(docs: list[object]):
    for d in docs:
        if isinstance(d, dict) and d.get("kind") == "List" and isinstance(d.get("items"), list):
            yield from d["items"]
        else:
            yield d


def _line(obj: object) -> int:
    return obj.line if isinstance(obj, Mapping) else 1


def _get(doc: dict, path: tuple[str, ...]):
    cur: object = doc
    for key in path:
        if not isinstance(cur, dict):
            return None
        cur = cur.get(key)
    return cur


def _object(path: str, doc: dict, into: Manifests) -> None:
    kind = "secret" if doc["kind"] == "Secret" else "configmap"
    name = _get(doc, ("metadata", "name"))
    if not isinstance(name, str):
        raise UsageError(f"{path}:{_line(doc)}: {doc['kind']} without metadata.name")
    keys = into.objects.setdefault((kind, name), {})
    data = doc.get("data") or {}
    if not isinstance(data, dict):
        raise UsageError(f"{path}:{_line(doc)}: {doc['kind']} `data` must be a mapping")
    for k in data:
        value = _string(path, data, k, f"{doc['kind']} {name} `data` key {k}")
        if kind == "secret":
            try:
                value = base64.b64decode(value, validate=True).decode("utf-8")
            except (binascii.Error, ValueError):
                raise UsageError(f"{path}:{data.line_of(k) if isinstance(data, Mapping) else _line(doc)}: "
                                 f"Secret {name} key {k} is not base64 text") from None
        keys[str(k)] = (value, data.line_of(k) if isinstance(data, Mapping) else _line(doc), path)
    string_data = doc.get("stringData") or {}
    if kind == "secret" and isinstance(string_data, dict):
        for k in string_data:
            keys[str(k)] = (_string(path, string_data, k, f"Secret {name} `stringData` key {k}"),
                            string_data.line_of(k) if isinstance(string_data, Mapping) else 1, path)


def _container(path: str, c: dict, source: str, into: Manifests) -> None:
    env = c.get("env") or []
    if not isinstance(env, list):
        raise UsageError(f"{path}:{_line(c)}: container `env` must be a list")
    earlier: dict[str, str | None] = {}
    for e in env:
        if not isinstance(e, dict) or not isinstance(e.get("name"), str):
            raise UsageError(f"{path}:{_line(e) if isinstance(e, dict) else _line(c)}: an env entry needs a `name`")
        name, line = e["name"], _line(e)
        if "valueFrom" in e:
            vf = e["valueFrom"] if isinstance(e["valueFrom"], dict) else {}
            if isinstance(vf.get("secretKeyRef"), dict):
                ref = vf["secretKeyRef"]
                p = Provided(name, source, path, line, "secret", ref=f"secret {ref.get('name')} key {ref.get('key')}")
            elif isinstance(vf.get("configMapKeyRef"), dict):
                ref = vf["configMapKeyRef"]
                p = Provided(name, source, path, line, "configmap",
                             ref=f"configmap {ref.get('name')} key {ref.get('key')}")
            else:
                p = Provided(name, source, path, line, "field", ref="fieldRef" if "fieldRef" in vf else "resourceFieldRef")
        else:
            value: str | None = _string(path, e, "value", f"env `{name}`")
            kind, marked = "value", None
            if "{{" in value:
                marked = _HELM.sub(lambda m: template.mark(m.group(0)), value)
                value, kind = None, "templated"
            elif "$(" in value:
                value, marked = _expand(value, earlier)
                kind = "value" if value is not None else "templated"
            p = Provided(name, source, path, line, kind, value, template=marked if value is None else None)
        earlier[name] = p.value
        into.provided.append(p)
    env_from = c.get("envFrom") or []
    if not isinstance(env_from, list):
        raise UsageError(f"{path}:{_line(c)}: container `envFrom` must be a list")
    for ef in env_from:
        if not isinstance(ef, dict):
            continue
        prefix = ef.get("prefix") if isinstance(ef.get("prefix"), str) else ""
        for key, kind in (("secretRef", "secret"), ("configMapRef", "configmap")):
            if isinstance(ef.get(key), dict) and isinstance(ef[key].get("name"), str):
                into.env_from.append(EnvFrom(kind, ef[key]["name"], prefix, path, _line(ef), source))


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
            "a list" if isinstance(raw, list) else "a mapping" if isinstance(raw, dict) else "not text")
    line = mapping.line_of(key) if isinstance(mapping, Mapping) else _line(mapping)
    raise UsageError(f"{path}:{line}: {what}: the value is {kind}, not a string, and the Kubernetes API rejects "
                     "the manifest: quote it")


def _expand(value: str, earlier: dict[str, str | None]) -> tuple[str | None, str]:
    """``$(VAR)`` from the container's earlier variables; ``$$(VAR)`` stays literal (Kubernetes' rule).
    Returns ``(value or None when a reference is unknown, the text with unknown references marked)``."""
    unknown = False

    def sub(m: re.Match) -> str:
        nonlocal unknown
        got = earlier.get(m.group(1))
        if got is None:
            unknown = True
            return template.mark(m.group(0))
        return got

    out = _REF.sub(sub, value.replace("$$(", "\0")).replace("\0", "$(")
    return (None if unknown else out), out


def resolve(m: Manifests) -> tuple[list[Provided], list[EnvFrom]]:
    """Fill secret and config map values from the given Secret and ConfigMap manifests, and expand
    ``envFrom`` of known objects into variables. Returns (variables, envFrom references whose keys are
    unknown)."""
    out: list[Provided] = []
    for p in m.provided:
        if p.kind in ("secret", "configmap") and p.ref:
            _, name, _, key = p.ref.split(" ", 3)
            got = m.objects.get((p.kind, name), {}).get(key)
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
            out.append(Provided(ef.prefix + key, ef.source, ef.path, ef.line, ef.kind, value,
                                ref=f"{ef.kind} {ef.name} key {key}"))
    return out, unknown
