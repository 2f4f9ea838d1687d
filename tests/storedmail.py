"""A parsed message as the store holds it after import, without a store: for tests and
benches that render one message at a time (tests/test_render_mail.py, bench/render_messages.py,
bench/fuzz_render.py)."""

from __future__ import annotations

from piperarc.model import ParsedMessage, StoredMessage


def as_stored(
    parsed: ParsedMessage, raw: bytes, digest: str, *, list_name: str, num: int, key: str
) -> StoredMessage:
    """`parsed` (of `raw`) as message `num` of `list_name` under `key`, starting a thread of
    its own; a message without a Date is dated 0."""
    return StoredMessage(
        list_name=list_name,
        num=num,
        key=key,
        mid=parsed.mid,
        mid_synthetic=parsed.mid_synthetic,
        date_utc=parsed.date_utc or 0,
        tz_offset=parsed.tz_offset or 0,
        date_source=parsed.date_source,
        from_name=parsed.from_name,
        from_addr=parsed.from_addr,
        subject=parsed.subject,
        subject_base=parsed.subject_base,
        in_reply_to=parsed.in_reply_to,
        references=parsed.references,
        body_text=parsed.body_text,
        has_attachments=bool(parsed.attachments),
        damage=parsed.damage,
        digest=digest,
        size=len(raw),
        envelope=None,
        archived_at=0,
        thread_key=key,
        parent_num=None,
        depth=0,
        thread_pos=0,
    )
