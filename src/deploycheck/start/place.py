"""Where the findings of ``deploycheck start`` go for the CI formats (``findings.located``).

A finding at a file of the image (a traceback's frame) is placed at the repository file the image's file was
copied from, by the build file's ``COPY``/``ADD`` lines (``--source``, ``--containerfile``); without a map it
keeps its image path, and the formats say it is one. A finding about the image as a whole (it exited, was
never healthy, listened on loopback, was too slow or too big, ignored SIGTERM) is placed at the build file's
line of the instruction it is about (Dockerfile reference: ``CMD``, ``ENTRYPOINT``, ``EXPOSE``,
``HEALTHCHECK``, ``STOPSIGNAL``); without a build file, or when the build file has no such line (the base
image set it), it has no file: the location names the image itself (``Location.whole``).
"""

from __future__ import annotations

import os

from deploycheck.errors import UsageError
from deploycheck.findings import fingerprint
from deploycheck.findings.finding import Finding
from deploycheck.findings.located import Located, Location, Placer
from deploycheck.start.findings import COMMAND_PLACE

# The instructions a finding about the whole image is about, the first the build file has wins. The
# command is what exits, binds, starts slowly, uses memory and gets SIGTERM; EXPOSE says which port it
# should listen on; HEALTHCHECK is the probe that failed when the image's own probe was used.
INSTRUCTIONS = {
    "DC602": ("HEALTHCHECK", "CMD", "ENTRYPOINT"),
    "DC604": ("EXPOSE", "CMD", "ENTRYPOINT"),
    "DC607": ("STOPSIGNAL", "CMD", "ENTRYPOINT"),
}
COMMAND = ("CMD", "ENTRYPOINT")
MAX_LINKS = 40  # symbolic links followed in one image path, as Linux's limit


def image_map(source: str | None, build_file: str | None, root: str):
    """``(CopyMap, build file path)`` for ``--source`` and ``--containerfile`` (default: Containerfile, then
    Dockerfile, in the source), with the image's directories read from its unpacked ``root``; ``(None,
    None)`` without ``--source``, ``(None, None)`` and a warning when the source has no build file. Raises
    UsageError for a source that is not a directory or a build file that cannot be read or parsed."""
    path = build_path(source, build_file)
    if source is None:
        return None, None
    from deploycheck.target import containerfile
    if path is None:
        import sys

        sys.stderr.write(f"deploycheck: warning: --source {source}: no Containerfile or Dockerfile; findings "
                         "keep their paths in the image\n")
        return None, None
    return containerfile.parse(path, source, lambda p: is_dir(root, p)), os.path.abspath(path)


def build_path(source: str | None, build_file: str | None) -> str | None:
    """The build file of ``--source`` (``--containerfile``, else Containerfile, then Dockerfile, in it), None
    when there is none. Raises UsageError for a source that is not a directory, a build file that is not a
    file, or ``--containerfile`` without ``--source``: before the image is read."""
    if source is None:
        if build_file is not None:
            raise UsageError("--containerfile needs --source (the repository the image was built from)")
        return None
    from deploycheck.target import containerfile  # here: the build file's parser only with --source

    if not os.path.isdir(source):
        raise UsageError(f"--source {source}: not a directory")
    return containerfile.find(source, build_file)


def is_dir(root: str, path: str) -> bool:
    """Whether the image path ``path`` is a directory in the tree at ``root``, symbolic links followed
    inside the tree (an absolute target is the tree's root, as in the container), never outside it."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    here: list[str] = []
    links = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            here = here[:-1]
            continue
        full = os.path.join(root, *here, part)
        if os.path.islink(full):
            links += 1
            if links > MAX_LINKS:
                return False
            target = os.readlink(full)
            if target.startswith("/"):
                here = []
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
            continue
        if not os.path.lexists(full):
            return False
        here.append(part)
    return os.path.isdir(os.path.join(root, *here))


class StartPlacer(Placer):
    """A ``Placer`` for one ``start`` run: ``root`` the repository root, ``image`` the image as the user named
    it, ``mapping``/``build_file`` from ``image_map``."""

    def __init__(self, root: str, image: str, mapping=None, build_file: str | None = None) -> None:
        from deploycheck.outputs import image_to_repository

        super().__init__(root, lambda path, line: "", image_to_repository(mapping, root), image=True)
        self.image_ref = image
        self.mapping = mapping
        self.build_file = build_file

    def place(self, f: Finding) -> Located:
        if f.path != COMMAND_PLACE:
            return super().place(f)
        lines = self.mapping.instructions if self.mapping is not None else {}
        line = next((lines[k] for k in INSTRUCTIONS.get(f.code, COMMAND) if k in lines), 0)
        rel = os.path.relpath(self.build_file, self.root) if line and self.build_file else ".."
        if rel == ".." or rel.startswith(".." + os.sep):  # no line, or a build file outside the repository
            out = Located(f, Location(self.image_ref, False, whole=True, in_image=True))
        else:
            out = Located(f, Location(rel.replace(os.sep, "/"), True, line), via="build file")
        # the image's name and the build file's lines change from build to build; the finding does not
        out.fingerprint = fingerprint.base(f.code, COMMAND_PLACE, f.symbol, f.module, "")
        return out
