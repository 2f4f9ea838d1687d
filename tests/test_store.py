"""The storage contract: numbers and keys fixed at first archiving, duplicates stored once,
raw bytes kept exactly. Runs on every backend."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from piperarc.errors import NotFoundError, StoreError
from piperarc.ingest import deliver
from piperarc.ingest.sources import RawMail
from piperarc.model import NewMessage
from piperarc.store import Store, open_store
from piperarc.store.sqlite import MIGRATIONS
from tests.conftest import BACKENDS, database_for


@pytest.fixture(params=BACKENDS)
def location(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path | str]:
    """Where a new archive's database is, on each backend."""
    with database_for(request.param) as args:
        yield args[1] if args else tmp_path / "archive.sqlite3"


@pytest.fixture
def store(location: Path | str) -> Iterator[Store]:
    opened = open_store(location)
    opened.ensure_list("salon")
    yield opened
    opened.close()


def _new(raw: bytes) -> NewMessage:
    return deliver.prepare(RawMail(raw, None, "test"))


def _mail(n: int, mid: str | None = None, extra: str = "") -> bytes:
    mid_line = f"Message-ID: <{mid or f'm{n}@x'}>\n" if mid != "" else ""
    return (
        f"From: a@x\nSubject: s{n}\nDate: Mon, 1 Jan 2024 00:0{n % 10}:00 +0000\n"
        f"{mid_line}\nbody {n}{extra}\n"
    ).encode()


def test_numbers_are_given_in_arrival_order_from_one(store: Store) -> None:
    results = store.add_messages("salon", [_new(_mail(1)), _new(_mail(2))], 0)
    assert [(r.status, r.num) for r in results] == [("new", 1), ("new", 2)]


def test_an_identical_copy_is_stored_once_and_counted(store: Store) -> None:
    store.add_messages("salon", [_new(_mail(1))], 0)
    again = store.add_messages("salon", [_new(_mail(1)), _new(_mail(1))], 0)
    assert [r.status for r in again] == ["duplicate", "duplicate"]
    assert store.stats("salon").messages == 1
    assert store.stats("salon").duplicates == 2


def test_the_same_message_with_crlf_line_ends_is_a_duplicate(store: Store) -> None:
    store.add_messages("salon", [_new(_mail(1))], 0)
    crlf = store.add_messages("salon", [_new(_mail(1).replace(b"\n", b"\r\n"))], 0)
    assert crlf[0].status == "duplicate"


def test_two_different_messages_sharing_a_message_id_are_both_kept(store: Store) -> None:
    results = store.add_messages("salon", [_new(_mail(1, "same@x")), _new(_mail(2, "same@x"))], 0)
    assert [r.status for r in results] == ["new", "new"]
    assert results[0].key != results[1].key
    assert results[1].key == f"{results[0].key}-2"
    assert [m.num for m in store.messages_by_mid("salon", "same@x")] == [1, 2]


def test_raw_bytes_come_back_exactly(store: Store) -> None:
    raw = _mail(1) + b"\x00\xff\r\n trailing spaces   \n\n\n"
    store.add_messages("salon", [_new(raw)], 0)
    assert store.raw("salon", 1) == raw


def test_a_message_without_a_date_is_dated_when_archived(store: Store) -> None:
    store.add_messages("salon", [_new(b"From: a@x\nSubject: undated\n\nx\n")], 1700000000)
    msg = store.message("salon", 1)
    assert (msg.date_utc, msg.date_source) == (1700000000, "archived")


def test_asking_for_a_missing_message_is_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError):
        store.message("salon", 99)


def test_a_reader_cannot_write(tmp_path: Path) -> None:
    open_store(tmp_path / "a.sqlite3").close()
    reader = open_store(tmp_path / "a.sqlite3", readonly=True)
    with pytest.raises(StoreError):
        reader.ensure_list("x")
    reader.close()


def test_a_database_from_a_newer_piperarc_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite3"
    open_store(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="newer"):
        open_store(path)


def _reply(n: int, *refs: str) -> bytes:
    """Mail number n (dated minute n % 10) answering the last of `refs`."""
    return (
        f"From: b@x\nSubject: Re: s1\nDate: Mon, 1 Jan 2024 00:0{n % 10}:00 +0000\n"
        f"Message-ID: <m{n}@x>\nIn-Reply-To: <{refs[-1]}>\n"
        f"References: {' '.join(f'<{r}>' for r in refs)}\n\nreply {n}\n"
    ).encode()


