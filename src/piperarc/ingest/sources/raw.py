"""The value every reader yields."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

# Told (done, total) as a reader goes: bytes of a file, or files of a folder.
Progress = Callable[[int, int], None]


class RawMail(NamedTuple):
    """One message as a reader found it."""

    raw: bytes  # the message, byte-exact, without an mbox From_ line
    envelope: str | None  # the From_ line it came with (no newline), if any
    origin: str  # "file.mbox:1234" (line of its From_ line) or a Maildir file's path
    problem: str | None = None  # what the reader saw wrong, e.g. the source ended inside it
