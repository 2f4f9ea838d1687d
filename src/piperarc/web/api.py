"""The JSON API (api/...): its routes, and the documents they answer with.

Documents is pure: store values in, plain dicts out. Every URL
in a document is a path from the server's root ("/salon/m/KEY.html"), built by urls.py.
Addresses are obfuscated as the list asks (render.text.obfuscate), as on its pages;
Message-IDs are identifiers for lookups and are given as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from piperarc import search as searchlib
from piperarc import urls
from piperarc.config import ListConfig
from piperarc.errors import QueryError
from piperarc.model import Attachment, StoredMessage, Summary
from piperarc.pages import ListPlan, attachments_of
from piperarc.render.text import iso_date, iso_offset, obfuscate, sender
from piperarc.store import ListStats
from piperarc.web import openapi as openapi_doc
from piperarc.web.access import readable, readable_lists
from piperarc.web.http import archive_of, base, fresh
from piperarc.web.openapi import MAX_TREE_DEPTH
from piperarc.web.search import lists_for, results_page, search_args


class Documents:
    """Builds the API's JSON documents; `base` is the server's root path ("/" or "/x/")."""

    def __init__(self, base: str) -> None:
        self.base = base

    def url(self, path: str) -> str:
        return self.base + path

    def api(self, *parts: str) -> str:
        return self.base + "api/" + "/".join(parts)

    def list_info(self, lst: ListConfig, stats: ListStats | None) -> dict[str, Any]:
        """A list's settings and counts."""
        return {
            "name": lst.name,
            "title": lst.title,
            "description": lst.description,
            "address": obfuscate(lst.address, lst.obfuscate),
            "period": lst.period,
            "messages": stats.messages if stats else 0,
            "threads": stats.threads if stats else 0,
            "first": iso_date(stats.first) if stats and stats.first is not None else None,
            "last": iso_date(stats.last) if stats and stats.last is not None else None,
            "url": self.url(urls.list_home(lst.name)),
            "api": self.api("lists", lst.name),
        }

    def list_detail(
        self, lst: ListConfig, stats: ListStats | None, plan: ListPlan | None
    ) -> dict[str, Any]:
        """A list and its periods, newest first."""
        doc = self.list_info(lst, stats)
        doc["periods"] = [
            {
                "key": key,
                "title": urls.period_title(key),
                "messages": len(items),
                "url": self.url(urls.period_view(lst.name, key, "thread")),
                "mbox": self.url(urls.period_mbox(lst.name, key)),
                "api": self.api("lists", lst.name, "periods", key),
            }
            for key, items in reversed((plan.periods if plan else {}).items())
        ]
        return doc

    def summary(self, lst: ListConfig, s: Summary) -> dict[str, Any]:
        """A message in an index: enough to list it and link to it."""
        return {
            "number": s.num,
            "key": s.key,
            "message_id": s.mid,
            "subject": obfuscate(s.subject, lst.obfuscate),
            "from": sender(s.from_name, s.from_addr, lst.obfuscate),
            "date": iso_date(s.date_utc),
            "thread": s.thread_key,
            "has_attachments": s.has_attachments,
            "url": self.url(urls.message(lst.name, s.key)),
            "api": self.api("lists", lst.name, "messages", s.key),
        }

    def period(self, lst: ListConfig, plan: ListPlan, period: str) -> dict[str, Any]:
        """A period's messages by date and its threads in order of their first message here."""
        items = plan.periods[period]
        threads: dict[str, list[Summary]] = {}
        for s in items:
            threads.setdefault(s.thread_key, []).append(s)
        return {
            "list": lst.name,
            "period": period,
            "title": urls.period_title(period),
            "url": self.url(urls.period_view(lst.name, period, "thread")),
            "mbox": self.url(urls.period_mbox(lst.name, period)),
            "threads": [
                {
                    "key": key,
                    "subject": obfuscate(plan.threads[key][0].subject, lst.obfuscate),
                    "messages": len(plan.threads[key]),
                    "messages_in_period": len(members),
                    "url": self.url(urls.thread(lst.name, key)),
                    "api": self.api("lists", lst.name, "threads", key),
                }
                for key, members in threads.items()
            ],
            "messages": [self.summary(lst, s) for s in items],
        }

    def thread(self, lst: ListConfig, plan: ListPlan, thread_key: str) -> dict[str, Any]:
        """A thread as a tree: each node a message summary with its `replies`, nested down
        to MAX_TREE_DEPTH; a deeper reply follows flat in the replies of its ancestor there,
        with its `depth` and its `parent`'s key."""
        members = plan.threads[thread_key]
        roots: list[dict[str, Any]] = []
        # Members come in tree order with depths: a stack of open nodes nests them without
        # recursion on user data.
        stack: list[tuple[int, dict[str, Any]]] = []
        for s in members:
            node = self.summary(lst, s)
            node["replies"] = []
            level = min(s.depth, MAX_TREE_DEPTH + 1)
            if level > MAX_TREE_DEPTH:
                parent = plan.by_num.get(s.parent_num) if s.parent_num is not None else None
                node["depth"] = s.depth
                node["parent"] = parent.key if parent else None
            while stack and stack[-1][0] >= level:
                stack.pop()
            (stack[-1][1]["replies"] if stack else roots).append(node)
            stack.append((level, node))
        return {
            "list": lst.name,
            "key": thread_key,
            "subject": obfuscate(members[0].subject, lst.obfuscate),
            "messages": len(members),
            "url": self.url(urls.thread(lst.name, thread_key)),
            "mbox": self.url(urls.thread_mbox(lst.name, thread_key)),
            "tree": roots,
        }

    def message(
        self,
        lst: ListConfig,
        plan: ListPlan,
        msg: StoredMessage,
        attachments: Sequence[Attachment],
    ) -> dict[str, Any]:
        """A message: its fields, text, attachments and links."""
        parent = plan.by_num.get(msg.parent_num) if msg.parent_num is not None else None
        mode = lst.obfuscate
        return {
            "list": lst.name,
            "number": msg.num,
            "key": msg.key,
            "message_id": msg.mid,
            "message_id_synthetic": msg.mid_synthetic,
            "subject": obfuscate(msg.subject, mode),
            "from": sender(msg.from_name, msg.from_addr, mode),
            "from_name": obfuscate(msg.from_name, mode),
            "date": iso_date(msg.date_utc),
            "date_offset": iso_offset(msg.tz_offset),
            "date_source": msg.date_source,
            "in_reply_to": msg.in_reply_to,
            "references": list(msg.references),
            "damaged": msg.damage,
            "size": msg.size,
            "text": obfuscate(msg.body_text, mode),
            "attachments": [
                {
                    "index": a.index,
                    "filename": a.filename,
                    "content_type": a.content_type,
                    "size": len(a.data),
                    "url": self.url(urls.attachment(lst.name, msg.key, a.index, a.filename)),
                }
                for a in attachments
            ],
            "links": {
                "page": self.url(urls.message(lst.name, msg.key)),
                "raw": self.url(urls.message_raw(lst.name, msg.key)),
                "thread": self.url(urls.thread(lst.name, msg.thread_key)),
                "thread_api": self.api("lists", lst.name, "threads", msg.thread_key),
                "thread_mbox": self.url(urls.thread_mbox(lst.name, msg.thread_key)),
                "parent": self.api("lists", lst.name, "messages", parent.key) if parent else None,
                "replies": [
                    self.api("lists", lst.name, "messages", r.key)
                    for r in plan.children.get(msg.num, [])
                ],
            },
        }


