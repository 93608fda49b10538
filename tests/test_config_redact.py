"""Redaction of values in ``deploycheck config``: what a URL keeps and loses, and that no credential reaches
any output (source excerpts, messages, the settings table, JSON, stderr)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from conftest import cli

from deploycheck.cli import _redacted
from deploycheck.contract import redact
from deploycheck.contract.scrub import Scrubber


@pytest.mark.parametrize("value, expected", [
    ("postgresql://app:pw@db:5432/app", "postgresql://app:***@db:5432/app"),
    ("postgresql+asyncpg://app@db/app", "postgresql+asyncpg://app@db/app"),  # a role name: shown
    ("redis://localhost:6379/0?password=CodeRedisQ11", "redis://localhost:6379/0?password=***"),
    ("postgresql://db/app?sslmode=require&sslpassword=Kp1&options=-c%20x",
     "postgresql://db/app?sslmode=require&sslpassword=***&options=-c%20x"),
    ("https://api.example.com/v1?api_key=a1&apikey=a2&access_token=a3&pwd=a4&passwd=a5&auth=a6&page=2",
     "https://api.example.com/v1?api_key=***&apikey=***&access_token=***&pwd=***&passwd=***&auth=***&page=2"),
    ("https://CodeSentryKey10@o1.ingest.sentry.io/1", "https://***@o1.ingest.sentry.io/1"),
    ("git+https://ghp_abc@github.com/o/r.git", "git+https://***@github.com/o/r.git"),
    ("https://hooks.slack.com/services/T000/B000/CodeWebhookSecret4", "https://hooks.slack.com/services/***"),
    ("https://discord.com/api/webhooks/123/tok", "https://discord.com/api/webhooks/***"),
    ("https://api.telegram.org/bot123:ABC/sendMessage", "https://api.telegram.org/bot***"),
    ("https://example.com/hook/4f9c2a1be8d34c7e9a0b5d6f/x", "https://example.com/hook/***/x"),
    ("https://example.com/api/v2/orders_service/items", "https://example.com/api/v2/orders_service/items"),
    ("not a url", "not a url"),
])
def test_url_redaction(value, expected):
    assert redact.url(value) == expected


def test_scrubber_registers_the_secret_parts_of_a_url():
    """A value from the environment is registered by its URL secrets, so a server message quoting one of them
    (as a bare word, percent-decoded) is scrubbed; an unrelated short user name is not erased everywhere."""
    scrub = Scrubber()
    scrub.value("CACHE_URL", "redis://cache:6379/0?password=Env%2FRedisQ12")
    scrub.value("REPO_URL", "https://git@example.com/r")  # a short user name: masked in the URL only
    assert scrub("AUTH failed: Env/RedisQ12 rejected by git") == "AUTH failed: *** rejected by git"
    assert scrub("see https://git@example.com/r") == "see https://***@example.com/r"


def test_stderr_messages_are_redacted():
    assert _redacted("cannot parse redis://h:6379/0?token=T0k3n&db=1: bad port") == (
        "cannot parse redis://h:6379/0?token=***&db=1: bad port")


def _service(tmp_path: Path, code: str) -> Path:
    proj = tmp_path / "c"
    (proj / "app").mkdir(parents=True)
    (proj / "app" / "__init__.py").write_text("")
    (proj / "app" / "main.py").write_text(code)
    (proj / ".env.p").write_text("OTHER=1\n")
    return proj


def _run(proj: Path, fmt: str):
    return cli("config", "--env", "prod", "--env-file", ".env.p", "--python", sys.executable, "--no-cache",
               "--entry", "app.main", "--format", fmt, cwd=proj)


def test_secret_query_parameter_is_scrubbed_from_the_excerpt(tmp_path):
    proj = _service(tmp_path, 'import os\nR = os.getenv("REDIS_URL", "redis://localhost:6379/0?password=CodeRedisQ11")\n')
    code, out, err = _run(proj, "text")
    assert code == 1, err
    assert '2 | R = os.getenv("REDIS_URL", "redis://localhost:6379/0?password=***")\n' in out
    assert "CodeRedisQ11" not in out + err
    code, out, err = _run(proj, "json")
    doc = json.loads(out)
    assert doc["settings"][0]["reads"][0]["default"] == "redis://localhost:6379/0?password=***"
    assert "CodeRedisQ11" not in out + err


def test_credentials_under_names_not_recognised_as_secret(tmp_path):
    """A webhook URL and a DSN (the key in the user name) are credentials whatever the variable is called."""
    proj = _service(tmp_path, (
        'import os\n'
        'S = os.getenv("SLACK_WEBHOOK", "https://hooks.slack.com/services/T000/B000/CodeWebhookSecret4")\n'
        'D = os.getenv("SENTRY_DSN", "https://CodeSentryKey10@o1.ingest.sentry.io/1")\n'
        'L = os.getenv("LOCAL_DSN", "http://CodeSentryKey11@localhost:9000/2")\n'))
    code, out, err = _run(proj, "text")
    assert code == 1, err
    assert '4 | L = os.getenv("LOCAL_DSN", "http://***@localhost:9000/2")\n' in out
    for secret in ("CodeWebhookSecret4", "CodeSentryKey10", "CodeSentryKey11", "T000/B000"):
        assert secret not in out + err
    code, out, err = _run(proj, "json")
    defaults = {s["name"]: s["reads"][0]["default"] for s in json.loads(out)["settings"]}
    assert defaults == {"LOCAL_DSN": "http://***@localhost:9000/2",
                        "SENTRY_DSN": "https://***@o1.ingest.sentry.io/1",
                        "SLACK_WEBHOOK": "https://hooks.slack.com/services/***"}
    message = json.loads(out)["findings"][0]["message"]
    assert message.startswith("`LOCAL_DSN` is not set in environment `prod`, so the default "
                              "'http://***@localhost:9000/2' is used")


def test_paths_of_files_sockets_and_words_are_not_taken_for_keys():
    # a unix socket under a pytest directory was shown as `***` in every error message of the CLI
    from deploycheck.contract.redact import url

    sock = "unix:///tmp/pytest-of-root/pytest-115/test_docker_daemon_socket_abse0/no-docker.sock"
    assert url(sock) == sock
    assert url("https://example.com/docs/getting_started_with_python3") == \
        "https://example.com/docs/getting_started_with_python3"
    assert url("https://api.example.com/v1/keys/9f8a7b6c5d4e3f2a1b0c9d8e") == "https://api.example.com/v1/keys/***"


def test_an_internal_error_names_where_it_was_raised_not_its_message():
    """An exception's message may quote the input (``int("secret")``): the CLI prints where deploycheck's
    code raised it instead."""
    from deploycheck.cli import _raised_at
    from deploycheck.contract import scalars

    try:
        scalars.valid("int", None)  # a bug's stand-in: None where a value is expected
    except AttributeError as exc:
        where = _raised_at(exc)
    line = next(i for i, text in enumerate(Path(scalars.__file__).read_text().splitlines(), 1)
                if "text = value.strip()" in text)
    assert where == f"deploycheck/contract/scalars.py:{line}"
