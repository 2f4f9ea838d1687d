"""The SQLite store's connections and transactions: the archive file and its search index
file opened (and migrated) together, one write transaction over both, read snapshots. The
concerns (writes.py, reads.py, search.py) extend Connected."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from piperarc.errors import DamagedArchiveError, NotFoundError, StoreError
from piperarc.store.sqlite.health import (
    WRITE_RECORD,
    check_contents,
    check_file,
    check_index_file,
    create_whole,
    read_record,
)
from piperarc.store.sqlite.schema import (
    IN_MEMORY,
    INDEX_COLUMNS,
    INDEX_MIGRATIONS,
    MIGRATIONS,
    MOVED_INDEX,
    file_uri,
    index_path,
    migrate,
)


class Connected:
    """One SQLite file and its search index file, open; safe for one writer and many
    readers at once (WAL)."""

    def __init__(self, path: Path, *, readonly: bool = False, busy_timeout: float = 30) -> None:
        self.path = path
        self.index_path = index_path(path)
        self._search_db: sqlite3.Connection | None = None
        self._index_attached = True
        self._list_ids: dict[str, int] = {}
        on_disk = str(path) != IN_MEMORY
        try:
            if on_disk:
                check_file(path)
                check_index_file(self.index_path)
            if readonly:
                self._open_to_read(on_disk)
            else:
                if on_disk and not path.exists():
                    create_whole(path, self._make_archive)
                self._open_to_write(busy_timeout, on_disk)
            self.db.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as err:
            self._close_quietly()
            if type(err) is sqlite3.DatabaseError:  # SQLITE_CORRUPT or NOTADB, not busy
                raise DamagedArchiveError(f"cannot be read: {err}", path) from err
            raise StoreError(f"cannot open the database: {err}", path) from err
        except BaseException:
            self._close_quietly()
            raise

    def _open_to_read(self, on_disk: bool) -> None:
        path = self.path
        self.db = sqlite3.connect(
            file_uri(path, "ro"), uri=True, isolation_level=None, check_same_thread=False
        )
        # Else an archive not yet upgraded (schema < 5), or an index file lost.
        self._index_attached = self.index_path.exists()
        recorded = None
        if self._index_attached:
            self.db.execute("ATTACH DATABASE ? AS search", (file_uri(self.index_path, "ro"),))
            recorded = read_record(self.db, "search", self.index_path)
        self._search_db = self.db
        if on_disk:
            # The record first, the archive after: a write committing between the two
            # reads can only make the archive hold more than the record says.
            check_contents(self.db, path, recorded, self.index_path.name)

    def _open_to_write(self, busy_timeout: float, on_disk: bool) -> None:
        path = self.path
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
        migrate(self.index, INDEX_MIGRATIONS, self.index_path)
        if on_disk:
            recorded = read_record(self.index, "main", self.index_path)
            check_contents(self.db, path, recorded, self.index_path.name)
        migrate(self.db, MIGRATIONS, path, before={MOVED_INDEX: self._move_index})

    def _make_archive(self, db: sqlite3.Connection) -> None:
        """A new archive file's settings and schema (health.create_whole links it in)."""
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        migrate(db, MIGRATIONS, self.path)  # a new archive has no index to move

    def _close_quietly(self) -> None:
        """Close what a failed open had opened."""
        for name in ("index", "db"):
            db = getattr(self, name, None)
            if isinstance(db, sqlite3.Connection):
                db.close()

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
                f"INSERT INTO moving.search_index (rowid, {INDEX_COLUMNS}) "
                f"SELECT rowid, {INDEX_COLUMNS} FROM main.search_index"
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
        if str(self.path) == IN_MEMORY:
            raise StoreError("an archive kept in memory cannot be searched", self.path)
        if not self._index_attached and self._schema() >= MOVED_INDEX:
            raise StoreError(
                f"cannot search: the search index file {self.index_path.name} is missing "
                "(run `piperarc reindex`)",
                self.path,
            )
        if self._search_db is None:
            db = sqlite3.connect(
                file_uri(self.path, "ro"), uri=True, isolation_level=None, check_same_thread=False
            )
            db.execute("ATTACH DATABASE ? AS search", (file_uri(self.index_path, "ro"),))
            self._search_db = db
        return self._search_db

    def _schema(self) -> int:
        return int(self.db.execute("PRAGMA main.user_version").fetchone()[0])

    # -- transactions: the archive file's lock first, then the index file's; the index
    # commits first (see INDEX_MIGRATIONS) --
    def _begin(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.index.execute("BEGIN IMMEDIATE")
            top = self.db.execute("SELECT max(id) FROM messages").fetchone()[0] or 0
            self.index.execute("DELETE FROM search_index WHERE rowid > ?", (top,))
            # What the archive holds as this begins (committed, so never more than the
            # archive file has, even if this transaction dies between its two commits).
            self.index.execute(WRITE_RECORD, (top,))
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

    def _list_id(self, list_name: str) -> int:
        found = self._list_ids.get(list_name)
        if found is None:
            row = self.db.execute("SELECT id FROM lists WHERE name = ?", (list_name,)).fetchone()
            if row is None:
                raise NotFoundError(f"the list {list_name!r} has no messages yet")
            found = self._list_ids[list_name] = row[0]
        return found
