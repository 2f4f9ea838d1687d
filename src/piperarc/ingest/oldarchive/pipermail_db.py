"""Pipermail's database of articles, read without running anything it holds.

Mailman 2 keeps, per period, `database/PERIOD-article`: a Python 2 `marshal` dump of a dict
from each article's Message-ID (without <>) to a pickled `Article` (its sequence number,
page file name, msgid, date, subject, author...). Python 3's `marshal` cannot read Python 2
dumps (its 't' and 'R' string codes differ or are gone), and `pickle` runs whatever class a
file names; so the marshal is read here by a small iterative reader, and the pickles by an
Unpickler that builds the Article class alone, as a plain dict, and refuses every other name.
"""

from __future__ import annotations

import io
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path

# The modules Mailman 2 pickled its Article class from (HyperArch's subclass, and the base
# class of the Pipermail module it extends).
_ARTICLE_MODULES = frozenset(
    {"Mailman.Archiver.HyperArch", "Mailman.Archiver.pipermail", "HyperArch", "pipermail"}
)


class DatabaseError(ValueError):
    """A database file, or one article in it, that cannot be read."""


@dataclass(frozen=True, slots=True)
class ArticleRow:
    """What one database row says of one article."""

    volume: str
    sequence: int | None
    filename: str  # "000001.html"
    msgid: str  # without <>; Pipermail wrote the sequence number here when there was none
    date: int | None  # epoch seconds
    subject: str
    author: str
    email: str
    in_reply_to: str
    references: tuple[str, ...]

    @property
    def mid(self) -> str | None:
        """The Message-ID with <>, or None where Pipermail had none and numbered it."""
        msgid = self.msgid.strip()
        if not msgid or (msgid.isdigit() and "@" not in msgid):
            return None
        return f"<{msgid}>"


@dataclass
class ArticleFile:
    """The rows of one `database/PERIOD-article` file, and what could not be read in it."""

    volume: str
    rows: list[ArticleRow]
    problem: str | None  # one line, None when every article was read


def read_article_file(path: Path) -> ArticleFile:
    """Every readable article of one `PERIOD-article` file; never raises for bad content."""
    volume = path.name.removesuffix("-article")
    try:
        table = load_py2_marshal(path.read_bytes())
    except (OSError, DatabaseError) as err:
        return ArticleFile(volume, [], f"{_where(path)}: cannot be read ({err})")
    if not isinstance(table, dict):
        kind = type(table).__name__
        return ArticleFile(volume, [], f"{_where(path)}: holds a {kind}, not Pipermail's table")
    rows: list[ArticleRow] = []
    failures: list[str] = []
    for value in table.values():
        try:
            rows.append(_row(volume, value))
        except DatabaseError as err:
            failures.append(str(err))
    problem = None
    if failures:
        problem = (
            f"{_where(path)}: {len(failures)} of {len(table)} articles cannot be read "
            f"(first: {failures[0]})"
        )
    return ArticleFile(volume, rows, problem)


def _where(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def _row(volume: str, value: object) -> ArticleRow:
    """One database value (a pickle string) as a row."""
    if not isinstance(value, bytes | str):
        raise DatabaseError(f"an article is a {type(value).__name__}, not a pickle")
    data = value.encode("latin-1") if isinstance(value, str) else value
    try:
        article = _ArticleUnpickler(io.BytesIO(data), encoding="bytes").load()
    except DatabaseError:
        raise
    except Exception as err:  # pickle raises many kinds on damaged data; all mean "unreadable"
        raise DatabaseError(f"{type(err).__name__}: {err}") from None
    if not isinstance(article, PickledArticle):
        raise DatabaseError(f"an article is a pickled {type(article).__name__}, not an Article")
    state = {_text(key): item for key, item in article.state.items()}
    sequence = _int(state.get("sequence"))
    filename = _text(state.get("filename"))
    if not filename and sequence is not None:
        filename = f"{sequence:06d}.html"
    refs = state.get("references")
    return ArticleRow(
        volume=volume,
        sequence=sequence,
        filename=filename,
        msgid=_text(state.get("msgid")),
        date=_int(state.get("date")),
        subject=_text(state.get("subject")),
        author=_text(state.get("author")),
        email=_text(state.get("email")),
        in_reply_to=_text(state.get("in_reply_to")),
        references=tuple(_text(r) for r in refs) if isinstance(refs, list | tuple) else (),
    )


def _text(value: object) -> str:
    if isinstance(value, bytes):
        # Mailman 2.1 kept the list's charset here; most lists were UTF-8 or Latin-1.
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value.decode("latin-1")
    return value if isinstance(value, str) else ""


def _int(value: object) -> int | None:
    """Pipermail's numbers: an int, or a string like '01258418512' or '-0785633486'."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    try:
        return int(float(_text(value).strip()))
    except (ValueError, OverflowError):
        return None


class PickledArticle:
    """What a pickled Pipermail Article becomes: its attributes as a plain dict."""

    __slots__ = ("state",)

    def __init__(self) -> None:
        self.state: dict[object, object] = {}

    def __setstate__(self, state: object) -> None:
        self.state = state if isinstance(state, dict) else {}


class _ArticleUnpickler(pickle.Unpickler):
    """Builds Pipermail's Article as a PickledArticle, and nothing else a pickle names."""

    def find_class(self, module: str, name: str) -> type[PickledArticle]:
        if name == "Article" and module in _ARTICLE_MODULES:
            return PickledArticle
        raise DatabaseError(f"refused to load {module}.{name}: only Pipermail's Article is read")

    def persistent_load(self, pid: object) -> object:
        raise DatabaseError("refused a persistent id: only Pipermail's Article is read")


# --- Python 2 marshal ---------------------------------------------------------------------


@dataclass
class _Open:
    """A container being read: its type code, items so far, and how many it has."""

    code: str
    items: list[object]
    count: int  # -1 for a dict, which ends with a NULL code instead


_NULL = object()  # the end of a dict


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, size: int) -> bytes:
        if size < 0 or self.pos + size > len(self.data):
            raise DatabaseError(f"cut short at byte {self.pos} of {len(self.data)}")
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def int32(self) -> int:
        value: int = struct.unpack("<i", self.take(4))[0]
        return value


