"""Values are never printed: values of secret-looking names are replaced, and URLs lose the parts that are
credentials (see ``url``). Whatever is written (excerpts of code, messages of servers and of exceptions,
tables, JSON, stderr) also passes through ``contract.scrub``: every URL in it is redacted and every known
secret is masked in every form it may take, as a second line of defence."""

from __future__ import annotations

import re

from deploycheck.regexes import compiled

# urllib.parse (some 5 ms to import) is imported by the functions that take a URL apart: most text holds none.

MASK = "***"
# The patterns are strings, compiled when first used (``regexes.compiled``): most runs need few of them.
_SECRET = (r"(?i)(PASSW(OR)?D|PASS$|PWD|SECRET|TOKEN|API_?KEY|PRIVATE|CREDENTIAL|(^|_)KEY$|(^|_)AUTH|"
           r"SIGNING|SALT|COOKIE)")
# Query parameters holding credentials: password, passwd, pwd, sslpassword, secret, token, access_token, key,
# api_key, apikey, auth, sig / signature (pre-signed URLs), credential.
_SECRET_QUERY = r"(?i)(pass|pwd|secret|token|key|auth|sig|credential)"
_URL = r"(?s)^(?P<scheme>[A-Za-z][\w+.-]*)://(?P<userinfo>[^@/?#]*@)?(?P<rest>.*)$"
# A URL inside text (a source line, a message): it ends at white space, a quote, an angle bracket or a
# terminal escape sequence. The scheme is bounded: an unbounded one backtracks over every long word that is
# not followed by "://" (quadratic in a log line of one long word).
_URL_IN_TEXT = r"[A-Za-z][\w+.-]{0,63}://[^\s'\"`<>\x1b]+"
# Schemes whose user name, given without a password, is a role name (trust, peer, certificate or IAM
# authentication) and is shown. Elsewhere (https: a Sentry DSN, ``https://TOKEN@github.com``) it is the key.
_ROLE_SCHEMES = {"postgres", "postgresql", "pgsql", "psql", "mysql", "mariadb", "oracle", "mssql", "cockroachdb",
                 "clickhouse", "redis", "rediss", "valkey", "valkeys", "amqp", "amqps", "mongodb", "nats", "kafka",
                 "ldap", "ldaps", "ssh", "sftp", "ftp", "ftps", "smtp", "smtps", "imap", "imaps", "sqlite"}
# Webhook URLs whose path after the prefix is the credential (the services' own documentation says to keep
# the URL secret): host suffix, path prefix.
_WEBHOOKS = [("(?i)" + host + r"$", prefix) for host, prefix in (
    (r"(^|\.)hooks\.slack\.com", "/services/"), (r"(^|\.)hooks\.slack\.com", "/workflows/"),
    (r"(^|\.)discord(app)?\.com", "/api/webhooks/"), (r"(^|\.)api\.telegram\.org", "/bot"),
    (r"(^|\.)webhook\.office\.com", "/webhookb2/"), (r"(^|\.)outlook\.office\.com", "/webhook/"),
    (r"(^|\.)hooks\.zapier\.com", "/hooks/catch/"), (r"(^|\.)chat\.googleapis\.com", "/v1/spaces/"),
)]
# A path segment that is a key: 20 or more token characters with both a letter and a digit (API keys,
# webhook tokens, UUIDs). Words, versions and ordinary names are shorter or lack digits.
_TOKEN_SEGMENT = r"^(?=[^/]*[A-Za-z])(?=[^/]*[0-9])[A-Za-z0-9_\-~+=.%]{20,}$"
_MIN_GUESSED = 8  # a masked user name is scrubbed elsewhere only from this length: `git` must not vanish


def secret_name(name: str) -> bool:
    """Whether a variable's name says its value is a secret (``DB_PASSWORD``, ``API_KEY``, ``JWT_SECRET``)."""
    return bool(compiled(_SECRET).search(name))


