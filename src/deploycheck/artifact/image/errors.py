"""Image input that cannot be read safely."""

from deploycheck.errors import UsageError

SHOWN_CHARS = 120  # of a name from the image quoted in a message


class ImageError(UsageError):
    """A broken, malicious or unsupported image: the CLI prints the message and exits 2."""


def shown(name: str) -> str:
    """A name taken from an image, quoted for a one-line message: control characters escaped (``repr``) and
    cut to SHOWN_CHARS characters, so that a crafted name can neither break the line nor flood it."""
    cut = name[:SHOWN_CHARS] + ("..." if len(name) > SHOWN_CHARS else "")
    return repr(cut)


def listing(names: list[str], most: int = 10) -> str:
    """Names from an image for a one-line message: control characters escaped, each cut short, at most
    ``most`` of them and how many more."""
    parts = [repr(n[:SHOWN_CHARS])[1:-1] for n in names[:most]]
    if len(names) > most:
        parts.append(f"and {len(names) - most} more")
    return ", ".join(parts)
