"""Reading YAML written by people, safely, with every node's line and column.

PyYAML's own loaders type values by YAML 1.1 rules (``8:30`` becomes 510,
``no`` becomes False), accept duplicate keys and construct tagged objects.
Here nothing is typed: every scalar stays the text that was written, with its
place, and the schema (``fields.py``) decides what it means. Tags and aliases
are refused, size and depth are bounded, and the encoding is checked first.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import yaml
import yaml.reader
from yaml.composer import Composer
from yaml.events import AliasEvent, CollectionStartEvent, ScalarEvent
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

from broadcaster.i18n import N_, Msg
from broadcaster.schema.problems import Problems

logger = logging.getLogger(__name__)

MAX_FILE_BYTES = 512 * 1024
MAX_NODES = 20_000
MAX_DEPTH = 40
_NULLS = {"", "~", "null", "Null", "NULL"}


@dataclass(frozen=True)
class Scalar:
    """A scalar exactly as written; ``plain`` is False when it was quoted or a block."""

    value: str
    plain: bool
    line: int
    column: int

    @property
    def is_null(self) -> bool:
        return self.plain and self.value in _NULLS


@dataclass(frozen=True)
class Seq:
    items: tuple[Node, ...]
    line: int
    column: int


@dataclass(frozen=True)
class Map:
    items: tuple[tuple[Scalar, Node], ...]
    line: int
    column: int


Node = Scalar | Seq | Map


class _Refused(Exception):
    def __init__(self, mark: object, message: Msg, hint: Msg | None = None) -> None:
        super().__init__(str(message))
        # a yaml Mark (0-based); the pure-Python parser gives every event one
        self.line, self.column = getattr(mark, "line", 0) + 1, getattr(mark, "column", 0) + 1
        self.message = message
        self.hint = hint


class _BoundedComposer(Composer):
    """A composer that refuses tags and aliases and bounds size and depth."""

    def __init__(self) -> None:
        super().__init__()
        self._nodes = 0
        self._depth = 0

    def compose_node(self, parent, index):
        event = self.peek_event()  # type: ignore[attr-defined]  # the Parser mixed in beside it in _Loader
        if isinstance(event, AliasEvent):
            raise _Refused(
                event.start_mark,
                Msg.of("aliases ('*{name}') are not allowed", name=event.anchor),
                Msg.of("write the value out in full"),
            )
        if isinstance(event, ScalarEvent | CollectionStartEvent) and event.tag is not None:
            raise _Refused(
                event.start_mark,
                Msg.of(
                    "YAML tags such as '{tag}' are not allowed",
                    tag=event.tag.replace("tag:yaml.org,2002:", "!!"),
                ),
                Msg.of("remove the tag; write plain text"),
            )
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise _Refused(event.start_mark, Msg.of("too many values in one file"))
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _Refused(event.start_mark, Msg.of("values nested too deeply"))
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class _Loader(Reader, Scanner, Parser, _BoundedComposer, BaseResolver):
    """PyYAML's reader, scanner and parser; our composer; no implicit typing."""

    def __init__(self, text: str) -> None:
        Reader.__init__(self, text)
        Scanner.__init__(self)
        Parser.__init__(self)
        _BoundedComposer.__init__(self)
        BaseResolver.__init__(self)


# PyYAML's complaints (its ``problem`` text) in words a secretary can act on: (pattern, message, hint).
_SYNTAX: list[tuple[re.Pattern[str], str, str | None]] = [
    (re.compile(pattern), message, hint) for pattern, message, hint in (
    (r"expected <block end>, but found '<scalar>'",
     N_("there is more text after a closing quote"),
     N_("put the whole value in one pair of quotes")),
    (r"expected <block end>, but found|did not find expected key|could not find expected ':'",
     N_("this line is indented differently from the lines around it"),
     N_("keys of one block start in the same column; list items ('- ') too")),
    (r"found unexpected end of stream",
     N_("a quote is opened but never closed"),
     N_("close the value with the same quote it starts with")),
    (r"found unknown escape character '(?P<char>.*)'",
     N_("'\\{char}' is not allowed inside double quotes"),
     N_("use single quotes, or write the backslash twice")),
    (r"expected ',' or '\]'",
     N_("a list in [ ] is not closed, or its items are not separated by commas"),
     N_("write it like [hygiene, hotline]")),
    (r"expected ',' or '\}'",
     N_("a group in {{ }} is not closed, or its items are not separated by commas"), None),
    (r"found character '(?P<char>.)' that cannot start any token",
     N_("a value cannot start with '{char}'"),
     N_("put the whole value in quotes")),
    (r"but found another document",
     N_("the file holds a second document after '---'"),
     N_("one announcement or playlist per file: remove the '---' line and what follows, or move it")),
    (r"sequence entries are not allowed here",
     N_("a list item ('- ') cannot follow a key on the same line"),
     N_("start the list on the next line, indented, one '- ' item per line")),
    (r"expected chomping or indentation indicators",
     N_("'|' or '>' must end its line"),
     N_("write the text on the following lines, indented")),
    (r"found undefined alias|while scanning an (alias|anchor)|expected alphabetic or numeric character",
     N_("a value cannot start with '*' or '&'"),
     N_("put the whole value in quotes")),
    (r"expected the node content",
     N_("a value is missing here"),
     N_("remove the extra comma, or write the value")),
)]  # fmt: skip