def _authority(rest: str) -> tuple[str, str]:
    """Split what follows ``scheme://`` into authority and tail. The authority ends at the first ``/`` after
    the last ``@`` before the query, so a password holding an unescaped ``@`` or ``/`` stays inside it."""
    pre = rest.split("?", 1)[0]
    at = pre.rfind("@")
    ends = [i for i in (rest.find("/", at + 1), rest.find("?", at + 1)) if i >= 0]
    end = min(ends) if ends else len(rest)
    return rest[:end], rest[end:]


def is_url(value: str) -> bool:
    """Whether ``value`` is written as a URL (``scheme://...``)."""
    return compiled(_URL).match(value) is not None


def url_password(value: str) -> str | None:
    """The password of a URL (``scheme://user:password@host``), percent-decoded, or None."""
    from urllib.parse import unquote

    m = compiled(_URL).match(value)
    if not m:
        return None
    authority, _ = _authority(value[len(m.group("scheme")) + 3:])
    userinfo = authority.rpartition("@")[0]
    if ":" not in userinfo:
        return None
    return unquote(userinfo.partition(":")[2]) or None


def _redact(value: str) -> tuple[str, list[str]]:
    """``(redacted URL, the secret substrings it masked)``; a value that is not a URL comes back as is."""
    m = compiled(_URL).match(value)
    if not m:
        return value, []
    scheme = m.group("scheme")
    rest = value[len(scheme) + 3:]
    authority, tail = _authority(rest)
    colon = _password_colon(rest)
    if "@" not in authority and colon >= 0:  # `user:pa?ss@host`: an unescaped `?` hid the `@`
        at = rest.rfind("@")
        authority, tail = _authority(rest[:colon] + ":" + MASK + rest[at:])
        return f"{scheme}://{authority}{tail}", [rest[colon + 1:at]]
    secrets: list[str] = []
    hostport = authority
    if "@" in authority:
        userinfo, _, hostport = authority.rpartition("@")
        user, colon, password = userinfo.partition(":")
        if colon:
            secrets.append(password)
            authority = f"{user}:{MASK}@{hostport}"
        elif user and not _ROLE_SCHEMES & set(scheme.lower().split("+")):
            if len(user) >= _MIN_GUESSED:
                secrets.append(user)
            authority = f"{MASK}@{hostport}"
    path, q, query = tail.partition("?")
    if scheme.lower() in _WEB_SCHEMES:  # paths of other schemes are files and sockets, not API keys
        path = _path(hostport, path, secrets)
    if q:
        query = "&".join(_parameter(p, secrets) for p in query.split("&"))
    return f"{scheme}://{authority}{path}{q}{query}", secrets


_WEB_SCHEMES = {"http", "https", "ws", "wss"}


def _random_looking(segment: str) -> bool:
    """A key, not a name: four digits or more, or digits with both letter cases (``a1B2…``); a word-like
    segment such as ``test_socket_server0`` is not one."""
    digits = sum(c.isdigit() for c in segment)
    return digits >= 4 or (digits > 0 and any(c.islower() for c in segment) and any(c.isupper() for c in segment))


def _path(hostport: str, path: str, secrets: list[str]) -> str:
    host = hostport.rpartition(":")[0] if hostport.count(":") == 1 else hostport
    for pattern, prefix in _WEBHOOKS:
        if compiled(pattern).search(host) and path.startswith(prefix) and len(path) > len(prefix):
            secrets.append(path[len(prefix):])
            return prefix + MASK
    segments = path.split("/")
    for i, seg in enumerate(segments):
        if compiled(_TOKEN_SEGMENT).match(seg) and _random_looking(seg):
            secrets.append(seg)
            segments[i] = MASK
    return "/".join(segments)


def _parameter(pair: str, secrets: list[str]) -> str:
    from urllib.parse import unquote

    name, eq, value = pair.partition("=")
    if not eq or not compiled(_SECRET_QUERY).search(unquote(name)):
        return pair
    secrets.append(value)
    return f"{name}={MASK}"


