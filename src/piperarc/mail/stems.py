"""English word forms for search: a query word finds the other forms of it ("overflow" finds
"overflows", "overflowed", "overflowing"), by Porter's stemming algorithm (M. F. Porter, "An
algorithm for suffix stripping", 1980) written from its description.

The index keeps words as they are written (so a quoted phrase or a code identifier is found
exactly); a query word is widened instead: `forms` makes the words that share its stem from
its stem and common English endings, keeping those Porter conflates with it. Every search
(SQLite, PostgreSQL, the static site's search.js, which has the same code) widens a word the
same way, so all find the same messages."""

from __future__ import annotations

import re

_VOWELS = frozenset("aeiou")
# Only plain lower-case English-looking words are widened: not identifiers (digits,
# underscores: those are cut into several words), not other scripts, not short words.
_WIDENED = re.compile(r"[a-z]{3,40}")


def _consonant(word: str, i: int) -> bool:
    ch = word[i]
    if ch in _VOWELS:
        return False
    if ch == "y":
        return i == 0 or not _consonant(word, i - 1)
    return True


def _measure(stem: str) -> int:
    """m in [C](VC)^m[V]: how many vowel-consonant sequences `stem` has."""
    m, previous_vowel = 0, False
    for i in range(len(stem)):
        vowel = not _consonant(stem, i)
        if previous_vowel and not vowel:
            m += 1
        previous_vowel = vowel
    return m


def _has_vowel(stem: str) -> bool:
    return any(not _consonant(stem, i) for i in range(len(stem)))


def _double_consonant(stem: str) -> bool:
    return len(stem) >= 2 and stem[-1] == stem[-2] and _consonant(stem, len(stem) - 1)


def _cvc(stem: str) -> bool:
    """*o: ends consonant-vowel-consonant, the last not w, x or y."""
    n = len(stem)
    return (
        n >= 3
        and _consonant(stem, n - 3)
        and not _consonant(stem, n - 2)
        and _consonant(stem, n - 1)
        and stem[-1] not in "wxy"
    )


_STEP2 = (
    ("ational", "ate"),
    ("tional", "tion"),
    ("enci", "ence"),
    ("anci", "ance"),
    ("izer", "ize"),
    ("abli", "able"),
    ("alli", "al"),
    ("entli", "ent"),
    ("eli", "e"),
    ("ousli", "ous"),
    ("ization", "ize"),
    ("ation", "ate"),
    ("ator", "ate"),
    ("alism", "al"),
    ("iveness", "ive"),
    ("fulness", "ful"),
    ("ousness", "ous"),
    ("aliti", "al"),
    ("iviti", "ive"),
    ("biliti", "ble"),
)
_STEP3 = (
    ("icate", "ic"),
    ("ative", ""),
    ("alize", "al"),
    ("iciti", "ic"),
    ("ical", "ic"),
    ("ful", ""),
    ("ness", ""),
)
_STEP4 = (
    "al",
    "ance",
    "ence",
    "er",
    "ic",
    "able",
    "ible",
    "ant",
    "ement",
    "ment",
    "ent",
    "ion",
    "ou",
    "ism",
    "ate",
    "iti",
    "ous",
    "ive",
    "ize",
)


def _longest(word: str, suffixes: tuple[str, ...]) -> str | None:
    found = [s for s in suffixes if word.endswith(s)]
    return max(found, key=len) if found else None


def _replace(word: str, rules: tuple[tuple[str, str], ...], minimum: int) -> str:
    """The longest suffix of `rules` that `word` ends with, replaced when the stem before it
    measures more than `minimum`."""
    suffix = _longest(word, tuple(s for s, _ in rules))
    if suffix is None:
        return word
    stem = word[: -len(suffix)]
    return stem + dict(rules)[suffix] if _measure(stem) > minimum else word


