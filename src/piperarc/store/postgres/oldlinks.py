"""The PostgreSQL store's map of an old archive's URLs to messages, and the notes on
messages taken from an old archive's own copies (schema 6)."""

from __future__ import annotations

from collections.abc import Sequence

import psycopg

from piperarc.errors import StoreError
from piperarc.model import OldLink
from piperarc.store import rows as rowlib
from piperarc.store.postgres.connection import BUMP, Connected, nul_free, safe_url
from piperarc.store.postgres.schema import OLD_LINKS_SCHEMA


class OldLinks(Connected):
    """Old URLs in, redirects out."""

    def _has_old_links(self) -> bool:
        # A reader opened on an archive made before schema 6 has no such tables (yet).
        return self.schema_version >= OLD_LINKS_SCHEMA

    def add_old_links(self, list_name: str, links: Sequence[OldLink]) -> tuple[int, list[str]]:
        try:
            with self._connection() as conn, conn.transaction():
                list_id = self._list_id(conn.cursor(), list_name)
                wanted: dict[str, tuple[object, ...]] = {}
                for link in links:  # a path given twice: the first, as a path is mapped once
                    wanted.setdefault(
                        nul_free(link.path) or "",
                        (list_id, link.kind, link.num, nul_free(link.detail) or ""),
                    )
                kept = {
                    row[0]: tuple(row[1:])
                    for row in conn.execute(
                        "SELECT path, list_id, kind, num, detail FROM old_links "
                        "WHERE path = ANY(%s)",
                        (list(wanted),),
                    )
                }
                new = [(path, *values) for path, values in wanted.items() if path not in kept]
                with conn.cursor() as cur:
                    cur.executemany(
                        "INSERT INTO old_links (path, list_id, kind, num, detail) "
                        "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (path) DO NOTHING",
                        new,
                    )
                if new:
                    conn.execute(BUMP)
        except psycopg.Error as err:
            raise StoreError(f"cannot store old URLs: {err}", safe_url(self.url)) from err
        conflicts = [path for path, values in kept.items() if values != wanted[path]]
        return len(new), conflicts

    def old_link(self, path: str) -> OldLink | None:
        if not self._has_old_links() or "\x00" in path:
            return None
        row = self._one(f"{rowlib.OLD_LINK_SELECT} WHERE o.path = %s", (path,))
        return rowlib.old_link(row) if row else None

    def old_links(self, list_name: str) -> list[OldLink]:
        if not self._has_old_links():
            return []
        rows = self._all(
            f'{rowlib.OLD_LINK_SELECT} WHERE o.list_id = %s ORDER BY o.path COLLATE "C"',
            (self._id_of(list_name),),
        )
        return [rowlib.old_link(row) for row in rows]

    def old_paths(self, list_name: str, num: int) -> list[str]:
        if not self._has_old_links():
            return []
        rows = self._all(
            "SELECT path FROM old_links WHERE list_id = %s AND num = %s "
            "AND kind IN ('message', 'attachment') ORDER BY path COLLATE \"C\"",
            (self._id_of(list_name), num),
        )
        return [row[0] for row in rows]

    def set_origins(self, list_name: str, notes: dict[int, str]) -> None:
        try:
            with self._connection() as conn, conn.transaction():
                list_id = self._list_id(conn.cursor(), list_name)
                with conn.cursor() as cur:
                    cur.executemany(
                        "INSERT INTO message_origins (list_id, num, note) VALUES (%s, %s, %s) "
                        "ON CONFLICT (list_id, num) DO NOTHING",
                        [(list_id, num, nul_free(note)) for num, note in notes.items()],
                    )
                conn.execute(BUMP)
        except psycopg.Error as err:
            raise StoreError(
                f"cannot store where messages came from: {err}", safe_url(self.url)
            ) from err

    def origins(self, list_name: str) -> dict[int, str]:
        if not self._has_old_links():
            return {}
        rows = self._all(
            "SELECT num, note FROM message_origins WHERE list_id = %s ORDER BY num",
            (self._id_of(list_name),),
        )
        return dict(rows)

    def origin(self, list_name: str, num: int) -> str | None:
        if not self._has_old_links():
            return None
        row = self._one(
            "SELECT note FROM message_origins WHERE list_id = %s AND num = %s",
            (self._id_of(list_name), num),
        )
        return str(row[0]) if row else None