def url(value: str) -> str:
    """A URL with its credentials masked, everything else as written:

    - the password of the userinfo (``postgresql://app:***@db:5432/app``);
    - a user name without a password, except in database, cache and broker schemes where it is a role name
      (``https://***@o1.ingest.sentry.io/1``, but ``postgresql://app@db/app``);
    - the value of a query parameter whose name holds pass, pwd, secret, token, key, auth, sig or credential
      (``redis://cache:6379/0?password=***``);
    - the path of a webhook URL after its fixed prefix (``https://hooks.slack.com/services/***``), and any path
      segment of 20 or more letters and digits mixing both (a key or token in the path).
    """
    return _redact(value)[0]


def url_secrets(value: str) -> list[str]:
    """The substrings ``url`` masks in ``value`` (password, secret query values, key-like path segments, a
    user name standing for a key when 8 characters or longer), and the password as every other parser may
    read it (``passwords``), each as written and percent-decoded."""
    from urllib.parse import unquote

    out: list[str] = []
    for s in _redact(value)[1] + passwords(value):
        out += [s, unquote(s)]
    return [s for s in dict.fromkeys(out) if s]


def passwords(value: str) -> list[str]:
    """The password of the URL ``value`` as each URL parser may read it, as written: the userinfo ends at the
    first ``@`` (SQLAlchemy), at the last ``@`` before the authority ends at ``/``, ``?`` or ``#``
    (``urllib.parse``, used by redis-py), or at the last ``@`` of all; the password follows the first ``:``
    of the userinfo (``_password_colon``). A password holding an unescaped ``/ # ? @`` or white space is read
    differently by each, and a driver's message may quote any of these readings or their pieces."""
    from urllib.parse import urlsplit

    m = compiled(_URL).match(value)
    if not m:
        return []
    rest = value[len(m.group("scheme")) + 3:]
    out: list[str] = []
    colon = _password_colon(rest)
    for at in (rest.find("@"), rest.rfind("@")):
        if 0 <= colon < at:
            out.append(rest[colon + 1:at])
    try:
        password = urlsplit(value).password
    except ValueError:  # urllib refuses some authorities (an unclosed IPv6 bracket)
        password = None
    if password:
        out.append(password)
    return [p for p in dict.fromkeys(out) if p]


def _password_colon(rest: str) -> int:
    """The ``:`` that starts a password in ``rest`` (what follows ``scheme://``), or -1: the first ``:``,
    when an ``@`` follows it, the user name before it holds none of ``/?#@`` and what follows it is not a
    port (digits, then the end of the authority)."""
    colon = rest.find(":")
    if colon < 0 or "@" not in rest[colon:] or any(c in rest[:colon] for c in "/?#@"):
        return -1
    after = rest[colon + 1:]
    digits = len(after) - len(after.lstrip("0123456789"))
    if digits and (digits == len(after) or after[digits] in "/?#"):
        return -1
    return colon


def urls_in(text: str) -> str:
    """``text`` with every URL in it redacted by ``url`` (a URL ends at white space, a quote or ``<>``)."""
    return compiled(_URL_IN_TEXT).sub(lambda m: url(m.group(0)), text)


# A pair is a name, a separator and a value. The name is a whole run of ``[\w.-]`` (possessive, and started
# only where a run starts: each run is scanned once, so the search is linear in the line) followed by ``=`` or
# ``:``; it is secret when it holds one of ``_SECRET_WORD`` and does not end in Error, Exception or Warning
# (PEP 8, "Exception Names": ``AuthenticationError: Invalid API key`` is an exception and its message, which
# is searched on its own). The value is a quoted string (masked whole, up to its closing quote), a Python
# tuple ``(user, password)`` or a call ``HTTPBasicAuth(user, password)`` (``requests``' ``auth=``: only its
# second item is masked, and a quoted one whole, commas and all), a list ``[...]`` (masked whole), or a bare
# word; a ``Bearer``/``Basic`` scheme before it stays.
_NAME_SEP = r"(?<![\w.-])([\w.-]++)(['\"]?\s*[=:]\s*)"
# "auth" but not "author", "authority" (a commit's ``Author: Jane Doe``), "token" but not "tokenizer"
_SECRET_WORD = (r"(?i)passw(?:or)?d|pwd|secret|token(?!iz)|api[_-]?key|apikey|auth(?!or(?!iz))|"
                r"credential|private[_-]?key")
