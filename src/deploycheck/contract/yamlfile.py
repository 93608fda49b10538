"""YAML documents with line numbers, read with PyYAML's safe loader (libyaml's parser when PyYAML has it).

Checked at the boundary, so that what the readers get is plain data and every failure a one-line message
naming the file and line, never a value:

- a key repeated in one mapping is an error (YAML 1.2 requires unique keys; PyYAML would keep the last one
  silently), and so is a Helm template that was not rendered;
- a scalar whose tag does not fit its text (``!!int secret``, ``!!float x``, ``!!bool maybe``, a
  ``!!timestamp`` of an impossible date) is an error naming the field, as Kubernetes' and Compose's YAML
  readers refuse it;
- a date written without a tag (``value: 2024-02-30``, ``value: 2024-01-02``) is text: go-yaml, which
  Kubernetes and Compose use, keeps a timestamp-looking scalar as a string when it decodes into an untyped
  value (for compatibility), while PyYAML would make a ``date`` of it or fail;
- tags other than YAML's own (``!!python/object``, ``!Ref``) are refused by the safe loader;
- the files of an environment are bounded in nodes and nesting depth (``contract.limits``), counted on
  the parser's events before anything is composed: PyYAML composes and constructs recursively and holds each
  node in a few hundred bytes.
"""

from __future__ import annotations

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from deploycheck.contract.limits import MAX_YAML_DEPTH, MAX_YAML_NODES, Budget
from deploycheck.contract.textfile import read_text
from deploycheck.errors import UsageError

_BASE = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_TAGS = "tag:yaml.org,2002:"
_MERGE = _TAGS + "merge"
_KINDS = {"int": "an integer", "float": "a number", "bool": "a boolean", "null": "null",
          "binary": "base64 data", "timestamp": "a date", "str": "text"}


class Mapping(dict):
    """A YAML mapping that remembers the line (1-based) of itself and of each key."""

    line: int = 0
    lines: dict

    def line_of(self, key: str) -> int:
        return self.lines.get(key, self.line)


class _Duplicate(Exception):
    def __init__(self, key: object, line: int, first: int) -> None:
        self.key, self.line, self.first = key, line, first


class _BadScalar(Exception):
    """A scalar its tag's constructor refused. ``field`` is the key of the innermost mapping holding it."""

    def __init__(self, tag: str, line: int) -> None:
        self.tag, self.line, self.field = tag, line, None


class _Loader(_BASE):  # type: ignore[misc, valid-type]
    merged = 0  # mapping pairs copied by merge keys (``<<``) in this load, bounded like nodes

    def flatten_mapping(self, node: MappingNode) -> None:
        """PyYAML's merge (``<<: *base``), each key merged once, with the pairs it copies bounded: merges of
        merges would otherwise grow the mapping without bound from a few nodes."""
        merge: list = []
        seen: set[int] = set()
        index = 0
        while index < len(node.value):
            key_node, value_node = node.value[index]
            if key_node.tag != _MERGE:
                if key_node.tag == _TAGS + "value":
                    key_node.tag = _TAGS + "str"
                index += 1
                continue
            del node.value[index]
            sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
            for sub in sources:
                if not isinstance(sub, MappingNode):
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping", node.start_mark,
                        f"expected a mapping or list of mappings for merging, but found {sub.id}",
                        sub.start_mark)
                self.flatten_mapping(sub)
                for pair in sub.value:
                    if id(pair[0].value) not in seen:
                        seen.add(id(pair[0].value))
                        merge.append(pair)
            self.merged += len(merge)
            if self.merged > MAX_YAML_NODES:
                raise _TooMany(node.start_mark.line + 1)
        if merge:
            node.value = merge + node.value


class _TooMany(Exception):
    def __init__(self, line: int) -> None:
        self.line = line


def _mapping(loader: _Loader, node: MappingNode) -> Mapping:
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
        try:
            out[key] = loader.construct_object(value_node, deep=True)
        except _BadScalar as exc:
            if exc.field is None and isinstance(key, str):
                exc.field = key
            raise
        out.lines[key] = key_node.start_mark.line + 1
    return out


def _checked(tag: str, construct):
    """The constructor of scalars tagged ``tag``, raising ``_BadScalar`` where PyYAML's raises anything but
    a YAML error (``int("secret")``'s ValueError quotes the value)."""

    def build(loader: _Loader, node: ScalarNode):
        try:
            return construct(loader, node)
        except yaml.YAMLError:
            raise
        except Exception:  # noqa: BLE001  ValueError, KeyError, AttributeError... from the constructor
            raise _BadScalar(tag, node.start_mark.line + 1) from None

    return build


# No implicit timestamps: a date-like plain scalar resolves to a string, as in go-yaml (module docstring).
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _TAGS + "timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
for _tag in ("null", "bool", "int", "float", "binary", "timestamp", "str"):
    _original = yaml.constructor.SafeConstructor.yaml_constructors[_TAGS + _tag]
    _Loader.add_constructor(_TAGS + _tag, _checked(_tag, _original))


def _count(loader: _Loader, path: str, budget: Budget) -> None:
    """Charge every node of the stream to ``budget`` and bound its depth, from the parser's events (nothing
    composed yet). Raises ``UsageError``."""
    depth = 0
    while loader.check_event():
        event = loader.get_event()
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_YAML_DEPTH:
                raise UsageError(f"{path}:{event.start_mark.line + 1}: nested too deeply: YAML collections "
                                 f"may nest {MAX_YAML_DEPTH} levels (deploycheck's limit on untrusted input)")
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1
        if isinstance(event, yaml.NodeEvent):  # scalars, aliases, collection starts
            budget.charge_nodes(f"{path}:{event.start_mark.line + 1}")


def load_all(path: str, budget: Budget | None = None, within: str | None = None, why: str = "",
             what: str = "--manifest") -> list[object]:
    """Every document of a YAML file, charged to ``budget`` (``contract.limits``); with ``within``, the file
    must lie inside that directory (``textfile.read_text``; ``what`` names the file there). Raises
    ``UsageError`` with the file and line for malformed YAML, duplicate keys, scalars their tag refuses,
    unrendered Helm templates, files that are not text, and past the bounds."""
    budget = budget or Budget()
    text = read_text(path, what, "manifest", budget, within, why)
    try:
        loader = _Loader(text)
        try:
            _count(loader, path, budget)
        finally:
            loader.dispose()
        loader = _Loader(text)
        try:
            docs = []
            while loader.check_data():
                doc = loader.get_data()
                if doc is not None:
                    docs.append(doc)
            return docs
        finally:
            loader.dispose()
    except _Duplicate as exc:
        raise UsageError(f"{path}:{exc.line}: duplicate key `{exc.key}` (first at line {exc.first})") from None
    except _BadScalar as exc:
        field = f"`{exc.field}`: " if exc.field is not None else ""
        raise UsageError(f"{path}:{exc.line}: {field}a value tagged !!{exc.tag} that is not "
                         f"{_KINDS.get(exc.tag, exc.tag)} (the value is not shown)") from None
    except _TooMany as exc:
        raise UsageError(f"{path}:{exc.line}: merge keys (<<) copy more than {MAX_YAML_NODES} entries "
                         "(deploycheck's limit on untrusted input)") from None
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
