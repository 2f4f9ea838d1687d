"""Text filters: message bodies to safe HTML, address obfuscation, dates for people.

Every function takes values and returns values; HTML comes out as markupsafe.Markup with
everything from the mail escaped first.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone

from markupsafe import Markup, escape

# Addresses as they appear in bodies and headers (a pragmatic subset of RFC 5322 addr-spec).
_ADDRESS = re.compile(r"\b([A-Za-z0-9._%+'=-]+)@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)\b")
# URLs in escaped text: a greedy run up to whitespace, then cut (in _link) at an escaped
# bracket or quote and before trailing punctuation. Linear, unlike a lazy run with lookahead.
_URL = re.compile(r"\b(?:https?|ftp)://[^\s<>\"']+", re.IGNORECASE)
_URL_END = re.compile(r"&(?:lt|gt|#34|#39|quot);")
_TRAILING = ".,;:!?)]"
_QUOTED = re.compile(r"^\s{0,3}(?:&gt;|\|)")
_SIGNATURE = "-- "
_OBFUSCATED = {"at": r"\1 at \2", "hide": r"\1@…"}
_SPACES = (" ", "\n", "\t", "\r")


def obfuscate(text: str, mode: str) -> str:
    """Addresses in `text` made unharvestable: "at" writes "jane at example.org" (as
    Pipermail did), "hide" keeps only "jane@...", "none" leaves them."""
    if "@" not in text or mode not in _OBFUSCATED:
        return text
    # An address never spans ASCII whitespace, so only the whitespace-delimited words that
    # hold an "@" need the pattern: scanning a whole body with it costs ~40 µs a message.
    replacement = _OBFUSCATED[mode]
    out: list[str] = []
    done = 0
    at = text.find("@")
    while at != -1:
        start = max(done, *(text.rfind(space, done, at) + 1 for space in _SPACES))
        ends = [found for space in _SPACES if (found := text.find(space, at)) != -1]
        end = min(ends) if ends else len(text)
        out.append(text[done:start])
        out.append(_ADDRESS.sub(replacement, text[start:end]))
        done = end
        at = text.find("@", end)
    out.append(text[done:])
    return "".join(out)


def _link(match: re.Match[str]) -> str:
    url = match.group(0)
    rest = ""
    end = _URL_END.search(url)
    if end:
        url, rest = url[: end.start()], url[end.start() :]
    stripped = url.rstrip(_TRAILING)
    url, rest = stripped, url[len(stripped) :] + rest
    if url.endswith("://"):
        return match.group(0)
    return f'<a href="{url}" rel="nofollow noopener noreferrer">{url}</a>{rest}'


def _link_urls(escaped: str) -> str:
    return _URL.sub(_link, escaped)


def body_html(text: str, mode: str) -> Markup:
    """A plain-text body as HTML: quoted lines set apart in <blockquote>, the signature in
    its own block, URLs linked. Whitespace is kept (the stylesheet uses pre-wrap)."""
    escaped = str(escape(obfuscate(text.replace("\r\n", "\n").rstrip("\n"), mode)))
    if "://" in escaped:
        escaped = _link_urls(escaped)  # a URL never spans lines: link the whole text at once
    if "&gt;" not in escaped and "|" not in escaped and "\n-- \n" not in escaped:
        return Markup(escaped + "\n")  # nothing to set apart: the common short note
    out: list[str] = []
    in_quote = False
    in_signature = False
    quoted_line = _QUOTED.match
    for line in escaped.split("\n"):
        if not in_signature:
            quoted = quoted_line(line) is not None
            if quoted != in_quote:
                out.append('<blockquote class="quote">' if quoted else "</blockquote>")
                in_quote = quoted
            if line == _SIGNATURE:
                if in_quote:
                    out.append("</blockquote>")
                    in_quote = False
                out.append('<div class="signature">')
                in_signature = True
        out.append(line)
        out.append("\n")
    if in_quote:
        out.append("</blockquote>")
    if in_signature:
        out.append("</div>")
    return Markup("".join(out))


def sender_date(date_utc: int, tz_offset: int) -> str:
    """The date as the sender wrote it: their local time and offset."""
    zone = timezone(timedelta(minutes=tz_offset))
    return datetime.fromtimestamp(date_utc, zone).strftime("%a, %d %b %Y %H:%M:%S %z")


# UTC dates go through time.gmtime: three times faster than datetime's, and a build formats
# several for every message on every index page.
def short_date(date_utc: int) -> str:
    """A compact UTC date for index rows."""
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(date_utc))


def iso_date(date_utc: int) -> str:
    """ISO 8601 in UTC, for <time datetime> and JSON."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(date_utc))


def iso_offset(minutes: int) -> str:
    """An offset from UTC in minutes as ISO 8601 writes it: 60 → "+01:00", -330 → "-05:30"."""
    return f"{'+' if minutes >= 0 else '-'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def human_size(size: int) -> str:
    """1536 → "1.5 KB"."""
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} bytes"
