"""The Store protocol: what every backend offers, named for reads and writes apart."""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Literal, Protocol, cast

from piperarc.model import (
    IndexText,
    NewMessage,
    OldLink,
    SearchHit,
    SearchQuery,
    SearchTerm,
    StoredMessage,
    Summary,
    ThreadPlacement,
    Tombstone,
)


def pack(raw: bytes) -> bytes:
    """Raw bytes as every backend keeps them: zlib, which any language can read back.
    Level 1: a third of the time of level 6 on mail, for about a fifth more bytes."""
    return zlib.compress(raw, 1)


def unpack(packed: bytes) -> bytes:
    """The raw bytes of `pack(raw)`."""
    return zlib.decompress(packed)


@dataclass(frozen=True, slots=True)
class AddResult:
    """What the store did with one offered message."""

    # new; duplicate (a copy is stored); removed (a tombstone names it: not stored again);
    # no-archive (its sender asked for no archiving: not stored)
    status: Literal["new", "duplicate", "removed", "no-archive"]
    num: int  # the new number, the stored copy's, or the removed message's (0: none)
    key: str


@dataclass(frozen=True, slots=True)
class Refusals:
    """What a list's tombstones refuse (read once per batch): removed messages by their
    bytes' digest and by Message-ID (not a made-up one), and the URL keys they keep."""

    digests: dict[str, tuple[int, str]]
    mids: dict[str, tuple[int, str]]
    keys: frozenset[str]

    @classmethod
    def of(cls, rows: Iterable[Sequence[object]]) -> Refusals:
        """From (num, key, mid, mid_synthetic, digest) rows of the tombstones table."""
        digests: dict[str, tuple[int, str]] = {}
        mids: dict[str, tuple[int, str]] = {}
        for num, key, mid, synthetic, digest in rows:
            found = (int(str(num)), str(key))
            digests[str(digest)] = found
            if not synthetic:
                mids.setdefault(str(mid), found)
        return cls(digests, mids, frozenset(key for _, key in digests.values()))

    def refuse(self, new: NewMessage) -> AddResult | None:
        """The result for a message the store must not take, or None to take it."""
        if new.no_archive:
            return AddResult("no-archive", 0, "")
        found = self.digests.get(new.digest)
        if found is None and not new.parsed.mid_synthetic:
            found = self.mids.get(new.parsed.mid)
        return AddResult("removed", *found) if found else None


NO_REFUSALS = Refusals({}, {}, frozenset())

# A message's columns in the search index: subject, sender (name and address), its own
# lines, the quoted lines, attachment file names, facet tokens (facets.py).
SearchText = tuple[str, str, str, str, str, str]


@dataclass(frozen=True, slots=True)
class Removal:
    """Why, by whom and when messages are removed: what their tombstones keep."""

    reason: str
    removed_by: str
    removed_at: int
    legal: bool = False

    def fields(self) -> tuple[str, str, int, bool]:
        """In the order of the tombstone columns that follow the message's own."""
        return self.reason, self.removed_by, self.removed_at, self.legal


@dataclass(frozen=True, slots=True)
class ListStats:
    """The numbers `piperarc stats` prints for a list."""

    messages: int
    threads: int
    damaged: int
    duplicates: int
    first: int | None
    last: int | None


# The stored columns of a message, in this order, as `export_rows` gives them and
# `import_rows` takes them: everything a copy to another database must keep.
ROW_FIELDS = (
    "num",
    "key",
    "mid",
    "mid_synthetic",
    "digest",
    "date_utc",
    "tz_offset",
    "date_source",
    "from_name",
    "from_addr",
    "subject",
    "subject_base",
    "in_reply_to",
    "refs",
    "attachments",
    "damage",
    "size",
    "envelope",
    "archived_at",
    "thread_key",
    "parent_num",
    "depth",
    "thread_pos",
    "body_text",
)


@dataclass(frozen=True, slots=True)
class ArchivedRow:
    """One stored message, whole: its columns (ROW_FIELDS order) and its packed raw bytes.
    What `piperarc migrate` carries from one database to another."""

    values: tuple[object, ...]
    packed: bytes

    @property
    def num(self) -> int:
        return cast(int, self.values[0])


