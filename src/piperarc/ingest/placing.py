"""Incremental threading for live delivery: place newly stored messages without reading the
whole list.

A full rethread (deliver.rethread) reads every summary of the list: fine after an import,
O(archive) per message when mail arrives one at a time. Here only the messages a new one can
touch are threaded again, with the same algorithm (threads.thread):

- the messages it references, those that reference it or anything it references (its
  place in the reference graph, empty containers included), and every message with its
  Message-ID;
- every member of the threads all those are in. When that places each new message as a
  reply and moves no stored one but for its position, no root changed and neither can the
  subject grouping (_as_replies): done, the usual case for live mail. Else:
- thread starters with its subject (JWZ's subject grouping only ever joins roots), the
  threads they start, and then the threads whose starters share a subject with a resulting
  root, until nothing new joins.

Threads are closed under the reference graph (two messages naming one Message-ID share a
thread), so threading this union of whole threads gives the same placements a full rethread
gives them. If the union grows past LIMIT (a pathological subject, a mass merge), the whole
list is rethreaded instead. tests/test_placing.py checks the equivalence on a real list.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from piperarc.mail import threads
from piperarc.model import Summary, ThreadPlacement
from piperarc.store import Store

LIMIT = 5000  # messages threaded again at most, before falling back to the whole list
MAX_ROUNDS = 8


@dataclass(slots=True)
class Placed:
    """What placing changed: for the incremental site build."""

    new: list[int] = field(default_factory=list)  # the messages that were unplaced
    changed: list[int] = field(default_factory=list)  # every message whose place changed
    threads: set[str] = field(default_factory=set)  # thread keys now holding a changed one
    gone: set[str] = field(default_factory=set)  # thread keys that no longer exist
    full: bool = False  # the whole list was rethreaded
    replies: bool = False  # placed as replies only: no thread of the same subject was read


def _neighbourhood(store: Store, list_name: str, pending: list[Summary]) -> dict[int, Summary]:
    """The pending messages and the stored ones their references tie them to (not yet the
    threads that share their subject: see _as_replies)."""
    found: dict[int, Summary] = {s.num: s for s in pending}
    mids = {s.mid for s in pending}
    refs = {ref for s in pending for ref in s.references}
    for s in store.summaries_by_mids(list_name, mids | refs):
        found.setdefault(s.num, s)
    # Those naming it, and those naming what it names: siblings under a parent that was
    # never archived share its (empty) container.
    for s in store.summaries_referencing(list_name, mids | refs):
        found.setdefault(s.num, s)
    return found


def _as_replies(
    store: Store, list_name: str, pending: list[Summary], subset: dict[int, Summary]
) -> list[ThreadPlacement] | None:
    """The placements when the pending messages only add replies to threads, else None.

    The usual live message answers one already archived. Threading the threads its
    references reach (whole threads: they are closed under the reference graph) then
    places it; and if every pending message gets a parent while every stored message keeps
    its thread, parent and depth, no thread gained or lost a root, so JWZ's subject
    grouping, which only ever looks at roots, joins exactly what it joined before: the
    threads that merely share the subject need not be read. (A list with many threads of
    one subject, "[PATCH] fix typo", would otherwise read them all for every reply.)"""
    keys = _thread_keys(subset)
    for s in store.summaries_in_threads(list_name, keys):
        subset.setdefault(s.num, s)
    if len(subset) > LIMIT or _thread_keys(subset) - keys:
        return None
    placements = threads.thread(sorted(subset.values(), key=lambda s: s.num))
    new = {s.num for s in pending}
    for p in placements:
        before = subset[p.num]
        if p.num in new:
            if p.parent_num is None:
                return None
        elif (before.thread_key, before.parent_num, before.depth) != (
            p.thread_key,
            p.parent_num,
            p.depth,
        ):
            return None
    return placements


def _thread_keys(summaries: dict[int, Summary]) -> set[str]:
    return {s.thread_key for s in summaries.values() if s.thread_key}


def place_pending(store: Store, list_name: str) -> Placed:
    """Thread every stored message not yet placed, moving only what it touches.

    Runs inside one write transaction, so deliveries in other processes never place the
    same messages twice or from a stale view."""
    with store.writing():
        pending = store.unplaced(list_name)
        placed = Placed(new=[s.num for s in pending])
        if not pending:
            return placed
        subset = _neighbourhood(store, list_name, pending)
        replies = dict(subset)
        placements = _as_replies(store, list_name, pending, replies)
        if placements is not None:
            placed.replies = True
            return _record(store, list_name, placed, replies, placements)
        for s in store.thread_starters_by_subject(list_name, {s.subject_base for s in pending}):
            subset.setdefault(s.num, s)
        keys: set[str] = set()
        for _ in range(MAX_ROUNDS):
            more = _thread_keys(subset) - keys
            if more:
                keys |= more
                for s in store.summaries_in_threads(list_name, more):
                    subset.setdefault(s.num, s)
            if len(subset) > LIMIT:
                break
            placements = threads.thread(sorted(subset.values(), key=lambda s: s.num))
            roots = [p.num for p in placements if p.thread_pos == 0]
            starters = store.thread_starters_by_subject(
                list_name, {subset[num].subject_base for num in roots}
            )
            joining = {s.num: s for s in starters if s.num not in subset}
            if not joining and not (_thread_keys(subset) - keys):
                break
            subset.update(joining)
            placements = None
        if placements is None:
            return _place_all(store, list_name, placed)
        return _record(store, list_name, placed, subset, placements)


def _record(
    store: Store,
    list_name: str,
    placed: Placed,
    subset: dict[int, Summary],
    placements: list[ThreadPlacement],
) -> Placed:
    """Store the placements of `subset` that changed; say what changed in `placed`."""
    old_keys = {s.thread_key for s in subset.values() if s.thread_key}
    changes = [p for p in placements if moved(subset[p.num], p)]
    store.set_threads(list_name, changes)
    placed.changed = [p.num for p in changes]
    placed.threads = {p.thread_key for p in changes}
    placed.gone = old_keys - {p.thread_key for p in placements}
    placed.threads |= {p.thread_key for p in placements if subset[p.num].thread_key in placed.gone}
    return placed


def moved(before: Summary, after: ThreadPlacement) -> bool:
    """Whether a message's place (thread, parent, depth, position) changed."""
    return (before.thread_key, before.parent_num, before.depth, before.thread_pos) != (
        after.thread_key,
        after.parent_num,
        after.depth,
        after.thread_pos,
    )


def rethread(
    store: Store, list_name: str
) -> tuple[list[Summary], list[ThreadPlacement], list[ThreadPlacement]]:
    """Thread the whole list again and store what moved (inside the caller's transaction):
    the summaries as they were, every placement, and those that moved."""
    summaries = store.summaries(list_name)
    by_num = {s.num: s for s in summaries}
    placements = threads.thread(summaries)
    changes = [p for p in placements if moved(by_num[p.num], p)]
    store.set_threads(list_name, changes)
    return summaries, placements, changes


def _place_all(store: Store, list_name: str, placed: Placed) -> Placed:
    """The fallback: thread the whole list again (still inside the caller's transaction)."""
    summaries, placements, changes = rethread(store, list_name)
    placed.full = True
    placed.changed = [p.num for p in changes]
    placed.threads = {p.thread_key for p in changes}
    placed.gone = {s.thread_key for s in summaries if s.thread_key} - {
        p.thread_key for p in placements
    }
    return placed
