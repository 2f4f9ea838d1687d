"""Rows as both stores select them, and the values they become: one column list and one
converter per kind of row, so SQLite and PostgreSQL cannot drift apart."""

from __future__ import annotations

from typing import Any

from piperarc.mid import capped
from piperarc.model import StoredMessage, Summary

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
