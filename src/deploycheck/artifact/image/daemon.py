"""The ``docker-daemon:NAME[:TAG]`` transport: the image as a Docker daemon exports it through the Docker
Engine API (``GET /_ping``; ``GET /images/{name}/json`` resolves the name to an image ID as ``docker inspect``
does; ``GET /images/{id}/get``, whose body is the tar ``docker save`` writes), streamed into a private
temporary directory and then read as ``docker-archive:``.

The daemon is found as the Docker CLI finds it: ``DOCKER_HOST`` (``unix:///path`` or ``tcp://host[:port]``,
port 2375 by default), else ``unix:///var/run/docker.sock``. TLS to the daemon (``DOCKER_TLS_VERIFY``) is
not supported.
"""

from __future__ import annotations

import json
import os
import re
from urllib.parse import quote, urlsplit

from deploycheck import private
from deploycheck.artifact.image.errors import ImageError
from deploycheck.artifact.image.limits import Limits, raise_hint

DEFAULT_HOST = "unix:///var/run/docker.sock"
DEFAULT_TCP_PORT = 2375  # the Docker CLI's port for tcp:// without TLS
PING_TIMEOUT = 5.0  # seconds to connect and to answer /_ping
RESOLVE_TIMEOUT = 60.0  # seconds for GET /images/{name}/json to answer
EXPORT_IDLE_TIMEOUT = 300.0  # seconds the export may go without sending a byte (the daemon assembles layers)
MAX_ERROR_BYTES = 64 * 1024
MAX_INSPECT_BYTES = 16 * 1024 * 1024  # GET /images/{name}/json (a few KiB)
# The export is the image's uncompressed layers plus a few JSON files: the image size limit and this margin.
EXPORT_MARGIN_BYTES = 16 * 1024 * 1024
_IMAGE_ID = re.compile(r"^sha256:[0-9a-f]{64}$")
_ID_PREFIX = re.compile(r"^[0-9a-f]{1,64}$")  # what the daemon also tries as the start of an image ID


def host() -> str:
    """The daemon address in force: ``DOCKER_HOST`` or ``unix:///var/run/docker.sock``."""
    return os.environ.get("DOCKER_HOST") or DEFAULT_HOST


def normalize(name: str) -> str:
    """The image reference to export: ``NAME:TAG``, ``NAME@DIGEST`` or an image ID ``sha256:HEX`` as given,
    ``NAME`` as ``NAME:latest`` (as skopeo's docker-daemon transport and ``docker pull`` do; exporting a bare
    repository name would export all its tags). Raises ImageError for an empty or malformed name."""
    if not name or any(c.isspace() or ord(c) < 32 for c in name) or name.startswith("/"):
        raise ImageError(f"docker-daemon:{name}: not an image name (docker-daemon:NAME[:TAG])")
    if "@" in name or _IMAGE_ID.match(name) or ":" in name.rsplit("/", 1)[-1]:
        return name
    return name + ":latest"


def _client(address: str, given: str):
    import httpx  # imported here: only this transport needs it

    if address.startswith("unix://"):
        return httpx.Client(base_url="http://docker", transport=httpx.HTTPTransport(uds=address[len("unix://"):]),
                            trust_env=False)
    if address.startswith("tcp://"):
        if os.environ.get("DOCKER_TLS_VERIFY"):
            raise ImageError(f"docker-daemon:{given}: DOCKER_TLS_VERIFY is set and deploycheck does not speak TLS "
                             f"to a Docker daemon; save the image with `docker save -o FILE {given}` and check "
                             "docker-archive:FILE")
        try:
            parts = urlsplit(address)
            port = parts.port or DEFAULT_TCP_PORT
        except ValueError as exc:
            raise ImageError(f"DOCKER_HOST={address}: not a valid address ({exc})") from None
        if not parts.hostname:
            raise ImageError(f"DOCKER_HOST={address}: no host name")
        hostname = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        return httpx.Client(base_url=f"http://{hostname}:{port}", trust_env=False)
    raise ImageError(f"DOCKER_HOST={address}: deploycheck reaches a Docker daemon over unix:// or tcp:// only")


def _body(resp, limit: int) -> bytes:
    """At most ``limit`` + 1 bytes of a streamed response's body."""
    parts, size = [], 0
    for chunk in resp.iter_bytes():
        parts.append(chunk)
        size += len(chunk)
        if size > limit:
            break
    return b"".join(parts)


def _daemon_message(resp) -> str:
    data = _body(resp, MAX_ERROR_BYTES)
    try:
        return str(json.loads(data)["message"])[:200]
    except (ValueError, KeyError, TypeError, RecursionError):
        return data[:200].decode("utf-8", "replace").strip()


