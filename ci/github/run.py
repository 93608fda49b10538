"""The step of the deploycheck GitHub Action (action.yml) that runs deploycheck, as the runner runs it.

Reads the action's inputs from ``INPUT_*`` variables; runs ``deploycheck COMMAND ARGS --format github``,
whose workflow commands annotate the pull request, and again with ``--format sarif`` into the SARIF file
(the summaries are cached by then); writes the outputs ``exit-code``, ``errors``, ``warnings`` and
``sarif-file`` to ``$GITHUB_OUTPUT`` and a table of the findings to ``$GITHUB_STEP_SUMMARY``. Exits 0: a
later step of the action fails the job with ``exit-code``, after the SARIF has been uploaded.
Standard library only: it runs before anything is known about the runner's Python.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys

COMMANDS = {"check": ["check"], "config": ["config"], "migrate-status": ["migrate", "status"]}


def _input(name: str, default: str = "") -> str:
    return os.environ.get(f"INPUT_{name.upper()}", default).strip() or default


def _cell(text: str) -> str:
    # a Markdown table cell: one line, no column break, nothing a reader's renderer would take as markup
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ").replace("<", "&lt;")


def _append(path: str | None, text: str) -> None:
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(text)


def main() -> int:
    command = _input("command", "check")
    if command not in COMMANDS:
        print(f"::error title=deploycheck::unknown command {command!r} (check, config or migrate-status)")
        return 2
    deploycheck = shlex.split(_input("deploycheck", "deploycheck"))
    args = shlex.split(_input("args", "."))
    policy = []
    if _input("baseline"):
        policy += ["--baseline", _input("baseline")]
    if _input("fail-on"):
        policy += ["--fail-on", _input("fail-on")]
    sarif = _input("sarif-file", os.path.join(os.environ.get("RUNNER_TEMP", "."), "deploycheck.sarif"))
    base = deploycheck + COMMANDS[command] + args + policy
    sys.stdout.flush()
    code = subprocess.run(base + ["--format", "github"], check=False).returncode
    sys.stdout.flush()
    errors = warnings = 0
    rows = []
    if code in (0, 1):
        made = subprocess.run(base + ["--format", "sarif", "--output-file", sarif, "--exit-zero"],
                              stdout=subprocess.DEVNULL, check=False).returncode
        if made == 0:
            with open(sarif, encoding="utf-8") as fh:
                doc = json.load(fh)
            for r in doc["runs"][0]["results"]:
                if r.get("suppressions"):
                    continue
                errors += r["level"] == "error"
                warnings += r["level"] == "warning"
                loc = r["locations"][0]["physicalLocation"]
                line = loc.get("region", {}).get("startLine", "")
                rows.append(f"| {r['ruleId']} | {r['level']} | {_cell(loc['artifactLocation']['uri'])}:{line} | "
                            f"{_cell(r['message']['text'])} |")
    _append(os.environ.get("GITHUB_OUTPUT"), f"exit-code={code}\nerrors={errors}\nwarnings={warnings}\n"
                                             f"sarif-file={sarif}\n")
    title = f"### deploycheck {' '.join(COMMANDS[command])}\n\n"
    if code == 2:
        summary = title + "deploycheck could not run (exit code 2): see the step's log.\n"
    else:
        summary = title + f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}\n"
        if rows:
            summary += "\n| rule | level | location | message |\n| --- | --- | --- | --- |\n" + "\n".join(rows) + "\n"
    _append(os.environ.get("GITHUB_STEP_SUMMARY"), summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
