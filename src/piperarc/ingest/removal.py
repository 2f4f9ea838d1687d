"""Removing messages for good (`piperarc remove`): every copy with a Message-ID is deleted
whole and leaves a tombstone (store.remove_messages), and what a tombstone names is never
archived again: the store refuses it on every way in (import, deliver, LMTP, watch, Mailman),
and `reindex` removes it again where an older copy brought it back.

Threads keep their shape: the other messages keep their places, and the tombstone keeps
the removed message's, where its thread shows a placeholder."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from piperarc import mid as midlib
from piperarc.model import Summary, ThreadPlacement, Tombstone
from piperarc.store import Store
from piperarc.store.base import Removal


@dataclass(slots=True)
class Removed:
    """What a removal did: the tombstones it made, and the Message-IDs it found nowhere."""

    tombstones: list[Tombstone] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)


def remove(store: Store, list_name: str, mids: Sequence[str], removal: Removal) -> Removed:
    """Remove every message of the list with one of these Message-IDs (one transaction)."""
    done = Removed()
    nums: list[int] = []
    for wanted in mids:
        mid = midlib.asked(wanted)
        found = store.messages_by_mid(list_name, mid) if list_name in store.list_names() else []
        if not found:
            done.unknown.append(mid)
        nums.extend(msg.num for msg in found)
    if nums:
        with store.writing():
            done.tombstones = store.remove_messages(list_name, list(dict.fromkeys(nums)), removal)
            _new_starters(store, list_name, done.tombstones)
    return done


def _new_starters(store: Store, list_name: str, tombstones: Sequence[Tombstone]) -> None:
    """A thread whose first message was removed starts, for counts, feeds and is:root, at
    its first message left (the thread keeps its key, its URL; the placeholder keeps its
    place before it)."""
    starters = {t.thread_key for t in tombstones if t.thread_pos == 0 and t.thread_key}
    if not starters:
        return
    left: dict[str, Summary] = {}
    for summary in store.summaries_in_threads(list_name, starters):
        first = left.get(summary.thread_key)
        if first is None or summary.thread_pos < first.thread_pos:
            left[summary.thread_key] = summary
    store.set_threads(
        list_name,
        [
            ThreadPlacement(s.num, s.thread_key, s.parent_num, s.depth, 0)
            for s in left.values()
            if s.thread_pos != 0
        ],
    )


def remove_again(store: Store, list_name: str, now: int) -> list[Tombstone]:
    """Remove what tombstones name and the list holds again (an older copy restored, rows
    copied in by hand): the same Message-ID (a real one) or the same bytes."""
    again: list[tuple[int, Tombstone]] = []
    for tombstone in store.tombstones(list_name):
        for msg in store.messages_by_mid(list_name, tombstone.mid):
            if msg.digest == tombstone.digest or not tombstone.mid_synthetic:
                again.append((msg.num, tombstone))
    removed: list[Tombstone] = []
    for num, tombstone in again:
        removal = Removal(tombstone.reason, tombstone.removed_by, now, tombstone.legal)
        removed += store.remove_messages(list_name, [num], removal)
    return removed
