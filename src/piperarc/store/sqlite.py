"""The SQLite store: the embedded default. One file, WAL mode, versioned migrations."""

from __future__ import annotations

import queue
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from piperarc import facets
from piperarc import mid as midlib
from piperarc.errors import NotFoundError, QueryError, StoreError
from piperarc.model import (
    MARK_END,
    MARK_START,
    IndexText,
    NewMessage,
    SearchHit,
    SearchQuery,
    SearchTerm,
    StoredMessage,
    Summary,
    ThreadPlacement,
)
from piperarc.store import rows as rowlib
from piperarc.store.base import ROW_FIELDS, AddResult, ArchivedRow, ListStats, unpack

# Each entry upgrades the schema by one version (PRAGMA user_version). Never edit a released
# entry: append a new one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE lists (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        next_num INTEGER NOT NULL DEFAULT 1,
        duplicates INTEGER NOT NULL DEFAULT 0      -- identical copies skipped, ever
    );
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        list_id INTEGER NOT NULL REFERENCES lists(id),
        num INTEGER NOT NULL,                      -- fixed at first archiving
        key TEXT NOT NULL,                         -- URL key, fixed at first archiving
        mid TEXT NOT NULL,
        mid_synthetic INTEGER NOT NULL,
        digest TEXT NOT NULL,                      -- sha256 of raw (CRLF as LF)
        date_utc INTEGER NOT NULL,
        tz_offset INTEGER NOT NULL,
        date_source TEXT NOT NULL,                 -- date, envelope or archived
        from_name TEXT NOT NULL,
        from_addr TEXT NOT NULL,
        subject TEXT NOT NULL,
        subject_base TEXT NOT NULL,
        in_reply_to TEXT,
        refs TEXT NOT NULL,                        -- Message-IDs, oldest first, one per line
        attachments INTEGER NOT NULL,
        damage TEXT,
        size INTEGER NOT NULL,
        envelope TEXT,
        archived_at INTEGER NOT NULL,
        thread_key TEXT NOT NULL DEFAULT '',
        parent_num INTEGER,
        depth INTEGER NOT NULL DEFAULT 0,
        thread_pos INTEGER NOT NULL DEFAULT 0,
        UNIQUE (list_id, num),
        UNIQUE (list_id, key),
        UNIQUE (list_id, digest)
    );
    CREATE INDEX messages_by_mid ON messages (list_id, mid);
    CREATE INDEX messages_by_date ON messages (list_id, date_utc);
    CREATE INDEX messages_by_thread ON messages (list_id, thread_key, thread_pos);
    CREATE TABLE contents (
        message_id INTEGER PRIMARY KEY REFERENCES messages(id),
        raw BLOB NOT NULL,                         -- zlib-compressed original bytes
        body_text TEXT NOT NULL
    );
    """,
    # 2: full-text search (FTS5). rowid = messages.id. Columns are weighted at query time;
    # existing messages are indexed from their stored fields (`piperarc reindex` refines).
    """
    -- `facets` holds facets.message_tokens (list, day, month, year, attachments).
    CREATE VIRTUAL TABLE search_index USING fts5(
        subject, sender, body, quoted, files, facets,
        tokenize = 'unicode61 remove_diacritics 2',
        prefix = '2 3 4'  -- word* searches stay fast at 200,000 messages (p95 31 ms vs 58)
    );
    """,
    # 3: live delivery threads one message against the few it touches, not the whole list:
    # who references a Message-ID, and which threads share a subject, found by index.
    """
    CREATE TABLE message_refs (
        list_id INTEGER NOT NULL REFERENCES lists(id),
        ref TEXT NOT NULL,                         -- a Message-ID the message references
        num INTEGER NOT NULL
    );
    CREATE INDEX message_refs_by_ref ON message_refs (list_id, ref);
    WITH RECURSIVE split(list_id, num, ref, rest) AS (
        SELECT list_id, num, '', refs || char(10) FROM messages WHERE refs != ''
        UNION ALL
        SELECT list_id, num, substr(rest, 1, instr(rest, char(10)) - 1),
               substr(rest, instr(rest, char(10)) + 1)
        FROM split WHERE rest != ''
    )
    INSERT INTO message_refs (list_id, ref, num)
        SELECT list_id, ref, num FROM split WHERE ref != '';
    CREATE INDEX messages_by_subject ON messages (list_id, subject_base);
    """,
    # 4: thread starters by date: a list's thread count and its newest threads (the
    # homes and feeds a live delivery rewrites) without reading every message.
    """
    CREATE INDEX messages_starters ON messages (list_id, date_utc) WHERE thread_pos = 0;
    """,
    # 5: the search index moves to a file of its own (INDEX_MIGRATIONS), written by a
    # thread of its own while the messages are stored: SQLite has one writer per file, and
    # indexing took a third of an import. SQLiteStore._move_index copies the rows first.
    """
    DROP TABLE search_index;
    """,
)
MOVED_INDEX = 5  # the schema version whose migration drops the index from the archive file

# The search index file (index_path), versioned apart from the archive file. Its rowid is
# the archive's messages.id; it is committed before the archive file, so a crash between
# the two commits leaves rows for messages that do not exist (rowid above every message),
# which the next write deletes: a stored message is never without its index entry.
INDEX_MIGRATIONS: tuple[str, ...] = (
    """
    -- `facets` holds facets.message_tokens (list, day, month, year, attachments).
    CREATE VIRTUAL TABLE search_index USING fts5(
        subject, sender, body, quoted, files, facets,
        tokenize = 'unicode61 remove_diacritics 2',
        prefix = '2 3 4'  -- word* searches stay fast at 200,000 messages (p95 31 ms vs 58)
    );
    """,
)
_INDEX_COLUMNS = "subject, sender, body, quoted, files, facets"
_INDEX_INSERT = f"INSERT INTO search_index (rowid, {_INDEX_COLUMNS}) VALUES (?,?,?,?,?,?,?)"
# A batch at least this large has its search rows written by a thread while its messages
# are stored (both write to SQLite, which lets go of the GIL while it works).
PARALLEL_INDEX = 32
IndexRow = tuple[int, str, str, str, str, str, str]
_IN_MEMORY = ":memory:"  # SQLite's name for a database that only this connection sees


def index_path(database: Path) -> Path:
    """The search index file beside the archive file `database` (in memory beside one
    in memory)."""
    if str(database) == _IN_MEMORY:
        return database
    return database.with_name(f"{database.stem}-search{database.suffix}")


def _uri(path: Path, mode: str) -> str:
    return f"{path.resolve().as_uri()}?mode={mode}"


# bm25 weights of subject, sender, body, quoted, files: a word in the subject counts most,
# one in quoted text least.
_RANK = "bm25(search_index, 10.0, 4.0, 1.0, 0.2, 2.0, 0.0)"
# A query matching more than this many messages is ranked (or sorted by date) among its
# most recently archived matches only: ranking reads every position of every matched word
# (a common word in long patches is costly), so this bounds the time a search can take at
# any archive size. Narrowing the query (d:, l:, s:) reaches the older ones.
RANK_WINDOW = 1000
_HIT_COLUMNS = (
    "(SELECT name FROM lists WHERE id = m.list_id), m.num, m.key, m.mid, m.subject, "
    "m.from_name, m.from_addr, m.date_utc, m.tz_offset"
)


_FTS_COLUMNS = {
    "subject": "subject",
    "sender": "sender",
    "body": "{body quoted}",
    "facets": "facets",
    None: "{subject sender body quoted files}",
}


def _migrate(
    db: sqlite3.Connection,
    migrations: Sequence[str],
    path: Path,
    before: dict[int, Callable[[], None]] | None = None,
) -> None:
    """Bring the file's schema up to date; `before[n]` runs before migration n (1-based)."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > len(migrations):
        raise StoreError(
            f"the database is at schema version {version}, newer than this piperarc "
            f"knows ({len(migrations)}): upgrade piperarc",
            path,
        )
    for number in range(version, len(migrations)):
        if before and number + 1 in before:
            before[number + 1]()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executescript(f"{migrations[number]}; PRAGMA user_version={number + 1};")
        except sqlite3.Error:
            db.execute("ROLLBACK")
            raise
        if db.in_transaction:
            db.execute("COMMIT")


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


