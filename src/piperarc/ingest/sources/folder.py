"""Folders of message files that are not Maildirs (a folder of .eml files, saved mail).

Each regular file is read as what it holds (one message, or an mbox), in file-name order so
that every import of the folder numbers its mail the same way. Hidden files (.DS_Store, an
editor's .swp) are skipped. A file that is not mail is reported and the rest is read:
one stray picture must not keep a folder of mail out of the archive.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from piperarc.errors import SourceError
from piperarc.ingest.sources.raw import Progress, RawMail

# How a file of the folder is read: read_source, with the folder's --format if one was given.
ReadFile = Callable[[Path], Iterable[RawMail]]

SHOWN_PROBLEMS = 3  # files named in the folder's problem line


def read_messages(
    folder: Path, read_file: ReadFile, progress: Progress | None = None
) -> Iterator[RawMail]:
    """Every message of every file in `folder`; raises SourceError at the end naming the
    files (and subfolders) that were not read."""
    try:
        entries = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    except OSError as err:
        raise SourceError(f"cannot read the folder: {err.strerror or err}", folder) from err
    problems: list[str] = []
    for done, path in enumerate(entries):
        if progress is not None:
            progress(done, len(entries))
        if path.is_dir():
            problems.append(f"{path.name}: a folder inside (import it on its own)")
            continue
        if not path.is_file():
            continue  # a socket, a fifo, a dangling link: nothing to read
        try:
            yield from read_file(path)
        except SourceError as err:  # what the file gave before the error is kept
            problems.append(f"{path.name}: {err.reason}")
    if not entries:
        raise SourceError("an empty folder: no mail in it", folder)
    if problems:
        shown = "; ".join(problems[:SHOWN_PROBLEMS])
        more = (
            f"; and {len(problems) - SHOWN_PROBLEMS} more" if len(problems) > SHOWN_PROBLEMS else ""
        )
        raise SourceError(
            f"{len(problems)} of the {len(entries)} files and folders in it not imported "
            f"({shown}{more})",
            folder,
        )
