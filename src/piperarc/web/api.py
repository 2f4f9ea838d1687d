"""The JSON API's documents, from store values to plain dicts, and its OpenAPI description.

Pure: values in, values out; web.py routes requests here and sends the results. Every URL
in a document is a path from the server's root ("/salon/m/KEY.html"), built by urls.py.
Addresses are obfuscated as the list asks (render.text.obfuscate), as on its pages;
Message-IDs are identifiers for lookups and are given as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from piperarc import urls
from piperarc.config import ListConfig
from piperarc.model import Attachment, StoredMessage, Summary
from piperarc.pages import ListPlan
from piperarc.render.text import iso_date, iso_offset, obfuscate, sender
from piperarc.store import ListStats

API_VERSION = "1"


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
        """A thread as a tree: each node a message summary with its `replies`, nested."""
        members = plan.threads[thread_key]
        roots: list[dict[str, Any]] = []
        # Members come in tree order with depths: a stack of open nodes nests them without
        # recursion on user data.
        stack: list[tuple[int, dict[str, Any]]] = []
        for s in members:
            node = self.summary(lst, s)
            node["replies"] = []
            while stack and stack[-1][0] >= s.depth:
                stack.pop()
            (stack[-1][1]["replies"] if stack else roots).append(node)
            stack.append((s.depth, node))
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


# -- OpenAPI 3.1 ---------------------------------------------------------------------------

_STR = {"type": "string"}
_INT = {"type": "integer"}
_DATE = {"type": "string", "format": "date-time"}
_NULLABLE_DATE = {"type": ["string", "null"], "format": "date-time"}


def _object(properties: dict[str, Any], description: str = "") -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "required": list(properties),
        "properties": properties,
    }
    if description:
        schema["description"] = description
    return schema


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERRORS = {
    "404": _json(_ref("Error"), "No such list, period, thread or message."),
}
_LIST_PARAM = {
    "name": "list",
    "in": "path",
    "required": True,
    "description": "A list's name.",
    "schema": {"type": "string", "pattern": "^[a-z0-9][a-z0-9._-]{0,63}$"},
}


def _path_param(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]+$"},
    }


def openapi(title: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the API (served at /api/openapi.json)."""
    summary_props = {
        "number": {**_INT, "description": "Per-list number, fixed at first archiving."},
        "key": {**_STR, "description": "The permalink key (LIST/m/KEY.html)."},
        "message_id": {**_STR, "description": "Without angle brackets."},
        "subject": _STR,
        "from": {**_STR, "description": "Name and address, obfuscated as the list asks."},
        "date": _DATE,
        "thread": {**_STR, "description": "The key of the message's thread."},
        "has_attachments": {"type": "boolean"},
        "url": _STR,
        "api": _STR,
    }
    list_props = {
        "name": _STR,
        "title": _STR,
        "description": _STR,
        "address": {**_STR, "description": "The posting address, obfuscated."},
        "period": {"type": "string", "enum": ["month", "year", "quarter", "week"]},
        "messages": _INT,
        "threads": _INT,
        "first": _NULLABLE_DATE,
        "last": _NULLABLE_DATE,
        "url": _STR,
        "api": _STR,
    }
    period_entry = _object(
        {
            "key": {**_STR, "description": "2023-01 (month), 2023, 2023-Q1 or 2023-W05."},
            "title": _STR,
            "messages": _INT,
            "url": _STR,
            "mbox": _STR,
            "api": _STR,
        }
    )
    schemas: dict[str, Any] = {
        "Error": _object({"error": {**_STR, "description": "What went wrong, for people."}}),
        "List": _object(list_props),
        "ListDetail": _object(
            {**list_props, "periods": {"type": "array", "items": period_entry}},
            "A list and its periods, newest first.",
        ),
        "Summary": _object(summary_props),
        "ThreadNode": _object(
            {**summary_props, "replies": {"type": "array", "items": _ref("ThreadNode")}}
        ),
        "Period": _object(
            {
                "list": _STR,
                "period": _STR,
                "title": _STR,
                "url": _STR,
                "mbox": _STR,
                "threads": {
                    "type": "array",
                    "items": _object(
                        {
                            "key": _STR,
                            "subject": _STR,
                            "messages": _INT,
                            "messages_in_period": _INT,
                            "url": _STR,
                            "api": _STR,
                        }
                    ),
                },
                "messages": {"type": "array", "items": _ref("Summary")},
            }
        ),
        "Thread": _object(
            {
                "list": _STR,
                "key": _STR,
                "subject": _STR,
                "messages": _INT,
                "url": _STR,
                "mbox": _STR,
                "tree": {"type": "array", "items": _ref("ThreadNode")},
            }
        ),
        "Message": _object(
            {
                "list": _STR,
                "number": _INT,
                "key": _STR,
                "message_id": _STR,
                "message_id_synthetic": {"type": "boolean"},
                "subject": _STR,
                "from": _STR,
                "from_name": _STR,
                "date": _DATE,
                "date_offset": {"type": "string", "pattern": "^[+-][0-9]{2}:[0-9]{2}$"},
                "date_source": {"type": "string", "enum": ["date", "envelope", "archived"]},
                "in_reply_to": {"type": ["string", "null"]},
                "references": {"type": "array", "items": _STR},
                "damaged": {
                    "type": ["string", "null"],
                    "description": "Why the message could not be read properly, if so.",
                },
                "size": _INT,
                "text": {**_STR, "description": "The readable text, addresses obfuscated."},
                "attachments": {
                    "type": "array",
                    "items": _object(
                        {
                            "index": _INT,
                            "filename": _STR,
                            "content_type": _STR,
                            "size": _INT,
                            "url": _STR,
                        }
                    ),
                },
                "links": _object(
                    {
                        "page": _STR,
                        "raw": _STR,
                        "thread": _STR,
                        "thread_api": _STR,
                        "thread_mbox": _STR,
                        "parent": {"type": ["string", "null"]},
                        "replies": {"type": "array", "items": _STR},
                    }
                ),
            }
        ),
        "SearchResults": _object(
            {
                "total": _INT,
                "total_exact": {
                    "type": "boolean",
                    "description": "False when total is an estimate (a very common query on "
                    "a large PostgreSQL archive); the results are exact either way.",
                },
                "results": {
                    "type": "array",
                    "items": _object(
                        {
                            "message_id": _STR,
                            "list": _STR,
                            "url": _STR,
                            "subject": _STR,
                            "from": _STR,
                            "date": _DATE,
                            "snippet": {
                                **_STR,
                                "description": "Escaped HTML; the matched words in <mark>.",
                            },
                        }
                    ),
                },
            }
        ),
    }

    def get(
        operation_id: str,
        summary: str,
        ok: dict[str, Any],
        parameters: list[dict[str, Any]] | None = None,
        errors: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        return {
            "get": {
                "operationId": operation_id,
                "summary": summary,
                "parameters": parameters or [],
                "responses": {"200": ok, **(errors if errors is not None else _ERRORS)},
            }
        }

    paths = {
        "/api/lists": get(
            "lists",
            "The archive's lists",
            _json(
                _object({"lists": {"type": "array", "items": _ref("List")}}),
                "Every list of the archive.",
            ),
            errors={},
        ),
        "/api/lists/{list}": get(
            "list", "A list and its periods", _json(_ref("ListDetail"), "The list."), [_LIST_PARAM]
        ),
        "/api/lists/{list}/periods/{period}": get(
            "period",
            "A period's threads and messages",
            _json(_ref("Period"), "The period."),
            [_LIST_PARAM, _path_param("period", "A period key: 2023-01, 2023, 2023-Q1, 2023-W05.")],
        ),
        "/api/lists/{list}/threads/{key}": get(
            "thread",
            "A thread as a tree of replies",
            _json(_ref("Thread"), "The thread."),
            [_LIST_PARAM, _path_param("key", "The thread's key (its first message's key).")],
        ),
        "/api/lists/{list}/messages/{key}": get(
            "message",
            "A message: fields, text, attachments and links",
            _json(_ref("Message"), "The message."),
            [_LIST_PARAM, _path_param("key", "The message's permalink key.")],
        ),
        "/api/search": get(
            "search",
            "Search messages (the query language is at /help/search.html)",
            _json(_ref("SearchResults"), "One page of results, best first."),
            [
                {
                    "name": "q",
                    "in": "query",
                    "required": True,
                    "description": 'The query: words, "phrases", -excluded, OR, s: f: b: '
                    "l: d: has:attachment is:root.",
                    "schema": {"type": "string"},
                },
                {
                    "name": "list",
                    "in": "query",
                    "required": False,
                    "description": "Only this list (default: all lists).",
                    "schema": {"type": "string"},
                },
                {
                    "name": "page",
                    "in": "query",
                    "required": False,
                    "description": "The page of results, from 1 (20 a page).",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 10000, "default": 1},
                },
                {
                    "name": "sort",
                    "in": "query",
                    "required": False,
                    "schema": {
                        "type": "string",
                        "enum": ["relevance", "date"],
                        "default": "relevance",
                    },
                },
            ],
            {
                "400": _json(_ref("Error"), "The query cannot be read; the error says why."),
                "404": _json(_ref("Error"), "No such list."),
            },
        ),
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"{title}: piperarc API",
            "version": API_VERSION,
            "description": "Read-only JSON over a piperarc mail archive. URLs in documents "
            "are paths from the server's root; addresses are obfuscated as each list asks.",
        },
        "paths": paths,
        "components": {"schemas": schemas},
    }
