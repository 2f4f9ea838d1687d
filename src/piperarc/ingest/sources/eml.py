"""Single messages: a .eml file, or one message on stdin."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from piperarc.errors import SourceError
from piperarc.ingest.sources.raw import RawMail

_HEADER_LINE = re.compile(rb"^[!-9;-~]+:")


def looks_like_message(head: bytes) -> bool:
    """True when `head` starts with an RFC 5322 header field."""
    return bool(_HEADER_LINE.match(head))


def from_bytes(data: bytes, origin: str) -> RawMail:
    """A message from whole bytes; a leading mbox From_ line is the envelope, not the message."""
    if data.startswith(b"From "):
        end = data.find(b"\n")
        line = data[: end if end >= 0 else len(data)]
        rest = data[end + 1 :] if end >= 0 else b""
        return RawMail(rest, line.rstrip(b"\r").decode("utf-8", "replace"), origin)
    return RawMail(data, None, origin)


def read_file(path: Path) -> Iterator[RawMail]:
    """The one message in a file."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise SourceError(f"cannot read: {err.strerror or err}", path) from err
    if not data:
        raise SourceError("empty file: no message in it", path)
    yield from_bytes(data, str(path))
