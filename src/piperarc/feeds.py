"""Downloads made from raw messages: mboxrd (Atom feeds come with the live server issue).

mboxrd: each message gets a From_ line, every line matching ^>*From gets one more ">", and
a blank line follows the message. Nothing else changes: reading the result back with an
mboxrd reader gives every message byte for byte (one whose last line had no newline gets
one, which mbox cannot avoid).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator
from typing import BinaryIO

_FROM_LINE = re.compile(rb"^(>*From )", re.MULTILINE)


def envelope_line(envelope: str | None, from_addr: str, date_utc: int) -> bytes:
    """The From_ line for a message: the one it came with, else one made from its fields."""
    if envelope:
        return envelope.encode("utf-8", "replace")
    sender = from_addr if from_addr and " " not in from_addr else "MAILER-DAEMON"
    return f"From {sender} {time.asctime(time.gmtime(date_utc))}".encode("ascii", "replace")


def mboxrd_entry(from_line: bytes, raw: bytes) -> bytes:
    """One message as an mboxrd entry."""
    body = _FROM_LINE.sub(rb">\1", raw)
    if not body.endswith(b"\n"):
        body += b"\n"
    return from_line + b"\n" + body + b"\n"


def write_mboxrd(out: BinaryIO, entries: Iterable[tuple[bytes, bytes]]) -> int:
    """Write (From_ line, raw) pairs as mboxrd; returns the number written."""
    count = 0
    for from_line, raw in entries:
        out.write(mboxrd_entry(from_line, raw))
        count += 1
    return count


def mboxrd_chunks(entries: Iterable[tuple[bytes, bytes]]) -> Iterator[bytes]:
    """The mboxrd bytes of (From_ line, raw) pairs, one entry at a time."""
    for from_line, raw in entries:
        yield mboxrd_entry(from_line, raw)
