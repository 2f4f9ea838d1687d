"""The JSON API over a 5,000-deep reply chain: the thread document answers, nests as deep as
the API documents (web/api.MAX_TREE_DEPTH) and lists deeper replies flat, each with its depth
and parent, so that no encoder or client has to recurse 5,000 levels."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jsonschema_rs
import pytest

from piperarc import config as configlib
from piperarc.web import openapi
from piperarc.web.app import create_app
from piperarc.web.openapi import MAX_TREE_DEPTH
from tests.conftest import cli
from tests.test_web import Client

CHAIN = 5000


def _chain_mbox(length: int) -> bytes:
    """`length` messages, each replying to the one before by In-Reply-To alone."""
    out = []
    for i in range(length):
        reply = f"In-Reply-To: <link{i - 1}@chain.example>\n" if i else ""
        out.append(
            "From chain@example.org Mon Jan  1 00:00:00 2024\n"
            "From: Chain <chain@example.org>\nTo: deep@example.org\n"
            f"Subject: {'Re: ' if i else ''}A long chain\n"
            f"Date: Mon, 01 Jan 2024 {i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d} +0000\n"
            f"Message-ID: <link{i}@chain.example>\n{reply}\nLink {i} of the chain.\n\n"
        )
    return "".join(out).encode()


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    root = tmp_path_factory.mktemp("deep") / "archive"
    assert cli("init", root, "--list", "deep").exit_code == 0
    mbox = root.parent / "chain.mbox"
    mbox.write_bytes(_chain_mbox(CHAIN))
    result = cli("import", "--archive", root, "--list", "deep", mbox)
    assert result.exit_code == 0, result.output
    app = create_app(configlib.load(root))
    yield Client(app)
    app.state.archive.close()


@pytest.fixture(scope="module")
def thread(client: Client) -> dict[str, Any]:
    """The chain's thread document, fetched once."""
    (period,) = client.get("/api/lists/deep").json()["periods"]
    listed = client.get(period["api"]).json()
    (only,) = listed["threads"]
    response = client.get(only["api"])
    assert response.status_code == 200, response.text
    doc: dict[str, Any] = response.json()
    return doc


def _walk(tree: list[dict[str, Any]]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(nesting level, node) in document order, without recursion."""
    stack = [(0, node) for node in reversed(tree)]
    while stack:
        level, node = stack.pop()
        yield level, node
        stack.extend((level + 1, child) for child in reversed(node["replies"]))


def test_the_thread_api_answers_a_5000_deep_reply_chain_with_every_message_once(
    thread: dict[str, Any],
) -> None:
    assert thread["messages"] == CHAIN
    numbers = [node["number"] for _, node in _walk(thread["tree"])]
    assert numbers == sorted(numbers)
    assert len(set(numbers)) == CHAIN


def test_replies_nest_to_the_documented_depth_and_deeper_ones_follow_flat(
    thread: dict[str, Any],
) -> None:
    nodes = list(_walk(thread["tree"]))
    assert max(level for level, _ in nodes) == MAX_TREE_DEPTH + 1
    nested = [node for level, node in nodes if level <= MAX_TREE_DEPTH]
    assert len(nested) == MAX_TREE_DEPTH + 1
    assert all("depth" not in node and "parent" not in node for node in nested)
    flat = [node for level, node in nodes if level > MAX_TREE_DEPTH]
    assert [node["depth"] for node in flat] == list(range(MAX_TREE_DEPTH + 1, CHAIN))
    keys = [node["key"] for _, node in nodes]
    assert [node["parent"] for node in flat] == keys[MAX_TREE_DEPTH : CHAIN - 1]


def test_the_deep_thread_document_conforms_to_the_openapi_document(
    thread: dict[str, Any],
) -> None:
    document = openapi.openapi("Deep")
    # The document's own references ("#/components/schemas/...") resolve against its root.
    schema = {"$ref": "#/components/schemas/Thread", "components": document["components"]}
    jsonschema_rs.validator_for(schema).validate(thread)
