"""A Pipermail (Mailman 2) archive folder, read into plain values.

The folder is Mailman's `archives/private/LIST/`: `index.html`, one folder per period
("2009-November", "2009q4", "2009", "2009-Week-of-Mon-20091102", "20091102") holding the
article pages `NNNNNN.html` and the period's thread/date/subject/author views, the period's
text archive `PERIOD.txt` and `PERIOD.txt.gz`, `database/PERIOD-article` (which Message-ID
each article number is) and `attachments/`.

Which message a page shows is learnt, most trusted first, from the database, from the page's
own reply link (Mailman 2.1.10 and later put the page's raw Message-ID there), or not at all:
then the importer matches the page by the author, date and subject it shows.
"""

from __future__ import annotations

import calendar
import codecs
import email.utils
import gzip
import html
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from piperarc.errors import SourceError
from piperarc.ingest.oldarchive import pagemail
from piperarc.ingest.oldarchive.found import (
    How,
    OldArchive,
    OldIndexPage,
    OldMessagePage,
    OldSource,
)
from piperarc.ingest.oldarchive.pipermail_db import ArticleRow, read_article_file
from piperarc.ingest.oldarchive.shown_dates import shown_date

_MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
# Mailman 2's volume names, one per archive_volume_frequency (yearly, monthly, quarterly,
# weekly, daily).
_YEAR = re.compile(r"^(\d{4})$")
_MONTH = re.compile(r"^(\d{4})-(" + "|".join(_MONTH_NAMES) + r")$")
_QUARTER = re.compile(r"^(\d{4})q([1-4])$")
_WEEK = re.compile(r"^\d{4}-Week-of-Mon-(\d{4})(\d{2})(\d{2})$")
_DAY = re.compile(r"^(\d{4})(\d{2})(\d{2})$")

_ARTICLE_PAGE = re.compile(r"^(\d{6,})\.html$")
_PERIOD_VIEWS = ("index.html", "thread.html", "date.html", "subject.html", "author.html")

_CHARSET = re.compile(rb"""charset=["']?([A-Za-z0-9._:-]+)""", re.IGNORECASE)
_H1 = re.compile(r"<H1>(.*?)</H1>", re.IGNORECASE | re.DOTALL)
_TITLE = re.compile(r"<TITLE>(.*?)</TITLE>", re.IGNORECASE | re.DOTALL)
_AUTHOR = re.compile(r"<B>(.*?)</B>", re.IGNORECASE | re.DOTALL)
_SHOWN_DATE = re.compile(r"<I>(.*?)</I>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")
_REPLY_LINK = re.compile(r"In-Reply-To=([^\"'&\s>]*)", re.IGNORECASE)
_OWN_MID = re.compile(r"^<[^<>\s]+>$")
# Scrubbed attachments are linked by absolute URL (http://host/pipermail/LIST/attachments/
# 20091112/06977de8/attachment.html) or, later, by path (/pipermail/LIST/attachments/...).
_ATTACHMENT = re.compile(r"/(attachments/\d{8}/[0-9a-f]+/[^\s\"'<>&]+)")


def volume_start(volume: str) -> int | None:
    """Epoch seconds (UTC) of the first instant of a Pipermail volume name, or None when
    the name is not one: "2009-November", "2009q4", "2009", "2009-Week-of-Mon-20091102"
    or the daily "20091102"."""
    if match := _MONTH.match(volume):
        return _epoch(int(match[1]), _MONTH_NAMES.index(match[2]) + 1, 1)
    if match := _QUARTER.match(volume):
        return _epoch(int(match[1]), 3 * int(match[2]) - 2, 1)
    if match := _YEAR.match(volume):
        return _epoch(int(match[1]), 1, 1)
    if match := _WEEK.match(volume) or _DAY.match(volume):
        return _epoch(int(match[1]), int(match[2]), int(match[3]))
    return None


