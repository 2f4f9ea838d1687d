"""The OpenAPI 3.1 document of the JSON API (api.py), served at /api/openapi.json; a test
checks every answer against it (schemathesis)."""

from __future__ import annotations

from typing import Any

API_VERSION = "1"
# How deep a thread document nests replies. Real threads stay well short of it (the deepest
# in linux-man's 10,000 messages is 45); a reply deeper is listed flat in the replies of its
# ancestor at this depth, with its own `depth` and `parent`, so no JSON encoder or reader
# recurses once per reply of a 5,000-deep chain (Python's json.loads gives up near 1,000).
MAX_TREE_DEPTH = 100

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


def _thread_node(summary_props: dict[str, Any]) -> dict[str, Any]:
    """A message in a thread's tree (api.Documents.thread): replies nest down to
    MAX_TREE_DEPTH; only a reply deeper than that, listed flat, has `depth` and `parent`."""
    node = _object(
        {**summary_props, "replies": {"type": "array", "items": _ref("ThreadNode")}},
        f"A message and its replies, nested down to a depth of {MAX_TREE_DEPTH} (the root is "
        f"0). A reply deeper than that follows flat, in thread order, in the replies of its "
        f"ancestor at depth {MAX_TREE_DEPTH}, with its own `depth` and `parent`.",
    )
    node["properties"]["depth"] = {
        **_INT,
        "description": "Only on a reply listed flat: its depth in the thread.",
    }
    node["properties"]["parent"] = {
        "type": ["string", "null"],
        "description": "Only on a reply listed flat: the key of the message it replies to.",
    }
    return node


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
        "ThreadNode": _thread_node(summary_props),
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
                "suggestions": {
                    "type": "array",
                    "items": _STR,
                    "description": "When nothing matched: the query with a word no message "
                    "holds replaced by near words that messages hold, most used first, "
                    "then by its start as a prefix (overf*).",
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
