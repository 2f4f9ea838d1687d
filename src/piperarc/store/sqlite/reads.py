"""The SQLite store's reads: summaries for threading and pages, stored messages and their
raw bytes, rows for copying, counts."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from piperarc.errors import NotFoundError
from piperarc.model import (
    StoredMessage,
    Summary,
)
from piperarc.store import rows as rowlib
from piperarc.store.base import ROW_FIELDS, ArchivedRow, ListStats, unpack
from piperarc.store.sqlite.connection import Connected


class Reads(Connected):
    """Everything that reads the archive but search."""

    def list_names(self) -> list[str]:
        return [row[0] for row in self.db.execute("SELECT name FROM lists ORDER BY name")]

    def summaries(self, list_name: str) -> list[Summary]:
        return self._summaries(list_name, "1 ORDER BY num", ())

    def _summaries(
        self, list_name: str, where: str, args: Sequence[object], index: str = ""
    ) -> list[Summary]:
        indexed = f" INDEXED BY {index}" if index else ""
        rows = self.db.execute(
            f"SELECT {rowlib.SUMMARY_COLUMNS} FROM messages{indexed} WHERE list_id = ? AND {where}",
            (self._list_id(list_name), *args),
        )
        return [rowlib.summary(r) for r in rows]

    def _summaries_in(self, list_name: str, column: str, values: Iterable[object]) -> list[Summary]:
        wanted = list(dict.fromkeys(values))
        found: list[Summary] = []
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            found += self._summaries(
                list_name, f"{column} IN ({','.join('?' * len(chunk))})", chunk
            )
        return found

    def summaries_by_nums(self, list_name: str, nums: Iterable[int]) -> list[Summary]:
        return self._summaries_in(list_name, "num", nums)

    def summaries_by_mids(self, list_name: str, mids: Iterable[str]) -> list[Summary]:
        return self._summaries_in(list_name, "mid", mids)

    def summaries_referencing(self, list_name: str, mids: Iterable[str]) -> list[Summary]:
        nums: list[int] = []
        wanted = list(dict.fromkeys(mids))
        list_id = self._list_id(list_name)
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            nums += [
                row[0]
                for row in self.db.execute(
                    "SELECT DISTINCT num FROM message_refs WHERE list_id = ? "
                    f"AND ref IN ({','.join('?' * len(chunk))})",
                    (list_id, *chunk),
                )
            ]
        return self._summaries_in(list_name, "num", nums)

    def summaries_in_threads(self, list_name: str, thread_keys: Iterable[str]) -> list[Summary]:
        return self._summaries_in(list_name, "thread_key", thread_keys)

    def thread_starters_by_subject(
        self, list_name: str, subject_bases: Iterable[str]
    ) -> list[Summary]:
        wanted = [s for s in dict.fromkeys(subject_bases) if s]
        return [
            s for s in self._summaries_in(list_name, "subject_base", wanted) if not s.thread_pos
        ]

    def unplaced(self, list_name: str) -> list[Summary]:
        # Sorted here: ORDER BY num would walk the whole list in number order.
        return sorted(self._summaries(list_name, "thread_key = ''", ()), key=lambda s: s.num)

    def summaries_after(self, list_name: str, num: int) -> list[Summary]:
        return self._summaries(list_name, "num > ? ORDER BY num", (num,))

    def summaries_dated(self, list_name: str, start: int, end: int) -> list[Summary]:
        return self._summaries(
            list_name, "date_utc >= ? AND date_utc < ? ORDER BY date_utc, num", (start, end)
        )

    def date_neighbours(self, list_name: str, date_utc: int, num: int) -> list[Summary]:
        # Ties on the date first, then the nearest other date, found by min()/max() on the
        # date index (one seek each; an ORDER BY over both columns would sort a range).
        list_id = self._list_id(list_name)
        before = self._summaries(
            list_name,
            "date_utc = ? AND num < ? ORDER BY num DESC LIMIT 1",
            (date_utc, num),
            "messages_by_date",
        )
        if not before:
            (prev,) = self.db.execute(
                "SELECT max(date_utc) FROM messages WHERE list_id = ? AND date_utc < ?",
                (list_id, date_utc),
            ).fetchone()
            if prev is not None:
                before = self._summaries(
                    list_name, "date_utc = ? ORDER BY num DESC LIMIT 1", (prev,), "messages_by_date"
                )
        after = self._summaries(
            list_name,
            "date_utc = ? AND num > ? ORDER BY num LIMIT 1",
            (date_utc, num),
            "messages_by_date",
        )
        if not after:
            (nxt,) = self.db.execute(
                "SELECT min(date_utc) FROM messages WHERE list_id = ? AND date_utc > ?",
                (list_id, date_utc),
            ).fetchone()
            if nxt is not None:
                after = self._summaries(
                    list_name, "date_utc = ? ORDER BY num LIMIT 1", (nxt,), "messages_by_date"
                )
        return before + after

    def newest_summaries(self, list_name: str, limit: int, *, starters: bool) -> list[Summary]:
        where = "thread_pos = 0 AND " if starters else ""
        return self._summaries(
            list_name, f"{where}1 ORDER BY date_utc DESC, num DESC LIMIT ?", (limit,)
        )

    def last_num(self, list_name: str) -> int:
        row = self.db.execute(
            "SELECT max(num) FROM messages WHERE list_id = ?", (self._list_id(list_name),)
        ).fetchone()
        return int(row[0] or 0)

    def message(self, list_name: str, num: int) -> StoredMessage:
        row = self.db.execute(
            f"SELECT {rowlib.STORED_COLUMNS} "
            "FROM messages m JOIN contents c ON c.message_id = m.id "
            "WHERE m.list_id = ? AND m.num = ?",
            (self._list_id(list_name), num),
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no message number {num} in list {list_name!r}")
        return rowlib.stored(list_name, row)

    def messages_by_mid(self, list_name: str, mid: str) -> list[StoredMessage]:
        rows = self.db.execute(
            f"SELECT {rowlib.STORED_COLUMNS} "
            "FROM messages m JOIN contents c ON c.message_id = m.id "
            "WHERE m.list_id = ? AND m.mid = ? ORDER BY m.num",
            (self._list_id(list_name), mid),
        ).fetchall()
        return [rowlib.stored(list_name, row) for row in rows]

    def thread_messages(self, list_name: str, thread_key: str) -> list[tuple[StoredMessage, bytes]]:
        rows = self.db.execute(
            f"SELECT {rowlib.STORED_COLUMNS}, c.raw FROM messages m "
            "JOIN contents c ON c.message_id = m.id "
            "WHERE m.list_id = ? AND m.thread_key = ? ORDER BY m.thread_pos",
            (self._list_id(list_name), thread_key),
        ).fetchall()
        return [(rowlib.stored(list_name, row), unpack(row[-1])) for row in rows]

    def raw(self, list_name: str, num: int) -> bytes:
        row = self.db.execute(
            "SELECT c.raw FROM messages m JOIN contents c ON c.message_id = m.id "
            "WHERE m.list_id = ? AND m.num = ?",
            (self._list_id(list_name), num),
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no message number {num} in list {list_name!r}")
        return unpack(row[0])

    def iter_raw(
        self,
        list_name: str,
        nums: Sequence[int] | None = None,
    ) -> Iterator[tuple[int, str | None, bytes]]:
        list_id = self._list_id(list_name)
        query = (
            "SELECT m.num, m.envelope, c.raw FROM messages m "
            "JOIN contents c ON c.message_id = m.id WHERE m.list_id = ?"
        )
        if nums is None:
            for num, envelope, data in self.db.execute(query + " ORDER BY m.num", (list_id,)):
                yield num, envelope, unpack(data)
            return
        for start in range(0, len(nums), 500):
            chunk = list(nums[start : start + 500])
            marks = ",".join("?" * len(chunk))
            rows = {
                r[0]: r
                for r in self.db.execute(f"{query} AND m.num IN ({marks})", (list_id, *chunk))
            }
            for num in chunk:
                if num in rows:
                    yield num, rows[num][1], unpack(rows[num][2])

    def export_rows(self, list_name: str, after: int, limit: int) -> list[ArchivedRow]:
        columns = ", ".join(("c." if f == "body_text" else "m.") + f for f in ROW_FIELDS)
        rows = self.db.execute(
            f"SELECT {columns}, c.raw FROM messages m JOIN contents c ON c.message_id = m.id "
            "WHERE m.list_id = ? AND m.num > ? ORDER BY m.num LIMIT ?",
            (self._list_id(list_name), after, limit),
        ).fetchall()
        return [ArchivedRow((*r[:3], bool(r[3]), *r[4:-1]), bytes(r[-1])) for r in rows]

    def data_version(self) -> int:
        # https://sqlite.org/pragma.html#pragma_data_version: per connection, moves on
        # every commit by any other connection (or process).
        return int(self.db.execute("PRAGMA data_version").fetchone()[0])

    def stats(self, list_name: str) -> ListStats:
        list_id = self._list_id(list_name)
        row = self.db.execute(
            "SELECT count(*), count(DISTINCT thread_key), count(damage), min(date_utc), "
            "max(date_utc) FROM messages WHERE list_id = ?",
            (list_id,),
        ).fetchone()
        duplicates = self.db.execute(
            "SELECT duplicates FROM lists WHERE id = ?", (list_id,)
        ).fetchone()[0]
        return ListStats(row[0], row[1], row[2], duplicates, row[3], row[4])

    def home_stats(self, list_name: str) -> ListStats:
        list_id = self._list_id(list_name)
        messages, first, last = self.db.execute(
            "SELECT count(*), min(date_utc), max(date_utc) FROM messages WHERE list_id = ?",
            (list_id,),
        ).fetchone()
        threads = self.db.execute(
            "SELECT count(*) FROM messages INDEXED BY messages_starters "
            "WHERE list_id = ? AND thread_pos = 0",
            (list_id,),
        ).fetchone()[0]
        duplicates = self.db.execute(
            "SELECT duplicates FROM lists WHERE id = ?", (list_id,)
        ).fetchone()[0]
        return ListStats(messages, threads, 0, duplicates, first, last)
