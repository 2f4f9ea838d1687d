"""A MHonArc output folder: its msgNNNNN.html message pages, read by the comments MHonArc
writes at the top of each (X-Message-Id, X-Subject, X-From-R13, X-Date), and its index
pages (maillist.html, threads.html, mail2.html, thrd2.html, ...).

What the data showed (MHonArc 2.6.19 on linux-man):
- comment values are HTML-escaped, "-" as "&#45;" so that no "--" ends the comment early;
- X-Message-Id is the Message-ID without <>; a message without one gets a made-up id
  "<md5 of its header>@NO-ID-FOUND.mhonarc.org", which is not the message's: read as none;
- X-From-R13 is the From header, raw (RFC 2047 words and all), with "@A-Z[" rotated by 14
  and "a-z" by 13, both their own inverse;
- X-Date is the date MHonArc sorted by: the first Received header's, in the archiver's own
  zone, hours from the message's Date. The page's header list shows the Date itself, so that
  is the date read; X-Date only when the list shows none;
- X-Reference, one per line, are the References and In-Reply-To ids, the parent last;
- X-Derived names each file MHonArc wrote out of the message (attachments, signatures).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from email.utils import parseaddr
from pathlib import Path

from piperarc.errors import SourceError
from piperarc.ingest.oldarchive import pagemail
from piperarc.ingest.oldarchive.found import OldArchive, OldIndexPage, OldMessagePage

KIND = "mhonarc"
EXPECTED = "expected msgNNNNN.html pages with X-Message-Id comments"

_PAGE = re.compile(r"msg(\d+)\.html")
_INDEX = re.compile(r"(?:maillist|threads|mail\d+|thrd\d+)\.html")
_COMMENT = re.compile(r"^<!--X-([A-Za-z0-9-]+):(.*?)-->[ \t\r]*$", re.MULTILINE)
_MADE_UP = "@NO-ID-FOUND.mhonarc.org>"
_BODY = ("<!--X-Body-of-Message-->", "<!--X-Body-of-Message-End-->")
_HEAD = ("<!--X-Head-of-Message-->", "<!--X-Head-of-Message-End-->")
_TITLE = re.compile(r"<title>(.*?)</title>", re.IGNORECASE | re.DOTALL)

# MHonArc's R13: "@A-Z[" (28 characters) turned by 14, "a-z" by 13; its own inverse.
_UPPER = "@ABCDEFGHIJKLMNOPQRSTUVWXYZ["
_LOWER = "abcdefghijklmnopqrstuvwxyz"
_R13 = str.maketrans(_UPPER + _LOWER, _UPPER[14:] + _UPPER[:14] + _LOWER[13:] + _LOWER[:13])


def r13(text: str) -> str:
    """MHonArc's R13 undone (or done: it is its own inverse)."""
    return text.translate(_R13)


