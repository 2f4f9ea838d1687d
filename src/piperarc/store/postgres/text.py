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

Every two adjacent words of a column are there once more as one lexeme (PAIR_MARK, no
positions), so that a phrase is looked up by its pairs in the GIN index too: the index
knows which messages hold both words of "errors version" but not whether they are
adjacent, and proving that by reading every such message's vector took half a second
at 1,000,000 messages. A query asks for the pairs as well as the phrase (`pairs=True`)
only when every vector holds them (the store knows: search_index.paired).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from piperarc.mail.words import words as folded_words
from piperarc.model import IndexText, SearchQuery, SearchTerm

# Private-use characters: parse keeps them out of mail's text, and the word pattern
# below keeps them inside a word, so a marked word is never a word of the mail.
FILE_MARK, FACET_MARK, SUBJECT_MARK, SENDER_MARK = "\ue010", "\ue011", "\ue013", "\ue014"
PAIR_MARK = "\ue015"
NOTHING = "\ue012"  # a lexeme no message has: a term without words matches nothing
MAX_POSITION = 16383  # PostgreSQL keeps positions up to this (later ones are clamped)
MAX_WORD = 255  # longer "words" (base64 runs) are left out: a lexeme holds 2 KB at most
MAX_VECTOR_CHARS = 800_000  # a tsvector holds 1 MB; a huge message is indexed in part
MAX_PAIR = 64  # two words longer than this together (base64, hashes) make no pair lexeme
# ts_rank_cd's weights for D (quoted), C (body), B (sender), A (subject), and its
# normalization 1 (divide by 1 + log of the document's length). bm25 (SQLite) saturates on
# repeated words and favours short texts; these were chosen on usrp-users for the most
# agreement with SQLite's top 5 over a set of queries (35 of 45 shared hits at best,
# against 10 with weights in bm25's own 0.2:1:4:10 proportions and no normalization).
RANK_WEIGHTS = "{0.005, 0.03, 0.3, 1.0}"
RANK_NORMALIZATION = 1


def words(text: str) -> list[str]:
    """The words of `text` as the index keeps them."""
    return [w for w in folded_words(text) if len(w) <= MAX_WORD]


def _quote(lexeme: str) -> str:
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def pair(first: str, second: str) -> str | None:
    """The lexeme for two adjacent words (None for two too long to be worth one)."""
    if len(first) + len(second) > MAX_PAIR:
        return None
    return f"{PAIR_MARK}{first} {second}"


_COLUMN_WEIGHTS = ("A", "B", "B", "D", "C", "D")
_COLUMN_MARKS = (SUBJECT_MARK, SENDER_MARK, FILE_MARK, FACET_MARK, "", "")


def vector(text: IndexText, facet_tokens: str) -> str:
    """The message's tsvector, as tsvector input text."""
    columns = [
        words(column)
        for column in (text.subject, text.sender, text.files, facet_tokens, text.body, text.quoted)
    ]
    # Each word makes at most two lexemes of its length and 8 more (one marked) and half
    # of two pairs: when that cannot fill the vector, no need to count as we go.
    bound = sum(4 * len(word) + 28 for column in columns for word in column)
    if bound > MAX_VECTOR_CHARS:
        return _vector_in_part(columns)
    positions: dict[str, list[str]] = {}
    pairs: set[str] = set()
    pos = 0
    for column, weight, mark in zip(columns, _COLUMN_WEIGHTS, _COLUMN_MARKS, strict=True):
        pos += 1  # a gap: no phrase across columns
        first = pos + 1
        # Subject and sender words go in plain too (any-field words, phrases, ranking);
        # file names and facets only marked.
        for lexemes in (
            (column, [mark + w for w in column]) if mark in _BOTH else ([mark + w for w in column],)
        ):
            at = first
            for lexeme in lexemes:
                found = positions.get(lexeme)
                if found is None:
                    positions[lexeme] = [f"{min(at, MAX_POSITION)}{weight}"]
                elif len(found) < 256:  # PostgreSQL keeps 256 positions of a lexeme
                    found.append(f"{min(at, MAX_POSITION)}{weight}")
                at += 1
        pos += len(column)
        if mark in _PAIRED:
            # A phrase's words a position apart beyond the last position PostgreSQL
            # keeps cannot be found: no pair for them.
            kept = column[: max(0, MAX_POSITION - first + 1)]
            pairs.update(found for found in map(pair, kept, kept[1:]) if found is not None)
    return _vector_text(positions, pairs)


