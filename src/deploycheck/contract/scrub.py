"""Known secrets, and the scrubbing of every text deploycheck writes.

A secret reaches an output in more shapes than the one it was written in. A URL's parser, a database
driver's message, a shell or a repr may show it percent-decoded or percent-encoded, with its white space
collapsed or (as Python's URL parser does, bpo-43882) its tabs and newlines removed, escaped, case-folded (a
host name), or cut where a parser splits a URL or a connection string (at ``/ # ? @ :``, white space, quotes,
``& = ; %`` ...): redis-py reads ``redis://:ab/cdef@host`` as host ``""`` and port ``ab``, and says so.

So a secret is registered once with every such form (``forms``), and ``scrub`` masks any of them, compared
without case, wherever it occurs. A *piece* is a part of a secret between two of its separators (white
space, control characters, and ASCII punctuation other than RFC 3986's unreserved ``- . _ ~``) or its
ends; every piece of ``MIN_PIECE`` characters or more is masked on its own, whatever cut a parser makes.
Shorter pieces are not: a 3-character fragment would erase ordinary words and numbers everywhere, and says
little of the secret. A secret that is a URL is masked whole and by its password's pieces, not by the
pieces of its scheme, host and path, which stay readable.

The registry is process-wide: every output path of the CLI (reports, warnings, error messages) consults it,
so a path cannot forget a secret that was read anywhere before it.
"""

from __future__ import annotations

import json
import unicodedata

from deploycheck.contract import redact, template
from deploycheck.errors import UsageError

MASK = redact.MASK
MIN_SECRET = 3  # a whole secret shorter than this is not registered: it would erase letters everywhere
MIN_PIECE = 4  # the shortest piece of a secret masked on its own
# Every cut a parser may make (any two separators) is masked for secrets up to this length (passwords; a
# token or API key has no separator); a longer secret (a key file) is masked whole, in its forms, and piece
# by piece between neighbouring separators.
ALL_CUTS_UP_TO = 128
# Parts spanning several pieces are registered up to this length; longer spans are covered by their parts.
_SPAN = 48
# The forms of all secrets registered in one process, at most: each costs about a hundred bytes, and a real
# environment's secrets need a few thousand. An environment holding more cannot be masked within bounded
# memory and is refused (exit 2) rather than shown half masked.
MAX_FORMS = 200_000
# A secret longer than this is registered as written and by its pieces only: its encoded forms would cost
# several times its size in memory, and no message quotes a value that long re-encoded.
FORMS_UP_TO = 4096


def _separator(c: str) -> bool:
    # RFC 3986's unreserved characters (letters, digits, - . _ ~) are never where a URL parser splits
    if c.isascii():
        return not c.isalnum() and c not in "-._~"
    return c.isspace() or unicodedata.category(c)[0] == "C"


def lower(text: str) -> str:
    """``text`` lower-cased character by character, keeping its length (a character whose lower case is
    longer, such as ``İ``, is kept), so that positions in the result are positions in ``text``."""
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


def pieces(text: str, all_cuts: bool = True) -> set[str]:
    """The pieces of ``text`` of ``MIN_PIECE`` characters or more: with ``all_cuts``, every part that starts
    at the start of ``text`` or after a separator and ends at its end or before a separator (parts spanning
    separators up to ``_SPAN`` characters: a longer one is covered by its shorter parts); else only the
    parts between neighbouring separators."""
    seps = [i for i, c in enumerate(text) if _separator(c)]
    starts = [0] + [i + 1 for i in seps]
    ends = seps + [len(text)]
    out: set[str] = set()
    for start in starts:
        for end in ends:
            if end < start:
                continue
            if end - start >= MIN_PIECE and text[start:end].strip():
                out.add(text[start:end])
            if not all_cuts or end - start > _SPAN:
                break
    return out


def _collapsed(text: str) -> str:
    return " ".join(text.split())


def _unsafe_removed(text: str) -> str:
    # urllib.parse removes these from every URL before parsing it (bpo-43882)
    return text.replace("\t", "").replace("\r", "").replace("\n", "")


def _escaped(text: str) -> set[str]:
    from urllib.parse import quote, quote_plus  # here: only registering a secret needs urllib.parse

    return {quote(text, safe=""), quote(text, safe="/:@!$&'()*+,;="), quote_plus(text),
            json.dumps(text)[1:-1], json.dumps(text, ensure_ascii=False)[1:-1], repr(text)[1:-1],
            text.encode("unicode_escape").decode("ascii"), str(text.encode("utf-8"))[2:-1]}


