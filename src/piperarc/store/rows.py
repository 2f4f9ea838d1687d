"""Rows as both stores select them, and the values they become: one column list and one
converter per kind of row, so SQLite and PostgreSQL cannot drift apart."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from piperarc.mid import capped
from piperarc.model import OldLink, StoredMessage, Summary, Tombstone

# A message whole: `messages m` joined with `contents c`.
STORED_COLUMNS = (
    "m.num, m.key, m.mid, m.mid_synthetic, m.date_utc, m.tz_offset, m.date_source, "
    "m.from_name, m.from_addr, m.subject, m.subject_base, m.in_reply_to, m.refs, c.body_text, "
    "m.attachments, m.damage, m.digest, m.size, m.envelope, m.archived_at, m.thread_key, "
    "m.parent_num, m.depth, m.thread_pos"
)
# A message's summary: `messages` alone.
SUMMARY_COLUMNS = (
    "num, key, mid, date_utc, tz_offset, from_name, from_addr, subject, subject_base, refs, "
    "damage IS NOT NULL, attachments > 0, thread_key, parent_num, depth, thread_pos"
)


def refs(text: str) -> tuple[str, ...]:
    """The stored References column (one Message-ID a line) as a tuple."""
    return tuple(text.split("\n")) if text else ()


def summary(r: Any) -> Summary:
    """A row of SUMMARY_COLUMNS as a Summary (its references as threading reads them: a
    message stored before mid.capped existed may have many more)."""
    return Summary(
        r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], capped(refs(r[9])), bool(r[10]),
        bool(r[11]), r[12], r[13], r[14], r[15],
    )  # fmt: skip


def stored(list_name: str, r: Any) -> StoredMessage:
    """A row of STORED_COLUMNS as a StoredMessage."""
    return StoredMessage(
        list_name, r[0], r[1], r[2], bool(r[3]), r[4], r[5], r[6], r[7], r[8], r[9], r[10],
        r[11], refs(str(r[12])), r[13], bool(r[14]), r[15], r[16], r[17], r[18], r[19], r[20],
        r[21], r[22], r[23],
    )  # fmt: skip


# An old archive's URL as both backends read it back: with its message's key and date.
OLD_LINK_SELECT = (
    "SELECT o.path, o.kind, o.num, o.detail, l.name, m.key, m.date_utc "
    "FROM old_links o JOIN lists l ON l.id = o.list_id "
    "LEFT JOIN messages m ON m.list_id = o.list_id AND m.num = o.num"
)


def old_link(r: Any) -> OldLink:
    """An OldLink from a row of OLD_LINK_SELECT."""
    path, kind, num, detail, list_name, key, date_utc = r
    return OldLink(
        str(path),
        str(kind),
        num if isinstance(num, int) else None,
        str(detail),
        str(list_name),
        key if isinstance(key, str) else None,
        date_utc if isinstance(date_utc, int) else None,
    )


# A tombstone's columns, in the order `tombstone` reads them (both backends' removal.py).
TOMBSTONE_COLUMNS = (
    "num, key, mid, mid_synthetic, digest, date_utc, thread_key, parent_num, depth, "
    "thread_pos, reason, removed_by, removed_at, legal"
)
# The columns a removed message's row gives its tombstone (its place and identity).
REMOVED_COLUMNS = (
    "id, num, key, mid, mid_synthetic, digest, date_utc, thread_key, parent_num, depth, thread_pos"
)


def tombstone(list_name: str, row: Sequence[Any]) -> Tombstone:
    """A Tombstone from a row of TOMBSTONE_COLUMNS."""
    num, key, mid, synthetic, digest, date_utc, thread_key, parent, depth, pos = row[:10]
    reason, by, at, legal = row[10:]
    return Tombstone(
        list_name,
        int(num),
        str(key),
        str(mid),
        bool(synthetic),
        str(digest),
        int(date_utc),
        str(thread_key),
        None if parent is None else int(parent),
        int(depth),
        int(pos),
        str(reason),
        str(by),
        int(at),
        bool(legal),
    )


def tombstone_values(t: Tombstone) -> tuple[Any, ...]:
    """A Tombstone as a row of TOMBSTONE_COLUMNS."""
    return (
        t.num,
        t.key,
        t.mid,
        t.mid_synthetic,
        t.digest,
        t.date_utc,
        t.thread_key,
        t.parent_num,
        t.depth,
        t.thread_pos,
        t.reason,
        t.removed_by,
        t.removed_at,
        t.legal,
    )
