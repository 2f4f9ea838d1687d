"""Old URLs in the static build: an archive another tool made (recorded by `piperarc import
--from`) and HyperKitty's (for a list with an address), written for the servers people use.

    redirects.nginx.map     lines of an nginx `map $uri $piperarc_moved { ... }` block
    redirects.apache.txt    an Apache RewriteMap text file (txt:), old path → new path
    _redirects              the file static hosts read at the site's root ("old new 301")
    OLD/PATH.html           for hosts with no redirects at all: a page at each old page's
                            path under the site (when the old path is under the site's root)
                            that sends the reader on (refresh and rel=canonical)

Targets are paths from the host's root: the site's root is the path of `base_url` ("/"
without one)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote, urlsplit

from piperarc import mid as midlib
from piperarc import urls
from piperarc.config import RESERVED_NAMES, ArchiveConfig, ListConfig
from piperarc.pages import ListPlan, Pages
from piperarc.store import Store

NGINX_MAP = "redirects.nginx.map"
APACHE_MAP = "redirects.apache.txt"
STATIC_HOST_MAP = "_redirects"


class Files(Protocol):
    """Where the build writes a file (files.Writer: atomically)."""

    def write(self, path: str, data: bytes | str) -> None: ...


@dataclass(frozen=True, slots=True)
class Moved:
    """One old path (from the host's root) and the site path it leads to now."""

    path: str
    target: str  # from the site's root, as urls.py writes paths
    list_name: str


def site_root(config: ArchiveConfig) -> str:
    """The path the site is served at on its host: base_url's path, else "/"."""
    return urlsplit(config.base_url).path if config.base_url else "/"


def old_links(store: Store, lst: ListConfig) -> Iterator[Moved]:
    """The list's recorded old URLs and where each leads now."""
    for link in store.old_links(lst.name):
        yield Moved(link.path, urls.old_link_target(link, lst.period), lst.name)


def hyperkitty_links(config: ArchiveConfig, lst: ListConfig, plan: ListPlan) -> Iterator[Moved]:
    """HyperKitty's URLs for the list's messages, threads, months and overview (only for a
    list with an address: HyperKitty names a list by it)."""
    if not lst.address:
        return
    base = f"{config.hyperkitty_at}list/{lst.address.lower()}/"
    yield Moved(base, urls.list_home(lst.name), lst.name)
    seen: set[str] = set()
    for summary in sorted(plan.by_key.values(), key=lambda s: s.num):
        digest = midlib.hyperkitty_hash(summary.mid)
        if digest in seen:  # a Message-ID shared: the first archived, as mid/ answers
            continue
        seen.add(digest)
        yield Moved(f"{base}message/{digest}/", urls.message(lst.name, summary.key), lst.name)
        if summary.thread_pos == 0:
            thread = urls.thread(lst.name, summary.thread_key or summary.key)
            yield Moved(f"{base}thread/{digest}/", thread, lst.name)
    months: set[tuple[int, int]] = set()
    for summary in plan.by_key.values():
        when = urls.period_of(summary.date_utc, "month")
        months.add((int(when[:4]), int(when[5:7])))
    for year, month in sorted(months):
        period = urls.period_of(urls.hyperkitty_month(year, month), lst.period)
        view = urls.period_view(lst.name, period, "thread")
        yield Moved(f"{base}{year}/{month}/", view, lst.name)


def _map_token(text: str) -> str:
    """A path as one token of an nginx map, an Apache RewriteMap or a _redirects line:
    percent-encoded, so no space, quote or semicolon can end it early."""
    return quote(text, safe="/@:+,=~!*'()-._")


def _nginx_string(text: str) -> str:
    """A path as a quoted nginx string (no control characters reach here: paths are file
    paths and URL paths)."""
    escaped = "".join(c if c.isprintable() else f"%{ord(c):02X}" for c in text)
    return '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write(
    writer: Files, config: ArchiveConfig, pages: Pages, moved: list[Moved]
) -> tuple[int, int]:
    """Write the three maps and the pages at old paths: (old URLs in the maps, pages)."""
    root = site_root(config)
    taken = site_names(config)
    # An old path that is also a path of this site (an old archive served at the site's
    # root: Hypermail's index.html) stays the site's own: redirected, it would hide a page.
    moved = sorted(
        {m.path: m for m in moved if not _shadows(m.path, root, taken)}.values(),
        key=lambda m: m.path,
    )
    nginx = [f'# include inside: map $uri $piperarc_moved {{ default ""; include {NGINX_MAP}; }}\n']
    apache: list[str] = []
    static: list[str] = []
    for item in moved:
        old, new = _map_token(item.path), _map_token(root + item.target)
        # nginx compares the decoded $uri: its key is the path itself, quoted.
        nginx.append(f"{_nginx_string(item.path)} {new};\n")
        apache.append(f"{old} {new}\n")
        static.append(f"{old} {new} 301\n")
    writer.write(NGINX_MAP, "".join(nginx))
    writer.write(APACHE_MAP, "".join(apache))
    writer.write(STATIC_HOST_MAP, "".join(static))
    return len(moved), _write_pages(writer, config, pages, moved, root)


def site_names(config: ArchiveConfig) -> frozenset[str]:
    """The first segments of the site's own paths: its lists, its pages and files."""
    own = {urls.stylesheet(), urls.search_script(), "favicon.ico", STATIC_HOST_MAP}
    return frozenset({lst.name for lst in config.lists} | set(RESERVED_NAMES) | own)


def _shadows(path: str, root: str, taken: frozenset[str]) -> bool:
    if not path.startswith(root):
        return False
    rel = path[len(root) :]
    return rel == "" or rel.split("/", 1)[0] in taken or rel.startswith("redirects.")


def _write_pages(
    writer: Files, config: ArchiveConfig, pages: Pages, moved: list[Moved], root: str
) -> int:
    written = 0
    for item in moved:
        rel = page_at(item.path, root)
        if rel is not None:
            writer.write(rel, pages.old_page(config.list(item.list_name), rel, item.target))
            written += 1
    return written


def page_at(path: str, root: str) -> str | None:
    """Where in a site served at `root` the page standing at an old path is written (from
    the site's root), or None: a path outside the site, a download or a file (only the maps
    send those on), or one that is not a safe file path."""
    if not path.startswith(root):
        return None
    rel = path[len(root) :]
    if rel.endswith("/"):
        rel += "index.html"
    if not rel.endswith((".html", ".htm")):
        return None
    if any(part in ("", ".", "..") for part in rel.split("/")):
        return None
    return rel
