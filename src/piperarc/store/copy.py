"""Copying a whole archive between databases (SQLite ↔ PostgreSQL), and the proof that
nothing was lost: per list, the count and digests computed on both sides.

Messages travel whole (store.base.ArchivedRow: every stored column and the raw bytes as
stored), in number order, a batch per transaction: numbers, keys (permalinks), threads,
damage, dates and envelopes arrive as they were, and so do an old archive's URLs that lead
to them. Only the search index is not carried
(each backend keeps its own form): it is rebuilt from the raw bytes, as `piperarc reindex`
does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from piperarc.errors import StoreError
from piperarc.mail import parse
from piperarc.store import rows as rowlib
from piperarc.store.base import ROW_FIELDS, Store, unpack

BATCH = 1000


@dataclass(frozen=True, slots=True)
class ListPrint:
    """What proves a list arrived whole."""

    messages: int
    raw: str  # sha256 over every message's number and raw bytes, in number order
    keys: str  # sha256 over every (number, key) pair: the permalinks
    rows: str  # sha256 over every stored column but the text derived for search
    duplicates: int
    links: str = ""  # sha256 over every old URL (and where it leads) and every origin note


def _feed(digest: Any, *parts: object) -> None:
    for part in parts:
        data = part if isinstance(part, bytes) else repr(part).encode("utf-8", "surrogatepass")
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)


def fingerprint(store: Store, list_name: str) -> ListPrint:
    """The list's count and digests, read from `store` in batches."""
    raw, keys, rows = hashlib.sha256(), hashlib.sha256(), hashlib.sha256()
    count, after = 0, 0
    # body_text is derived (and PostgreSQL text cannot hold NUL): the raw bytes prove it.
    kept = [i for i, name in enumerate(ROW_FIELDS) if name != "body_text"]
    while batch := store.export_rows(list_name, after, BATCH):
        for row in batch:
            _feed(raw, row.num, unpack(row.packed))
            _feed(keys, row.num, row.values[1])
            _feed(rows, *(_plain(row.values[i]) for i in kept))
            count += 1
        after = batch[-1].num
    links = hashlib.sha256()
    for link in store.old_links(list_name):
        _feed(links, link.path, link.kind, link.num, link.detail)
    for num, note in store.origins(list_name).items():
        _feed(links, num, note)
    for tombstone in store.tombstones(list_name):
        _feed(links, *(_plain(v) for v in rowlib.tombstone_values(tombstone)))
    return ListPrint(
        count,
        raw.hexdigest(),
        keys.hexdigest(),
        rows.hexdigest(),
        store.stats(list_name).duplicates,
        links.hexdigest(),
    )


def _plain(value: object) -> object:
    """A column as both backends give it back (bool for SQLite's 0/1, no NUL)."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    return value


def copy_list(
    source: Store,
    target: Store,
    list_name: str,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Copy every message of the list from `source` to `target`; returns how many."""
    duplicates = source.stats(list_name).duplicates
    target.ensure_list(list_name)
    if target.stats(list_name).messages:
        raise StoreError(
            f"the target already holds messages of {list_name!r}: migrate into an empty database"
        )
    after, copied = 0, 0
    while batch := source.export_rows(list_name, after, BATCH):
        texts = [
            parse.index_text(parse.parse(unpack(row.packed), "", _envelope(row.values)))
            for row in batch
        ]
        target.import_rows(list_name, batch, texts, duplicates)
        copied += len(batch)
        after = batch[-1].num
        if on_batch is not None:
            on_batch(copied)
    # An old archive's URLs and the notes on its copies travel with the messages they name
    # (by number, which the copy keeps), so old links survive a move between backends.
    links = source.old_links(list_name)
    if links:
        target.add_old_links(list_name, links)
    notes = source.origins(list_name)
    if notes:
        target.set_origins(list_name, notes)
    # Removed messages stay removed wherever the archive moves.
    tombstones = source.tombstones(list_name)
    if tombstones:
        target.add_tombstones(list_name, tombstones)
    return copied


def _envelope(values: tuple[object, ...]) -> str | None:
    envelope = values[ROW_FIELDS.index("envelope")]
    return envelope if isinstance(envelope, str) else None


def copy_archive(
    source: Store, target: Store, on_line: Callable[[str], None]
) -> list[tuple[str, ListPrint, ListPrint]]:
    """Copy every list, then fingerprint both sides: (list, source's, target's) per list."""
    names = source.list_names()
    for name in names:

        def report(n: int, name: str = name) -> None:
            on_line(f"{name}: copied {n} messages")

        if not copy_list(source, target, name, report):
            target.ensure_list(name)
    return [(name, fingerprint(source, name), fingerprint(target, name)) for name in names]
