"""The PostgreSQL store: for sites with many lists, many messages and several workers.

psycopg 3 with a small connection pool (psycopg_pool), so that the web server's threads
share it. Every write is one transaction. Numbers are handed out under a row lock on the
list (SELECT … FOR UPDATE), so importers running at once on the same list take turns per
batch: no number is given twice or skipped, and the duplicate check sees every commit
before it. Unique constraints on (list, num), (list, key) and (list, digest) hold even if
that reasoning were wrong. Full-text search: one tsvector per message (store/pgtext.py).

Live delivery: writing() and reading() hold one pooled connection (per thread) for their
block, and every store call inside uses it; writing() also takes an advisory lock, so
live writers take turns as on SQLite, and a writer waits at most busy_timeout (as the
server's lock_timeout) for any lock before StoreError.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool, PoolTimeout

from piperarc import facets
from piperarc import mid as midlib
from piperarc.errors import NotFoundError, QueryError, StoreError
from piperarc.model import (
    IndexText,
    NewMessage,
    SearchHit,
    SearchQuery,
    StoredMessage,
    Summary,
    ThreadPlacement,
)
from piperarc.store import pgtext
from piperarc.store import rows as rowlib
from piperarc.store.base import ROW_FIELDS, AddResult, ArchivedRow, ListStats, unpack

# Each entry upgrades the schema by one version (table schema_version). Never edit a
# released entry: append a new one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE lists (
        id SERIAL PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        next_num INTEGER NOT NULL DEFAULT 1,
        duplicates INTEGER NOT NULL DEFAULT 0      -- identical copies skipped, ever
    );
    CREATE SEQUENCE message_ids;
    CREATE TABLE messages (
        id BIGINT PRIMARY KEY DEFAULT nextval('message_ids'),
        list_id INTEGER NOT NULL REFERENCES lists(id),
        num INTEGER NOT NULL,                      -- fixed at first archiving
        key TEXT NOT NULL,                         -- URL key, fixed at first archiving
        mid TEXT NOT NULL,
        mid_synthetic BOOLEAN NOT NULL,
        digest TEXT NOT NULL,                      -- sha256 of raw (CRLF as LF)
        date_utc BIGINT NOT NULL,
        tz_offset INTEGER NOT NULL,
        date_source TEXT NOT NULL,
        from_name TEXT NOT NULL,
        from_addr TEXT NOT NULL,
        subject TEXT NOT NULL,
        subject_base TEXT NOT NULL,
        in_reply_to TEXT,
        refs TEXT NOT NULL,
        attachments INTEGER NOT NULL,
        damage TEXT,
        size INTEGER NOT NULL,
        envelope TEXT,
        archived_at BIGINT NOT NULL,
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
        message_id BIGINT PRIMARY KEY REFERENCES messages(id),
        raw BYTEA NOT NULL,                        -- zlib-compressed original bytes
        body_text TEXT NOT NULL,
        snippet_text TEXT NOT NULL DEFAULT ''      -- the indexed own lines, for snippets
    );
    -- Rows kept narrow (the vector goes to TOAST): counting matches reads few pages.
    CREATE TABLE search_index (
        message_id BIGINT PRIMARY KEY REFERENCES messages(id),
        doc TSVECTOR NOT NULL
    ) WITH (toast_tuple_target = 128);
    -- Out of line and uncompressed: the row stays ~40 bytes (a scan of 1,000,000 is a few
    -- thousand pages) and ranking reads vectors without inflating them.
    ALTER TABLE search_index ALTER COLUMN doc SET STORAGE EXTERNAL;
    CREATE INDEX search_index_doc ON search_index USING GIN (doc);
    -- Moves on every write: the web app's cache key (as SQLite's PRAGMA data_version).
    CREATE TABLE data_version (
        one INTEGER PRIMARY KEY CHECK (one = 1),
        version BIGINT NOT NULL
    );
    INSERT INTO data_version VALUES (1, 1);
    """,
    # 2: live delivery threads one message against the few it touches, not the whole list:
    # who references a Message-ID, which threads share a subject, and the newest messages
    # and thread starters (homes, feeds, date neighbours), all found by index.
    """
    CREATE TABLE message_refs (
        list_id INTEGER NOT NULL REFERENCES lists(id),
        ref TEXT NOT NULL,                         -- a Message-ID the message references
        num INTEGER NOT NULL
    );
    INSERT INTO message_refs (list_id, ref, num)
        SELECT DISTINCT m.list_id, r.ref, m.num
        FROM messages m, unnest(string_to_array(m.refs, E'\\n')) AS r(ref)
        WHERE m.refs <> '' AND r.ref <> '';
    -- Hash indexes on mail's own text: a btree row holds at most ~2700 bytes, and hostile
    -- mail brings longer Message-IDs and subjects; these lookups are all equality.
    CREATE INDEX message_refs_by_ref ON message_refs USING hash (ref);
    CREATE INDEX messages_by_subject ON messages USING hash (subject_base)
        WHERE thread_pos = 0;
    DROP INDEX messages_by_mid;
    CREATE INDEX messages_by_mid ON messages USING hash (mid);
    -- (date, num): the date order every page uses, so a neighbour or the newest few are
    -- one index seek.
    DROP INDEX messages_by_date;
    CREATE INDEX messages_by_date ON messages (list_id, date_utc, num);
    CREATE INDEX messages_starters ON messages (list_id, date_utc, num) WHERE thread_pos = 0;
    """,
    # 3: search asks the planner how many messages a query matches (to choose how to find
    # the newest matches, and whether to count them): ANALYZE keeps the frequencies of the
    # 10,000 most common words rather than 1,000 (a word in 2% of a million messages was
    # missing, and estimated at 5,000).
    """
    ALTER TABLE search_index ALTER COLUMN doc SET STATISTICS 1000;
    """,
    # 4: vectors hold each two adjacent words as a pair lexeme (pgtext), so a phrase is
    # narrowed down by the GIN index. Vectors written before have none: a search asks for
    # pairs only while no unpaired vector is left (`piperarc reindex` rewrites them; new
    # mail comes paired). No rewrite here: that is a parse of every message.
    """
    ALTER TABLE search_index ADD COLUMN paired BOOLEAN NOT NULL DEFAULT false;
    CREATE INDEX search_index_unpaired ON search_index (message_id) WHERE NOT paired;
    """,
)