def forms(secret: str, cut: bool = True) -> set[str]:
    """Every text ``scrub`` masks for ``secret`` (see the module docstring), lower-cased: the secret, its
    percent-decoded forms, white space collapsed or removed, Unicode-normalized (NFC, NFKC), its escaped and
    percent-encoded forms, and with ``cut`` its pieces (all cuts up to ``ALL_CUTS_UP_TO`` characters)."""
    from urllib.parse import unquote, unquote_plus  # here: only registering a secret needs urllib.parse

    if len(secret) > FORMS_UP_TO:
        return {lower(s) for s in {secret} | (pieces(secret, all_cuts=False) if cut else set())}
    bases = {secret, unquote(secret), unquote_plus(secret)}
    bases |= {f(b) for b in bases for f in (_collapsed, _unsafe_removed, str.strip)}
    bases |= {unicodedata.normalize(n, b) for b in bases for n in ("NFC", "NFKC")}
    out: set[str] = set()
    for b in bases:
        out.add(b)
        if cut:
            out |= pieces(b, all_cuts=len(b) <= ALL_CUTS_UP_TO)
    for b in (secret, unquote(secret)):
        out |= _escaped(b)
    for p in list(out):  # a piece with other than ASCII shows differently escaped and encoded
        if not p.isascii():
            out |= _escaped(p)
            try:
                out.add(p.encode("idna").decode("ascii"))
            except UnicodeError:
                pass
    return {lower(s) for s in out if len(s) >= MIN_SECRET and s.strip()}


class Registry:
    """A set of known secrets and the masking of their forms in text."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._needles: set[str] = set()
        self._by_anchor: dict[str, list[str]] = {}

    def add(self, secret: str | None) -> None:
        """Register ``secret`` (``MIN_SECRET`` characters or more) in all its forms. A URL is registered
        whole but not cut in pieces: its scheme, host and path are not what is secret in it (its password,
        registered on its own by ``register_url``, is). Raises ``UsageError`` past ``MAX_FORMS``."""
        if not secret or len(secret) < MIN_SECRET or secret in self._secrets:
            return
        self._secrets.add(secret)
        new = forms(secret, cut=not redact.is_url(secret)) - self._needles
        if len(self._needles) + len(new) > MAX_FORMS:
            raise UsageError(f"the secrets of this environment take more than {MAX_FORMS} forms to mask "
                             "(deploycheck's limit on untrusted input): nothing is shown rather than a part")
        for n in new:
            self._needles.add(n)
            self._by_anchor.setdefault(n[:MIN_SECRET], []).append(n)

    def __contains__(self, secret: str) -> bool:
        return secret in self._secrets

    def spans(self, text: str) -> bytearray:
        """A mask over ``text``: 1 where a known form of a secret occurs (case-insensitively)."""
        mask = bytearray(len(text))
        if not self._by_anchor:
            return mask
        low = lower(text)
        anchors = self._by_anchor
        for i in range(len(low) - MIN_SECRET + 1):
            bucket = anchors.get(low[i:i + MIN_SECRET])
            if bucket:
                for n in bucket:
                    if low.startswith(n, i):
                        mask[i:i + len(n)] = b"\x01" * len(n)
        return mask


def masked(text: str, mask: bytearray) -> str:
    """``text`` with each run of positions set in ``mask`` replaced by one ``***``."""
    if not any(mask):
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        if mask[i]:
            while i < len(text) and mask[i]:
                i += 1
            out.append(MASK)
        else:
            j = mask.find(1, i)
            j = len(text) if j < 0 else j
            out.append(text[i:j])
            i = j
    return "".join(out)


_PROCESS = Registry()


def register(secret: str | None) -> None:
    """Register a whole value as secret, process-wide, and the secrets of it as a URL."""
    _PROCESS.add(secret)
    register_url(secret)


def register_url(value: str | None) -> None:
    """Register, process-wide, only what is secret in ``value`` read as a URL: its password as every URL
    parser may see it, secret query values, key-like path segments (``redact.url_secrets``)."""
    if value and "://" in value:
        for s in redact.url_secrets(value):
            if s != value:
                _PROCESS.add(s)


def register_value(name: str, value: str | None, secret: bool = False) -> None:
    """Register a value of variable ``name``: whole when it is secret (by kind, or by ``name``:
    ``redact.secret_name``), else what is secret in it as a URL."""
    if secret or redact.secret_name(name):
        register(value)
    else:
        register_url(value)


def register_template(marked: str | None) -> None:
    """Register what is known of the URL secrets of a template (``contract.template``): a password partly
    resolved from earlier variables (``app:${PW_PREFIX}known@db``) has its known parts registered, and a
    placeholder alone (``${DB_PASSWORD}``, a name, not a value) none."""
    if not marked:
        return
    holed, _ = template.holes(marked)
    if "://" in holed:
        for s in redact.url_secrets(holed):
            for part in template.literal_parts(s):
                _PROCESS.add(part)


def scrub(text: str) -> str:
    """``text`` safe to write: every form of every registered secret masked, then every URL in it redacted
    (``redact.urls_in``)."""
    return redact.urls_in(masked(text, _PROCESS.spans(text)))


class Scrubber:
    """The scrubbing of a run's output, over the process-wide registry (a callable: ``scrubber(text) ->
    text``); its methods register as the module's functions do."""

    def add(self, value: str | None) -> None:
        """As ``register``."""
        register(value)

    def add_url(self, value: str | None) -> None:
        """As ``register_url``."""
        register_url(value)

    def value(self, name: str, value: str | None, secret: bool = False) -> None:
        """As ``register_value``."""
        register_value(name, value, secret)

    def __call__(self, text: str) -> str:
        return scrub(text)
