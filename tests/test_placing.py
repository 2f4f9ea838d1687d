"""Incremental threading (placing.py) places messages exactly as a full rethread does."""

from __future__ import annotations

import collections
import dataclasses
import itertools
import lzma
import random
from pathlib import Path

import pytest

from piperarc.ingest import placing
from piperarc.ingest.deliver import prepare
from piperarc.ingest.sources.mbox import read_messages
from piperarc.mail import threads
from piperarc.model import NewMessage
from piperarc.store import open_store
from tests.conftest import corpus_path

# Half of linux-man delivered one message at a time, in archive order: late parents,
# merges, subject grouping and duplicate Message-IDs all occur. (All 10,000 pass too, in
# about a minute of CPU: set this to 10_000 to check.)
DELIVERED = 5000

Placement = tuple[str, int | None, int, int]  # thread key, parent, depth, position


def _linux_man(tmp_path: Path, count: int) -> list[NewMessage]:
    """The first `count` messages of linux-man, parsed as delivery parses them."""
    packed = corpus_path("lists", "linux-man-10k.mbox.xz")
    mbox = tmp_path / "linux-man.mbox"
    mbox.write_bytes(lzma.decompress(packed.read_bytes()))
    return [prepare(mail) for mail in itertools.islice(read_messages(mbox, "mboxrd"), count)]


@dataclasses.dataclass
class _Delivered:
    wrong: dict[int, tuple[Placement, Placement]]  # num: (placed one by one, by a full rethread)
    full: int  # deliveries that rethreaded the whole list
    replies: int  # deliveries placed as replies only


def _deliver_one_by_one(mail: list[NewMessage]) -> _Delivered:
    """Each message stored and placed on its own, then compared with one full rethread."""
    # Threading is under test here, not durability: a database in memory, no fsync.
    store = open_store(Path(":memory:"))
    store.ensure_list("lm")
    done = _Delivered({}, 0, 0)
    for new in mail:
        store.add_messages("lm", [new], 1_700_000_000)
        placed = placing.place_pending(store, "lm")
        done.full += placed.full
        done.replies += placed.replies
    incremental: dict[int, Placement] = {
        s.num: (s.thread_key, s.parent_num, s.depth, s.thread_pos) for s in store.summaries("lm")
    }
    expected: dict[int, Placement] = {
        p.num: (p.thread_key, p.parent_num, p.depth, p.thread_pos)
        for p in threads.thread(store.summaries("lm"))
    }
    store.close()
    assert len(incremental) == len(expected) == len(mail)
    done.wrong = {
        n: (incremental[n], expected[n]) for n in expected if incremental[n] != expected[n]
    }
    return done


@pytest.mark.corpus
@pytest.mark.slow
def test_delivering_one_by_one_threads_the_list_as_one_import_does(tmp_path: Path) -> None:
    done = _deliver_one_by_one(_linux_man(tmp_path, DELIVERED))
    assert not done.wrong, f"{len(done.wrong)} placed differently: {list(done.wrong.items())[:3]}"
    assert done.full == 0
    # Most mail answers mail already there: placed without reading same-subject threads.
    assert done.replies > DELIVERED // 2


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
    originals = _linux_man(tmp_path, 800)
    mail = originals + [_copy(new, ".copy") for new in originals]
    random.Random(7).shuffle(mail)
    done = _deliver_one_by_one(mail)
    assert not done.wrong, f"{len(done.wrong)} placed differently: {list(done.wrong.items())[:3]}"
    assert 0 < done.replies < len(mail)  # both ways of placing were taken


def _threads_by_mid(store: object) -> dict[str, tuple[str, str | None, int, int]]:
    """Each message's place by Message-ID: its thread's root, its parent, depth, position
    (numbers differ between two archives of the same mail; Message-IDs do not)."""
    summaries = store.summaries("lm")  # type: ignore[attr-defined]
    mid_of = {s.num: s.mid for s in summaries}
    root_of = {s.thread_key: s.mid for s in summaries if s.thread_pos == 0}
    counts = collections.Counter(s.mid for s in summaries)
    return {
        s.mid: (root_of[s.thread_key], mid_of.get(s.parent_num or 0), s.depth, s.thread_pos)
        for s in summaries
        if counts[s.mid] == 1
    }


@pytest.mark.corpus
def test_the_same_mail_in_another_order_threads_the_same(tmp_path: Path) -> None:
    # As a bulk import numbers it, and as four LMTP clients at once might: another order,
    # so other archive numbers. The threads are a function of the mail, not of its order.
    mail = _linux_man(tmp_path, 2000)
    imported = open_store(Path(":memory:"))
    imported.ensure_list("lm")
    imported.add_messages("lm", mail, 1_700_000_000)
    imported.set_threads("lm", threads.thread(imported.summaries("lm")))
    shuffled = list(mail)
    random.Random(11).shuffle(shuffled)
    delivered = open_store(Path(":memory:"))
    delivered.ensure_list("lm")
    for new in shuffled:
        delivered.add_messages("lm", [new], 1_700_000_000)
        placing.place_pending(delivered, "lm")
    by_import, by_delivery = _threads_by_mid(imported), _threads_by_mid(delivered)
    wrong = {m: (by_import[m], by_delivery[m]) for m in by_import if by_import[m] != by_delivery[m]}
    assert not wrong, f"{len(wrong)} placed differently: {list(wrong.items())[:3]}"
    assert len({p[0] for p in by_import.values()}) == len({p[0] for p in by_delivery.values()})
