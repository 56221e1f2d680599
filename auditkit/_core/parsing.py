"""Reading the small configuration files a user hands auditkit: card-info YAML, policy TOML.

Both are bounded before they are parsed: a file must be a regular file (a FIFO or a device is
refused at once, never read) of at most :data:`MAX_CONFIG_BYTES` (1 MB, checked on the file's
size before reading and again on what was read), and its values may nest at most
:data:`MAX_CONFIG_DEPTH` levels deep (checked while the YAML is composed, and on the TOML text
before :mod:`tomllib` sees it), so a hostile file fails in milliseconds with the file and the
line named, never with a ``RecursionError`` or after exhausting memory.

YAML is read by :func:`load_yaml`: PyYAML's safe machinery with the YAML 1.2 core schema's
null and booleans only, so every other scalar stays the text that was written (``2.10`` stays
``"2.10"``, ``010`` stays ``"010"``, ``2024-01-01`` stays a string, ``yes`` stays ``"yes"``);
a key given twice, an alias (``*name``, which can expand a small file into a huge value) and a
tag outside the core schema (``!!binary``, ``!!timestamp``, ``!!python/...``) are refused with
their line.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any, ClassVar

__all__ = ["MAX_CONFIG_BYTES", "MAX_CONFIG_DEPTH", "ConfigError", "load_yaml", "read_config",
           "toml_depth_error"]  # fmt: skip

#: Largest card-info or policy file read (bytes); such files are a few kilobytes.
MAX_CONFIG_BYTES = 1_000_000
#: Deepest nesting of values (mappings, lists, tables, arrays) in a card-info or policy file.
MAX_CONFIG_DEPTH = 32


class ConfigError(Exception):
    """A configuration file refused: ``message`` and the 1-based ``line`` (None if unknown)."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line

    def where(self) -> str:
        """``", line N"`` or an empty string."""
        return f", line {self.line}" if self.line is not None else ""


def read_config(path: Path, what: str) -> bytes:
    """Return the bytes of a small configuration file, refusing non-regular and large files.

    Raises
    ------
    FileNotFoundError, IsADirectoryError, OSError
        As ``open`` would (the caller words them).
    ConfigError
        A FIFO, a device or a socket; a file over :data:`MAX_CONFIG_BYTES`.
    """
    st = os.stat(path)
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(21, "is a folder, not a file", str(path))
    if not stat.S_ISREG(st.st_mode):
        raise ConfigError(f"{what} is not a regular file (a pipe, a device or a socket)")
    if st.st_size > MAX_CONFIG_BYTES:
        raise ConfigError(_too_large(what, st.st_size))
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):  # swapped after the stat
            raise ConfigError(f"{what} is not a regular file (a pipe, a device or a socket)")
        data = fh.read(MAX_CONFIG_BYTES + 1)
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(_too_large(what, None))
    return data


def _too_large(what: str, size: int | None) -> str:
    if size is None:  # grew while being read
        return f"{what} is over the limit of {MAX_CONFIG_BYTES:,} bytes (1 MB)"
    return f"{what} is {size:,} bytes; the limit is {MAX_CONFIG_BYTES:,} bytes (1 MB)"