def _row_id(cursor: sqlite3.Cursor) -> int:
    assert cursor.lastrowid is not None  # an INSERT into a rowid table always has one
    return cursor.lastrowid


def _fts_term(term: SearchTerm) -> str:
    """A term as an FTS5 expression: always a quoted string, so no user text is syntax."""
    expr = '"' + term.text.replace('"', '""') + '"' + (" *" if term.prefix else "")
    return f"{_FTS_COLUMNS[term.field]} : {expr}"


def _hit(row: Any) -> SearchHit:
    return SearchHit(
        list_name=row[0],
        num=row[1],
        key=row[2],
        mid=row[3],
        subject=row[4],
        from_name=row[5],
        from_addr=row[6],
        date_utc=row[7],
        tz_offset=row[8],
        snippet=" ".join(str(row[9]).split()),
    )


class SQLiteStore:
    """Store on one SQLite file. Safe for one writer and many readers at once (WAL)."""

    def __init__(self, path: Path, *, readonly: bool = False, busy_timeout: float = 30) -> None:
        self.path = path
        self.index_path = index_path(path)
        self._search_db: sqlite3.Connection | None = None
        self._index_attached = True
        try:
            if readonly:
                self.db = sqlite3.connect(
                    _uri(path, "ro"), uri=True, isolation_level=None, check_same_thread=False
                )
                # Else an archive not yet upgraded (schema < 5), or an index file lost.
                self._index_attached = self.index_path.exists()
                if self._index_attached:
                    self.db.execute("ATTACH DATABASE ? AS search", (_uri(self.index_path, "ro"),))
                self._search_db = self.db
            else:
                self.index = sqlite3.connect(
                    self.index_path,
                    isolation_level=None,
                    timeout=busy_timeout,
                    check_same_thread=False,  # written by the indexing thread too
                )
                self.db = sqlite3.connect(path, isolation_level=None, timeout=busy_timeout)
                for db in (self.index, self.db):
                    db.execute("PRAGMA journal_mode=WAL")
                    db.execute("PRAGMA synchronous=FULL")
                _migrate(self.index, INDEX_MIGRATIONS, self.index_path)
                _migrate(self.db, MIGRATIONS, path, before={MOVED_INDEX: self._move_index})
            self.db.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as err:
            raise StoreError(f"cannot open the database: {err}", path) from err
        self._list_ids: dict[str, int] = {}

    def _move_index(self) -> None:
        """Copy the search index of an archive from before schema 5 into the index file
        (its migration then drops it from the archive file). Run again after a crash, it
        copies again."""
        if self.db.execute("SELECT 1 FROM main.search_index LIMIT 1").fetchone() is None:
            return  # nothing to move (a new archive goes through every migration)
        self.db.execute("ATTACH DATABASE ? AS moving", (str(self.index_path),))
        try:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute("DELETE FROM moving.search_index")
            self.db.execute(
                f"INSERT INTO moving.search_index (rowid, {_INDEX_COLUMNS}) "
                f"SELECT rowid, {_INDEX_COLUMNS} FROM main.search_index"
            )
            self.db.execute("COMMIT")
        except BaseException:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise
        finally:
            self.db.execute("DETACH DATABASE moving")

    def close(self) -> None:
        if self._search_db is not None and self._search_db is not self.db:
            self._search_db.close()
        if not self._readonly():
            self.index.close()
        self.db.close()

    def _readonly(self) -> bool:
        return self._search_db is self.db

    def _searching(self) -> sqlite3.Connection:
        """A connection that sees the messages and their index together (read only)."""
        if str(self.path) == _IN_MEMORY:
            raise StoreError("an archive kept in memory cannot be searched", self.path)
        if not self._index_attached and self._schema() >= MOVED_INDEX:
            raise StoreError(
                f"cannot search: the search index file {self.index_path.name} is missing "
                "(run `piperarc reindex`)",
                self.path,
            )
        if self._search_db is None:
            db = sqlite3.connect(
                _uri(self.path, "ro"), uri=True, isolation_level=None, check_same_thread=False
            )
            db.execute("ATTACH DATABASE ? AS search", (_uri(self.index_path, "ro"),))
            self._search_db = db
        return self._search_db

    def _schema(self) -> int:
        return int(self.db.execute("PRAGMA main.user_version").fetchone()[0])

    def index_warning(self) -> str | None:
        if str(self.path) == _IN_MEMORY:
            return None
        if self._schema() < MOVED_INDEX:
            return None  # the index is still inside the archive file
        name, fix = self.index_path.name, "search misses messages until `piperarc reindex`"
        if not self.index_path.exists():
            return f"the search index file {name} is missing: {fix}"
        try:
            db = self._searching()
            # Rows are message ids, written before the messages: never behind but on loss.
            indexed = db.execute(
                "SELECT rowid FROM search.search_index ORDER BY rowid DESC LIMIT 1"
            ).fetchone()
            stored = db.execute("SELECT max(id) FROM main.messages").fetchone()
        except (sqlite3.Error, StoreError) as err:
            return f"the search index file {name} cannot be read ({err}): {fix}"
        if (indexed[0] if indexed else 0) < (stored[0] or 0):
            return f"the search index file {name} is behind the archive (an older copy?): {fix}"
        return None

    # -- transactions: the archive file's lock first, then the index file's; the index
    # commits first (see INDEX_MIGRATIONS) --
    def _begin(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.index.execute("BEGIN IMMEDIATE")
            top = self.db.execute("SELECT max(id) FROM messages").fetchone()[0] or 0
            self.index.execute("DELETE FROM search_index WHERE rowid > ?", (top,))
        except BaseException:
            self._rollback()
            raise

    def _commit(self) -> None:
        self.index.execute("COMMIT")
        self.db.execute("COMMIT")

    def _rollback(self) -> None:
        for db in (self.index, self.db):
            if db.in_transaction:
                db.execute("ROLLBACK")

    @contextmanager
    def _write(self, what: str) -> Iterator[None]:
        """One write transaction on both files, unless writing() holds one (its caller
        commits); an SQLite error becomes StoreError("cannot {what}")."""
        own = not self.db.in_transaction
        try:
            if own:
                self._begin()
            yield
            if own:
                self._commit()
        except sqlite3.Error as err:
            if own:
                self._rollback()
            raise StoreError(f"cannot {what}: {err}", self.path) from err
        except BaseException:
            if own:
                self._rollback()
            raise

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

    def _list_id(self, list_name: str) -> int:
        found = self._list_ids.get(list_name)
        if found is None:
            row = self.db.execute("SELECT id FROM lists WHERE name = ?", (list_name,)).fetchone()
            if row is None:
                raise NotFoundError(f"the list {list_name!r} has no messages yet")
            found = self._list_ids[list_name] = row[0]
        return found

    # -- writes --
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
            for new in batch:
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
                while db.execute(
                    "SELECT 1 FROM messages WHERE list_id = ? AND key = ?", (list_id, key)
                ).fetchone():
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

    def search(
        self, query: SearchQuery, *, by_date: bool, limit: int, offset: int
    ) -> tuple[int, list[SearchHit], bool]:
        match = " AND ".join(
            "(" + " OR ".join(_fts_term(t) for t in group) + ")" for group in query.groups
        )
        if not match:
            return 0, [], True
        if query.excluded:
            match = f"({match}) NOT ({' OR '.join(_fts_term(t) for t in query.excluded)})"
        db = self._searching()
        try:
            # Everything a query asks is in the index (facets included), so counting and
            # the window never touch the messages table.
            total = db.execute(
                "SELECT count(*) FROM search_index WHERE search_index MATCH ?", (match,)
            ).fetchone()[0]
            window = ""
            args: list[object] = [match]
            if total > RANK_WINDOW:
                cutoff = db.execute(
                    "SELECT rowid FROM search_index WHERE search_index MATCH ? "
                    "ORDER BY rowid DESC LIMIT 1 OFFSET ?",
                    (match, RANK_WINDOW - 1),
                ).fetchone()
                if cutoff is not None:
                    window = " AND search_index.rowid >= ?"
                    args.append(cutoff[0])
            order = "m.date_utc + 0 DESC" if by_date else f"{_RANK}, m.date_utc DESC"
            ids = [
                row[0]
                for row in db.execute(
                    "SELECT m.id FROM search_index JOIN messages m ON m.id = search_index.rowid "
                    f"WHERE search_index MATCH ?{window} ORDER BY {order} LIMIT ? OFFSET ?",
                    [*args, limit, offset],
                )
            ]
            if not ids:
                return total, [], True
            # Snippets for this page only, found by rowid (SQLite would otherwise make one
            # for every match before sorting).
            # From the text (column 2): the subject is on the result already; a text
            # without the words still shows its start.
            snippet = f"snippet(search_index, 2, '{MARK_START}', '{MARK_END}', '…', 24)"
            found = {
                row[0]: row[1:]
                for row in db.execute(
                    f"SELECT m.id, {_HIT_COLUMNS}, {snippet} FROM search_index "
                    "JOIN messages m ON m.id = search_index.rowid WHERE search_index MATCH ? "
                    f"AND search_index.rowid IN ({','.join('?' * len(ids))})",
                    [match, *ids],
                )
            }
        except sqlite3.OperationalError as err:
            if "fts5" in str(err) or "syntax" in str(err):
                raise QueryError(f"cannot search for that: {err}") from err
            raise StoreError(f"cannot search: {err}", self.path) from err
        return total, [_hit(found[i]) for i in ids if i in found], True

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

    @contextmanager
    def writing(self) -> Iterator[None]:
        """One write transaction around several calls (reads inside see no other writer);
        committed durably at the end, rolled back on any error."""
        if self.db.in_transaction:
            raise StoreError("a write transaction is already open", self.path)
        try:
            self._begin()
        except sqlite3.Error as err:
            raise StoreError(f"cannot start writing: {err}", self.path) from err
        try:
            yield
        except BaseException:
            self._rollback()
            raise
        try:
            self._commit()
        except sqlite3.Error as err:
            self._rollback()
            raise StoreError(f"cannot commit: {err}", self.path) from err

    @contextmanager
    def reading(self) -> Iterator[None]:
        """One snapshot around several reads: no commit from elsewhere shows midway."""
        if self.db.in_transaction:
            yield
            return
        self.db.execute("BEGIN")
        try:
            yield
        finally:
            if self.db.in_transaction:
                self.db.execute("COMMIT")

    # -- reads --
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
