"""The write path's plumbing: reading ahead of the store, and stopping cleanly."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from piperarc.ingest.deliver import _read_ahead, prepare
from piperarc.ingest.sources import RawMail
from piperarc.mail import parse


def _chunks(count: int, fail_at: int | None = None) -> Iterator[list[RawMail]]:
    for i in range(count):
        if i == fail_at:
            raise OSError("disk went away")
        yield [RawMail(b"Subject: %d\n\nx\n" % i, None, f"test:{i}")]


def test_read_ahead_gives_every_chunk_in_order() -> None:
    got = [chunk[0].origin for chunk in _read_ahead(_chunks(50), depth=3)]
    assert got == [f"test:{i}" for i in range(50)]


def test_an_error_while_reading_reaches_the_consumer_after_the_chunks_before_it() -> None:
    got: list[str] = []
    with pytest.raises(OSError, match="disk went away"):
        for chunk in _read_ahead(_chunks(50, fail_at=7), depth=3):
            got.append(chunk[0].origin)
    assert got == [f"test:{i}" for i in range(7)]


def test_a_consumer_that_stops_early_leaves_no_reader_thread_behind() -> None:
    before = threading.active_count()
    reader = _read_ahead(_chunks(1000), depth=2)
    next(reader)
    reader.close()  # what an exception in the consumer does to the generator
    assert threading.active_count() == before


def test_a_parser_failure_keeps_the_message_as_damaged_raw_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug in the parser")

    monkeypatch.setattr(parse, "parse", broken)
    new = prepare(RawMail(b"Subject: kept\n\nbody\n", None, "test:1"))
    assert new.raw == b"Subject: kept\n\nbody\n"
    assert new.parsed.damage == "parser failed: RuntimeError: a bug in the parser"
    assert "body" in new.parsed.body_text