@dataclass(frozen=True, slots=True)
class FieldUpdate:
    """Fields of a stored message made again from its raw bytes (`piperarc reindex`)."""

    num: int
    from_name: str
    from_addr: str
    body_text: str


class Store(Protocol):
    """A list archive's storage. Writes are transactional; numbers and keys, once given,
    never change."""

    # -- writes --
    def ensure_list(self, list_name: str) -> None:
        """Create the list's row if it is new."""

    def add_messages(
        self, list_name: str, batch: Sequence[NewMessage], archived_at: int
    ) -> list[AddResult]:
        """Store each message of `batch` unless an identical copy is stored; one transaction."""

    def set_threads(self, list_name: str, placements: Sequence[ThreadPlacement]) -> None:
        """Record where threading put each message."""

    def replace_index(self, list_name: str, texts: Iterable[tuple[int, IndexText]]) -> int:
        """Rebuild the list's search index from (num, text) pairs; one transaction."""

    def refresh_fields(self, list_name: str, fields: Sequence[FieldUpdate]) -> int:
        """Store fields parse.py derives again (a better parser): each FieldUpdate's sender
        and text for its message number; returns how many messages changed."""

    def search(
        self, query: SearchQuery, *, by_date: bool, limit: int, offset: int
    ) -> tuple[int, list[SearchHit], bool]:
        """(total, one page of hits, whether the total is exact): ranked by relevance (or
        newest first when `by_date` or when the query has no words). A backend may estimate
        a large total rather than count it. Raises QueryError if the backend rejects it."""

    def word_counts(self, words: Sequence[str], within: Sequence[SearchTerm]) -> dict[str, int]:
        """How many messages hold each of `words` (folded words, as the index cuts them) in
        their subject, sender, text or file names, among those one of `within` matches (the
        lists' facets; none: all); only words some message holds."""

    def search_texts(self, list_name: str, nums: Sequence[int]) -> list[tuple[int, SearchText]]:
        """What the search index holds of these messages (those still stored), as
        (num, (subject, sender, body, quoted, files, facets)): the static site's index is
        made of it, so that it finds what the server finds."""

    def index_warning(self) -> str | None:
        """Why search would miss messages or be slow until `piperarc reindex` (a lost or
        stale index, an index from an older schema), or None when it is whole."""

    # -- reads --
    def list_names(self) -> list[str]:
        """The lists that have a row in the store."""

    def summaries(self, list_name: str) -> list[Summary]:
        """A small row per message of the list, in number order."""

    def message(self, list_name: str, num: int) -> StoredMessage:
        """One message's stored fields; NotFoundError if absent."""

    def messages_by_mid(self, list_name: str, mid: str) -> list[StoredMessage]:
        """Every message of the list with this Message-ID, first archived first."""

    def thread_messages(self, list_name: str, thread_key: str) -> list[tuple[StoredMessage, bytes]]:
        """Every message of a thread with its raw bytes, in thread order."""

    def raw(self, list_name: str, num: int) -> bytes:
        """One message's raw bytes, exactly as they came in."""

    def iter_raw(
        self,
        list_name: str,
        nums: Sequence[int] | None = None,
    ) -> Iterator[tuple[int, str | None, bytes]]:
        """(num, envelope line, raw bytes) for the given messages (all when None), in order."""

    def stats(self, list_name: str) -> ListStats:
        """The list's counts and date range."""

    def data_version(self) -> int:
        """A number that changes whenever another connection commits a write: a cheap way
        for a long-lived reader (the web app) to know its cached views are stale."""

    def close(self) -> None:
        """Release the connection."""

    # -- copying a whole archive (store/copy.py) --
    def export_rows(self, list_name: str, after: int, limit: int) -> list[ArchivedRow]:
        """Up to `limit` messages numbered above `after`, whole, in number order."""

    def import_rows(
        self,
        list_name: str,
        rows: Sequence[ArchivedRow],
        texts: Sequence[IndexText],
        duplicates: int,
    ) -> None:
        """Store copies of another store's messages with their numbers, keys and threads
        as they are, indexed from `texts`; the list's count of skipped duplicates becomes
        `duplicates`. One transaction."""

    # -- live delivery: a transaction around several calls, and the few rows a new
    # message touches (never the whole list) --
    def writing(self) -> AbstractContextManager[None]:
        """One durable write transaction around several calls (reads inside it see no
        other writer); StoreError if the archive stays locked."""

    def reading(self) -> AbstractContextManager[None]:
        """One consistent snapshot around several reads."""

    def summaries_by_nums(self, list_name: str, nums: Iterable[int]) -> list[Summary]:
        """The messages with these numbers (in no particular order)."""

    def summaries_by_mids(self, list_name: str, mids: Iterable[str]) -> list[Summary]:
        """The messages with any of these Message-IDs."""

    def summaries_referencing(self, list_name: str, mids: Iterable[str]) -> list[Summary]:
        """The messages whose references name any of these Message-IDs."""

    def summaries_in_threads(self, list_name: str, thread_keys: Iterable[str]) -> list[Summary]:
        """Every message of these threads."""

    def thread_starters_by_subject(
        self, list_name: str, subject_bases: Iterable[str]
    ) -> list[Summary]:
        """The first messages of threads whose subject (sans Re:) is one of these."""

    def unplaced(self, list_name: str) -> list[Summary]:
        """Messages stored but not threaded yet, in number order."""

    def summaries_after(self, list_name: str, num: int) -> list[Summary]:
        """Messages numbered above `num`, in number order."""

    def summaries_dated(self, list_name: str, start: int, end: int) -> list[Summary]:
        """Messages dated in [start, end), in date order."""

    def date_neighbours(self, list_name: str, date_utc: int, num: int) -> list[Summary]:
        """The messages just before and just after (date, num) in date order (0 to 2)."""

    def newest_summaries(self, list_name: str, limit: int, *, starters: bool) -> list[Summary]:
        """The `limit` newest messages (or thread starters), newest first."""

    def home_stats(self, list_name: str) -> ListStats:
        """stats() as the homes show them, from indexes only (`damaged` is not counted:
        0), so a live update does not read the whole list."""

    def last_num(self, list_name: str) -> int:
        """The highest message number of the list (0 if none)."""

    # -- an old archive's URLs (ingest/oldarchive), and where a message came from --
    def add_old_links(self, list_name: str, links: Sequence[OldLink]) -> tuple[int, list[str]]:
        """Record old URLs of the list; one transaction. A path is mapped once and never
        changes: one already mapped is left as it is (counted as not added), and returned
        among the conflicts if it was mapped to something else. (added, conflicting paths)."""

    def old_link(self, path: str) -> OldLink | None:
        """The old URL at `path` (any list), with its message's key and date; None if unknown."""

    def old_links(self, list_name: str) -> list[OldLink]:
        """Every old URL of the list, with its message's key and date, in path order."""

    def old_paths(self, list_name: str, num: int) -> list[str]:
        """The old URLs that lead to one message, in path order."""

    def set_origins(self, list_name: str, notes: dict[int, str]) -> None:
        """Say, for messages taken from an old archive's own copies (not the raw mail), what
        the old tool changed in them; shown on their page."""

    def origins(self, list_name: str) -> dict[int, str]:
        """Every note set_origins recorded for the list, by message number."""

    def origin(self, list_name: str, num: int) -> str | None:
        """The note set_origins recorded for one message, if any."""

    # -- removals (`piperarc remove`): the message goes, its tombstone stays --
    def remove_messages(
        self, list_name: str, nums: Sequence[int], removal: Removal
    ) -> list[Tombstone]:
        """Delete these messages whole (row, raw bytes, references, note, search entry) and
        leave a tombstone for each, in one transaction; numbers not stored are passed over.
        add_messages refuses what a tombstone names from then on. The tombstones made."""

    def tombstones(self, list_name: str) -> list[Tombstone]:
        """The list's tombstones, by number (none for a list the store does not know)."""

    def add_tombstones(self, list_name: str, tombstones: Sequence[Tombstone]) -> None:
        """Keep tombstones as they are (a copy to another database: migrate); the list's
        numbering then continues past them. One transaction."""
