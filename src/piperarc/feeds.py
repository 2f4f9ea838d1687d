"""What other programs read: Atom feeds (RFC 4287) and mboxrd downloads.

Atom: a list has two feeds (its newest messages, its newest threads) and each thread one (its
messages); entries newest first. Entry ids are `urn:uuid:` names derived from the
Message-ID (as public-inbox does), so an entry keeps its id in every feed, build and
server, whatever the site's address. Links are absolute when the archive says where it is
published ([archive] base_url), else relative to the feed's own URL, which RFC 4287 §2
allows (IRI references resolve against the document's URI, RFC 3986 §5.1.3). Addresses are
written as the list's `obfuscate` setting says, as on its pages.

mboxrd: each message gets a From_ line, every line matching ^>*From gets one more ">", and
a blank line follows the message. Nothing else changes: reading the result back with an
mboxrd reader gives every message byte for byte (one whose last line had no newline gets
one, which mbox cannot avoid).
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from piperarc import urls
from piperarc.config import ListConfig
from piperarc.model import StoredMessage, Summary
from piperarc.render.text import iso_date, obfuscate

_FROM_LINE = re.compile(rb"^(>*From )", re.MULTILINE)

ATOM = "http://www.w3.org/2005/Atom"
FEED_SIZE = 50  # entries in a list's feeds (a thread's feed holds all its messages)
# The namespace of piperarc's uuid5 names (itself uuid5 of the URL namespace and our name).
_UUIDS = uuid.uuid5(uuid.NAMESPACE_URL, "https://piperarc.invalid/atom")
CONTENT_CHARS = 4000  # of a message's text in its feed entry
# Characters XML 1.0 cannot carry (C0 controls but tab/LF/CR, lone surrogates, U+FFFE/F).
# (Listed, not as a negated class: scanning for a few is much faster on long bodies.)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True, slots=True)
class Feed:
    """What an Atom feed says about itself; paths are relative to the site root."""

    path: str  # where the feed is (urls.list_feed, urls.thread_feed)
    page: str  # the page it is the feed of (rel="alternate")
    title: str
    feed_id: str  # a urn:uuid, stable across builds and servers


def list_feed(lst: ListConfig, kind: str) -> Feed:
    """A list's feed of its newest "messages" or its newest "threads"."""
    what = "new messages" if kind == "messages" else "new threads"
    return Feed(
        path=urls.list_feed(lst.name, kind),
        page=urls.list_home(lst.name),
        title=f"{lst.title}: {what}",
        feed_id=_urn(f"list\n{lst.address or lst.name}\n{kind}"),
    )


def thread_feed(lst: ListConfig, thread_key: str, root: StoredMessage | Summary) -> Feed:
    """A thread's feed; `root` is its first message (whose key is the thread's)."""
    return Feed(
        path=urls.thread_feed(lst.name, thread_key),
        page=urls.thread(lst.name, thread_key),
        title=f"{obfuscate(root.subject or '(no subject)', lst.obfuscate)} \N{EN DASH} {lst.title}",
        feed_id=_urn(f"thread\n{lst.address or lst.name}\n{root.mid}"),
    )


def newest(summaries: Iterable[Summary], limit: int = FEED_SIZE) -> list[Summary]:
    """The `limit` newest of `summaries`, newest first (ties: the later archived first)."""
    return sorted(summaries, key=lambda s: (s.date_utc, s.num), reverse=True)[:limit]


def thread_starters(threads: Mapping[str, Sequence[Summary]]) -> list[Summary]:
    """The first message of each thread (threads as {key: members in thread order})."""
    return [members[0] for members in threads.values() if members]


def entry_id(msg: StoredMessage | Summary) -> str:
    """A message's Atom entry id: a urn:uuid named by its Message-ID. A second message
    with the same Message-ID (key KEY-2) gets its own."""
    _, dash, copy = msg.key.partition("-")
    return _urn(f"mid\n{msg.mid}" + (f"\n{copy}" if dash else ""))


