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
    an old archive's paths, HyperKitty's   a 301 to the same message or period (oldlinks.py)
    api/...                           JSON (api.py), described at api/openapi.json

Rendering happens on the event loop's thread with one read-only connection: SQLite reads
take well under a millisecond, and a thread pool would only add hand-offs under the GIL.
Downloads stream from a connection of their own. Each list's ListPlan and the rendered
pages are cached (cache.py); both are dropped when the database changes (PRAGMA
data_version), so newly imported mail shows at once, without a rebuild. The HTTP plumbing
(validators, errors as statuses, security headers) is in http.py; the handlers are
grouped by what they serve: pages.py, downloads.py, search.py, api.py.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from piperarc import config as configlib
from piperarc.config import ArchiveConfig, ListConfig
from piperarc.errors import PiperarcError
from piperarc.web import api, downloads, oldlinks, pages, removed, search
from piperarc.web.access import Access, Members, PrivateCaching
from piperarc.web.cache import PAGE_CACHE_BYTES, Archive
from piperarc.web.http import (
    NO_STORE,
    SECURITY_HEADERS,
    SecurityHeaders,
    archive_of,
    site_path,
    status_of,
)

ARCHIVE_ENV = "PIPERARC_ARCHIVE"
READER_HEADER_ENV = "PIPERARC_READER_HEADER"  # serve --reader-header, for worker processes


async def error(request: Request, exc: Exception) -> Response:
    """Any error as a page in the archive's look (JSON under api/), with its HTTP status."""
    status, heading, message = status_of(exc)
    if status == 404 and request.method in ("GET", "HEAD"):
        # A removed message's URL (410/451), an old archive's URL, or HyperKitty's (301).
        moved = removed.answer(request) or oldlinks.redirect(request)
        if moved is not None:
            return moved
    path = site_path(request)
    if path.startswith("api/"):
        return JSONResponse(
            {"error": message}, status, headers={"Cache-Control": NO_STORE, **SECURITY_HEADERS}
        )
    try:
        html = archive_of(request).render(
            "error", path or "index.html", heading=heading, message=message
        )
    except Exception:  # the templates themselves failed: say it in plain words
        html = f"<!DOCTYPE html><title>{status}</title><p>{status}: {heading}</p>"
    # A 500 leaves through Starlette's outermost middleware, past SecurityHeaders.
    headers = {"Cache-Control": NO_STORE, **SECURITY_HEADERS}
    return HTMLResponse(html, status, headers=headers)


def routes() -> list[Route]:
    """Every path the server answers, in the order they are tried (the first match wins)."""
    get = ["GET"]
    return [
        Route("/", pages.home, methods=get),
        Route("/index.html", pages.home, methods=get),
        Route("/piperarc.css", pages.stylesheet, methods=get),
        Route("/favicon.ico", pages.favicon, methods=get),
        Route("/search.html", search.search_page, methods=get),
        Route("/search.mbox", search.search_mbox, methods=get),
        Route("/help/search.html", search.search_help, methods=get),
        Route("/mid/{mid:path}", pages.mid_lookup, methods=get),
        Route("/api/openapi.json", api.openapi, methods=get),
        Route("/api/lists", api.lists, methods=get),
        Route("/api/lists/{list}", api.list_, methods=get),
        Route("/api/lists/{list}/periods/{period}", api.period, methods=get),
        Route("/api/lists/{list}/threads/{key}", api.thread, methods=get),
        Route("/api/lists/{list}/messages/{key}", api.message, methods=get),
        Route("/api/search", api.search, methods=get),
        Route("/{list}", pages.list_slash, methods=get),
        Route("/{list}/", pages.list_home, methods=get),
        Route("/{list}/index.html", pages.list_home, methods=get),
        Route("/{list}/mid/{mid:path}", pages.mid_lookup, methods=get),
        Route("/{list}/m/{key}.html", pages.message, methods=get),
        Route("/{list}/m/{key}.eml", downloads.raw, methods=get),
        Route("/{list}/m/{key}/{name}", downloads.attachment, methods=get),
        Route("/{list}/t/{key}.html", pages.thread, methods=get),
        Route("/{list}/t/{key}.atom", pages.thread_feed, methods=get),
        Route("/{list}/{kind}.atom", pages.list_feed, methods=get),
        Route("/{list}/t/{key}.mbox.gz", downloads.thread_mbox, methods=get),
        Route("/{list}/t/{key}.mbox", downloads.thread_mbox, methods=get),
        Route("/{list}/{period}.mbox.gz", downloads.period_mbox, methods=get),
        Route("/{list}/{period}.mbox", downloads.period_mbox, methods=get),
        Route("/{list}/{period}/{view}.html", pages.period_view, methods=get),
    ]


def create_app(
    config: ArchiveConfig,
    *,
    page_cache_bytes: int = PAGE_CACHE_BYTES,
    reader_header: str | None = None,
    mailman: Callable[[ListConfig], Members] | None = None,
) -> Starlette:
    """The ASGI app serving the archive of `config` (read-only). `reader_header` names the
    header a reverse proxy puts the authenticated reader's address in (access.py);
    `mailman` makes the members of a list whose members Mailman knows (tests pass their own)."""

    def access(settings: ArchiveConfig) -> Access:
        return Access(settings, reader_header=reader_header, mailman=mailman)

    archive = Archive(config, page_cache_bytes=page_cache_bytes, access=access)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            archive.close()

    app = Starlette(
        routes=routes(),
        exception_handlers={
            HTTPException: error,
            PiperarcError: error,
            Exception: error,
        },
        lifespan=lifespan,
    )
    app.add_middleware(PrivateCaching)
    app.add_middleware(SecurityHeaders)
    app.state.archive = archive
    return app


def app_from_environment() -> Starlette:
    """The app for uvicorn's worker processes (`serve --workers N` passes the archive's
    folder in PIPERARC_ARCHIVE, as worker processes cannot be handed an object)."""
    return create_app(
        configlib.load(Path(os.environ.get(ARCHIVE_ENV, "."))),
        reader_header=os.environ.get(READER_HEADER_ENV) or None,
    )


def serve(
    config: ArchiveConfig,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    access_log: bool = True,
    reader_header: str | None = None,
    uds: str | None = None,
) -> None:
    """Run the server until interrupted (uvicorn), on host:port or on the unix socket `uds`."""
    import uvicorn

    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "uds": uds,
        "access_log": access_log,
        "log_level": "info",
        "server_header": False,
        # The peer is the one who connected: a reader header counts only from a loopback
        # peer, and X-Forwarded-For must not make a remote client look like one.
        "proxy_headers": False,
    }
    if workers == 1:
        uvicorn.run(create_app(config, reader_header=reader_header), **options)
        return
    os.environ[ARCHIVE_ENV] = str(config.root.resolve())
    os.environ[READER_HEADER_ENV] = reader_header or ""
    uvicorn.run("piperarc.web.app:app_from_environment", factory=True, workers=workers, **options)