def test_the_messages_referencing_a_message_id_are_found_by_it(store: Store) -> None:
    store.add_messages(
        "salon",
        [_new(_mail(1)), _new(_reply(2, "m1@x")), _new(_reply(3, "m1@x", "m2@x")), _new(_mail(4))],
        0,
    )
    assert [s.num for s in store.summaries_referencing("salon", ["m1@x"])] == [2, 3]
    assert [s.num for s in store.summaries_referencing("salon", ["m2@x", "gone@x"])] == [3]
    assert store.summaries_referencing("salon", ["m4@x"]) == []


def test_date_neighbours_are_the_messages_just_before_and_after_in_date_order(
    store: Store,
) -> None:
    # Dated minutes 1, 2, 3 and (number 4) 2 again: date order is 1, 2, 4, 3.
    store.add_messages("salon", [_new(_mail(n)) for n in (1, 2, 3, 12)], 0)
    date_of = {s.num: s.date_utc for s in store.summaries("salon")}
    around = {n: [s.num for s in store.date_neighbours("salon", date_of[n], n)] for n in date_of}
    assert around == {1: [2], 2: [1, 4], 4: [2, 3], 3: [4]}


def test_the_newest_messages_come_newest_first(store: Store) -> None:
    store.add_messages("salon", [_new(_mail(n)) for n in (1, 2, 3, 12)], 0)
    assert [s.num for s in store.newest_summaries("salon", 3, starters=False)] == [3, 4, 2]
    assert [s.num for s in store.summaries_dated("salon", 0, 2**40)] == [1, 2, 4, 3]
    assert store.last_num("salon") == 4


def test_a_failed_write_transaction_stores_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError), store.writing():
        store.add_messages("salon", [_new(_mail(1))], 0)
        raise RuntimeError("the disk is full")
    assert store.last_num("salon") == 0
    assert store.summaries_referencing("salon", ["m1@x"]) == []


def test_others_see_a_write_transaction_only_once_it_commits(
    store: Store, location: Path | str
) -> None:
    with closing(open_store(location, readonly=True)) as other:
        with store.writing():
            store.add_messages("salon", [_new(_mail(1)), _new(_reply(2, "m1@x"))], 0)
            assert store.last_num("salon") == 2  # its own writes, inside
            assert other.last_num("salon") == 0
        assert other.last_num("salon") == 2


def test_a_snapshot_does_not_see_a_commit_made_during_it(
    store: Store, location: Path | str
) -> None:
    store.add_messages("salon", [_new(_mail(1))], 0)
    with closing(open_store(location, readonly=True)) as reader, reader.reading():
        assert reader.last_num("salon") == 1
        store.add_messages("salon", [_new(_mail(2))], 0)
        assert reader.last_num("salon") == 1
        assert [s.num for s in reader.summaries_after("salon", 0)] == [1]


def test_a_writer_waiting_past_its_busy_timeout_gets_a_store_error(
    store: Store, location: Path | str
) -> None:
    with closing(open_store(location, busy_timeout=0.2)) as late, store.writing():
        store.add_messages("salon", [_new(_mail(1))], 0)
        with pytest.raises(StoreError), late.writing():
            late.add_messages("salon", [_new(_mail(2))], 0)
    assert store.last_num("salon") == 1


def test_hostile_lengths_of_message_id_and_subject_are_stored_and_found(store: Store) -> None:
    # Hex of hashes: nothing for a compressor to shrink.
    noise = "".join(hashlib.sha256(str(i).encode()).hexdigest() for i in range(150))
    long_mid, subject = noise[:5000] + "@x", noise[:9000]
    first = f"From: a@x\nSubject: {subject}\nMessage-ID: <{long_mid}>\n\nx\n".encode()
    reply = f"From: b@x\nSubject: Re: {subject}\nReferences: <{long_mid}>\n\ny\n".encode()
    store.add_messages("salon", [_new(first), _new(reply)], 0)
    assert [s.num for s in store.summaries_by_mids("salon", [long_mid])] == [1]
    assert [s.num for s in store.summaries_referencing("salon", [long_mid])] == [2]
    base = store.summaries_by_nums("salon", [1])[0].subject_base
    assert 1 in [s.num for s in store.thread_starters_by_subject("salon", [base])]
