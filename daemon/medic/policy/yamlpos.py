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

    def build(self, node: Node, path: JsonPath) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _Problem(
                f"the file expands to more than {MAX_NODES} values",
                node.start_mark,
                "aliases (*name) nested inside each other multiply; write the values out",
            )
        self.doc.values[path] = node
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
        return value

    def _fill(
        self, node: MappingNode, path: JsonPath, out: dict[str, Any], *, merged: bool
    ) -> None:
        """Add ``node``'s entries to ``out``; merged (``<<``) entries never override."""
        merges: list[Node] = []
        seen: dict[str, Node] = {}
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
