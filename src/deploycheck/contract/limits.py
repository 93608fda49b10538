"""Bounds on what the files of one environment may make ``deploycheck config`` hold: they come from a
repository that is not trusted, and a few hundred bytes can ask for gigabytes (``B=${A}${A}`` doubling line
after line, a YAML flow of a million one-letter nodes, a FIFO or ``/dev/zero`` where a file is expected).

Each bound is far above any real configuration: an environment that reaches one is refused (exit 2) with a
message naming the file, the line or variable where it is known, and the bound. Only the dotenv bound can be
raised (``DEPLOYCHECK_MAX_DOTENV_BYTES``): it is the one a real environment may come near.
"""

from __future__ import annotations

from deploycheck.errors import UsageError
from deploycheck.inputs import amount

KiB = 1024
MiB = 1024 * 1024
# The dotenv files of one environment together (compose env_file entries included). python-dotenv's parser
# takes about 12 s per MiB of short lines, so this keeps the parse to some 3 s; real environment files are a
# few KiB (the kernel passes at most 2 MiB of arguments and environment to a new process). Raised with the
# variable.
MAX_DOTENV_BYTES = 256 * KiB
DOTENV_VAR = "DEPLOYCHECK_MAX_DOTENV_BYTES"
# The YAML files (Kubernetes, Cloud Run, compose) of one environment together.
MAX_MANIFEST_BYTES = 8 * MiB
# YAML nodes (scalars, sequences, mappings, aliases) of those files together: PyYAML holds each in a few
# hundred bytes while it composes a document, so this bounds its memory (about 80 MB) and time.
MAX_YAML_NODES = 200_000
# How deeply YAML collections may nest: a Kubernetes manifest nests about 15 levels; PyYAML composes and
# constructs recursively.
MAX_YAML_DEPTH = 100
# Variables (env entries, dotenv lines, Secret and ConfigMap keys) of one environment.
MAX_VARIABLES = 20_000
# The values of one environment after ${VAR} (dotenv) and $(VAR) (Kubernetes) references are replaced.
MAX_EXPANDED_BYTES = 16 * MiB


def _size(n: int) -> str:
    if n % MiB == 0:
        return f"{n // MiB} MiB"
    return f"{n // KiB} KiB" if n % KiB == 0 else f"{n} bytes"


class Budget:
    """What the files of one environment have used of the bounds above, charged as they are read. Each
    ``charge_*`` raises ``UsageError`` naming the bound once it is passed."""

    def __init__(self) -> None:
        self.max_dotenv_bytes = amount(DOTENV_VAR, MAX_DOTENV_BYTES)
        self.dotenv_bytes = 0
        self.manifest_bytes = 0
        self.yaml_nodes = 0
        self.variables = 0
        self.expanded = 0

    def remaining_bytes(self, kind: str) -> int:
        """Bytes a file of ``kind`` (``dotenv`` or ``manifest``) may still hold."""
        if kind == "dotenv":
            return self.max_dotenv_bytes - self.dotenv_bytes
        return MAX_MANIFEST_BYTES - self.manifest_bytes

    def too_large(self, kind: str, where: str) -> UsageError:
        """The error for a file of ``kind`` that does not fit in what is left."""
        if kind == "dotenv":
            return UsageError(f"{where}: too large: the dotenv files of an environment may hold "
                              f"{_size(self.max_dotenv_bytes)} together (deploycheck's limit on untrusted input; "
                              f"raise it with {DOTENV_VAR})")
        return UsageError(f"{where}: too large: the YAML files (manifests, compose files) of an environment may "
                          f"hold {_size(MAX_MANIFEST_BYTES)} together (deploycheck's limit on untrusted input)")

    def charge_bytes(self, kind: str, n: int) -> None:
        if kind == "dotenv":
            self.dotenv_bytes += n
        else:
            self.manifest_bytes += n

    def charge_nodes(self, where: str, n: int = 1) -> None:
        self.yaml_nodes += n
        if self.yaml_nodes > MAX_YAML_NODES:
            raise UsageError(f"{where}: too many YAML nodes: the YAML files of an environment may hold "
                             f"{MAX_YAML_NODES} scalars, sequences, mappings and aliases together "
                             "(deploycheck's limit on untrusted input)")

    def charge_variable(self, where: str) -> None:
        self.variables += 1
        if self.variables > MAX_VARIABLES:
            raise UsageError(f"{where}: too many variables: an environment may set {MAX_VARIABLES} "
                             "(deploycheck's limit on untrusted input)")

    def charge_expanded(self, where: str, name: str, n: int) -> None:
        """Charge a value of ``n`` characters that references expanded; ``where`` is ``path:line``."""
        self.expanded += n
        if self.expanded > MAX_EXPANDED_BYTES:
            raise UsageError(f"{where}: `{name}` expands past the limit: the values of an environment may "
                             f"hold {_size(MAX_EXPANDED_BYTES)} together once references to other variables "
                             "are replaced (references repeated line after line double the size each time)")
