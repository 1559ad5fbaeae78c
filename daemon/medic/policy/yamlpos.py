"""Stage 1 of policy validation: YAML to plain data, remembering where everything was.

PyYAML's ``safe_load`` forgets positions and silently keeps the last of two equal
keys. Here the file is *composed* (parsed into nodes that carry marks) and the plain
data is built by hand, so every later message can point at a line and column, and a
duplicate key is an error at the second occurrence instead of a silent overwrite.

Positions are keyed by JSON paths: tuples such as ``("policies", 0, "probe", "every")``.
For every path there is the position of its value and, for mapping entries, of its
key. For scalars written on one line, :attr:`Document.text_columns` holds the file
column where the value's text starts, so a column inside a ``when:`` expression can
be mapped to a column in the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from medic.errors import Location, PolicyError

JsonPath = tuple[str | int, ...]

# libyaml is ~10x faster than the pure-Python parser; both produce the same nodes.
_LOADER: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"
# Aliases can make a small file expand enormously ("billion laughs"); stop early.
MAX_NODES = 500_000

_SYNTAX_HINTS = (
    ("mapping values are not allowed", "quote a value that contains ': ', or fix the indentation"),
    ("could not find expected ':'", "check the indentation of this line and the one before"),
    ("found undefined alias", "define the anchor (&name) before using the alias (*name)"),
    ("another document", "keep one YAML document per policy file (no second '---')"),
)
_DEFAULT_SYNTAX_HINT = "check the indentation and quoting on this line"


@dataclass(frozen=True)
class Position:
    """A 1-based line and column in the file."""

    line: int
    column: int


@dataclass
class Document:
    """A parsed policy file: plain data plus where each piece of it was written."""

    data: Any
    keys: dict[JsonPath, Position] = field(default_factory=dict)
    values: dict[JsonPath, Position] = field(default_factory=dict)
    text_columns: dict[JsonPath, int] = field(default_factory=dict)

    def locate(self, path: JsonPath, *, key: bool = False) -> Position:
        """Where ``path`` was written (its key when ``key``), else its nearest ancestor."""
        while True:
            found = (self.keys if key else self.values).get(path)
            if found is None and key:
                found = self.values.get(path)
            if found is not None:
                return found
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
        self.lines = text.splitlines()
        self.file = file
        self.doc = Document(data=None)
        self.errors: list[PolicyError] = []
        self.constructor = SafeConstructor()
        self.count = 0
        self.active: set[int] = set()

    def build(self, node: Node, path: JsonPath) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _Problem(
                f"the file expands to more than {MAX_NODES} values",
                node.start_mark,
                "aliases (*name) nested inside each other multiply; write the values out",
            )
        self.doc.values[path] = _position(node.start_mark)
        if isinstance(node, ScalarNode):
            return self._scalar(node, path)
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

    def _scalar(self, node: ScalarNode, path: JsonPath) -> Any:
        if node.tag == _STR_TAG:
            value: Any = node.value
        else:
            try:
                value = self.constructor.construct_object(node)
            except ConstructorError as exc:
                raise _Problem(
                    f"cannot read this value: {exc.problem}",
                    node.start_mark,
                    "policy files use plain YAML: no custom tags (!name)",
                ) from exc
        start, end = node.start_mark, node.end_mark
        if start.line == end.line and start.line < len(self.lines):
            source = self.lines[start.line][start.column : end.column]
            # The pure-Python parser marks plain scalars with style None, libyaml with "".
            if not node.style and source == node.value:
                self.doc.text_columns[path] = start.column + 1
            elif node.style in ("'", '"') and source == f"{node.style}{node.value}{node.style}":
                self.doc.text_columns[path] = start.column + 2
        return value

    def _fill(
        self, node: MappingNode, path: JsonPath, out: dict[str, Any], *, merged: bool
    ) -> None:
        """Add ``node``'s entries to ``out``; merged (``<<``) entries never override."""
        merges: list[Node] = []
        seen: dict[str, Position] = {}
        for key_node, value_node in node.value:
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
            where = _position(key_node.start_mark)
            if key in seen:
                self.errors.append(
                    PolicyError(
                        f"duplicate key {key!r} (first at line {seen[key].line})",
                        location=Location(self.file, where.line, where.column),
                        hint="a key may appear once in a mapping; remove or rename one",
                    )
                )
                continue
            seen[key] = where
            if merged and key in out:
                continue
            self.doc.keys[(*path, key)] = where
            out[key] = self.build(value_node, (*path, key))
        for merge in merges:
            sources = merge.value if isinstance(merge, SequenceNode) else [merge]
            for source in sources:
                if not isinstance(source, MappingNode):
                    raise _Problem(
                        "'<<' merges a mapping, or a list of mappings, into this one",
                        source.start_mark,
                    )
                self._fill(source, path, out, merged=True)


def parse_yaml(text: str, file: str) -> tuple[Document | None, list[PolicyError]]:
    """Compose ``text`` into a :class:`Document`, or say where the YAML is broken.

    The document is ``None`` only when the file could not be read at all; duplicate
    keys are reported but the document is still built (keeping the first value), so
    later stages can report their problems in the same run.
    """
    try:
        node = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "unreadable"
        return None, [_syntax_error(file, text, problem, mark)]
    except yaml.YAMLError as exc:  # e.g. a reader error without a mark
        return None, [PolicyError(f"not valid YAML: {exc}", location=Location(file))]
    builder = _Builder(text, file)
    if node is None:
        return builder.doc, []
    try:
        builder.doc.data = builder.build(node, ())
    except _Problem as exc:
        where = _position(exc.mark)
        builder.errors.append(
            PolicyError(
                exc.message, location=Location(file, where.line, where.column), hint=exc.hint
            )
        )
        return None, builder.errors
    return builder.doc, builder.errors


def _syntax_error(file: str, text: str, problem: str, mark: Any) -> PolicyError:
    hint = next((h for needle, h in _SYNTAX_HINTS if needle in problem), _DEFAULT_SYNTAX_HINT)
    if "another document" in problem:
        problem = "a policy file holds one YAML document, but a second one starts here"
    if mark is not None and _tab_at(text, mark.line, mark.column):
        problem, hint = "found a tab character", "indent with spaces; YAML does not allow tabs"
    location = Location(file, mark.line + 1, mark.column + 1) if mark else Location(file)
    return PolicyError(f"not valid YAML: {problem}", location=location, hint=hint)


def _tab_at(text: str, line: int, column: int) -> bool:
    """True when the character YAML stumbled on is a tab (libyaml does not say so)."""
    lines = text.splitlines()
    return line < len(lines) and lines[line][column : column + 1] == "\t"
