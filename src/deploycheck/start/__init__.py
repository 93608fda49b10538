"""``deploycheck start IMAGE``: unpack an image's root filesystem, run its command in a sandbox with the
environment the service will have, and report whether and how it becomes healthy (rules DC6xx)."""
