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
pages are cached (webcache.py); both are dropped when the database changes (PRAGMA
data_version), so newly imported mail shows at once, without a rebuild. The HTTP plumbing
(validators, downloads, security headers) is in webhttp.py.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

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

from piperarc import config as configlib
from piperarc import mid as midlib
from piperarc import search, urls
from piperarc.config import ArchiveConfig, ListConfig
from piperarc.errors import (
    NotFoundError,
    PiperarcError,
    QueryError,
    StoreError,
)
from piperarc.feeds import envelope_line, mboxrd_entry
from piperarc.model import SearchHit, Summary
from piperarc.pages import attachments_of
from piperarc.render.text import obfuscate, sender
from piperarc.store import Store
from piperarc.web import api
from piperarc.web.cache import PAGE_CACHE_BYTES, Archive, CachedPage, etag
from piperarc.web.http import (
    ATTACHMENT_CSP,
    IMMUTABLE,
    INERT_TYPES,
    NO_STORE,
    PAGE_CACHING,
    SECURITY_HEADERS,
    SecurityHeaders,
    batched,
    content_disposition,
    gzipped,
    page_response,
    site_path,
)

PER_PAGE = 20
MAX_MBOX_RESULTS = 10_000
ARCHIVE_ENV = "PIPERARC_ARCHIVE"
ATOM = "application/atom+xml"

