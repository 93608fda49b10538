"""Import hooks that load a module before the one imported: setuptools' ``distutils`` shim.

setuptools installs ``distutils-precedence.pth``, which (unless ``SETUPTOOLS_USE_DISTUTILS=stdlib``) puts
``_distutils_hack``'s finder first on ``sys.meta_path``: ``import distutils`` is then served by
``importlib.import_module("setuptools._distutils")``, so setuptools' ``__init__`` runs first (and on
setuptools 71 and later puts its ``_vendor`` directory on ``sys.path``, where ``distutils`` finds
``jaraco``, ``more_itertools`` and ``packaging``). The search path already serves ``distutils`` from
``setuptools/_distutils`` (``environment.searchpath``, ``overrides``); this loader adds the import of
``setuptools`` that the shim makes.
"""

from __future__ import annotations

from deploycheck.frameworks.base import IMPORT, Edge

STEP = "setuptools' distutils shim imports setuptools"


def load(program):
    """An edge ``distutils → setuptools`` when the closure's ``distutils`` is setuptools' copy."""
    from deploycheck.frameworks import Loaded

    served = program.search_path.overrides.get("distutils")
    node = program.nodes.get("distutils")
    if not served or node is None or not (node.module.path or "").startswith(served.rstrip("/") + "/"):
        return Loaded()
    return Loaded(edges=[Edge("distutils", "setuptools", 0, STEP, IMPORT)])
