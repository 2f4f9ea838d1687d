"""Message-IDs: cleaning, extracting reference lists, and the stable URL key.

A message's identity is its Message-ID (RFC 5322 section 3.6.4), as in public-inbox. Its URL
key is derived from the Message-ID alone, never from a Date or Subject that a better parser
could later read differently, so the same mail archived anywhere, any time, gets the same URL.
"""

from __future__ import annotations

import base64
import hashlib
import re

# RFC 5322 msg-id is "<" id-left "@" id-right ">"; real mail also has ids without "@",
# with spaces, or without brackets. Take what is between brackets, else the bare token.
_BRACKETED = re.compile(r"<([^<>]+)>")
_WS = re.compile(r"\s+")

SYNTHETIC_DOMAIN = "piperarc.invalid"  # RFC 2606: .invalid can never be a real domain


def clean(value: str | None) -> str | None:
    """The Message-ID in a header value, without brackets or whitespace; None if empty."""
    if not value:
        return None
    match = _BRACKETED.search(value)
    token = match.group(1) if match else value
    token = _WS.sub("", token).strip("<>")
    return token or None


def asked(value: str) -> str:
    """The Message-ID a person gave (a URL's mid/..., a command's argument): as clean()
    reads it, else the text itself without its brackets."""
    return clean(value) or value.strip().strip("<>")


def extract(value: str | None) -> list[str]:
    """Every Message-ID in a References or In-Reply-To value, in order, without repeats."""
    if not value:
        return []
    found = [_WS.sub("", m) for m in _BRACKETED.findall(value)]
    if not found:
        # Some clients write bare ids separated by spaces.
        found = [t.strip("<>") for t in value.split() if "@" in t]
    seen: set[str] = set()
    ordered = []
    for mid in found:
        if mid and mid not in seen:
            seen.add(mid)
            ordered.append(mid)
    return ordered


# What threading reads of a message's ancestry: the first (the thread's root) and the nearest
# MAX_REFERENCES - 1, as news servers trim References (RFC 5537 3.4.4 keeps the first and the
# last three). A header of 50,000 ids would otherwise cost every later rethread of the list
# time in proportion to it; the message keeps its header as it came.
MAX_REFERENCES = 64


def capped(refs: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The references threading reads: the first and the nearest, at most MAX_REFERENCES."""
    if len(refs) <= MAX_REFERENCES:
        return tuple(refs)
    return (refs[0], *refs[len(refs) - MAX_REFERENCES + 1 :])


def references(refs_value: str | None, in_reply_to_value: str | None) -> tuple[str, ...]:
    """The ancestors of a message, oldest first: References, then In-Reply-To if it is new.

    JWZ threading trusts References first; In-Reply-To is a fallback (it may also hold
    prose such as "your message of ..."; we take only bracketed ids from it).
    """
    refs = extract(refs_value)
    irt = _BRACKETED.findall(in_reply_to_value or "")
    if irt:
        parent = _WS.sub("", irt[0])
        if parent and parent not in refs:
            refs.append(parent)
    return capped(refs)


def synthetic(digest: str) -> str:
    """A stable Message-ID for a message that had none, derived from its content."""
    return f"{digest[:32]}@{SYNTHETIC_DOMAIN}"


def url_key(mid: str) -> str:
    """The URL key of a Message-ID: 16 lower-case base32 characters (80 bits of SHA-1).

    Lower case and fixed length, so it is safe as a file name on every file system
    (including case-insensitive ones) and in every URL.
    """
    digest = hashlib.sha1(mid.encode("utf-8", "surrogateescape")).digest()
    # Base32 writes 5 bytes as 8 characters: the first 10 bytes are the first 16.
    return base64.b32encode(digest[:10]).decode("ascii").lower()


def hyperkitty_hash(mid: str) -> str:
    """The hash HyperKitty names a message by in its URLs (and Mailman 3 puts in the
    Message-ID-Hash header): base32 of the SHA-1 of the Message-ID without angle brackets."""
    return base64.b32encode(hashlib.sha1(mid.encode("utf-8", "surrogateescape")).digest()).decode()
