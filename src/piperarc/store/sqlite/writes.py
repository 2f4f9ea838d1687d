"""The SQLite store's writes: messages added in batches (their search rows written by a
thread of their own meanwhile), threads placed, the search index rebuilt, rows copied in."""

from __future__ import annotations

import queue
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager

from piperarc import facets
from piperarc import mid as midlib
from piperarc.errors import StoreError
from piperarc.mail import parse
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
    unpack,
)
from piperarc.store.sqlite.connection import Connected
from piperarc.store.sqlite.schema import INDEX_COLUMNS, TOMBSTONES_SCHEMA

_INDEX_INSERT = f"INSERT INTO search_index (rowid, {INDEX_COLUMNS}) VALUES (?,?,?,?,?,?,?)"


# A batch at least this large has its search rows written by a thread while its messages
# are stored (both write to SQLite, which lets go of the GIL while it works).
PARALLEL_INDEX = 32


IndexRow = tuple[int, str, str, str, str, str, str]


def _index_row(message_id: int, text: IndexText, facet_tokens: str) -> IndexRow:
    return (
        message_id,
        text.subject,
        text.sender,
        text.body,
        text.quoted,
        text.files,
        facet_tokens,
    )


def _index_text(raw: bytes, envelope: str | None) -> IndexText:
    """What a stored message's index entry holds, as deliver.reindex computes it: from the
    parse, or the raw text when the parser fails (a parser bug must not stop a rebuild)."""
    try:
        parsed = parse.parse(raw, "", envelope)
    except Exception as err:
        parsed = parse.unreadable(raw, "", f"parser failed: {type(err).__name__}: {err}")
    return parse.index_text(parsed)


def _row_id(cursor: sqlite3.Cursor) -> int:
    assert cursor.lastrowid is not None  # an INSERT into a rowid table always has one
    return cursor.lastrowid