def _epoch(year: int, month: int, day: int) -> int | None:
    if not (1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]):
        return None
    return calendar.timegm((year, month, day, 0, 0, 0, 0, 0, 0))


def read(folder: Path) -> OldArchive:
    """Every page, period and text archive of a Pipermail folder. Raises SourceError when
    the folder is not one; whatever cannot be read inside is one line in `problems`."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SourceError(
            "not a Pipermail archive folder: it is not a folder (expected Mailman 2's "
            "archives/private/LIST/ folder)",
            folder,
        )
    archive = OldArchive(kind="pipermail", folder=folder)
    try:
        volumes = _volumes(folder)
        article_files = sorted((folder / "database").glob("*-article"))
    except OSError as err:
        raise SourceError(f"the folder cannot be read ({err.strerror or err})", folder) from None
    pages = {v: _article_pages(folder / v, archive.problems) for v in volumes}
    has_pages = any(pages.values())
    if not has_pages and not article_files:
        raise SourceError(
            "not a Pipermail archive folder: found no period folder holding article pages "
            "(like 2009-November/000000.html) and no database/PERIOD-article file (expected "
            "Mailman 2's archives/private/LIST/ folder)",
            folder,
        )
    rows = _database(article_files, archive.problems)
    archive.pages.append(OldIndexPage("index.html", "home", None))
    unknown_zones: Counter[str] = Counter()
    for volume in volumes:
        period = folder / volume
        if period.is_dir():
            for view in _PERIOD_VIEWS:
                if (period / view).is_file() or (period / view).is_symlink():
                    archive.pages.append(OldIndexPage(f"{volume}/{view}", "period", volume))
            for number, page in pages[volume]:
                found = _message_page(page, volume, number, rows, archive.problems)
                archive.messages.append(found.page)
                if found.unknown_zone:
                    unknown_zones[found.unknown_zone] += 1
        _downloads(folder, volume, archive)
    for zone, count in sorted(unknown_zones.items()):
        archive.problems.append(
            f"{count} page(s) show dates in the time zone {zone!r}, which is not known: "
            "their dates were left unread"
        )
    return archive


def _volumes(folder: Path) -> list[str]:
    """Every period the folder has a page folder, text archive or database file for, in
    chronological order."""
    names: set[str] = set()
    for entry in folder.iterdir():
        name = entry.name
        for suffix in (".txt.gz", ".txt"):
            if name.endswith(suffix):
                name = name.removesuffix(suffix)
                break
        else:
            if not entry.is_dir():
                continue
        if volume_start(name) is not None:
            names.add(name)
    for article in (folder / "database").glob("*-article"):
        name = article.name.removesuffix("-article")
        if volume_start(name) is not None:
            names.add(name)
    return sorted(names, key=lambda name: (volume_start(name) or 0, name))


def _article_pages(period: Path, problems: list[str]) -> list[tuple[int, Path]]:
    if not period.is_dir():
        return []
    try:
        entries = list(period.iterdir())
    except OSError as err:
        problems.append(f"{period.name}/: cannot be read ({err.strerror or err})")
        return []
    pages = [(int(m[1]), e) for e in entries if (m := _ARTICLE_PAGE.match(e.name))]
    return sorted(pages)


def _database(
    article_files: list[Path], problems: list[str]
) -> dict[tuple[str, str], list[ArticleRow]]:
    """The database rows by (volume, page file name). More than one row per page happens
    only in a damaged or hand-merged database; the page's own reply link then decides."""
    rows: dict[tuple[str, str], list[ArticleRow]] = {}
    for path in article_files:
        found = read_article_file(path)
        if found.problem:
            problems.append(found.problem + "; its pages were read without it")
        for row in found.rows:
            rows.setdefault((row.volume, row.filename), []).append(row)
    return rows


@dataclass(frozen=True, slots=True)
class _Found:
    page: OldMessagePage
    unknown_zone: str | None


