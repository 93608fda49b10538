"""Abuse of `deploycheck config` (issue 9, sections 2, 3, 5 and 6): secrets through every output with real
servers, files the repository points outside the project, configuration files that expand, never end or are
not files, and YAML and manifest shapes a reader must refuse. Every run is the real command in the sandbox of
tests/abuse.py, which also checks the exit code, the one-line message, memory, leftovers and what changed
outside the project."""

from __future__ import annotations

import base64
import json
import os
import re
import sys
from urllib.parse import quote, quote_plus

import pytest
from abuse import OUTSIDE_SECRET
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from services import start_cluster, start_redis

from deploycheck.contract.limits import MAX_VARIABLES

PY = sys.executable
CONFIG = ("config", ".", "--env", "staging", "--python", PY, "--no-cache")
APP = {"app.py": "import os\n\nDATABASE_URL = os.environ['DATABASE_URL']\n"}


def _error(sandbox, *args: str, secrets: tuple[str, ...] = (), bound_mb: int | None = None,
           env: dict[str, str] | None = None) -> str:
    """Run config with ``args`` (and ``env`` added to the environment): exit 2 with one line on stderr and
    nothing on stdout; returns the line."""
    kw = {} if bound_mb is None else {"bound_mb": bound_mb}
    out = sandbox.run(*CONFIG, *args, env=env).assert_safe(code=2, secrets=secrets, **kw)
    assert out.stdout == ""
    return out.message()


# --- Section 2: no secret in any output, whatever the password holds -------------------------------------

