"""Image input that cannot be read safely."""

from deploycheck.errors import UsageError


class ImageError(UsageError):
    """A broken, malicious or unsupported image: the CLI prints the message and exits 2."""
