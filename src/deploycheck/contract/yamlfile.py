"""YAML documents with line numbers, read with PyYAML's safe loader. A key repeated in one mapping is an
error (YAML 1.2 requires unique keys; PyYAML would keep the last one silently), and so is a Helm template
that was not rendered."""

from __future__ import annotations

import yaml

from deploycheck.contract.textfile import read_text
from deploycheck.errors import UsageError


class Mapping(dict):
    """A YAML mapping that remembers the line (1-based) of itself and of each key."""

    line: int = 0
    lines: dict

    def line_of(self, key: str) -> int:
        return self.lines.get(key, self.line)


class _Duplicate(Exception):
    def __init__(self, key: object, line: int, first: int) -> None:
        self.key, self.line, self.first = key, line, first


class _Loader(yaml.SafeLoader):
    pass


def _mapping(loader: _Loader, node: yaml.MappingNode) -> Mapping:
    loader.flatten_mapping(node)
    out = Mapping()
    out.line = node.start_mark.line + 1
    out.lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(None, None, "a mapping key that is not a scalar",
                                                    key_node.start_mark) from None
        if key in out:
            raise _Duplicate(key, key_node.start_mark.line + 1, out.lines[key])
        out[key] = loader.construct_object(value_node, deep=True)
        out.lines[key] = key_node.start_mark.line + 1
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def load_all(path: str) -> list[object]:
    """Every document of a YAML file. Raises ``UsageError`` with the file and line for malformed YAML,
    duplicate keys, unrendered Helm templates and files that are not text."""
    text = read_text(path, "--manifest")
    try:
        return [d for d in yaml.load_all(text, Loader=_Loader) if d is not None]
    except _Duplicate as exc:
        raise UsageError(f"{path}:{exc.line}: duplicate key `{exc.key}` (first at line {exc.first})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else path
        if "{{" in text:
            where = f"{path}:{text[:text.index('{{')].count(chr(10)) + 1}"
            raise UsageError(f"{where}: a Helm template, not YAML: render it first (helm template ...) and "
                             "give the output") from None
        problem = getattr(exc, "problem", None) or "malformed"
        raise UsageError(f"{where}: invalid YAML: {problem}") from None
    except RecursionError:
        raise UsageError(f"{path}: invalid YAML: nested too deeply") from None
