"""Checks a built static site the way a visitor's browser would follow it."""

from __future__ import annotations

import posixpath
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
OUTSIDE_SCHEMES = frozenset({"http", "https", "mailto", "ftp"})


class _Links(HTMLParser):
    """The href and src values and the ids of one page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("href", "src") and value is not None:
                self.links.append(value)
            elif name == "id" and value:
                self.ids.add(value)


def broken_links(site: Path) -> tuple[int, list[str]]:
    """(links checked, links that lead nowhere) over every HTML page of the site.

    Links with a scheme must go outside (http, https, mailto, ftp); any other scheme
    (cid:, javascript:, data:, file:) or a host-relative //link is broken. A relative link
    must name a file inside the site; its #fragment, an id on the page it names."""
    files = {p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file()}
    pages: dict[str, _Links] = {}
    for name in sorted(f for f in files if f.endswith(".html")):
        parser = pages[name] = _Links()
        parser.feed((site / name).read_text(encoding="utf-8"))
        parser.close()
    checked = 0
    broken: list[str] = []
    for name, parser in pages.items():
        folder = posixpath.dirname(name)
        for link in parser.links:
            checked += 1
            scheme = _SCHEME.match(link)
            if scheme and scheme[1].lower() in OUTSIDE_SCHEMES:
                continue
            where = f"{name}: {link!r}"
            if scheme or link.startswith("//"):
                broken.append(f"{where} (not a link into the archive)")
                continue
            path, _, fragment = link.partition("#")
            path = path.partition("?")[0]
            target = posixpath.normpath(posixpath.join(folder, unquote(path))) if path else name
            if target not in files:
                broken.append(f"{where} (no such file in the site)")
            elif fragment and target in pages and unquote(fragment) not in pages[target].ids:
                broken.append(f"{where} (no such anchor)")
    return checked, broken


def page_raw(site: Path, url: str) -> bytes:
    """The original (.eml) that the message page at `url` links to."""
    page = site / url
    links = set(re.findall(r'href="([^"#?]+\.eml)"', page.read_text(encoding="utf-8")))
    assert len(links) == 1, f"{url} links {len(links)} originals"
    return (page.parent / unquote(links.pop())).read_bytes()
