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

Columns are a position apart so that no phrase spans two of them. The subject's and the
sender's words are there a second time, marked (SUBJECT_MARK, SENDER_MARK), so that s: and
f: are looked up in the GIN index itself: a weight in a query (word:A) is checked only by
reading every candidate's vector, which at 200,000 messages took a second for s:should.
"""

from __future__ import annotations

import bisect
import itertools
import re
import unicodedata
from collections.abc import Sequence

from piperarc.model import MARK_END, MARK_START, IndexText, SearchQuery, SearchTerm

# Private-use characters: parse keeps them out of mail's text, and the word pattern
# below keeps them inside a word, so a marked word is never a word of the mail.
FILE_MARK, FACET_MARK, SUBJECT_MARK, SENDER_MARK = "\ue010", "\ue011", "\ue013", "\ue014"
NOTHING = "\ue012"  # a lexeme no message has: a term without words matches nothing
_WORD = re.compile(r"[^\W_]+")
MAX_POSITION = 16383  # PostgreSQL keeps positions up to this (later ones are clamped)
MAX_WORD = 255  # longer "words" (base64 runs) are left out: a lexeme holds 2 KB at most
MAX_VECTOR_CHARS = 800_000  # a tsvector holds 1 MB; a huge message is indexed in part
# ts_rank_cd's weights for D (quoted), C (body), B (sender), A (subject), and its
# normalization 1 (divide by 1 + log of the document's length). bm25 (SQLite) saturates on
# repeated words and favours short texts; these were chosen on usrp-users for the most
# agreement with SQLite's top 5 over a set of queries (35 of 45 shared hits at best,
# against 10 with weights in bm25's own 0.2:1:4:10 proportions and no normalization).
RANK_WEIGHTS = "{0.005, 0.03, 0.3, 1.0}"
RANK_NORMALIZATION = 1


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
        (text.subject, "A", SUBJECT_MARK),
        (text.sender, "B", SENDER_MARK),
        (text.files, "B", FILE_MARK),
        (facet_tokens, "D", FACET_MARK),
        (text.body, "C", ""),
        (text.quoted, "D", ""),
    )
    for column, weight, mark in columns:
        pos += 1  # a gap: no phrase across columns
        # Subject and sender words go in plain too (any-field words, phrases, ranking);
        # file names and facets only marked.
        both = mark in (SUBJECT_MARK, SENDER_MARK)
        for word in words(column):
            pos += 1
            at = f"{min(pos, MAX_POSITION)}{weight}"
            for lexeme in (mark + word, word) if both else (mark + word,):
                found = positions.get(lexeme)
                if found is None:
                    size += len(lexeme) + 8
                    if size > MAX_VECTOR_CHARS:
                        continue
                    found = positions[lexeme] = []
                if len(found) < 256:  # PostgreSQL keeps 256 positions of a lexeme
                    found.append(at)
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


_MARKS = {"subject": SUBJECT_MARK, "sender": SENDER_MARK}


def term_query(term: SearchTerm, ranking: bool = False) -> str:
    """One term as tsquery text; a term anywhere also looks in the file names. Subject
    and sender words are matched by their marked copies, ranked by their weights."""
    if term.field == "facets":
        return _phrase([FACET_MARK + w for w in term.text.split()], term.prefix, "")
    tokens = words(term.text)
    mark = _MARKS.get(term.field or "")
    if mark is not None and not ranking:
        return _phrase([mark + t for t in tokens], term.prefix, "")
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
    return " | ".join(
        term_query(t, ranking=True) for group in query.groups for t in group if t.field != "facets"
    )


def _fold_in_place(text: str) -> str:
    """`_fold` that keeps every character's offset, so words found in the folded text
    point into the original (a character that folds to more or less than one keeps
    a one-character form)."""

    def one(found: re.Match[str]) -> str:
        ch = found.group()
        folded = _fold(ch)
        if len(folded) == 1:
            return folded
        return ch.lower()[:1] or ch

    return _NON_ASCII.sub(one, text).lower()


_NON_ASCII = re.compile(r"[^\x00-\x7f]")


_WORD_CHAR = re.compile(r"[^\W_]")


def _is_word_char(text: str, at: int) -> bool:
    return 0 <= at < len(text) and _WORD_CHAR.match(text, at) is not None


def _hits(folded: str, exact: set[str], prefixes: list[str]) -> list[tuple[int, int]]:
    """(start, end) of every word of `folded` that is one of `exact` or starts with one
    of `prefixes`, in order (str.find: bodies run to hundreds of kilobytes)."""
    starts: dict[int, int] = {}
    for needle, whole in [(w, True) for w in exact] + [(p, False) for p in prefixes]:
        at = folded.find(needle)
        while at >= 0:
            end = at + len(needle)
            if not _is_word_char(folded, at - 1) and at not in starts:
                if not whole:
                    found = _WORD.match(folded, at)
                    starts[at] = found.end() if found else end
                elif not _is_word_char(folded, end):
                    starts[at] = end
            at = folded.find(needle, at + 1)
    return sorted(starts.items())


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
    folded = _fold_in_place(body)
    if _WORD.search(folded) is None:
        return body[:200]
    spans = _hits(folded, exact, prefixes)
    # Each match's word number, counting at most `size` words between two matches: only
    # whether matches are less than `size` words apart matters for choosing the window.
    numbers: list[int] = []
    index, cursor = 0, 0
    for start, stop in spans:
        # Words in the gap (a word cut at a bound still counts once: it is a word).
        between = len(_WORD.findall(folded, cursor, min(start, cursor + 512)))
        if between < size and start > cursor + 512:
            between = len(_WORD.findall(folded, cursor, start))
        index += min(size, between)
        numbers.append(index)
        index, cursor = index + 1, stop
    # The window holding the most matches, starting a few words before its first one
    # (as FTS5 does); the start of the text when nothing matched.
    best, chosen = 0, -1
    for j, i in enumerate(numbers):
        count = bisect.bisect_left(numbers, i + size - 3, lo=j) - j
        if count > best:
            best, chosen = count, j
    begin = _word_start(folded, spans, chosen, 3) if chosen >= 0 else 0
    out = ["…"] if _WORD.search(folded, 0, begin) else []
    last: int | None = None
    for match in itertools.islice(_WORD.finditer(folded, begin), size):
        start, stop = match.span()
        if last is not None:
            out.append(body[last:start])
        word = body[start:stop]
        marked = spans and spans[bisect.bisect_left(spans, (start, -1)) % len(spans)][0] == start
        out.append(f"{MARK_START}{word}{MARK_END}" if marked else word)
        last = stop
    if last is not None and _WORD.search(folded, last) is not None:
        out.append("…")
    return "".join(out)


def _word_start(folded: str, spans: list[tuple[int, int]], j: int, back: int) -> int:
    """The offset of the word `back` words before match j (or of the first word)."""
    at = spans[j][0]
    while back > 0:
        previous = spans[j - 1][1] if j > 0 else 0
        gap = [m.start() for m in _WORD.finditer(folded, previous, at)]
        if len(gap) >= back:
            return gap[-back]
        back -= len(gap)
        if j == 0:
            return gap[0] if gap else at
        j -= 1
        at = spans[j][0]
        back -= 1
    return at
