"""The PostgreSQL store's writes: messages added in batches (numbers handed out under the
list's row lock, vectors written by COPY), threads placed, vectors rebuilt, rows copied in."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import psycopg
from psycopg import sql

from piperarc import facets
from piperarc import mid as midlib
from piperarc.errors import NotFoundError, StoreError
from piperarc.model import (
    IndexText,
    NewMessage,
    ThreadPlacement,
)
from piperarc.store import rows as rowlib
from piperarc.store.base import (
    NO_REFUSALS,
    ROW_FIELDS,
    AddResult,
    ArchivedRow,
    FieldUpdate,
    Refusals,
)
from piperarc.store.postgres import text as pgtext
from piperarc.store.postgres.connection import (
    BUMP,
    WRITE_LOCK,
    WRITE_LOCKING,
    Connected,
    nul_free,
    safe_url,
)
from piperarc.store.postgres.schema import TOMBSTONES_SCHEMA

_MESSAGE_COLUMNS = (
    "id",
    "list_id",
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
    "thread_pos",
)


_ROOT_LEXEME = pgtext.FACET_MARK + facets.ROOT


SMALL = 2000  # set_threads: placements passed as arrays up to this many, else COPY


def _ref_rows(list_id: int, num: int, refs: str) -> Iterator[tuple[int, str, int]]:
    """message_refs rows of one message: each Message-ID its references name, once."""
    for ref in dict.fromkeys(rowlib.refs(refs)):
        if ref:
            yield list_id, ref, num


class Writes(Connected):
    """Everything that changes the archive."""

    # -- writes --
    def ensure_list(self, list_name: str) -> None:
        try:
            with self._connection() as conn, conn.transaction():
                added = conn.execute(
                    "INSERT INTO lists (name) VALUES (%s) ON CONFLICT (name) DO NOTHING",
                    (list_name,),
                )
                if added.rowcount:
                    conn.execute(BUMP)
        except psycopg.Error as err:
            raise StoreError(
                f"cannot add the list {list_name!r}: {err}", safe_url(self.url)
            ) from err

    def add_messages(
        self, list_name: str, batch: Sequence[NewMessage], archived_at: int
    ) -> list[AddResult]:
        try:
            with self._connection() as conn, conn.transaction():
                return self._add(conn, list_name, batch, archived_at)
        except psycopg.Error as err:
            raise StoreError(f"cannot store messages: {err}", safe_url(self.url)) from err

    def _add(
        self,
        conn: psycopg.Connection[Any],
        list_name: str,
        batch: Sequence[NewMessage],
        archived_at: int,
    ) -> list[AddResult]:
        cur = conn.cursor()
        # The lock that makes numbering safe: one writer per list at a time, until commit.
        row = cur.execute(
            "SELECT id, next_num FROM lists WHERE name = %s FOR UPDATE", (list_name,)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"the list {list_name!r} has no messages yet")
        list_id, next_num = row
        known: dict[str, tuple[int, str]] = {
            digest: (num, key)
            for digest, num, key in cur.execute(
                "SELECT digest, num, key FROM messages WHERE list_id = %s AND digest = ANY(%s)",
                (list_id, [new.digest for new in batch]),
            )
        }
        refusals = NO_REFUSALS
        if self.schema_version >= TOMBSTONES_SCHEMA:
            refusals = Refusals.of(
                cur.execute(
                    "SELECT num, key, mid, mid_synthetic, digest FROM tombstones "
                    "WHERE list_id = %s",
                    (list_id,),
                )
            )
        base_keys = {midlib.url_key(new.parsed.mid) for new in batch}
        taken = {
            key
            for (key,) in cur.execute(
                "SELECT key FROM messages WHERE list_id = %s AND key = ANY(%s)",
                (list_id, list(base_keys)),
            )
        } | refusals.keys  # a removed message's URL stays its own

        def free(key: str) -> bool:
            if key in taken:
                return False
            if key in base_keys:  # every base key was looked up above
                return True
            row = cur.execute(
                "SELECT 1 FROM messages WHERE list_id = %s AND key = %s", (list_id, key)
            ).fetchone()
            return row is None

        results: list[AddResult] = []
        rows: list[tuple[Any, ...]] = []
        new_ones: list[NewMessage] = []
        duplicates = 0
        for new in batch:
            refused = refusals.refuse(new)
            if refused is not None:
                results.append(refused)
                continue
            same = known.get(new.digest)
            if same is not None:
                duplicates += 1
                results.append(AddResult("duplicate", same[0], same[1]))
                continue
            parsed = new.parsed
            base_key = key = midlib.url_key(parsed.mid)
            suffix = 1
            while not free(key):
                suffix += 1
                key = f"{base_key}-{suffix}"
            taken.add(key)
            date_source = parsed.date_source
            date_utc, tz_offset = parsed.date_utc, parsed.tz_offset
            if date_utc is None:
                date_utc, tz_offset, date_source = archived_at, 0, "archived"
            predicted_root = not parsed.references  # as the SQLite store: see there
            rows.append(
                (
                    list_id,
                    next_num,
                    key,
                    nul_free(parsed.mid),
                    parsed.mid_synthetic,
                    new.digest,
                    date_utc,
                    tz_offset or 0,
                    date_source,
                    nul_free(parsed.from_name),
                    nul_free(parsed.from_addr),
                    nul_free(parsed.subject),
                    nul_free(parsed.subject_base),
                    nul_free(parsed.in_reply_to),
                    nul_free("\n".join(parsed.references)),
                    len(parsed.attachments),
                    nul_free(parsed.damage),
                    len(new.raw),
                    nul_free(new.envelope),
                    archived_at,
                    0 if predicted_root else 1,
                )
            )
            new_ones.append(new)
            known[new.digest] = (next_num, key)
            results.append(AddResult("new", next_num, key))
            next_num += 1
        if rows:
            ids = [
                i
                for (i,) in cur.execute(
                    "SELECT nextval('message_ids') FROM generate_series(1, %s)", (len(rows),)
                )
            ]
            with cur.copy(f"COPY messages ({', '.join(_MESSAGE_COLUMNS)}) FROM STDIN") as copy:
                for message_id, values in zip(ids, rows, strict=True):
                    copy.write_row((message_id, *values))
            with cur.copy(
                "COPY contents (message_id, raw, body_text, snippet_text) FROM STDIN"
            ) as copy:
                for message_id, new in zip(ids, new_ones, strict=True):
                    copy.write_row(
                        (
                            message_id,
                            new.packed,
                            nul_free(new.parsed.body_text),
                            nul_free(new.index.body),
                        )
                    )
            with cur.copy("COPY search_index (message_id, doc, paired) FROM STDIN") as copy:
                for message_id, new, values in zip(ids, new_ones, rows, strict=True):
                    tokens = facets.message_tokens(
                        list_name, int(values[6]), bool(new.parsed.attachments), values[-1] == 0
                    )
                    copy.write_row((message_id, pgtext.vector(new.index, tokens), True))
            with cur.copy("COPY message_refs (list_id, ref, num) FROM STDIN") as copy:
                for values in rows:
                    for ref_row in _ref_rows(list_id, values[1], values[14]):
                        copy.write_row(ref_row)
        cur.execute(
            "UPDATE lists SET next_num = %s, duplicates = duplicates + %s WHERE id = %s",
            (next_num, duplicates, list_id),
        )
        cur.execute(BUMP)
        return results

    def refresh_fields(self, list_name: str, fields: Sequence[FieldUpdate]) -> int:
        changed = 0
        try:
            with self._connection() as conn, conn.transaction():
                cur = conn.cursor()
                list_id = self._list_id(cur, list_name)
                for f in fields:
                    name, addr, body = (
                        nul_free(f.from_name),
                        nul_free(f.from_addr),
                        nul_free(f.body_text),
                    )
                    row = cur.execute(
                        "SELECT m.id FROM messages m JOIN contents c ON c.message_id = m.id "
                        "WHERE m.list_id = %s AND m.num = %s AND (m.from_name != %s "
                        "OR m.from_addr != %s OR c.body_text != %s)",
                        (list_id, f.num, name, addr, body),
                    ).fetchone()
                    if row is None:
                        continue
                    cur.execute(
                        "UPDATE messages SET from_name = %s, from_addr = %s WHERE id = %s",
                        (name, addr, row[0]),
                    )
                    cur.execute(
                        "UPDATE contents SET body_text = %s WHERE message_id = %s", (body, row[0])
                    )
                    changed += 1
        except psycopg.Error as err:
            raise StoreError(
                f"cannot store the fields made again: {err}", safe_url(self.url)
            ) from err
        return changed

    def replace_index(self, list_name: str, texts: Iterable[tuple[int, IndexText]]) -> int:
        count = 0
        try:
            with self._connection() as conn, conn.transaction():
                cur = conn.cursor()
                list_id = self._list_id(cur, list_name)
                rows = {
                    num: (i, date_utc, attachments, pos == 0)
                    for num, i, date_utc, attachments, pos in cur.execute(
                        "SELECT num, id, date_utc, attachments, thread_pos "
                        "FROM messages WHERE list_id = %s",
                        (list_id,),
                    )
                }
                cur.execute(
                    "DELETE FROM search_index WHERE message_id IN "
                    "(SELECT id FROM messages WHERE list_id = %s)",
                    (list_id,),
                )
                snippets: list[tuple[str | None, int]] = []
                with cur.copy("COPY search_index (message_id, doc, paired) FROM STDIN") as copy:
                    for num, text in texts:
                        message_id, date_utc, attachments, is_root = rows[num]
                        tokens = facets.message_tokens(
                            list_name, date_utc, attachments > 0, is_root
                        )
                        copy.write_row((message_id, pgtext.vector(text, tokens), True))
                        snippets.append((nul_free(text.body), message_id))
                        count += 1
                cur.executemany(
                    "UPDATE contents SET snippet_text = %s WHERE message_id = %s", snippets
                )
                cur.execute(BUMP)
        except psycopg.Error as err:
            raise StoreError(f"cannot rebuild the search index: {err}", safe_url(self.url)) from err
        return count

    def set_threads(self, list_name: str, placements: Sequence[ThreadPlacement]) -> None:
        try:
            with self._connection() as conn, conn.transaction():
                cur = conn.cursor()
                list_id = self._list_id(cur, list_name)
                # As writing(): a full rethread and a live delivery never interleave.
                cur.execute(WRITE_LOCKING, (WRITE_LOCK,))
                if len(placements) > SMALL:
                    # DROP first: writing() may place twice before its commit drops it.
                    cur.execute("DROP TABLE IF EXISTS placements")
                    cur.execute(
                        "CREATE TEMP TABLE placements (num INTEGER PRIMARY KEY, thread_key TEXT, "
                        "parent_num INTEGER, depth INTEGER, thread_pos INTEGER) ON COMMIT DROP"
                    )
                    with cur.copy("COPY placements FROM STDIN") as copy:
                        for p in placements:
                            copy.write_row(
                                (p.num, nul_free(p.thread_key), p.parent_num, p.depth, p.thread_pos)
                            )
                    source = sql.SQL("placements")
                    args: list[object] = []
                else:
                    # A live delivery places a few: arrays, no table to create.
                    source = sql.SQL(
                        "(SELECT * FROM unnest(%s::int[], %s::text[], %s::int[], %s::int[], "
                        "%s::int[]) AS u(num, thread_key, parent_num, depth, thread_pos))"
                    )
                    args = [
                        [p.num for p in placements],
                        [nul_free(p.thread_key) for p in placements],
                        [p.parent_num for p in placements],
                        [p.depth for p in placements],
                        [p.thread_pos for p in placements],
                    ]
                # is:root lives in the search index: rewrite the facets of messages that
                # started, or stopped starting, a thread (before thread_pos changes).
                cur.execute(
                    sql.SQL(
                        "UPDATE search_index s SET doc = CASE WHEN p.thread_pos = 0 "
                        "THEN s.doc || %s::tsvector ELSE ts_delete(s.doc, %s::text) END "
                        "FROM messages m JOIN {} p ON p.num = m.num "
                        "WHERE m.list_id = %s AND s.message_id = m.id "
                        "AND (m.thread_pos = 0) <> (p.thread_pos = 0)"
                    ).format(source),
                    [f"'{_ROOT_LEXEME}':1D", _ROOT_LEXEME, *args, list_id],
                )
                cur.execute(
                    sql.SQL(
                        "UPDATE messages m SET thread_key = p.thread_key, "
                        "parent_num = p.parent_num, depth = p.depth, thread_pos = p.thread_pos "
                        "FROM {} p WHERE m.list_id = %s AND m.num = p.num AND "
                        "(m.thread_key, m.parent_num, m.depth, m.thread_pos) IS DISTINCT FROM "
                        "(p.thread_key, p.parent_num, p.depth, p.thread_pos)"
                    ).format(source),
                    [*args, list_id],
                )
                cur.execute(BUMP)
        except psycopg.Error as err:
            raise StoreError(f"cannot store threads: {err}", safe_url(self.url)) from err

    def import_rows(
        self,
        list_name: str,
        rows: Sequence[ArchivedRow],
        texts: Sequence[IndexText],
        duplicates: int,
    ) -> None:
        self.ensure_list(list_name)
        fields = [f for f in ROW_FIELDS if f != "body_text"]
        body_at = ROW_FIELDS.index("body_text")
        try:
            with self._connection() as conn, conn.transaction():
                cur = conn.cursor()
                list_id = self._list_id(cur, list_name)
                cur.execute("SELECT 1 FROM lists WHERE id = %s FOR UPDATE", (list_id,))
                ids = [
                    i
                    for (i,) in cur.execute(
                        "SELECT nextval('message_ids') FROM generate_series(1, %s)", (len(rows),)
                    )
                ]
                with cur.copy(
                    f"COPY messages (id, list_id, {', '.join(fields)}) FROM STDIN"
                ) as copy:
                    for message_id, row in zip(ids, rows, strict=True):
                        values = [
                            nul_free(v) if isinstance(v, str) else v
                            for f, v in zip(ROW_FIELDS, row.values, strict=True)
                            if f != "body_text"
                        ]
                        copy.write_row((message_id, list_id, *values))
                with cur.copy(
                    "COPY contents (message_id, raw, body_text, snippet_text) FROM STDIN"
                ) as copy:
                    for message_id, row, text in zip(ids, rows, texts, strict=True):
                        body = row.values[body_at]
                        copy.write_row(
                            (message_id, row.packed, nul_free(str(body)), nul_free(text.body))
                        )
                with cur.copy("COPY search_index (message_id, doc, paired) FROM STDIN") as copy:
                    for message_id, row, text in zip(ids, rows, texts, strict=True):
                        named = dict(zip(ROW_FIELDS, row.values, strict=True))
                        tokens = facets.message_tokens(
                            list_name,
                            int(named["date_utc"]),  # type: ignore[call-overload]
                            bool(named["attachments"]),
                            named["thread_pos"] == 0,
                        )
                        copy.write_row((message_id, pgtext.vector(text, tokens), True))
                num_at, refs_at = ROW_FIELDS.index("num"), ROW_FIELDS.index("refs")
                with cur.copy("COPY message_refs (list_id, ref, num) FROM STDIN") as copy:
                    for row in rows:
                        refs = nul_free(str(row.values[refs_at] or "")) or ""
                        for ref_row in _ref_rows(list_id, int(row.values[num_at]), refs):  # type: ignore[call-overload]
                            copy.write_row(ref_row)
                cur.execute(
                    "UPDATE lists SET next_num = greatest(next_num, %s), duplicates = %s "
                    "WHERE id = %s",
                    (max((r.num for r in rows), default=0) + 1, duplicates, list_id),
                )
                cur.execute(BUMP)
        except psycopg.Error as err:
            raise StoreError(f"cannot store messages: {err}", safe_url(self.url)) from err
