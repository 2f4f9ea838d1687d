"""HTML from mail → HTML safe to put in an archive page. The one way mail HTML reaches a page.

nh3 (the Ammonia sanitizer) with an explicit allow-list: text markup, tables, links and
images only. No script, no event handlers, no forms, frames, <base>, <meta> or <object>,
no `style` (CSS can fetch: url(), @import; the pages' CSP forbids inline style anyway), no
class or id (they could borrow the page's own styles or shadow its anchors). Links keep
http, https and mailto only and carry rel="nofollow noopener noreferrer". Images load only
from the archive itself: a `cid:` reference (RFC 2392) is resolved to the message's own
attachment when it is an image; a remote image is not fetched (it would tell the sender who
reads and when) but becomes a link the reader may follow.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import unquote

import nh3
from markupsafe import Markup

from piperarc.render.text import obfuscate

TAGS = frozenset(
    {
        "a", "abbr", "acronym", "address", "b", "big", "blockquote", "br", "caption", "center",
        "cite", "code", "col", "colgroup", "dd", "del", "dfn", "div", "dl", "dt", "em", "font",
        "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "ol", "p",
        "pre", "q", "s", "samp", "small", "span", "strike", "strong", "sub", "sup", "table",
        "tbody", "td", "tfoot", "th", "thead", "tr", "tt", "u", "ul", "var", "wbr",
    }
)  # fmt: skip
# Elements removed with everything inside them (the rest lose their tags, keep their text).
DROPPED = frozenset({"script", "style", "title", "head", "template", "noscript", "svg", "math"})
ATTRIBUTES: dict[str, set[str]] = {
    "*": {"title", "lang", "dir"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan", "align", "valign"},
    "th": {"colspan", "rowspan", "align", "valign"},
    "col": {"span"},
    "ol": {"start", "type"},
    "font": {"color", "size"},
    "p": {"align"},
    "div": {"align"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto", "cid"})
LINK_REL = "nofollow noopener noreferrer"
# nh3's serialized output quotes every attribute value with '"' and escapes '"', '<' and
# '>' inside it, so this reads its <img> tags exactly.
_IMG = re.compile(r'<img((?: [a-z-]+="[^"]*")*) ?/?>')
_ATTR = re.compile(r'([a-z-]+)="([^"]*)"')
_CID = "cid:"
# A tag or a run of text of nh3's output ('>' in attribute values is escaped there).
_PIECE = re.compile(r"<[^>]*>|[^<]+")


def sanitize(html: str, images: Mapping[str, str], mode: str = "none") -> Markup:
    """`html` from a message, safe to show: see the module docstring. `images` maps the
    Content-IDs of the message's image attachments (no angle brackets) to their URLs, as
    the page links them (the caller checked they are images within the list's limit).
    Addresses are obfuscated by `mode` (text.obfuscate), and mailto: links dropped unless
    the list shows addresses."""

    def attribute(tag: str, name: str, value: str) -> str | None:
        if mode != "none" and value.lower().startswith("mailto:"):
            return None
        if value.lower().startswith(_CID):
            # cid: only as an image source, and only for an image of this message.
            # A cid: URL is the Content-ID, %-encoded (RFC 2392 section 2).
            cid = unquote(value[len(_CID) :].strip()).strip("<>")
            return images.get(cid) if tag == "img" else None
        return value

    local = frozenset(images.values())  # the only relative URLs kept
    cleaned = nh3.clean(
        html,
        tags=set(TAGS),
        clean_content_tags=set(DROPPED),
        attributes={tag: set(names) for tag, names in ATTRIBUTES.items()},
        attribute_filter=attribute,
        link_rel=LINK_REL,
        url_schemes=set(URL_SCHEMES),
        url_relative=lambda url: url if url in local else None,
        strip_comments=True,
    )
    shown = _IMG.sub(lambda m: _image(m, local), cleaned)
    if mode == "none" or "@" not in shown:
        return Markup(shown)
    return Markup(_PIECE.sub(lambda m: _obfuscated(m, mode), shown))


def _obfuscated(match: re.Match[str], mode: str) -> str:
    """Addresses in a piece of sanitized HTML obfuscated (only words and "…" go in, so
    the markup stays as nh3 made it), except in the source of the message's own image."""
    piece = match.group(0)
    if piece.startswith("<img"):
        return _ATTR.sub(
            lambda a: a.group(0) if a.group(1) == "src" else obfuscate(a.group(0), mode), piece
        )
    return obfuscate(piece, mode)


def _image(match: re.Match[str], local: frozenset[str]) -> str:
    """An <img> of the sanitized HTML: kept if it is the message's own image, else a link."""
    attrs = dict(_ATTR.findall(match.group(1)))
    src = attrs.get("src", "")
    if src and src in local:
        return match.group(0)
    if not src.startswith(("http://", "https://")):
        alt = attrs.get("alt", "")
        return f'<span class="image-gone">[image{": " if alt else ""}{alt}]</span>'
    # Values are as nh3 serialized them (already escaped): safe to place in an attribute.
    label = attrs.get("alt") or "remote image"
    return (
        f'<a class="remote-image" href="{src}" rel="{LINK_REL}" '
        f'title="Not loaded, for your privacy: open it from its site">[{label}]</a>'
    )
