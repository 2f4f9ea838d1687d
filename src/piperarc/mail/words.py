"""Words as the search index cuts them, in Python: SQLite FTS5's `unicode61` tokenizer with
`remove_diacritics` (letters and digits, lower case, diacritics removed). The PostgreSQL
store writes its vectors with it and the static site's index is made with it, so that every
search finds the same words; the browser's half is in render/static/search.js."""

from __future__ import annotations

import re
import unicodedata

WORD = re.compile(r"[^\W_]+")


# Combining marks (category Mn) mapped to None, for str.translate; other characters
# outside ASCII to themselves. Filled as characters are met (Unicode has 1.1 million).
_MARKS: dict[int, int | None] = {}


def fold(text: str) -> str:
    """Lower case without diacritics, as unicode61 with remove_diacritics."""
    text = text.lower()
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFD", text)
    for ch in set(decomposed) - _ASCII:
        if ord(ch) not in _MARKS:
            _MARKS[ord(ch)] = None if unicodedata.category(ch) == "Mn" else ord(ch)
    return decomposed.translate(_MARKS)


_ASCII = frozenset(map(chr, range(128)))


def words(text: str) -> list[str]:
    """The words of `text`, in order, as the index keeps them."""
    return WORD.findall(fold(text))


def split_quoted(body_text: str) -> tuple[str, str]:
    """A message's text as (its sender's own lines, the quoted lines "> ..."): the index
    keeps them apart and ranks quoted words lower."""
    own: list[str] = []
    quoted: list[str] = []
    for line in body_text.splitlines():
        (quoted if line.lstrip().startswith(">") else own).append(line)
    return "\n".join(own), "\n".join(quoted)


# Where a message's own text ends and what trails it begins: a signature ("-- ", RFC 3676),
# or a list's footer (Mailman's line of underscores, or a line naming the mailing list).
_TAIL = re.compile(
    r"^(?:-- ?$|_{8,}\s*$|.*\bmailing list\b.*@|.*\bmailing list\b\s*$)",
    re.MULTILINE | re.IGNORECASE,
)


def split_tail(own: str) -> tuple[str, str]:
    """(the text before any signature or list footer, that signature or footer)."""
    found = _TAIL.search(own)
    if found is None:
        return own, ""
    return own[: found.start()], own[found.start() :]


def has_own_words(text: str) -> bool:
    """Whether `text` has words of its sender's own, before any signature or list footer."""
    return WORD.search(split_tail(text)[0]) is not None
