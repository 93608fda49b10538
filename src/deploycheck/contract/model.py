"""The records the contract is made of: what the code reads (``Read``), what an environment provides
(``Provided``), and a setting joining both (``Setting``)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Read:
    """One place where the code reads an environment variable.

    ``name`` is the variable as the code asks for it; ``case_sensitive`` is False for pydantic-settings
    fields of a model that is not case sensitive (its default). ``default`` is the literal default as text
    (None: no literal default), ``has_default`` whether a default exists at all (a non-literal expression
    counts), ``required`` whether a missing value raises (``os.environ[...]``, a pydantic field without
    default). ``alternatives`` are other names that provide the same value (a pydantic alias choice, or a
    nested model given whole as JSON). ``line`` is 1-based, ``column`` 0-based. ``when`` is ``import`` or
    ``call``: when the read runs. ``value_type`` is ``int``, ``float`` or ``bool`` for a pydantic-settings 2
    field of that type (or Optional of it), whose value pydantic must parse; ``ignore_empty`` and
    ``none_str`` are the model's ``env_ignore_empty`` and ``env_parse_none_str``. ``set_by`` is where the
    code itself sets the name before the read on every path, as (path, line, how) with how
    ``assignment``, ``setdefault`` or ``update`` (``contract.flow``): such a read needs nothing from the
    environment and its default is not used."""

    name: str
    path: str
    line: int
    column: int
    module: str
    via: str
    required: bool
    has_default: bool
    default: str | None = None
    case_sensitive: bool = True
    alternatives: tuple[str, ...] = ()
    when: str = "import"
    value_type: str | None = None
    ignore_empty: bool = False
    none_str: str | None = None
    set_by: tuple[tuple[str, int, str], ...] = ()

    def key(self) -> str:
        return self.name if self.case_sensitive else self.name.upper()


@dataclass
class Provided:
    """One variable an environment source sets.

    ``kind``: ``value`` (a literal value), ``secret`` (a Kubernetes secretKeyRef or Cloud Run Secret
    Manager reference: set at run time, value unknown unless a Secret manifest or a dotenv file gives it),
    ``configmap`` (a configMapKeyRef), ``field`` (a fieldRef / resourceFieldRef), ``host`` (value taken from
    the shell that starts the container) or ``templated`` (``${VAR}``, ``$(VAR)``, Helm ``{{ }}`` left
    unresolved). ``value`` is the value when known (never printed). ``template`` is, for ``templated``, the
    text with its placeholders marked (``contract.template``). ``ref`` names the secret or config map
    and key (``key_ref`` the same as a tuple). ``source`` is ``dotenv``, ``kubernetes``, ``cloud-run`` or
    ``compose``; line is 1-based."""

    name: str
    source: str
    path: str
    line: int
    kind: str = "value"
    value: str | None = None
    ref: str | None = None
    template: str | None = None
    key_ref: tuple[str, str, str] | None = None  # (secret | configmap, object name, key) of a *KeyRef

    @property
    def known(self) -> bool:
        return self.value is not None


@dataclass
class OpenSource:
    """A source that sets variables whose names are unknown here: ``envFrom`` a secret or config map whose
    manifest was not given. A setting it might provide is uncertain, not missing."""

    source: str
    path: str
    line: int
    ref: str


@dataclass
class Setting:
    """A setting of the contract: every read of one name, and every source that provides it. ``value`` is
    the effective value (the last known provided value, else the literal default), ``value_from`` says which
    (``env``, ``default`` or None when unknown)."""

    name: str
    reads: list[Read] = field(default_factory=list)
    provided: list[Provided] = field(default_factory=list)
    value: str | None = None
    value_from: str | None = None
    status: str = ""

    @property
    def required(self) -> bool:
        """Whether the environment must provide it: a read that raises without it, and that the code does not
        set before."""
        return any(r.required for r in self.open_reads)

    @property
    def defaults(self) -> list[str]:
        return list(dict.fromkeys(r.default for r in self.reads if r.default is not None))

    @property
    def open_reads(self) -> list[Read]:
        """The reads that take the name from the environment: those the code does not set before."""
        return [r for r in self.reads if not r.set_by]

    @property
    def used_defaults(self) -> list[str]:
        """The literal defaults that can be used: those of the reads the code does not set before."""
        return list(dict.fromkeys(r.default for r in self.open_reads if r.default is not None))

    @property
    def set_by_code(self) -> list[tuple[str, int, str]]:
        """Where the code sets the name before some read of it: (path, line, how), in order."""
        return sorted({w for r in self.reads for w in r.set_by})

    @property
    def secret(self) -> bool:
        from deploycheck.contract.redact import secret_name

        return secret_name(self.name) or any(p.kind == "secret" for p in self.provided)
