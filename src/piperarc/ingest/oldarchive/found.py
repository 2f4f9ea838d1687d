"""What a reader of an old archive found in its folder: the pages it served, and for each
message page what tells which message it shows. Plain values; the readers fill them in and
`mapping` matches them to stored messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

# How an old page's Message-ID was learnt (or that it was not, and the page must be matched
# by what it shows: author, date and subject).
How = Literal["database", "reply-link", "page-comment", "shown"]

# What an old page that is not a message page showed: the list's old index, a period's
# index/thread/date/subject/author page, a period's download.
IndexKind = Literal["home", "period", "download"]


@dataclass(frozen=True, slots=True)
class OldMessagePage:
    """One message page of the old archive."""

    path: str  # relative to the old archive's folder, "/"-separated: "2009-November/000000.html"
    mid: str | None  # the Message-ID, with <>, the old archive records for this page
    how: How  # where `mid` came from; "shown" when it is None (match by what the page shows)
    volume: str | None  # the period folder it sits in (Pipermail "2009-November"); else None
    subject: str  # the subject the page shows (its title), for matching a page with no mid
    author: str  # the author's name (or address) the page shows
    date: int | None  # the date the page shows, as epoch seconds; None if it could not be read
    attachments: tuple[str, ...] = ()  # attachment files the page links, relative to the folder
    number: int | None = None  # the old archive's own number for the message, where it has one


@dataclass(frozen=True, slots=True)
class OldIndexPage:
    """A page of the old archive that is not a message: it redirects to a period or home."""

    path: str  # relative to the folder: "index.html", "2009-November/thread.html", "….txt.gz"
    kind: IndexKind
    volume: str | None  # the period it shows or downloads (None for "home")


@dataclass(frozen=True, slots=True)
class OldSource:
    """A file of the old archive that holds messages themselves (Pipermail's period .txt or
    .txt.gz), read when the list's raw mbox is not given."""

    path: Path
    volume: str | None
    note: str  # shown on every message page it brought in: what the old tool changed in it


@dataclass
class OldArchive:
    """Everything a reader found in an old archive's folder."""

    kind: str  # "pipermail", "mhonarc" or "hypermail"
    folder: Path
    messages: list[OldMessagePage] = field(default_factory=list)
    pages: list[OldIndexPage] = field(default_factory=list)
    sources: list[OldSource] = field(default_factory=list)  # in volume order
    problems: list[str] = field(default_factory=list)  # one line each, what could not be read
