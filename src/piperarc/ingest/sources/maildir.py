"""Maildir folders (new/ and cur/; tmp/ holds deliveries in progress and is skipped)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from piperarc.errors import SourceError
from piperarc.ingest.sources.raw import Progress, RawMail


def read_messages(folder: Path, progress: Progress | None = None) -> Iterator[RawMail]:
    """Every message of the Maildir, new/ then cur/, each in file-name order."""
    unreadable: list[str] = []
    paths = [
        path
        for sub in ("new", "cur")
        if (folder / sub).is_dir()
        for path in sorted((folder / sub).iterdir())
        if not path.name.startswith(".") and path.is_file()
    ]
    for done, path in enumerate(paths):
        if progress is not None:
            progress(done, len(paths))
        try:
            data = path.read_bytes()
        except OSError as err:
            unreadable.append(f"{path.name}: {err.strerror or err}")
            continue
        yield RawMail(data, None, str(path))
    if unreadable:
        raise SourceError(
            f"{len(unreadable)} files unreadable ({'; '.join(unreadable[:3])})", folder
        )