def stem(word: str) -> str:
    """The Porter stem of a lower-case word ("overflowing" → "overflow")."""
    if len(word) <= 2:
        return word
    # Step 1a: plurals.
    if word.endswith(("sses", "ies")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    # Step 1b: -eed, -ed, -ing.
    if word.endswith("eed"):
        if _measure(word[:-3]) > 0:
            word = word[:-1]
    else:
        for suffix in ("ed", "ing"):
            if word.endswith(suffix) and _has_vowel(word[: -len(suffix)]):
                word = word[: -len(suffix)]
                if word.endswith(("at", "bl", "iz")):
                    word += "e"
                elif _double_consonant(word) and word[-1] not in "lsz":
                    word = word[:-1]
                elif _measure(word) == 1 and _cvc(word):
                    word += "e"
                break
    # Step 1c: y → i after a vowel.
    if word.endswith("y") and _has_vowel(word[:-1]):
        word = word[:-1] + "i"
    word = _replace(word, _STEP2, 0)
    word = _replace(word, _STEP3, 0)
    # Step 4: -al, -ance, … where the stem measures more than 1 (-ion after s or t only).
    last = _longest(word, _STEP4)
    if last is not None:
        before = word[: -len(last)]
        if _measure(before) > 1 and (last != "ion" or before.endswith(("s", "t"))):
            word = before
    # Step 5: a final e, a final double l.
    if word.endswith("e"):
        before = word[:-1]
        m = _measure(before)
        if m > 1 or (m == 1 and not _cvc(before)):
            word = before
    if _measure(word) > 1 and _double_consonant(word) and word.endswith("l"):
        word = word[:-1]
    return word


# Endings that make the forms of a word from its stem (the stem may have lost an e, a y
# or a doubled consonant on the way: `forms` tries those bases too).
ENDINGS = (
    "",
    "s",
    "es",
    "d",
    "ed",
    "ing",
    "er",
    "ers",
    "est",
    "ly",
    "e",
    "y",
    "ies",
    "ied",
    "ier",
    "iest",
    "ily",
    "iness",
    "ion",
    "ions",
    "ional",
    "ation",
    "ations",
    "ate",
    "ates",
    "ated",
    "ating",
    "ator",
    "ators",
    "ative",
    "ive",
    "ively",
    "ness",
    "ful",
    "fully",
    "ment",
    "ments",
    "ity",
    "ities",
    "ism",
    "isms",
    "ist",
    "ists",
    "able",
    "ably",
    "ible",
    "al",
    "ally",
    "ance",
    "ence",
    "ize",
    "izes",
    "ized",
    "izing",
    "ization",
    "ic",
    "ical",
    "ically",
    "ous",
    "ously",
    "ant",
    "ent",
    "ings",
    "ement",
    "ements",
    "ences",
    "ances",
    "ency",
    "encies",
    "ancy",
    "ancies",
    "ability",
    "abilities",
    "ibility",
    "ibilities",
    "ility",
    "ilities",
    "izer",
    "izers",
    "ionally",
    "ently",
    "antly",
    "eful",
)


def widened(word: str) -> bool:
    """Whether a query word is widened to its forms (plain English-looking words only)."""
    return _WIDENED.fullmatch(word) is not None


def forms(word: str) -> list[str]:
    """`word` and the words made from its stem with ENDINGS that Porter stems alike, sorted
    (just [word] for a word that is not widened)."""
    if not widened(word):
        return [word]
    root = stem(word)
    bases = {root, word, root + "e"}
    if root.endswith(("e", "y")):
        bases.add(root[:-1])
    if root.endswith("i"):
        bases.update((root[:-1] + "y", root[:-1]))
    if root.endswith("bl"):
        bases.add(root[:-1])
    if root[-1] not in _VOWELS:
        bases.add(root + root[-1])
    found = {word}
    for base in bases:
        for ending in ENDINGS:
            candidate = base + ending
            if candidate not in found and stem(candidate) == root:
                found.add(candidate)
    return sorted(found)