# ----------------------------------------------------------------------------------------- YAML
def _loader_class() -> type:
    import yaml
    from yaml.composer import Composer
    from yaml.constructor import SafeConstructor
    from yaml.events import AliasEvent, ScalarEvent
    from yaml.nodes import MappingNode, Node, ScalarNode
    from yaml.resolver import Resolver

    bases, init_parser = _parser_bases()
    core = "tag:yaml.org,2002:"

    class Loader(Composer, *bases, SafeConstructor, Resolver):  # type: ignore[misc]
        """Safe YAML loader: YAML 1.2 core null/bool only, no aliases, no duplicate keys."""

        yaml_constructors: ClassVar[dict[Any, Any]] = {}

        def __init__(self, stream: str) -> None:
            init_parser(self, stream)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)
            Composer.__init__(self)
            self._depth = 0

        def compose_node(self, parent: Node | None, index: Any) -> Node | None:
            if self.check_event(AliasEvent):
                event = self.peek_event()
                raise ConfigError(
                    f"alias *{event.anchor} repeats another part of the file; aliases are not "
                    "accepted (write the value out)",
                    event.start_mark.line + 1,
                )
            if self.check_event(ScalarEvent):  # a leaf: only lists and mappings nest
                leaf: Node | None = Composer.compose_node(self, parent, index)
                return leaf
            self._depth += 1
            try:
                if self._depth > MAX_CONFIG_DEPTH:
                    raise ConfigError(
                        f"values are nested more than {MAX_CONFIG_DEPTH} levels deep",
                        self.peek_event().start_mark.line + 1,
                    )
                node: Node | None = Composer.compose_node(self, parent, index)
                return node
            finally:
                self._depth -= 1

        def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
            first: dict[Any, int] = {}
            for key_node, _ in node.value:
                if not isinstance(key_node, ScalarNode):
                    raise ConfigError(
                        "a key must be text, not a list or a mapping",
                        key_node.start_mark.line + 1,
                    )
                key = self.construct_object(key_node)
                line = key_node.start_mark.line + 1
                if key in first:
                    raise ConfigError(
                        f"key {key!r} is given twice (first on line {first[key]})", line
                    )
                first[key] = line
            out: dict[Any, Any] = SafeConstructor.construct_mapping(self, node, deep=deep)
            return out

        def construct_as_written(self, node: ScalarNode) -> str:
            text: str = self.construct_scalar(node)
            return text

        def refuse_tag(self, node: Node) -> None:
            tag = str(node.tag).replace(core, "!!")
            raise ConfigError(
                f"tag {tag} is not accepted here (only text, lists, mappings, true/false and "
                "null, each where it fits)",
                node.start_mark.line + 1,
            )

    _set_rules(Loader)
    del yaml
    return Loader


def _parser_bases() -> tuple[tuple[type, ...], Any]:
    """Return the YAML parser classes of the loader and the function that initialises them."""
    try:  # libyaml's parser (C) when present: the events are the same, 5-10x faster
        from yaml._yaml import CParser as _Parser

        def init_parser(self: Any, stream: str) -> None:
            _Parser.__init__(self, stream)

        return (_Parser,), init_parser
    except ImportError:  # pragma: no cover - PyYAML without libyaml
        from yaml.parser import Parser
        from yaml.reader import Reader
        from yaml.scanner import Scanner

        def init_parser(self: Any, stream: str) -> None:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)

        return (Reader, Scanner, Parser), init_parser


def _set_rules(Loader: Any) -> None:
    """Resolve YAML 1.2 core null and bool, every other scalar as text; refuse other tags."""
    from yaml.constructor import SafeConstructor
    from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

    core = "tag:yaml.org,2002:"
    bool_re = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
    null_re = re.compile(r"^(?:~|null|Null|NULL|)$")
    Loader.yaml_implicit_resolvers = {}  # none of YAML 1.1's (ints, floats, yes/no, dates, <<)
    Loader.add_implicit_resolver(core + "bool", bool_re, list("tTfF"))
    Loader.add_implicit_resolver(core + "null", null_re, ["~", "n", "N", ""])

    def checked(fn: Any, kind: type, pattern: re.Pattern[str] | None = None) -> Any:
        """``fn`` for nodes of ``kind`` (and scalars matching ``pattern``); else refuse the tag."""

        def construct(self: Any, node: Node) -> Any:
            if not isinstance(node, kind) or (
                pattern is not None and not pattern.match(str(node.value))
            ):
                self.refuse_tag(node)
            return fn(self, node)

        return construct

    for tag, fn in (
        ("null", checked(SafeConstructor.construct_yaml_null, ScalarNode, null_re)),
        ("bool", checked(SafeConstructor.construct_yaml_bool, ScalarNode, bool_re)),
        ("str", checked(SafeConstructor.construct_yaml_str, ScalarNode)),
        ("seq", checked(SafeConstructor.construct_yaml_seq, SequenceNode)),
        ("map", checked(SafeConstructor.construct_yaml_map, MappingNode)),
        # an explicit !!int or !!float keeps its text too
        ("int", checked(Loader.construct_as_written, ScalarNode)),
        ("float", checked(Loader.construct_as_written, ScalarNode)),
    ):
        Loader.add_constructor(core + tag, fn)
    Loader.add_constructor(None, Loader.refuse_tag)


_LOADER: type | None = None


