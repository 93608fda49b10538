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


def _builtin_attrs():
    out = {}
    for name in sys.builtin_module_names:
        try:
            out[name] = sorted(dir(__import__(name)))
        except Exception:
            pass
    return out


def _frozen():
    try:
        import _imp

        return sorted(_imp._frozen_module_names())
    except Exception:
        return []


def _user_site():
    try:
        return site.getusersitepackages()
    except Exception:
        return None


info = {
    "executable": sys.executable,
    "version": list(sys.version_info[:3]),
    "releaselevel": sys.version_info.releaselevel,
    "implementation": sys.implementation.name,
    "cache_tag": sys.implementation.cache_tag,
    "platform": sys.platform,
    "os_name": os.name,
    "machine": platform.machine(),
    "prefix": sys.prefix,
    "base_prefix": getattr(sys, "base_prefix", sys.prefix),
    "path": [p for p in sys.path if p],
    "site_packages": site.getsitepackages() if hasattr(site, "getsitepackages") else [],
    "user_site": _user_site(),
    "stdlib": sysconfig.get_paths().get("stdlib"),
    "builtin_modules": sorted(sys.builtin_module_names),
    "frozen_modules": _frozen(),
    "builtin_attrs": _builtin_attrs(),
    "builtins": sorted(dir(__builtins__)),
    "extension_suffixes": list(importlib.machinery.EXTENSION_SUFFIXES),
    "soabi": sysconfig.get_config_var("SOABI"),
}
sys.stdout.write(json.dumps(info))
