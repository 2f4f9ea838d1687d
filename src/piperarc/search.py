"""The search query language → a SearchQuery the store runs (FTS5 on SQLite).

    words             every word must match (anywhere: subject, sender, text, file names);
                      an English word finds its other forms too ("overflow": "overflows")
    "a phrase"        the words together, in order, exactly as written
    -word, -"phrase"  must not match
    a OR b            either (binds tighter than the implicit AND: x a OR b = x AND (a OR b))
    word*             words starting with it
    s:word  subject:  in the subject          f:word  from:   in the sender's name/address
    b:word  body:     in the text             l:name  list:   only that list (repeatable)
    d:2023-01-01..2023-03-31   d:2023-01   d:2023   d:..2023-06   d:2023-06..   (UTC dates)
    has:attachment    messages with attachments
    is:root           thread starters

A query the language cannot read raises QueryError with a message saying what to write.
"""

from __future__ import annotations

import re
from calendar import monthrange
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from markupsafe import escape

from piperarc import facets, urls
from piperarc.errors import QueryError
from piperarc.mail import stems
from piperarc.mail.words import words as word_list
from piperarc.model import MARK_END, MARK_START, SearchHit, SearchQuery, SearchTerm
from piperarc.render.text import iso_date, obfuscate, sender
from piperarc.store import Store

MAX_PER_PAGE = 100
_TOKEN = re.compile(r'\s*(-?)(?:([A-Za-z]+):)?("([^"]*)("?)|[^\s"]+)')
_FIELDS = {
    "s": "subject",
    "subject": "subject",
    "f": "sender",
    "from": "sender",
    "b": "body",
    "body": "body",
}
_DATE = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")
_EARLIEST, _LATEST = date(1970, 1, 1), date(2099, 12, 31)  # parse.py's range of usable dates
_WORDLIKE = re.compile(r"[^\W_]", re.UNICODE)
_ADDRESS_MARKED = re.compile(
    rf"[A-Za-z0-9._%+'={MARK_START}{MARK_END}-]+@[{MARK_START}{MARK_END}]*"
    rf"[A-Za-z0-9-]+(?:[{MARK_START}{MARK_END}]*\.[{MARK_START}{MARK_END}]*[A-Za-z0-9-]+)+"
)


@dataclass(frozen=True, slots=True)
class Results:
    """One page of a search."""

    query: str
    total: int
    page: int
    per_page: int
    hits: list[SearchHit] = field(default_factory=list)
    total_exact: bool = True  # False: `total` is an estimate (the hits are exact either way)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _day(value: str, end: bool) -> date:
    """The first (or, with `end`, last) day of a year, month or day written as ISO."""
    found = _DATE.match(value)
    if not found:
        raise QueryError(f"d:{value} is not a date: write d:2023, d:2023-01 or d:2023-01-31")
    year, month, day = int(found[1]), found[2], found[3]
    try:
        if day is not None:
            return date(year, int(month), int(day))
        if month is not None:
            m = int(month)
            return date(year, m, monthrange(year, m)[1] if end else 1)
        return date(year, 12, 31) if end else date(year, 1, 1)
    except (ValueError, OverflowError, IndexError) as err:
        raise QueryError(f"d:{value} is not a date in the calendar") from err


def _date_terms(value: str) -> tuple[SearchTerm, ...]:
    """d:VALUE as facet terms covering the days it names (UTC)."""
    if ".." in value:
        low, _, high = value.partition("..")
        first = _day(low, end=False) if low else _EARLIEST
        last = _day(high, end=True) if high else _LATEST
    else:
        first, last = _day(value, end=False), _day(value, end=True)
    first, last = max(first, _EARLIEST), min(last, _LATEST)
    if last < first:
        raise QueryError(f"d:{value}: the range ends before it starts")
    return tuple(SearchTerm(token, "facets") for token in facets.date_cover(first, last))


