"""The SQLite store's map of an old archive's URLs to messages, and the notes on messages
taken from an old archive's own copies (schema 6)."""

from __future__ import annotations

from collections.abc import Sequence

from piperarc.model import OldLink
from piperarc.store import rows as rowlib
from piperarc.store.sqlite.connection import Connected

OLD_LINKS_SCHEMA = 6


class OldLinks(Connected):
    """Old URLs in, redirects out."""

    def _has_old_links(self) -> bool:
        # A reader opened on an archive made before schema 6 has no such tables (yet).
        return self._schema() >= OLD_LINKS_SCHEMA

    def add_old_links(self, list_name: str, links: Sequence[OldLink]) -> tuple[int, list[str]]:
        list_id = self._list_id(list_name)
        added, conflicts = 0, []
        with self._write("store old URLs"):
            for link in links:
                cursor = self.db.execute(
                    "INSERT INTO old_links (path, list_id, kind, num, detail) VALUES (?,?,?,?,?) "
                    "ON CONFLICT (path) DO NOTHING",
                    (link.path, list_id, link.kind, link.num, link.detail),
                )
                if cursor.rowcount:
                    added += 1
                    continue
                kept = self.db.execute(
                    "SELECT list_id, kind, num, detail FROM old_links WHERE path = ?",
                    (link.path,),
                ).fetchone()
                if tuple(kept) != (list_id, link.kind, link.num, link.detail):
                    conflicts.append(link.path)
        return added, conflicts

    def old_link(self, path: str) -> OldLink | None:
        if not self._has_old_links():
            return None
        row = self.db.execute(f"{rowlib.OLD_LINK_SELECT} WHERE o.path = ?", (path,)).fetchone()
        return rowlib.old_link(row) if row else None

    def old_links(self, list_name: str) -> list[OldLink]:
        if not self._has_old_links():
            return []
        rows = self.db.execute(
            f"{rowlib.OLD_LINK_SELECT} WHERE o.list_id = ? ORDER BY o.path",
            (self._list_id(list_name),),
        )
        return [rowlib.old_link(row) for row in rows]

    def old_paths(self, list_name: str, num: int) -> list[str]:
        if not self._has_old_links():
            return []
        rows = self.db.execute(
            "SELECT path FROM old_links WHERE list_id = ? AND num = ? "
            "AND kind IN ('message', 'attachment') ORDER BY path",
            (self._list_id(list_name), num),
        )
        return [row[0] for row in rows]

    def set_origins(self, list_name: str, notes: dict[int, str]) -> None:
        list_id = self._list_id(list_name)
        with self._write("store where messages came from"):
            self.db.executemany(
                "INSERT INTO message_origins (list_id, num, note) VALUES (?,?,?) "
                "ON CONFLICT (list_id, num) DO NOTHING",
                ((list_id, num, note) for num, note in notes.items()),
            )

    def origins(self, list_name: str) -> dict[int, str]:
        if not self._has_old_links():
            return {}
        rows = self.db.execute(
            "SELECT num, note FROM message_origins WHERE list_id = ? ORDER BY num",
            (self._list_id(list_name),),
        )
        return dict(rows)

    def origin(self, list_name: str, num: int) -> str | None:
        if not self._has_old_links():
            return None
        row = self.db.execute(
            "SELECT note FROM message_origins WHERE list_id = ? AND num = ?",
            (self._list_id(list_name), num),
        ).fetchone()
        return str(row[0]) if row else None