class Writes(Connected):
    """Everything that changes the archive."""

    @contextmanager
    def _indexing(self, parallel: bool) -> Iterator[Callable[[IndexRow], None]]:
        """A function that adds one row to the search index: at once, or, `parallel`, by a
        thread that writes the rows while the caller goes on; all are written on exit."""
        if not parallel:

            def write_now(row: IndexRow) -> None:
                self.index.execute(_INDEX_INSERT, row)

            yield write_now
            return
        rows: queue.SimpleQueue[IndexRow | None] = queue.SimpleQueue()
        failed: list[BaseException] = []

        def write() -> None:
            try:
                self.index.executemany(_INDEX_INSERT, iter(rows.get, None))
            except BaseException as err:  # raised in the caller's thread, below
                failed.append(err)

        thread = threading.Thread(target=write, name="piperarc-index", daemon=True)
        thread.start()
        try:
            yield rows.put
        finally:
            rows.put(None)
            thread.join()
        if failed:
            raise failed[0]

    def restore_index(self) -> None:
        """Rebuild the search index file whole from the stored messages when it is missing
        or behind the archive (lost, or an older copy put back): else the next write would
        index only itself, and the older mail would never be found again."""
        if not self._index_behind():
            return
        rows = (
            "SELECT m.id, l.name, m.date_utc, m.attachments, m.thread_pos, m.envelope, c.raw "
            "FROM messages m JOIN lists l ON l.id = m.list_id "
            "JOIN contents c ON c.message_id = m.id ORDER BY m.id"
        )
        with self._write("rebuild the search index"):
            if not self._index_behind():
                return  # another writer rebuilt it while this one waited
            self.index.execute("DELETE FROM search_index")
            with self._indexing(parallel=True) as index:
                for message_id, name, date_utc, attached, pos, envelope, packed in self.db.execute(
                    rows
                ):
                    tokens = facets.message_tokens(name, date_utc, attached > 0, pos == 0)
                    index(_index_row(message_id, _index_text(unpack(packed), envelope), tokens))

    def _index_behind(self) -> bool:
        indexed = self.index.execute("SELECT max(rowid) FROM search_index").fetchone()[0]
        stored = self.db.execute("SELECT max(id) FROM messages").fetchone()[0]
        return bool((indexed or 0) < (stored or 0))

    def ensure_list(self, list_name: str) -> None:
        try:
            self.db.execute("INSERT OR IGNORE INTO lists (name) VALUES (?)", (list_name,))
        except sqlite3.Error as err:
            raise StoreError(f"cannot add the list {list_name!r}: {err}", self.path) from err

    def add_messages(
        self, list_name: str, batch: Sequence[NewMessage], archived_at: int
    ) -> list[AddResult]:
        results: list[AddResult] = []
        db = self.db
        with (
            self._write("store messages"),
            self._indexing(len(batch) >= PARALLEL_INDEX) as index,
        ):
            list_id = self._list_id(list_name)
            next_num = db.execute("SELECT next_num FROM lists WHERE id = ?", (list_id,)).fetchone()[
                0
            ]
            duplicates = 0
            refusals = self._refusals(list_id)
            for new in batch:
                refused = refusals.refuse(new)
                if refused is not None:
                    results.append(refused)
                    continue
                same = db.execute(
                    "SELECT num, key FROM messages WHERE list_id = ? AND digest = ?",
                    (list_id, new.digest),
                ).fetchone()
                if same is not None:
                    duplicates += 1
                    results.append(AddResult("duplicate", same[0], same[1]))
                    continue
                parsed = new.parsed
                key = midlib.url_key(parsed.mid)
                suffix = 1
                base_key = key
                while (
                    key in refusals.keys
                    or db.execute(
                        "SELECT 1 FROM messages WHERE list_id = ? AND key = ?", (list_id, key)
                    ).fetchone()
                ):
                    suffix += 1
                    key = f"{base_key}-{suffix}"
                date_source = parsed.date_source
                date_utc, tz_offset = parsed.date_utc, parsed.tz_offset
                if date_utc is None:
                    date_utc, tz_offset, date_source = archived_at, 0, "archived"
                # Until threading places it (deliver rethreads after the import), a message
                # without references is taken to start a thread: is:root is then right at
                # once, and set_threads rewrites only the few guesses that were wrong.
                predicted_root = not parsed.references
                cursor = db.execute(
                    "INSERT INTO messages (list_id, num, key, mid, mid_synthetic, digest, "
                    "date_utc, tz_offset, date_source, from_name, from_addr, subject, "
                    "subject_base, in_reply_to, refs, attachments, damage, size, envelope, "
                    "archived_at, thread_pos) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        list_id,
                        next_num,
                        key,
                        parsed.mid,
                        parsed.mid_synthetic,
                        new.digest,
                        date_utc,
                        tz_offset or 0,
                        date_source,
                        parsed.from_name,
                        parsed.from_addr,
                        parsed.subject,
                        parsed.subject_base,
                        parsed.in_reply_to,
                        "\n".join(parsed.references),
                        len(parsed.attachments),
                        parsed.damage,
                        len(new.raw),
                        new.envelope,
                        archived_at,
                        0 if predicted_root else 1,
                    ),
                )
                message_id = _row_id(cursor)
                db.execute(
                    "INSERT INTO contents (message_id, raw, body_text) VALUES (?,?,?)",
                    (message_id, new.packed, parsed.body_text),
                )
                index(
                    _index_row(
                        message_id,
                        new.index,
                        facets.message_tokens(
                            list_name, date_utc, bool(parsed.attachments), predicted_root
                        ),
                    )
                )
                db.executemany(
                    "INSERT INTO message_refs (list_id, ref, num) VALUES (?,?,?)",
                    ((list_id, ref, next_num) for ref in dict.fromkeys(parsed.references)),
                )
                results.append(AddResult("new", next_num, key))
                next_num += 1
            db.execute(
                "UPDATE lists SET next_num = ?, duplicates = duplicates + ? WHERE id = ?",
                (next_num, duplicates, list_id),
            )
        return results

    def _refusals(self, list_id: int) -> Refusals:
        """What the list's tombstones refuse (none before schema 7)."""
        if self._schema() < TOMBSTONES_SCHEMA:
            return NO_REFUSALS
        return Refusals.of(
            self.db.execute(
                "SELECT num, key, mid, mid_synthetic, digest FROM tombstones WHERE list_id = ?",
                (list_id,),
            )
        )

    def replace_index(self, list_name: str, texts: Iterable[tuple[int, IndexText]]) -> int:
        list_id = self._list_id(list_name)
        count = 0
        with self._write("rebuild the search index"):
            rows = {
                num: (i, date_utc, attachments, pos == 0)
                for num, i, date_utc, attachments, thread_key, pos in self.db.execute(
                    "SELECT num, id, date_utc, attachments, thread_key, thread_pos "
                    "FROM messages WHERE list_id = ?",
                    (list_id,),
                )
            }
            self.index.executemany(
                "DELETE FROM search_index WHERE rowid = ?", ((row[0],) for row in rows.values())
            )
            with self._indexing(parallel=True) as index:
                for num, text in texts:
                    message_id, date_utc, attachments, is_root = rows[num]
                    index(
                        _index_row(
                            message_id,
                            text,
                            facets.message_tokens(list_name, date_utc, attachments > 0, is_root),
                        )
                    )
                    count += 1
        return count

    def refresh_fields(self, list_name: str, fields: Sequence[FieldUpdate]) -> int:
        list_id = self._list_id(list_name)
        changed = 0
        with self._write("store the fields made again"):
            for f in fields:
                row = self.db.execute(
                    "SELECT m.id FROM messages m JOIN contents c ON c.message_id = m.id "
                    "WHERE m.list_id = ? AND m.num = ? "
                    "AND (m.from_name != ? OR m.from_addr != ? OR c.body_text != ?)",
                    (list_id, f.num, f.from_name, f.from_addr, f.body_text),
                ).fetchone()
                if row is None:
                    continue
                self.db.execute(
                    "UPDATE messages SET from_name = ?, from_addr = ? WHERE id = ?",
                    (f.from_name, f.from_addr, row[0]),
                )
                self.db.execute(
                    "UPDATE contents SET body_text = ? WHERE message_id = ?", (f.body_text, row[0])
                )
                changed += 1
        return changed

    def set_threads(self, list_name: str, placements: Sequence[ThreadPlacement]) -> None:
        list_id = self._list_id(list_name)
        columns = "SELECT num, id, thread_key, thread_pos, date_utc, attachments FROM messages "
        with self._write("store threads"):
            if len(placements) > 2000:
                rows = self.db.execute(columns + "WHERE list_id = ?", (list_id,)).fetchall()
            else:
                # A live delivery places a few messages: read those, not the whole list.
                rows = []
                nums = [p.num for p in placements]
                for start in range(0, len(nums), 500):
                    chunk = nums[start : start + 500]
                    rows += self.db.execute(
                        columns + f"WHERE list_id = ? AND num IN ({','.join('?' * len(chunk))})",
                        (list_id, *chunk),
                    ).fetchall()
            before = {
                num: (message_id, pos == 0, date_utc, attachments > 0)
                for num, message_id, thread_key, pos, date_utc, attachments in rows
            }
            self.db.executemany(
                "UPDATE messages SET thread_key = ?, parent_num = ?, depth = ?, thread_pos = ? "
                "WHERE list_id = ? AND num = ?",
                (
                    (p.thread_key, p.parent_num, p.depth, p.thread_pos, list_id, p.num)
                    for p in placements
                ),
            )
            # is:root lives in the search index: rewrite the facets of messages that
            # started, or stopped starting, a thread.
            changed = []
            for p in placements:
                message_id, was_root, date_utc, attached = before[p.num]
                if was_root != (p.thread_pos == 0):
                    changed.append(
                        (
                            facets.message_tokens(list_name, date_utc, attached, p.thread_pos == 0),
                            message_id,
                        )
                    )
            self.index.executemany("UPDATE search_index SET facets = ? WHERE rowid = ?", changed)

    def import_rows(
        self,
        list_name: str,
        rows: Sequence[ArchivedRow],
        texts: Sequence[IndexText],
        duplicates: int,
    ) -> None:
        db = self.db
        fields = [f for f in ROW_FIELDS if f != "body_text"]
        body_at = ROW_FIELDS.index("body_text")
        with (
            self._write("store messages"),
            self._indexing(len(rows) >= PARALLEL_INDEX) as index,
        ):
            self.ensure_list(list_name)
            list_id = self._list_id(list_name)
            for row, text in zip(rows, texts, strict=True):
                values = dict(zip(ROW_FIELDS, row.values, strict=True))
                cursor = db.execute(
                    f"INSERT INTO messages (list_id, {', '.join(fields)}) "
                    f"VALUES ({', '.join('?' * (len(fields) + 1))})",
                    (list_id, *(values[f] for f in fields)),
                )
                message_id = _row_id(cursor)
                db.execute(
                    "INSERT INTO contents (message_id, raw, body_text) VALUES (?,?,?)",
                    (message_id, row.packed, row.values[body_at]),
                )
                index(
                    _index_row(
                        message_id,
                        text,
                        facets.message_tokens(
                            list_name,
                            int(values["date_utc"]),  # type: ignore[call-overload]
                            bool(values["attachments"]),
                            values["thread_pos"] == 0,
                        ),
                    )
                )
                # Live delivery finds who references a Message-ID here (migration 3).
                db.executemany(
                    "INSERT INTO message_refs (list_id, ref, num) VALUES (?,?,?)",
                    (
                        (list_id, ref, values["num"])
                        for ref in dict.fromkeys(rowlib.refs(str(values["refs"] or "")))
                    ),
                )
            db.execute(
                "UPDATE lists SET next_num = max(next_num, ?), duplicates = ? WHERE id = ?",
                (max((r.num for r in rows), default=0) + 1, duplicates, list_id),
            )
