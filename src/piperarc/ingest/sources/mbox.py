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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from piperarc.errors import SourceError, TruncatedSourceError
from piperarc.ingest.sources.raw import Progress, RawMail

_MBOXRD_QUOTED = re.compile(rb"^>+From ")
_MAGIC = ((b"\x1f\x8b", gzip.open), (b"BZh", bz2.open), (b"\xfd7zXZ\x00", lzma.open))


def peek(path: Path, size: int = 4096) -> bytes:
    """The first bytes of the file's content, decompressed; works on a cut-short file too."""
    with path.open("rb") as fh:
        head = fh.read(65536)
    decompressors: dict[bytes, Callable[[], Any]] = {
        b"\x1f\x8b": lambda: zlib.decompressobj(wbits=31),
        b"BZh": bz2.BZ2Decompressor,
        b"\xfd7zXZ\x00": lzma.LZMADecompressor,
    }
    for magic, make in decompressors.items():
        if head.startswith(magic):
            try:
                data: bytes = make().decompress(head)
                return data[:size]
            except (OSError, EOFError, lzma.LZMAError, zlib.error):
                return b""
    return head[:size]


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
            return io.BufferedReader(_Read1(opener(source, "rb")), 1 << 20)  # type: ignore[arg-type]
    return source


class _Read1(io.RawIOBase):
    """A raw stream over a decompressor that hands out what it has (read1), so that when
    the compressed file is cut short, every byte before the cut is still read."""

    def __init__(self, inner: BinaryIO) -> None:
        self.inner = inner

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.inner.read1(len(buffer))  # type: ignore[attr-defined]
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self.inner.close()
        super().close()


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
            yield _mail(lines, envelope, path, envelope_line)._replace(
                problem="the source was cut short inside this message: it may be incomplete"
            )
        raise TruncatedSourceError(
            f"cut short or corrupt after line {number} ({err}); the messages before it were read",
            path,
        ) from err
    if envelope is not None:
        yield _mail(lines, envelope, path, envelope_line)


def _mail(lines: list[bytes], envelope: bytes | None, path: Path, line: int) -> RawMail:
    env = envelope.rstrip(b"\r\n").decode("utf-8", "replace") if envelope else None
    return RawMail(_finish(lines), env, f"{path}:{line}")
