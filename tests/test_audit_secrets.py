"""Secrets a log shows by their shape (cookies, vendor tokens, passwords on command lines, ``auth=`` tuples)
are masked in what ``deploycheck audit`` writes and in the log lines ``deploycheck start`` keeps, while the
text around them, commit ids and blob ids stay as written."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import cli

from deploycheck.start.logs import MAX_LINE, LogReader, shown

# (line as the service wrote it, line as it must be shown, the secret it holds)
CASES = [
    ("upstream refused Cookie: sessionid=9f8e7d6c5b4aQ1; csrftoken=Zx9y8w7v6u5tQ2 for /api",
     "upstream refused Cookie: sessionid=***; csrftoken=*** for /api", "9f8e7d6c5b4aQ1"),
    ("login answered Set-Cookie: sid=Kk38sPq0wQ3; Path=/; Expires=Wed, 21 Oct 2026 07:28:00 GMT; HttpOnly",
     "login answered Set-Cookie: sid=***; Path=/; Expires=Wed, 21 Oct 2026 07:28:00 GMT; HttpOnly",
     "Kk38sPq0wQ3"),
    ("headers {'Cookie': 'session=Vv71mZ0aQ4; theme=dark', 'Host': 'api.internal'}",
     "headers {'Cookie': 'session=***; theme=***', 'Host': 'api.internal'}", "Vv71mZ0aQ4"),
    ("stripe.error.AuthenticationError: Invalid API Key provided: sk_live_4eC39HqLyjWDarjtT1zdp7dcQ5 (live)",
     "stripe.error.AuthenticationError: Invalid API Key provided: *** (live)", "4eC39HqLyjWDarjtT1zdp7dcQ5"),
    ("restricted rk_live_51HabcdEFGhijKLMnopQ6 was refused", "restricted *** was refused", "51HabcdEFGhijKLMnopQ6"),
    ("git clone https://github.com/org/repo failed with ghp_A1bC2dE3fH4iJ5kL6mN7oP8qR9sT0uVwXyQ7 as token",
     "git clone https://github.com/org/repo failed with *** as token", "A1bC2dE3fH4iJ5kL6mN7oP8qR9sT0uVwXyQ7"),
    ("oauth gho_16C7e42F292c6912E7710c838347Ae178B4aQ8 and app ghs_29CfdbE8c7A6e5d4C3b2A1f0E9d8C7b6Q9xy",
     "oauth *** and app ***", "16C7e42F292c6912E7710c838347Ae178B4aQ8"),
    ("fine-grained github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzQ10 expired",
     "fine-grained *** expired", "abcdefghijklmnopqrstuvwxyzQ10"),
    ("slack post failed for xoxb-1234567890-0987654321-AbCdEfGhIjKlQ11 (invalid_auth)",
     "slack post failed for *** (invalid_auth)", "AbCdEfGhIjKlQ11"),
    ("botocore: The security token included in the request is invalid: AKIAIOSFODNN7QEX12MP in us-east-1",
     "botocore: The security token included in the request is invalid: *** in us-east-1", "IOSFODNN7QEX12MP"),
    ("jwt rejected eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0wQ13 at /login",
     "jwt rejected *** at /login", "dozjgNryP4J3jVmNHl0wQ13"),
    ("maps quota for AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGQ14x exceeded", "maps quota for *** exceeded",
     "SyDaGmWKa4JsXZ-HjGw7ISLn_3namBGQ14x"),
    ("backup ran: mysql -u root -pTopQ15secret -h db.internal app",
     "backup ran: mysql -u root -p*** -h db.internal app", "TopQ15secret"),
    ("Command '['mysqladmin', '-uroot', '-pAdmQ16pass', 'ping']' returned non-zero exit status 1.",
     "Command '['mysqladmin', '-uroot', '-p***', 'ping']' returned non-zero exit status 1.", "AdmQ16pass"),
    ("mariadb -h db -P 3306 -pMarQ17pw -e 'select 1'", "mariadb -h db -P 3306 -p*** -e 'select 1'", "MarQ17pw"),
    ("pg_dump --host db --password PgQ18pass --dbname app", "pg_dump --host db --password *** --dbname app",
     "PgQ18pass"),
    ("migrate --db-password=DbQ19pass --verbose", "migrate --db-password=*** --verbose", "DbQ19pass"),
    ("env PGPASSWORD=EnvQ20pass psql -h db app", "env PGPASSWORD=*** psql -h db app", "EnvQ20pass"),
    ("requests.get(url, auth=('svc-user', 'TupQ21pass')) failed",
     "requests.get(url, auth=('svc-user', '***')) failed", "TupQ21pass"),
    ('session.auth = ("svc-user", "TupQ22pass") was refused', 'session.auth = ("svc-user", "***") was refused',
     "TupQ22pass"),
    ("pg_dump --password 'Pg Q23 pass' --dbname app", "pg_dump --password *** --dbname app", "Q23 pass"),
    ("mysql -p'My Q24 pass' -h db app", "mysql -p*** -h db app", "My Q24 pass"),
    ("psycopg.OperationalError: connection failed: password=OpQ25pass sslmode=require",
     "psycopg.OperationalError: connection failed: password=*** sslmode=require", "OpQ25pass"),
    ("session answered set-cookie: a=CkQ28x; Path=/, b=CkQ29y; Expires=Wed, 21 Oct 2026 07:28:00 GMT; Secure",
     "session answered set-cookie: a=***; Path=/, b=***; Expires=Wed, 21 Oct 2026 07:28:00 GMT; Secure",
     "CkQ29y"),
    ('requests.get(url, auth=HTTPBasicAuth("svc-user", "TupQ30pass")) failed',
     'requests.get(url, auth=HTTPBasicAuth("svc-user", "***")) failed', "TupQ30pass"),
    ("env MY_SERVICE_PRODUCTION_PRIMARY_DATABASE_CONNECTION_PASSWORD=LongQ31pass set",
     "env MY_SERVICE_PRODUCTION_PRIMARY_DATABASE_CONNECTION_PASSWORD=*** set", "LongQ31pass"),
    ("api answered 401 to Authorization: Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4bQ32 (rest_framework)",
     "api answered 401 to Authorization: Token *** (rest_framework)",
     "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4bQ32"),
    ("requests.get(url, auth=('svc-user', 'Tup,Q33 pass')) failed",
     "requests.get(url, auth=('svc-user', '***')) failed", "Q33 pass"),
    ('login answered Set-Cookie: sid="Ck Q34z"; Path=/', "login answered Set-Cookie: sid=***; Path=/",
     "Q34z"),
    ("gitlab refused glpat-AbCdEfGhIjKlMnQ35xYz and stripe sk_test_4eC39HqLyjWDarjQ36",
     "gitlab refused *** and stripe ***", "AbCdEfGhIjKlMnQ35xYz"),
    ('vault answered tokens: ["hvs.CAESQ37abc", "hvs.CAESQ38def"] revoked',
     "vault answered tokens: *** revoked", "hvs.CAESQ37abc"),
    ("health probe ran: curl -fsS -u monitor:CurlQ39pw http://api:8000/health",
     "health probe ran: curl -fsS -u monitor:*** http://api:8000/health", "CurlQ39pw"),
    ("Command '['sshpass', '-p', 'SshQ40pw', 'ssh', 'db']' returned non-zero exit status 5.",
     "Command '['sshpass', '-p', '***', 'ssh', 'db']' returned non-zero exit status 5.", "SshQ40pw"),
    ("cache check: redis-cli -h cache -a RedisQ41pw ping", "cache check: redis-cli -h cache -a *** ping",
     "RedisQ41pw"),
    # ordinary words, flags and ids that look close to a secret stay as written
    ("Author: Jane Doe <jane@example.org> authority=ca.internal tokenizer=bert-base",
     "Author: Jane Doe <jane@example.org> authority=ca.internal tokenizer=bert-base", None),
    ("openai usage: prompt_tokens=812 completion_tokens: 96, max_tokens=1024",
     "openai usage: prompt_tokens=812 completion_tokens: 96, max_tokens=1024", None),
    ("Basic configuration loaded; falling back to basic authentication. env PWD=/srv/app OLDPWD=/root",
     "Basic configuration loaded; falling back to basic authentication. env PWD=/srv/app OLDPWD=/root", None),
    ("settings PASSWORD_RESET_TIMEOUT: 259200 password_min_length=12",
     "settings PASSWORD_RESET_TIMEOUT: 259200 password_min_length=12", None),
    ("commit 4468c18a3a315e6951bd7d521252098a492ab0c1 blob e69de29bb2d1d6434b8b29ae775ad8c2e48c5391 skill_live_x",
     "commit 4468c18a3a315e6951bd7d521252098a492ab0c1 blob e69de29bb2d1d6434b8b29ae775ad8c2e48c5391 skill_live_x",
     None),
    ("docker login --username ci --password-stdin; pip install -p x; mysql -p -P 3306",
     "docker login --username ci --password-stdin; pip install -p x; mysql -p -P 3306", None),
]

# The service: each line a message of one exception, chained to the previous one's, so one crash shows them
# all; the lines come from a file, so that no secret is in the source lines the traceback quotes.
PROGRAM = """import sys
err = None
for line in open(sys.argv[1], encoding="utf-8").read().splitlines():
    try:
        raise RuntimeError(line) from err
    except RuntimeError as exc:
        err = exc
