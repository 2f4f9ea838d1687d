"""mbox files, plain or compressed, read as a stream.

A message starts at every line beginning with "From " (as Python's mailbox.mbox and most
MUAs split). The blank line before the next From_ line is the separator, not part of the
message. mboxrd (https://www.loc.gov/preservation/digital/formats/fdd/fdd000385.shtml)
quotes every ">*From " line with one more ">"; we undo exactly one. mboxo only quoted
"From ", so only ">From " is unquoted there.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from piperarc.errors import SourceError, TruncatedSourceError
from piperarc.sources.raw import Progress, RawMail

_MBOXRD_QUOTED = re.compile(rb"^>+From ")
_MAGIC = ((b"\x1f\x8b", gzip.open), (b"BZh", bz2.open), (b"\xfd7zXZ\x00", lzma.open))


def open_maybe_compressed(path: Path, disk: BinaryIO | None = None) -> BinaryIO:
    """Open `path` for reading, decompressing gzip, bzip2 or xz by their magic bytes.

    When `disk` (the file opened in binary) is given, it is read through, so that its
    position tells how far into the file on disk the reading is."""
    source = disk if disk is not None else path.open("rb")
    head = source.read(6)
    source.seek(0)
    for magic, opener in _MAGIC:
        if head.startswith(magic):
            # The decompressors' own readline is pure Python; a buffer over them is C.
            return io.BufferedReader(opener(source, "rb"), 1 << 20)
    return source


def _finish(lines: list[bytes]) -> bytes:
    if lines and lines[-1] in (b"\n", b"\r\n"):
        lines.pop()  # the separator line
    return b"".join(lines)


def read_messages(
    path: Path, quoting: str = "mboxrd", progress: Progress | None = None
) -> Iterator[RawMail]:
    """Every message of the mbox at `path`, streamed; memory holds one message at a time.

    `progress(done, total)` is told how many bytes of the file on disk have been read."""
    quoted = _MBOXRD_QUOTED if quoting == "mboxrd" else re.compile(rb"^>From ")
    envelope: bytes | None = None
    envelope_line = 0
    lines: list[bytes] = []
    number = 0
    try:
        with path.open("rb") as disk, open_maybe_compressed(path, disk) as fh:
            total = path.stat().st_size
            for number, line in enumerate(fh, 1):
                if line.startswith(b"From "):
                    if envelope is not None:
                        if progress is not None:
                            progress(disk.tell(), total)
                        yield _mail(lines, envelope, path, envelope_line)
                    envelope, envelope_line, lines = line, number, []
                    continue
                if envelope is None:
                    if not line.strip():
                        continue  # blank lines before the first From_ line
                    raise SourceError(
                        f"not an mbox: line {number} comes before any 'From ' line", path
                    )
                if line[:1] == b">" and quoted.match(line):
                    line = line[1:]
                lines.append(line)
    except (EOFError, lzma.LZMAError, zlib.error, OSError) as err:
        if number == 0 and isinstance(err, OSError) and not isinstance(err, gzip.BadGzipFile):
            raise SourceError(f"cannot read: {err.strerror or err}", path) from err
        if envelope is not None:
            yield _mail(lines, envelope, path, envelope_line)
        raise TruncatedSourceError(
            f"cut short or corrupt after line {number} ({err}); the messages before it were read",
            path,
        ) from err
    if envelope is not None:
        yield _mail(lines, envelope, path, envelope_line)


def _mail(lines: list[bytes], envelope: bytes | None, path: Path, line: int) -> RawMail:
    env = envelope.rstrip(b"\r\n").decode("utf-8", "replace") if envelope else None
    return RawMail(_finish(lines), env, f"{path}:{line}")
