"""The texts that can matter in a log (``TRIGGERS``), and the patterns of the lines a server prints about
its own life (``NOTE_PATTERNS``, compiled by ``tracebacks``). Without ``re``: ``deploycheck audit`` starts
the search for these texts before it imports the rest (``search.prestart``).
"""

from __future__ import annotations

# Lines a server prints about its own life: (kind, pattern). "start": a process begins serving or booting;
# "ready": it says it serves; "stop": it gives up. From gunicorn, uvicorn, Django, Kubernetes and Cloud Run.
NOTE_PATTERNS = {
    "start": (r"Booting worker with pid|Starting gunicorn|Started server process|Starting development server|"
              r"Waiting for application startup"),
    "ready": (r"Application startup complete|Uvicorn running on|Listening at: |Quit the server with|"
              r"Running on http"),
    "stop": (r"Worker failed to boot|Application startup failed|Shutting down: Master|Reason: App failed to load|"
             r"Error loading ASGI app|Back-off restarting failed container|Container called exit\(|"
             r"exited with code [1-9]|STARTUP TCP probe failed|STARTUP HTTP probe failed"),
    "request": (r"Exception in ASGI application|Exception on /\S* \[|Internal Server Error: /|"
                r"Error handling request"),
}


def literal(alternative: str) -> str:
    """The text an alternative of a note pattern starts with, up to its first special character of a
    regular expression (``\\ [ ( . * + ? { ^ $``)."""
    for i, char in enumerate(alternative):
        if char in "\\[(.*+?{^$":
            return alternative[:i]
    return alternative


# Texts without which a line can neither start a traceback nor be a note (``logs.Skip``): the header, a
# ``File "`` line (as written, or as JSON escapes it), the top of an exception group's box, and the literal
# text each alternative of each note pattern starts with. Long texts keep grep's one pass fast (its shifts
# are as long as the shortest text).
TRIGGERS = tuple(dict.fromkeys(
    [b"Traceback (most recent call last):", b'File "', b'File \\"', b"Group: "]
    + [literal(a).encode() for p in NOTE_PATTERNS.values() for a in p.split("|")]))
