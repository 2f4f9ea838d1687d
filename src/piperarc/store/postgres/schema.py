"""The PostgreSQL store's schema: its migrations, one version each (Connected._migrate
applies them under an advisory lock)."""

from __future__ import annotations

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
    # 5: what each list holds, recorded as it grows by a trigger (so every way in counts):
    # opening compares it with the messages (Connected._check_whole), and a schema restored
    # in part or emptied behind piperarc's back is refused, not read as an empty archive.
    # A row per list: importers into different lists never wait on one row. Safe to run
    # again over itself (a schema put back to an older version by hand keeps its record).
    """
    CREATE TABLE IF NOT EXISTS archive_record (
        list_id INTEGER PRIMARY KEY REFERENCES lists(id),
        messages BIGINT NOT NULL,
        last_num INTEGER NOT NULL
    );
    INSERT INTO archive_record (list_id, messages, last_num)
        SELECT list_id, count(*), max(num) FROM messages GROUP BY list_id
        ON CONFLICT (list_id) DO NOTHING;
    CREATE OR REPLACE FUNCTION piperarc_record_messages() RETURNS trigger LANGUAGE plpgsql
        SET search_path FROM CURRENT AS $$
    BEGIN
        INSERT INTO archive_record AS r (list_id, messages, last_num)
            SELECT list_id, count(*), max(num) FROM added GROUP BY list_id
        ON CONFLICT (list_id) DO UPDATE SET messages = r.messages + excluded.messages,
            last_num = greatest(r.last_num, excluded.last_num);
        RETURN NULL;
    END
    $$;
    DROP TRIGGER IF EXISTS messages_recorded ON messages;
    CREATE TRIGGER messages_recorded AFTER INSERT ON messages
        REFERENCING NEW TABLE AS added
        FOR EACH STATEMENT EXECUTE FUNCTION piperarc_record_messages();
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
        mid_synthetic BOOLEAN NOT NULL,
        digest TEXT NOT NULL,                      -- sha256 of the raw bytes (CRLF as LF)
        date_utc BIGINT NOT NULL,
        thread_key TEXT NOT NULL,                  -- its place in its thread, as it was
        parent_num INTEGER,
        depth INTEGER NOT NULL,
        thread_pos INTEGER NOT NULL,
        reason TEXT NOT NULL,
        removed_by TEXT NOT NULL,
        removed_at BIGINT NOT NULL,
        legal BOOLEAN NOT NULL,
        message_id BIGINT NOT NULL,                -- its row's id in messages, as it was
        PRIMARY KEY (list_id, num)
    );
    CREATE UNIQUE INDEX IF NOT EXISTS tombstones_by_key ON tombstones (list_id, key);
    CREATE INDEX IF NOT EXISTS tombstones_by_mid ON tombstones (list_id, mid);
    CREATE INDEX IF NOT EXISTS tombstones_by_digest ON tombstones (list_id, digest);
    """,
)


PAIRED_SCHEMA = 4  # the schema version from which vectors can hold word pairs


RECORD_SCHEMA = 5  # the schema version from which the archive records what it holds


OLD_LINKS_SCHEMA = 6  # the schema version from which an old archive's URLs are kept


TOMBSTONES_SCHEMA = 7  # the schema version from which removed messages leave tombstones


# The tables by the schema version that brought them: all must be there (_check_whole).
TABLES = (
    (1, "lists"),
    (1, "messages"),
    (1, "contents"),
    (1, "search_index"),
    (1, "data_version"),
    (2, "message_refs"),
    (RECORD_SCHEMA, "archive_record"),
    (OLD_LINKS_SCHEMA, "old_links"),
    (OLD_LINKS_SCHEMA, "message_origins"),
    (TOMBSTONES_SCHEMA, "tombstones"),
)


# Any number: held while a process upgrades the schema, so two do not both try.
MIGRATION_LOCK = 0x70697065
