"""Readers that yield raw messages from mbox files, Maildirs, single messages and stdin.

Readers never parse and never write: they hand out bytes (and the mbox envelope line) and
say where each message came from, so a problem can name its file.

    raw         RawMail (bytes, envelope, where it came from) and the progress callback
    mbox        mbox files, plain or gzip/bzip2/xz, truncated ones reported
    maildir     Maildir folders (new/ and cur/)
    folder      any other folder: each file in it a message or an mbox
    eml         single messages and stdin
    shown       names and bytes from a source made safe to print
    sample      the demo list `piperarc demo` archives

May import only errors: readers know nothing of parsing or storing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from piperarc.errors import SourceError
from piperarc.ingest.sources import eml, folder, maildir, mbox, shown
from piperarc.ingest.sources.raw import Progress, RawMail

__all__ = ["FORMATS", "RawMail", "detect", "read_source"]

FORMATS = ("mbox", "mboxrd", "mboxo", "maildir", "eml")


def detect(path: Path) -> str:
    """The kind of mail source at `path`, from what it holds (not only its name)."""
    if path.is_dir():
        if (path / "cur").is_dir() or (path / "new").is_dir():
            return "maildir"
        return "folder"
    if not path.exists():
        raise SourceError("no such file or folder", path)
    try:
        head = mbox.peek(path)
    except OSError as err:
        raise SourceError(f"cannot read: {err.strerror or err}", path) from err
    if path.suffix.lower() == ".eml":
        return "eml"  # one message, even when an envelope From_ line comes first
    if head.startswith(b"From "):
        return "mbox"
    if eml.looks_like_message(head):
        return "eml"
    if shown.is_binary(head):
        raise SourceError(
            f"binary data, not mail (it starts with the bytes {shown.hex_head(head)})",
            path,
        )
    first = shown.printable(head.split(b"\n", 1)[0][:60].decode("utf-8", "backslashreplace"))
    raise SourceError(
        f"not an mbox, Maildir or message (it starts with '{first}', not a 'From ' line "
        "or a header); use --format to say what it is",
        path,
    )


def read_source(
    path: Path, fmt: str | None = None, progress: Progress | None = None
) -> Iterator[RawMail]:
    """Every message at `path`. Raises SourceError (after yielding what it could) on bad input."""
    kind = fmt or detect(path)
    if kind != "maildir" and path.is_dir():
        # Each file on its own: a stray file that is not mail is reported, the rest read.
        return folder.read_messages(path, lambda file: read_source(file, fmt), progress)
    if kind in ("mbox", "mboxrd", "mboxo"):
        return mbox.read_messages(path, "mboxo" if kind == "mboxo" else "mboxrd", progress)
    if kind == "maildir":
        return maildir.read_messages(path, progress)
    if kind == "eml":
        return eml.read_file(path)
    raise SourceError(f"unknown format {kind!r} (choose from {', '.join(FORMATS)})", path)


def read_stdin(stream: BinaryIO) -> Iterator[RawMail]:
    """One message on standard input (an mbox From_ line before it is allowed)."""
    yield eml.from_bytes(stream.read(), "<stdin>")
