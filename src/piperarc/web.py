"""The live server: an ASGI app that serves every page of the static build from the database,
at the same paths (urls.py), rendered by the same code (pages.py), plus search, the JSON API,
Message-ID lookups and mbox downloads. It never writes.

    index.html, LIST/index.html, LIST/PERIOD/VIEW.html, LIST/m/KEY.html, LIST/t/KEY.html
                                     as the static build writes them, byte for byte
    LIST/m/KEY.eml, LIST/m/KEY/N-NAME   the original, the attachments (always downloads)
    LIST/PERIOD.mbox.gz, LIST/t/KEY.mbox.gz   mboxrd, gzipped; the same path without .gz
                                     gives it uncompressed
    search.html?q=&list=&page=&sort=    results; search.mbox?q=... every match as mboxrd
    LIST/messages.atom, LIST/threads.atom, LIST/t/KEY.atom   Atom feeds, as the build's
    help/search.html                  the query language
    mid/MESSAGE-ID, LIST/mid/MESSAGE-ID   a redirect to the message's permalink
    api/...                           JSON (api.py), described at api/openapi.json

Rendering happens on the event loop's thread with one read-only connection: SQLite reads
take well under a millisecond, and a thread pool would only add hand-offs under the GIL.
Downloads stream from a connection of their own. Each list's ListPlan and the rendered
pages are cached; both are dropped when the database changes (PRAGMA data_version), so
newly imported mail shows at once, without a rebuild.
"""

from __future__ import annotations

import hashlib
import os
import re
import zlib
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from markupsafe import Markup
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from piperarc import api, feeds, search, urls
from piperarc import config as configlib
from piperarc import mid as midlib
from piperarc.config import ArchiveConfig, ListConfig
from piperarc.errors import (
    NotFoundError,
    PiperarcError,
    QueryError,
    StoreError,
    UnknownListError,
)
from piperarc.feeds import envelope_line, mboxrd_entry
from piperarc.model import SearchHit, StoredMessage, Summary
from piperarc.pages import ListPlan, Pages, attachments_of
from piperarc.store import ListStats, Store, open_store

# The same policy as the <meta> in render/templates/base.html, sent as a header too: a
# header also covers downloads and errors, and frame-ancestors works only there.
CSP = "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'"
# Attachments are downloads, but if a browser shows one anyway it runs nothing.
ATTACHMENT_CSP = "default-src 'none'; sandbox"
PAGE_CACHE_BYTES = 64 * 1024 * 1024
PER_PAGE = 20
MAX_MBOX_RESULTS = 10_000
STREAM_CHUNK = 64 * 1024
ARCHIVE_ENV = "PIPERARC_ARCHIVE"

PAGE_CACHING = "public, max-age=300"  # pages of an index change when mail arrives
IMMUTABLE = "public, max-age=31536000, immutable"  # originals and attachments never change
NO_STORE = "no-store"
ATOM = "application/atom+xml"

# Types a browser shows without running anything; every other attachment is sent as
# application/octet-stream (never text/html, never image/svg+xml).
_INERT_TYPES = frozenset(
    {
        "application/pdf",
        "application/zip",
        "application/gzip",
        "application/x-gzip",
        "application/x-bzip2",
        "application/x-xz",
        "application/x-tar",
        "application/pgp-signature",
        "application/pkcs7-signature",
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "text/plain",
        "text/x-patch",
        "text/x-diff",
        "text/csv",
    }
)
_ATTACHMENT_NAME = re.compile(r"^([0-9]{1,6})-")


@dataclass(frozen=True, slots=True)
class CachedPage:
    """A rendered page as sent: its bytes and validators."""

    body: bytes
    etag: str
    last_modified: int | None = None


def _site_path(request: Request) -> str:
    """The request's path from the site root, as urls.py writes paths ("salon/index.html")."""
    path = str(request.scope["path"])
    root = str(request.scope.get("root_path", ""))
    if root and path.startswith(root):
        path = path[len(root) :]
    return path.lstrip("/")


