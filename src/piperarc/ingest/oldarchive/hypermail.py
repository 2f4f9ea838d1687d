"""A Hypermail output folder: its NNNN.html message pages, read by the comments Hypermail
writes in each (`<!-- id="..." -->`, subject, name, email, sent, inreplyto), its index pages
(index.html, date.html, subject.html, author.html, attachment.html) and the attachments it
saved in att-NNNN/ folders.

What the data (Hypermail 3.0, default settings, on linux-man) and its printcomment() showed:
- a value holding "--" (illegal in an HTML comment) has every "-" written "&ndash;";
- id and inreplyto are otherwise written raw, with their first "@" written "_at_"
  (spamprotect_id, on by default); subject, name and email are HTML-escaped as well;
- a message without a Message-ID, or with one already seen, gets a made-up id
  "TIME.NNNN@hypermail.dummy", which is not the message's: read as none;
- sent is the message's Date header as it came.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from piperarc.errors import SourceError
from piperarc.ingest.oldarchive import pagemail
from piperarc.ingest.oldarchive.found import OldArchive, OldIndexPage, OldMessagePage

KIND = "hypermail"
EXPECTED = 'expected NNNN.html pages with <!-- id="..." --> comments'

_PAGE = re.compile(r"(\d+)\.html")
_INDEXES = ("index.html", "date.html", "subject.html", "author.html", "attachment.html")
_COMMENT = re.compile(r'^<!-- ([a-z]+)="(.*)" -->[ \t\r]*$', re.MULTILINE)
_BODY = ('<!-- body="start" -->', '<!-- body="end" -->')
_AT = "_at_"
_MADE_UP = "@hypermail.dummy>"
# An address in shown text (subject, name) that Hypermail wrote "jane_at_example.org".
_SHOWN_AT = re.compile(r"(?<=[\w.+-])_at_(?=[\w-]+(?:\.[\w-]+)+)")
# What Hypermail puts before a subject or name whose charset it could not tell.
_UNKNOWN_CHARSET = "(unknown charset) "
_TITLE = re.compile(r"<title>(.*?)</title>", re.IGNORECASE | re.DOTALL)
# Inside the body markers, Hypermail 3 also shows the From/Date list and "Received on".
_NOT_THE_TEXT = ("headers", "received")


def restore_at(value: str) -> str:
    """An id or address with the "@" Hypermail wrote as "_at_" put back.

    Hypermail replaced the first "@" only, so the "_at_" to restore comes before any "@"
    left in the value; of those, the last: a "_at_" the id held itself is far likelier in
    its left part (free-form: "CABFr_RX...") than in its right part (mostly a host name,
    where "_" is rare). A value without "_at_" had no "@" and is kept as it is."""
    left, at, right = value.partition("@")
    cut = left.rfind(_AT)
    if cut < 0:
        return value
    return left[:cut] + "@" + left[cut + len(_AT) :] + at + right


def _undash(value: str) -> str:
    return value.replace("&ndash;", "-")


def _id(value: str | None) -> str | None:
    """A Message-ID from an id or inreplyto comment, with <>; None for a made-up one."""
    if not value:
        return None
    mid = f"<{restore_at(''.join(_undash(value).split()))}>"
    return None if mid.endswith(_MADE_UP) else mid


class _Page:
    """What one message page says, read from its text."""

    def __init__(self, text: str) -> None:
        self.text = text
        start = text.find(_BODY[0])
        # The comments before the message's own text: a mail cannot forge them.
        self.raw: dict[str, list[str]] = {}
        for match in _COMMENT.finditer(text[: start if start >= 0 else len(text)]):
            self.raw.setdefault(match.group(1), []).append(match.group(2))

    def is_hypermail(self) -> bool:
        return bool(self.raw) or _BODY[0] in self.text

    def raw_one(self, name: str) -> str | None:
        values = self.raw.get(name)
        return values[0] if values else None

    def one(self, name: str) -> str:
        """An escaped comment (subject, name, email, sent) as text."""
        value = self.raw_one(name)
        return " ".join(html.unescape(_undash(value)).split()) if value else ""

    def shown(self, name: str) -> str:
        """A subject or name as the message had it, as far as can be told."""
        return _SHOWN_AT.sub("@", self.one(name).removeprefix(_UNKNOWN_CHARSET))

    def mid(self) -> str | None:
        return _id(self.raw_one("id"))

    def subject(self) -> str:
        if "subject" in self.raw:
            return self.shown("subject")
        title = _TITLE.search(self.text)
        return " ".join(html.unescape(title.group(1)).split()) if title else ""

    def address(self) -> str:
        return restore_at(self.one("email"))

    def name(self) -> str:
        """The name shown; none when Hypermail showed the address for want of one."""
        if self.one("name").removeprefix(_UNKNOWN_CHARSET) == self.one("email"):
            return ""
        return self.shown("name")

    def author(self) -> str:
        return self.name() or self.address()

    def sender(self) -> str:
        name, address = self.name(), self.address()
        if not address:
            return name
        return f"{name} <{address}>" if name else address

    def date(self) -> int | None:
        sent = self.one("sent")
        if sent:
            # Not isosent when sent cannot be read: Hypermail had to guess its zone then.
            return pagemail.page_date(sent)
        return _iso_utc(self.one("isosent"))

    def references(self) -> list[str]:
        parent = _id(self.raw_one("inreplyto"))
        return [parent] if parent else []

    def attachment_names(self) -> list[str]:
        return [html.unescape(_undash(value)) for value in self.raw.get("attachment", [])]

    def body(self) -> str:
        fragment = pagemail.between(self.text, *_BODY) or ""
        return pagemail.html_text(fragment, skip_classes=_NOT_THE_TEXT)


def _iso_utc(value: str) -> int | None:
    """isosent: the instant of sent in UTC, as YYYYMMDDhhmmss."""
    try:
        when = datetime.strptime(value, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None
    return int(when.timestamp())


def _read_page(folder: Path, name: str) -> _Page:
    return _Page(pagemail.page_text(folder, name))


def read(folder: Path) -> OldArchive:
    """Every message and index page of a Hypermail output folder. One page that cannot be
    read is one line in `problems`; a folder with no Hypermail message page is a SourceError."""
    if not folder.is_dir():
        raise SourceError(f"not a Hypermail output folder: it is not a folder ({EXPECTED})", folder)
    archive = OldArchive(kind=KIND, folder=folder)
    names = pagemail.file_names(folder)
    pages = pagemail.numbered(names, _PAGE)
    with_id = 0
    for name, number in pages:
        try:
            page = _read_page(folder, name)
        except (OSError, ValueError, LookupError) as err:
            archive.problems.append(f"{name}: cannot be read: {err}")
            continue
        if not page.is_hypermail():
            archive.problems.append(f"{name}: not a Hypermail message page (no comments)")
            continue
        if page.raw_one("id") is None:
            archive.problems.append(f"{name}: no id comment; to be matched by what it shows")
        else:
            with_id += 1
        mid = page.mid()
        stem = name.removesuffix(".html")
        archive.messages.append(
            OldMessagePage(
                path=name,
                mid=mid,
                how="page-comment" if mid else "shown",
                volume=None,
                subject=page.subject(),
                author=page.author(),
                date=page.date(),
                attachments=pagemail.linked_files(
                    folder, name, page.text, [f"att-{stem}/{a}" for a in page.attachment_names()]
                ),
                number=number,
            )
        )
    if not with_id:
        found = (
            f"none of its {len(pages)} NNNN.html pages has an id comment"
            if pages
            else "it has no NNNN.html page"
        )
        raise SourceError(f"not a Hypermail output folder: {found} ({EXPECTED})", folder)
    archive.pages = [OldIndexPage(name, "home", None) for name in names if name in _INDEXES]
    return archive


def page_messages(archive: OldArchive) -> Iterator[tuple[OldMessagePage, bytes]]:
    """For each message page, the message rebuilt from what it shows (headers, text), for
    when nothing else of the mail is left. A page that cannot be read again is a problem.
    Addresses in the text stay as Hypermail showed them ("jane_at_example.org")."""
    for found in archive.messages:
        try:
            page = _read_page(archive.folder, found.path)
        except (OSError, ValueError, LookupError) as err:
            archive.problems.append(f"{found.path}: cannot be read: {err}")
            continue
        yield (
            found,
            pagemail.recovered_message(
                kind=KIND,
                page_path=found.path,
                author=page.sender() or found.author,
                date=page.one("sent") or None,
                when=found.date,
                subject=found.subject,
                mid=found.mid,
                references=page.references(),
                body=page.body(),
            ),
        )
