"""The PostgreSQL store's connections and transactions: the pool, the schema brought up to
date, the connection a writing() or reading() block holds (per thread), the write lock that
makes live writers take turns, and the one-query helpers. The concerns (writes.py, reads.py,
search.py) extend Connected."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from piperarc.errors import DamagedArchiveError, NotFoundError, StoreError
from piperarc.store.postgres.schema import (
    MIGRATION_LOCK,
    MIGRATIONS,
    RECORD_SCHEMA,
    TABLES,
    TOMBSTONES_SCHEMA,
)

# Any number but MIGRATION_LOCK: held by writing() until commit, so live writers (a
# delivery, the LMTP server, the Mailman archiver) take turns as on SQLite.
WRITE_LOCK = 0x70697066


# Per schema: archives in other schemas of the same database do not wait for this one.
WRITE_LOCKING = "SELECT pg_advisory_xact_lock(%s, hashtext(current_schema()))"


BUMP = "UPDATE data_version SET version = version + 1"


def nul_free(value: str | None) -> str | None:
    """PostgreSQL text cannot hold NUL: broken mail's stray NULs become U+FFFD in the
    derived fields (the raw bytes, in bytea, keep them)."""
    if value is None or "\x00" not in value:
        return value
    return value.replace("\x00", "\ufffd")


def safe_url(url: str) -> str:
    """The URL as errors show it: without a password."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.Error:
        return "the PostgreSQL database"
    if "password" in info:
        info["password"] = "***"
    host = info.get("host", "")
    return f"postgresql://{host}/{info.get('dbname', '')}"


class Connected:
    """A PostgreSQL database named by a postgresql:// URL, open through a small pool."""

    def __init__(
        self, url: str, *, readonly: bool = False, pool_size: int = 4, busy_timeout: float = 30
    ) -> None:
        self.url = url
        self.readonly = readonly
        # lock_timeout 0 would mean "wait forever": at least a millisecond.
        self.busy_ms = max(1, round(busy_timeout * 1000))
        self._list_ids: dict[str, int] = {}
        # The connection a writing() or reading() block holds, per thread: the web server's
        # threads share this store, each block its own connection.
        self._held = threading.local()
        self.schema_version = 0  # as _migrate found or left it
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
                self._migrate(conn, readonly)
        except psycopg.Error as err:
            raise StoreError(f"cannot open the database: {err}".strip(), safe_url(url)) from err
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
            raise StoreError("cannot connect to the database", safe_url(url)) from err

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
            raise StoreError("a transaction is already open", safe_url(self.url))
        try:
            with self.pool.connection() as conn:
                self._held.conn = conn
                try:
                    with conn.transaction():
                        conn.execute(WRITE_LOCKING, (WRITE_LOCK,))
                        try:
                            yield
                        except BaseException:
                            self._list_ids.clear()  # a list added here is rolled back
                            raise
                finally:
                    self._held.conn = None
        except psycopg.Error as err:
            self._list_ids.clear()
            raise StoreError(f"cannot write: {err}".strip(), safe_url(self.url)) from err

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
            raise StoreError(f"cannot read: {err}".strip(), safe_url(self.url)) from err

    def _migrate(self, conn: psycopg.Connection[Any], readonly: bool) -> None:
        known = len(MIGRATIONS)
        with conn.transaction():
            if not readonly:
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            exists = conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()
            if exists and exists[0]:
                row = conn.execute("SELECT version FROM schema_version").fetchone()
                version = row[0] if row else 0
            elif self._has_tables(conn):
                raise DamagedArchiveError(
                    "table schema_version is missing beside the archive's tables (a schema "
                    "restored in part?)",
                    safe_url(self.url),
                )
            elif readonly:
                raise StoreError(
                    "the database holds no archive yet: create it with piperarc init DIR --db URL",
                    safe_url(self.url),
                )
            else:
                conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
                conn.execute("INSERT INTO schema_version VALUES (0)")
                version = 0
            if version > known:
                raise StoreError(
                    f"the database is at schema version {version}, newer than this piperarc "
                    f"knows ({known}): upgrade piperarc",
                    safe_url(self.url),
                )
            self.schema_version = version
            self._check_whole(conn, version)
            if readonly or version == known:
                return
            for number in range(version, known):
                conn.execute(MIGRATIONS[number].encode())
            conn.execute("UPDATE schema_version SET version = %s", (known,))
            self.schema_version = known

    @staticmethod
    def _has_tables(conn: psycopg.Connection[Any]) -> bool:
        row = conn.execute("SELECT to_regclass('messages') IS NOT NULL").fetchone()
        return bool(row and row[0])

    def _check_whole(self, conn: psycopg.Connection[Any], version: int) -> None:
        """Refuse a schema with a table missing for its version, or a list holding fewer
        messages than the archive recorded (schema 5's trigger): a partial restore, tables
        emptied by hand. Reads an index entry per list, never the messages."""
        wanted = [table for since, table in TABLES if version >= since]
        missing = conn.execute(
            "SELECT t FROM unnest(%s::text[]) AS t WHERE to_regclass(t) IS NULL", (wanted,)
        ).fetchall()
        if missing:
            raise DamagedArchiveError(
                f"table {', '.join(row[0] for row in missing)} is missing "
                f"(schema version {version})",
                safe_url(self.url),
            )
        if version < RECORD_SCHEMA:
            return
        # A removed message's number stays held by its tombstone (schema 7).
        held = "coalesce((SELECT max(num) FROM messages m WHERE m.list_id = r.list_id), 0)"
        if version >= TOMBSTONES_SCHEMA:
            held = (
                f"greatest({held}, coalesce("
                "(SELECT max(num) FROM tombstones t WHERE t.list_id = r.list_id), 0))"
            )
        short = conn.execute(
            f"SELECT l.name, r.last_num, r.messages, {held} AS held "
            "FROM archive_record r JOIN lists l ON l.id = r.list_id "
            f"WHERE r.last_num > {held} ORDER BY l.name LIMIT 1"
        ).fetchone()
        if short is not None:
            name, last, recorded, held = short
            raise DamagedArchiveError(
                f"holds fewer messages than it recorded: list {name!r} ends at number {held} "
                f"where {recorded} messages up to number {last} were recorded (a partial "
                "restore, or tables emptied by hand)",
                safe_url(self.url),
            )

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
            raise StoreError(f"cannot read: {err}", safe_url(self.url)) from err

    def _all(self, query: str, params: Sequence[Any] = ()) -> list[Any]:
        try:
            with self._connection() as conn:
                return conn.execute(query.encode(), params).fetchall()
        except psycopg.Error as err:
            raise StoreError(f"cannot read: {err}", safe_url(self.url)) from err

    def _id_of(self, list_name: str) -> int:
        found = self._list_ids.get(list_name)
        if found is None:
            row = self._one("SELECT id FROM lists WHERE name = %s", (list_name,))
            if row is None:
                raise NotFoundError(f"the list {list_name!r} has no messages yet")
            found = self._list_ids[list_name] = int(row[0])
        return found
