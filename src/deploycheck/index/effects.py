"""Recognizers for what a module does to the import system at run time that can be followed statically:
directories it adds to ``sys.path`` relative to its own file, distributions it installs while running,
protocol methods only one package calls, and attribute writes into the module of an object it is handed.

A path is recorded as a small expression tree, not a string: a summary is cached by the file's content, so
``__file__`` is bound only when the program knows where the file is (``evaluate``). Trees are tuples:
``("file",)``, ``("str", text)``, ``("dirname", tree)``, ``("join", tree, tree, ...)``.
"""

from __future__ import annotations

import ast
import posixpath

from deploycheck.index.idioms import dotted_name

FILE = ("file",)

# os.path functions that give the same directory for our purpose (symbolic links aside)
_SAME = {"abspath", "realpath", "normpath", "expanduser", "fspath", "str", "Path", "PurePath", "PosixPath",
         "resolve", "absolute", "as_posix", "expandvars"}
_SYS_PATH_ADDERS = {"insert", "append", "extend"}


def path_tree(node: ast.expr, names) -> tuple | None:
    """The directory expression ``node`` computes from ``__file__`` and string constants, or None when it
    is anything else. ``names.get(name)`` gives the expression a variable is bound to (``HERE =
    os.path.dirname(__file__)``). Understood: ``os.path.dirname/abspath/realpath/normpath/join``,
    ``pathlib.Path(...)``, ``.parent``, ``.parents[N]``, ``.resolve()``, ``/``, ``.joinpath()``, ``str()``,
    ``os.fspath()`` (the os.path and pathlib documentation)."""
    if isinstance(node, ast.Name):
        return FILE if node.id == "__file__" else names.get(node.id)
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return ("str", node.value)
    if isinstance(node, ast.NamedExpr):
        return path_tree(node.value, names)
    if isinstance(node, ast.Attribute):
        if node.attr == "parent":
            inner = path_tree(node.value, names)
            return ("dirname", inner) if inner else None
        return None
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) \
            and node.value.attr == "parents":
        inner = path_tree(node.value.value, names)
        if inner is None or not (isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, int)):
            return None
        for _ in range(node.slice.value + 1):
            inner = ("dirname", inner)
        return inner
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        left, right = path_tree(node.left, names), path_tree(node.right, names)
        return ("join", left, right) if left and right else None
    if not isinstance(node, ast.Call) or node.keywords:
        return None
    func = node.func
    last = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
    if last not in _SAME and last not in ("dirname", "join", "joinpath"):
        return None
    if isinstance(func, ast.Attribute) and last in ("resolve", "absolute", "as_posix") and not node.args:
        return path_tree(func.value, names)  # Path(...).resolve()
    if isinstance(func, ast.Attribute) and last == "joinpath":
        parts = [path_tree(func.value, names)] + [path_tree(a, names) for a in node.args]
        return ("join", *parts) if all(parts) else None
    args = [path_tree(a, names) for a in node.args]
    if not args or not all(args):
        return None
    if last == "dirname" and len(args) == 1:
        return ("dirname", args[0])
    if last == "join":
        return ("join", *args)
    if last in _SAME and len(args) == 1:
        return args[0]
    return None


def evaluate(tree: tuple, file: str) -> str | None:
    """The directory ``tree`` names for the module whose file is ``file`` (an absolute POSIX path);
    None for a relative result (it would depend on the working directory)."""
    out = _value(tree, file, 0)
    if out is None or not out.startswith("/"):
        return None
    return posixpath.normpath(out)


def anchored(tree: tuple) -> bool:
    """Whether the directory does not depend on the working directory: built from ``__file__``, or an
    absolute constant."""
    return evaluate(tree, "/_/_.py") is not None


def _value(tree, file: str, depth: int) -> str | None:
    if depth > 50 or not isinstance(tree, (tuple, list)) or not tree:
        return None
    kind = tree[0]
    if kind == "file":
        return file
    if kind == "str":
        return tree[1] if isinstance(tree[1], str) else None
    if kind == "dirname":
        inner = _value(tree[1], file, depth + 1)
        return None if inner is None else posixpath.dirname(inner)
    if kind == "join":
        parts = [_value(t, file, depth + 1) for t in tree[1:]]
        return None if any(p is None for p in parts) else posixpath.join(*parts)  # type: ignore[arg-type]
    return None


