"""The Python inside an image, found statically (nothing from the image is run).

From the image config (OCI image-spec ``config.md``: ``Env``, ``Entrypoint``, ``Cmd``, ``WorkingDir``) and
the image's files: the interpreter the command runs (or ``python3`` on the image's ``PATH``), its version
(the versioned binary name, ``pyvenv.cfg``, the ``lib/python3.X`` directory), its prefix and virtual
environment, the standard library and site directories the ``site`` module would add (Debian's
``dist-packages`` layout included), ``PYTHONPATH``, and the built-in module names, read from the
``PyInit_<name>`` symbols of the interpreter binary or ``libpython``. The names that built-in and
``lib-dynload`` modules define come from deploycheck's table of the minor version (``builtin_names``), for
the modules whose names do not depend on the build.
"""

from __future__ import annotations

import posixpath
import re

from deploycheck.artifact.image.errors import ImageError
from deploycheck.artifact.image.files import ImageFiles
from deploycheck.environment.builtin_names import module_names
from deploycheck.environment.interpreter import Interpreter

_DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_ALWAYS_BUILTIN = {"sys", "builtins", "_imp", "_warnings", "marshal", "_io", "_thread", "_weakref", "posix"}
_ALWAYS_FROZEN = {"_frozen_importlib", "_frozen_importlib_external", "zipimport"}
_ARCH = {"amd64": "x86_64", "arm64": "aarch64", "386": "i386", "ppc64le": "powerpc64le", "s390x": "s390x"}
_VERSION = re.compile(r"python(3)\.(\d+)$")


def environment(config: dict) -> dict[str, str]:
    """The image's ``Env`` as a dict (later entries win, as in the runtime). ``config`` is ``Image.config``,
    whose shape the reader checked (``documents.CONTAINER_CONFIG``: ``Env`` a list of strings or absent)."""
    env: dict[str, str] = {}
    for item in config.get("Env") or []:
        key, sep, value = str(item).partition("=")
        if sep:
            env[key] = value
    return env


def find_interpreter(files: ImageFiles, env: dict[str, str], program: str | None = None) -> str:
    """The image path of the interpreter ``program`` (a name looked up on the image's PATH, or a path),
    default ``python3`` then ``python``. Raises ImageError when the image has none."""
    names = [program] if program else ["python3", "python"]
    for name in names:
        if "/" in name:
            if files.is_file(name):
                return name
            continue
        for d in (env.get("PATH") or _DEFAULT_PATH).split(":"):
            candidate = posixpath.join(d or "/", name)
            if files.is_file(candidate):
                return candidate
    raise ImageError(f"no Python interpreter ({', '.join(names)}) on the image's PATH")


def interpreter(files: ImageFiles, config: dict, arch: str = "amd64", program: str | None = None) -> Interpreter:
    """Describe the interpreter an image runs, as the probe would for a host interpreter."""
    env = environment(config)
    exe = find_interpreter(files, env, program)
    real = files.realpath(exe)
    venv_prefix, cfg = _venv(files, exe)
    version = _version(files, real, cfg)
    tag = f"{version[0]}.{version[1]}"
    base_prefix = posixpath.dirname(posixpath.dirname(real))
    if venv_prefix and cfg.get("home"):
        base_prefix = posixpath.dirname(files.realpath(cfg["home"].rstrip("/")))
    stdlib = _first_dir(files, [f"{base_prefix}/lib/python{tag}", f"/usr/lib/python{tag}", f"/usr/local/lib/python{tag}"])
    if stdlib is None:
        raise ImageError(f"the image's {exe} (Python {tag}) has no standard library directory")
    dynload = posixpath.join(stdlib, "lib-dynload")
    path = [p for p in (env.get("PYTHONPATH") or "").split(":") if p] + [stdlib, dynload]
    sites: list[str] = []
    if venv_prefix:
        sites.append(f"{venv_prefix}/lib/python{tag}/site-packages")
    if not venv_prefix or cfg.get("include-system-site-packages", "false").lower() == "true":
        if files.is_dir("/usr/lib/python3/dist-packages"):  # Debian's layout (its patched site.py)
            sites += [f"/usr/local/lib/python{tag}/dist-packages", "/usr/lib/python3/dist-packages",
                      f"/usr/lib/python{tag}/dist-packages"]
        sites.append(f"{base_prefix}/lib/python{tag}/site-packages")
    machine = _ARCH.get(arch, arch)
    builtins, patch = _scan_binaries(files, real, base_prefix, version[1])
    if patch is not None and not version[2]:
        version = (version[0], version[1], patch)
    suffixes = _extension_suffixes(files, dynload, version, machine)
    soabi = suffixes[0][1:-3] if suffixes[0].startswith(".cpython") else None
    attrs = _table_attrs(files, dynload, builtins, version, suffixes, soabi)
    return Interpreter(
        executable=exe, version=version, implementation="cpython", cache_tag=f"cpython-{version[0]}{version[1]}",
        platform="linux", os_name="posix", machine=machine, prefix=venv_prefix or base_prefix,
        base_prefix=base_prefix, path=path, site_packages=[s for s in dict.fromkeys(sites) if files.is_dir(s)],
        user_site=None, stdlib=stdlib, builtin_modules=frozenset(builtins),
        frozen_modules=frozenset(_ALWAYS_FROZEN), builtin_attrs=attrs, builtins=frozenset(),
        extension_suffixes=suffixes, soabi=soabi,
        system_site_packages=cfg.get("include-system-site-packages", "false").lower() == "true",
        builtin_attrs_from_table=True,
    )