# a number after a name that says it is a quantity is no secret: counts of tokens (``max_tokens=512``, an LLM
# client's ``prompt_tokens: 12``), Django's ``PASSWORD_RESET_TIMEOUT: 3600``, ``password_min_length=8``
_COUNT = r"\d+(?![^\s,;&})\]])"
_QUANTITY = ("tokens", "timeout", "length", "len", "age", "ttl", "size", "count", "attempts", "retries",
             "seconds", "minutes", "hours", "days")
# the shell's working directories (``env`` output in a log): paths, not passwords
_NOT_SECRET = {"pwd", "oldpwd"}
# ``Authorization: SCHEME credentials`` (RFC 9110 section 11.6.2): any scheme word (``Token``, as Django
# REST framework and GitHub use, ``Digest``), then the credentials, which are masked
_SCHEME = r"[A-Za-z][\w-]*[ \t]+(?=[^\s'\",;&}])"
_EXCEPTION_NAME = ("Error", "Exception", "Warning")
_VALUE = (r"(?i)([\w.]{0,40}\(\s*(?:'[^'\n]*'|\"[^\"\n]*\"|[\w.]+)\s*,\s*)(['\"])?"
          r"((?(2)[^\n]*?|[^'\",)\n]*))((?(2)\2)\s*\))"
          r"|(['\"])((?:bearer|basic)\s+)?([^'\"\n]*)(?=\5)"
          r"|((?:bearer|basic)\s+)?(\[[^\]\n]*\]|[^\s'\",;&}]+)")
_PAIR_WORDS = ("passw", "pwd", "secret", "token", "key", "auth", "credential")  # one is in every pair's name
# a token68 (RFC 9110 section 11.2) that is not a plain lower-case word: "Basic configuration loaded" and
# "basic authentication" keep their words
_BEARER = (r"(?i)\b(bearer|basic)\s+(?-i:(?![A-Za-z]?[a-z]{7,18}(?![\w~+/=-]|\.[\w~+/=-])))"
           r"[A-Za-z0-9._~+/=-]{8,}")
# Tokens recognizable by their shape alone, wherever they stand, by the prefixes their issuers document:
# Stripe's live secret and restricted keys ``sk_live_``/``rk_live_`` (docs.stripe.com/keys); GitHub's
# ``ghp_ gho_ ghu_ ghs_ ghr_`` and fine-grained ``github_pat_`` (github.blog changelog 2021-03-31,
# "Authentication token format updates"); Slack's ``xoxa- xoxb- xoxp- xoxr- xoxs-`` and app-level ``xapp-``
# (api.slack.com/authentication/token-types); AWS access key ids ``AKIA`` (long-term) and ``ASIA``
# (temporary), 20 upper-case letters and digits (AWS STS GetAccessKeyInfo); JSON Web Tokens, whose header
# and payload are base64url JSON objects and so start ``eyJ`` (RFC 7519 section 3); Google API keys,
# ``AIza`` and 35 more characters (cloud.google.com/docs/authentication/api-keys). None of them is hex, so
# the commit and blob ids a report cites never match. A token starts a word: a JWT also not after ``-`` or
# ``_``, its own characters, else each ``eyJ`` of a run like ``eyJ-eyJ-...`` would rescan the run (quadratic).
_TOKEN = (r"(?<![A-Za-z0-9])(?:"
          r"[sr]k_(?:live|test)_[0-9A-Za-z]{10,}|glpat-[0-9A-Za-z_-]{20,}"
          r"|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}"
          r"|xox[abprs]-[A-Za-z0-9-]{10,}|xapp-[A-Za-z0-9-]{10,}"
          r"|A[KS]IA[0-9A-Z]{16}(?![0-9A-Z])"
          r"|(?<![_-])eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"
          r"|AIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-]))")
