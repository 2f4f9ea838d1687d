"""The SQLite store's removals: a message deleted whole (its row, raw bytes, references,
note, search entry) and its tombstone written in the same transaction (schema 7)."""

from __future__ import annotations

from collections.abc import Sequence

from piperarc.errors import NotFoundError
from piperarc.model import Tombstone
from piperarc.store import rows as rowlib
from piperarc.store.base import Removal
from piperarc.store.sqlite.connection import Connected
from piperarc.store.sqlite.schema import TOMBSTONES_SCHEMA


class Removals(Connected):
    """Messages out, tombstones in."""

    def remove_messages(
        self, list_name: str, nums: Sequence[int], removal: Removal
    ) -> list[Tombstone]:
        list_id = self._list_id(list_name)
        removed: list[Tombstone] = []
        with self._write("remove messages"):
            for num in nums:
                row = self.db.execute(
                    f"SELECT {rowlib.REMOVED_COLUMNS} FROM messages WHERE list_id = ? AND num = ?",
                    (list_id, num),
                ).fetchone()
                if row is None:
                    continue
                message_id, *kept = row
                self.db.execute(
                    f"INSERT INTO tombstones (list_id, {rowlib.TOMBSTONE_COLUMNS}, message_id) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                    (list_id, *kept, *removal.fields(), message_id),
                )
                self.db.execute("DELETE FROM contents WHERE message_id = ?", (message_id,))
                self.db.execute(
                    "DELETE FROM message_refs WHERE list_id = ? AND num = ?", (list_id, num)
                )
                self.db.execute(
                    "DELETE FROM message_origins WHERE list_id = ? AND num = ?", (list_id, num)
                )
                self.db.execute("DELETE FROM messages WHERE id = ?", (message_id,))
                self.index.execute("DELETE FROM search_index WHERE rowid = ?", (message_id,))
                removed.append(rowlib.tombstone(list_name, (*kept, *removal.fields())))
        return removed

    def add_tombstones(self, list_name: str, tombstones: Sequence[Tombstone]) -> None:
        list_id = self._list_id(list_name)
        with self._write("keep tombstones"):
            self.db.executemany(
                f"INSERT INTO tombstones (list_id, {rowlib.TOMBSTONE_COLUMNS}, message_id) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,0) ON CONFLICT DO NOTHING",
                ((list_id, *rowlib.tombstone_values(t)) for t in tombstones),
            )
            self.db.execute(
                "UPDATE lists SET next_num = max(next_num, "
                "(SELECT coalesce(max(num), 0) + 1 FROM tombstones WHERE list_id = ?)) "
                "WHERE id = ?",
                (list_id, list_id),
            )

    def tombstones(self, list_name: str) -> list[Tombstone]:
        if self._schema() < TOMBSTONES_SCHEMA:
            return []
        try:
            list_id = self._list_id(list_name)
        except NotFoundError:
            return []
        rows = self.db.execute(
            f"SELECT {rowlib.TOMBSTONE_COLUMNS} FROM tombstones WHERE list_id = ? ORDER BY num",
            (list_id,),
        )
        return [rowlib.tombstone(list_name, row) for row in rows]