def _message_page(
    path: Path,
    volume: str,
    number: int,
    rows: dict[tuple[str, str], list[ArticleRow]],
    problems: list[str],
) -> _Found:
    relative = f"{volume}/{path.name}"
    try:
        text = page_text(path.read_bytes())
    except OSError as err:
        problems.append(f"{relative}: cannot be read ({err.strerror or err})")
        text = ""
    own = reply_link_mid(text)
    candidates = [row for row in rows.get((volume, path.name), []) if row.mid]
    mid: str | None = None
    how: How = "shown"
    if len(candidates) == 1 or (candidates and own is None):
        if len(candidates) > 1:
            problems.append(
                f"{relative}: the database has {len(candidates)} articles for this page "
                "and the page does not say which it shows; matched by what it shows"
            )
        else:
            mid, how = candidates[0].mid, "database"
    elif candidates:
        agreeing = [row for row in candidates if row.mid == own]
        mid, how = (own, "database") if agreeing else (own, "reply-link")
    if mid is not None and own is not None and mid != own:
        # The page says which message it shows; a row from another run of the archiver
        # that reused the number does not change that.
        problems.append(
            f"{relative}: the database says {mid} but the page's reply link says {own}; "
            "the page's own link was taken"
        )
        mid, how = own, "reply-link"
    if mid is None and own is not None:
        mid, how = own, "reply-link"
    date, unknown_zone = shown_date(_shown(_SHOWN_DATE, text, after=_author_end(text)))
    page = OldMessagePage(
        path=relative,
        mid=mid,
        how=how,
        volume=volume,
        subject=_shown(_H1, text) or _shown(_TITLE, text),
        author=_shown(_AUTHOR, text, after=_h1_end(text)),
        date=date,
        attachments=tuple(dict.fromkeys(_ATTACHMENT.findall(text))),
        number=number,
    )
    return _Found(page, unknown_zone)


def page_text(data: bytes) -> str:
    """A page's HTML as text, in the charset its META tag names (else UTF-8, else Latin-1)."""
    match = _CHARSET.search(data[:2048])
    charset = match[1].decode("ascii") if match else "utf-8"
    try:
        codecs.lookup(charset)
    except LookupError:
        charset = "utf-8"
    try:
        return data.decode(charset)
    except UnicodeDecodeError:
        return data.decode("latin-1")


def reply_link_mid(text: str) -> str | None:
    """The page's own Message-ID from its reply link, where the page is of the kind that
    puts it there (Mailman 2.1.10 and later: "In-Reply-To=%3C...%3E"). Older pages put the
    parent's id there without <>, or nothing: those give None."""
    match = _REPLY_LINK.search(text)
    if match is None:
        return None
    value = unquote(html.unescape(match[1])).strip()
    return value if _OWN_MID.match(value) else None


def _shown(pattern: re.Pattern[str], text: str, after: int = 0) -> str:
    """The text of the first element `pattern` finds (from `after`), as a reader saw it."""
    match = pattern.search(text, after)
    if match is None:
        return ""
    return " ".join(html.unescape(_TAG.sub("", match[1])).split())


def _h1_end(text: str) -> int:
    match = _H1.search(text)
    return match.end() if match else 0


def _author_end(text: str) -> int:
    match = _AUTHOR.search(text, _h1_end(text))
    return match.end() if match else 0


def _downloads(folder: Path, volume: str, archive: OldArchive) -> None:
    """The period's text archive pages (both names Pipermail's index links, whichever
    exists) and the one source read for it (the plain .txt when there is one)."""
    plain, packed = folder / f"{volume}.txt", folder / f"{volume}.txt.gz"
    if not plain.is_file() and not packed.is_file():
        return
    for path in (plain, packed):
        archive.pages.append(OldIndexPage(path.name, "download", volume))
    source = plain if plain.is_file() else packed
    note, problem = _source_note(source, volume)
    if problem:
        archive.problems.append(problem)
    archive.sources.append(OldSource(path=source, volume=volume, note=note))