def _venv(files: ImageFiles, exe: str) -> tuple[str | None, dict[str, str]]:
    exe_dir = posixpath.dirname(exe)
    for conf in (posixpath.join(exe_dir, "pyvenv.cfg"), posixpath.join(posixpath.dirname(exe_dir), "pyvenv.cfg")):
        try:
            text = files.read_bytes(conf).decode("utf-8", errors="replace")
        except (OSError, ValueError):
            continue
        cfg = {}
        for line in text.splitlines():
            key, sep, value = line.partition("=")
            if sep:
                cfg[key.strip().lower()] = value.strip()
        return posixpath.dirname(conf), cfg
    return None, {}


def _version(files: ImageFiles, real: str, cfg: dict[str, str]) -> tuple[int, int, int]:
    m = _VERSION.search(posixpath.basename(real))
    if m:
        return (3, int(m.group(2)), 0)
    v = cfg.get("version") or cfg.get("version_info") or ""
    m2 = re.match(r"3\.(\d+)(?:\.(\d+))?", v)
    if m2:
        return (3, int(m2.group(1)), int(m2.group(2) or 0))
    lib = posixpath.join(posixpath.dirname(posixpath.dirname(real)), "lib")
    found = sorted(int(n[len("python3."):]) for n in (files.listdir(lib) or {})
                   if re.fullmatch(r"python3\.\d+", n))
    if found:
        return (3, found[-1], 0)
    raise ImageError(f"cannot tell the version of the image's {real}")


def _first_dir(files: ImageFiles, candidates: list[str]) -> str | None:
    for c in candidates:
        if files.is_dir(c):
            return files.realpath(c)
    return None


def _extension_suffixes(files: ImageFiles, dynload: str, version: tuple[int, int, int], machine: str) -> tuple[str, ...]:
    tag = f"cpython-{version[0]}{version[1]}"
    for name in sorted(files.listdir(dynload) or {}):
        m = re.search(rf"\.({re.escape(tag)}[a-z]*-[^.]+)\.so$", name)  # ABI flags (PEP 3149): 37m, 313t
        if m:
            return (f".{m.group(1)}.so", ".abi3.so", ".so")
    return (f".{tag}-{machine}-linux-gnu.so", ".abi3.so", ".so")


def _table_attrs(files: ImageFiles, dynload: str, builtins: set[str], version: tuple[int, int, int],
                 suffixes: tuple[str, ...], soabi: str | None) -> dict[str, frozenset[str]]:
    """``{module: names}`` for the tabled modules of the image's minor version that the image has, built in or
    as a ``lib-dynload`` extension module (a file named ``module`` + one of the suffixes, as the importlib
    extension finder looks for). Empty for debug and free-threaded builds (ABI flags ``d``, ``t`` in the SOABI,
    PEP 3149, PEP 703): the table is measured on release builds with the GIL."""
    flags = re.match(r"cpython-\d+([a-z]*)", soabi or "")
    if flags and set(flags.group(1)) & {"d", "t"}:
        return {}
    present = set(builtins)
    for fname in files.listdir(dynload) or {}:
        for suffix in suffixes:
            if fname.endswith(suffix) and "." not in fname[:-len(suffix)]:
                present.add(fname[:-len(suffix)])
    return {name: names for name, names in module_names(version[0], version[1]).items() if name in present}


def _scan_binaries(files: ImageFiles, real: str, base_prefix: str, minor: int) -> tuple[set[str], int | None]:
    """Built-in module names (``PyInit_NAME`` symbols) and the patch version (the ``PY_VERSION`` string, e.g.
    ``3.11.2``, that ``sys.version`` starts with) read from the interpreter binary and libpython."""
    names = set(_ALWAYS_BUILTIN)
    patch = None
    candidates = [real]
    for lib in (f"{base_prefix}/lib", "/usr/lib", "/usr/local/lib", f"/usr/lib/{_multiarch(files)}"):
        for name in files.listdir(lib) or {}:
            if name.startswith("libpython3") and ".so" in name:
                candidates.append(posixpath.join(lib, name))
    for path in candidates:
        try:
            data = files.read_bytes(path, limit=64 * 1024 * 1024)
        except (OSError, ValueError):
            continue
        names.update(m.decode() for m in re.findall(rb"PyInit_([A-Za-z0-9_]+)\x00", data))
        # PY_VERSION stands alone; or the linker merged it into the tail of a longer string that ends the same
        # way, such as the build directory `.../Python-3.10.13` (pyenv's builds)
        version = f"3\\.{minor}\\.".encode() + rb"(\d+)(?:(?:a|b|rc)\d+)?\+?\x00"
        found = re.search(rb"\x00" + version, data) or re.search(rb"Python-" + version, data)
        if found and patch is None:
            patch = int(found.group(1))
    return names, patch


def _multiarch(files: ImageFiles) -> str:
    for name in files.listdir("/usr/lib") or {}:
        if re.fullmatch(r"[a-z0-9_]+-linux-(gnu|musl)[a-z]*", name):
            return name
    return "x86_64-linux-gnu"
