"""Safe YAML loading that remembers where every key and value stands in the file.

PyYAML's SafeLoader silently keeps the last of duplicate keys and forgets positions once
objects are built; sweeper needs both to point a user at ``FILE:LINE:COL``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sweeper.errors import Problem, SpecError

__all__ = ["MAX_DEPTH", "MAX_VALUES", "LocatedDocument", "PathKey", "Position", "dump",
           "load_file", "load_text"]

PathKey = tuple[str | int, ...]

# A search-space file is a few sections a few levels deep: deeper nesting, or more values
# than this once aliases are expanded (an "alias bomb"), is refused before it costs memory.
MAX_DEPTH = 32
MAX_VALUES = 100_000
# Plain keys YAML 1.1 would turn into booleans or numbers (on, no, yes, off, 1e3) stay text.
_TEXT_KEY_TAGS = ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float")


@dataclass(frozen=True)
class Position:
    """1-based line and column of a node."""

    line: int
    column: int


@dataclass
class LocatedDocument:
    """Plain Python data plus the position of every key (``keys``) and value (``values``)."""

    file: str
    data: Any
    values: dict[PathKey, Position] = field(default_factory=dict)
    keys: dict[PathKey, Position] = field(default_factory=dict)

    def locate(self, path: PathKey, *, key: bool = False) -> Position:
        """Position of ``path``, or of its nearest located ancestor."""
        table = self.keys if key else self.values
        for end in range(len(path), -1, -1):
            prefix = path[:end]
            if prefix in table:
                return table[prefix]
            if prefix in self.values:
                return self.values[prefix]
        return Position(1, 1)

    def problem(self, path: PathKey, message: str, *, key: bool = False) -> Problem:
        pos = self.locate(path, key=key)
        return Problem(self.file, pos.line, pos.column, message)


def _position(mark: yaml.Mark | None) -> Position:
    if mark is None:
        return Position(1, 1)
    return Position(mark.line + 1, mark.column + 1)


class _TooDeep(Exception):
    def __init__(self, mark: yaml.Mark | None) -> None:
        super().__init__("too deep")
        self.mark = mark


class _Loader(yaml.SafeLoader):
    """SafeLoader whose composer refuses nesting deeper than MAX_DEPTH (PyYAML recurses)."""

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _TooDeep(self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class _Builder:
    """Turns a composed node tree into Python data, recording positions on the way."""

    def __init__(self, doc: LocatedDocument) -> None:
        self.doc = doc
        self.problems: list[Problem] = []
        self._scalar = yaml.SafeLoader("")  # only its scalar constructors are used
        self._open: set[int] = set()  # the nodes being built: an alias to one is a cycle
        self._count = 0

    def _problem(self, node: yaml.Node, message: str) -> None:
        pos = _position(node.start_mark)
        self.problems.append(Problem(self.doc.file, pos.line, pos.column, message))

    def build(self, node: yaml.Node, path: PathKey) -> Any:
        self._count += 1
        if self._count > MAX_VALUES:
            pos = _position(node.start_mark)
            raise SpecError([Problem(
                self.doc.file, pos.line, pos.column,
                f"the file expands to more than {MAX_VALUES:,} values (each alias '*name' "
                "repeats what its anchor holds); write the values out once, without "
                "aliases of aliases")])
        if id(node) in self._open:
            self._problem(node, "an alias refers to the value that contains it, which would "
                                "never end; write the value out instead of the alias")
            return None
        if len(path) > MAX_DEPTH:  # aliases of aliases nest deeper than any one anchor
            pos = _position(node.start_mark)
            raise SpecError([Problem(
                self.doc.file, pos.line, pos.column,
                f"the value here is nested more than {MAX_DEPTH} levels deep once its "
                "aliases are expanded; a search-space file needs only a few levels")])
        self.doc.values[path] = _position(node.start_mark)
        if node.tag.startswith(("tag:yaml.org,2002:python/", "!")) or (
            node.tag.startswith("tag:") and not node.tag.startswith("tag:yaml.org,2002:")
        ):
            pos = _position(node.start_mark)
            self.problems.append(
                Problem(
                    self.doc.file,
                    pos.line,
                    pos.column,
                    f"the tag {node.tag!r} is not allowed: search-space files are plain data "
                    "and never construct objects or run code; remove the tag",
                )
            )
            return None
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            self._open.add(id(node))
            try:
                if isinstance(node, yaml.MappingNode):
                    return self._mapping(node, path)
                return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
            finally:
                self._open.discard(id(node))
        try:
            return self._scalar.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            pos = _position(node.start_mark)
            self.problems.append(Problem(self.doc.file, pos.line, pos.column, str(exc)))
            return None

    def _mapping(self, node: yaml.MappingNode, path: PathKey) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_seen: dict[str, Position] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                pos = _position(key_node.start_mark)
                self.problems.append(
                    Problem(self.doc.file, pos.line, pos.column,
                            "merge keys ('<<') are not supported; write the keys out")
                )
                continue
            if (isinstance(key_node, yaml.ScalarNode) and key_node.style is None
                    and key_node.tag in _TEXT_KEY_TAGS):
                key = key_node.value  # `on:` is the name "on", not True
            else:
                key = self.build(key_node, (*path, "<key>"))
            if not isinstance(key, str | int | float | bool) or key is None:
                pos = _position(key_node.start_mark)
                self.problems.append(
                    Problem(self.doc.file, pos.line, pos.column,
                            f"a key must be a plain name, got {key!r}")
                )
                continue
            key = str(key)
            pos = _position(key_node.start_mark)
            if key in first_seen:
                first = first_seen[key]
                self.problems.append(
                    Problem(
                        self.doc.file,
                        pos.line,
                        pos.column,
                        f"duplicate key '{key}' (first defined at line {first.line}); "
                        "keep one of them",
                    )
                )
                continue
            first_seen[key] = pos
            self.doc.keys[(*path, key)] = pos
            result[key] = self.build(value_node, (*path, key))
        self.doc.values.pop((*path, "<key>"), None)
        return result


def _tab_problem(file: str, text: str) -> Problem | None:
    for number, line in enumerate(text.splitlines(), start=1):
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        if "\t" in indent:
            return Problem(
                file,
                number,
                indent.index("\t") + 1,
                "a tab in the indentation; YAML indents with spaces only: replace the tab "
                "with spaces",
            )
    return None


def load_text(text: str, file: str) -> LocatedDocument:
    """Parse one YAML document; raise SpecError with every problem located."""
    tab = _tab_problem(file, text)
    if tab is not None:
        raise SpecError([tab])
    doc = LocatedDocument(file=file, data=None)
    try:
        node = yaml.compose(text, Loader=_Loader)
    except _TooDeep as exc:
        pos = _position(exc.mark)
        raise SpecError([Problem(file, pos.line, pos.column,
                                 f"nested more than {MAX_DEPTH} levels deep; a search-space "
                                 "file is a few sections of plain values")]) from None
    except yaml.MarkedYAMLError as exc:
        pos = _position(exc.problem_mark)
        what = " ".join(part for part in (exc.context, exc.problem) if part)
        raise SpecError(
            [Problem(file, pos.line, pos.column, f"YAML syntax error: {what}")]
        ) from None
    except yaml.YAMLError as exc:
        raise SpecError([Problem(file, 1, 1, f"YAML syntax error: {exc}")]) from None
    if node is None:
        raise SpecError([Problem(file, 1, 1, "the file is empty; expected a mapping of "
                                             "sections such as 'data', 'space', 'budget'")])
    builder = _Builder(doc)
    doc.data = builder.build(node, ())
    if builder.problems:
        raise SpecError(builder.problems)
    return doc


def load_file(path: str | Path) -> LocatedDocument:
    """Read and parse a file, reporting a missing or unreadable file as bad input."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError([Problem(str(path), 1, 1, "no such file")]) from None
    except IsADirectoryError:
        raise SpecError(
            [Problem(str(path), 1, 1, "is a folder; expected a search-space YAML file")]
        ) from None
    except UnicodeDecodeError as exc:
        raise SpecError([Problem(str(path), 1, 1, f"not UTF-8 text ({exc.reason})")]) from None
    except OSError as exc:
        raise SpecError([Problem(str(path), 1, 1, f"cannot read the file: {exc.strerror}")]) \
            from None
    return load_text(text, str(path))


def dump(data: Any) -> str:
    """YAML text with keys in the order given (for exported and recorded specs)."""
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)
