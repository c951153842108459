"""Read swarmhub.yaml and remember where everything was written.

PyYAML's SafeLoader, with three changes an operator needs: a key written twice
is an error (YAML would silently keep the last `servers:` block); every key
and value keeps its line and column, so an error points at it; every scalar
keeps its text as written, so an error shows `14:00` rather than the 840
YAML 1.1 made of it, and can say why.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

Loc = tuple  # of str keys and int indices, as pydantic writes an error's location


@dataclass(frozen=True)
class Mark:
    line: int  # 1-based
    column: int  # 1-based


@dataclass(frozen=True)
class Scalar:
    text: str  # as written, without quotes
    plain: bool  # written without quotes (so YAML 1.1 resolved its type)
    value: object  # what YAML made of it


@dataclass
class Source:
    """Where each part of a config file is, by its path in the data."""

    name: str
    keys: dict[Loc, Mark] = field(default_factory=dict)  # a mapping key's position
    values: dict[Loc, Mark] = field(default_factory=dict)  # a value's position
    scalars: dict[Loc, Scalar] = field(default_factory=dict)

    def mark(self, loc: Loc, *, key: bool = False) -> Mark | None:
        """The position of `loc`, or of the nearest part of it the file writes."""
        loc = tuple(loc)
        while True:
            found = (self.keys if key else self.values).get(loc) or self.values.get(loc)
            if found or not loc:
                return found
            loc = loc[:-1]
            key = False

    def written(self, loc: Loc) -> bool:
        return tuple(loc) in self.values

    def where(self, loc: Loc = (), *, key: bool = False) -> str:
        m = self.mark(loc, key=key)
        return f"{self.name}:{m.line}:{m.column}" if m else self.name


class ReadError(Exception):
    """The file cannot be read or parsed: `where` and one line saying why and what to do."""

    def __init__(self, where: str, message: str):
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


def _mark(node: yaml.Node) -> Mark:
    return Mark(node.start_mark.line + 1, node.start_mark.column + 1)


_MERGE = "tag:yaml.org,2002:merge"


# A config is a few hundred values; a roster of a thousand students a few thousand.
# Aliases repeat what an anchor holds: nine levels of ten make a billion (an
# "alias bomb"), so the values, aliases expanded, are counted and bounded.
MAX_VALUES = 100_000


class _Loader(yaml.SafeLoader):
    """Remembers each anchor's name, so an error can say which alias it is about."""

    def __init__(self, stream) -> None:
        super().__init__(stream)
        self.anchor_names: dict[int, str] = {}

    def compose_node(self, parent, index):
        anchor = getattr(self.peek_event(), "anchor", None)
        node = super().compose_node(parent, index)
        if anchor:
            self.anchor_names[id(node)] = anchor
        return node


class _Walk:
    """The bounds of one walk: how many values so far, and the collections being walked
    (an alias to one of them is an anchor that contains itself)."""

    def __init__(self) -> None:
        self.count = 0
        self.inside: set[int] = set()


def _record(
    loader: _Loader, node: yaml.Node, loc: Loc, src: Source, walk: _Walk | None = None
) -> None:
    walk = walk or _Walk()
    walk.count += 1
    if walk.count > MAX_VALUES:
        raise ReadError(
            src.where(loc[:1], key=True),
            f"invalid YAML: aliases make this file more than {MAX_VALUES} values; "
            "write the values out instead of repeating anchors",
        )
    if id(node) in walk.inside:
        anchor = loader.anchor_names.get(id(node), "?")
        raise ReadError(
            src.where(loc, key=True),
            f"invalid YAML: the alias *{anchor} refers to the anchor it is inside; "
            "write the value out",
        )
    src.values[loc] = _mark(node)
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_object(node)
        src.scalars[loc] = Scalar(node.value, node.style is None, value)
        return
    walk.inside.add(id(node))
    try:
        _record_children(loader, node, loc, src, walk)
    finally:
        walk.inside.discard(id(node))


def _record_children(loader: _Loader, node: yaml.Node, loc: Loc, src: Source, walk) -> None:
    if isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _record(loader, item, loc + (i,), src, walk)
    elif isinstance(node, yaml.MappingNode):
        seen: dict[object, Mark] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                # What a merge brings in is walked too: it may hold the same bombs.
                _record(loader, value_node, loc + ("<<",), src, walk)
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                raise ReadError(
                    f"{src.name}:{_mark(key_node).line}:{_mark(key_node).column}",
                    "a key must be a plain name, not a list or mapping",
                )
            key = loader.construct_object(key_node)
            where = f"{src.name}:{_mark(key_node).line}:{_mark(key_node).column}"
            dotted = ".".join(str(p) for p in loc + (key_node.value,))
            if not isinstance(key, str):
                raise ReadError(
                    where,
                    f"{dotted}: the key `{key_node.value}` was read as {_yaml11(key)}; "
                    f"quote it: '{key_node.value}'",
                )
            if key in seen:
                first = seen[key]
                raise ReadError(
                    where,
                    f"{dotted}: written twice (first at line {first.line}); YAML would keep "
                    "only this one: merge the two into one",
                )
            seen[key] = _mark(key_node)
            src.keys[loc + (key,)] = _mark(key_node)
            _record(loader, value_node, loc + (key,), src, walk)


