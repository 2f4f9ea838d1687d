"""The one exception tree of piperarc.

    PiperarcError                 anything piperarc reports to a user as one clear line
    ├── ConfigError               piperarc.toml is missing, unreadable or wrong
    │   └── UnknownListError      a --list NAME that the archive does not define
    ├── ArchiveNotFoundError      --archive DIR is not a piperarc archive
    ├── SourceError               an input file or folder cannot be read as mail
    │   └── TruncatedSourceError  a source ended in the middle (a cut .xz, a half mbox)
    ├── StoreError                the database refused a read or a write
    │   └── DamagedArchiveError   the database is damaged, or holds less than it recorded
    ├── NotFoundError             a message, thread or period that is not in the archive
    └── QueryError                a search query that cannot be understood

Every error carries what it is about (`path`, a file or a list name) and the reason;
`str(err)` is the line the CLI prints. Errors are translated only at the edges (cli, web).
"""

from __future__ import annotations

from pathlib import Path


class PiperarcError(Exception):
    """Base of every error piperarc reports to a user."""

    def __init__(self, reason: str, path: str | Path | None = None) -> None:
        self.reason = reason
        self.path = str(path) if path is not None else None
        super().__init__(f"{self.path}: {reason}" if self.path else reason)


class ConfigError(PiperarcError):
    """piperarc.toml is missing, unreadable or holds a wrong value."""


class UnknownListError(ConfigError):
    """A list name that the archive's piperarc.toml does not define."""


class ArchiveNotFoundError(PiperarcError):
    """The folder given as the archive has no piperarc.toml."""


class SourceError(PiperarcError):
    """An input (file, folder, stdin) cannot be read as mail."""


class TruncatedSourceError(SourceError):
    """An input ended in the middle; what came before it was still read."""


class StoreError(PiperarcError):
    """The database refused a read or a write."""


class DamagedArchiveError(StoreError):
    """The archive's database is damaged or holds less than it recorded: refused, never
    read as an empty archive nor written into."""

    def __init__(self, reason: str, path: str | Path | None = None) -> None:
        # docs/operating.md says what each of these means and how to recover.
        super().__init__(f"{reason}; refused, nothing written (see docs/operating.md)", path)


class NotFoundError(PiperarcError):
    """A message, thread or period that is not in the archive."""


class QueryError(PiperarcError):
    """A search query that cannot be understood; the message says how to write it."""