def _widen(term: SearchTerm, quoted: bool) -> list[SearchTerm]:
    """A term as the terms it finds: an unquoted English word anywhere, in the subject or
    in the text finds its other forms too (mail/stems.py: "overflow" finds "overflows");
    a phrase, a prefix, a sender's name, an identifier or a number is found as written."""
    if quoted or term.prefix or term.field not in (None, "subject", "body"):
        return [term]
    tokens = word_list(term.text)
    if len(tokens) != 1 or not stems.widened(tokens[0]):
        return [term]
    return [SearchTerm(form, term.field) for form in stems.forms(tokens[0])]


def parse_query(text: str, list_names: Sequence[str] = ()) -> SearchQuery:
    """Read the query language (module docstring) into a SearchQuery."""
    groups: list[list[SearchTerm]] = []
    excluded: list[SearchTerm] = []
    lists = list(list_names)
    given = len(lists)
    dates: tuple[SearchTerm, ...] = ()
    has_attachment = is_root = False
    join_next = False
    pos = 0
    text = text.strip()
    if len(text) > 1000:
        raise QueryError("the query is too long (at most 1,000 characters)")
    if "\x00" in text:
        # No text the archive holds has one, and the search engines read it as an end of
        # string: "a\x00" failed in FTS5 while "\x00" alone, cleaned away, matched all.
        raise QueryError("a query cannot hold a NUL character (%00): type words to search for")
    while pos < len(text):
        found = _TOKEN.match(text, pos)
        if found is None or found.end() == pos:
            raise QueryError(f"cannot read the query near {text[pos : pos + 20]!r}")
        pos = found.end()
        negate, prefix, raw, phrase, closing = found.groups()
        prefix = (prefix or "").lower()
        if raw.startswith('"') and not closing:
            raise QueryError('a phrase is missing its closing quote (")')
        value = phrase if phrase is not None else raw
        if not prefix and not negate and raw == "OR" and phrase is None:
            if not groups or join_next:
                raise QueryError("OR needs a word on each side, as in: typo OR spelling")
            join_next = True
            continue
        if prefix in ("l", "list"):
            lists.append(value)
            continue
        if prefix == "d":
            dates = _date_terms(value)
            continue
        if prefix == "has":
            if value.lower() not in ("attachment", "attachments"):
                raise QueryError(f"has:{value} is not known: use has:attachment")
            has_attachment = True
            continue
        if prefix == "is":
            if value.lower() != "root":
                raise QueryError(f"is:{value} is not known: use is:root")
            is_root = True
            continue
        term_field = _FIELDS.get(prefix) if prefix else None
        if prefix and term_field is None:
            value = f"{prefix}:{value}"  # "http://..." or "re:x": words, not a field
        star = phrase is None and value.endswith("*")
        words = value.rstrip("*") if star else value
        if not _WORDLIKE.search(words):
            continue  # punctuation alone matches nothing and means nothing
        terms = _widen(SearchTerm(words, term_field, star), quoted=phrase is not None)
        if negate:
            excluded.extend(terms)
        elif join_next:
            groups[-1].extend(terms)
            join_next = False
        else:
            groups.append(terms)
    if join_next:
        raise QueryError("OR needs a word on each side, as in: typo OR spelling")
    if not (groups or excluded or dates or has_attachment or is_root or len(lists) > given):
        # The query said nothing once cleaned ("-", "\u200b"): within the lists given it
        # would match every message of them.
        raise QueryError("type some words to search for (see the search help for more)")
    if lists:
        groups.append(
            [SearchTerm(facets.list_token(name), "facets") for name in dict.fromkeys(lists)]
        )
    if dates:
        groups.append(list(dates))
    if has_attachment:
        groups.append([SearchTerm(facets.ATTACHMENT, "facets")])
    if is_root:
        groups.append([SearchTerm(facets.ROOT, "facets")])
    if excluded and not groups:
        raise QueryError(
            "say what to search for as well as what to leave out: a word, l:list or d:date"
        )
    return SearchQuery(groups=tuple(tuple(g) for g in groups), excluded=tuple(excluded))


