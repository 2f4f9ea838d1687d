"""The live server's downloads: a message's original bytes, its attachments (always as
downloads, inert types only), and mboxrd of a period or a thread, gzipped or not, streamed
from a read-only connection of their own."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse

from piperarc import urls
from piperarc.errors import NotFoundError
from piperarc.feeds import envelope_line, mboxrd_entry
from piperarc.model import SearchHit, Summary
from piperarc.pages import attachments_of
from piperarc.store import Store
from piperarc.web.access import readable
from piperarc.web.cache import CachedPage
from piperarc.web.http import (
    ATTACHMENT_CSP,
    IMMUTABLE,
    INERT_TYPES,
    PAGE_CACHING,
    archive_of,
    base,
    batched,
    content_disposition,
    fresh,
    gzipped,
    page_response,
    site_path,
)

_ATTACHMENT_NAME = re.compile(r"^([0-9]{1,6})-")


def mbox_chunks(
    store: Store, list_name: str, items: Sequence[Summary | SearchHit]
) -> Iterator[bytes]:
    """The mboxrd entries of `items`, in their order, read from `store`."""
    by_num = {s.num: s for s in items}
    for num, envelope, raw in store.iter_raw(list_name, [s.num for s in items]):
        s = by_num[num]
        yield mboxrd_entry(envelope_line(envelope, s.from_addr, s.date_utc), raw)


def mbox_response(
    request: Request,
    name: str,
    chunks: Callable[[Store], Iterator[bytes]],
    *,
    compressed: bool,
    cache_control: str = PAGE_CACHING,
) -> Response:
    """An mbox download named `name`, streamed from `chunks` over a reader of its own."""
    reader = archive_of(request).reader()

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
    request: Request, list_name: str, items: Sequence[Summary], name: str
) -> Response:
    """A period's or a thread's messages as one mbox; gzipped when the path ends .gz."""
    return mbox_response(
        request,
        name,
        lambda store: mbox_chunks(store, list_name, items),
        compressed=request.url.path.endswith(".gz"),
    )


async def raw(request: Request) -> Response:
    archive = fresh(request)
    p = request.path_params
    lst = readable(request, p["list"])
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


async def attachment(request: Request) -> Response:
    archive = fresh(request)
    p = request.path_params
    lst = readable(request, p["list"])
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
            return RedirectResponse(f"{base(request)}{canonical}", 301)
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


async def period_mbox(request: Request) -> Response:
    archive = fresh(request)
    p = request.path_params
    lst = readable(request, p["list"])
    _, items = archive.period(lst, p["period"])
    # In the order they were archived, as the built download has them (site/build.py).
    by_arrival = sorted(items, key=lambda s: s.num)
    return _summaries_mbox(request, lst.name, by_arrival, f"{lst.name}-{p['period']}")


async def thread_mbox(request: Request) -> Response:
    archive = fresh(request)
    p = request.path_params
    lst = readable(request, p["list"])
    _, items = archive.thread(lst, p["key"])
    return _summaries_mbox(request, lst.name, items, f"{lst.name}-thread-{p['key']}")