PAIRED_SCHEMA = 4  # the schema version from which vectors can hold word pairs

# Any number: held while a process upgrades the schema, so two do not both try.
_MIGRATION_LOCK = 0x70697065

RANK_WINDOW = 1000  # as in the SQLite store: rank among the most recent matches only
# Matches are counted exactly up to about this many (by the planner's estimate), and in an
# index of up to EXACT_ARCHIVE messages always; beyond, the total is that estimate
# (counting 700,000 matches reads 700,000 heap rows; 10,000 took 50-200 ms).
EXACT_UP_TO = 2_000
EXACT_ARCHIVE = 50_000
# A query the planner expects in at least this share of the messages: its window is found
# by reading the newest vectors in id order (the GIN index would hand over every match).
SCAN_SHARE = 0.2
RANGE_GROWTH = 4  # how much older each range of ids a window is looked for in (_window)
# Per search (transaction): no JIT (it compiles for longer than these queries run), room
# for exact bitmaps, no parallel workers, and never a sequential scan of the vectors.
_SEARCH_SETTINGS = (
    "SELECT set_config('jit', 'off', true), set_config('work_mem', '64MB', true), "
    "set_config('max_parallel_workers_per_gather', '0', true), "
    "set_config('enable_seqscan', 'off', true)"
)
# Which way a window is found: through the GIN index (a bitmap, optionally ANDed with a
# range of ids), or by walking the newest ids in order.
_USE_INDEX = (
    "SELECT set_config('enable_indexscan', 'off', true), "
    "set_config('enable_bitmapscan', 'on', true)"
)
_USE_ANY = (
    "SELECT set_config('enable_indexscan', 'on', true), set_config('enable_bitmapscan', 'on', true)"
)
_USE_ORDER = (
    "SELECT set_config('enable_indexscan', 'on', true), "
    "set_config('enable_bitmapscan', 'off', true)"
)

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
# Any number but _MIGRATION_LOCK: held by writing() until commit, so live writers (a
# delivery, the LMTP server, the Mailman archiver) take turns as on SQLite.
_WRITE_LOCK = 0x70697066
# Per schema: archives in other schemas of the same database do not wait for this one.
_WRITE_LOCKING = "SELECT pg_advisory_xact_lock(%s, hashtext(current_schema()))"
SMALL = 2000  # set_threads: placements passed as arrays up to this many, else COPY