def _resolve(client, name: str, ref: str, address: str) -> str:
    """The image ID ``sha256:HEX`` the daemon resolves ``name`` to (``GET /images/{name}/json``): a reference
    as given (a bare name as ``NAME:latest``), else, for a bare name, the image whose ID starts with it, the
    rule of ``docker inspect`` and ``docker run``. Raises ImageError when the daemon has no such image or
    refuses the name (its reference grammar: lowercase repository names)."""
    import httpx

    try:
        with client.stream("GET", f"/images/{quote(name, safe='/:@')}/json",
                           timeout=httpx.Timeout(PING_TIMEOUT, read=RESOLVE_TIMEOUT)) as resp:
            if resp.status_code == 404:
                also = f" and no image whose ID starts with {name}" if _ID_PREFIX.match(name) else ""
                raise ImageError(f"docker-daemon:{name}: the Docker daemon at {address} has no image "
                                 f"{ref}{also}")
            if resp.status_code != 200:
                raise ImageError(f"docker-daemon:{name}: the Docker daemon at {address} refused the name "
                                 f"{name} (HTTP {resp.status_code}: {_daemon_message(resp)})")
            body = _body(resp, MAX_INSPECT_BYTES)
    except httpx.TransportError as exc:
        raise ImageError(f"docker-daemon:{name}: the Docker daemon at {address} did not answer for the image "
                         f"({exc or type(exc).__name__})") from None
    try:
        image_id = json.loads(body)["Id"] if len(body) <= MAX_INSPECT_BYTES else None
    except (ValueError, KeyError, TypeError, RecursionError):
        image_id = None
    if not isinstance(image_id, str) or not _IMAGE_ID.match(image_id):
        raise ImageError(f"docker-daemon:{name}: the Docker daemon at {address} answered GET /images/{name}/json "
                         "without an image ID sha256:HEX")
    return image_id


def fetch(name: str, limits: Limits | None = None) -> tuple[str, str, str, str]:
    """Export image ``name`` from the Docker daemon into a new private directory (mode 0700).

    Returns ``(directory, "docker-archive", archive path, reference)``: the reference is ``normalize(name)``,
    or the full image ID when ``name`` is a short one. The caller removes the directory. Raises ImageError
    when no daemon answers at the address (with ``docker save`` as the way around), when the daemon has no
    such image (HTTP 404) or refuses the name, when the export fails or grows past the image size limit
    (``limits.image_bytes`` + EXPORT_MARGIN_BYTES); nothing is left behind then.
    """
    limits = limits or Limits.from_environment()
    most = limits.image_bytes + EXPORT_MARGIN_BYTES
    import httpx

    ref = normalize(name)
    address = host()
    client = _client(address, name)
    tmp = private.make("deploycheck-daemon-")
    try:
        with client:
            try:
                ping = client.get("/_ping", timeout=PING_TIMEOUT)
            except httpx.TransportError as exc:
                raise ImageError(f"docker-daemon:{name}: no Docker daemon at {address} ({exc or type(exc).__name__}); "
                                 f"save the image with `docker save -o FILE {ref}` and check docker-archive:FILE"
                                 ) from None
            if ping.status_code != 200:
                raise ImageError(f"docker-daemon:{name}: no Docker daemon at {address} (GET /_ping answered HTTP "
                                 f"{ping.status_code}); save the image with `docker save -o FILE {ref}` and check "
                                 "docker-archive:FILE")
            image_id = _resolve(client, name, ref, address)
            if image_id[len("sha256:"):].startswith(name) and _ID_PREFIX.match(name):
                ref = image_id  # a short image ID, as `docker images` lists it
            path = os.path.join(tmp, "image.tar")
            try:
                # by ID: the export is the image resolved, even if the tag moves meanwhile
                with client.stream("GET", f"/images/{image_id}/get",
                                   timeout=httpx.Timeout(PING_TIMEOUT, read=EXPORT_IDLE_TIMEOUT)) as resp:
                    if resp.status_code != 200:
                        raise ImageError(f"docker-daemon:{name}: the Docker daemon at {address} refused the export "
                                         f"(HTTP {resp.status_code}: {_daemon_message(resp)})")
                    written = 0
                    with open(path, "xb") as out:
                        for chunk in resp.iter_bytes(1 << 20):
                            written += len(chunk)
                            if written > most:  # an export that never ends must not fill the disk
                                raise ImageError(f"docker-daemon:{name}: the export from the Docker daemon "
                                                 f"is larger than {most} bytes, over the limit on an "
                                                 f"image's size ({raise_hint('image_bytes')})")
                            out.write(chunk)
            except httpx.TransportError as exc:
                raise ImageError(f"docker-daemon:{name}: the export from the Docker daemon at {address} failed "
                                 f"({exc or type(exc).__name__})") from None
            except OSError as exc:
                raise ImageError(f"docker-daemon:{name}: cannot store the exported image ({exc})") from None
    except BaseException:
        private.remove(tmp)
        raise
    return tmp, "docker-archive", path, ref
