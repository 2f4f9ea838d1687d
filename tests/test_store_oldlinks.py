"""The storage contract for an old archive's URLs and the notes on copies taken from it:
a path is mapped once and never changes, reads give the target message's key and date,
and a copy to another backend carries them. Runs on every backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from piperarc.ingest import deliver
from piperarc.ingest.sources import RawMail
from piperarc.model import OldLink
from piperarc.store import Store, open_store
from piperarc.store.copy import copy_archive
from tests.conftest import BACKENDS, database_for


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with database_for(request.param) as args:
        opened = open_store(args[1] if args else tmp_path / "archive.sqlite3")
        opened.ensure_list("salon")
        mails = [
            f"From: a@x\nSubject: s{n}\nDate: Mon, 1 Jan 2024 00:0{n}:00 +0000\n"
            f"Message-ID: <m{n}@x>\n\nbody {n}\n".encode()
            for n in (1, 2)
        ]
        opened.add_messages("salon", [deliver.prepare(RawMail(m, None, "t")) for m in mails], 0)
        yield opened
        opened.close()


PAGE = "/pipermail/salon/2024-January/000000.html"


def test_an_old_url_reads_back_with_its_messages_key_and_date(store: Store) -> None:
    store.add_old_links("salon", [OldLink(PAGE, "message", 2)])
    link = store.old_link(PAGE)
    assert link is not None
    assert (link.list_name, link.kind, link.num) == ("salon", "message", 2)
    assert link.key == store.message("salon", 2).key
    assert link.date_utc == store.message("salon", 2).date_utc


def test_an_unknown_old_url_is_none(store: Store) -> None:
    assert store.old_link("/pipermail/salon/nothing.html") is None


def test_a_mapped_old_url_never_changes_and_a_different_target_is_a_conflict(
    store: Store,
) -> None:
    assert store.add_old_links("salon", [OldLink(PAGE, "message", 1)]) == (1, [])
    assert store.add_old_links("salon", [OldLink(PAGE, "message", 1)]) == (0, [])
    assert store.add_old_links("salon", [OldLink(PAGE, "message", 2)]) == (0, [PAGE])
    link = store.old_link(PAGE)
    assert link is not None and link.num == 1


def test_a_messages_old_paths_are_its_message_and_attachment_urls(store: Store) -> None:
    store.add_old_links(
        "salon",
        [
            OldLink(PAGE, "message", 1),
            OldLink("/pipermail/salon/attachments/2024/ab/attachment.bin", "attachment", 1),
            OldLink("/pipermail/salon/2024-January/thread.html", "period", 1, "thread"),
            OldLink("/pipermail/salon/2024-January/000001.html", "message", 2),
        ],
    )
    assert store.old_paths("salon", 1) == sorted(
        [PAGE, "/pipermail/salon/attachments/2024/ab/attachment.bin"]
    )
    assert [link.path for link in store.old_links("salon")] == sorted(
        [
            PAGE,
            "/pipermail/salon/attachments/2024/ab/attachment.bin",
            "/pipermail/salon/2024-January/thread.html",
            "/pipermail/salon/2024-January/000001.html",
        ]
    )


def test_an_origin_note_is_kept_once_per_message(store: Store) -> None:
    store.set_origins("salon", {1: "From Pipermail's text archive"})
    store.set_origins("salon", {1: "another note", 2: "second"})
    assert store.origin("salon", 1) == "From Pipermail's text archive"
    assert store.origins("salon") == {1: "From Pipermail's text archive", 2: "second"}
    assert store.origin("salon", 3) is None


def test_a_copy_to_another_backend_carries_old_urls_and_notes(store: Store, tmp_path: Path) -> None:
    store.add_old_links("salon", [OldLink(PAGE, "message", 2)])
    store.set_origins("salon", {2: "note"})
    target = open_store(tmp_path / "copy.sqlite3")
    try:
        [(_name, source_print, target_print)] = copy_archive(store, target, lambda line: None)
        assert source_print == target_print
        link = target.old_link(PAGE)
        assert link is not None and link.num == 2
        assert link.key == store.message("salon", 2).key
        assert target.origins("salon") == {2: "note"}
    finally:
        target.close()
