"""The scrubbing every machine format shares: each string of a document passes through the process-wide
secret registry and URL redaction (``contract.scrub``), as the text and JSON outputs of ``config`` do."""

from __future__ import annotations

from deploycheck.contract.scrub import scrub


def scrubbed(obj):
    """``obj`` (JSON-shaped: dicts, lists, strings, numbers) with every string, keys included, scrubbed."""
    if isinstance(obj, str):
        return scrub(obj)
    if isinstance(obj, dict):
        return {scrub(k): scrubbed(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [scrubbed(v) for v in obj]
    return obj
