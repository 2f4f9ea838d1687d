"""Subjects for sorting and threading: list tags and reply/forward prefixes understood."""

from __future__ import annotations

import re

_WS = re.compile(r"\s+")
_LIST_TAG = re.compile(r"^\s*\[[^\]]{1,40}\]\s*")
# Reply and forward prefixes of many languages (Re, Fwd, Fw, AW/WG German, SV Nordic,
# Antw Dutch, VS Finnish, TR French, RIF Italian) and counters such as RE[2] and Re^2.
_PREFIX = re.compile(
    r"^\s*(?:re|fwd?|aw|wg|sv|antw|vs|ref|rif|tr)(?:\[\d+\]|\^\d+)?\s*:\s*", re.IGNORECASE
)


def _strip(subject: str) -> tuple[str, bool]:
    """(subject without leading tags and prefixes, whether a reply/forward prefix was seen)."""
    prefixed = False
    while True:
        tagless = _LIST_TAG.sub("", subject, count=1)
        unprefixed = _PREFIX.sub("", tagless, count=1)
        prefixed = prefixed or unprefixed != tagless
        if unprefixed == subject:
            return subject, prefixed
        subject = unprefixed


def subject_base(subject: str) -> str:
    """ "[salon] Re: AW: Plans" → "plans": for sorting and for JWZ's subject grouping."""
    return _WS.sub(" ", _strip(subject)[0]).strip().lower()


def is_reply(subject: str) -> bool:
    """True when the subject carries a reply or forward prefix ("Re:", "AW:", "Fwd:")."""
    return _strip(subject)[1]
