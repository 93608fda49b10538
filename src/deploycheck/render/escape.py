"""Text for a terminal: the control characters of anything read from the input, escaped.

Names, paths, messages and source lines come from a repository or an image deploycheck does not trust. Shown
raw, an escape sequence in a module name could set the window title, clear the screen or rewrite the lines
above it, and a newline in a file name could forge a finding. So every text renderer, and every line on
stderr, passes its text through ``escape``, which replaces:

- the C0 controls U+0000-U+001F (newline and tab included: one finding stays one line) and DEL U+007F;
- the C1 controls U+0080-U+009F (a terminal may read U+009B alone as CSI, ECMA-48 section 5.3);
- the bidirectional formatting characters (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069), which
  reorder what is shown (Unicode UAX #9; "Trojan Source", CVE-2021-42574), and the line and paragraph
  separators U+2028, U+2029;

with a Python-style escape (``\\n``, ``\\x1b``, ``\\u202e``) that shows what was there. JSON output needs
none of this: ``json.dumps`` escapes every control character and, with ``ensure_ascii``, every non-ASCII one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # rich is imported when a console is made: JSON output and stderr lines do without it
    from rich.console import Console
    from rich.text import Text

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _one(match: re.Match) -> str:
    ch = match.group()
    code = ord(ch)
    return _SHORT.get(ch) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def escape(text: str) -> str:
    """``text`` with every control character listed in the module docstring replaced by its escape."""
    return _CONTROL.sub(_one, text)


def escape_text(text: Text) -> Text:
    """A rich ``Text`` with its characters escaped as ``escape`` does, its styles kept on the same
    characters."""
    from rich.text import Text

    plain = text.plain
    if not _CONTROL.search(plain):
        return text
    at = [0]  # at[i]: where the character at i of ``plain`` starts in the escaped text
    pieces = []
    for ch in plain:
        piece = escape(ch)
        pieces.append(piece)
        at.append(at[-1] + len(piece))
    out = Text("".join(pieces), style=text.style, justify=text.justify, overflow=text.overflow,
               no_wrap=text.no_wrap, end=text.end, tab_size=text.tab_size)
    for span in text.spans:
        out.stylize(span.style, at[span.start], at[span.end])
    return out


@cache
def _escaping_console() -> type:
    from rich.console import Console
    from rich.text import Text

    class EscapingConsole(Console):
        scrub: Callable[[str], str] | None = None

        # Every renderable reaching the terminal is a Text or a str here; a str is taken as plain text (never
        # as rich markup, which input could otherwise use to restyle the output).
        def print(self, *objects, **kwargs) -> None:  # type: ignore[override]
            super().print(*(self._shown(o) for o in objects), **kwargs)

        def _shown(self, o):
            if isinstance(o, str):  # escaped before rich sees it: rich would drop a carriage return silently
                return Text(escape(self.scrub(o) if self.scrub else o))
            if not isinstance(o, Text):
                return o
            # secrets are matched in the raw text (escaped, a tab in one would hide it from the scrubber)
            if self.scrub is not None:
                scrubbed = self.scrub(o.plain)
                if scrubbed != o.plain:  # the line loses its styles; its text is what matters
                    return Text(escape(scrubbed), style=o.style, end=o.end)
            return escape_text(o)

    return EscapingConsole


def console(file, color: bool | None = None, scrub: Callable[[str], str] | None = None) -> Console:
    """A rich ``Console`` writing to ``file`` whose ``print`` escapes every ``Text`` and ``str`` it is given,
    after passing its text through ``scrub`` (secret redaction) when given.

    ``color``: True forces colour, False turns it off, None decides as rich does (colour only when ``file``
    is a terminal). ``NO_COLOR`` set and non-empty turns colour off, bold and dim stay
    (https://no-color.org); rich reads it, and ``FORCE_COLOR`` and ``TERM=dumb``, from the environment.
    """
    out = _escaping_console()(file=file, highlight=False, soft_wrap=True, force_terminal=color,
                              no_color=True if color is False else None)
    out.scrub = scrub
    return out


class EscapedLines:
    """A text stream over ``stream`` for line-oriented output: in each ``write``, the newlines that end it end
    lines; every other control character, a newline inside included, is escaped (``escape``). Other
    attributes (``isatty``, ``fileno``, ``encoding``) are the stream's own. ``ignore_errors``: an
    ``OSError`` from the stream is ignored (for stderr: when it cannot be written, there is no one to tell).
    ``keep_newlines``: every newline is kept, for text whose lines are its structure (a diff)."""

    def __init__(self, stream, ignore_errors: bool = False, keep_newlines: bool = False) -> None:
        self.stream = stream
        self.ignore_errors = ignore_errors
        self.keep_newlines = keep_newlines

    def write(self, text: str) -> int:
        if self.keep_newlines:
            shown = "\n".join(escape(line) for line in text.split("\n"))
        else:
            body = text.rstrip("\n")
            shown = escape(body) + text[len(body):]
        try:
            self.stream.write(shown)
        except OSError:
            if not self.ignore_errors:
                raise
        return len(text)

    def flush(self) -> None:
        try:
            self.stream.flush()
        except OSError:
            if not self.ignore_errors:
                raise

    def __getattr__(self, name: str):
        return getattr(self.stream, name)


def underlying(stream):
    """The stream under an ``EscapedLines`` (else ``stream``): for text of deploycheck's own only, such as
    the progress bar (its escape sequences) and argparse's usage lines."""
    return stream.stream if isinstance(stream, EscapedLines) else stream
