"""The storage contract for removal: a removed message's rows go, a tombstone keeps its
Message-ID, digest and audit fields, the store refuses what a tombstone names, and a copy
to another backend carries the tombstones. Runs on every backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from piperarc.ingest import deliver
from piperarc.ingest.sources import RawMail
from piperarc.store import Store, open_store
from piperarc.store.base import Removal
from piperarc.store.copy import copy_archive
from tests.conftest import BACKENDS, database_for


def _mail(n: int, body: str = "") -> bytes:
    return (
        f"From: a@x\nSubject: s{n}\nDate: Mon, 1 Jan 2024 00:0{n}:00 +0000\n"
        f"Message-ID: <m{n}@x>\n\nbody {n}{body}\n"
    ).encode()


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with database_for(request.param) as args:
        opened = open_store(args[1] if args else tmp_path / "archive.sqlite3")
        opened.ensure_list("salon")
        batch = [deliver.prepare(RawMail(_mail(n), None, "t")) for n in (1, 2)]
        opened.add_messages("salon", batch, 0)
        yield opened
        opened.close()


WHY = Removal("leaked a password", "ada", 1_700_000_000, legal=True)


def test_a_removed_message_is_gone_and_its_tombstone_keeps_the_audit(store: Store) -> None:
    stored = store.message("salon", 1)
    [tombstone] = store.remove_messages("salon", [1], WHY)
    assert store.messages_by_mid("salon", "m1@x") == []
    assert (tombstone.mid, tombstone.digest, tombstone.key) == (
        "m1@x",
        stored.digest,
        stored.key,
    )
    assert (tombstone.reason, tombstone.removed_by, tombstone.removed_at, tombstone.legal) == (
        "leaked a password",
        "ada",
        1_700_000_000,
        True,
    )
    assert store.tombstones("salon") == [tombstone]


def test_removing_a_number_not_stored_makes_no_tombstone(store: Store) -> None:
    assert store.remove_messages("salon", [99], WHY) == []
    assert store.tombstones("salon") == []


def test_the_same_bytes_offered_again_are_refused_as_removed(store: Store) -> None:
    store.remove_messages("salon", [1], WHY)
    [result] = store.add_messages("salon", [deliver.prepare(RawMail(_mail(1), None, "t"))], 0)
    assert result.status == "removed"
    assert store.messages_by_mid("salon", "m1@x") == []


def test_other_bytes_under_a_removed_message_id_are_refused_too(store: Store) -> None:
    store.remove_messages("salon", [1], WHY)
    other = deliver.prepare(RawMail(_mail(1, " edited"), None, "t"))
    [result] = store.add_messages("salon", [other], 0)
    assert result.status == "removed"


def test_a_new_message_after_a_removal_does_not_take_the_removed_number(store: Store) -> None:
    store.remove_messages("salon", [2], WHY)
    [result] = store.add_messages("salon", [deliver.prepare(RawMail(_mail(3), None, "t"))], 0)
    assert result.status == "new"
    assert result.num == 3


def test_a_copy_to_another_backend_carries_the_tombstones(store: Store, tmp_path: Path) -> None:
    store.remove_messages("salon", [1], WHY)
    target = open_store(tmp_path / "copy.sqlite3")
    try:
        [(_name, source_print, target_print)] = copy_archive(store, target, lambda line: None)
        assert source_print == target_print
        assert target.tombstones("salon") == store.tombstones("salon")
    finally:
        target.close()
