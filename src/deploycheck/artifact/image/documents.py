"""The JSON documents of an image, parsed and their shapes checked where they are read, so that nothing past
this point sees a field of the wrong type.

The shapes are those of the OCI image spec's JSON schemas (``schema/*.json``): the image index
(``image-index.md``), the image manifest (``manifest.md``), the content descriptor (``descriptor.md``) and
the image configuration (``config.md``); Docker's Image Manifest V2 Schema 2 and manifest list have the same
shapes for every field read here. ``docker save`` writes a ``manifest.json`` that no spec describes: its
shape is moby's (``image/tarexport``: a list of ``{"Config", "RepoTags", "Layers", "Parent",
"LayerSources"}``).

Unknown fields are ignored, as ``descriptor.md`` ("Extensibility") requires; an optional field holding
``null`` counts as absent (Docker writes ``"Entrypoint": null``). A message names the document and the field
(``manifest sha256:...: layers[2].digest must be a digest ...``) and the type found, never a value: an
image config's ``Env`` holds secrets.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from deploycheck.artifact.image.errors import ImageError, shown

# descriptor.md "Registered algorithms": sha256 and sha512, lowercase hex of their full length.
DIGEST = re.compile(r"^(?:sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$")


@dataclass(frozen=True)
class Obj:
    """A JSON object with ``required`` and ``optional`` fields, each a shape."""

    required: dict = field(default_factory=dict)
    optional: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Array:
    """A JSON array whose items all have the shape ``item``."""

    item: object


@dataclass(frozen=True)
class Map:
    """A JSON object with any keys whose values all have the shape ``value`` (``mapStringString``)."""

    value: object


STRING, SIZE, INTEGER, BOOLEAN, OBJECT, DIGEST_STRING = ("a string", "a size", "an integer", "a boolean",
                                                         "an object", "a digest")
_EXPECTED = {SIZE: "a non-negative integer",
             DIGEST_STRING: "a digest (sha256: and 64 hex digits, or sha512: and 128)"}

PLATFORM = Obj({"architecture": STRING, "os": STRING},
               {"os.version": STRING, "os.features": Array(STRING), "variant": STRING,
                "features": Array(STRING)})
DESCRIPTOR = Obj({"mediaType": STRING, "digest": DIGEST_STRING, "size": SIZE},
                 {"urls": Array(STRING), "annotations": Map(STRING), "data": STRING, "artifactType": STRING,
                  "platform": PLATFORM})
_TOP = {"mediaType": STRING, "artifactType": STRING, "subject": DESCRIPTOR, "annotations": Map(STRING)}
INDEX = Obj({"schemaVersion": INTEGER, "manifests": Array(DESCRIPTOR)}, _TOP)
MANIFEST = Obj({"schemaVersion": INTEGER, "config": DESCRIPTOR, "layers": Array(DESCRIPTOR)}, _TOP)
CONTAINER_CONFIG = Obj({}, {
    "User": STRING, "ExposedPorts": Map(OBJECT), "Env": Array(STRING), "Entrypoint": Array(STRING),
    "Cmd": Array(STRING), "Volumes": Map(OBJECT), "WorkingDir": STRING, "Labels": Map(STRING),
    "StopSignal": STRING, "ArgsEscaped": BOOLEAN,
})
CONFIG = Obj({"architecture": STRING, "os": STRING}, {
    "created": STRING, "author": STRING, "variant": STRING, "os.version": STRING,
    "os.features": Array(STRING),
    "config": CONTAINER_CONFIG,
    "rootfs": Obj({"type": STRING, "diff_ids": Array(DIGEST_STRING)}),
    "history": Array(Obj({}, {"created": STRING, "author": STRING, "created_by": STRING, "comment": STRING,
                              "empty_layer": BOOLEAN})),
})
DOCKER_MANIFEST = Array(Obj({"Config": STRING, "Layers": Array(STRING)},
                            {"RepoTags": Array(STRING), "Parent": STRING, "LayerSources": Map(DESCRIPTOR)}))


def _kind(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def check(value, shape, where: str, path: str = "") -> None:
    """Raise ImageError unless ``value`` (parsed JSON) has ``shape``; ``where`` names the document and
    ``path`` the field in messages. Iterative: the depth of the shapes, not of the value, bounds the work."""
    todo = [(value, shape, path)]
    while todo:
        value, shape, path = todo.pop()
        name = path or "the document"
        if isinstance(shape, Obj):
            if not isinstance(value, dict):
                raise ImageError(f"{where}: {name} must be an object, not {_kind(value)}")
            for key, sub in shape.required.items():
                if value.get(key) is None:
                    raise ImageError(f"{where}: {_join(path, key)} is missing")
                todo.append((value[key], sub, _join(path, key)))
            for key, sub in shape.optional.items():
                if value.get(key) is not None:
                    todo.append((value[key], sub, _join(path, key)))
        elif isinstance(shape, Array):
            if not isinstance(value, list):
                raise ImageError(f"{where}: {name} must be an array, not {_kind(value)}")
            todo.extend((item, shape.item, f"{path}[{i}]") for i, item in enumerate(value))
        elif isinstance(shape, Map):
            if not isinstance(value, dict):
                raise ImageError(f"{where}: {name} must be an object, not {_kind(value)}")
            todo.extend((item, shape.value, f"{path}[{shown(key)}]") for key, item in value.items())
        elif not _fits(value, shape):
            raise ImageError(f"{where}: {name} must be {_EXPECTED.get(shape, shape)}, not {_kind(value)}")


def _fits(value, shape: str) -> bool:
    if shape in (STRING, DIGEST_STRING):
        return isinstance(value, str) and (shape == STRING or bool(DIGEST.match(value)))
    if shape in (SIZE, INTEGER):
        exact = isinstance(value, int) and not isinstance(value, bool)
        return exact and (shape == INTEGER or 0 <= value < 2**63)
    if shape == BOOLEAN:
        return isinstance(value, bool)
    return isinstance(value, dict)  # OBJECT


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def parse(data: bytes, shape, where: str):
    """The JSON document ``data`` (RFC 8259, UTF-8) checked against ``shape`` (None: not checked). Raises
    ImageError naming ``where`` for invalid JSON, nesting deeper than the parser's recursion limit, or a
    wrong shape."""
    try:
        doc = json.loads(data)
    except RecursionError:
        raise ImageError(f"{where}: JSON nested too deeply to read") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, an integer of too many digits
        raise ImageError(f"{where}: not valid JSON ({exc})") from None
    if shape is not None:
        check(doc, shape, where)
    return doc