raise err
"""


def _crash_log(tmp_path, cases) -> str:
    (tmp_path / "lines.txt").write_text("".join(c[0] + "\n" for c in cases))
    (tmp_path / "svc.py").write_text(PROGRAM)
    proc = subprocess.run([sys.executable, "svc.py", "lines.txt"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 1 and all(c[0] in proc.stderr for c in cases)
    log = tmp_path / "svc.log"
    log.write_text(proc.stderr)
    return str(log)


@pytest.mark.parametrize("start", range(0, len(CASES), 8))
def test_secrets_shown_by_their_shape_are_masked_by_audit(tmp_path, start):
    cases = CASES[start:start + 8]  # a report shows a traceback's last 80 lines: 8 chained exceptions
    log = _crash_log(tmp_path, cases)
    code, out, err = cli("audit", "--log", log, "--format", "json")
    assert code == 1, err
    shown_lines = json.loads(out)["error"]
    for _, masked, _ in cases:
        assert f"RuntimeError: {masked}" in shown_lines, masked
    for fmt in ("text", "markdown", "html"):
        code, out, err = cli("audit", "--log", log, "--format", fmt)
        assert code == 1, err
        leaked = [s for _, _, s in cases if s and s in out]
        assert leaked == [], (fmt, leaked)
        assert "RuntimeError" in out, fmt


def test_a_token_as_an_exception_type_name_is_masked(tmp_path):
    """The exception's type is text of the log too: a class named by a token is shown masked."""
    (tmp_path / "name.txt").write_text("sk_live_4eC39HqLyjWDarjtT1zdp7dcQ26")
    (tmp_path / "svc.py").write_text("raise type(open('name.txt').read(), (Exception,), {})('denied')\n")
    proc = subprocess.run([sys.executable, "svc.py"], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          check=False)
    assert "sk_live_4eC39HqLyjWDarjtT1zdp7dcQ26: denied" in proc.stderr
    (tmp_path / "svc.log").write_text(proc.stderr)
    code, out, err = cli("audit", "--log", tmp_path / "svc.log", "--format", "json")
    assert code == 1, err
    doc = json.loads(out)
    assert (doc["groups"][0]["exc_type"], doc["groups"][0]["message"]) == ("***", "denied")
    for fmt in ("text", "markdown", "html"):
        code, out, err = cli("audit", "--log", tmp_path / "svc.log", "--format", fmt)
        assert code == 1 and "4eC39HqLyjWDarjtT1zdp7dcQ26" not in out, fmt


