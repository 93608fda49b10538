"""Dotenv files, parsed with python-dotenv's own parser (the one ``load_dotenv`` uses), line by line so that
every variable keeps its line. A line it cannot parse is skipped with a warning naming the file and line, as
``load_dotenv`` does (it logs "python-dotenv could not parse statement starting at line N"), so the check sees
what the service will see; a file where no line parses is not a dotenv file and is an error. The ``env_file``
of a docker-compose service is read strictly: docker compose refuses a line it cannot parse.

Interpolation (``${VAR}``, ``${VAR:-default}``, python-dotenv's syntax) is resolved from the variables set
earlier in the same file only: anything else would depend on the shell of whoever runs the check, so such a
value is *templated* (unknown). A line ``KEY`` without ``=`` takes its value from the shell (docker's
``--env-file`` rule): the name is provided, its value unknown. Expanded values are bounded
(``limits.MAX_EXPANDED_BYTES``): ``B=${A}${A}`` line after line doubles at each line.
"""

from __future__ import annotations

import io

from dotenv.parser import parse_stream
from dotenv.variables import Literal, Variable, parse_variables

from deploycheck.contract import template
from deploycheck.contract.limits import Budget
from deploycheck.contract.model import Provided
from deploycheck.contract.textfile import read_text
from deploycheck.errors import UsageError

# Lines skipped with a warning that are named one by one; the others are counted in one more warning.
MAX_WARNINGS = 20


def read(path: str, source: str = "dotenv", what: str = "--env-file",
         warnings: list[str] | None = None, budget: Budget | None = None, within: str | None = None,
         why: str = "") -> list[Provided]:
    """The variables a dotenv file sets, in order. With a ``warnings`` list, a line python-dotenv cannot
    parse is skipped and ``"path:line: ..."`` (never the line's text, which may hold a value) is appended to
    it; without one such a line raises ``UsageError``. Also raises ``UsageError`` for a key set twice, a
    file that is not text, and a file with unparsable lines and no variable at all (not a dotenv file); for
    a file outside ``within`` and past the ``budget`` (``textfile.read_text``); and for values that expand
    past ``limits.MAX_EXPANDED_BYTES``."""
    budget = budget or Budget()
    text = read_text(path, what, "dotenv", budget, within, why)
    out: list[Provided] = []
    values: dict[str, str | None] = {}
    first: dict[str, int] = {}
    skipped: list[int] = []
    for b in parse_stream(io.StringIO(text)):
        line = b.original.line
        if b.error:
            if warnings is None:
                raise UsageError(f"{path}:{line}: not a KEY=VALUE line (the dotenv parser cannot parse it)")
            skipped.append(line)
            continue
        if b.key is None:
            continue
        if b.key in first:
            raise UsageError(f"{path}:{line}: `{b.key}` is set twice (first at line {first[b.key]}); "
                             "which value wins depends on the reader: keep one")
        first[b.key] = line
        budget.charge_variable(f"{path}:{line}")
        if b.value is None:
            out.append(Provided(b.key, source, path, line, "host"))
            values[b.key] = None
            continue
        value, marked = _interpolate(b.value, values, budget, f"{path}:{line}", b.key)
        values[b.key] = value
        out.append(Provided(b.key, source, path, line, "value" if value is not None else "templated", value,
                            template=marked if value is None else None))
    if skipped and not out:
        raise UsageError(f"{path}:{skipped[0]}: not a dotenv file: no line is KEY=VALUE")
    if warnings is not None:
        warnings += [f"{path}:{n}: not a KEY=VALUE line: skipped, as python-dotenv's load_dotenv does"
                     for n in skipped[:MAX_WARNINGS]]
        if len(skipped) > MAX_WARNINGS:
            more = len(skipped) - MAX_WARNINGS
            warnings.append(f"{path}: {more} more lines that are not KEY=VALUE skipped")
    return out


def _interpolate(value: str, earlier: dict[str, str | None], budget: Budget, where: str,
                 name: str) -> tuple[str | None, str]:
    """``(value, template)``: the value when every variable resolves (None otherwise), and the text with
    the variables that do not resolve marked as placeholders (``contract.template``). Its size is charged to
    ``budget`` before it is built."""
    if "${" not in value:
        return value, value
    parts: list[str] = []
    resolved = True
    for atom in parse_variables(value):
        if isinstance(atom, Literal):
            parts.append(atom.value)
        elif isinstance(atom, Variable):
            got = earlier.get(atom.name)
            if got is None and atom.default is not None:
                got = atom.default  # python-dotenv's ${VAR:-default} applies when VAR is unset
            if got is None:
                resolved = False
                parts.append(template.mark(f"${{{atom.name}}}"))
            else:
                parts.append(got)
    budget.charge_expanded(where, name, sum(map(len, parts)))
    text = "".join(parts)
    return (text if resolved else None), text
