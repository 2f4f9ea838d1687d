"""Raw bytes → ParsedMessage: headers, dates in UTC, addresses, text, attachments, damage.

Pure: bytes in, values out, never an exception for bad mail. The stdlib parser with the
compat32 policy is used because it is about six times faster than policy.default on real
lists (DESIGN.md) and tolerates anything; header decoding (RFC 2047) and charsets (RFC 2045)
are done here by hand, only where a header or part actually needs it.
"""

from __future__ import annotations

import binascii
import codecs
import email
import email.errors
import email.header
import email.parser
import email.utils
import quopri
import re
from calendar import timegm
from collections.abc import Callable, Sequence
from email.errors import MessageDefect
from email.message import Message
from html.parser import HTMLParser

from charset_normalizer import from_bytes

from piperarc import mid as midlib
from piperarc.mail.subjects import subject_base
from piperarc.mail.words import has_own_words, split_quoted
from piperarc.model import Attachment, IndexText, ParsedMessage

# Dates outside this range are typos or attacks (patchwork's fuzz corpus has year 99999).
_MIN_DATE = 0  # 1970-01-01
_MAX_DATE = 4102444800  # 2100-01-01
_ENCODED_WORD = "=?"
_WS = re.compile(r"\s+")
_SURROGATE = re.compile("[\udc80-\udcff]")
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_UNFOLD_SPLIT = re.compile(r"\r?\n(?![ \t])")
_HEADER_NAME = re.compile(r"^[!-9;-~]+$")
_CHARSET = re.compile(r"charset\s*=\s*\"?([^\";\s]+)", re.IGNORECASE)
_HEADER_START = re.compile(rb"^[!-9;-~]+:", re.MULTILINE)
_LATIN1 = frozenset({"iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "latin-1", "l1"})
_C1 = re.compile(rb"[\x80-\x9f]")


# "jane at example.org", as Pipermail's text archives write a From address.
_WRITTEN_AT = re.compile(
    r"(?:^|[\s<])([^\s@<>()\"]+) at ([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)(?=$|[\s>)])"
)


def _bytes_text(data: bytes, charset: str | None) -> tuple[str, str | None]:
    """Decode `data` by its declared charset, else by detection. Returns (text, problem)."""
    if charset:
        charset = charset.strip().strip('"').lower()
        try:
            codecs.lookup(charset)
        except (LookupError, ValueError):
            charset = None
    if charset in _LATIN1 and not data.isascii():
        # A wrong label (RFC 2045 trusts it; mailers lie): valid UTF-8 with 8-bit bytes is
        # almost never Latin-1 text, and Outlook's windows-1252 comes labelled ISO-8859-1,
        # whose C1 range mail never uses (browsers read the label so: WHATWG Encoding).
        try:
            return data.decode("utf-8"), None
        except UnicodeDecodeError:
            charset = "cp1252" if _C1.search(data) else "latin-1"
    if charset:
        try:
            return data.decode(charset), None
        except (UnicodeDecodeError, ValueError, LookupError):  # LookupError: "uu", "hex"...
            pass
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        pass
    best = from_bytes(data).best()
    if best is not None and best.encoding:
        return str(best), None
    return data.decode("utf-8", "replace"), "undecodable text: shown with replacement characters"


def header_text(value: object) -> str:
    """A header value as readable text: RFC 2047 words decoded, raw 8-bit read as UTF-8."""
    if value is None:
        return ""
    if isinstance(value, email.header.Header):
        value = str(value)
    text = str(value)
    # compat32 keeps raw 8-bit header bytes as surrogates; most such mail is UTF-8.
    if not text.isascii() and _SURROGATE.search(text):
        text = _bytes_text(text.encode("ascii", "surrogateescape"), "utf-8")[0]
    if _ENCODED_WORD in text:
        try:
            parts = email.header.decode_header(text)
            decoded = []
            for chunk, charset in parts:
                if isinstance(chunk, bytes):
                    decoded.append(_bytes_text(chunk, charset)[0])
                else:
                    decoded.append(chunk)
            # decode_header drops the whitespace between an encoded and a plain word.
            text = "".join(decoded) if len(parts) > 1 else decoded[0]
        # HeaderParseError: a malformed base64 word (=?UTF-8?B?abcde?=); it is shown as is.
        except (ValueError, LookupError, AssertionError, IndexError, email.errors.HeaderParseError):
            pass
    return _WS.sub(" ", text).strip()


def index_text(parsed: ParsedMessage) -> IndexText:
    """What full-text search indexes of a message: quoted lines apart, ranked lower."""
    own, quoted = split_quoted(parsed.body_text)
    return IndexText(
        subject=parsed.subject,
        sender=f"{parsed.from_name} {parsed.from_addr}".strip(),
        body=own,
        quoted=quoted,
        files=" ".join(a.filename for a in parsed.attachments),
    )


# The year a Date header writes, and its zone: "... 2024 00:00:00 -0500". The stdlib reads
# any year under 100 as two-digit ("0001" becomes 2001) and keeps any offset, even -2400,
# which no timezone can hold; the written form decides both here.
_WRITTEN_YEAR = re.compile(r"(?<![\d:])(\d{1,9})\s+\d{1,2}:\d{2}")
_WRITTEN_ZONE = re.compile(r"\d{1,2}:\d{2}(?::\d{2})?\s*([+-])(\d{2})(\d{2})\b")


def parse_date(value: str | None) -> tuple[int, int] | None:
    """(UTC seconds, sender's offset in minutes) from an RFC 5322 date, None if unusable.

    Every value it returns can be shown by every layer. The offset is kept as written, even
    an impossible one (-2400, +9959: the page shows it as such, see render.text.sender_date),
    and the UTC time is the written local time less that offset. A year the header writes
    with four digits is that year, a three-digit one is 1900 plus it (RFC 5322 4.3); a date
    before 1970 or from 2100 on (0001, 9999, 99999) is unusable: the caller falls back to the
    envelope or the archiving time and the page says the Date header was not usable."""
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_tz(value)
        if parsed is None:
            return None
        year = _written_year(value, parsed[0])
        zone = _WRITTEN_ZONE.search(value)
        if zone:
            sign = -1 if zone[1] == "-" else 1
            offset = sign * (int(zone[2]) * 60 + int(zone[3]))
        else:
            offset = (parsed[9] or 0) // 60
        stamp = timegm((year, *parsed[1:6])) - offset * 60
    except (ValueError, OverflowError, TypeError, IndexError):
        return None
    if not _MIN_DATE <= stamp < _MAX_DATE:
        return None
    return stamp, offset


def _written_year(value: str, read: int) -> int:
    """The year as written: the stdlib's reading unless the header wrote three digits or
    more ("0001" is the year 1, not 2001)."""
    found = _WRITTEN_YEAR.search(value)
    if found is None or len(found[1]) < 3:
        return read
    written = int(found[1])
    return written + 1900 if len(found[1]) == 3 else written


def envelope_date(envelope: str | None) -> tuple[int, int] | None:
    """The date of an mbox From_ line ("From sender Thu Jan  1 00:00:00 1970"), as UTC."""
    if not envelope:
        return None
    fields = envelope.split()
    if len(fields) < 7:
        return None
    found = parse_date(" ".join(fields[-5:]) + " +0000")
    # The placeholder date of mboxrd archives (public-inbox) is not a real date.
    if found is None or found[0] == 0:
        return None
    return found


class _HTMLText(HTMLParser):
    """Text of an HTML part, for the text index and for a text view of HTML-only mail."""

    _BLOCK = frozenset(
        {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "blockquote", "pre", "table", "hr"}
    )
    _SKIP = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self.skipping += 1
        elif tag in self._BLOCK:
            self.chunks.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self.skipping:
            self.skipping -= 1
        elif tag in self._BLOCK:
            self.chunks.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.chunks.append(data)


def html_to_text(html: str) -> str:
    """Readable text from HTML (no markup survives: output is escaped later like any text)."""
    parser = _HTMLText()
    try:
        parser.feed(html)
        parser.close()
    except (AssertionError, ValueError):
        pass
    lines = [_WS.sub(" ", line).strip() for line in "".join(parser.chunks).splitlines()]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def _part_filename(part: Message) -> str | None:
    name = part.get_param("filename", header="content-disposition")
    if name is None:
        name = part.get_param("name")
    if name is None:
        return None
    if isinstance(name, tuple):  # RFC 2231: (charset, language, value)
        name = email.utils.collapse_rfc2231_value(name)
    return header_text(name) or None


def _extension_for(content_type: str) -> str:
    return {
        "text/plain": ".txt",
        "text/html": ".html",
        "text/x-diff": ".diff",
        "text/x-patch": ".patch",
        "image/png": ".png",
        "image/jpeg": ".jpg",
        "image/gif": ".gif",
        "application/pdf": ".pdf",
        "message/rfc822": ".eml",
        "application/pgp-signature": ".asc",
        "application/zip": ".zip",
    }.get(content_type, ".bin")


def _payload_bytes(part: Message) -> bytes:
    data = part.get_payload(decode=True)
    if isinstance(data, bytes):
        return data
    payload = part.get_payload()
    if isinstance(payload, str):
        return payload.encode("utf-8", "surrogateescape")
    return b""


class _Walk:
    """Collects the text and the attachments of a message in one pass over its parts."""

    def __init__(self, with_data: bool) -> None:
        self.with_data = with_data
        self.texts: list[str] = []
        self.html: list[str] = []
        self.attachments: list[Attachment] = []
        self.problems: list[str] = []

    def run(self, msg: Message) -> None:
        # An explicit stack, never recursion: a hostile message can nest parts very deeply.
        stack: list[tuple[Message, bool]] = [(msg, False)]
        while stack:
            part, in_alternative = stack.pop()
            ctype = part.get_content_type()
            if part.is_multipart():
                children = part.get_payload()
                if isinstance(children, list):
                    alternative = ctype == "multipart/alternative"
                    stack.extend(
                        (child, alternative)
                        for child in reversed(children)
                        if isinstance(child, Message)
                    )
                continue
            self._leaf(part, ctype, in_alternative)

    def _leaf(self, part: Message, ctype: str, in_alternative: bool) -> None:
        filename = _part_filename(part)
        disposition = (part.get("content-disposition") or "").split(";")[0].strip().lower()
        inline_text = ctype in ("text/plain", "text/html") and disposition != "attachment"
        if inline_text and not (ctype == "text/plain" and filename and disposition):
            data = _payload_bytes(part)
            text, problem = _bytes_text(data, part.get_content_charset())
            if problem:
                self.problems.append(problem)
            if ctype == "text/html":
                self.html.append(text)
            elif not (in_alternative and self.texts and not text.strip()):
                self.texts.append(text)
            return
        if ctype == "message/rfc822" or part.get_content_maintype() == "message":
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else None
            data = inner.as_bytes() if isinstance(inner, Message) and self.with_data else b""
        else:
            data = _payload_bytes(part) if self.with_data else b""
        index = len(self.attachments) + 1
        name = filename or f"part-{index}{_extension_for(ctype)}"
        cid = midlib.clean(part.get("content-id"))
        self.attachments.append(Attachment(index, name, ctype, data, cid))


def _defect_names(msg: Message) -> tuple[str, ...]:
    names: list[str] = []
    for part in msg.walk():
        for defect in getattr(part, "defects", []):
            if isinstance(defect, MessageDefect):
                names.append(type(defect).__name__)
    return tuple(dict.fromkeys(names))


def parse(
    raw: bytes,
    digest: str,
    envelope: str | None = None,
    *,
    with_data: bool = False,
    fast: bool = True,
) -> ParsedMessage:
    """Read one message. Never raises for bad mail: damage is reported in the result.

    `digest` (the raw bytes' content hash) makes the Message-ID of a message that has none.
    `with_data` also decodes attachment bytes (the page build needs them, import does not).
    `fast` reads a message that is one plain text part without the stdlib's feed parser
    (most list mail; test_parse checks both paths agree on real lists).
    """
    if fast:
        try:
            simple = _simple_text(raw)
            if simple is not None:
                headers, text, problem = simple
                return _result(headers.get, digest, envelope, [text], [], [], [problem], ())
        except Exception:  # the careful path below says what is wrong
            pass
    try:
        msg = email.message_from_bytes(raw)
    except Exception as err:
        return _unreadable(raw, digest, f"parser failed: {type(err).__name__}: {err}")
    if not msg.keys() or not _HEADER_START.match(raw):
        return _unreadable(raw, digest, "no header fields: this is not an email message")
    try:
        return _fields(msg, raw, digest, envelope, with_data)
    except RecursionError:
        return _unreadable(raw, digest, "parts nested too deeply to read")
    except Exception as err:
        return _unreadable(raw, digest, f"cannot read: {type(err).__name__}: {err}")


def _fields(
    msg: Message, raw: bytes, digest: str, envelope: str | None, with_data: bool
) -> ParsedMessage:
    walk = _Walk(with_data)
    walk.run(msg)
    return _result(
        msg.get,
        digest,
        envelope,
        walk.texts,
        walk.html,
        walk.attachments,
        walk.problems,
        _defect_names(msg),
    )


# "Jane Doe via USRP-users": the From a list writes in place of a sender's whose domain
# asks (DMARC) that others not send as it (Mailman's from_is_list / dmarc_moderation_action
# "munge_from"), putting the sender's address in Reply-To (Mailman 2.1) or in
# X-Original-From.
_VIA = re.compile(r"^(.+?)\s+via\s+(.+)$", re.IGNORECASE | re.DOTALL)
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


def real_sender(name: str, addr: str, get: Callable[[str], object]) -> tuple[str, str, str | None]:
    """(name, address) of the person who wrote a message whose From the list rewrote to
    its own address, "Name via LIST <list@…>", when the rewriting is recognisable (the
    name after "via" is the address's local part), with the From as it came; else the
    From's (name, address, None). The address is X-Original-From's or Reply-To's when
    either holds one address besides the list's; else the list's stays."""
    via = _VIA.match(name)
    local = addr.partition("@")[0].lower()
    if via is None or not local or _NOT_ALNUM.sub("", via[2].lower()) != _NOT_ALNUM.sub("", local):
        return name, addr, None
    person, person_addr = via[1].strip().strip('"').strip(), addr
    for header in ("x-original-from", "reply-to"):
        found = email.utils.getaddresses([header_text(get(header))])
        addresses = [(n, a) for n, a in found if "@" in a and a.lower() != addr.lower()]
        if len(addresses) == 1:
            person_addr = addresses[0][1]
            person = person or addresses[0][0]
            break
    return person, person_addr, f"{name} <{addr}>"


def _result(
    get: Callable[[str], object],
    digest: str,
    envelope: str | None,
    texts: list[str],
    html: list[str],
    attachments: list[Attachment],
    problems: Sequence[str | None],
    defects: tuple[str, ...],
) -> ParsedMessage:
    """The fields of a message from its header getter and its decoded parts."""
    found_mid = midlib.clean(header_text(get("message-id")))
    date_found = parse_date(header_text(get("date")))
    date_source = "date"
    if date_found is None:
        date_found = envelope_date(envelope)
        date_source = "envelope" if date_found else "none"
    raw_from = header_text(get("from"))
    from_name, from_addr = email.utils.parseaddr(raw_from)
    if "@" not in from_addr and (at := _WRITTEN_AT.search(raw_from)):
        # Pipermail's text archives write every address "jane at example.org" (its
        # obfuscation): read it back as the address it stands for.
        from_addr = f"{at[1]}@{at[2]}"
    if not from_name and not from_addr:
        from_name = raw_from
    from_name, from_addr, _ = real_sender(from_name, from_addr, get)
    subject = header_text(get("subject"))
    irt_value = header_text(get("in-reply-to"))
    refs = midlib.references(header_text(get("references")), irt_value)
    # HTML with no text of its own beside it (none, or only a footer the list added as a
    # text part of its own, as Mailman does): the HTML's text is the message's text.
    html_only = bool(html) and not any(has_own_words(t) for t in texts)
    if html_only:
        texts = [html_to_text(h) for h in html] + texts
    damage = "; ".join(dict.fromkeys(p for p in problems if p)) or None
    return ParsedMessage(
        mid=found_mid or midlib.synthetic(digest),
        mid_synthetic=found_mid is None,
        date_utc=date_found[0] if date_found else None,
        tz_offset=date_found[1] if date_found else None,
        date_source=date_source,
        from_name=from_name.strip(),
        from_addr=from_addr.strip(),
        subject=subject,
        subject_base=subject_base(subject),
        in_reply_to=midlib.clean(irt_value),
        references=tuple(r for r in refs if r != found_mid),
        body_text="\n".join(texts),
        attachments=tuple(attachments),
        html_only=html_only,
        damage=damage,
        defects=defects,
    )


def _simple_text(raw: bytes) -> tuple[dict[str, str], str, str | None] | None:
    """(headers, text, problem) of a message that is one inline text/plain part; None for
    anything else (multipart, attachments, odd header lines), which the stdlib then reads."""
    end = _HEADER_END.search(raw)
    if end is None:
        return None
    head = raw[: end.start()].decode("ascii", "surrogateescape")
    headers: dict[str, str] = {}
    for field in _UNFOLD_SPLIT.split(head):
        name, colon, value = field.partition(":")
        if not colon or not _HEADER_NAME.match(name):
            return None
        headers.setdefault(name.lower(), value.strip(" \t\r\n"))
    ctype = headers.get("content-type", "text/plain")
    if ctype.split(";", 1)[0].strip().lower() != "text/plain" or "name" in ctype.lower():
        return None
    disposition = headers.get("content-disposition", "inline").lower()
    if not disposition.startswith("inline") or "name" in disposition:
        return None
    body = raw[end.end() :]
    cte = headers.get("content-transfer-encoding", "").strip().lower()
    if cte == "base64":
        try:
            body = binascii.a2b_base64(body)
        except binascii.Error:
            return None
    elif cte == "quoted-printable":
        body = quopri.decodestring(body)
    found = _CHARSET.search(ctype)
    text, problem = _bytes_text(body, found.group(1) if found else "us-ascii")
    return headers, text, problem


def _unreadable(raw: bytes, digest: str, reason: str) -> ParsedMessage:
    """A message we cannot read as mail: kept whole, shown as its raw text."""
    text = _bytes_text(raw, "utf-8")[0]
    return ParsedMessage(
        mid=midlib.synthetic(digest),
        mid_synthetic=True,
        date_utc=None,
        tz_offset=None,
        date_source="none",
        from_name="",
        from_addr="",
        subject="",
        subject_base="",
        in_reply_to=None,
        references=(),
        body_text=text,
        damage=reason,
    )


def unreadable(raw: bytes, digest: str, reason: str) -> ParsedMessage:
    """What the store keeps for a message no reading of ours gets through: its raw text."""
    return _unreadable(raw, digest, reason)
