"""A removed message's URLs answer that it was removed (`piperarc remove`): its permalink,
its original and its attachments with 410 Gone, or 451 Unavailable For Legal Reasons (RFC
7725) when removed for legal reasons, and a page saying so; a Message-ID lookup of it with
a redirect to that permalink. Asked only for a path no route answered (app.error, on a
404), and only for a list the reader may see (access.py)."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from piperarc import mid as midlib
from piperarc import urls
from piperarc.errors import NotFoundError
from piperarc.web.access import readable, readable_lists
from piperarc.web.http import NO_STORE, base, fresh, site_path

GONE = 410
LEGAL = 451  # RFC 7725
# LIST/m/KEY.html, LIST/m/KEY.eml, LIST/m/KEY/N-NAME
_MESSAGE = re.compile(r"(?P<list>[^/]+)/m/(?P<key>[^/]+?)(?:\.html|\.eml|/[^/]+)$")
_MID = re.compile(r"(?:(?P<list>[^/]+)/)?mid/(?P<mid>.+)$")


def answer(request: Request) -> Response | None:
    """The answer for a removed message's URL, or None when the path is not one."""
    path = site_path(request)
    try:
        found = _MESSAGE.match(path)
        if found is not None:
            return _gone(request, found["list"], found["key"])
        asked = _MID.match(path)
        if asked is not None:
            return _lookup(request, asked["list"], asked["mid"])
    except NotFoundError:
        return None
    return None


def _gone(request: Request, list_name: str, key: str) -> Response | None:
    archive = fresh(request)
    lst = readable(request, list_name)
    tombstone = archive.tombstones(lst).get(key)
    if tombstone is None:
        return None
    page = archive.removed_page(lst, tombstone)
    return Response(
        page.body,
        LEGAL if tombstone.legal else GONE,
        media_type="text/html; charset=utf-8",
        headers={"Cache-Control": "public, max-age=300"},
    )


def _lookup(request: Request, list_name: str | None, wanted: str) -> Response | None:
    archive = fresh(request)
    mid = midlib.asked(wanted)
    lists = [readable(request, list_name)] if list_name else readable_lists(request)
    for lst in lists:
        for tombstone in archive.tombstones(lst).values():
            if tombstone.mid == mid:
                target = base(request) + urls.message(lst.name, tombstone.key)
                return RedirectResponse(target, 302, headers={"Cache-Control": NO_STORE})
    return None
