"""The PostgreSQL store's reads: summaries for threading and pages, stored messages and
their raw bytes, rows for copying, counts."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import psycopg

from piperarc.errors import NotFoundError, StoreError
from piperarc.model import (
    StoredMessage,
    Summary,
)
from piperarc.store import rows as rowlib
from piperarc.store.base import ROW_FIELDS, ArchivedRow, ListStats, unpack
from piperarc.store.postgres.connection import Connected, nul_free, safe_url


class Reads(Connected):
    """Everything that reads the archive but search."""

    # -- reads --
    def list_names(self) -> list[str]:
        return [row[0] for row in self._all("SELECT name FROM lists ORDER BY name")]

    def summaries(self, list_name: str) -> list[Summary]:
        return self._summaries(list_name, "TRUE ORDER BY num", ())

    def _summaries(self, list_name: str, where: str, args: Sequence[object]) -> list[Summary]:
        rows = self._all(
            f"SELECT {rowlib.SUMMARY_COLUMNS} FROM messages WHERE list_id = %s AND {where}",
            (self._id_of(list_name), *args),
        )
        return [rowlib.summary(r) for r in rows]

    def summaries_by_nums(self, list_name: str, nums: Iterable[int]) -> list[Summary]:
        return self._summaries(
            list_name, "num = ANY(%s) ORDER BY num", (list(dict.fromkeys(nums)),)
        )

    def summaries_by_mids(self, list_name: str, mids: Iterable[str]) -> list[Summary]:
        wanted = list(dict.fromkeys(nul_free(m) for m in mids))
        return self._summaries(list_name, "mid = ANY(%s) ORDER BY num", (wanted,))

    def summaries_referencing(self, list_name: str, mids: Iterable[str]) -> list[Summary]:
        wanted = list(dict.fromkeys(nul_free(m) for m in mids))
        return self._summaries(
            list_name,
            "num IN (SELECT r.num FROM message_refs r WHERE r.list_id = messages.list_id "
            "AND r.ref = ANY(%s)) ORDER BY num",
            (wanted,),
        )

    def summaries_in_threads(self, list_name: str, thread_keys: Iterable[str]) -> list[Summary]:
        wanted = list(dict.fromkeys(nul_free(k) for k in thread_keys))
        return self._summaries(
            list_name, "thread_key = ANY(%s) ORDER BY thread_key, thread_pos", (wanted,)
        )

    def thread_starters_by_subject(
        self, list_name: str, subject_bases: Iterable[str]
    ) -> list[Summary]:
        wanted = [s for s in dict.fromkeys(nul_free(b) for b in subject_bases) if s]
        return self._summaries(
            list_name, "subject_base = ANY(%s) AND thread_pos = 0 ORDER BY num", (wanted,)
        )

    def unplaced(self, list_name: str) -> list[Summary]:
        return self._summaries(list_name, "thread_key = '' ORDER BY num", ())

    def summaries_after(self, list_name: str, num: int) -> list[Summary]:
        return self._summaries(list_name, "num > %s ORDER BY num", (num,))

    def summaries_dated(self, list_name: str, start: int, end: int) -> list[Summary]:
        return self._summaries(
            list_name, "date_utc >= %s AND date_utc < %s ORDER BY date_utc, num", (start, end)
        )

    def date_neighbours(self, list_name: str, date_utc: int, num: int) -> list[Summary]:
        # Row comparisons on the (list, date, num) index: one seek each way.
        before = self._summaries(
            list_name,
            "(date_utc, num) < (%s, %s) ORDER BY date_utc DESC, num DESC LIMIT 1",
            (date_utc, num),
        )
        after = self._summaries(
            list_name, "(date_utc, num) > (%s, %s) ORDER BY date_utc, num LIMIT 1", (date_utc, num)
        )
        return before + after

    def newest_summaries(self, list_name: str, limit: int, *, starters: bool) -> list[Summary]:
        where = "thread_pos = 0" if starters else "TRUE"
        return self._summaries(
            list_name, f"{where} ORDER BY date_utc DESC, num DESC LIMIT %s", (limit,)
        )

    def last_num(self, list_name: str) -> int:
        row = self._one(
            "SELECT max(num) FROM messages WHERE list_id = %s", (self._id_of(list_name),)
        )
        return int(row[0] or 0) if row else 0

    def message(self, list_name: str, num: int) -> StoredMessage:
        row = self._one(
            f"SELECT {rowlib.STORED_COLUMNS} "
            "FROM messages m JOIN contents c ON c.message_id = m.id "
            "WHERE m.list_id = %s AND m.num = %s",
            (self._id_of(list_name), num),
        )
        if row is None:
            raise NotFoundError(f"no message number {num} in list {list_name!r}")
        return rowlib.stored(list_name, row)

    def messages_by_mid(self, list_name: str, mid: str) -> list[StoredMessage]:
        rows = self._all(
            f"SELECT {rowlib.STORED_COLUMNS} "
            "FROM messages m JOIN contents c ON c.message_id = m.id "
            "WHERE m.list_id = %s AND m.mid = %s ORDER BY m.num",
            (self._id_of(list_name), nul_free(mid)),
        )
        return [rowlib.stored(list_name, row) for row in rows]

    def thread_messages(self, list_name: str, thread_key: str) -> list[tuple[StoredMessage, bytes]]:
        rows = self._all(
            f"SELECT {rowlib.STORED_COLUMNS}, c.raw FROM messages m "
            "JOIN contents c ON c.message_id = m.id "
            "WHERE m.list_id = %s AND m.thread_key = %s ORDER BY m.thread_pos",
            (self._id_of(list_name), nul_free(thread_key)),
        )
        return [(rowlib.stored(list_name, row), unpack(row[-1])) for row in rows]

    def raw(self, list_name: str, num: int) -> bytes:
        row = self._one(
            "SELECT c.raw FROM messages m JOIN contents c ON c.message_id = m.id "
            "WHERE m.list_id = %s AND m.num = %s",
            (self._id_of(list_name), num),
        )
        if row is None:
            raise NotFoundError(f"no message number {num} in list {list_name!r}")
        return unpack(row[0])

    def iter_raw(
        self,
        list_name: str,
        nums: Sequence[int] | None = None,
    ) -> Iterator[tuple[int, str | None, bytes]]:
        list_id = self._id_of(list_name)
        query = (
            "SELECT m.num, m.envelope, c.raw FROM messages m "
            "JOIN contents c ON c.message_id = m.id WHERE m.list_id = %s"
        )
        if nums is None:
            # A server-side cursor: a list of a million messages streams, never loads.
            try:
                with (
                    self._connection() as conn,
                    conn.transaction(),
                    conn.cursor(name="piperarc_raw") as cur,
                ):
                    cur.itersize = 500
                    cur.execute((query + " ORDER BY m.num").encode(), (list_id,))
                    for num, envelope, data in cur:
                        yield num, envelope, unpack(data)
            except psycopg.Error as err:
                raise StoreError(f"cannot read: {err}", safe_url(self.url)) from err
            return
        for start in range(0, len(nums), 500):
            chunk = list(nums[start : start + 500])
            rows = {r[0]: r for r in self._all(f"{query} AND m.num = ANY(%s)", (list_id, chunk))}
            for num in chunk:
                if num in rows:
                    yield num, rows[num][1], unpack(bytes(rows[num][2]))

    def export_rows(self, list_name: str, after: int, limit: int) -> list[ArchivedRow]:
        columns = ", ".join(("c." if f == "body_text" else "m.") + f for f in ROW_FIELDS)
        rows = self._all(
            f"SELECT {columns}, c.raw FROM messages m JOIN contents c ON c.message_id = m.id "
            "WHERE m.list_id = %s AND m.num > %s ORDER BY m.num LIMIT %s",
            (self._id_of(list_name), after, limit),
        )
        return [ArchivedRow(tuple(r[:-1]), bytes(r[-1])) for r in rows]

    def data_version(self) -> int:
        row = self._one("SELECT version FROM data_version")
        return int(row[0]) if row else 0

    def stats(self, list_name: str) -> ListStats:
        list_id = self._id_of(list_name)
        row = self._one(
            "SELECT count(*), count(DISTINCT thread_key), count(damage), min(date_utc), "
            "max(date_utc), (SELECT duplicates FROM lists WHERE id = %s) "
            "FROM messages WHERE list_id = %s",
            (list_id, list_id),
        )
        return ListStats(row[0], row[1], row[2], row[5], row[3], row[4])

    def home_stats(self, list_name: str) -> ListStats:
        list_id = self._id_of(list_name)
        row = self._one(
            "SELECT count(*), min(date_utc), max(date_utc), "
            "(SELECT count(*) FROM messages WHERE list_id = %s AND thread_pos = 0), "
            "(SELECT duplicates FROM lists WHERE id = %s) FROM messages WHERE list_id = %s",
            (list_id, list_id, list_id),
        )
        return ListStats(row[0], row[3], 0, row[4], row[1], row[2])