# Where URL parsers, conninfo strings, shells and reprs cut a password; a piece between two of them of
# MIN_PIECE characters or more must never be shown.
MIN_PIECE = 4  # the documented shortest piece masked on its own (README, "Values are never printed")
CUTS = "/#?@:%+&=;, \t'\"\\"
PASSWORDS = st.text(
    st.one_of(st.sampled_from(CUTS), st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Zs"))),
    min_size=8, max_size=24).filter(lambda pw: pw.strip() and "\n" not in pw and "\r" not in pw)
INITIAL = "Initial-Pw-0a1b2c"


def pieces(secret: str) -> set[str]:
    """Every part of ``secret`` between two of CUTS (or its ends) of MIN_PIECE characters or more."""
    starts = [0] + [i + 1 for i, c in enumerate(secret) if c in CUTS]
    ends = [i for i, c in enumerate(secret) if c in CUTS] + [len(secret)]
    return {secret[a:b] for a in starts for b in ends if b - a >= MIN_PIECE and secret[a:b].strip()}


def forms(secret: str) -> set[str]:
    """``secret`` as written, percent-encoded and every piece of it: what must never be shown."""
    shown = {secret, quote(secret, safe=""), quote_plus(secret)}
    for p in pieces(secret):
        shown |= {p, quote(p, safe="")}
    return shown


def assert_hidden(secret: str, *outputs: str) -> None:
    """No form of ``secret`` (see ``forms``) in any output, in any case."""
    for out in outputs:
        low = out.lower()
        for s in forms(secret):
            assert s.lower() not in low, f"{s!r} of the secret {secret!r} shown:\n{out[-3000:]}"


VOCABULARY: list[str] = []  # what the report prints with the FIXED passwords (all masked), lower case
ROLES = 8  # passwords tried in one run: one PostgreSQL role and one Redis user each


@pytest.fixture(scope="module")
def servers():
    """One PostgreSQL cluster (scram-sha-256, roles ``app0``...) and one Redis for the module.
    ``set_passwords`` gives role ``app{i}`` and Redis user ``u{i}`` the i-th password (user 0 is Redis'
    default user, through ``requirepass``), through connections that stay authenticated."""
    import redis

    cluster = start_cluster(["host all all 127.0.0.1/32 scram-sha-256"])
    server = None
    try:
        cluster.sql("; ".join(f"CREATE ROLE app{i} LOGIN PASSWORD '{INITIAL}'" for i in range(ROLES)))
        server = start_redis(INITIAL)
        admin = redis.Redis(port=server.port, password=INITIAL, single_connection_client=True)

        def set_passwords(pws: list[str]) -> None:
            cluster.sql("; ".join(f"ALTER ROLE app{i} PASSWORD '" + pw.replace("'", "''") + "'"
                                  for i, pw in enumerate(pws)))
            for i, pw in enumerate(pws[1:], 1):
                admin.acl_setuser(f"u{i}", enabled=True, reset=True, passwords=[f"+{pw}"], keys=["*"],
                                  commands=["+@all"])
            admin.config_set("requirepass", pws[0])

        yield cluster.port, server.port, set_passwords
        admin.close()
    finally:
        if server is not None:
            server.stop()
        cluster.stop()


def _dotenv(value: str) -> str:
    """A python-dotenv single-quoted value holding ``value`` exactly."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _yaml(value: str) -> str:
    """A YAML double-quoted scalar holding ``value`` (JSON's escapes are YAML's)."""
    return json.dumps(value, ensure_ascii=False)


# Where a password appears, by its index: in every place (URLs as written, percent-encoded and wrong in a
# dotenv file, a secret-named variable, a Secret's stringData and base64 data, a code default); only in URLs
# as written in a dotenv file and a code default; only percent-encoded, right and wrong; only in URLs as
# written in a manifest's env values. A password met in one form only must be hidden by that form alone.
MODES = ("everywhere", "written", "encoded", "manifest")


def _files(pws: list[str], pg: int, rd: int) -> dict[str, str]:
    """The service, dotenv file and manifest for the passwords (see MODES)."""
    env: dict[str, str] = {}
    reads: list[str] = []
    manifest: list[str] = []
    containers: list[tuple[str, str]] = []  # (name, the rest of its env entry)
    for i, pw in enumerate(pws):
        mode = MODES[i % len(MODES)]
        user = "" if i == 0 else f"u{i}"
        db = f"postgresql+psycopg://app{i}:{{}}@127.0.0.1:{pg}/postgres"
        cache = f"redis://{user}:{{}}@127.0.0.1:{rd}/0"
        if mode in ("everywhere", "written"):
            env |= {f"DATABASE_URL_{i}": db.format(pw), f"REDIS_URL_{i}": cache.format(pw)}
            local = f"postgresql://app:{pw}@localhost:5432/app"
            reads.append(f"L{i} = os.getenv('LOCAL_DB_URL_{i}', {local!r})\n")  # DC403 shows this line
        if mode in ("everywhere", "encoded"):
            enc, wrong = quote(pw, safe=""), quote(pw + "x", safe="")
            env |= {f"ENC_DB_URL_{i}": db.format(enc), f"WRONG_DB_URL_{i}": db.format(wrong),
                    f"ENC_REDIS_URL_{i}": cache.format(enc), f"WRONG_REDIS_URL_{i}": cache.format(wrong)}
        if mode == "everywhere":
            env[f"DB_PASSWORD_{i}"] = pw
            manifest.append(
                f"apiVersion: v1\nkind: Secret\nmetadata: {{name: db{i}}}\nstringData:\n"
                f"  url: {_yaml(cache.format(pw))}\n"
                f"data:\n  token: {base64.b64encode(pw.encode()).decode()}\n---\n")
            ref = "valueFrom: {{secretKeyRef: {{name: db{}, key: {}}}}}"
            containers += [(f"SECRET_REDIS_URL_{i}", ref.format(i, "url")),
                           (f"K8S_TOKEN_{i}", ref.format(i, "token"))]
        if mode == "manifest":
            containers += [(f"K8S_DB_URL_{i}", f"value: {_yaml(db.format(pw))}"),
                           (f"K8S_REDIS_URL_{i}", f"value: {_yaml(cache.format(pw))}")]
    names = [*env] + [name for name, _ in containers]
    entries = "".join(f"            - {{name: {name}, {field}}}\n" for name, field in containers)
    manifest.append("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\nspec:\n  template:\n"
                    "    spec:\n      containers:\n        - name: api\n          env:\n" + entries)
    code = "import os\n\n" + "".join(reads) + "".join(f"{n} = os.environ[{n!r}]\n" for n in names)
    return {"app.py": code, "deploy.yaml": "".join(manifest),
            ".env.staging": "".join(f"{k}={_dotenv(v)}\n" for k, v in env.items())}


# Those parsers read differently sit where they are met in one form only (odd indices); each example below
# moves every password to other places. No two share a piece: one's masking must not hide another's.
FIXED = ["Nonascii-é-ü-İ-🔑-ß", "Slash-a1/Hash-b2#Tail-c3", "Colon-d4:Pct%25+Plus-e5",
         "Qmark-f6?At-g7@End-h8", "Quote'i9\"Back\\j0-slash", "tab\there-k1", "User-m2@host:Port/db-n3",
         "space in pw o4 "]


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pws=st.lists(PASSWORDS, min_size=ROLES, max_size=ROLES))
@example(pws=FIXED)
@example(pws=FIXED[2:] + FIXED[:2])
@example(pws=FIXED[1:] + FIXED[:1])
def test_no_password_in_any_output(sandbox, servers, pws):
    """Role and Redis passwords with the characters parsers cut at, white space, quotes and non-ASCII, in
    URLs (as written, percent-encoded, wrong), secret-named variables, Secrets (stringData and base64
    data), env values and code defaults (MODES), through --connect, text and JSON: shown nowhere, in no
    form."""
    pg, rd, set_passwords = servers
    args = (*CONFIG, "--env-file", ".env.staging", "--manifest", "deploy.yaml", "--connect")
    if not VOCABULARY:
        set_passwords(FIXED)
        sandbox.write(_files(FIXED, pg, rd))
        seen = sandbox.run(*args).stdout + sandbox.run(*args, "--format", "json").stdout
        for pw in FIXED:
            assert_hidden(pw, seen)
        VOCABULARY.append(seen.lower())
    # a password such as 'warnings' or '000:ings' is a word the report prints anyway: its being there
    # says nothing about masking (found by this test in CI)
    assume(not any(f.lower() in VOCABULARY[0] for pw in pws for f in forms(pw)))
    set_passwords(pws)
    sandbox.write(_files(pws, pg, rd))
    text = sandbox.run(*args).assert_safe(code=1, one_line=False, secrets=tuple(pws))
    data = sandbox.run(*args, "--format", "json").assert_safe(code=1, one_line=False, secrets=tuple(pws))
    doc = json.loads(data.stdout)
    for pw in pws:
        assert_hidden(pw, text.stdout, text.stderr, data.stdout, data.stderr,
                      json.dumps(doc, ensure_ascii=False))
    # the percent-encoded password is the right one and the wrong one is refused, whatever they hold
    status = {s["name"]: s["status"] for s in doc["settings"]}
    for i in range(0, ROLES, 2):
        assert status[f"ENC_DB_URL_{i}"] == status[f"ENC_REDIS_URL_{i}"] == "set, connect: ok", status
        assert status[f"WRONG_DB_URL_{i}"] == "set, connect: credentials [DC405]", status
        assert status[f"WRONG_REDIS_URL_{i}"] == "set, connect: credentials [DC405]", status


def test_messages_of_every_path_consult_the_secrets_read(sandbox):
    """A usage error raised after a secret was read masks it too (here in a path named after it)."""
    secret = "Tok3n-Piece-9f2e"
    sandbox.write({**APP, ".env": f"API_TOKEN={secret}\n"})
    line = _error(sandbox, "--env-file", ".env", "--env-file", f"missing/{secret}.env", secrets=(secret,))
    assert line == "deploycheck: error: --env-file missing/***.env: no such file"


# --- Section 6: YAML tags and shapes, refused at the boundary --------------------------------------------

_POD = ("apiVersion: v1\nkind: Pod\nmetadata: {name: api}\nspec:\n  containers:\n    - name: api\n"
        "      env:\n        - name: API_TOKEN\n          value: \"Visible-Secret-1a2b\"\n")
SECRET = "Visible-Secret-1a2b"


@pytest.mark.parametrize("tail, message", [
    ("        - name: PORT\n          value: !!int Tagged-Secret-77aa\n",
     "deploy.yaml:11: `value`: a value tagged !!int that is not an integer (the value is not shown)"),
    ("        - name: RATIO\n          value: !!float Tagged-Secret-77aa\n",
     "deploy.yaml:11: `value`: a value tagged !!float that is not a number (the value is not shown)"),
    ("        - name: ON\n          value: !!bool Tagged-Secret-77aa\n",
     "deploy.yaml:11: `value`: a value tagged !!bool that is not a boolean (the value is not shown)"),
    ("        - name: DAY\n          value: !!timestamp 2024-02-30\n",
     "deploy.yaml:11: `value`: a value tagged !!timestamp that is not a date (the value is not shown)"),
    ("        - name: DAY\n          value: !!timestamp Tagged-Secret-77aa\n",
     "deploy.yaml:11: `value`: a value tagged !!timestamp that is not a date (the value is not shown)"),
    ("        - name: RUN\n          value: !!python/object/apply:os.system [Tagged-Secret-77aa]\n",
     "deploy.yaml:11: invalid YAML: could not determine a constructor for the tag "
     "'tag:yaml.org,2002:python/object/apply:os.system'"),
    ("        - name: REF\n          value: !Ref Tagged-Secret-77aa\n",
     "deploy.yaml:11: invalid YAML: could not determine a constructor for the tag '!Ref'"),
    ("        - name: BLOB\n          value: !!binary VGFnZ2VkLVNlY3JldC03N2Fh\n",
     "deploy.yaml:11: env `BLOB`: the value is binary data (!!binary), not a string, and the Kubernetes API "
     "rejects the manifest: quote it"),
])
def test_yaml_tags_that_fail(sandbox, tail, message):
    """A tag its value does not fit was an internal error printing the value (``int('secret')``)."""
    sandbox.write({**APP, "deploy.yaml": _POD + tail})
    line = _error(sandbox, "--manifest", "deploy.yaml", secrets=(SECRET, "Tagged-Secret-77aa"))
    assert line == f"deploycheck: error: {message}"


def test_a_date_without_a_tag_is_text(sandbox):
    """go-yaml (Kubernetes, Compose) keeps a date-like plain scalar as a string: impossible or not."""
    sandbox.write({**APP, "deploy.yaml": _POD + "        - name: DATABASE_URL\n          value: 2024-02-30"})
    out = sandbox.run(*CONFIG, "--manifest", "deploy.yaml", "--format", "json")
    out.assert_safe(code=1, one_line=False)
    assert [f["message"] for f in json.loads(out.stdout)["findings"]] == [
        "`DATABASE_URL` = (value not shown): is not a URL (expected "
        "postgresql+DRIVER://USER:***@HOST:PORT/DATABASE)"]  # the hint is redacted as any URL


@pytest.mark.parametrize("depth", [150, 100_000])
def test_deep_yaml(sandbox, depth):
    sandbox.write({**APP, "deploy.yaml": "a: " + "[" * depth + "]" * depth + "\n"})
    line = _error(sandbox, "--manifest", "deploy.yaml")
    assert line.startswith("deploycheck: error: deploy.yaml:1: ")
    assert "nest" in line


def _workload(containers: str) -> str:
    return ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\nspec:\n  template:\n    spec:\n"
            f"      containers:\n{containers}")


_API = ("        - name: api\n          env:\n"
        "            - {name: API_TOKEN, value: \"Visible-Secret-1a2b\"}\n")


@pytest.mark.parametrize("manifest, message", [
    (_workload("        - name: api\n          env: {API_TOKEN: Visible-Secret-1a2b}\n"),
     "deploy.yaml:8: container `env` must be a list"),
    (_workload(_API + "            - {name: DB, valueFrom: {secretKeyRef: db}}\n"),
     "deploy.yaml:11: `env[1].valueFrom.secretKeyRef` must be a mapping, and the Kubernetes API rejects the "
     "manifest"),
    (_workload(_API + "            - {name: DB, valueFrom: {}}\n"),
     "deploy.yaml:11: `env[1].valueFrom` must have one of secretKeyRef, configMapKeyRef, fieldRef, "
     "resourceFieldRef, and the Kubernetes API rejects the manifest"),
    (_workload(_API + "            - {name: DB, valueFrom: {secretKeyRef: {name: db}, fieldRef: {}}}\n"),
     "deploy.yaml:11: `env[1].valueFrom` must have one of secretKeyRef, configMapKeyRef, fieldRef, "
     "resourceFieldRef, and the Kubernetes API rejects the manifest"),
    (_workload(_API + "            - {name: DB, valueFrom: {secretKeyRef: {name: db}}}\n"),
     "deploy.yaml:11: `env[1].valueFrom.secretKeyRef.key` must be a string and is missing, and the "
     "Kubernetes API rejects the manifest"),
    (_workload(_API + "            - {name: DB, valueFrom: {secretKeyRef: {name: [db], key: url}}}\n"),
     "deploy.yaml:11: `env[1].valueFrom.secretKeyRef.name` must be a string, and the Kubernetes API rejects "
     "the manifest"),
    (_workload(_API + "            - {name: DB, value: x, valueFrom: {fieldRef: {fieldPath: a}}}\n"),
     "deploy.yaml:11: `env[1]` has both `value` and `valueFrom`, and the Kubernetes API rejects the "
     "manifest"),
    (_workload(_API + "          envFrom: [db]\n"),
     "deploy.yaml:11: `envFrom[0]` must be a mapping, and the Kubernetes API rejects the manifest"),
    (_workload(_API + "          envFrom: [{secretRef: {name: 5}}]\n"),
     "deploy.yaml:11: `envFrom[0].secretRef.name` must be a string, and the Kubernetes API rejects the "
     "manifest"),
    (_workload("        api: {env: []}\n"),
     "deploy.yaml:7: Deployment `containers` must be a list of containers"),
    (_workload("        - name: 5\n"),
     "deploy.yaml:8: `containers[0].name` must be a string, and the Kubernetes API rejects the manifest"),
    ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\nspec:\n  template: [a]\n",
     "deploy.yaml:5: `spec.template` must be a mapping, and the Kubernetes API rejects the manifest"),
    ("apiVersion: v1\nkind: Secret\nmetadata: x\ndata: {}\n",
     "deploy.yaml:3: `metadata` must be a mapping, and the Kubernetes API rejects the manifest"),
    ("apiVersion: v1\nkind: Secret\nmetadata: {name: db}\ndata:\n  url: Visible-Secret-1a2b\n",
     "deploy.yaml:5: Secret db key url is not base64 text"),
    ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: [Visible-Secret-1a2b]\n",
     "deploy.yaml:1: ConfigMap `data` must be a mapping"),
    ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\nbinaryData:\n  k: Visible-Secret-1a2b\n",
     "deploy.yaml:5: ConfigMap c binaryData key k is not base64 text"),
    ("apiVersion: v1\nkind: List\nitems: Visible-Secret-1a2b\n",
     "deploy.yaml:1: List `items` must be a list of manifests"),
    ("apiVersion: 1\nkind: Pod\nspec: {containers: []}\n",
     "deploy.yaml:1: `apiVersion` must be a string, and the Kubernetes API rejects the manifest"),
    ("services:\n  api:\n    build: .\n    environment:\n      API_TOKEN: {value: Visible-Secret-1a2b}\n",
     "deploy.yaml:5: `environment` value of API_TOKEN must be a string"),
    ("services:\n  api:\n    build: .\n    environment: Visible-Secret-1a2b\n",
     "deploy.yaml:4: `environment` must be a list or a mapping"),
    ("services:\n  api:\n    build: .\n    env_file: [5]\n",
     "deploy.yaml:4: `env_file` entries must be paths"),
    ("services:\n  api:\n    build: .\n    env_file: [{path: a.env, required: maybe}]\n",
     "deploy.yaml:4: `env_file` `required` must be true or false"),
])
def test_manifest_shapes(sandbox, manifest, message):
    """Fields read from a manifest are checked against their Kubernetes / Compose types: one line naming the
    file, line and field, and never a value."""
    sandbox.write({**APP, "deploy.yaml": manifest})
    line = _error(sandbox, "--manifest", "deploy.yaml", secrets=(SECRET,))
    assert line == f"deploycheck: error: {message}"


PLANTED = "Planted-Secret-5d0c"
_BASES = [
    [{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "a"},
      "spec": {"template": {"spec": {"containers": [{"name": "api", "env": [
            {"name": "A", "value": PLANTED}, {"name": "B", "value": "$(A)$(A)"},
            {"name": "C", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
            {"name": "D", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "k", "optional": True}}},
            {"name": "E", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
            "envFrom": [{"secretRef": {"name": "s"}, "prefix": "P_"}, {"configMapRef": {"name": "c"}}]}]}}}},
     {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
      "data": {"k": base64.b64encode(PLANTED.encode()).decode()},
      "stringData": {"u": f"redis://:{PLANTED}@h/0"}},
     {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": PLANTED},
      "binaryData": {"b": "aGVsbG8="}}],
    [{"services": {"api": {"build": ".", "environment": {"A": PLANTED, "B": "${A}", "C": 5},
                           "env_file": [{"path": "a.env", "required": False}]},
                   "db": {"image": "pg", "environment": ["X=1", "Y"]}}}],
    [{"apiVersion": "v1", "kind": "List", "items": [{
        "apiVersion": "serving.knative.dev/v1", "kind": "Service", "metadata": {"name": "a"},
        "spec": {"template": {"spec": {"containers": [{"env": [{"name": "A", "value": PLANTED}]}]}}}}]}],
]
_JUNK = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=6),
                  st.binary(max_size=4), st.dates(), st.lists(st.integers(), max_size=2),
                  st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
                  st.sampled_from([[{"name": 1}], {"name": None}, {}, [], "a b", "$(A)", "${A}", "{{ x }}"]))


def _paths(obj, at=()):
    yield at
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    for key, value in items:
        yield from _paths(value, (*at, key))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), base=st.sampled_from(_BASES), container=st.sampled_from([None, "api", "a"]))
def test_manifests_with_any_field_replaced(tmp_path, data, base, container):
    """Held-out shapes: valid manifests and compose files with any field removed or replaced by any value
    are read or refused with a UsageError (never another exception), whose message holds no value."""
    import copy

    import yaml

    from deploycheck.contract import provides
    from deploycheck.contract.settings import EnvironmentConfig
    from deploycheck.errors import UsageError

    docs = copy.deepcopy(base)
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.sampled_from([p for p in _paths(docs) if p]))
        parent = docs
        for key in at[:-1]:
            parent = parent[key]
        if isinstance(parent, dict) and data.draw(st.booleans()):
            del parent[at[-1]]
        else:
            parent[at[-1]] = copy.deepcopy(data.draw(_JUNK))
    (tmp_path / "a.env").write_text("Q=1\n")
    (tmp_path / "m.yaml").write_text(yaml.dump_all(docs))
    try:
        provides.gather(EnvironmentConfig("staging"), str(tmp_path), [], [str(tmp_path / "m.yaml")],
                        container)
    except UsageError as exc:
        assert PLANTED not in str(exc)


# --- Section 5: files that expand, never end, or are not files -------------------------------------------

def test_dotenv_doubling(sandbox):
    """``A1=${A0}${A0}`` line after line: a 1 KB file asked for 4 GB."""
    lines = ["A0=xxxxxxxxxxxxxxxx"] + [f"A{i}=${{A{i - 1}}}${{A{i - 1}}}" for i in range(1, 40)]
    sandbox.write({**APP, ".env": "\n".join(lines) + "\n"})
    assert _error(sandbox, "--env-file", ".env") == (
        "deploycheck: error: .env:21: `A20` expands past the limit: the values of an environment may hold "
        "16 MiB together once references to other variables are replaced (references repeated line after "
        "line double the size each time)")


def test_kubernetes_reference_doubling(sandbox):
    entries = "            - {name: V0, value: xxxxxxxxxxxxxxxx}\n" + "".join(
        f"            - {{name: V{i}, value: $(V{i - 1})$(V{i - 1})}}\n" for i in range(1, 40))
    sandbox.write({**APP, "deploy.yaml": _workload("        - name: api\n          env:\n" + entries)})
    line = _error(sandbox, "--manifest", "deploy.yaml")
    assert line.startswith("deploycheck: error: deploy.yaml:30: `V20` expands past the limit")


def test_aliases_that_multiply_variables(sandbox):
    """A few hundred YAML nodes naming one env list from every container of a list of aliases."""
    env = "".join(f"    - {{name: V{i}, value: x}}\n" for i in range(1000))
    containers = "".join("        - *c\n" for _ in range(100))
    sandbox.write({**APP, "deploy.yaml": (  # extra top-level keys hold the anchors (Kubernetes ignores them)
        "x-env: &e\n" + env.replace("    - ", "  - ") + "x-container: &c {name: api, env: *e}\n"
        + _workload(containers))})
    line = _error(sandbox, "--manifest", "deploy.yaml")
    assert line.endswith(f"too many variables: an environment may set {MAX_VARIABLES} (deploycheck's "
                         "limit on untrusted input)")


def test_many_yaml_nodes(sandbox):
    sandbox.write({**APP, "deploy.yaml": "a: [" + "a," * 300_000 + "a]\n"})
    assert _error(sandbox, "--manifest", "deploy.yaml") == (
        "deploycheck: error: deploy.yaml:1: too many YAML nodes: the YAML files of an environment may hold "
        "200000 scalars, sequences, mappings and aliases together (deploycheck's limit on untrusted input)")


def test_many_dotenv_variables(sandbox):
    sandbox.write({**APP, ".env": "".join(f"V{i}=x\n" for i in range(MAX_VARIABLES + 1))})
    assert _error(sandbox, "--env-file", ".env") == (
        f"deploycheck: error: .env:{MAX_VARIABLES + 1}: too many variables: an environment may set "
        f"{MAX_VARIABLES} (deploycheck's limit on untrusted input)")


def test_secrets_too_many_to_mask(sandbox):
    """Thousands of secrets cut in many distinct pieces: registering every form would take gigabytes, so the
    run stops (exit 2) instead of showing them half masked."""
    import random
    import string

    rng = random.Random(9)
    def password() -> str:  # 43 distinct two-letter pieces: some 700 cuts
        return "/".join("".join(rng.choices(string.ascii_letters, k=2)) for _ in range(43))

    lines = [f"P{i}_PASSWORD={password()}" for i in range(6000)]
    sandbox.write({**APP, ".env": "\n".join(lines) + "\n"})
    raised = {"DEPLOYCHECK_MAX_DOTENV_BYTES": "1M"}  # the file is some 800 KiB
    assert _error(sandbox, "--env-file", ".env", secrets=(lines[0].split("=")[1],), env=raised) == (
        "deploycheck: error: the secrets of this environment take more than 200000 forms to mask "
        "(deploycheck's limit on untrusted input): nothing is shown rather than a part")


def test_huge_sparse_manifest_and_the_same_file_named_again_and_again(sandbox):
    sandbox.write(APP)
    huge = sandbox.base / "huge.yaml"  # not where the harness hashes every file before and after
    with open(huge, "wb") as f:
        f.truncate(10 << 30)  # 10 GiB, sparse
    assert _error(sandbox, "--manifest", str(huge)) == (
        f"deploycheck: error: --manifest {huge}: too large: the YAML files (manifests, compose files) of an "
        "environment may hold 8 MiB together (deploycheck's limit on untrusted input)")
    # one file of 100 KB listed 50 times: the environment's files are bounded together
    sandbox.write({".env": "# padding\n" * 10_000 + "DATABASE_URL=x\n",
                   "pyproject.toml": "[tool.deploycheck.environments.staging]\nenv-files = ["
                                     + ", ".join(['".env"'] * 50) + "]\n"})
    line = _error(sandbox)
    assert line.startswith(f"deploycheck: error: env-files entry {sandbox.project / '.env'}: too large: the "
                           "dotenv files of an environment may hold 256 KiB together (deploycheck's limit on "
                           "untrusted input; raise it with DEPLOYCHECK_MAX_DOTENV_BYTES)")


def test_dotenv_files_are_bounded_to_what_the_parser_reads_in_seconds(sandbox):
    """python-dotenv parses about 12 s per MiB: 256 KiB by default, raised with the variable."""
    sandbox.write({**APP, ".env": "DATABASE_URL=postgresql://h/db\n" + "# padding\n" * 30_000})
    assert _error(sandbox, "--env-file", ".env") == (
        "deploycheck: error: --env-file .env: too large: the dotenv files of an environment may hold 256 KiB "
        "together (deploycheck's limit on untrusted input; raise it with DEPLOYCHECK_MAX_DOTENV_BYTES)")
    out = sandbox.run(*CONFIG, "--env-file", ".env", "--format", "json",
                      env={"DEPLOYCHECK_MAX_DOTENV_BYTES": "512K"})
    out.assert_safe(code=0, one_line=False)
    assert [s["status"] for s in json.loads(out.stdout)["settings"]] == ["set"]
    assert _error(sandbox, "--env-file", ".env", env={"DEPLOYCHECK_MAX_DOTENV_BYTES": "lots"}) == (
        "deploycheck: error: DEPLOYCHECK_MAX_DOTENV_BYTES: expected a positive number (bytes may end in K, M, G "
        "or T)")


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "directory"])
@pytest.mark.parametrize("named_by", ["pyproject", "command line"])
def test_not_a_regular_file(sandbox, kind, named_by):
    """Nothing waits on a FIFO or reads /dev/zero: the file is opened without blocking and its type checked
    on the opened descriptor."""
    sandbox.write(APP)
    path = sandbox.project / "deploy.yaml"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    target = "/dev/zero" if kind == "dev-zero" else "deploy.yaml"
    if named_by == "pyproject":
        if kind == "dev-zero":
            path.symlink_to("/dev/zero")
            target = "deploy.yaml"
        sandbox.write({"pyproject.toml": f'[tool.deploycheck.environments.staging]\nmanifests=["{target}"]'})
        line = _error(sandbox)
        shown = f"manifests entry {sandbox.project / target}"
    else:
        line = _error(sandbox, "--manifest", target)
        shown = f"--manifest {target}"
    expected = "leads outside the project" if kind == "dev-zero" and named_by == "pyproject" else \
        "not a regular file"
    assert line.startswith(f"deploycheck: error: {shown}: {expected}")


# --- Section 3: files the repository points at outside the project ---------------------------------------

@pytest.mark.parametrize("key, entry", [
    ("env-files", "{outside}/credentials"),
    ("env-files", "../outside/credentials"),
    ("env-files", "deploy/.env.prod"),  # a link in the project to the credentials file
    ("manifests", "deploy/k8s.yaml"),  # a link to a private key
    ("manifests", "deploy/../../outside/.ssh/id_ed25519"),
])
def test_the_repository_names_a_file_outside_itself(sandbox, key, entry):
    """pyproject.toml is the repository's: the files it names must be inside the project, links resolved, and
    nothing of a file outside is read, so nothing of it can be shown."""
    sandbox.write(APP)
    (sandbox.project / "deploy").mkdir()
    (sandbox.project / "deploy" / ".env.prod").symlink_to(sandbox.outside / "credentials")
    (sandbox.project / "deploy" / "k8s.yaml").symlink_to(sandbox.outside / ".ssh" / "id_ed25519")
    entry = entry.format(outside=sandbox.outside)
    sandbox.write({"pyproject.toml": f'[tool.deploycheck.environments.staging]\n{key} = ["{entry}"]\n'})
    line = _error(sandbox, secrets=(OUTSIDE_SECRET, "aws_secret_access_key", "OPENSSH"))
    what = "env-files entry" if key == "env-files" else "manifests entry"
    shown = entry if entry.startswith("/") else f"{sandbox.project}/{entry}"
    assert line == (f"deploycheck: error: {what} {shown}: leads outside the project (named in pyproject.toml "
                    "[tool.deploycheck.environments]): a repository may name only its own files; give a file "
                    "outside the project with --env-file or --manifest")


def test_a_project_link_given_on_the_command_line(sandbox):
    """The user named a project file; the repository made it a link to a credentials file."""
    sandbox.write(APP)
    (sandbox.project / ".env.prod").symlink_to(sandbox.outside / "credentials")
    assert _error(sandbox, "--env-file", ".env.prod", secrets=(OUTSIDE_SECRET,)) == (
        "deploycheck: error: --env-file .env.prod: leads outside the project: a file of the project may not "
        "lead outside it; give the file it leads to on the command line")


def test_a_compose_env_file_outside_the_project(sandbox):
    sandbox.write({**APP, "compose.yaml": "services:\n  api:\n    build: .\n"
                                          "    env_file: ../outside/credentials\n"})
    assert _error(sandbox, "--manifest", "compose.yaml", secrets=(OUTSIDE_SECRET,)) == (
        f"deploycheck: error: env_file of compose.yaml: {sandbox.project}/../outside/credentials: leads "
        "outside the project (an env_file of compose.yaml): a file of the project may name only files inside "
        "it")


def test_a_file_outside_the_project_named_by_the_user_is_read(sandbox):
    """A file the user gives on the command line is the user's choice, wherever it is."""
    sandbox.write(APP)
    (sandbox.outside / "prod.env").write_text("DATABASE_URL=postgresql+psycopg://app:Outside-Pw-3c@db/app\n")
    out = sandbox.run(*CONFIG, "--env-file", str(sandbox.outside / "prod.env"), "--format", "json")
    out.assert_safe(code=0, one_line=False, secrets=("Outside-Pw-3c",))
    assert [s["status"] for s in json.loads(out.stdout)["settings"]] == ["set"]


def test_url_redaction_of_a_password_holding_a_question_mark():
    from deploycheck.contract.redact import url

    assert url("postgresql+psycopg://app:qq?mark@atpw@127.0.0.1:5432/postgres") == (
        "postgresql+psycopg://app:***@127.0.0.1:5432/postgres")
    assert url("https://host:443/p?e=a@b.com") == "https://host:443/p?e=a@b.com"  # a port, not a password
    assert re.fullmatch(r"redis://:\*\*\*@h:1/0", url("redis://:ab/cd#ef@h:1/0"))


@pytest.mark.parametrize("name", ["/proc/self/environ", "/proc/self/status", "/dev/stdin"])
def test_env_files_that_are_made_up_by_the_kernel_or_a_stream(sandbox, name):
    """/proc files say they are regular and empty, and hold the environment of whoever reads them; /dev/stdin
    is whatever the standard input is (here /dev/null, a device)."""
    sandbox.write(APP)
    assert _error(sandbox, "--env-file", name, secrets=(OUTSIDE_SECRET,)) == (
        f"deploycheck: error: --env-file {name}: not a regular file")


def test_string_annotations_too_deep_or_too_long_for_the_parser(sandbox):
    # `x: "a+a+...+a"` in a settings class: its parse in the main process raised RecursionError (internal error)
    sandbox.write({"app.py": "from pydantic_settings import BaseSettings\n\nclass S(BaseSettings):\n"
                             f"    x: \"{'a+' * 300_000}a\"\n    y: \"{'(' * 100}int{')' * 100}\"\n"
                             "    z: 'int'\n",
                   ".env": "X=1\nZ=2\n"})
    out = sandbox.run(*CONFIG, "--env-file", ".env", "--format", "json").assert_safe(code=1, one_line=False)
    doc = json.loads(out.stdout)
    assert [(s["name"], s["status"]) for s in doc["settings"]] == [("X", "set"), ("Y", "missing [DC402]"),
                                                                   ("Z", "set")]
