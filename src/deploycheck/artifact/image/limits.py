"""Bounds on what reading one untrusted image may cost, each raisable by an environment variable.

An image comes from a registry or a colleague: its size fields, member counts and compression ratios are
whatever its author wrote. Every quantity that grows with the input is bounded here; past a bound the
reader stops with an ImageError naming the bound and the variable that raises it.
"""

from __future__ import annotations

from dataclasses import dataclass

from deploycheck.inputs import amount

GiB = 1024**3
MiB = 1024**2

DEFAULT_IMAGE_BYTES = 32 * GiB  # uncompressed bytes of all layers together (the largest real images: ~20 GiB)
DEFAULT_MEMBERS = 1_000_000  # tar members of all layers together (large images: a few hundred thousand files)
DEFAULT_LAYERS = 1000  # layers of one image (Docker's overlay2 stacks at most 128)
DEFAULT_PRIVATE_BYTES = 2 * GiB  # contents kept in the private directory (sources, metadata, interpreters)

_VARIABLES = {
    "image_bytes": "DEPLOYCHECK_MAX_IMAGE_BYTES",
    "members": "DEPLOYCHECK_MAX_IMAGE_MEMBERS",
    "layers": "DEPLOYCHECK_MAX_IMAGE_LAYERS",
    "private_bytes": "DEPLOYCHECK_MAX_PRIVATE_BYTES",
}


@dataclass(frozen=True)
class Limits:
    """``image_bytes``: the uncompressed size of all layers together, also the most a ``docker-daemon:``
    export or a ``skopeo copy`` may write; ``members``: tar members of all layers together; ``layers``: layers
    of one image; ``private_bytes``: what the private directory may hold of kept file contents."""

    image_bytes: int = DEFAULT_IMAGE_BYTES
    members: int = DEFAULT_MEMBERS
    layers: int = DEFAULT_LAYERS
    private_bytes: int = DEFAULT_PRIVATE_BYTES

    @classmethod
    def from_environment(cls) -> Limits:
        """The defaults, each replaced by its variable when set (``DEPLOYCHECK_MAX_IMAGE_BYTES=64G``: a count,
        or bytes with an optional K/M/G/T suffix of powers of 1024). Raises UsageError for a value that is not
        a positive amount."""
        values = {field: amount(variable, getattr(cls, field)) for field, variable in _VARIABLES.items()}
        return cls(**values)


def raise_hint(field: str) -> str:
    """``"raise it with VARIABLE"`` for a field of Limits, to end a message."""
    return f"raise it with {_VARIABLES[field]}"
