"""Incremental threading (placing.py) places messages exactly as a full rethread does."""

from __future__ import annotations

import dataclasses
import itertools
import lzma
import random
from pathlib import Path

import pytest

from piperarc import placing, threads
from piperarc.deliver import prepare
from piperarc.model import NewMessage
from piperarc.sources.mbox import read_messages
from piperarc.store import Store, open_store
from tests.conftest import corpus_path

# Half of linux-man delivered one message at a time, in archive order: late parents,
# merges, subject grouping and duplicate Message-IDs all occur. (All 10,000 pass too, in
# about a minute of CPU: set this to 10_000 to check.)
DELIVERED = 5000


def _placements(store: Store, name: str) -> dict[int, tuple[str, int | None, int, int]]:
    return {
        s.num: (s.thread_key, s.parent_num, s.depth, s.thread_pos) for s in store.summaries(name)
    }


@pytest.mark.corpus
@pytest.mark.slow
def test_delivering_one_by_one_threads_the_list_as_one_import_does(tmp_path: Path) -> None:
    packed = corpus_path("lists", "linux-man-10k.mbox.xz")
    mbox = tmp_path / "linux-man.mbox"
    mbox.write_bytes(lzma.decompress(packed.read_bytes()))
    store = open_store(Path(":memory:"))
    # Threading is under test here, not durability: a database in memory, no fsync.
    store.ensure_list("lm")
    full_fallbacks = as_replies = 0
    for count, mail in enumerate(read_messages(mbox, "mboxrd")):
        if count == DELIVERED:
            break
        store.add_messages("lm", [prepare(mail)], 1_700_000_000)
        placed = placing.place_pending(store, "lm")
        full_fallbacks += placed.full
        as_replies += placed.replies
    incremental = _placements(store, "lm")
    expected = {
        p.num: (p.thread_key, p.parent_num, p.depth, p.thread_pos)
        for p in threads.thread(store.summaries("lm"))
    }
    store.close()
    assert len(incremental) == DELIVERED
    wrong = {
        num: (incremental[num], expected[num])
        for num in expected
        if incremental[num] != expected[num]
    }
    assert not wrong, f"{len(wrong)} placed differently, e.g. {list(wrong.items())[:3]}"
    assert full_fallbacks == 0
    # Most mail answers mail already there: placed without reading same-subject threads.
    assert as_replies > DELIVERED // 2


def _copy(new: NewMessage, tag: str) -> NewMessage:
    """The message under other Message-IDs (its own and those it references): a second
    list's worth of threads with the same subjects."""
    parsed = dataclasses.replace(
        new.parsed,
        mid=new.parsed.mid + tag,
        in_reply_to=new.parsed.in_reply_to and new.parsed.in_reply_to + tag,
        references=tuple(ref + tag for ref in new.parsed.references),
    )
    return dataclasses.replace(new, parsed=parsed, digest=new.digest + tag)


@pytest.mark.corpus
@pytest.mark.slow
def test_delivering_in_random_order_threads_as_one_import_does(tmp_path: Path) -> None:
    # 800 messages and a copy of each under other Message-IDs, shuffled: replies before
    # their parents, threads that merge late, and many threads sharing each subject.
    packed = corpus_path("lists", "linux-man-10k.mbox.xz")
    mbox = tmp_path / "linux-man.mbox"
    mbox.write_bytes(lzma.decompress(packed.read_bytes()))
    originals = [prepare(mail) for mail in itertools.islice(read_messages(mbox, "mboxrd"), 800)]
    mail = originals + [_copy(new, ".copy") for new in originals]
    random.Random(7).shuffle(mail)
    store = open_store(Path(":memory:"))
    store.ensure_list("lm")
    as_replies = 0
    for new in mail:
        store.add_messages("lm", [new], 1_700_000_000)
        as_replies += placing.place_pending(store, "lm").replies
    incremental = _placements(store, "lm")
    expected = {
        p.num: (p.thread_key, p.parent_num, p.depth, p.thread_pos)
        for p in threads.thread(store.summaries("lm"))
    }
    store.close()
    assert len(incremental) == len(mail)
    wrong = {n: (incremental[n], expected[n]) for n in expected if incremental[n] != expected[n]}
    assert not wrong, f"{len(wrong)} placed differently, e.g. {list(wrong.items())[:3]}"
    assert 0 < as_replies < len(mail)  # both ways of placing were taken