_OBSCURED_FROM = re.compile(rb"^From: \S+ at \S+", re.MULTILINE)
_MESSAGE_ID = re.compile(rb"^Message-ID:", re.MULTILINE | re.IGNORECASE)


def _source_note(path: Path, volume: str) -> tuple[str, str | None]:
    """What Pipermail changed in a period's text archive, said for a message page."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path) as stream:
                head = stream.read(65536)
        else:
            with path.open("rb") as stream:
                head = stream.read(65536)
    except (OSError, EOFError) as err:
        return _NOTE.format(volume=volume), f"{path.name}: cannot be read ({err})"
    if not _OBSCURED_FROM.search(head) and not _MESSAGE_ID.search(head):
        # Pipermail before Mailman 2.1 wrote each message with only its From, Date and
        # Subject headers, addresses as they were.
        return _OLD_NOTE.format(volume=volume), None
    return _NOTE.format(volume=volume), None


_NOTE = (
    'From Pipermail\'s text archive of {volume}: addresses were written "at" and '
    "attachments removed by Pipermail."
)
_OLD_NOTE = (
    "From Pipermail's text archive of {volume}: Pipermail kept only the From, Date and "
    "Subject headers of each message."
)


_ARTICLE_BODY = re.compile(r"<!--beginarticle-->(.*?)<!--endarticle-->", re.DOTALL)
# The author's address, shown under the name as the text of a mailto link ("jane at
# example.org" where the list obfuscated addresses; Pipermail's "at" is undone).
_SHOWN_ADDRESS = re.compile(r"</B>\s*<A HREF=\"mailto:[^\"]*\"[^>]*>(.*?)</A>", re.I | re.S)


def _sender(page: OldMessagePage, text: str) -> str:
    """The page's author as a From header's value: name and address where both show."""
    found = _SHOWN_ADDRESS.search(text)
    address = " ".join(html.unescape(_TAG.sub("", found[1])).split()) if found else ""
    address = address.replace(" at ", "@")
    if "@" not in address or " " in address:
        return page.author
    return email.utils.formataddr((page.author, address)) if page.author else address


def page_messages(archive: OldArchive) -> Iterator[tuple[OldMessagePage, bytes]]:
    """Messages rebuilt from the article pages, for a folder whose text archives are gone:
    one per Message-ID the old archive recorded (the first page that shows it), then one
    per page without a Message-ID that shows a date and subject no other page does (a
    re-archive's stale page of a message the database no longer names)."""
    taken_mids: set[str] = set()
    shown: set[tuple[int | None, str]] = set()
    pages = sorted(archive.messages, key=lambda page: page.mid is None)
    for page in pages:
        if page.mid is not None:
            if page.mid in taken_mids:
                continue
            taken_mids.add(page.mid)
        elif (page.date, page.subject) in shown:
            continue
        shown.add((page.date, page.subject))
        try:
            text = page_text((archive.folder / page.path).read_bytes())
        except OSError as err:
            archive.problems.append(f"{page.path}: cannot read: {err.strerror or err}")
            continue
        body = _ARTICLE_BODY.search(text)
        yield (
            page,
            pagemail.recovered_message(
                kind="Pipermail",
                page_path=page.path,
                author=_sender(page, text),
                date=None,
                when=page.date,
                subject=page.subject,
                mid=page.mid,
                references=[],
                body=pagemail.html_text(body[1]) if body else "",
            ),
        )


def kept_private(folder: Path) -> bool:
    """Whether Mailman 2 kept this list's archive private: `folder` is
    archives/private/NAME and archives/public is there without NAME in it (Mailman 2 links a
    public list's archive into archives/public; a private one it leaves out)."""
    resolved = folder.resolve()
    public = resolved.parent.parent / "public"
    return (
        resolved.parent.name == "private"
        and public.is_dir()
        and not (public / resolved.name).exists()
    )
