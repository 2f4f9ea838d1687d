"""A search hit's snippet: some twenty words of the message around the most matched words,
every matched word marked, chosen from the sender's own text first: the quoted lines, the
signature and the list's footer ("____ USRP-users mailing list …") only when the words are
nowhere else. The same on every backend (the stores hand over the text, this picks)."""

from __future__ import annotations

import bisect
import itertools
import re

from piperarc.mail.words import WORD as _WORD
from piperarc.mail.words import fold, split_tail, words
from piperarc.model import MARK_END, MARK_START, SearchQuery

SIZE = 24  # words in a snippet


def snippet(own: str, quoted: str, query: SearchQuery, size: int = SIZE) -> str:
    """The snippet of a message whose own lines are `own` and quoted lines `quoted`: from
    the first of (own text, quoted lines, signature and footer) that holds a matched word,
    else the start of the own text; matches between MARK_START and MARK_END, "…" where
    text was cut."""
    exact, prefixes = _wanted(query)
    main, tail = split_tail(own)
    for text in (main, quoted, tail):
        folded = _fold_in_place(text)
        spans = _hits(folded, exact, prefixes)
        if spans:
            return " ".join(_window(text, folded, spans, size).split())
    for text in (main, own, quoted):
        if _WORD.search(text):
            return " ".join(_window(text, _fold_in_place(text), [], size).split())
    return " ".join(own[:200].split())


def _wanted(query: SearchQuery) -> tuple[set[str], list[str]]:
    """The words a snippet marks (every form a word was widened to), and the prefixes."""
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
    return exact, prefixes


def _fold_in_place(text: str) -> str:
    """`fold` that keeps every character's offset, so words found in the folded text
    point into the original (a character that folds to more or less than one keeps
    a one-character form)."""

    def one(found: re.Match[str]) -> str:
        ch = found.group()
        folded = fold(ch)
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


def _window(body: str, folded: str, spans: list[tuple[int, int]], size: int) -> str:
    """Up to `size` words of `body` around the most matches of `spans` (the start when
    none), each match marked."""
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
