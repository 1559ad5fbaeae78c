"""Stage 1 of policy validation: YAML to plain data, remembering where everything was.

PyYAML's ``safe_load`` forgets positions and silently keeps the last of two equal
keys. Here the file is *composed* (parsed into nodes that carry marks) and the plain
data is built by hand, so every later message can point at a line and column, and a
duplicate key is an error at the second occurrence instead of a silent overwrite.

Positions are keyed by JSON paths: tuples such as ``("policies", 0, "probe", "every")``.
For every path there is the position of its value and, for mapping entries, of its
key. :meth:`Document.text_position` maps a character inside a string value (a column
inside a ``when:`` expression) to its line and column in the file, whenever the
value's text can be matched to its source exactly (plain, quoted on one line, or a
``|``/``>`` block without extra indentation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from medic.errors import Location, PolicyError
from medic.policy.bounds import MAX_NUMBER
from medic.policy.yamlerrors import bad_character, syntax_error

JsonPath = tuple[str | int, ...]

# libyaml is ~10x faster than the pure-Python parser; both produce the same nodes.
_BASE_LOADER: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# Implicit tags of plain scalars already resolved: (text, implicit) -> tag.
_TAGS: dict[tuple[str, tuple[bool, bool]], str] = {}
_MAX_TAGS = 4096


class _Loader(_BASE_LOADER):  # type: ignore[misc]  # the base is chosen at import
    """The safe loader, remembering the tag each plain scalar text resolved to.

    Resolving runs a handful of regular expressions per scalar, the loader's largest
    cost after parsing; a pack repeats the same keys and values thousands of times.
    The safe loader has no path resolvers, so the tag depends on the text alone.
    """

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is not ScalarNode:
            return super().resolve(kind, value, implicit)
        key = (value, implicit)
        tag = _TAGS.get(key)
        if tag is None:
            tag = super().resolve(kind, value, implicit)
            if len(_TAGS) >= _MAX_TAGS:
                _TAGS.clear()
            _TAGS[key] = tag
        return tag


_LOADER: type[Any] = _Loader
# The safe constructors of the scalar tags a policy uses, called directly.
_SCALARS: dict[str, Any] = {
    f"tag:yaml.org,2002:{name}": SafeConstructor.yaml_constructors[f"tag:yaml.org,2002:{name}"]
    for name in ("int", "float", "bool", "null")
}
_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_INT_TAG = "tag:yaml.org,2002:int"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
# Aliases can make a small file expand enormously ("billion laughs"); stop early.
MAX_NODES = 500_000
# No policy needs deeper nesting; deeper would only exhaust the stack.
MAX_DEPTH = 64
_NUMBER_HINT = f"write a finite number between -{MAX_NUMBER} and {MAX_NUMBER}"


@dataclass(frozen=True)
class Position:
    """A 1-based line and column in the file."""

    line: int
    column: int


@dataclass
class Document:
    """A parsed policy file: plain data plus where each piece of it was written."""

    data: Any
    lines: list[str] = field(default_factory=list)
    # Nodes, not positions: most are never asked for, so marks are read on demand.
    keys: dict[JsonPath, Node] = field(default_factory=dict)
    values: dict[JsonPath, Node] = field(default_factory=dict)

    def policy_name(self, path: JsonPath) -> str | None:
        """The name of the policy that ``path`` lies in, when it has a usable one."""
        if len(path) < 2 or path[0] != "policies" or not isinstance(path[1], int):
            return None
        try:
            name = self.data["policies"][path[1]].get("name")
        except (AttributeError, IndexError, KeyError, TypeError):
            return None
        return name if isinstance(name, str) else None

    def text_position(self, path: JsonPath, offset: int) -> Position | None:
        """Where character ``offset`` (0-based) of the string at ``path`` is in the file."""
        node = self.values.get(path)
        if not isinstance(node, ScalarNode) or not isinstance(node.value, str):
            return None
        for start, line, column in reversed(_segments(node, self.lines)):
            if offset >= start:
                return Position(line + 1, column + offset - start + 1)
        return None

    def locate(self, path: JsonPath, *, key: bool = False) -> Position:
        """Where ``path`` was written (its key when ``key``), else its nearest ancestor."""
        while True:
            found = (self.keys if key else self.values).get(path)
            if found is None and key:
                found = self.values.get(path)
            if found is not None:
                return _position(found.start_mark)
            if not path:
                return Position(1, 1)
            path = path[:-1]


class _Problem(Exception):
    """A fatal structural problem at a YAML mark (stops building the document)."""

    def __init__(self, message: str, mark: Any, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.mark = mark
        self.hint = hint


def _position(mark: Any) -> Position:
    return Position(mark.line + 1, mark.column + 1)


class _Builder:
    """Walks composed nodes into plain data, recording positions and duplicate keys."""

    def __init__(self, text: str, file: str) -> None:
        self.file = file
        self.doc = Document(data=None, lines=text.splitlines())
        self.duplicates: list[tuple[JsonPath, Position, str]] = []
        self.constructor = SafeConstructor()
        self.count = 0
        self.active: set[int] = set()

    def _tick(self, node: Node) -> None:
        self.count += 1
        if self.count > MAX_NODES:
            raise _Problem(
                f"the file expands to more than {MAX_NODES} values",
                node.start_mark,
                "aliases (*name) nested inside each other multiply; write the values out",
            )

    def build(self, node: Node, path: JsonPath) -> Any:
        # Runs once per value of the file: the node count is kept inline, and the common
        # scalar case comes first (a key's plain string, without a constructor call).
        self.count += 1
        if self.count > MAX_NODES:
            self._tick(node)
        if len(path) > MAX_DEPTH:
            raise _Problem(
                f"values are nested more than {MAX_DEPTH} levels deep",
                node.start_mark,
                "a policy file needs only a few levels; check the indentation",
            )
        self.doc.values[path] = node
        if type(node) is ScalarNode:
            if node.tag == _STR_TAG:
                return node.value
            return self._scalar(node)
        if isinstance(node, ScalarNode):
            return self._scalar(node)
        if id(node) in self.active:
            raise _Problem(
                "an alias refers to the mapping or list that contains it", node.start_mark
            )
        self.active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
            out: dict[str, Any] = {}
            if isinstance(node, MappingNode):
                self._fill(node, path, out, merged=False)
            return out
        finally:
            self.active.discard(id(node))

    def _scalar(self, node: ScalarNode) -> Any:
        if node.tag in (_STR_TAG, _TIMESTAMP_TAG):
            return node.value  # no policy key takes a date: keep it as written
        text = str(node.value)
        if node.tag == _INT_TAG and len(text) > 30:
            too_long = f"the number {text[:20]}... is far too large"
            raise _Problem(too_long, node.start_mark, _NUMBER_HINT)
        try:
            construct = _SCALARS.get(node.tag)
            if construct is not None:  # a plain number, boolean or null: no bookkeeping
                value = construct(self.constructor, node)
            else:
                value = self.constructor.construct_object(node)
        except ConstructorError as exc:
            raise _Problem(
                f"cannot read this value: {exc.problem}",
                node.start_mark,
                "policy files use plain YAML: no custom tags (!name)",
            ) from exc
        except (ValueError, OverflowError, TypeError) as exc:
            raise _Problem(f"cannot read the value {text[:40]!r}: {exc}", node.start_mark) from exc
        if isinstance(value, float) and not math.isfinite(value):
            raise _Problem(
                f"{text!r} is not a finite number; numbers must be finite",
                node.start_mark,
                _NUMBER_HINT,
            )
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if number and abs(value) > MAX_NUMBER:
            raise _Problem(f"the number {text[:40]} is too large", node.start_mark, _NUMBER_HINT)
        return value

    def _fill(
        self, node: MappingNode, path: JsonPath, out: dict[str, Any], *, merged: bool
    ) -> None:
        """Add ``node``'s entries to ``out``; merged (``<<``) entries never override."""
        merges: list[Node] = []
        seen: dict[str, Node] = {}
        for key_node, value_node in node.value:
            self._tick(key_node)
            if key_node.tag == _MERGE_TAG:
                merges.append(value_node)
                continue
            if not isinstance(key_node, ScalarNode):
                raise _Problem(
                    "a key must be a plain word, not a list or a mapping",
                    key_node.start_mark,
                    "write keys as `name: value`",
                )
            key = str(key_node.value)
            if key in seen:
                first = seen[key].start_mark.line + 1
                message = f"duplicate key {key!r} (first at line {first})"
                self.duplicates.append(((*path, key), _position(key_node.start_mark), message))
                continue
            seen[key] = key_node
            if merged and key in out:
                continue
            self.doc.keys[(*path, key)] = key_node
            out[key] = self.build(value_node, (*path, key))
        for merge in merges:
            sources = merge.value if isinstance(merge, SequenceNode) else [merge]
            for source in sources:
                if not isinstance(source, MappingNode):
                    raise _Problem(
                        "'<<' merges a mapping, or a list of mappings, into this one",
                        source.start_mark,
                    )
                if id(source) in self.active:
                    raise _Problem(
                        "'<<' merges the mapping that contains it into itself",
                        source.start_mark,
                        "merge a different anchor, or write the keys out",
                    )
                self.active.add(id(source))
                try:
                    self._fill(source, path, out, merged=True)
                finally:
                    self.active.discard(id(source))


