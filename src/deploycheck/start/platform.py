"""What the platform a manifest deploys to gives the container, beyond its environment: ``PORT``, the
port it routes to, and whether the root filesystem is writable.

- Cloud Run (a ``serving.knative.dev`` Service; Cloud Run's container runtime contract): it sets ``PORT``
  to the container's ``containerPort`` (its only port), 8080 when none is given, and sends requests there.
  No manifest is read as Cloud Run (and most platforms that set ``PORT``, Heroku, App Engine): ``PORT``
  8080, unless ``--env``/``--env-file`` set it.
- Kubernetes (core/v1 ``Container``): the kubelet sets no ``PORT``; a ``PORT`` is there only when the
  container's ``env`` (or the image's ``Env``) sets it. The port traffic reaches is the container's first
  ``containerPort``.
- Both give the container a writable root (a copy-on-write layer over the image, discarded with the
  container), unless the container's ``securityContext.readOnlyRootFilesystem`` is true; then only its
  ``volumeMounts`` (and the image's volumes) are writable.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass, field

from deploycheck.errors import UsageError

CLOUD_RUN_PORT = 8080  # Cloud Run's default PORT (container runtime contract)


@dataclass
class Platform:
    """``name`` ``cloud-run``, ``kubernetes`` or ``""`` (no manifest); ``source`` the manifest's file name;
    ``container_port`` the container's first ``containerPort`` (None: none declared);
    ``read_only_root`` its ``securityContext.readOnlyRootFilesystem``; ``mounts`` the paths of its
    ``volumeMounts`` (absolute, normalized) that are writable."""

    name: str = ""
    source: str = ""
    container_port: int | None = None
    read_only_root: bool = False
    mounts: list[str] = field(default_factory=list)


def read(paths: list[str], container: str | None) -> Platform:
    """The platform of the first manifest of ``paths`` holding a workload with a container ``container``
    names (or its only one); a compose file or a file of Secrets and ConfigMaps only is skipped. Raises
    UsageError for a field read here of the wrong type."""
    from deploycheck.contract import compose, kube, yamlfile

    for path in paths:
        docs = yamlfile.load_all(path)
        if compose.is_compose(docs):
            continue
        for doc in docs if isinstance(docs, list) else [docs]:
            found = kube.containers(path, [doc], container)
            if not found:
                continue
            knative = (isinstance(doc, dict) and doc.get("kind") == "Service"
                       and str(doc.get("apiVersion") or "").startswith("serving.knative.dev/"))
            return _platform("cloud-run" if knative else "kubernetes", os.path.basename(path), found[0])
    return Platform()


def _platform(name: str, source: str, c: dict) -> Platform:
    where = f"{source}: container {c.get('name') or ''}".rstrip()
    port = None
    ports = c.get("ports") or []
    if not isinstance(ports, list):
        raise UsageError(f"{where}: ports must be a list")
    for p in ports:
        value = p.get("containerPort") if isinstance(p, dict) else None
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
            raise UsageError(f"{where}: ports[].containerPort must be a port number")
        port = value
        break
    context = c.get("securityContext") or {}
    if not isinstance(context, dict):
        raise UsageError(f"{where}: securityContext must be a mapping")
    read_only = context.get("readOnlyRootFilesystem", False)
    if not isinstance(read_only, bool):
        raise UsageError(f"{where}: securityContext.readOnlyRootFilesystem must be true or false")
    mounts = []
    for m in c.get("volumeMounts") or []:
        path = m.get("mountPath") if isinstance(m, dict) else None
        if not isinstance(path, str) or not path.startswith("/") or "\0" in path:
            raise UsageError(f"{where}: volumeMounts[].mountPath must be an absolute path")
        if m.get("readOnly") is not True:
            mounts.append(posixpath.normpath(path))
    return Platform(name, source, port, read_only, mounts)


def port(platform: Platform, provided: dict[str, str], image_env: dict[str, str]) -> tuple[str | None, str]:
    """``(PORT to set, or None: none set, why)``: the value the platform gives ``PORT`` and a sentence
    saying where it came from, for the report. ``provided`` is the deployment's environment (``--env``,
    ``--env-file``, the manifest's ``env``), ``image_env`` the image's ``Env``."""
    if platform.name == "cloud-run":
        value = platform.container_port or CLOUD_RUN_PORT
        why = (f"containerPort of {platform.source}" if platform.container_port
               else f"Cloud Run's default, {platform.source} declares no containerPort")
        return str(value), f"PORT={value}: set by Cloud Run ({why})"
    if platform.name == "kubernetes":
        if "PORT" in provided:
            return provided["PORT"], f"PORT={provided['PORT']}: from the environment given (Kubernetes sets none)"
        if "PORT" in image_env:
            return None, f"PORT={image_env['PORT']}: from the image's Env (Kubernetes sets none)"
        return None, "no PORT: Kubernetes sets none and neither the manifest nor the image does"
    if "PORT" in provided:
        return provided["PORT"], f"PORT={provided['PORT']}: from the environment given"
    return str(CLOUD_RUN_PORT), (f"PORT={CLOUD_RUN_PORT}: as Cloud Run sets it when no containerPort is given "
                                 "(no --manifest; an image's EXPOSE and Env PORT do not change it there)")