def _explain(exc: yaml.MarkedYAMLError, text: str) -> tuple[int, int, Msg, Msg | None]:
    """(line, column, message, hint) for a parser complaint, pointing where the mistake is."""
    mark = exc.problem_mark or exc.context_mark
    if exc.context_mark and re.search("quoted scalar|flow sequence|flow mapping", exc.context or ""):
        mark = exc.context_mark  # where the quote or bracket was opened, not where the file ran out
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    problem = exc.problem or exc.context or ""
    if "<stream end>" in problem and "flow" in (exc.context or ""):  # the file ended inside [ ] or { }
        opened = max(text.rfind("["), text.rfind("{"))
        if opened >= 0:
            line = text.count("\n", 0, opened) + 1
            column = opened - (text.rfind("\n", 0, opened) + 1) + 1
        return (line, column, Msg.of("a list in [ ] is not closed, or its items are not separated by commas"),
                Msg.of("write it like [hygiene, hotline]"))  # fmt: skip
    if problem.startswith("could not find expected ':'") and exc.context_mark:  # a key's line without ':'
        key = exc.context_mark
        return (key.line + 1, key.column + 1, Msg.of("this line has no ':' after its key"),
                Msg.of("write the key, a colon, a space and the value: title: 停电"))  # fmt: skip
    scalar = problem.startswith("expected <block end>, but found '<scalar>'")
    if scalar and not _after_quote(text, line, column):
        return _indented_differently(text, line)
    if problem.startswith("mapping values are not allowed here"):
        lines = text.splitlines()
        before = lines[line - 1][: column - 1] if line <= len(lines) else ""
        if ": " in before.lstrip().lstrip("- "):
            return (line, column, Msg.of("a value contains ': ' (a colon and a space)"),
                    Msg.of("put the whole value in quotes"))  # fmt: skip
        previous = next((n for n in range(line - 1, 0, -1) if lines[n - 1].strip()), None)
        plain = previous is not None and not lines[previous - 1].lstrip().startswith(("-", "#"))
        if previous is not None and plain and ":" not in lines[previous - 1]:
            return (previous, 1, Msg.of("this line has no ':' after its key"),
                    Msg.of("write the key, a colon, a space and the value: title: 停电"))  # fmt: skip
        return _indented_differently(text, line)
    for pattern, message, hint in _SYNTAX:
        found = pattern.search(problem)
        if found:
            return line, column, Msg(message, found.groupdict()), Msg(hint) if hint else None
    logger.debug("YAML parser: %s", exc)
    return (line, column, Msg.of("this line cannot be read"),
            Msg.of("compare it with an example in docs/formats.md"))  # fmt: skip


def _indented_differently(text: str, line: int) -> tuple[int, int, Msg, Msg | None]:
    lines = text.splitlines()
    indent = len(lines[line - 1]) - len(lines[line - 1].lstrip()) if line <= len(lines) else 0
    return (line, indent + 1, Msg.of("this line is indented differently from the lines around it"),
            Msg.of("keys of one block start in the same column; list items ('- ') too"))  # fmt: skip


def _after_quote(text: str, line: int, column: int) -> bool:
    """Whether the text just before (line, column) ends a quoted value."""
    lines = text.splitlines()
    before = lines[line - 1][: column - 1].rstrip() if line <= len(lines) else ""
    return before.endswith(("'", '"'))