def _text(value: str | None) -> str | None:
    """PostgreSQL text cannot hold NUL: broken mail's stray NULs become U+FFFD in the
    derived fields (the raw bytes, in bytea, keep them)."""
    if value is None or "\x00" not in value:
        return value
    return value.replace("\x00", "\ufffd")


def _ref_rows(list_id: int, num: int, refs: str) -> Iterator[tuple[int, str, int]]:
    """message_refs rows of one message: each Message-ID its references name, once."""
    for ref in dict.fromkeys(rowlib.refs(refs)):
        if ref:
            yield list_id, ref, num


class PostgresStore:
    """Store on a PostgreSQL database named by a postgresql:// URL."""

    def __init__(
        self, url: str, *, readonly: bool = False, pool_size: int = 4, busy_timeout: float = 30
    ) -> None:
        self.url = url
        self.readonly = readonly
        # lock_timeout 0 would mean "wait forever": at least a millisecond.
        self.busy_ms = max(1, round(busy_timeout * 1000))
        self._list_ids: dict[str, int] = {}
        self.exact_up_to, self.exact_archive = EXACT_UP_TO, EXACT_ARCHIVE
        # The connection a writing() or reading() block holds, per thread: the web server's
        # threads share this store, each block its own connection.
        self._held = threading.local()
        self.schema_version = 0  # as _migrate found or left it
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
                self._migrate(conn, readonly)
        except psycopg.Error as err:
            raise StoreError(f"cannot open the database: {err}".strip(), _safe(url)) from err
        self.pool = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            kwargs={"autocommit": True},
            configure=self._configure,
            open=True,
            name="piperarc",
            timeout=max(busy_timeout, 1),
        )
        try:
            self.pool.wait(timeout=10)
        except PoolTimeout as err:
            self.pool.close()
            raise StoreError("cannot connect to the database", _safe(url)) from err

    def _configure(self, conn: psycopg.Connection[Any]) -> None:
        if self.readonly:
            # build and serve only read: the server refuses any write from them.
            conn.execute("SET default_transaction_read_only = on")
        # A writer waits this long for another's lock (the list's row, writing()'s lock),
        # then fails with StoreError (live delivery: exit 75, the MTA retries).
        conn.execute(f"SET lock_timeout = {self.busy_ms}".encode())

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        """The connection a writing()/reading() block of this thread holds, else one from
        the pool for this call."""
        held: psycopg.Connection[Any] | None = getattr(self._held, "conn", None)
        if held is not None:
            yield held
            return
        with self.pool.connection() as conn:
            yield conn

    @contextmanager
    def writing(self) -> Iterator[None]:
        """One write transaction around several calls on one connection (reads inside see no
        other live writer: they wait for its lock); committed at the end, rolled back on any
        error. StoreError if another writer holds the archive longer than busy_timeout."""
        if getattr(self._held, "conn", None) is not None:
            raise StoreError("a transaction is already open", _safe(self.url))
        try:
            with self.pool.connection() as conn:
                self._held.conn = conn
                try:
                    with conn.transaction():
                        conn.execute(_WRITE_LOCKING, (_WRITE_LOCK,))
                        try:
                            yield
                        except BaseException:
                            self._list_ids.clear()  # a list added here is rolled back
                            raise
                finally:
                    self._held.conn = None
        except psycopg.Error as err:
            self._list_ids.clear()
            raise StoreError(f"cannot write: {err}".strip(), _safe(self.url)) from err

    @contextmanager
    def reading(self) -> Iterator[None]:
        """One snapshot (REPEATABLE READ) around several reads on one connection: no commit
        from elsewhere shows midway. Inside writing(), that transaction is the snapshot."""
        if getattr(self._held, "conn", None) is not None:
            yield
            return
        try:
            with self.pool.connection() as conn:
                self._held.conn = conn
                try:
                    with conn.transaction():
                        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                        yield
                finally:
                    self._held.conn = None
        except psycopg.Error as err:
            raise StoreError(f"cannot read: {err}".strip(), _safe(self.url)) from err

    def _migrate(self, conn: psycopg.Connection[Any], readonly: bool) -> None:
        known = len(MIGRATIONS)
        with conn.transaction():
            if not readonly:
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            exists = conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()
            if exists and exists[0]:
                row = conn.execute("SELECT version FROM schema_version").fetchone()
                version = row[0] if row else 0
            elif readonly:
                raise StoreError(
                    "the database holds no archive yet: create it with piperarc init DIR --db URL",
                    _safe(self.url),
                )
            else:
                conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
                conn.execute("INSERT INTO schema_version VALUES (0)")
                version = 0
            if version > known:
                raise StoreError(
                    f"the database is at schema version {version}, newer than this piperarc "
                    f"knows ({known}): upgrade piperarc",
                    _safe(self.url),
                )
            self.schema_version = version
            if readonly or version == known:
                return
            for number in range(version, known):
                conn.execute(MIGRATIONS[number].encode())
            conn.execute("UPDATE schema_version SET version = %s", (known,))
            self.schema_version = known

    def close(self) -> None:
        self.pool.close()

    def _list_id(self, cur: psycopg.Cursor[Any], list_name: str) -> int:
        found = self._list_ids.get(list_name)
        if found is None:
            row = cur.execute("SELECT id FROM lists WHERE name = %s", (list_name,)).fetchone()
            if row is None:
                raise NotFoundError(f"the list {list_name!r} has no messages yet")
            found = self._list_ids[list_name] = row[0]
        return found

    def _one(self, query: str, params: Sequence[Any] = ()) -> Any:
        try:
            with self._connection() as conn:
                return conn.execute(query.encode(), params).fetchone()
        except psycopg.Error as err:
            raise StoreError(f"cannot read: {err}", _safe(self.url)) from err

    def _all(self, query: str, params: Sequence[Any] = ()) -> list[Any]:
        try:
            with self._connection() as conn:
                return conn.execute(query.encode(), params).fetchall()
        except psycopg.Error as err:
            raise StoreError(f"cannot read: {err}", _safe(self.url)) from err

    def _id_of(self, list_name: str) -> int:
        found = self._list_ids.get(list_name)
        if found is None:
            row = self._one("SELECT id FROM lists WHERE name = %s", (list_name,))
            if row is None:
                raise NotFoundError(f"the list {list_name!r} has no messages yet")
            found = self._list_ids[list_name] = int(row[0])
        return found

    # -- writes --
    def ensure_list(self, list_name: str) -> None:
        try:
            with self._connection() as conn, conn.transaction():
                added = conn.execute(
                    "INSERT INTO lists (name) VALUES (%s) ON CONFLICT (name) DO NOTHING",
                    (list_name,),
                )
                if added.rowcount:
                    conn.execute(_BUMP)
        except psycopg.Error as err:
            raise StoreError(f"cannot add the list {list_name!r}: {err}", _safe(self.url)) from err

    def add_messages(
        self, list_name: str, batch: Sequence[NewMessage], archived_at: int
    ) -> list[AddResult]:
        try:
            with self._connection() as conn, conn.transaction():
                return self._add(conn, list_name, batch, archived_at)
        except psycopg.Error as err:
            raise StoreError(f"cannot store messages: {err}", _safe(self.url)) from err

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
        base_keys = {midlib.url_key(new.parsed.mid) for new in batch}
        taken = {
            key
            for (key,) in cur.execute(
                "SELECT key FROM messages WHERE list_id = %s AND key = ANY(%s)",
                (list_id, list(base_keys)),
            )
        }

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
                    _text(parsed.mid),
                    parsed.mid_synthetic,
                    new.digest,
                    date_utc,
                    tz_offset or 0,
                    date_source,
                    _text(parsed.from_name),
                    _text(parsed.from_addr),
                    _text(parsed.subject),
                    _text(parsed.subject_base),
                    _text(parsed.in_reply_to),
                    _text("\n".join(parsed.references)),
                    len(parsed.attachments),
                    _text(parsed.damage),
                    len(new.raw),
                    _text(new.envelope),
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
                        (message_id, new.packed, _text(new.parsed.body_text), _text(new.index.body))
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
        cur.execute(_BUMP)
        return results

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
                        snippets.append((_text(text.body), message_id))
                        count += 1
                cur.executemany(
                    "UPDATE contents SET snippet_text = %s WHERE message_id = %s", snippets
                )
                cur.execute(_BUMP)
        except psycopg.Error as err:
            raise StoreError(f"cannot rebuild the search index: {err}", _safe(self.url)) from err
        return count

    def set_threads(self, list_name: str, placements: Sequence[ThreadPlacement]) -> None:
        try:
            with self._connection() as conn, conn.transaction():
                cur = conn.cursor()
                list_id = self._list_id(cur, list_name)
                # As writing(): a full rethread and a live delivery never interleave.
                cur.execute(_WRITE_LOCKING, (_WRITE_LOCK,))
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
                                (p.num, _text(p.thread_key), p.parent_num, p.depth, p.thread_pos)
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
                        [_text(p.thread_key) for p in placements],
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
                cur.execute(_BUMP)
        except psycopg.Error as err:
            raise StoreError(f"cannot store threads: {err}", _safe(self.url)) from err

    # -- search --
    def search(
        self, query: SearchQuery, *, by_date: bool, limit: int, offset: int
    ) -> tuple[int, list[SearchHit], bool]:
        if not query.groups:  # asks for nothing (match_query would be "")
            return 0, [], True
        ranking = pgtext.rank_query(query)
        try:
            with self._connection() as conn, conn.transaction():
                conn.execute(_SEARCH_SETTINGS)
                match = pgtext.match_query(query, pairs=self._all_paired(conn))
                window, count, exact = self._window(conn, match)
                conn.execute(_USE_ANY)
                if by_date or not ranking:
                    order = sql.SQL("m.date_utc DESC, s.message_id DESC")
                    order_args: list[object] = []
                else:
                    order = sql.SQL(
                        "ts_rank_cd(%s::float4[], s.doc, %s::tsquery, %s) DESC, m.date_utc DESC, "
                        "s.message_id DESC"
                    )
                    order_args = [pgtext.RANK_WEIGHTS, ranking, pgtext.RANK_NORMALIZATION]
                # The page's ids first (ranking reads the window's vectors and dates), then
                # its rows: the texts for snippets are read for this page only.
                ids = [
                    row[0]
                    for row in conn.execute(
                        sql.SQL(
                            "SELECT s.message_id FROM search_index s "
                            "JOIN messages m ON m.id = s.message_id "
                            "WHERE s.message_id = ANY(%s) ORDER BY {} LIMIT %s OFFSET %s"
                        ).format(order),
                        [window, *order_args, limit, offset],
                    )
                ]
                found = {
                    row[0]: row[1:]
                    for row in conn.execute(
                        "SELECT m.id, l.name, m.num, m.key, m.mid, m.subject, m.from_name, "
                        "m.from_addr, m.date_utc, m.tz_offset, c.snippet_text "
                        "FROM messages m JOIN lists l ON l.id = m.list_id "
                        "JOIN contents c ON c.message_id = m.id WHERE m.id = ANY(%s)",
                        (ids,),
                    )
                }
                rows = [found[i] for i in ids if i in found]
        except psycopg.errors.SyntaxError as err:
            raise QueryError(f"cannot search for that: {err}") from err
        except psycopg.Error as err:
            raise StoreError(f"cannot search: {err}", _safe(self.url)) from err
        hits = [
            SearchHit(
                list_name=r[0],
                num=r[1],
                key=r[2],
                mid=r[3],
                subject=r[4],
                from_name=r[5],
                from_addr=r[6],
                date_utc=r[7],
                tz_offset=r[8],
                snippet=" ".join(pgtext.snippet(r[9], query).split()),
            )
            for r in rows
        ]
        return count, hits, exact

    def index_warning(self) -> str | None:
        if self.schema_version < PAIRED_SCHEMA:
            return None
        row = self._one("SELECT count(*) FROM search_index WHERE NOT paired")
        if not row or not row[0]:
            return None
        return (
            f"{row[0]} messages were indexed before word pairs: phrase searches are slow "
            "until `piperarc reindex`"
        )

    def _all_paired(self, conn: psycopg.Connection[Any]) -> bool:
        """Whether every vector holds its word pairs. A store opened on a schema from
        before pairs never asks (the column may be missing) until it is opened again."""
        if self.schema_version < PAIRED_SCHEMA:
            return False
        row = conn.execute("SELECT EXISTS (SELECT 1 FROM search_index WHERE NOT paired)").fetchone()
        return not (row and row[0])

    def _window(self, conn: psycopg.Connection[Any], match: str) -> tuple[list[int], int, bool]:
        """The ids of the RANK_WINDOW most recent matches (newest first), the number of
        matches and whether that number is exact.

        The planner's estimate of the matches (from ANALYZE's word statistics) picks the
        way: up to exact_up_to (or in a small archive), every match is found through the
        GIN index and counted;
        beyond, only the newest messages are looked at and the total is the estimate.
        A word in most messages is found by reading the newest vectors one by one (the
        index would hand over every match); a rarer one by the index, limited to a range
        of the newest ids that grows until the window is full."""
        estimate, rows, newest = _search_stats(conn, match)
        if estimate <= self.exact_up_to or rows <= self.exact_archive or newest is None:
            conn.execute(_USE_INDEX)
            found = conn.execute(
                "SELECT message_id, count(*) OVER () FROM search_index "
                "WHERE doc @@ %s::tsquery ORDER BY message_id DESC LIMIT %s",
                (match, RANK_WINDOW),
            ).fetchall()
            return [r[0] for r in found], int(found[0][1]) if found else 0, True
        share = min(1.0, estimate / max(rows, 1))
        span = int(RANK_WINDOW / share * 2) + 1
        ids: list[int] = []
        high = newest + 1  # ids below it are still to look at
        if share >= SCAN_SHARE:
            conn.execute(_USE_ORDER)
            ids = [
                r[0]
                for r in conn.execute(
                    "SELECT message_id FROM (SELECT message_id, doc FROM search_index "
                    "ORDER BY message_id DESC LIMIT %s) n WHERE doc @@ %s::tsquery LIMIT %s",
                    (span, match, RANK_WINDOW),
                )
            ]
            if len(ids) == RANK_WINDOW:
                return ids, max(estimate, RANK_WINDOW), False
            row = conn.execute(
                "SELECT message_id FROM search_index ORDER BY message_id DESC OFFSET %s LIMIT 1",
                (span,),
            ).fetchone()
            if row is None:  # every message was looked at
                return ids, len(ids), True
            high = row[0] + 1
        conn.execute(_USE_INDEX)
        # The newest `span` ids first (the index's matches ANDed with that range), then,
        # while the window is not full, ranges of older ids, each GROWTH times the last.
        # The estimate can be far too high (a phrase is estimated as if its words could be
        # anywhere in a message), and every match the index hands over in a range is
        # checked against its vector: the whole rest at once could be 20,000 checks.
        while True:
            low = max(high - span, 0)
            ids += [
                r[0]
                for r in conn.execute(
                    "SELECT message_id FROM search_index WHERE doc @@ %s::tsquery "
                    "AND message_id >= %s AND message_id < %s ORDER BY message_id DESC LIMIT %s",
                    (match, low, high, RANK_WINDOW - len(ids)),
                )
            ]
            if len(ids) == RANK_WINDOW:
                return ids, max(estimate, RANK_WINDOW), False
            if low == 0:
                return ids, len(ids), True  # every message was looked at
            high, span = low, span * RANGE_GROWTH

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
        wanted = list(dict.fromkeys(_text(m) for m in mids))
        return self._summaries(list_name, "mid = ANY(%s) ORDER BY num", (wanted,))

    def summaries_referencing(self, list_name: str, mids: Iterable[str]) -> list[Summary]:
        wanted = list(dict.fromkeys(_text(m) for m in mids))
        return self._summaries(
            list_name,
            "num IN (SELECT r.num FROM message_refs r WHERE r.list_id = messages.list_id "
            "AND r.ref = ANY(%s)) ORDER BY num",
            (wanted,),
        )

    def summaries_in_threads(self, list_name: str, thread_keys: Iterable[str]) -> list[Summary]:
        wanted = list(dict.fromkeys(_text(k) for k in thread_keys))
        return self._summaries(
            list_name, "thread_key = ANY(%s) ORDER BY thread_key, thread_pos", (wanted,)
        )

    def thread_starters_by_subject(
        self, list_name: str, subject_bases: Iterable[str]
    ) -> list[Summary]:
        wanted = [s for s in dict.fromkeys(_text(b) for b in subject_bases) if s]
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
            (self._id_of(list_name), _text(mid)),
        )
        return [rowlib.stored(list_name, row) for row in rows]

    def thread_messages(self, list_name: str, thread_key: str) -> list[tuple[StoredMessage, bytes]]:
        rows = self._all(
            f"SELECT {rowlib.STORED_COLUMNS}, c.raw FROM messages m "
            "JOIN contents c ON c.message_id = m.id "
            "WHERE m.list_id = %s AND m.thread_key = %s ORDER BY m.thread_pos",
            (self._id_of(list_name), _text(thread_key)),
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
                raise StoreError(f"cannot read: {err}", _safe(self.url)) from err
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
                            _text(v) if isinstance(v, str) else v
                            for f, v in zip(ROW_FIELDS, row.values, strict=True)
                            if f != "body_text"
                        ]
                        copy.write_row((message_id, list_id, *values))
                with cur.copy(
                    "COPY contents (message_id, raw, body_text, snippet_text) FROM STDIN"
                ) as copy:
                    for message_id, row, text in zip(ids, rows, texts, strict=True):
                        body = row.values[body_at]
                        copy.write_row((message_id, row.packed, _text(str(body)), _text(text.body)))
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
                        refs = _text(str(row.values[refs_at] or "")) or ""
                        for ref_row in _ref_rows(list_id, int(row.values[num_at]), refs):  # type: ignore[call-overload]
                            copy.write_row(ref_row)
                cur.execute(
                    "UPDATE lists SET next_num = greatest(next_num, %s), duplicates = %s "
                    "WHERE id = %s",
                    (max((r.num for r in rows), default=0) + 1, duplicates, list_id),
                )
                cur.execute(_BUMP)
        except psycopg.Error as err:
            raise StoreError(f"cannot store messages: {err}", _safe(self.url)) from err

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


_BUMP = "UPDATE data_version SET version = version + 1"


def _search_stats(conn: psycopg.Connection[Any], match: str) -> tuple[int, int, int | None]:
    """The planner's estimate of the messages matching, its estimate of all messages in
    the index (ANALYZE's; 0 before the first), and the newest id (None when empty)."""
    plan = conn.execute(
        "EXPLAIN (FORMAT JSON) SELECT 1 FROM search_index WHERE doc @@ %s::tsquery", (match,)
    ).fetchone()
    row = conn.execute(
        "SELECT greatest(reltuples, 0)::bigint, (SELECT max(message_id) FROM search_index) "
        "FROM pg_class WHERE oid = 'search_index'::regclass"
    ).fetchone()
    estimate = int(plan[0][0]["Plan"]["Plan Rows"]) if plan else 0
    return (estimate, int(row[0]), row[1]) if row else (estimate, 0, None)


def _safe(url: str) -> str:
    """The URL as errors show it: without a password."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.Error:
        return "the PostgreSQL database"
    if "password" in info:
        info["password"] = "***"
    host = info.get("host", "")
    return f"postgresql://{host}/{info.get('dbname', '')}"
