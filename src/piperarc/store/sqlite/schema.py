"""The SQLite store's schema: the archive file's and the search index file's migrations,
where the index file lives, and how a file is brought up to date."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

from piperarc.errors import StoreError

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
    # 6: an old archive's URLs (Pipermail, MHonArc, Hypermail) and what each shows now, so
    # that every link into the old archive still leads to its message; and, for messages
    # taken from the old archive's own copies, what the old tool changed in them. Safe to
    # run again over itself (a schema put back to an older version by hand keeps its rows).
    """
    CREATE TABLE IF NOT EXISTS old_links (
        path TEXT PRIMARY KEY,                     -- from the server's root: /pipermail/x/...
        list_id INTEGER NOT NULL REFERENCES lists(id),
        kind TEXT NOT NULL,                        -- message, attachment, period, download, home
        num INTEGER,                               -- the message it leads to, or places its period
        detail TEXT NOT NULL DEFAULT ''            -- attachment: N-NAME; period: the view
    );
    CREATE INDEX IF NOT EXISTS old_links_by_num ON old_links (list_id, num);
    CREATE TABLE IF NOT EXISTS message_origins (
        list_id INTEGER NOT NULL REFERENCES lists(id),
        num INTEGER NOT NULL,
        note TEXT NOT NULL,
        PRIMARY KEY (list_id, num)
    );
    """,
    # 7: tombstones of removed messages (`piperarc remove`): what is kept of each, so that
    # its permalink says it was removed and nothing brings it back. Safe to run again.
    """
    CREATE TABLE IF NOT EXISTS tombstones (
        list_id INTEGER NOT NULL REFERENCES lists(id),
        num INTEGER NOT NULL,                      -- the removed message's number, and its
        key TEXT NOT NULL,                         -- URL key: both stay taken
        mid TEXT NOT NULL,
        mid_synthetic INTEGER NOT NULL,
        digest TEXT NOT NULL,                      -- sha256 of the raw bytes (CRLF as LF)
        date_utc BIGINT NOT NULL,
        thread_key TEXT NOT NULL,                  -- its place in its thread, as it was
        parent_num INTEGER,
        depth INTEGER NOT NULL,
        thread_pos INTEGER NOT NULL,
        reason TEXT NOT NULL,
        removed_by TEXT NOT NULL,
        removed_at BIGINT NOT NULL,
        legal INTEGER NOT NULL,
        message_id BIGINT NOT NULL,                -- its row's id in messages, as it was
        PRIMARY KEY (list_id, num)
    );
    CREATE UNIQUE INDEX IF NOT EXISTS tombstones_by_key ON tombstones (list_id, key);
    CREATE INDEX IF NOT EXISTS tombstones_by_mid ON tombstones (list_id, mid);
    CREATE INDEX IF NOT EXISTS tombstones_by_digest ON tombstones (list_id, digest);
    """,
)


TOMBSTONES_SCHEMA = 7  # the schema version from which removed messages leave tombstones


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
    # 2: how many messages the archive file held as each write transaction began (health.py):
    # kept apart from it, so that a truncated archive file or a lost WAL cannot fake it.
    """
    CREATE TABLE archive_record (
        one INTEGER PRIMARY KEY CHECK (one = 1),
        messages INTEGER NOT NULL
    );
    """,
)


INDEX_COLUMNS = "subject, sender, body, quoted, files, facets"


IN_MEMORY = ":memory:"  # SQLite's name for a database that only this connection sees


def index_path(database: Path) -> Path:
    """The search index file beside the archive file `database` (in memory beside one
    in memory)."""
    if str(database) == IN_MEMORY:
        return database
    return database.with_name(f"{database.stem}-search{database.suffix}")


def file_uri(path: Path, mode: str) -> str:
    return f"{path.resolve().as_uri()}?mode={mode}"


def migrate(
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
