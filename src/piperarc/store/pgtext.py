"""Full-text search for the PostgreSQL store, in Python: words as SQLite's FTS5 sees them.

PostgreSQL's own parsers split text differently from FTS5's `unicode61` tokenizer (they
keep "foo-bar", URLs and addresses as tokens of their own, and stem with a dictionary),
so the same query would find other messages on each backend. Instead this module cuts
text into words the way unicode61 does (letters, digits and private-use characters;
lower case; diacritics removed) and writes the tsvector itself, positions and weights
included; queries become tsquery text over the same words. No SQL here: the store sends
these strings as parameters.

One tsvector per message, its columns told apart by weight, as FTS5 tells them by column:

    subject A    sender B    body (own lines) C    quoted lines D
    file names: words marked with FILE_MARK (weight B)
    facets (facets.py): tokens marked with FACET_MARK (weight D)

Columns are a position apart so that no phrase spans two of them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Sequence

from piperarc.model import MARK_END, MARK_START, IndexText, SearchQuery, SearchTerm

# Private-use characters: parse keeps them out of mail's text, and the word pattern
# below keeps them inside a word, so a marked word is never a word of the mail.
FILE_MARK, FACET_MARK = "\ue010", "\ue011"
NOTHING = "\ue012"  # a lexeme no message has: a term without words matches nothing
_WORD = re.compile(r"(?:[^\W_]|[\ue000-\uf8ff])+")
MAX_POSITION = 16383  # PostgreSQL keeps positions up to this (later ones are clamped)
MAX_WORD = 255  # longer "words" (base64 runs) are left out: a lexeme holds 2 KB at most
MAX_VECTOR_CHARS = 800_000  # a tsvector holds 1 MB; a huge message is indexed in part
# ts_rank_cd's weights for D, C, B, A, as SQLite's bm25 weighs its columns
RANK_WEIGHTS = "{0.02, 0.1, 0.4, 1.0}"  # (at most 1: scaled down)


def _fold(text: str) -> str:
    """Lower case without diacritics, as unicode61 with remove_diacritics."""
    text = text.lower()
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")


def words(text: str) -> list[str]:
    """The words of `text` as the index keeps them."""
    return [w for w in _WORD.findall(_fold(text)) if len(w) <= MAX_WORD]


def _quote(lexeme: str) -> str:
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def vector(text: IndexText, facet_tokens: str) -> str:
    """The message's tsvector, as tsvector input text."""
    positions: dict[str, list[str]] = {}
    pos = 0
    size = 0
    columns: tuple[tuple[str, str, str], ...] = (
        (text.subject, "A", ""),
        (text.sender, "B", ""),
        (text.files, "B", FILE_MARK),
        (facet_tokens, "D", FACET_MARK),
        (text.body, "C", ""),
        (text.quoted, "D", ""),
    )
    for column, weight, mark in columns:
        pos += 1  # a gap: no phrase across columns
        for word in words(column):
            pos += 1
            lexeme = mark + word
            found = positions.get(lexeme)
            if found is None:
                size += len(lexeme) + 8
                if size > MAX_VECTOR_CHARS:
                    continue
                found = positions[lexeme] = []
            if len(found) < 256:  # PostgreSQL keeps 256 positions of a lexeme
                found.append(f"{min(pos, MAX_POSITION)}{weight}")
    return " ".join(f"{_quote(lexeme)}:{','.join(p)}" for lexeme, p in positions.items())


_WEIGHTS = {"subject": "A", "sender": "B", "body": "CD", "facets": "", None: ""}


def _phrase(tokens: Sequence[str], prefix: bool, weight: str) -> str:
    if not tokens:
        return _quote(NOTHING)
    parts = []
    for i, token in enumerate(tokens):
        star = "*" if prefix and i == len(tokens) - 1 else ""
        label = f":{star}{weight}" if star or weight else ""
        parts.append(_quote(token) + label)
    return "(" + " <-> ".join(parts) + ")"


def term_query(term: SearchTerm) -> str:
    """One term as tsquery text; a term anywhere also looks in the file names."""
    if term.field == "facets":
        return _phrase([FACET_MARK + w for w in term.text.split()], term.prefix, "")
    tokens = words(term.text)
    expr = _phrase(tokens, term.prefix, _WEIGHTS[term.field])
    if term.field is None and tokens:
        expr = f"({expr} | {_phrase([FILE_MARK + t for t in tokens], term.prefix, '')})"
    return expr


def match_query(query: SearchQuery) -> str:
    """The whole query as tsquery text ("" when it asks for nothing)."""
    match = " & ".join(
        "(" + " | ".join(term_query(t) for t in group) + ")" for group in query.groups
    )
    if match and query.excluded:
        match = f"({match}) & !({' | '.join(term_query(t) for t in query.excluded)})"
    return match


def rank_query(query: SearchQuery) -> str:
    """The words that rank a hit: every wanted term but the facets ("" when none)."""
    return " | ".join(term_query(t) for group in query.groups for t in group if t.field != "facets")


def _spans(text: str) -> Iterator[tuple[int, int, str]]:
    for found in _WORD.finditer(text):
        yield found.start(), found.end(), _fold(found.group())


def snippet(body: str, query: SearchQuery, size: int = 24) -> str:
    """Up to `size` words of `body` around the most matched words, matches between
    MARK_START and MARK_END, "…" where text was cut (as FTS5's snippet())."""
    exact: set[str] = set()
    prefixes: list[str] = []
    for group in query.groups:
        for term in group:
            if term.field not in (None, "body"):
                continue
            tokens = words(term.text)
            if term.prefix and tokens:
                prefixes.append(tokens[-1])
                tokens = tokens[:-1]
            exact.update(tokens)
    spans = list(_spans(body))
    if not spans:
        return body[:200]
    hits = [w in exact or any(w.startswith(p) for p in prefixes) for _, _, w in spans]
    best, best_score = 0, -1
    score = sum(hits[:size])
    for start in range(max(1, len(spans) - size + 1)):
        if start:
            score += (hits[start + size - 1] if start + size - 1 < len(hits) else 0) - hits[
                start - 1
            ]
        if score > best_score:
            best, best_score = start, score
    # Where the window starts with no match, move it back a little so the first match has
    # some words before it (as FTS5 does).
    first_hit = next((i for i in range(best, min(best + size, len(spans))) if hits[i]), None)
    if first_hit is not None and best_score > 0:
        best = max(0, min(best, first_hit - 3))
    end = min(best + size, len(spans))
    out = ["…"] if best > 0 else []
    cursor = spans[best][0]
    for i in range(best, end):
        start, stop, _ = spans[i]
        out.append(body[cursor:start])
        word = body[start:stop]
        out.append(f"{MARK_START}{word}{MARK_END}" if hits[i] else word)
        cursor = stop
    if end < len(spans):
        out.append("…")
    return "".join(out)
