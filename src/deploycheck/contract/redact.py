"""Values are never printed: URLs lose their password (and secret query values), values of secret-looking
names are replaced, and every known secret value is scrubbed from whatever is written (messages of servers
and of exceptions included) as a second line of defence."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, unquote

MASK = "***"
_SECRET = re.compile(r"(PASSW(OR)?D|PASS$|PWD|SECRET|TOKEN|API_?KEY|PRIVATE|CREDENTIAL|(^|_)KEY$|(^|_)AUTH|"
                     r"SIGNING|SALT|COOKIE)", re.IGNORECASE)
_SECRET_QUERY = re.compile(r"(pass|secret|token|key|auth)", re.IGNORECASE)
_URL = re.compile(r"^(?P<scheme>[A-Za-z][\w+.-]*)://(?P<userinfo>[^@/?#]*@)?(?P<rest>.*)$", re.DOTALL)


def secret_name(name: str) -> bool:
    """Whether a variable's name says its value is a secret (``DB_PASSWORD``, ``API_KEY``, ``JWT_SECRET``)."""
    return bool(_SECRET.search(name))


def _authority(rest: str) -> tuple[str, str]:
    """Split what follows ``scheme://`` into authority and tail. The authority ends at the first ``/`` after
    the last ``@`` before the query, so a password holding an unescaped ``@`` or ``/`` stays inside it."""
    pre = rest.split("?", 1)[0]
    at = pre.rfind("@")
    ends = [i for i in (rest.find("/", at + 1), rest.find("?", at + 1)) if i >= 0]
    end = min(ends) if ends else len(rest)
    return rest[:end], rest[end:]


def url_password(value: str) -> str | None:
    """The password of a URL (``scheme://user:password@host``), percent-decoded, or None."""
    m = _URL.match(value)
    if not m:
        return None
    authority, _ = _authority(value[len(m.group("scheme")) + 3:])
    userinfo = authority.rpartition("@")[0]
    if ":" not in userinfo:
        return None
    return unquote(userinfo.partition(":")[2]) or None


def url(value: str) -> str:
    """A URL with its password and secret query values masked: ``postgresql://app:***@db:5432/app``."""
    m = _URL.match(value)
    if not m:
        return value
    scheme = m.group("scheme")
    authority, tail = _authority(value[len(scheme) + 3:])
    if "@" in authority:
        userinfo, _, hostport = authority.rpartition("@")
        user = userinfo.partition(":")[0]
        authority = f"{user}:{MASK}@{hostport}" if ":" in userinfo else f"{user}@{hostport}"
    path, q, query = tail.partition("?")
    if q:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = "&".join(f"{k}={MASK if _SECRET_QUERY.search(k) else quote(v, safe='/:,')}" for k, v in pairs)
    return f"{scheme}://{authority}{path}{q}{query}"


def shown(name: str, value: str | None) -> str | None:
    """How a value may be shown: a URL redacted, a secret name's value masked, anything else as is."""
    if value is None:
        return None
    if secret_name(name):
        return MASK
    if _URL.match(value):
        return url(value)
    return value


class Scrubber:
    """Replaces every registered secret (and its percent-encoded form) with ``***`` in text."""

    def __init__(self) -> None:
        self.secrets: set[str] = set()

    def add(self, value: str | None) -> None:
        if value and len(value) >= 3:
            self.secrets.add(value)
            self.secrets.add(quote(value, safe=""))
            pw = url_password(value)
            if pw:
                self.add(pw)

    def __call__(self, text: str) -> str:
        for s in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(s, MASK)
        return text