def run(
    store: Store,
    query: str,
    *,
    list_names: Sequence[str] | None = None,
    page: int = 1,
    per_page: int = 20,
    sort: str = "relevance",
) -> Results:
    """One page of the messages that match `query`, in the lists named (all when None)."""
    if sort not in ("relevance", "date"):
        raise QueryError("sort must be relevance or date")
    if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
        raise QueryError(f"page must be 1 or more, and per_page 1 to {MAX_PER_PAGE}")
    if not query.strip():
        raise QueryError("type some words to search for (see the search help for more)")
    parsed = parse_query(query, list_names or ())
    if not parsed.groups:
        raise QueryError("type some words to search for (see the search help for more)")
    total, hits, exact = store.search(
        parsed, by_date=sort == "date", limit=per_page, offset=(page - 1) * per_page
    )
    return Results(query, total, page, per_page, hits, exact)


# A query token that is one bare word (no field, no quotes, no -, no *): what a suggestion
# may put another word in place of.
_BARE = re.compile(r'(?<![\S])([^\s"*:-][^\s"*:]*)(?![\S])')
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
SUGGESTIONS = 3


def edits(word: str) -> list[str]:
    """The words one letter away from `word` (a letter left out, added, changed, or two
    swapped), its first letter kept (so they are near it in the index as well), sorted."""
    found: set[str] = set()
    for i in range(1, len(word) + 1):
        head, tail = word[:i], word[i:]
        if tail:
            found.add(head + tail[1:])
            found.update(head + c + tail[1:] for c in _LETTERS)
        if len(tail) > 1:
            found.add(head + tail[1] + tail[0] + tail[2:])
        found.update(head + c + tail for c in _LETTERS)
    found.discard(word)
    return sorted(found)


def suggest(store: Store, query: str, list_names: Sequence[str] | None = None) -> list[str]:
    """For a query that found nothing: the same query with its first word that no message
    holds (in any form) replaced by the words one letter away that messages hold, the
    most used first (at most SUGGESTIONS), then by the word's start as a prefix ("overf*")
    when that finds something."""
    within = [SearchTerm(facets.list_token(n), "facets") for n in dict.fromkeys(list_names or ())]
    for found in _BARE.finditer(query):
        token = found.group(1)
        cut = word_list(token)
        if token == "OR" or len(cut) != 1 or len(cut[0]) < 3 or not cut[0].isalpha():
            continue
        word = cut[0]
        if store.word_counts(stems.forms(word), within):
            continue
        counts = store.word_counts(edits(word), within)
        best = sorted(counts, key=lambda w: (-counts[w], w))[:SUGGESTIONS]
        start, end = found.span(1)
        out = [query[:start] + w + query[end:] for w in best]
        prefixed = query[:start] + word[: len(word) - 2] + "*" + query[end:]
        if len(word) >= 5 and run(store, prefixed, list_names=list_names, per_page=1).total:
            out.append(prefixed)
        return out
    return []


def snippet_html(snippet: str, mode: str) -> str:
    """A hit's snippet as HTML: text escaped, matches in <mark>, addresses obfuscated as
    the list asks (an address that was matched loses its highlight, never its disguise)."""
    if mode != "none" and "@" in snippet:
        snippet = _ADDRESS_MARKED.sub(
            lambda m: obfuscate(m.group(0).replace(MARK_START, "").replace(MARK_END, ""), mode),
            snippet,
        )
    escaped = str(escape(snippet))
    return escaped.replace(MARK_START, "<mark>").replace(MARK_END, "</mark>")


def hit_json(hit: SearchHit, mode: str) -> dict[str, Any]:
    """A hit as the JSON API and `piperarc search --json` give it."""
    return {
        "message_id": hit.mid,  # an identifier for lookups, not an address to disguise
        "list": hit.list_name,
        "url": urls.message(hit.list_name, hit.key),
        "subject": obfuscate(hit.subject, mode),
        "from": sender(hit.from_name, hit.from_addr, mode),
        "date": iso_date(hit.date_utc),
        "snippet": snippet_html(hit.snippet, mode),
    }
