"""Storage: one interface, two backends. SQL lives only here.

    base        the Store protocol every backend keeps, the packed fields, per-list counts
    rows        stored rows to Summary and StoredMessage, the same for both backends
    sqlite/     the embedded default: one archive file and its search index file
    postgres/   PostgreSQL, for large sites and several workers
    copy        copying an archive between backends, with the proof nothing was lost

open_store picks the backend from the archive's database setting. May import mail (copy
re-parses for the search index) and the base; nothing here renders or reads a request.
"""

from __future__ import annotations

from pathlib import Path

from piperarc.store.base import AddResult, FieldUpdate, ListStats, Store, pack, unpack
from piperarc.store.sqlite import SQLiteStore

__all__ = [
    "AddResult",
    "FieldUpdate",
    "ListStats",
    "SQLiteStore",
    "Store",
    "database_exists",
    "is_server_url",
    "open_store",
    "pack",
    "unpack",
]


def is_server_url(location: Path | str) -> bool:
    """Whether `location` names a PostgreSQL database (else it is a SQLite file)."""
    return isinstance(location, str) and location.startswith(("postgresql://", "postgres://"))


def database_exists(location: Path | str) -> bool:
    """Whether the archive's database is there to read: a server database always is (the
    store says so when it is not); a SQLite file once something created it."""
    return is_server_url(location) or Path(location).exists()


def open_store(database: Path | str, *, readonly: bool = False, busy_timeout: float = 30) -> Store:
    """Open the archive's database: a postgresql:// URL, or a SQLite file (the default).
    A write waits up to `busy_timeout` seconds for another writer, then fails with
    StoreError."""
    if is_server_url(database):
        # Loaded only here: psycopg is needed by PostgreSQL archives only.
        from piperarc.store.postgres import PostgresStore

        return PostgresStore(str(database), readonly=readonly, busy_timeout=busy_timeout)
    return SQLiteStore(Path(database), readonly=readonly, busy_timeout=busy_timeout)