# Cookies: the value of every ``name=value`` of a ``Cookie:`` or ``Set-Cookie:`` header (RFC 6265 sections
# 4.1 and 4.2), not of Set-Cookie's attributes (Expires, Max-Age, Domain, Path, SameSite ...).
_COOKIE = r"(?i)\b((?:set-)?cookie['\"]?\s*[:=]\s*)(['\"]?)([^\r\n]*)"
# a cookie value: cookie-octets, optionally in double quotes (RFC 6265 section 4.1.1); a pair also starts
# after a comma, where a client joined several Set-Cookie headers in one (requests' headers do)
_COOKIE_PAIR = r"(^|[;,])(\s*)([^=;\s]+)=(\"[^\"\r\n]*\"|[^;\s,\"\\]*)"
_COOKIE_ATTRIBUTES = {"expires", "max-age", "domain", "path", "samesite", "priority", "partitioned", "secure",
                      "httponly"}
# Command lines: ``--password VALUE`` (and any long option ending in password or passwd: ``--db-password``;
# ``--password=VALUE`` is a pair above), and ``-pVALUE`` after the MySQL and MariaDB clients, whose ``-p``
# takes the password attached (MySQL Reference Manual 6.2.2.1, "Using Options on the Command Line": the
# password is ``--password=pass_val`` or ``-ppass_val``, with no space; ``mysql -p test`` prompts and uses
# database test). ``-p`` alone and ``-P`` (the port) stay.
_PASSWORD_OPTION = (r"(?i)(?<![\w-])(--[\w-]{0,40}passw(?:or)?d)(\s+)(?!-)"
                    r"('[^'\n]*'|\"[^\"\n]*\"|[^\s'\",]+)")
_MYSQL = (r"(?<![\w.-])(?:mysql|mariadb)(?:-?(?:admin|dump|import|show|check|slap|sh))?(?![\w.-])"
          r"(.*)")
_MYSQL_P = r"(?<=[\s'\"])-p('[^'\n]*'|\"[^\"\n]*\"|[^\s'\",\]]+)"
# Other clients that take a password on their command line, after the program's name: curl's ``-u`` /
# ``--user user:password`` (curl(1); the user name stays), sshpass's ``-p password`` (sshpass(1)) and
# redis-cli's ``-a password`` (the redis-cli documentation, "Host, port, password, and database").
_CLIENTS = r"(?<![\w.-])(curl|sshpass|redis-cli)(?![\w.-])(.*)"
# between an option and its value: a space, ``=``, or the next item of a list (``['curl', '-u', 'u:p']``)
_SEP = r"(?:['\"],\s*['\"]|\s+|=)"
_CLIENT_OPTION = {
    "curl": (r"(?<=[\s'\"])((?:-u|--user)" + _SEP + r"?(['\"])?[^\s:'\"]*:)"
             r"((?(2)[^\n]*?(?=\2)|[^\s'\",\]]+))"),
    "sshpass": r"(?<=[\s'\"])(-p" + _SEP + r"?)('[^'\n]*'|\"[^\"\n]*\"|[^\s'\",\]]+)",
    "redis-cli": r"(?<=[\s'\"])(-a" + _SEP + r")('[^'\n]*'|\"[^\"\n]*\"|[^\s'\",\]]+)",
}


def _value(m: re.Match) -> str:
    if m.group(1) is not None:  # a tuple or a call: (user, password)
        return f"{m.group(1)}{m.group(2) or ''}{MASK}{m.group(4)}"
    if m.group(5) is not None:  # a quoted value (its closing quote stays, after the match)
        return f"{m.group(5)}{m.group(6) or ''}{MASK}"
    return f"{m.group(8) or ''}{MASK}"


