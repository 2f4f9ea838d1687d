"""The PostgreSQL store's removals: a message deleted whole (its row, raw bytes, vector,
references, note) and its tombstone written in the same transaction (schema 7)."""

from __future__ import annotations

from collections.abc import Sequence

import psycopg

from piperarc.errors import NotFoundError, StoreError
from piperarc.model import Tombstone
from piperarc.store import rows as rowlib
from piperarc.store.base import Removal
from piperarc.store.postgres.connection import BUMP, Connected, nul_free, safe_url
from piperarc.store.postgres.schema import TOMBSTONES_SCHEMA


class Removals(Connected):
    """Messages out, tombstones in."""

    def remove_messages(
        self, list_name: str, nums: Sequence[int], removal: Removal
    ) -> list[Tombstone]:
        removed: list[Tombstone] = []
        fields = (nul_free(removal.reason), nul_free(removal.removed_by), *removal.fields()[2:])
        try:
            with self._connection() as conn, conn.transaction(), conn.cursor() as cur:
                # The lock every writer of the list takes (add_messages): one at a time.
                row = cur.execute(
                    "SELECT id FROM lists WHERE name = %s FOR UPDATE", (list_name,)
                ).fetchone()
                if row is None:
                    raise NotFoundError(f"the list {list_name!r} has no messages yet")
                list_id = row[0]
                for num in nums:
                    found = cur.execute(
                        f"SELECT {rowlib.REMOVED_COLUMNS} FROM messages "
                        "WHERE list_id = %s AND num = %s",
                        (list_id, num),
                    ).fetchone()
                    if found is None:
                        continue
                    message_id, *kept = found
                    cur.execute(
                        f"INSERT INTO tombstones (list_id, {rowlib.TOMBSTONE_COLUMNS}, "
                        "message_id) VALUES "
                        "(%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) ON CONFLICT DO NOTHING",
                        (list_id, *kept, *fields, message_id),
                    )
                    cur.execute("DELETE FROM search_index WHERE message_id = %s", (message_id,))
                    cur.execute("DELETE FROM contents WHERE message_id = %s", (message_id,))
                    cur.execute(
                        "DELETE FROM message_refs WHERE list_id = %s AND num = %s", (list_id, num)
                    )
                    cur.execute(
                        "DELETE FROM message_origins WHERE list_id = %s AND num = %s",
                        (list_id, num),
                    )
                    cur.execute("DELETE FROM messages WHERE id = %s", (message_id,))
                    removed.append(rowlib.tombstone(list_name, (*kept, *fields)))
                if removed:
                    cur.execute(BUMP)
        except psycopg.Error as err:
            raise StoreError(f"cannot remove messages: {err}", safe_url(self.url)) from err
        return removed

    def add_tombstones(self, list_name: str, tombstones: Sequence[Tombstone]) -> None:
        try:
            with self._connection() as conn, conn.transaction(), conn.cursor() as cur:
                list_id = self._list_id(cur, list_name)
                cur.executemany(
                    f"INSERT INTO tombstones (list_id, {rowlib.TOMBSTONE_COLUMNS}, message_id) "
                    "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,0) "
                    "ON CONFLICT DO NOTHING",
                    [(list_id, *rowlib.tombstone_values(t)) for t in tombstones],
                )
                cur.execute(
                    "UPDATE lists SET next_num = greatest(next_num, "
                    "(SELECT coalesce(max(num), 0) + 1 FROM tombstones WHERE list_id = %s)) "
                    "WHERE id = %s",
                    (list_id, list_id),
                )
                cur.execute(BUMP)
        except psycopg.Error as err:
            raise StoreError(f"cannot keep tombstones: {err}", safe_url(self.url)) from err

    def tombstones(self, list_name: str) -> list[Tombstone]:
        if self.schema_version < TOMBSTONES_SCHEMA:
            return []
        try:
            list_id = self._id_of(list_name)
        except NotFoundError:
            return []
        rows = self._all(
            f"SELECT {rowlib.TOMBSTONE_COLUMNS} FROM tombstones WHERE list_id = %s ORDER BY num",
            (list_id,),
        )
        return [rowlib.tombstone(list_name, row) for row in rows]