def sys_path_additions(node: ast.Call, dotted: str, names: dict[str, tuple]) -> list[tuple] | None:
    """The directories a call adds to ``sys.path`` (``sys.path.insert(0, P)``, ``.append(P)``,
    ``.extend([P, ...])``, ``.extend((P not in sys.path) * [P])`` as setuptools writes it,
    ``site.addsitedir(P)``), each a path tree; None when the call changes ``sys.path`` in a way not
    understood (or is not such a call). Walrus targets in the arguments are bound in ``names``."""
    head, _, method = dotted.rpartition(".")
    if not ((head == "sys.path" and method in _SYS_PATH_ADDERS) or dotted == "site.addsitedir"):
        return None
    for a in node.args:
        for sub in ast.walk(a):
            if isinstance(sub, ast.NamedExpr) and isinstance(sub.target, ast.Name):
                tree = path_tree(sub.value, names)
                if tree is not None:
                    names[sub.target.id] = tree
    if node.keywords:
        return None
    if method == "insert":
        return _trees([node.args[1]], names) if len(node.args) == 2 else None
    if len(node.args) != 1:
        return None
    if method == "extend":
        return _trees(_elements(node.args[0]), names)
    return _trees([node.args[0]], names)


def _elements(node: ast.expr) -> list[ast.expr]:
    if isinstance(node, (ast.List, ast.Tuple)):
        return list(node.elts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
        # `(path not in sys.path) * [path]`: the list or nothing, and either way the path is then there
        for side in (node.left, node.right):
            if isinstance(side, (ast.List, ast.Tuple)):
                return list(side.elts)
    return [node]


def _trees(nodes: list[ast.expr], names: dict[str, tuple]) -> list[tuple] | None:
    trees = [path_tree(n, names) for n in nodes]
    return trees if trees and all(trees) else None  # type: ignore[return-value]


def names_sys_path(target: ast.expr) -> bool:
    """``sys.path`` or ``sys.path[...]`` as an assignment target."""
    return dotted_name(target.value if isinstance(target, ast.Subscript) else target) == "sys.path"


def sys_path_assignment(target: ast.expr, value: ast.expr, names: dict[str, tuple]) -> list[tuple] | None:
    """``sys.path[0:0] = [P]`` and ``sys.path = [P] + sys.path`` (or ``sys.path + [P]``): the added
    directories, or None when the assignment is anything else."""
    if isinstance(target, ast.Subscript) and dotted_name(target.value) == "sys.path" \
            and isinstance(target.slice, ast.Slice):
        return _trees(_elements(value), names)
    if dotted_name(target) == "sys.path" and isinstance(value, ast.BinOp) and isinstance(value.op, ast.Add):
        sides = [value.left, value.right]
        kept = [s for s in sides if dotted_name(s) == "sys.path"]
        if len(kept) == 1:
            other = sides[1 - sides.index(kept[0])]
            if isinstance(other, (ast.List, ast.Tuple)):
                return _trees(list(other.elts), names)
    return None


def may_install(args: list[ast.expr], last: str) -> bool:
    """Whether ``installs`` could say yes for a call with these arguments whose dotted name ends in ``last``:
    a quick test first (most calls have constant arguments, and none of them install anything)."""
    return "install" in last.lower() or any(
        type(a) is ast.List or type(a) is ast.Tuple or (type(a) is ast.Constant and type(a.value) is str
                                                        and "install" in a.value) for a in args)


def installs(node: ast.Call, dotted: str | None) -> bool:
    """A call that installs distributions while the program runs: ``install_packages([...])``-style
    helpers (a function named for installing packages or requirements), ``pip.main(["install", ...])``,
    or a command line with ``pip``/``uv`` and ``install`` (``subprocess.check_call([sys.executable, "-m",
    "pip", "install", "x"])``)."""
    last = (dotted or "").rpartition(".")[2].lower()
    if "install" in last and any(w in last for w in ("package", "requirement", "pip", "dependenc")):
        return True
    words: set[str] = set()
    for a in node.args:
        if isinstance(a, (ast.List, ast.Tuple)):
            words.update(e.value for e in a.elts if isinstance(e, ast.Constant) and isinstance(e.value, str))
        elif isinstance(a, ast.Constant) and isinstance(a.value, str) and "install" in a.value:
            words.update(a.value.split())
    if "install" not in words:
        return False
    return dotted == "pip.main" or any(w in ("pip", "pip3", "uv") or w.endswith("/pip") for w in words)


def protocol_package(function_name: str) -> str | None:
    """``dask`` for ``__dask_tokenize__``: a protocol method named after the package that calls it (dask,
    rich, ...): only that package calls it, so it is importable whenever the method runs."""
    if not (function_name.startswith("__") and function_name.endswith("__")):
        return None
    head = function_name[2:-2].partition("_")[0]
    return head if head.isidentifier() and head and "_" in function_name[2:-2] else None


def writes_given_module(node: ast.expr) -> bool:
    """``sys.modules[obj.__module__]`` (or any key that is neither a string nor ``__name__``): code that
    writes here adds names to the module of an object it is handed (django-hierarkey's decorators)."""
    if not (isinstance(node, ast.Subscript) and dotted_name(node.value) == "sys.modules"):
        return False
    key = node.slice
    if isinstance(key, ast.Constant) or (isinstance(key, ast.Name) and key.id == "__name__"):
        return False
    return True