def load_yaml(text: str, *, key_lines: dict[str, int] | None = None) -> Any:
    """Parse one YAML document with the rules of this module.

    ``key_lines``, when given, receives the line of each top-level key (for messages about a
    value that parsed but is not valid).

    Raises
    ------
    ConfigError
        An alias, a duplicate key, a tag outside the core schema, nesting deeper than
        :data:`MAX_CONFIG_DEPTH`, or a syntax error (with its line).
    """
    import yaml

    global _LOADER
    if _LOADER is None:
        _LOADER = _loader_class()
    loader = _LOADER(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if key_lines is not None and isinstance(node.value, list):
            for pair in node.value:
                if isinstance(pair, tuple) and isinstance(pair[0].value, str):
                    key_lines.setdefault(pair[0].value, pair[0].start_mark.line + 1)
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = " ".join(str(exc.problem or exc.context or "syntax error").split())
        if exc.context and exc.problem:
            what = " ".join(f"{exc.problem} ({exc.context})".split())
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(f"not valid YAML: {what}", line) from exc
    except yaml.YAMLError as exc:  # a reader error: a character YAML does not allow
        line = None
        position = getattr(exc, "position", None)
        if isinstance(position, int):
            line = text.count("\n", 0, position) + 1
        char = getattr(exc, "character", None)
        what = " ".join(str(exc).split())
        if isinstance(char, (str, int)):
            code = ord(char) if isinstance(char, str) else char
            what = f"character U+{code:04X} is not allowed in YAML ({getattr(exc, 'reason', '')})"
        raise ConfigError(f"not valid YAML: {what}", line) from exc
    except RecursionError as exc:  # pragma: no cover - the depth check comes first
        raise ConfigError(f"values are nested more than {MAX_CONFIG_DEPTH} levels deep") from exc
    finally:
        loader.dispose()


# ----------------------------------------------------------------------------------------- TOML
def toml_depth_error(text: str) -> ConfigError | None:
    """Return the first place where TOML ``text`` nests deeper than :data:`MAX_CONFIG_DEPTH`.

    A scan of the text (strings and comments skipped): arrays ``[...]`` and inline tables
    ``{...}`` count one level each, on top of the dotted parts of the table header and of the
    key. Run before :mod:`tomllib`, whose parser recurses once per level.
    """
    depth = 0  # open arrays and inline tables
    header = 0  # dotted parts of the current [table] / [[array]] header
    line = 1
    i, n = 0, len(text)
    at_line_start = True
    key_parts, in_key = 1, True
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            at_line_start = True
            if depth == 0:
                key_parts, in_key = 1, True
            i += 1
            continue
        if c in " \t\r":
            i += 1
            continue
        if c == "#":
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        if c in "\"'":
            quote3 = text.startswith(c * 3, i)
            end = c * 3 if quote3 else c
            j = i + len(end)
            while j < n:
                if c == '"' and text[j] == "\\":
                    line += text.startswith("\n", j + 1)  # a line-ending backslash
                    j += 2
                    continue
                if text.startswith(end, j):
                    break
                if text[j] == "\n":
                    if not quote3:
                        break
                    line += 1
                j += 1
            if quote3:  # a closing """ may be followed by up to two more quotes of the content
                while j + len(end) < n and text[j + len(end)] == c:
                    j += 1
            i = j + len(end)
            at_line_start = False
            continue
        if at_line_start and depth == 0 and c == "[":
            # a table header: count its dotted parts, skipping quoted ones
            j = i
            parts, quote = 1, ""
            while j < n and text[j] != "\n":
                ch = text[j]
                if quote:
                    if ch == "\\" and quote == '"':
                        j += 1
                    elif ch == quote:
                        quote = ""
                elif ch in "\"'":
                    quote = ch
                elif ch == ".":
                    parts += 1
                elif ch == "#":
                    break
                j += 1
            header = parts
            if header > MAX_CONFIG_DEPTH:
                return _deep(line)
            i = j
            at_line_start = False
            continue
        at_line_start = False
        if depth == 0 and in_key and c == ".":
            key_parts += 1
            if header + key_parts > MAX_CONFIG_DEPTH:
                return _deep(line)
        elif c in "[{":
            depth += 1
            if header + key_parts + depth > MAX_CONFIG_DEPTH:
                return _deep(line)
        elif c in "]}":
            depth = max(depth - 1, 0)
        elif c == "=" and depth == 0:
            in_key = False
        i += 1
    return None


def _deep(line: int) -> ConfigError:
    return ConfigError(f"values are nested more than {MAX_CONFIG_DEPTH} levels deep", line)