_BOTH = (SUBJECT_MARK, SENDER_MARK)  # columns whose words are there plain and marked
_PAIRED = (SUBJECT_MARK, SENDER_MARK, "")  # columns whose adjacent words make pairs


def _vector_in_part(columns: list[list[str]]) -> str:
    """vector() for a message whose vector could be full: lexemes are counted as they
    come, and when the next would not fit, the rest of the message is left out (so that
    no word kept has a position without the pair that leads to it)."""
    positions: dict[str, list[str]] = {}
    pairs: set[str] = set()
    pos = 0
    size = 0
    for column, weight, mark in zip(columns, _COLUMN_WEIGHTS, _COLUMN_MARKS, strict=True):
        pos += 1
        previous = ""
        for word in column:
            pos += 1
            at = f"{min(pos, MAX_POSITION)}{weight}"
            lexemes = (mark + word, word) if mark in _BOTH else (mark + word,)
            new = [lexeme for lexeme in lexemes if lexeme not in positions]
            adjacent = None
            if mark in _PAIRED and previous and pos <= MAX_POSITION:
                adjacent = pair(previous, word)
            if adjacent is not None and adjacent not in pairs:
                new.append(adjacent)
            size += sum(len(lexeme) + 8 for lexeme in new)
            if size > MAX_VECTOR_CHARS:
                return _vector_text(positions, pairs)
            if adjacent is not None:
                pairs.add(adjacent)
            previous = word
            for lexeme in lexemes:
                found = positions.setdefault(lexeme, [])
                if len(found) < 256:
                    found.append(at)
    return _vector_text(positions, pairs)


def _vector_text(positions: dict[str, list[str]], pairs: set[str]) -> str:
    # Lexemes are words (letters and digits), marks and spaces: nothing to escape.
    text = " ".join([f"'{lexeme}':{','.join(p)}" for lexeme, p in positions.items()])
    return text + " '" + "' '".join(pairs) + "'" if pairs else text


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


def _pairs(tokens: Sequence[str], prefix: bool) -> list[str]:
    """The pair lexemes a phrase of these words must have (a prefix ends no pair)."""
    whole = tokens[:-1] if prefix else tokens
    found = (pair(a, b) for a, b in itertools.pairwise(whole))
    return [_quote(lexeme) for lexeme in dict.fromkeys(found) if lexeme is not None]


def _with_pairs(expr: str, tokens: Sequence[str], prefix: bool, pairs: bool) -> str:
    needed = _pairs(tokens, prefix) if pairs else []
    return f"({' & '.join(needed)} & {expr})" if needed else expr


_MARKS = {"subject": SUBJECT_MARK, "sender": SENDER_MARK}


def term_query(term: SearchTerm, ranking: bool = False, pairs: bool = False) -> str:
    """One term as tsquery text; a term anywhere also looks in the file names. Subject
    and sender words are matched by their marked copies, ranked by their weights. With
    `pairs`, a phrase also asks for its pair lexemes (which only narrow the search: a
    message with the phrase has them)."""
    if term.field == "facets":
        return _phrase([FACET_MARK + w for w in term.text.split()], term.prefix, "")
    tokens = words(term.text)
    mark = _MARKS.get(term.field or "")
    if mark is not None and not ranking:
        phrase = _phrase([mark + t for t in tokens], term.prefix, "")
        return _with_pairs(phrase, tokens, term.prefix, pairs)
    expr = _with_pairs(
        _phrase(tokens, term.prefix, _WEIGHTS[term.field]), tokens, term.prefix, pairs
    )
    if term.field is None and tokens:
        expr = f"({expr} | {_phrase([FILE_MARK + t for t in tokens], term.prefix, '')})"
    return expr


def match_query(query: SearchQuery, pairs: bool = False) -> str:
    """The whole query as tsquery text ("" when it asks for nothing); `pairs` when every
    vector holds its pair lexemes."""
    match = " & ".join(
        "(" + " | ".join(term_query(t, pairs=pairs) for t in group) + ")" for group in query.groups
    )
    if match and query.excluded:
        excluded = " | ".join(term_query(t, pairs=pairs) for t in query.excluded)
        match = f"({match}) & !({excluded})"
    return match


def rank_query(query: SearchQuery) -> str:
    """The words that rank a hit: every wanted term but the facets ("" when none)."""
    return " | ".join(
        term_query(t, ranking=True) for group in query.groups for t in group if t.field != "facets"
    )
