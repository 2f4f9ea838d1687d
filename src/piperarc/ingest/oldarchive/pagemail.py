"""What the MHonArc and Hypermail readers both need from a message page: its text decoded,
its HTML turned back into plain text, the files it links, and a best-effort message rebuilt
from what it shows when nothing else of the mail is left."""

from __future__ import annotations

import codecs
import contextlib
import email.utils
import re
from collections.abc import Iterable
from email.header import Header, decode_header, make_header
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from piperarc.ingest.oldarchive.shown_dates import shown_date

__all__ = [
    "between",
    "decode_page",
    "decode_words",
    "html_text",
    "linked_files",
    "page_date",
    "recovered_message",
]

# `<meta charset="x">` (HTML5, Hypermail 3) or `<meta http-equiv=... content="...; charset=x">`.
_META_CHARSET = re.compile(rb"""<meta[^>]*?charset=["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
# Outside <pre>, a line end of the HTML source (and the indentation after it) is a space,
# or nothing next to a line break: marked with NUL first, settled when the text is whole.
_SOURCE_LINE_END = re.compile(r"[\r\n]+[ \t]*")
_MARK = "\x00"
# A run of ISO-2022-JP (RFC 1468) left in a page of another charset: Hypermail writes the
# name comment in the message's raw header charset.
_ISO_2022_JP = re.compile(r"\x1b\$[@B].*?\x1b\([BJ]", re.DOTALL)
_BLOCKS = frozenset(
    [
        "address",
        "blockquote",
        "dd",
        "div",
        "dl",
        "dt",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "footer",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "tr",
        "ul",
    ]
)
_SKIPPED = frozenset(("script", "style", "head", "title"))
_VOID = frozenset(
    [
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "source",
        "track",
        "wbr",
    ]
)


def file_names(folder: Path) -> list[str]:
    """The names of the files at the top of `folder`, sorted."""
    return sorted(entry.name for entry in folder.iterdir() if entry.is_file())


def numbered(names: list[str], pattern: re.Pattern[str]) -> list[tuple[str, int]]:
    """The names `pattern` matches whole, each with the number its first group captures."""
    return [(name, int(m.group(1))) for name in names if (m := pattern.fullmatch(name))]


def page_text(folder: Path, name: str) -> str:
    """The page `name` of `folder` as text (decode_page)."""
    return decode_page((folder / name).read_bytes())


def decode_page(data: bytes) -> str:
    """A page's bytes as text: in the charset it declares when that reads it cleanly, else
    UTF-8, else Windows-1252 (the old tools wrote each page in its message's charset)."""
    declared = _META_CHARSET.search(data[:4096])
    tried: list[str] = []
    if declared:
        name = declared.group(1).decode("ascii").lower()
        if name in ("us-ascii", "ascii"):
            name = "utf-8"  # a superset: pages declared ASCII still carry UTF-8 now and then
        with contextlib.suppress(LookupError):  # a charset Python does not know
            tried.append(codecs.lookup(name).name)
    for name in (*tried, "utf-8"):
        try:
            return _iso_2022_jp_runs(data.decode(name))
        except UnicodeDecodeError:
            continue
    return _iso_2022_jp_runs(data.decode("cp1252", errors="replace"))


def _iso_2022_jp_runs(text: str) -> str:
    if "\x1b" not in text:
        return text

    def decoded(match: re.Match[str]) -> str:
        run = match.group(0)
        try:
            return run.encode("ascii").decode("iso-2022-jp")
        except UnicodeError:
            return run

    return _ISO_2022_JP.sub(decoded, text)


def between(text: str, start: str, end: str) -> str | None:
    """The text between the first `start` marker and the next `end` marker after it."""
    first = text.find(start)
    if first < 0:
        return None
    first += len(start)
    last = text.find(end, first)
    return text[first:last] if last >= 0 else None


def decode_words(value: str) -> str:
    """A header value with its RFC 2047 encoded words decoded (MHonArc keeps them raw in
    its X-Subject and X-From-R13 comments); the value itself if they cannot be read."""
    if "=?" not in value:
        return value
    try:
        return str(make_header(decode_header(value)))
    except (ValueError, LookupError, UnicodeError):
        return value


def page_date(*shown: str | None) -> int | None:
    """The epoch seconds of the first of the shown dates that can be read, else None."""
    for text in shown:
        if text:
            when, _unknown_zone = shown_date(text)
            if when is not None:
                return when
    return None


class _TextParser(HTMLParser):
    """HTML to plain text: tags dropped, entities read, <br> and blocks as line breaks; a
    line end of the HTML source is a space outside <pre>. Runs of spaces are kept (not
    folded as a browser would): the old tools wrote the mail's own text, spaces and all."""

    def __init__(self, skip_classes: frozenset[str]) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip_classes = skip_classes
        self.pre = 0
        self.skipping: list[str] = []  # the open tags of a skipped element (by tag or class)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.skipping:
            if tag not in _VOID:
                self.skipping.append(tag)
            return
        classes = set((dict(attrs).get("class") or "").split())
        if tag in _SKIPPED or (classes & self.skip_classes and tag not in _VOID):
            self.skipping.append(tag)
            return
        if tag == "br":
            self.parts.append("\n")
        elif tag in _BLOCKS:
            self.parts.append("\n")
            if tag == "pre":
                self.pre += 1
            elif tag == "p":
                self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID:
            self.handle_starttag(tag, attrs)
        elif not self.skipping:
            self.handle_starttag(tag, attrs)
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.skipping:
            # Close up to the matching open tag: tolerates the unclosed <li>s of old HTML.
            if tag in self.skipping:
                while self.skipping and self.skipping.pop() != tag:
                    pass
            return
        if tag in _BLOCKS:
            if tag == "pre" and self.pre:
                self.pre -= 1
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self.skipping:
            return
        data = data.replace(_MARK, "")
        self.parts.append(data if self.pre else _SOURCE_LINE_END.sub(_MARK, data))


def html_text(fragment: str, skip_classes: Iterable[str] = ()) -> str:
    """The plain text a fragment of HTML shows; elements of a class in `skip_classes`
    (Hypermail's header list inside its body markers) are left out."""
    parser = _TextParser(frozenset(skip_classes))
    parser.feed(fragment)
    parser.close()
    text = re.sub(f"{_MARK}*\n{_MARK}*", "\n", "".join(parser.parts))
    text = text.strip(_MARK).replace(_MARK, " ").replace("\xa0", " ")
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n") + "\n"


class _LinkParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.targets: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"a": "href", "img": "src"}.get(tag)
        for name, value in attrs:
            if name == wanted and value:
                self.targets.append(value)


def linked_files(
    folder: Path, page_path: str, text: str, also: Iterable[str] = ()
) -> tuple[str, ...]:
    """The files in `folder` that a page links (a href, img src) or names in `also`, as
    paths relative to the folder; only files that are there and are not HTML pages."""
    parser = _LinkParser()
    parser.feed(text)
    parser.close()
    base = PurePosixPath(page_path).parent
    found: list[str] = []
    for target in (*parser.targets, *also):
        parts = urlsplit(target)
        if parts.scheme or parts.netloc or not parts.path or parts.path.startswith("/"):
            continue
        relative = PurePosixPath(base, unquote(parts.path))
        if ".." in relative.parts or relative.suffix.lower() in (".html", ".htm"):
            continue
        name = relative.as_posix()
        if name not in found and (folder / name).is_file():
            found.append(name)
    return tuple(found)


def _header(name: str, value: str) -> str:
    """One header line, folded, RFC 2047-encoded when it is not ASCII."""
    value = " ".join(value.split())
    charset = "us-ascii" if value.isascii() else "utf-8"
    folded = Header(value, charset, header_name=name).encode(linesep="\n")
    return f"{name}: {folded}\n"


def recovered_message(
    *,
    kind: str,
    page_path: str,
    author: str,
    date: str | None,
    when: int | None,
    subject: str,
    mid: str | None,
    references: list[str],
    body: str,
) -> bytes:
    """A best-effort RFC 5322 message (LF line ends) of what a page shows. The same page
    gives the same bytes, so importing it again is recognised as a duplicate."""
    lines: list[str] = []
    if author:
        name, address = email.utils.parseaddr(author)
        if address and "@" in address:
            lines.append("From: " + email.utils.formataddr((name, address), "utf-8") + "\n")
        else:
            lines.append(_header("From", author))
    # The date as shown when it reads as RFC 5322, else the instant it was read as.
    if date and email.utils.parsedate_tz(" ".join(date.split())) is not None:
        lines.append(_header("Date", date))
    elif when is not None:
        lines.append(f"Date: {email.utils.formatdate(when, usegmt=True)}\n")
    if subject:
        lines.append(_header("Subject", subject))
    if mid:
        lines.append(f"Message-ID: {mid}\n")
    if references:
        lines.append(f"In-Reply-To: {references[-1]}\n")
        lines.append("References: " + "\n ".join(references) + "\n")
    lines.append(_header("X-Piperarc-Recovered-From", f"{kind} page {page_path}"))
    lines.append("MIME-Version: 1.0\n")
    lines.append("Content-Type: text/plain; charset=utf-8\n")
    lines.append("Content-Transfer-Encoding: 8bit\n")
    text = body.replace("\r\n", "\n").replace("\r", "\n")
    return ("".join(lines) + "\n" + text).encode("utf-8", errors="replace")