def _pairs(text: str) -> str:
    """``text`` with the value of every secret pair masked (see ``_NAME_SEP``)."""
    out: list[str] = []
    done = at = 0
    name_sep, secret_word, value_at = compiled(_NAME_SEP), compiled(_SECRET_WORD), compiled(_VALUE)
    while (m := name_sep.search(text, at)) is not None:
        at = m.end()  # a name that is not secret: its value may hold a pair ("a=password=x")
        name = m.group(1)
        if secret_word.search(name) is None or name.endswith(_EXCEPTION_NAME):
            continue
        low = name.lower()
        if low in _NOT_SECRET or (low.endswith(_QUANTITY) and compiled(_COUNT).match(text, at)):
            continue
        if low.endswith("authorization") and (scheme := compiled(_SCHEME).match(text, at)) is not None:
            at = scheme.end()
        value = value_at.match(text, at)
        if value is not None:
            out += [text[done:at], _value(value)]
            done = at = value.end()
    out.append(text[done:])
    return "".join(out)


def _cookies(m: re.Match) -> str:
    def one(p: re.Match) -> str:
        if p.group(3).lower() in _COOKIE_ATTRIBUTES:
            return p.group(0)
        return f"{p.group(1)}{p.group(2)}{p.group(3)}={MASK}"

    quote, value = m.group(2), m.group(3)
    end = value.find(quote) if quote else -1  # a quoted header value (a repr, JSON) ends at its quote
    head, rest = (value, "") if end < 0 else (value[:end], value[end:])
    return m.group(1) + quote + compiled(_COOKIE_PAIR).sub(one, head) + rest


def _client(m: re.Match) -> str:
    option = compiled(_CLIENT_OPTION[m.group(1)])
    return m.group(1) + option.sub(lambda o: o.group(1) + MASK, m.group(2))  # the value is the last group


def _mysql(m: re.Match) -> str:
    args = m.group(1)
    return m.group(0)[:len(m.group(0)) - len(args)] + compiled(_MYSQL_P).sub(f"-p{MASK}", args)


def pairs_in(text: str) -> str:
    """``text`` (free text: a log line, an exception message) with what is secret in it by its shape masked:
    the value of every ``name=value``, ``name: value``, ``name="a value"`` or ``name=(user, password)``
    whose name says it is a secret (the password only, in a tuple); every ``Bearer``/``Basic`` token; the
    cookie values of ``Cookie:``/``Set-Cookie:`` headers; tokens whose issuer's prefix tells them
    (``_TOKEN``); and passwords on command lines (``--password VALUE``, ``mysql -pVALUE``, ``curl -u
    user:password``, ``sshpass -p``, ``redis-cli -a``).
    ``contract.scrub.scrub`` then masks the secrets known by value and URL credentials."""
    # Each pattern runs only on a line holding its keyword: a case-insensitive regex search costs several
    # times a lower-casing and a few substring tests, and most log lines hold none.
    low = text.lower()
    if "bearer" in low or "basic" in low:
        # the scheme's token first: "Authorization: Bearer TOKEN" as a pair would mask only the word "Bearer"
        text = compiled(_BEARER).sub(lambda m: f"{m.group(1)} {MASK}", text)
    text = compiled(_TOKEN).sub(MASK, text)
    if "cookie" in low:
        text = compiled(_COOKIE).sub(_cookies, text)
    if "--" in text and "passw" in low:
        text = compiled(_PASSWORD_OPTION).sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    if "-p" in text and ("mysql" in low or "mariadb" in low):
        text = compiled(_MYSQL).sub(_mysql, text)
    if ("curl" in low or "sshpass" in low or "redis-cli" in low) and "-" in text:
        text = compiled(_CLIENTS).sub(_client, text)
    if any(word in low for word in _PAIR_WORDS):
        text = _pairs(text)
    return text


def shown(name: str, value: str | None) -> str | None:
    """How a value may be shown: a URL redacted, a secret name's value masked, anything else as is."""
    if value is None:
        return None
    if secret_name(name):
        return MASK
    if compiled(_URL).match(value):
        return url(value)
    return value