def load_py2_marshal(data: bytes) -> object:
    """The value in a Python 2 marshal dump: None, bools, ints, floats, str (bytes),
    unicode (str), tuples, lists, dicts and sets. Code objects are refused. Iterative, so
    deep nesting in a damaged file cannot exhaust the stack."""
    reader = _Reader(data)
    interned: list[bytes] = []
    stack: list[_Open] = []
    while True:
        value = _scalar_or_open(reader, interned, stack)
        if value is _OPENED:
            continue
        # Hand the finished value to the containers it completes, innermost first.
        while True:
            if not stack:
                if value is _NULL:
                    raise DatabaseError("a dict end outside any dict")
                return value
            top = stack[-1]
            if value is _NULL:
                if top.code != "{" or len(top.items) % 2:
                    raise DatabaseError(f"a dict end in the wrong place at byte {reader.pos}")
                stack.pop()
                value = _dict(top.items)
                continue
            top.items.append(value)
            if top.code == "{" or len(top.items) < top.count:
                break
            stack.pop()
            value = _finish(top)


_OPENED = object()  # a container was opened; its items come next


def _scalar_or_open(reader: _Reader, interned: list[bytes], stack: list[_Open]) -> object:
    code = chr(reader.take(1)[0])
    if code == "0":
        return _NULL
    if code == "N":
        return None
    if code in "TF":
        return code == "T"
    if code == "i":
        return reader.int32()
    if code == "I":
        value: int = struct.unpack("<q", reader.take(8))[0]
        return value
    if code == "l":
        return _long(reader)
    if code == "f":
        return _float_text(reader)
    if code == "g":
        number: float = struct.unpack("<d", reader.take(8))[0]
        return number
    if code in "st":
        raw = reader.take(reader.int32())
        if code == "t":
            interned.append(raw)
        return raw
    if code == "R":
        index = reader.int32()
        if not 0 <= index < len(interned):
            raise DatabaseError(f"a string reference to #{index} of {len(interned)}")
        return interned[index]
    if code == "u":
        try:
            return reader.take(reader.int32()).decode("utf-8")
        except UnicodeDecodeError as err:
            raise DatabaseError(f"a unicode string that is not UTF-8 ({err})") from None
    if code in "([<>":
        count = reader.int32()
        if count < 0:
            raise DatabaseError(f"a container of {count} items")
        if count == 0:
            return _finish(_Open(code, [], 0))
        stack.append(_Open(code, [], count))
        return _OPENED
    if code == "{":
        stack.append(_Open(code, [], -1))
        return _OPENED
    if code == "c":
        raise DatabaseError("holds a code object, which is never read")
    raise DatabaseError(f"unknown marshal code {code!r} at byte {reader.pos - 1}")


def _long(reader: _Reader) -> int:
    size = reader.int32()
    digits = reader.take(2 * abs(size))
    value = 0
    for index in range(abs(size) - 1, -1, -1):
        value = (value << 15) | struct.unpack_from("<H", digits, 2 * index)[0]
    return -value if size < 0 else value


def _float_text(reader: _Reader) -> float:
    text = reader.take(reader.take(1)[0])
    try:
        return float(text.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise DatabaseError(f"a float that is not a number: {text!r}") from None


def _finish(container: _Open) -> object:
    try:
        if container.code == "(":
            return tuple(container.items)
        if container.code == "[":
            return container.items
        if container.code == "<":
            return set(container.items)
        return frozenset(container.items)
    except TypeError as err:  # an unhashable member of a set
        raise DatabaseError(str(err)) from None


def _dict(items: list[object]) -> dict[object, object]:
    try:
        return dict(zip(items[::2], items[1::2], strict=True))
    except TypeError as err:  # an unhashable key
        raise DatabaseError(str(err)) from None