class _Page:
    """What one message page says, read from its text."""

    def __init__(self, text: str) -> None:
        self.text = text
        body_at = text.find(_BODY[0])
        body_end = text.find(_BODY[1])
        # The comments outside the message's own text: a mail cannot forge them.
        outside = text if body_at < 0 or body_end < 0 else text[:body_at] + text[body_end:]
        self.raw: dict[str, list[str]] = {}  # still HTML-escaped
        for match in _COMMENT.finditer(outside):
            self.raw.setdefault(match.group(1).lower(), []).append(match.group(2).strip())
        head = pagemail.between(text, *_HEAD)
        self.shown: dict[str, str] = {}
        for line in pagemail.html_text(head or "").splitlines():
            name, sep, value = line.partition(":")
            if sep and name.strip() and name.strip().lower() not in self.shown:
                self.shown[name.strip().lower()] = value.strip()

    def all(self, name: str) -> list[str]:
        return [html.unescape(value) for value in self.raw.get(name, [])]

    def one(self, name: str) -> str | None:
        values = self.raw.get(name)
        return html.unescape(values[0]) if values else None

    def is_mhonarc(self) -> bool:
        return bool(self.raw) or _BODY[0] in self.text

    def mid(self) -> str | None:
        value = self.one("message-id")
        if not value:
            return None
        mid = f"<{''.join(value.split())}>"
        return None if mid.endswith(_MADE_UP) else mid

    def subject(self) -> str:
        value = self.one("subject")
        if value is None:
            title = _TITLE.search(self.text)
            value = html.unescape(title.group(1)) if title else self.shown.get("subject", "")
        return " ".join(pagemail.decode_words(value).split())

    def sender(self) -> str:
        """The From header as the message had it, encoded words decoded."""
        values = self.raw.get("from-r13")
        if values:
            # Its escapes are numeric ("&#60;"), which turning leaves alone: turn, then unescape.
            return " ".join(pagemail.decode_words(html.unescape(r13(values[0]))).split())
        return self.shown.get("from", "")

    def author(self) -> str:
        sender = self.sender()
        name, address = parseaddr(sender)
        return " ".join(name.split()) or address or sender

    def shown_date(self) -> str | None:
        return self.shown.get("date") or self.one("date")

    def date(self) -> int | None:
        return pagemail.page_date(self.shown.get("date"), self.one("date"))

    def references(self) -> list[str]:
        refs = [f"<{''.join(v.split())}>" for v in self.all("reference") if v]
        return [ref for ref in refs if not ref.endswith(_MADE_UP)]

    def body(self) -> str:
        return pagemail.html_text(pagemail.between(self.text, *_BODY) or "")


def _read_page(folder: Path, name: str) -> _Page:
    return _Page(pagemail.page_text(folder, name))


def read(folder: Path) -> OldArchive:
    """Every message and index page of a MHonArc output folder. One page that cannot be
    read is one line in `problems`; a folder with no MHonArc message page is a SourceError."""
    if not folder.is_dir():
        raise SourceError(f"not a MHonArc output folder: it is not a folder ({EXPECTED})", folder)
    archive = OldArchive(kind=KIND, folder=folder)
    names = pagemail.file_names(folder)
    pages = pagemail.numbered(names, _PAGE)
    with_mid = 0
    for name, number in pages:
        try:
            page = _read_page(folder, name)
        except (OSError, ValueError, LookupError) as err:
            archive.problems.append(f"{name}: cannot be read: {err}")
            continue
        if not page.is_mhonarc():
            archive.problems.append(f"{name}: not a MHonArc message page (no X- comments)")
            continue
        if page.one("message-id") is None:
            archive.problems.append(
                f"{name}: no X-Message-Id comment; to be matched by what it shows"
            )
        else:
            with_mid += 1
        mid = page.mid()
        archive.messages.append(
            OldMessagePage(
                path=name,
                mid=mid,
                how="page-comment" if mid else "shown",
                volume=None,
                subject=page.subject(),
                author=page.author(),
                date=page.date(),
                attachments=pagemail.linked_files(folder, name, page.text, page.all("derived")),
                number=number,
            )
        )
    if not with_mid:
        found = (
            f"none of its {len(pages)} msgNNNNN.html pages has an X-Message-Id comment"
            if pages
            else "it has no msgNNNNN.html page"
        )
        raise SourceError(f"not a MHonArc output folder: {found} ({EXPECTED})", folder)
    archive.pages = [OldIndexPage(name, "home", None) for name in names if _INDEX.fullmatch(name)]
    return archive


def page_messages(archive: OldArchive) -> Iterator[tuple[OldMessagePage, bytes]]:
    """For each message page, the message rebuilt from what it shows (headers, text), for
    when nothing else of the mail is left. A page that cannot be read again is a problem."""
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
                date=page.shown_date(),
                when=found.date,
                subject=found.subject,
                mid=found.mid,
                references=page.references(),
                body=page.body(),
            ),
        )