def _etag(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def _http_date(seconds: int) -> str:
    return formatdate(seconds, usegmt=True)


def _content_disposition(filename: str, fallback: str) -> str:
    """RFC 6266: an ASCII fallback name, and the real one (RFC 8187) when it differs."""
    header = f'attachment; filename="{fallback}"'
    if filename != fallback:
        header += f"; filename*=UTF-8''{quote(filename, safe='')}"
    return header


def _not_modified(request: Request, etag: str, last_modified: int | None) -> bool:
    """RFC 9110 13.2.2: If-None-Match first; If-Modified-Since only without it."""
    inm = request.headers.get("if-none-match")
    if inm is not None:
        tags = [t.strip().removeprefix("W/") for t in inm.split(",")]
        return "*" in tags or etag in tags
    ims = request.headers.get("if-modified-since")
    if ims and last_modified is not None:
        try:
            return last_modified <= int(parsedate_to_datetime(ims).timestamp())
        except (TypeError, ValueError):
            return False
    return False


def _page_response(
    request: Request,
    page: CachedPage,
    *,
    media_type: str = "text/html; charset=utf-8",
    cache_control: str = PAGE_CACHING,
    use_last_modified: bool = False,
    extra: dict[str, str] | None = None,
) -> Response:
    """`page` with its validators, or 304 when the client's copy is current."""
    headers = {"ETag": page.etag, "Cache-Control": cache_control, **(extra or {})}
    if page.last_modified is not None:
        headers["Last-Modified"] = _http_date(page.last_modified)
    modified = page.last_modified if use_last_modified else None
    if _not_modified(request, page.etag, modified):
        return Response(status_code=304, headers=headers)
    return Response(page.body, media_type=media_type, headers=headers)


def _gzipped(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """gzip of the concatenated chunks, streamed (header mtime 0, as the static build's)."""
    packer = zlib.compressobj(6, zlib.DEFLATED, 31)
    for chunk in chunks:
        out = packer.compress(chunk)
        if out:
            yield out
    yield packer.flush()


def _batched(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Chunks joined to about STREAM_CHUNK bytes: fewer hand-offs to the event loop."""
    pending: list[bytes] = []
    size = 0
    for chunk in chunks:
        pending.append(chunk)
        size += len(chunk)
        if size >= STREAM_CHUNK:
            yield b"".join(pending)
            pending, size = [], 0
    if pending:
        yield b"".join(pending)


class _SecurityHeaders:
    """Adds the Content-Security-Policy and nosniff to every response that lacks them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                if b"content-security-policy" not in names:
                    headers.append((b"content-security-policy", CSP.encode()))
                if b"x-content-type-options" not in names:
                    headers.append((b"x-content-type-options", b"nosniff"))
                if b"referrer-policy" not in names:
                    headers.append((b"referrer-policy", b"no-referrer"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class Archive:
    """The server's view of the archive: settings, a read-only store, cached plans and pages."""

    def __init__(self, config: ArchiveConfig, *, page_cache_bytes: int = PAGE_CACHE_BYTES) -> None:
        self.config = config
        self.pages = Pages(config.title)
        self._store: Store | None = None
        self._version: int | None = None
        self._plans: dict[str, ListPlan | None] = {}
        self._stats: dict[str, ListStats | None] = {}
        self._cache: OrderedDict[str, CachedPage] = OrderedDict()
        self._cache_bytes = 0
        self._cache_limit = page_cache_bytes
        self.css = resources.files("piperarc").joinpath("render/static/piperarc.css").read_bytes()

    @property
    def store(self) -> Store:
        if self._store is None:
            if not self.config.database.exists():
                raise StoreError(
                    "the archive has no database yet: import some mail first",
                    self.config.database,
                )
            self._store = open_store(self.config.database, readonly=True)
        return self._store

    def reader(self) -> Store:
        """A connection of its own, for a download that streams from a worker thread."""
        self.store  # noqa: B018 -- the same checks and errors as the shared connection
        return open_store(self.config.database, readonly=True)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def refresh(self) -> None:
        """Drop every cached plan and page if anyone committed to the database since."""
        version = self.store.data_version()
        if version != self._version:
            self._version = version
            self._plans.clear()
            self._stats.clear()
            self._cache.clear()
            self._cache_bytes = 0

    def lst(self, name: str) -> ListConfig:
        try:
            return self.config.list(name)
        except UnknownListError as err:
            raise NotFoundError(f"no list named {name!r} in this archive") from err

    def stats(self, lst: ListConfig) -> ListStats | None:
        if lst.name not in self._stats:
            stored = lst.name in self.store.list_names()
            self._stats[lst.name] = self.store.stats(lst.name) if stored else None
        return self._stats[lst.name]

    def plan(self, lst: ListConfig) -> ListPlan | None:
        """The list's plan, None while it has no messages."""
        if lst.name not in self._plans:
            stats = self.stats(lst)
            self._plans[lst.name] = (
                ListPlan(self.store.summaries(lst.name), lst.period)
                if stats and stats.messages
                else None
            )
        return self._plans[lst.name]

    def need_plan(self, lst: ListConfig) -> ListPlan:
        plan = self.plan(lst)
        if plan is None:
            raise NotFoundError(f"the list {lst.name!r} has no messages yet")
        return plan

    def summary(self, lst: ListConfig, key: str) -> tuple[ListPlan, Summary]:
        plan = self.need_plan(lst)
        found = plan.by_key.get(key)
        if found is None:
            raise NotFoundError(f"no message {key!r} in the list {lst.name!r}")
        return plan, found

    def cached(self, path: str) -> CachedPage | None:
        page = self._cache.get(path)
        if page is not None:
            self._cache.move_to_end(path)
        return page

    def keep(self, path: str, body: bytes, last_modified: int | None = None) -> CachedPage:
        """Caches a rendered page (least recently used pages go first)."""
        page = CachedPage(body, _etag(body), last_modified)
        if len(body) * 4 <= self._cache_limit:
            old = self._cache.pop(path, None)
            if old is not None:
                self._cache_bytes -= len(old.body)
            self._cache[path] = page
            self._cache_bytes += len(body)
            while self._cache_bytes > self._cache_limit:
                _, dropped = self._cache.popitem(last=False)
                self._cache_bytes -= len(dropped.body)
        return page

    # -- pages, as the static build writes them --
    def home_page(self) -> CachedPage:
        path = urls.home()
        page = self.cached(path)
        if page is None:
            entries = []
            for lst in self.config.lists:
                stats = self.stats(lst)
                entries.append(
                    {
                        "name": lst.name,
                        "title": lst.title,
                        "description": lst.description,
                        "messages": stats.messages if stats else 0,
                        "last": stats.last if stats else None,
                    }
                )
            page = self.keep(path, self.pages.home(entries).encode())
        return page

    def list_page(self, lst: ListConfig) -> CachedPage:
        # The static build also shows each period's download size; the server makes its
        # downloads on request and knows no size, so its list home leaves the sizes out.
        path = urls.list_home(lst.name)
        page = self.cached(path)
        if page is None:
            html = self.pages.list_home(lst, self.plan(lst), self.stats(lst))
            page = self.keep(path, html.encode())
        return page

    def period_page(self, lst: ListConfig, period: str, view: str) -> CachedPage:
        path = urls.period_view(lst.name, period, view)
        page = self.cached(path)
        if page is None:
            plan = self.need_plan(lst)
            if period not in plan.periods or view not in urls.VIEWS:
                raise NotFoundError(f"no period {period!r} in the list {lst.name!r}")
            for view_path, html in self.pages.period_views(lst, plan, period).items():
                self.keep(view_path, html.encode())
            page = self.cached(path) or CachedPage(b"", '""')
        return page

    def message_page(self, lst: ListConfig, key: str) -> CachedPage:
        path = urls.message(lst.name, key)
        page = self.cached(path)
        if page is None:
            plan, summary = self.summary(lst, key)
            msg = self.store.message(lst.name, summary.num)
            html = self.pages.message(lst, plan, msg, self.store.raw(lst.name, msg.num)).html
            page = self.keep(path, html.encode(), msg.archived_at)
        return page

    def thread_page(self, lst: ListConfig, thread_key: str) -> CachedPage:
        path = urls.thread(lst.name, thread_key)
        page = self.cached(path)
        if page is None:
            plan = self.need_plan(lst)
            if thread_key in plan.threads:
                entries = [
                    (msg, self.pages.message(lst, plan, msg, raw).article)
                    for msg, raw in self.store.thread_messages(lst.name, thread_key)
                ]
                html = self.pages.thread(lst, thread_key, entries)
            else:
                moved = self.pages.moved_thread(lst, plan, thread_key)
                if moved is None:
                    raise NotFoundError(f"no thread {thread_key!r} in the list {lst.name!r}")
                html = moved
            page = self.keep(path, html.encode())
        return page

    def list_feed_doc(self, lst: ListConfig, kind: str) -> CachedPage:
        """The list's Atom feed of its newest messages or threads, as the build writes it."""
        if kind not in urls.FEEDS:
            raise NotFoundError(f"no {kind!r} feed")
        path = urls.list_feed(lst.name, kind)
        page = self.cached(path)
        if page is None:
            plan = self.need_plan(lst)
            picked = feeds.newest(
                plan.by_date if kind == "messages" else feeds.thread_starters(plan.threads)
            )
            messages = [self.store.message(lst.name, s.num) for s in picked]
            feed = feeds.list_feed(lst, kind)
            page = self.keep(path, feeds.atom(feed, lst, messages, self.config.base_url))
        return page

    def thread_feed_doc(self, lst: ListConfig, thread_key: str) -> CachedPage:
        """A thread's Atom feed, as the build writes it."""
        path = urls.thread_feed(lst.name, thread_key)
        page = self.cached(path)
        if page is None:
            plan = self.need_plan(lst)
            if thread_key not in plan.threads:
                raise NotFoundError(f"no thread {thread_key!r} in the list {lst.name!r}")
            messages = [msg for msg, _ in self.store.thread_messages(lst.name, thread_key)]
            feed = feeds.thread_feed(lst, thread_key, messages[0])
            page = self.keep(path, feeds.atom(feed, lst, messages, self.config.base_url))
        return page

    def message_and_raw(self, lst: ListConfig, key: str) -> tuple[ListPlan, StoredMessage, bytes]:
        plan, summary = self.summary(lst, key)
        msg = self.store.message(lst.name, summary.num)
        return plan, msg, self.store.raw(lst.name, msg.num)

    def by_mid(self, mid: str, list_names: Sequence[str]) -> list[StoredMessage]:
        """Every message with this Message-ID in these lists, first archived first."""
        stored = set(self.store.list_names())
        found = [
            msg
            for name in list_names
            if name in stored
            for msg in self.store.messages_by_mid(name, mid)
        ]
        return sorted(found, key=lambda m: (m.archived_at, m.num))

    def render(self, template: str, path: str, **context: Any) -> str:
        """One of the server's own pages (search, help, errors), as pages.py renders."""
        root = "../" * path.count("/")
        return self.pages.renderer.env.get_template(f"{template}.html").render(
            root=root, page_path=path, archive_title=self.config.title, **context
        )


def _mbox_chunks(
    store: Store, list_name: str, items: Sequence[Summary | SearchHit]
) -> Iterator[bytes]:
    by_num = {s.num: s for s in items}
    for num, envelope, raw in store.iter_raw(list_name, [s.num for s in items]):
        s = by_num[num]
        yield mboxrd_entry(envelope_line(envelope, s.from_addr, s.date_utc), raw)


def _status_of(exc: Exception) -> tuple[int, str, str]:
    """(HTTP status, heading, message) for an error, in words for people."""
    if isinstance(exc, HTTPException):
        if exc.status_code == 404:
            return 404, "Not found", "There is no page at this address in the archive."
        return exc.status_code, "Cannot do that", str(exc.detail)
    if isinstance(exc, NotFoundError):
        return 404, "Not found", exc.reason
    if isinstance(exc, QueryError):
        return 400, "Cannot read the search", exc.reason
    if isinstance(exc, StoreError):
        return 503, "The archive is not available", exc.reason
    if isinstance(exc, PiperarcError):
        return 500, "Something went wrong", str(exc)
    return 500, "Something went wrong", "The server could not make this page."


class _App:
    """The route handlers, over one Archive."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive

    # -- helpers --
    @staticmethod
    def base(request: Request) -> str:
        return str(request.scope.get("root_path", "")).rstrip("/") + "/"

    def fresh(self) -> Archive:
        self.archive.refresh()
        return self.archive

    async def error(self, request: Request, exc: Exception) -> Response:
        status, heading, message = _status_of(exc)
        path = _site_path(request)
        if path.startswith("api/"):
            return JSONResponse({"error": message}, status, headers={"Cache-Control": NO_STORE})
        try:
            html = self.archive.render(
                "error", path or "index.html", heading=heading, message=message
            )
        except Exception:  # the templates themselves failed: say it in plain words
            html = f"<!DOCTYPE html><title>{status}</title><p>{status}: {heading}</p>"
        return HTMLResponse(html, status, headers={"Cache-Control": NO_STORE})

    # -- the static build's pages --
    async def home(self, request: Request) -> Response:
        return _page_response(request, self.fresh().home_page())

    async def stylesheet(self, request: Request) -> Response:
        css = self.archive.css
        page = CachedPage(css, _etag(css))
        return _page_response(
            request,
            page,
            media_type="text/css; charset=utf-8",
            cache_control="public, max-age=3600",
        )

    async def favicon(self, request: Request) -> Response:
        # Browsers ask for it on every site; "no icon" without a 404 in their console.
        return Response(status_code=204, headers={"Cache-Control": "public, max-age=86400"})

    async def list_home(self, request: Request) -> Response:
        archive = self.fresh()
        return _page_response(request, archive.list_page(archive.lst(request.path_params["list"])))

    async def list_slash(self, request: Request) -> Response:
        return RedirectResponse(f"{self.base(request)}{request.path_params['list']}/", 301)

    async def period_view(self, request: Request) -> Response:
        archive = self.fresh()
        p = request.path_params
        return _page_response(
            request, archive.period_page(archive.lst(p["list"]), p["period"], p["view"])
        )

    async def message(self, request: Request) -> Response:
        archive = self.fresh()
        p = request.path_params
        return _page_response(request, archive.message_page(archive.lst(p["list"]), p["key"]))

    async def thread(self, request: Request) -> Response:
        archive = self.fresh()
        p = request.path_params
        return _page_response(request, archive.thread_page(archive.lst(p["list"]), p["key"]))

    async def list_feed(self, request: Request) -> Response:
        archive = self.fresh()
        p = request.path_params
        page = archive.list_feed_doc(archive.lst(p["list"]), p["kind"])
        return _page_response(request, page, media_type=ATOM)

    async def thread_feed(self, request: Request) -> Response:
        archive = self.fresh()
        p = request.path_params
        page = archive.thread_feed_doc(archive.lst(p["list"]), p["key"])
        return _page_response(request, page, media_type=ATOM)

    # -- originals, attachments, downloads --
    async def raw(self, request: Request) -> Response:
        archive = self.fresh()
        p = request.path_params
        lst = archive.lst(p["list"])
        _, msg, raw = archive.message_and_raw(lst, p["key"])
        name = urls.message_raw(lst.name, msg.key).rsplit("/", 1)[-1]
        page = CachedPage(raw, f'"{msg.digest[:32]}"', msg.archived_at)
        return _page_response(
            request,
            page,
            media_type="message/rfc822",
            cache_control=IMMUTABLE,
            use_last_modified=True,
            extra={"Content-Disposition": _content_disposition(name, name)},
        )

    async def attachment(self, request: Request) -> Response:
        archive = self.fresh()
        p = request.path_params
        lst = archive.lst(p["list"])
        index = _ATTACHMENT_NAME.match(p["name"])
        if index is None:
            raise NotFoundError(f"no attachment {p['name']!r}")
        _, msg, raw = archive.message_and_raw(lst, p["key"])
        path = _site_path(request)
        for a in attachments_of(msg, raw):
            if (
                a.index == int(index[1])
                and urls.attachment(lst.name, msg.key, a.index, a.filename) == path
            ):
                kind = a.content_type.lower()
                page = CachedPage(a.data, f'"{msg.digest[:24]}-{a.index}"', msg.archived_at)
                fallback = urls.safe_filename(a.filename, a.index)
                return _page_response(
                    request,
                    page,
                    media_type=kind if kind in _INERT_TYPES else "application/octet-stream",
                    cache_control=IMMUTABLE,
                    use_last_modified=True,
                    extra={
                        "Content-Disposition": _content_disposition(a.filename, fallback),
                        "Content-Security-Policy": ATTACHMENT_CSP,
                    },
                )
        raise NotFoundError(f"no attachment {p['name']!r} in this message")

    def _mbox(
        self,
        request: Request,
        name: str,
        chunks: Callable[[Store], Iterator[bytes]],
        *,
        compressed: bool,
        cache_control: str = PAGE_CACHING,
    ) -> Response:
        reader = self.archive.reader()

        def stream() -> Iterator[bytes]:
            try:
                body = _batched(chunks(reader))
                yield from _gzipped(body) if compressed else body
            finally:
                reader.close()

        filename = f"{name}.mbox.gz" if compressed else f"{name}.mbox"
        return StreamingResponse(
            stream(),
            media_type="application/gzip" if compressed else "application/mbox",
            headers={
                "Content-Disposition": _content_disposition(filename, filename),
                "Cache-Control": cache_control,
            },
        )

    async def period_mbox(self, request: Request) -> Response:
        archive = self.fresh()
        p = request.path_params
        lst = archive.lst(p["list"])
        plan = archive.need_plan(lst)
        items = plan.periods.get(p["period"])
        if items is None:
            raise NotFoundError(f"no period {p['period']!r} in the list {lst.name!r}")
        return self._mbox(
            request,
            f"{lst.name}-{p['period']}",
            lambda store: _mbox_chunks(store, lst.name, items),
            compressed=request.url.path.endswith(".gz"),
        )

    async def thread_mbox(self, request: Request) -> Response:
        archive = self.fresh()
        p = request.path_params
        lst = archive.lst(p["list"])
        plan = archive.need_plan(lst)
        items = plan.threads.get(p["key"])
        if items is None:
            raise NotFoundError(f"no thread {p['key']!r} in the list {lst.name!r}")
        return self._mbox(
            request,
            f"{lst.name}-thread-{p['key']}",
            lambda store: _mbox_chunks(store, lst.name, items),
            compressed=request.url.path.endswith(".gz"),
        )

    # -- Message-ID lookup --
    async def mid_lookup(self, request: Request) -> Response:
        archive = self.fresh()
        wanted = request.path_params["mid"]
        mid = midlib.clean(wanted) or wanted.strip().strip("<>")
        if "list" in request.path_params:
            names = [archive.lst(request.path_params["list"]).name]
        else:
            names = [lst.name for lst in archive.config.lists]
        found = archive.by_mid(mid, names)
        if not found:
            where = f"the list {names[0]!r}" if "list" in request.path_params else "this archive"
            raise NotFoundError(f"no message with Message-ID <{mid}> in {where}")
        first = found[0]
        target = self.base(request) + urls.message(first.list_name, first.key)
        # 302: the first archived copy is the answer now; if the list is set up again, it
        # may be another one.
        return RedirectResponse(target, 302, headers={"Cache-Control": PAGE_CACHING})

    # -- search --
    def _search_args(self, request: Request) -> tuple[str, ListConfig | None, int, str]:
        q = request.query_params.get("q", "").strip()
        name = request.query_params.get("list", "").strip()
        lst = self.archive.lst(name) if name else None
        page_text = request.query_params.get("page", "1")
        if not page_text.isdigit() or not 1 <= int(page_text) <= 10_000:
            raise QueryError("page must be a number from 1")
        sort = request.query_params.get("sort", "relevance")
        if sort not in ("relevance", "date"):
            raise QueryError("sort must be relevance or date")
        return q, lst, int(page_text), sort

    def _lists_for(self, lst: ListConfig | None) -> list[str]:
        return [lst.name] if lst else [x.name for x in self.archive.config.lists]

    async def search_page(self, request: Request) -> Response:
        archive = self.fresh()
        q = request.query_params.get("q", "").strip()
        context: dict[str, Any] = {
            "query": q,
            "lst": None,
            "hits": [],
            "total": 0,
            "page": 1,
            "pages": 1,
            "sort": "relevance",
            "error": None,
            "links": {},
        }
        status = 200
        try:
            q, lst, page, sort = self._search_args(request)
            context.update(lst=lst, sort=sort, page=page)
            if q:
                results = search.run(
                    archive.store,
                    q,
                    list_names=self._lists_for(lst),
                    page=page,
                    per_page=PER_PAGE,
                    sort=sort,
                )
                context.update(
                    total=results.total, pages=results.pages, hits=self._hits(results.hits)
                )
                context["links"] = self._search_links(q, lst, page, sort, results.pages)
        except (QueryError, NotFoundError) as err:
            status, _, context["error"] = _status_of(err)
        html = archive.render("search_results", urls.search(), **context)
        return HTMLResponse(html, status, headers={"Cache-Control": "no-cache"})

    def _hits(self, hits: Sequence[SearchHit]) -> list[dict[str, Any]]:
        archive = self.archive
        out = []
        for hit in hits:
            lst = archive.lst(hit.list_name)
            out.append(
                {
                    "url": urls.message(hit.list_name, hit.key),
                    "subject": hit.subject or "(no subject)",
                    "list_title": lst.title,
                    "list_url": urls.list_home(hit.list_name),
                    "sender": api.sender(hit.from_name, hit.from_addr, lst.obfuscate),
                    "date_utc": hit.date_utc,
                    "snippet": Markup(search.snippet_html(hit.snippet, lst.obfuscate)),
                }
            )
        return out

    @staticmethod
    def _search_links(
        q: str, lst: ListConfig | None, page: int, sort: str, pages: int
    ) -> dict[str, str]:
        def link(target: str, **changes: Any) -> str:
            args: dict[str, Any] = {"q": q}
            if lst:
                args["list"] = lst.name
            args.update(sort=sort, page=page)
            args.update(changes)
            if args.get("page") == 1:
                del args["page"]
            if args.get("sort") == "relevance":
                del args["sort"]
            return f"{target}?{urlencode(args)}"

        links = {
            "relevance": link(urls.search(), sort="relevance", page=1),
            "date": link(urls.search(), sort="date", page=1),
            "mbox": link(urls.search_mbox(), page=1, sort="date"),
        }
        if page > 1:
            links["prev"] = link(urls.search(), page=page - 1)
        if page < pages:
            links["next"] = link(urls.search(), page=page + 1)
        return links

    async def search_mbox(self, request: Request) -> Response:
        archive = self.fresh()
        q, lst, _, _ = self._search_args(request)
        if not q:
            raise QueryError("type some words to search for (see the search help for more)")
        lists = self._lists_for(lst)
        search.run(archive.store, q, list_names=lists, per_page=1)  # a bad query fails here

        def chunks(store: Store) -> Iterator[bytes]:
            sent = 0
            page = 1
            while sent < MAX_MBOX_RESULTS:
                results = search.run(
                    store,
                    q,
                    list_names=lists,
                    page=page,
                    per_page=search.MAX_PER_PAGE,
                    sort="date",
                )
                for hit in results.hits:
                    yield from _mbox_chunks(store, hit.list_name, [hit])
                sent += len(results.hits)
                if page >= results.pages:
                    break
                page += 1

        return self._mbox(request, "search", chunks, compressed=False, cache_control="no-cache")

    async def search_help(self, request: Request) -> Response:
        html = self.archive.render("search_help", urls.search_help())
        body = html.encode()
        return _page_response(request, CachedPage(body, _etag(body)))

    # -- the JSON API --
    def docs(self, request: Request) -> api.Documents:
        return api.Documents(self.base(request))

    async def api_openapi(self, request: Request) -> Response:
        return JSONResponse(api.openapi(self.archive.config.title))

    async def api_lists(self, request: Request) -> Response:
        archive = self.fresh()
        docs = self.docs(request)
        return JSONResponse(
            {"lists": [docs.list_info(lst, archive.stats(lst)) for lst in archive.config.lists]}
        )

    async def api_list(self, request: Request) -> Response:
        archive = self.fresh()
        lst = archive.lst(request.path_params["list"])
        return JSONResponse(
            self.docs(request).list_detail(lst, archive.stats(lst), archive.plan(lst))
        )

    async def api_period(self, request: Request) -> Response:
        archive = self.fresh()
        lst = archive.lst(request.path_params["list"])
        plan = archive.need_plan(lst)
        period = request.path_params["period"]
        if period not in plan.periods:
            raise NotFoundError(f"no period {period!r} in the list {lst.name!r}")
        return JSONResponse(self.docs(request).period(lst, plan, period))

    async def api_thread(self, request: Request) -> Response:
        archive = self.fresh()
        lst = archive.lst(request.path_params["list"])
        plan = archive.need_plan(lst)
        key = request.path_params["key"]
        if key not in plan.threads:
            raise NotFoundError(f"no thread {key!r} in the list {lst.name!r}")
        return JSONResponse(self.docs(request).thread(lst, plan, key))

    async def api_message(self, request: Request) -> Response:
        archive = self.fresh()
        lst = archive.lst(request.path_params["list"])
        plan, msg, raw = archive.message_and_raw(lst, request.path_params["key"])
        doc = self.docs(request).message(lst, plan, msg, attachments_of(msg, raw))
        return JSONResponse(doc)

    async def api_search(self, request: Request) -> Response:
        archive = self.fresh()
        q, lst, page, sort = self._search_args(request)
        if not q:
            raise QueryError("give a query: /api/search?q=WORDS (see /help/search.html)")
        results = search.run(
            archive.store,
            q,
            list_names=self._lists_for(lst),
            page=page,
            per_page=PER_PAGE,
            sort=sort,
        )
        base = self.base(request)
        found = []
        for hit in results.hits:
            doc = search.hit_json(hit, archive.lst(hit.list_name).obfuscate)
            doc["url"] = base + doc["url"]
            found.append(doc)
        return JSONResponse(
            {"total": results.total, "results": found}, headers={"Cache-Control": "no-cache"}
        )

    def routes(self) -> list[Route]:
        get = ["GET"]
        return [
            Route("/", self.home, methods=get),
            Route("/index.html", self.home, methods=get),
            Route("/piperarc.css", self.stylesheet, methods=get),
            Route("/favicon.ico", self.favicon, methods=get),
            Route("/search.html", self.search_page, methods=get),
            Route("/search.mbox", self.search_mbox, methods=get),
            Route("/help/search.html", self.search_help, methods=get),
            Route("/mid/{mid:path}", self.mid_lookup, methods=get),
            Route("/api/openapi.json", self.api_openapi, methods=get),
            Route("/api/lists", self.api_lists, methods=get),
            Route("/api/lists/{list}", self.api_list, methods=get),
            Route("/api/lists/{list}/periods/{period}", self.api_period, methods=get),
            Route("/api/lists/{list}/threads/{key}", self.api_thread, methods=get),
            Route("/api/lists/{list}/messages/{key}", self.api_message, methods=get),
            Route("/api/search", self.api_search, methods=get),
            Route("/{list}", self.list_slash, methods=get),
            Route("/{list}/", self.list_home, methods=get),
            Route("/{list}/index.html", self.list_home, methods=get),
            Route("/{list}/mid/{mid:path}", self.mid_lookup, methods=get),
            Route("/{list}/m/{key}.html", self.message, methods=get),
            Route("/{list}/m/{key}.eml", self.raw, methods=get),
            Route("/{list}/m/{key}/{name}", self.attachment, methods=get),
            Route("/{list}/t/{key}.html", self.thread, methods=get),
            Route("/{list}/t/{key}.atom", self.thread_feed, methods=get),
            Route("/{list}/{kind}.atom", self.list_feed, methods=get),
            Route("/{list}/t/{key}.mbox.gz", self.thread_mbox, methods=get),
            Route("/{list}/t/{key}.mbox", self.thread_mbox, methods=get),
            Route("/{list}/{period}.mbox.gz", self.period_mbox, methods=get),
            Route("/{list}/{period}.mbox", self.period_mbox, methods=get),
            Route("/{list}/{period}/{view}.html", self.period_view, methods=get),
        ]


def create_app(config: ArchiveConfig, *, page_cache_bytes: int = PAGE_CACHE_BYTES) -> Starlette:
    """The ASGI app serving the archive of `config` (read-only)."""
    archive = Archive(config, page_cache_bytes=page_cache_bytes)
    handlers = _App(archive)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            archive.close()

    app = Starlette(
        routes=handlers.routes(),
        exception_handlers={
            HTTPException: handlers.error,
            PiperarcError: handlers.error,
            Exception: handlers.error,
        },
        lifespan=lifespan,
    )
    app.add_middleware(_SecurityHeaders)
    app.state.archive = archive
    return app


def app_from_environment() -> Starlette:
    """The app for uvicorn's worker processes (`serve --workers N` passes the archive's
    folder in PIPERARC_ARCHIVE, as worker processes cannot be handed an object)."""
    return create_app(configlib.load(Path(os.environ.get(ARCHIVE_ENV, "."))))


def serve(
    config: ArchiveConfig,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    access_log: bool = True,
) -> None:
    """Run the server until interrupted (uvicorn)."""
    import uvicorn

    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "access_log": access_log,
        "log_level": "info",
        "server_header": False,
    }
    if workers == 1:
        uvicorn.run(create_app(config), **options)
        return
    os.environ[ARCHIVE_ENV] = str(config.root.resolve())
    uvicorn.run("piperarc.web:app_from_environment", factory=True, workers=workers, **options)