_ATTACHMENT_NAME = re.compile(r"^([0-9]{1,6})-")


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
        path = site_path(request)
        if path.startswith("api/"):
            return JSONResponse(
                {"error": message}, status, headers={"Cache-Control": NO_STORE, **SECURITY_HEADERS}
            )
        try:
            html = self.archive.render(
                "error", path or "index.html", heading=heading, message=message
            )
        except Exception:  # the templates themselves failed: say it in plain words
            html = f"<!DOCTYPE html><title>{status}</title><p>{status}: {heading}</p>"
        # A 500 leaves through Starlette's outermost middleware, past SecurityHeaders.
        headers = {"Cache-Control": NO_STORE, **SECURITY_HEADERS}
        return HTMLResponse(html, status, headers=headers)

    # -- the static build's pages --
    async def home(self, request: Request) -> Response:
        return page_response(request, self.fresh().home_page())

    async def stylesheet(self, request: Request) -> Response:
        css = self.archive.css
        page = CachedPage(css, etag(css))
        return page_response(
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
        return page_response(request, archive.list_page(archive.lst(request.path_params["list"])))

    async def list_slash(self, request: Request) -> Response:
        return RedirectResponse(f"{self.base(request)}{request.path_params['list']}/", 301)

    async def period_view(self, request: Request) -> Response:
        archive = self.fresh()
        p = request.path_params
        return page_response(
            request, archive.period_page(archive.lst(p["list"]), p["period"], p["view"])
        )

    async def message(self, request: Request) -> Response:
        archive = self.fresh()
        p = request.path_params
        return page_response(request, archive.message_page(archive.lst(p["list"]), p["key"]))

    async def thread(self, request: Request) -> Response:
        archive = self.fresh()
        p = request.path_params
        return page_response(request, archive.thread_page(archive.lst(p["list"]), p["key"]))

    async def list_feed(self, request: Request) -> Response:
        archive = self.fresh()
        p = request.path_params
        page = archive.list_feed_doc(archive.lst(p["list"]), p["kind"])
        return page_response(request, page, media_type=ATOM)

    async def thread_feed(self, request: Request) -> Response:
        archive = self.fresh()
        p = request.path_params
        page = archive.thread_feed_doc(archive.lst(p["list"]), p["key"])
        return page_response(request, page, media_type=ATOM)

    # -- originals, attachments, downloads --
    async def raw(self, request: Request) -> Response:
        archive = self.fresh()
        p = request.path_params
        lst = archive.lst(p["list"])
        _, msg, raw = archive.message_and_raw(lst, p["key"])
        name = urls.message_raw(lst.name, msg.key).rsplit("/", 1)[-1]
        page = CachedPage(raw, f'"{msg.digest[:32]}"', msg.archived_at)
        return page_response(
            request,
            page,
            media_type="message/rfc822",
            cache_control=IMMUTABLE,
            use_last_modified=True,
            extra={"Content-Disposition": content_disposition(name, name)},
        )

    async def attachment(self, request: Request) -> Response:
        archive = self.fresh()
        p = request.path_params
        lst = archive.lst(p["list"])
        index = _ATTACHMENT_NAME.match(p["name"])
        if index is None:
            raise NotFoundError(f"no attachment {p['name']!r}")
        _, msg, raw = archive.message_and_raw(lst, p["key"])
        path = site_path(request)
        for a in attachments_of(msg, raw):
            if a.index != int(index[1]):
                continue
            canonical = urls.attachment(lst.name, msg.key, a.index, a.filename)
            if canonical != path:
                # A name made by an older piperarc (safe_filename has grown stricter): the
                # number identifies the attachment, so an old link still leads to it.
                return RedirectResponse(f"{self.base(request)}{canonical}", 301)
            kind = a.content_type.lower()
            page = CachedPage(a.data, f'"{msg.digest[:24]}-{a.index}"', msg.archived_at)
            fallback = urls.safe_filename(a.filename, a.index)
            return page_response(
                request,
                page,
                media_type=kind if kind in INERT_TYPES else "application/octet-stream",
                cache_control=IMMUTABLE,
                use_last_modified=True,
                extra={
                    "Content-Disposition": content_disposition(a.filename, fallback),
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
                body = batched(chunks(reader))
                yield from gzipped(body) if compressed else body
            finally:
                reader.close()

        filename = f"{name}.mbox.gz" if compressed else f"{name}.mbox"
        return StreamingResponse(
            stream(),
            media_type="application/gzip" if compressed else "application/mbox",
            headers={
                "Content-Disposition": content_disposition(filename, filename),
                "Cache-Control": cache_control,
            },
        )

    def _summaries_mbox(
        self, request: Request, list_name: str, items: Sequence[Summary], name: str
    ) -> Response:
        """A period's or a thread's messages as one mbox; gzipped when the path ends .gz."""
        return self._mbox(
            request,
            name,
            lambda store: _mbox_chunks(store, list_name, items),
            compressed=request.url.path.endswith(".gz"),
        )

    async def period_mbox(self, request: Request) -> Response:
        archive = self.fresh()
        p = request.path_params
        lst = archive.lst(p["list"])
        _, items = archive.period(lst, p["period"])
        # In the order they were archived, as the built download has them (site.py).
        by_arrival = sorted(items, key=lambda s: s.num)
        return self._summaries_mbox(request, lst.name, by_arrival, f"{lst.name}-{p['period']}")

    async def thread_mbox(self, request: Request) -> Response:
        archive = self.fresh()
        p = request.path_params
        lst = archive.lst(p["list"])
        _, items = archive.thread(lst, p["key"])
        return self._summaries_mbox(request, lst.name, items, f"{lst.name}-thread-{p['key']}")

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
            "total_exact": True,
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
                    total=results.total,
                    total_exact=results.total_exact,
                    pages=results.pages,
                    hits=self._hits(results.hits),
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
                    "subject": obfuscate(hit.subject, lst.obfuscate) or "(no subject)",
                    "list_title": lst.title,
                    "list_url": urls.list_home(hit.list_name),
                    "sender": sender(hit.from_name, hit.from_addr, lst.obfuscate),
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
        return page_response(request, CachedPage(body, etag(body)))

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
        period = request.path_params["period"]
        plan, _ = archive.period(lst, period)
        return JSONResponse(self.docs(request).period(lst, plan, period))

    async def api_thread(self, request: Request) -> Response:
        archive = self.fresh()
        lst = archive.lst(request.path_params["list"])
        key = request.path_params["key"]
        plan, _ = archive.thread(lst, key)
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
            {"total": results.total, "total_exact": results.total_exact, "results": found},
            headers={"Cache-Control": "no-cache"},
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
    app.add_middleware(SecurityHeaders)
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
    uvicorn.run("piperarc.web.app:app_from_environment", factory=True, workers=workers, **options)
