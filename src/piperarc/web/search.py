"""The live server's search: the results page (search.html?q=&list=&page=&sort=), every
match as one mbox (search.mbox?q=...), and the query language's help page. The query
language itself is piperarc.search's."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from piperarc import search as searchlib
from piperarc import urls
from piperarc.config import ListConfig
from piperarc.errors import NotFoundError, QueryError
from piperarc.model import SearchHit
from piperarc.render.text import obfuscate, sender
from piperarc.store import Store
from piperarc.web.access import readable, readable_lists
from piperarc.web.cache import Archive, CachedPage, etag
from piperarc.web.downloads import mbox_chunks, mbox_response
from piperarc.web.http import archive_of, fresh, page_response, status_of

PER_PAGE = 20
MAX_MBOX_RESULTS = 10_000


def search_args(request: Request) -> tuple[str, ListConfig | None, int, str]:
    """(query, list or None for all, page, sort) from the query string; QueryError if bad."""
    q = request.query_params.get("q", "").strip()
    name = request.query_params.get("list", "").strip()
    lst = readable(request, name) if name else None
    page_text = request.query_params.get("page", "1")
    if not page_text.isdigit() or not 1 <= int(page_text) <= 10_000:
        raise QueryError("page must be a number from 1")
    sort = request.query_params.get("sort", "relevance")
    if sort not in ("relevance", "date"):
        raise QueryError("sort must be relevance or date")
    return q, lst, int(page_text), sort


def lists_for(request: Request, lst: ListConfig | None) -> list[str]:
    """The names of the lists a search covers: the one asked for, else every list the
    reader may see (counts included: a private list's hits are not even counted)."""
    return [lst.name] if lst else [x.name for x in readable_lists(request)]


def results_page(
    archive: Archive, q: str, names: list[str], page: int, sort: str
) -> searchlib.Results:
    """One page of a search's results, as the search page and the API show it."""
    if not names:
        return searchlib.Results(q, 0, page, PER_PAGE)
    return searchlib.run(
        archive.store, q, list_names=names, page=page, per_page=PER_PAGE, sort=sort
    )


async def search_page(request: Request) -> Response:
    archive = fresh(request)
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
        "suggestions": [],
    }
    status = 200
    try:
        q, lst, page, sort = search_args(request)
        context.update(lst=lst, sort=sort, page=page)
        if q:
            names = lists_for(request, lst)
            results = results_page(archive, q, names, page, sort)
            context.update(
                total=results.total,
                total_exact=results.total_exact,
                pages=results.pages,
                hits=_hits(request, results.hits),
            )
            context["links"] = _search_links(q, lst, page, sort, results.pages)
            if not results.total and names:
                context["suggestions"] = [
                    (text, _search_links(text, lst, 1, sort, 1)["relevance"])
                    for text in searchlib.suggest(archive.store, q, names)
                ]
    except (QueryError, NotFoundError) as err:
        status, _, context["error"] = status_of(err)
    html = archive.render("search_results", urls.search(), **context)
    return HTMLResponse(html, status, headers={"Cache-Control": "no-cache"})


def _hits(request: Request, hits: Sequence[SearchHit]) -> list[dict[str, Any]]:
    out = []
    for hit in hits:
        lst = readable(request, hit.list_name)
        out.append(
            {
                "url": urls.message(hit.list_name, hit.key),
                "subject": obfuscate(hit.subject, lst.obfuscate) or "(no subject)",
                "list_title": lst.title,
                "list_url": urls.list_home(hit.list_name),
                "sender": sender(hit.from_name, hit.from_addr, lst.obfuscate),
                "date_utc": hit.date_utc,
                "snippet": Markup(searchlib.snippet_html(hit.snippet, lst.obfuscate)),
            }
        )
    return out


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


async def search_mbox(request: Request) -> Response:
    archive = fresh(request)
    q, lst, _, _ = search_args(request)
    if not q:
        raise QueryError("type some words to search for (see the search help for more)")
    lists = lists_for(request, lst)
    if not lists:
        raise NotFoundError("no list to search in this archive")
    searchlib.run(archive.store, q, list_names=lists, per_page=1)  # a bad query fails here

    def chunks(store: Store) -> Iterator[bytes]:
        sent = 0
        page = 1
        while sent < MAX_MBOX_RESULTS:
            results = searchlib.run(
                store,
                q,
                list_names=lists,
                page=page,
                per_page=searchlib.MAX_PER_PAGE,
                sort="date",
            )
            for hit in results.hits:
                yield from mbox_chunks(store, hit.list_name, [hit])
            sent += len(results.hits)
            if page >= results.pages:
                break
            page += 1

    return mbox_response(request, "search", chunks, compressed=False, cache_control="no-cache")


async def search_help(request: Request) -> Response:
    html = archive_of(request).render("search_help", urls.search_help())
    body = html.encode()
    return page_response(request, CachedPage(body, etag(body)))
