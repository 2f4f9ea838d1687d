"""Old URLs answer: a path of an archive another tool made, recorded by `piperarc import
--from` (Pipermail, MHonArc, Hypermail), or one of HyperKitty's (Mailman 3), which needs
nothing but the mail, gets a 301 to the page that shows the same thing here.

Asked only for a path no route of the app answers (app.error, on a 404), so old paths
can never shadow a page of the archive."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from piperarc import urls
from piperarc.errors import NotFoundError
from piperarc.web.access import readable, readable_lists
from piperarc.web.cache import Archive
from piperarc.web.http import PAGE_CACHING, archive_of, base

# HyperKitty's own routes under its prefix: list/NAME@DOMAIN/ then what it shows.
_HYPERKITTY = re.compile(
    r"list/(?P<list>[^/@]+@[^/]+)/"
    r"(?:(?P<kind>message|thread)/(?P<hash>[A-Z2-7]{32})(?:/.*)?"
    r"|(?P<year>\d{4})/(?P<month>\d{1,2})(?:/\d{1,2})?/?"
    r"|latest/?|recent/?|export/.*)?$"
)


def redirect(request: Request) -> Response | None:
    """The 301 for an old path, or None when the path is not one."""
    archive = archive_of(request)
    try:
        archive.refresh()
        target = _target(request, archive, str(request.scope["path"]))
    except NotFoundError:
        return None
    if target is None:
        return None
    # 301: an old page moved here for good (what search engines and caches keep).
    return RedirectResponse(base(request) + target, 301, headers={"Cache-Control": PAGE_CACHING})


def _target(request: Request, archive: Archive, path: str) -> str | None:
    for candidate in (path, path + "/") if not path.endswith("/") else (path,):
        link = archive.store.old_link(candidate)
        if link is not None:
            # A list the reader may not see (or no longer configured): a plain 404.
            lst = readable(request, link.list_name)
            if link.key is None and link.kind in ("message", "attachment"):
                # Its message was removed: to the permalink, which says so (410).
                for tombstone in archive.tombstones(lst).values():
                    if tombstone.num == link.num:
                        return urls.message(lst.name, tombstone.key)
            return urls.old_link_target(link, lst.period)
    prefix = archive.config.hyperkitty_at
    if path.startswith(prefix):
        return _hyperkitty(request, archive, path[len(prefix) :])
    return None


def _hyperkitty(request: Request, archive: Archive, rest: str) -> str | None:
    found = _HYPERKITTY.match(rest)
    if found is None:
        return None
    address = found["list"].lower()
    lists = [
        lst for lst in readable_lists(request) if lst.address and lst.address.lower() == address
    ]
    if len(lists) != 1:
        return None
    lst = lists[0]
    plan = archive.plan(lst)
    if plan is None:
        return urls.list_home(lst.name)
    if found["hash"]:
        summary = archive.hyperkitty(lst).get(found["hash"])
        if summary is None:
            return None
        if found["kind"] == "thread":
            return urls.thread(lst.name, summary.thread_key or summary.key)
        return urls.message(lst.name, summary.key)
    if found["year"]:
        month = int(found["month"])
        if not 1 <= month <= 12:
            return None
        period = urls.period_of(urls.hyperkitty_month(int(found["year"]), month), lst.period)
        if period not in plan.periods:
            return urls.list_home(lst.name)
        return urls.period_view(lst.name, period, "thread")
    return urls.list_home(lst.name)
