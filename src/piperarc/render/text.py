"""Text filters: message bodies to safe HTML, address obfuscation, dates for people.

Every function takes values and returns values; HTML comes out as markupsafe.Markup with
everything from the mail escaped first.
"""

from __future__ import annotations

import re
import time

from markupsafe import Markup, escape

# Addresses as they appear in bodies and headers (a pragmatic subset of RFC 5322 addr-spec).
_ADDRESS = re.compile(r"\b([A-Za-z0-9._%+'=-]+)@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)\b")
# URLs in escaped text: a greedy run up to whitespace, then cut (in _link) at an escaped
# bracket or quote and before trailing punctuation. Linear, unlike a lazy run with lookahead.
_URL = re.compile(r"\b(?:https?|ftp)://[^\s<>\"']+", re.IGNORECASE)
_URL_END = re.compile(r"&(?:lt|gt|#34|#39|quot);")
_TRAILING = ".,;:!?)]"
# ">" quotes; so does "|" as some mailers wrote it, but only followed by a space or the line's
# end, and not in a table row (a line that ends with "|"): "|ω・)" or "| a | b |" are text.
_QUOTED = re.compile(r"^\s{0,3}(?:&gt;|\|(?:[ \t](?!.*\|[ \t]*$)|$))")
_SIGNATURE = "-- "
_OBFUSCATED = {"at": r"\1 at \2", "hide": r"\1@…"}
_SPACES = (" ", "\n", "\t", "\r")
_SHORT_QUOTE_LINES = 4  # quotes up to this long are shown as they are; longer ones folded
# A marked line of a patch; the file lines first, so that "+++ "/"--- " are not changes.
_DIFF_LINE = re.compile(
    r"^(?:(diff |index |--- |\+\+\+ |Index: |new file|deleted file)|(\+)|(-)|(@@)).*\n",
    re.MULTILINE,
)
_DIFF_CLASS = ("meta", "add", "del", "hunk")
_PATCH_START = re.compile(r"^(?:diff --git |Index: |--- [^\n]*\n\+\+\+ )", re.MULTILINE)


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


def sender(name: str, addr: str, mode: str) -> str:
    """The sender as one string, obfuscated: "Jane Doe <jane at example.org>"."""
    if mode == "hide":
        return name or obfuscate(addr, mode)
    if not addr:
        return name
    return obfuscate(f"{name} <{addr}>" if name else addr, mode)


def body_html(text: str, mode: str, *, diff: bool = False) -> Markup:
    """A plain-text body as HTML: quoted lines set apart (long quotes folded in a <details>),
    the signature in its own block, an inline patch's lines marked as added, removed or
    hunk headers, URLs linked. Whitespace is kept (the stylesheet uses pre-wrap). `diff`
    says the whole text is a patch (a .diff or .patch attachment)."""
    escaped = str(escape(obfuscate(text.replace("\r\n", "\n").rstrip("\n"), mode)))
    if "://" in escaped:
        escaped = _link_urls(escaped)  # a URL never spans lines: link the whole text at once
    patch_at = 0 if diff else _patch_line(escaped)
    if patch_at < 0:
        if "&gt;" not in escaped and "|" not in escaped and "\n-- \n" not in escaped:
            return Markup(escaped + "\n")  # nothing to set apart: the common short note
        return Markup(_marked(escaped.split("\n")))
    lines = escaped.split("\n")
    end = len(lines)
    if not diff and _SIGNATURE in lines[patch_at:]:
        end = lines.index(_SIGNATURE, patch_at)  # "-- " ends a patch mail (git format-patch)
    return Markup(
        _marked(lines[:patch_at])
        + _diff_marked("\n".join(lines[patch_at:end]) + "\n")
        + _marked(lines[end:])
    )


def _marked(lines: list[str]) -> str:
    """Escaped lines with quotes set apart and the signature (after "-- ") in a block."""
    out: list[str] = []
    quote: list[str] = []
    quoted_line = _QUOTED.match
    for i, line in enumerate(lines):
        if quoted_line(line) is not None:
            quote.append(line)
            continue
        if quote:
            out.append(_folded(quote))
            quote = []
        if line == _SIGNATURE:
            out.append('<div class="signature">' + "\n".join(lines[i:]) + "\n</div>")
            return "".join(out)
        out.append(line + "\n")
    if quote:
        out.append(_folded(quote))
    return "".join(out)


def _diff_marked(patch: str) -> str:
    """An escaped patch (ending in a newline) with its lines marked; the newline inside the
    span (the stylesheet draws marked lines as full-width blocks)."""
    return _DIFF_LINE.sub(_diff_span, patch)


def _diff_span(match: re.Match[str]) -> str:
    kind = _DIFF_CLASS[(match.lastindex or 1) - 1]
    return f'<span class="{kind}">{match.group(0)}</span>'


# How _folded opens a long quote, and the whole of one, for elide_quotes.
_FOLD_START = '<details class="quote">'
_FOLDED = re.compile(
    _FOLD_START + r"<summary>(\d+) quoted lines</summary>"
    r'<blockquote class="quote">.*?</blockquote></details>',
    re.DOTALL,
)


def elide_quotes(html: str, href: str) -> Markup | None:
    """`html` (a text part as body_html made it) with each folded quote left out, a link
    to `href` (the message's own page) in its place: on a thread's page the messages
    quoted are there already; None when it folds no quote. (Mail text in it is escaped:
    no "</blockquote>" of its own.)"""
    if _FOLD_START not in html:
        return None
    return Markup(
        _FOLDED.sub(
            lambda m: (
                f'<a class="quote-elided" href="{escape(href)}">'
                f"[{m[1]} quoted lines: on the message's page]</a>\n"
            ),
            html,
        )
    )


def _folded(quote: list[str]) -> str:
    """Quoted lines set apart; a long quote folded in a <details> that needs no script."""
    body = "\n".join(quote)
    block = f'<blockquote class="quote">{body}\n</blockquote>'
    if len(quote) <= _SHORT_QUOTE_LINES:
        return block
    return f"{_FOLD_START}<summary>{len(quote)} quoted lines</summary>{block}</details>"


def _patch_line(escaped: str) -> int:
    """The line where an inline patch starts, -1 if none: a git diff line, or a unified
    diff's "--- old" / "+++ new" pair (the two lines `patch` itself looks for)."""
    found = _PATCH_START.search(escaped)
    return -1 if found is None else escaped.count("\n", 0, found.start())


def sender_date(date_utc: int, tz_offset: int) -> str:
    """The date as the sender wrote it: their local time and offset, even an offset no
    timezone can hold (-2400, +9959 are shown as written, never an error)."""
    try:
        local = time.gmtime(date_utc + tz_offset * 60)
    except (OverflowError, OSError, ValueError):
        return f"{date_utc} seconds after 1970 (UTC)"
    minutes = abs(tz_offset)
    zone = f"{'-' if tz_offset < 0 else '+'}{minutes // 60:02d}{minutes % 60:02d}"
    return f"{time.strftime('%a, %d %b %Y %H:%M:%S', local)} {zone}"


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