def parse_yaml(text: str, file: str) -> tuple[Document | None, list[PolicyError]]:
    """Compose ``text`` into a :class:`Document`, or say where the YAML is broken.

    The document is ``None`` only when the file could not be read at all; duplicate
    keys are reported but the document is still built (keeping the first value), so
    later stages can report their problems in the same run.
    """
    refused = bad_character(text, file)
    if refused is not None:
        return None, [refused]
    try:
        node = yaml.compose(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        return None, [syntax_error(file, text, exc)]
    builder = _Builder(text, file)
    if node is None:
        return builder.doc, []
    try:
        builder.doc.data = builder.build(node, ())
    except _Problem as exc:
        where = _position(exc.mark)
        location = Location(file, where.line, where.column)
        return None, [PolicyError(exc.message, location=location, hint=exc.hint)]
    doc = builder.doc
    errors = [
        PolicyError(
            message,
            location=Location(file, where.line, where.column),
            policy=doc.policy_name(path),
            hint="a key may appear once in a mapping; remove or rename one",
        )
        for path, where, message in builder.duplicates
    ]
    return doc, errors


def _segments(node: ScalarNode, lines: list[str]) -> list[tuple[int, int, int]]:
    """``(offset in value, line, column)`` (0-based) where each source line's text starts.

    Empty when the value's text cannot be matched to its source exactly (escapes,
    blank lines in a folded block, ...); callers then fall back to the value's start.
    """
    start, end, style = node.start_mark, node.end_mark, node.style or None
    try:
        if style in ("|", ">"):
            content = lines[start.line + 1 : end.line + 1]
            while content and not content[-1].strip():
                content.pop()
            indent = min((len(t) - len(t.lstrip(" ")) for t in content if t.strip()), default=0)
            pieces = [(start.line + 1 + i, indent, t[indent:]) for i, t in enumerate(content)]
            joiner, expected = ("\n" if style == "|" else " "), node.value.rstrip("\n")
        elif style in ("'", '"') and start.line == end.line:
            source = lines[start.line][start.column + 1 : end.column - 1]
            pieces, joiner, expected = [(start.line, start.column + 1, source)], "", node.value
        elif style is None:
            pieces = _plain_pieces(start, end, lines)
            joiner, expected = " ", node.value
        else:
            return []
    except IndexError:
        return []
    if joiner.join(text for _, _, text in pieces) != expected:
        return []
    out, offset = [], 0
    for line, column, text in pieces:
        out.append((offset, line, column))
        offset += len(text) + len(joiner)
    return out


def _plain_pieces(start: Any, end: Any, lines: list[str]) -> list[tuple[int, int, str]]:
    """A plain scalar's source lines: YAML folds them with single spaces."""
    if start.line == end.line:
        return [(start.line, start.column, lines[start.line][start.column : end.column])]
    pieces = [(start.line, start.column, lines[start.line][start.column :].rstrip())]
    for number in range(start.line + 1, end.line + 1):
        raw = lines[number][: end.column] if number == end.line else lines[number]
        text = raw.lstrip()
        pieces.append((number, len(raw) - len(text), text.rstrip()))
    return pieces
