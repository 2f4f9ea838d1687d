"""Incremental threading (placing.py) places messages exactly as a full rethread does."""

from __future__ import annotations

import lzma
from pathlib import Path

import pytest

from piperarc import placing, threads
from piperarc.deliver import prepare
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
    full_fallbacks = 0
    for count, mail in enumerate(read_messages(mbox, "mboxrd")):
        if count == DELIVERED:
            break
        store.add_messages("lm", [prepare(mail)], 1_700_000_000)
        full_fallbacks += placing.place_pending(store, "lm").full
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
