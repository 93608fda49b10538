# Run by the *target* interpreter as `python -I -S probe_script.py`: isolated (no PYTHON* variables, no user
# site) and without the site module's start-up work, so no .pth line and no third-party code runs. It imports
# only standard modules and prints one JSON object. Kept compatible with Python 3.6+ syntax on purpose.
import importlib.machinery
import json
import os
import platform
import site
import sys
import sysconfig
import warnings

warnings.simplefilter("ignore")  # deprecated standard modules warn on import; the probe only reads them


def _builtin_attrs():
    out = {}
    for name in sys.builtin_module_names:
        try:
            out[name] = sorted(dir(__import__(name)))
        except Exception:
            pass
    return out


# Standard-library extension modules are imported for dir() like the built-ins: their init code is the
# interpreter's own. These few touch the terminal or the display, or exist only for CPython's tests.
_SKIP_DYNLOAD = ("_tkinter", "readline", "_curses", "_curses_panel", "_test", "xx", "_ctypes_test", "_xx")


def _dynload_attrs():
    out = {}
    for entry in sys.path:
        if not entry.endswith("lib-dynload") or not os.path.isdir(entry):
            continue
        for fname in sorted(os.listdir(entry)):
            name = fname.split(".", 1)[0]
            if not fname.endswith(".so") or name.startswith(_SKIP_DYNLOAD) or name in out:
                continue
            try:
                out[name] = sorted(dir(__import__(name)))
            except Exception:
                pass
    return out


def _frozen():
    import _imp

    try:
        return sorted(_imp._frozen_module_names())  # Python 3.11+
    except Exception:
        pass
    candidates = set(sys.modules) | {"_frozen_importlib", "_frozen_importlib_external", "zipimport", "__hello__",
                                     "__phello__", "__phello__.spam"}
    return sorted(n for n in candidates if _safe_is_frozen(_imp, n))


def _safe_is_frozen(imp, name):
    try:
        return bool(imp.is_frozen(name))
    except Exception:
        return False


def _venv():
    # What site.venv() would find (the site module docs): pyvenv.cfg beside the executable or one level up.
    # Read here instead of calling site.venv(), which would also process .pth files and run their code.
    exe = os.environ.get("__PYVENV_LAUNCHER__") or sys.executable
    exe_dir = os.path.dirname(os.path.abspath(exe))
    prefix = os.path.dirname(exe_dir)
    for conf in (os.path.join(exe_dir, "pyvenv.cfg"), os.path.join(prefix, "pyvenv.cfg")):
        if os.path.isfile(conf):
            cfg = {}
            with open(conf, encoding="utf-8", errors="replace") as f:
                for line in f:
                    key, sep, value = line.partition("=")
                    if sep:
                        cfg[key.strip().lower()] = value.strip()
            return prefix, cfg.get("include-system-site-packages", "false").lower() == "true"
    return None, False


def _site_packages(venv_prefix, system_site):
    if not hasattr(site, "getsitepackages"):
        return []
    if venv_prefix is None:
        return site.getsitepackages()
    found = site.getsitepackages([venv_prefix])
    if system_site:
        found += site.getsitepackages()
    return found


def _user_site():
    try:
        return site.getusersitepackages()
    except Exception:
        return None


venv_prefix, system_site = _venv()
if sys.prefix != sys.base_prefix:  # site already ran its venv logic at start-up (newer interpreters)
    venv_prefix = sys.prefix
info = {
    "executable": sys.executable,
    "version": list(sys.version_info[:3]),
    "releaselevel": sys.version_info.releaselevel,
    "implementation": sys.implementation.name,
    "cache_tag": sys.implementation.cache_tag,
    "platform": sys.platform,
    "os_name": os.name,
    "machine": platform.machine(),
    "prefix": venv_prefix or sys.prefix,
    "base_prefix": getattr(sys, "base_prefix", sys.prefix),
    "path": [p for p in sys.path if p],
    "site_packages": _site_packages(venv_prefix, system_site),
    "system_site_packages": system_site,
    "user_site": _user_site(),
    "stdlib": sysconfig.get_paths().get("stdlib"),
    "builtin_modules": sorted(sys.builtin_module_names),
    "frozen_modules": _frozen(),
    "builtin_attrs": _builtin_attrs(),
    "dynload_attrs": _dynload_attrs(),
    "builtins": sorted(dir(__builtins__)),
    "extension_suffixes": list(importlib.machinery.EXTENSION_SUFFIXES),
    "soabi": sysconfig.get_config_var("SOABI"),
}
sys.stdout.write(json.dumps(info))