def _docs(request: Request) -> Documents:
    return Documents(base(request))


async def openapi(request: Request) -> Response:
    return JSONResponse(openapi_doc.openapi(archive_of(request).config.title))


async def lists(request: Request) -> Response:
    archive = fresh(request)
    docs = _docs(request)
    return JSONResponse(
        {"lists": [docs.list_info(lst, archive.stats(lst)) for lst in readable_lists(request)]}
    )


async def list_(request: Request) -> Response:
    archive = fresh(request)
    lst = readable(request, request.path_params["list"])
    return JSONResponse(_docs(request).list_detail(lst, archive.stats(lst), archive.plan(lst)))


async def period(request: Request) -> Response:
    archive = fresh(request)
    lst = readable(request, request.path_params["list"])
    period = request.path_params["period"]
    plan, _ = archive.period(lst, period)
    return JSONResponse(_docs(request).period(lst, plan, period))


async def thread(request: Request) -> Response:
    archive = fresh(request)
    lst = readable(request, request.path_params["list"])
    key = request.path_params["key"]
    plan, _ = archive.thread(lst, key)
    return JSONResponse(_docs(request).thread(lst, plan, key))


async def message(request: Request) -> Response:
    archive = fresh(request)
    lst = readable(request, request.path_params["list"])
    plan, msg, raw = archive.message_and_raw(lst, request.path_params["key"])
    doc = _docs(request).message(lst, plan, msg, attachments_of(msg, raw))
    return JSONResponse(doc)


async def search(request: Request) -> Response:
    archive = fresh(request)
    q, lst, page, sort = search_args(request)
    if not q:
        raise QueryError("give a query: /api/search?q=WORDS (see /help/search.html)")
    names = lists_for(request, lst)
    results = results_page(archive, q, names, page, sort)
    root = base(request)
    found = []
    for hit in results.hits:
        doc = searchlib.hit_json(hit, readable(request, hit.list_name).obfuscate)
        doc["url"] = root + doc["url"]
        found.append(doc)
    instead = searchlib.suggest(archive.store, q, names) if not results.total and names else []
    return JSONResponse(
        {
            "total": results.total,
            "total_exact": results.total_exact,
            "results": found,
            "suggestions": instead,
        },
        headers={"Cache-Control": "no-cache"},
    )
