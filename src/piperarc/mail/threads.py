"""JWZ threading (https://www.jwz.org/doc/threading.html), without recursion on user data.

Pure: Summaries in, ThreadPlacements out. References are trusted first, In-Reply-To is the
fallback (mid.references puts it last); a parent that was never archived becomes an empty
container that holds its replies together; roots left without references are grouped by
subject. Two different messages with one Message-ID are both threaded: the later one gets a
private container and is placed by its own references.
"""

from __future__ import annotations

from collections.abc import Iterable

from piperarc.mail.subjects import is_reply
from piperarc.model import Summary, ThreadPlacement


class _Container:
    __slots__ = ("children", "date", "parent", "summary")

    def __init__(self) -> None:
        self.summary: Summary | None = None
        self.parent: _Container | None = None
        self.children: list[_Container] = []
        self.date = 0

    def is_ancestor_of(self, other: _Container) -> bool:
        if not self.children:  # a leaf is an ancestor of itself only: O(1) for new mail
            return other is self
        node: _Container | None = other
        while node is not None:
            if node is self:
                return True
            node = node.parent
        return False


def _link(parent: _Container, child: _Container) -> None:
    if child.parent is not None:
        child.parent.children.remove(child)
    child.parent = parent
    parent.children.append(child)


def _unlink(child: _Container) -> None:
    if child.parent is not None:
        child.parent.children.remove(child)
        child.parent = None


def _build_table(summaries: Iterable[Summary]) -> dict[str, _Container]:
    """JWZ step 1: a container per Message-ID, linked along each message's references."""
    table: dict[str, _Container] = {}
    for summary in summaries:
        this = table.get(summary.mid)
        if this is None:
            this = table[summary.mid] = _Container()
        elif this.summary is not None:
            # A second message with a Message-ID already taken: thread it on its own.
            this = table[f"{summary.mid}\0{summary.num}"] = _Container()
        this.summary = summary
        this.date = summary.date_utc
        prev: _Container | None = None
        for ref in summary.references:
            container = table.get(ref)
            if container is None:
                container = table[ref] = _Container()
            if prev is not None and container.parent is None and not container.is_ancestor_of(prev):
                _link(prev, container)
            prev = container
        # The message's own last reference is its parent, overriding guesses from others.
        if prev is not None and not this.is_ancestor_of(prev):
            _link(prev, this)
        elif prev is None and this.parent is not None:
            _unlink(this)
    return table


def _prune(roots: list[_Container]) -> list[_Container]:
    """JWZ step 4: drop empty leaves; lift the children of empty containers a level up."""
    holder = _Container()
    for root in roots:
        root.parent = holder
    holder.children = list(roots)
    # Post-order over an explicit stack.
    stack: list[tuple[_Container, bool]] = [(holder, False)]
    while stack:
        node, visited = stack.pop()
        if not visited:
            stack.append((node, True))
            stack.extend((child, False) for child in node.children)
            continue
        if node is holder or node.summary is not None:
            continue
        parent = node.parent
        assert parent is not None
        at_root = parent is holder
        if not node.children:
            _unlink(node)
        elif not at_root or len(node.children) == 1:
            index = parent.children.index(node)
            lifted = node.children
            for child in lifted:
                child.parent = parent
            parent.children[index : index + 1] = lifted
            node.children = []
            node.parent = None
    for root in holder.children:
        root.parent = None
    return holder.children


def _subject_of(container: _Container) -> tuple[str, bool]:
    summary = container.summary
    if summary is None and container.children:
        summary = container.children[0].summary
    if summary is None:
        return "", False
    return summary.subject_base, is_reply(summary.subject)


def _group_by_subject(roots: list[_Container]) -> list[_Container]:
    """JWZ step 5, cautiously: merge a root into another of the same subject only when one is
    an empty container or this one is a reply ("Re:") to a thread that was not. Two
    unrelated threads that merely share a subject ("[PATCH] fix typo") stay apart."""
    chosen: dict[str, _Container] = {}
    for root in roots:
        subject, is_reply = _subject_of(root)
        if not subject:
            continue
        old = chosen.get(subject)
        if old is None:
            chosen[subject] = root
            continue
        old_reply = _subject_of(old)[1]
        if (root.summary is None and old.summary is not None) or (old_reply and not is_reply):
            chosen[subject] = root
    kept: list[_Container] = []
    for root in roots:
        subject, is_reply = _subject_of(root)
        target = chosen.get(subject) if subject else None
        if target is None or target is root:
            kept.append(root)
            continue
        if target.summary is None and root.summary is None:
            for child in list(root.children):
                _link(target, child)
        elif target.summary is None or (is_reply and not _subject_of(target)[1]):
            _link(target, root)
        else:
            kept.append(root)
    return kept


def _sort(roots: list[_Container]) -> None:
    """Siblings in date order; an empty container dates from its earliest descendant."""
    order: list[_Container] = []
    stack = list(roots)
    while stack:
        node = stack.pop()
        order.append(node)
        stack.extend(node.children)
    for node in reversed(order):
        if node.summary is None:
            node.date = min((c.date for c in node.children), default=0)
        node.children.sort(key=_sibling_order)
    roots.sort(key=_sibling_order)


def _sibling_order(container: _Container) -> tuple[int, str, int]:
    summary = container.summary
    if summary is None:
        return container.date, "", 0
    return container.date, summary.mid, summary.num


def _arrival_order(summary: Summary) -> tuple[int, str, int]:
    """The order messages are threaded in: by date, then Message-ID, never by archive
    number, so the threads are the same whatever order the mail arrived in (a bulk import
    and the same mail over LMTP from four clients at once give the same threads)."""
    return summary.date_utc, summary.mid, summary.num


def thread(summaries: Iterable[Summary]) -> list[ThreadPlacement]:
    """Place every message: its thread, its nearest archived parent and its tree position."""
    table = _build_table(sorted(summaries, key=_arrival_order))
    roots = [c for c in table.values() if c.parent is None]
    roots = _group_by_subject(_prune(roots))
    _sort(roots)
    placements: list[ThreadPlacement] = []
    for root in roots:
        thread_key = ""
        pos = 0
        stack: list[tuple[_Container, int | None, int]] = [(root, None, 0)]
        while stack:
            node, parent_num, depth = stack.pop()
            summary = node.summary
            if summary is not None:
                if not thread_key:
                    thread_key = summary.key
                placements.append(ThreadPlacement(summary.num, thread_key, parent_num, depth, pos))
                pos += 1
                parent_num, depth = summary.num, depth + 1
            stack.extend((child, parent_num, depth) for child in reversed(node.children))
    return placements
