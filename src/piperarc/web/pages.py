"""The live server's HTML pages and feeds, at the static build's paths and byte for byte as
it writes them: the homes, period views, messages, threads, Atom feeds, the stylesheet, and
mid/ lookups (a Message-ID to its permalink)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from piperarc import mid as midlib
from piperarc import urls
from piperarc.errors import NotFoundError
from piperarc.web.access import readable, readable_lists
from piperarc.web.cache import CachedPage, etag
from piperarc.web.http import PAGE_CACHING, archive_of, base, fresh, page_response

ATOM = "application/atom+xml"


async def home(request: Request) -> Response:
    archive = fresh(request)
    return page_response(request, archive.home_page(readable_lists(request)))


async def stylesheet(request: Request) -> Response:
    css = archive_of(request).css
    page = CachedPage(css, etag(css))
    return page_response(
        request,
        page,
        media_type="text/css; charset=utf-8",
        cache_control="public, max-age=3600",
    )


async def favicon(request: Request) -> Response:
    # Browsers ask for it on every site; "no icon" without a 404 in their console.
    return Response(status_code=204, headers={"Cache-Control": "public, max-age=86400"})


async def list_home(request: Request) -> Response:
    archive = fresh(request)
    return page_response(request, archive.list_page(readable(request, request.path_params["list"])))


async def list_slash(request: Request) -> Response:
    return RedirectResponse(f"{base(request)}{request.path_params['list']}/", 301)


async def period_view(request: Request) -> Response:
    archive = fresh(request)
    p = request.path_params
    return page_response(
        request, archive.period_page(readable(request, p["list"]), p["period"], p["view"])
    )


async def message(request: Request) -> Response:
    archive = fresh(request)
    p = request.path_params
    return page_response(request, archive.message_page(readable(request, p["list"]), p["key"]))


async def thread(request: Request) -> Response:
    archive = fresh(request)
    p = request.path_params
    return page_response(request, archive.thread_page(readable(request, p["list"]), p["key"]))


async def list_feed(request: Request) -> Response:
    archive = fresh(request)
    p = request.path_params
    page = archive.list_feed_doc(readable(request, p["list"]), p["kind"])
    return page_response(request, page, media_type=ATOM)


async def thread_feed(request: Request) -> Response:
    archive = fresh(request)
    p = request.path_params
    page = archive.thread_feed_doc(readable(request, p["list"]), p["key"])
    return page_response(request, page, media_type=ATOM)


async def mid_lookup(request: Request) -> Response:
    archive = fresh(request)
    wanted = request.path_params["mid"]
    mid = midlib.asked(wanted)
    if "list" in request.path_params:
        names = [readable(request, request.path_params["list"]).name]
    else:
        names = [lst.name for lst in readable_lists(request)]
    found = archive.by_mid(mid, names)
    if not found:
        where = f"the list {names[0]!r}" if "list" in request.path_params else "this archive"
        raise NotFoundError(f"no message with Message-ID <{mid}> in {where}")
    first = found[0]
    target = base(request) + urls.message(first.list_name, first.key)
    # 302: the first archived copy is the answer now; if the list is set up again, it
    # may be another one.
    return RedirectResponse(target, 302, headers={"Cache-Control": PAGE_CACHING})
