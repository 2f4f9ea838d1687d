"""A message's display blocks (structure.MailView) → the values its template draws.

Text goes through text.body_html (escaped, then quotes, patches and links marked), HTML
through sanitize.sanitize and nowhere else; everything else is plain values the template
escapes. Images are drawn in place only when they are raster images the browser decodes
without running anything, and no larger than the list's `inline_limit`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from piperarc import urls
from piperarc.mail.structure import MailView
from piperarc.model import Attachment
from piperarc.render.sanitize import sanitize
from piperarc.render.text import body_html, obfuscate

# Images an <img> may show: raster formats only (an SVG can carry script and links).
INLINE_IMAGES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
_CID_REF = re.compile(r"cid:([^\s\"'<>)]+)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Shown:
    """How a page shows a message: its parts, its files and how many parts were damaged."""

    parts: list[dict[str, Any]]
    attachments: list[dict[str, Any]]
    damaged_parts: int


def shown(
    view: MailView,
    *,
    list_name: str,
    key: str,
    root: str,
    mode: str,
    inline_limit: int,
) -> Shown:
    """The template values of `view` on the page whose way back to the site root is
    `root`; addresses obfuscated by `mode`."""
    files = {a.index: a for a in view.attachments}

    def href(a: Attachment) -> str:
        return root + urls.attachment(list_name, key, a.index, a.filename)

    def inline(a: Attachment) -> bool:
        return a.content_type in INLINE_IMAGES and len(a.data) <= inline_limit

    images = {a.content_id: href(a) for a in view.attachments if a.content_id and inline(a)}
    referenced = {
        unquote(ref).strip("<>")
        for b in view.blocks
        if b.kind == "html"
        for ref in _CID_REF.findall(b.text)
    }
    parts: list[dict[str, Any]] = []
    for b in view.blocks:
        part: dict[str, Any] = {"kind": b.kind, "depth": b.depth, "note": b.note}
        if b.kind in ("text", "damaged"):
            part["html"] = body_html(b.text, mode)
        elif b.kind == "diff":
            part["html"] = body_html(b.text, mode, diff=True)
        elif b.kind == "html":
            part["html"] = sanitize(b.text, images, mode)
            part["offered"] = b.offered
        elif b.kind in ("image", "signature", "file"):
            a = files[b.attachment]
            if b.kind == "image" and a.content_id and a.content_id in referenced:
                continue  # drawn where the HTML refers to it
            part.update(_file(a, href(a)), inline=inline(a))
        elif b.kind == "nested":
            part["headers"] = [(name, obfuscate(value, mode)) for name, value in b.headers]
        parts.append(part)
    return Shown(
        parts,
        [_file(a, href(a)) for a in view.attachments],
        0 if view.whole else len(view.problems),
    )


def _file(a: Attachment, href: str) -> dict[str, Any]:
    return {
        "index": a.index,
        "filename": a.filename,
        "content_type": a.content_type,
        "size": len(a.data),
        "href": href,
    }