def _yaml11(value: object) -> str:
    if isinstance(value, bool):
        return f"`{str(value).lower()}` (YAML 1.1 reads yes/no/on/off as true/false)"
    if isinstance(value, int | float):
        return f"the number {value}"
    if value is None:
        return "nothing (null)"
    return f"a {type(value).__name__}"


# What to do about PyYAML's problems, by the words it uses.
_YAML_HINTS = (
    ("found unexpected end of stream", "close the quote"),
    ("found character '\\t'", "indent with spaces, not tabs"),
    ("mapping values are not allowed here", "check the indentation, or quote a value with ': '"),
    ("could not find expected ':'", "a key needs ': ' after it; check the line above too"),
    ("found another document", "keep one document in the file: remove the '---'"),
    ("did not find expected key", "check the indentation of this block"),
    ("found undefined alias", "define the &anchor before using the *alias"),
    ("could not determine a constructor", "remove the !tag: only plain YAML is read"),
)


_OPENED = {
    "while scanning a quoted scalar": "the quoted value that starts here",
    "while parsing a flow sequence": "the [ list that starts here",
    "while parsing a flow mapping": "the { mapping that starts here",
}


def _yaml_error(name: str, exc: yaml.YAMLError) -> ReadError:
    problem = getattr(exc, "problem", None) or "not valid YAML"
    pm = getattr(exc, "problem_mark", None)
    context = getattr(exc, "context", None)
    cm = getattr(exc, "context_mark", None)
    hint = next((h for words, h in _YAML_HINTS if words in problem), None)
    # An unterminated quote or bracket is found at the end of the file; the place
    # to fix is where it was opened (the context mark).
    if cm is not None and pm is not None and context and "end of stream" in problem:
        where = f"{name}:{cm.line + 1}:{cm.column + 1}"
        what = _OPENED.get(context, f"what starts here ({context})")
        text = f"invalid YAML: {what} is never closed (the file ends at line {pm.line + 1})"
    elif context and context.startswith("expected a single document") and pm is not None:
        where = f"{name}:{pm.line + 1}:{pm.column + 1}"
        text = "invalid YAML: a second document starts here"
    elif pm is not None:
        where = f"{name}:{pm.line + 1}:{pm.column + 1}"
        text = f"invalid YAML: {problem}"
        if context and cm is not None:
            text += f" ({context} at line {cm.line + 1})"
    else:
        where, text = name, f"invalid YAML: {problem}"
    return ReadError(where, text + (f"; {hint}" if hint else ""))


def read_text(path: Path) -> str:
    name = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        parent = path.parent
        if not os.access(parent, os.X_OK) and os.path.lexists(parent):
            raise ReadError(name, f"cannot look into {parent}: permission denied") from None
        raise ReadError(
            name, "no such config file; copy swarmhub.example.yaml or run `pipeline.py init`"
        ) from None
    except IsADirectoryError:
        raise ReadError(name, "is a directory; give the config file itself") from None
    except PermissionError:
        raise ReadError(
            name, "cannot read: permission denied; run as a user who may, or fix its mode"
        ) from None
    except OSError as exc:
        raise ReadError(name, f"cannot read: {exc.strerror}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ReadError(
            f"{name}:{line}:{column}",
            f"is not UTF-8 (byte 0x{raw[exc.start]:02x}); save the file as UTF-8",
        ) from None


def parse(text: str, name: str) -> tuple[object, Source]:
    """The data and where each part of it was written; ReadError if it is not YAML."""
    src = Source(name)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, src
        _record(loader, node, (), src)
        data = loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise _yaml_error(name, exc) from None
    except (ValueError, TypeError) as exc:
        # e.g. a date such as 2025-13-01 that YAML 1.1 tries to build.
        raise ReadError(name, f"invalid YAML: a value cannot be read ({exc}); quote it") from None
    finally:
        loader.dispose()
    return data, src


def read(path: str | Path) -> tuple[object, Source]:
    path = Path(path)
    return parse(read_text(path), str(path))