def test_secrets_shown_by_their_shape_are_masked_in_start_log_lines():
    """``start`` keeps the service's lines through ``start.logs.shown``, the same masking as audit's."""
    program = "import sys\nfor line in sys.argv[1:]:\n    print(line, flush=True)\n"
    proc = subprocess.Popen([sys.executable, "-c", program, *[c[0] for c in CASES]], stdout=subprocess.PIPE)
    reader = LogReader(proc.stdout, shown)
    reader.join(30)
    proc.wait(30)
    tail, _, _ = reader.snapshot()
    assert tail == [c[1] for c in CASES]


def test_a_token_cut_by_the_line_bounds_of_start_is_never_half_shown():
    """``start`` keeps MAX_LINE characters of a line and reads a longer one MAX_LINE * 4 bytes at a time: a
    token the cut goes through loses its prefix or its length, and would no longer be recognized."""
    token = "ghp_A1bC2dE3fH4iJ5kL6mN7oP8qR9sT0uVwXyQ27"
    at_cut = "w " * ((MAX_LINE - 20) // 2) + token + " tail"  # the token spans character MAX_LINE
    at_read = "v " * ((MAX_LINE * 4 - 10) // 2) + token + " tail"  # ... and byte MAX_LINE * 4
    program = "import sys\nfor line in sys.argv[1:]:\n    print(line, flush=True)\n"
    proc = subprocess.Popen([sys.executable, "-c", program, at_cut, at_read, "after"], stdout=subprocess.PIPE)
    reader = LogReader(proc.stdout, shown)
    reader.join(30)
    proc.wait(30)
    tail, _, _ = reader.snapshot()
    assert [line[-11:] for line in tail] == ["w w w w w …", "v v v v v …", "… tail", "after"]
    assert not [line for line in tail if "A1bC2dE3" in line or "0uVwXyQ27" in line]
    assert max(len(line) for line in tail) <= MAX_LINE
