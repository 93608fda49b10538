"""Which values of a setting the URL rules look at (DC404) and which ``--connect`` tries (DC405)."""

from __future__ import annotations

from deploycheck.contract.model import Setting


def database_values(ctx, s: Setting) -> list[tuple[str, str, int, str]]:
    """The values of a setting to analyze as URLs, each with where it comes from: every provided value that
    is known, or templated (its placeholders marked, ``contract.template``), at its file and line; else the
    literal defaults of the reads that the code does not set before. Returns (value or template, path, line,
    when)."""
    if s.provided:
        return [(p.value if p.value is not None else p.template, p.path, p.line, "connect")  # type: ignore[misc]
                for p in s.provided if p.value is not None or p.template is not None]
    return [(r.default, r.path, r.line, r.when) for r in s.open_reads if r.default is not None]


def live_targets(ctx, s: Setting) -> list[tuple[str, str, int]]:
    """What ``--connect`` tries for a setting: its effective value when provided, or (local environments
    only) its default. Returns (value, path, line)."""
    known = [p for p in s.provided if p.value is not None]
    if known:
        return [(known[-1].value, known[-1].path, known[-1].line)]  # type: ignore[list-item]
    if not s.provided and ctx.env.local and len(s.used_defaults) == 1:
        r = next(r for r in s.open_reads if r.default is not None)
        return [(r.default, r.path, r.line)]  # type: ignore[list-item]
    return []


def is_live_kind(name: str, value: str) -> str | None:
    """``postgres`` or ``redis`` when --connect knows how to try this value."""
    scheme = value.split("://", 1)[0].lower() if "://" in value else ""
    if scheme.split("+")[0] in ("postgresql", "postgres"):
        return "postgres"
    if scheme in ("redis", "rediss"):
        return "redis"
    return None