def atom(
    feed: Feed,
    lst: ListConfig,
    messages: Sequence[StoredMessage],
    base_url: str | None = None,
) -> bytes:
    """The Atom document of `feed` with an entry per message, newest first.

    `base_url` (ending in "/") makes every link absolute; without it links are relative
    to the feed's own location. An empty feed is dated 1970-01-01 (it has no news).
    Written as text (a build writes a feed per thread): what ElementTree.tostring would
    write for the same elements, byte for byte."""
    ordered = sorted(messages, key=lambda m: (m.date_utc, m.num), reverse=True)
    folder = posixpath.dirname(feed.path)
    message_folder = posixpath.dirname(urls.message(lst.name, "k"))
    # Every entry links a page in one folder: its way there is found once.
    to_messages = posixpath.relpath(message_folder, folder) + "/"
    to_messages = "" if to_messages == "./" else to_messages

    def href(target: str) -> str:
        if base_url:
            return base_url + target
        if posixpath.dirname(target) == message_folder:
            return to_messages + posixpath.basename(target)
        return posixpath.relpath(target, folder)

    out = [
        "<?xml version='1.0' encoding='utf-8'?>\n",
        f'<feed xmlns="{ATOM}">',
        _element("id", feed.feed_id),
        _element("title", feed.title),
        _element("subtitle", lst.description) if lst.description else "",
        _element("updated", _date(ordered[0].date_utc if ordered else 0)),
        _link("self", href(feed.path), "application/atom+xml"),
        _link("alternate", href(feed.page), "text/html"),
        "<generator>piperarc</generator>",
    ]
    for msg in ordered:
        date = _date(msg.date_utc)
        name = msg.from_name or msg.from_addr or "(unknown sender)"
        email = (
            _element("email", msg.from_addr) if lst.obfuscate == "none" and msg.from_addr else ""
        )
        content = obfuscate(_excerpt(msg.body_text), lst.obfuscate)
        out.append(
            f"<entry>{_element('id', entry_id(msg))}"
            f"{_element('title', obfuscate(msg.subject or '(no subject)', lst.obfuscate))}"
            f"{_element('published', date)}{_element('updated', date)}"
            f"<author>{_element('name', obfuscate(name, lst.obfuscate))}{email}</author>"
            f"{_link('alternate', href(urls.message(lst.name, msg.key)), 'text/html')}"
            f"{_element('content', content, _TEXT_TYPE)}</entry>"
        )
    out.append("</feed>")
    return "".join(out).encode("utf-8", "xmlcharrefreplace")  # as ElementTree writes


def _excerpt(text: str) -> str:
    """The start of a message for its feed entry: a reader opens the page for the rest
    (a long patch in full would make every thread's feed as big as its page)."""
    if len(text) <= CONTENT_CHARS:
        return text
    return text[: text.rfind("\n", 0, CONTENT_CHARS) + 1 or CONTENT_CHARS] + "[…]\n"


def _urn(name: str) -> str:
    """A name-based UUID (RFC 4122 version 5, exactly uuid.uuid5's) as a URN, made from the
    SHA-1 directly: uuid.UUID's constructor was a third of a thread feed's cost."""
    digest = bytearray(hashlib.sha1(_UUIDS.bytes + name.encode(), usedforsecurity=False).digest())
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # the RFC 4122 variant
    h = digest[:16].hex()
    return f"urn:uuid:{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _text(value: str) -> str:
    """`value` as XML character data (escaped as ElementTree escapes text)."""
    value = _NOT_XML.sub("\ufffd", value)
    if "&" in value:
        value = value.replace("&", "&amp;")
    if "<" in value:
        value = value.replace("<", "&lt;")
    if ">" in value:
        value = value.replace(">", "&gt;")
    return value


_TEXT_TYPE = ' type="text"'  # an Atom text construct's attribute, as _element writes it


def _element(name: str, value: str, attributes: str = "") -> str:
    text = _text(value)
    return f"<{name}{attributes}>{text}</{name}>" if text else f"<{name}{attributes} />"


def _attribute(value: str) -> str:
    """`value` as an attribute value (escaped as ElementTree escapes attributes)."""
    return (
        value.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("\r", "&#13;")
        .replace("\n", "&#10;")
        .replace("\t", "&#09;")
    )


def _link(rel: str, href: str, media_type: str) -> str:
    return f'<link rel="{rel}" href="{_attribute(href)}" type="{media_type}" />'


def _date(date_utc: int) -> str:
    """RFC 3339 in UTC, as Atom's date constructs want (RFC 4287 §3.3)."""
    return iso_date(date_utc)


def envelope_line(envelope: str | None, from_addr: str, date_utc: int) -> bytes:
    """The From_ line for a message: the one it came with, else one made from its fields."""
    if envelope:
        return envelope.encode("utf-8", "replace")
    sender = from_addr if from_addr and " " not in from_addr else "MAILER-DAEMON"
    return f"From {sender} {time.asctime(time.gmtime(date_utc))}".encode("ascii", "replace")


def mboxrd_entry(from_line: bytes, raw: bytes) -> bytes:
    """One message as an mboxrd entry."""
    # Only one message in 25 holds "From " at all: the pattern needs no scan of the rest.
    body = _FROM_LINE.sub(rb">\1", raw) if b"From " in raw else raw
    if not body.endswith(b"\n"):
        body += b"\n"
    return from_line + b"\n" + body + b"\n"