def decode(data: bytes, path: Path, problems: Problems) -> str | None:
    """Bytes → text: UTF-8 (with or without BOM); GBK read with a warning; else refused."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        bad_at = (line, column)
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        text = None
    # Accept GBK only when every Chinese character is a common Simplified one
    # (GB2312): Big5 or other bytes read as GBK would decode to nonsense.
    if text is not None and all(ch.isascii() or _in_gb2312(ch) for ch in text):
        problems.warning(
            path,
            *bad_at,
            Msg.of("file is saved as GBK/GB18030, not UTF-8; it was read as GBK"),
            Msg.of("save it again with the encoding UTF-8 (Notepad: Save As, Encoding: UTF-8)"),
        )
        return text
    problems.error(
        path,
        *bad_at,
        Msg.of("file is not UTF-8 text"),
        Msg.of("save it again with the encoding UTF-8 (Notepad: Save As, Encoding: UTF-8)"),
    )
    return None


def _in_gb2312(ch: str) -> bool:
    try:
        ch.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


_BLANKS = " \t\u3000"  # space, tab, full-width space (a Chinese input method's space)


def _find_tabs(text: str, path: Path, problems: Problems) -> bool:
    """Tabs and full-width spaces in indentation: each reported at its line."""
    found = False
    for number, line in enumerate(text.splitlines(), start=1):
        indent = line[: len(line) - len(line.lstrip(_BLANKS))]
        if "\t" in indent:
            problems.error(path, number, indent.index("\t") + 1, Msg.of("a tab is used for indentation"),
                           Msg.of("use spaces instead of tabs"))  # fmt: skip
            found = True
        if "\u3000" in indent:
            problems.error(path, number, indent.index("\u3000") + 1,
                           Msg.of("a full-width space is used for indentation"),
                           Msg.of("indent with ordinary (half-width) spaces"))  # fmt: skip
            found = True
    return found


# A key, then a Chinese colon (the commonest slip on a Chinese keyboard) or a colon with no space.
_KEY_SLIP = re.compile(r"^(\s*(?:-\s+)?)([A-Za-z_]+)(：|:(?=[^\s/]))")


# A list item's dash with no space before its key: "-pause: 1s".
_DASH_SLIP = re.compile(r"^(\s*)-(?=[A-Za-z_]+\s*[:：])")


def _meant(line: str) -> str:
    """A line with its key slips put right (the text as it was surely meant)."""
    line = _DASH_SLIP.sub(lambda m: f"{m[1]}- ", line)
    return _KEY_SLIP.sub(lambda m: f"{m[1]}{m[2]}: ", line)


def _dash_slip(line: str, number: int, path: Path, problems: Problems) -> bool:
    dash = _DASH_SLIP.match(line)
    if dash is None:
        return False
    item = line[dash.end(1) + 1 :].strip()
    problems.error(path, number, dash.end(1) + 1, Msg.of("no space after the '-' of a list item"),
                   Msg.of("write a dash and a space: - {item}", item=item))  # fmt: skip
    return True


def _find_key_slips(text: str, path: Path, problems: Problems) -> bool:
    found = False
    for number, line in enumerate(text.splitlines(), start=1):
        if _dash_slip(line, number, path, problems):
            found = True
            line = _DASH_SLIP.sub(lambda m: f"{m[1]}- ", line)
        slip = _KEY_SLIP.match(line)
        if slip is None:
            continue
        key, value = slip[2], line[slip.end() :].strip()
        column = slip.start(3) + 1
        if slip[3] == "：":
            problems.error(path, number, column, Msg.of("a Chinese colon '：' after '{key}'", key=key),
                           Msg.of("type an English colon and a space: {key}: {value}", key=key,
                                  value=value))  # fmt: skip
        else:
            problems.error(path, number, column, Msg.of("no space after the colon of '{key}'", key=key),
                           Msg.of("put a space after the colon: {key}: {value}", key=key,
                                  value=value))  # fmt: skip
        found = True
    return found


def parse_text(text: str, path: Path, problems: Problems) -> Node | None:
    """Parse one YAML document; None (with problems added) when it cannot be read.

    Problems are found in one pass where that can be done: tabs, a Chinese colon or a
    missing space after a key are reported, then the text is parsed as it was surely
    meant (spaces, ``key: value``) so that the schema's checks report the rest too.
    The file still has its errors, so it is never used.
    """
    if _find_control_character(text, path, problems):
        return None
    if _find_tabs(text, path, problems):
        meant = _without_tabs(text)
        return None if meant is None else _parse(meant, path, problems)
    return _parse(text, path, problems)


def _spaces(indent: str, tab_width: int) -> str:
    return indent.replace("\u3000", "  ").expandtabs(tab_width)  # a full-width space is two columns wide


def _without_tabs(text: str) -> str | None:
    """``text`` with indenting tabs as spaces, at the first width that makes it readable YAML."""
    for width in (2, 4, 8):
        meant = "\n".join(_spaces(line[: len(line) - len(line.lstrip(_BLANKS))], width) + line.lstrip(_BLANKS)
                          for line in text.split("\n"))  # fmt: skip
        loader = _Loader(meant)
        try:
            loader.get_single_node()
        except _Refused:
            return meant  # readable; the refusal is reported when it is parsed
        except yaml.YAMLError:
            continue
        finally:
            loader.dispose()
        return meant
    return None


def _parse(text: str, path: Path, problems: Problems) -> Node | None:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except _Refused as exc:
        problems.error(path, exc.line, exc.column, exc.message, exc.hint)
        return None
    except yaml.MarkedYAMLError as exc:
        if _find_key_slips(text, path, problems):  # the parser's own complaint points at a later line
            meant = "\n".join(_meant(line) for line in text.split("\n"))
            return None if meant == text else _parse(meant, path, problems)
        problems.error(path, *_explain(exc, text))
        return None
    except yaml.YAMLError as exc:
        logger.debug("YAML parser: %s", exc)
        problems.error(path, 1, 1, Msg.of("this file cannot be read"),
                       Msg.of("compare it with an example in docs/formats.md"))  # fmt: skip
        return None
    except RecursionError:
        problems.error(path, 1, 1, Msg.of("values nested too deeply"))
        return None
    finally:
        loader.dispose()
    if node is None:
        return None
    _find_hash_values(text, path, problems)
    return _convert(node, path, problems)


# "text: #3号楼停水": '#' after a space starts a comment, so the key has no value.
_HASH_VALUE = re.compile(r"^(\s*(?:-\s+)?)([A-Za-z_]+):[ \t]+(#.*)$")


def _find_hash_values(text: str, path: Path, problems: Problems) -> None:
    lines = text.splitlines()
    for number, line in enumerate(lines, start=1):
        _dash_slip(line, number, path, problems)  # "-pause: 1s" reads as a key named "-pause"
        found = _HASH_VALUE.match(line)
        if found is None:
            continue
        indent = len(line) - len(line.lstrip())
        following = next((n for n in lines[number:] if n.strip() and not n.lstrip().startswith("#")), "")
        if len(following) - len(following.lstrip()) > indent:
            continue  # "segments:  # a note" with the list below: a comment indeed
        key, value = found[2], found[3]
        problems.warning(path, number, found.start(3) + 1,
                         Msg.of("'#' starts a comment, so '{key}' has no value here", key=key),
                         Msg.of('put the value in quotes: {key}: "{value}"', key=key,
                                value=value))  # fmt: skip


def _find_control_character(text: str, path: Path, problems: Problems) -> bool:
    """Report the first character YAML refuses to read (NUL, ESC, …), as the reader would."""
    found = yaml.reader.Reader.NON_PRINTABLE.search(text)
    if found is None:
        return False
    before = text[: found.start()]
    line = before.count("\n") + 1
    column = found.start() - (before.rfind("\n") + 1) + 1
    code = f"U+{ord(found.group()):04X}"
    problems.error(path, line, column,
                   Msg.of("the file contains an invisible control character (code {code})", code=code),
                   Msg.of("delete it, or copy the text into a new file"))  # fmt: skip
    return True


def read(path: Path, problems: Problems) -> Node | None:
    """Read and parse ``path``; None (with problems added) when it cannot be used."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            problems.error(
                path,
                1,
                1,
                Msg.of(
                    "file is too big ({size} KiB; the limit is {limit} KiB)",
                    size=size // 1024,
                    limit=MAX_FILE_BYTES // 1024,
                ),
            )
            return None
        data = path.read_bytes()
    except OSError as exc:
        problems.error(path, 1, 1, Msg.of("cannot read file: {reason}", reason=exc.strerror or exc))
        return None
    text = decode(data, path, problems)
    if text is None:
        return None
    node = parse_text(text, path, problems)
    if node is None and not problems.errors_in(path):
        problems.error(path, 1, 1, Msg.of("file is empty"))
    return node


def _convert(node: yaml.Node, path: Path, problems: Problems) -> Node:
    line, column = node.start_mark.line + 1, node.start_mark.column + 1
    if isinstance(node, yaml.ScalarNode):
        return Scalar(node.value, node.style is None, line, column)
    if isinstance(node, yaml.SequenceNode):
        return Seq(tuple(_convert(item, path, problems) for item in node.value), line, column)
    items: list[tuple[Scalar, Node]] = []
    seen: dict[str, Scalar] = {}
    for key_node, value_node in node.value:
        key = _convert(key_node, path, problems)
        if not isinstance(key, Scalar):
            problems.error(path, key.line, key.column, Msg.of("a key must be a plain word"))
            continue
        if key.value in seen:
            first = seen[key.value]
            problems.error(
                path,
                key.line,
                key.column,
                Msg.of("duplicate key '{key}' (first at line {first})", key=key.value, first=first.line),
                Msg.of("keep only one of them"),
            )
            continue
        seen[key.value] = key
        items.append((key, _convert(value_node, path, problems)))
    return Map(tuple(items), line, column)
