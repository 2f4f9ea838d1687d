"""Storage: one interface (base.Store), one module per backend. SQL lives only here."""

from __future__ import annotations

from pathlib import Path

from piperarc.store.base import AddResult, ListStats, Store, pack, unpack
from piperarc.store.sqlite import SQLiteStore

__all__ = [
    "AddResult",
    "ListStats",
    "SQLiteStore",
    "Store",
    "open_store",
    "pack",
    "unpack",
]


def open_store(database: Path, *, readonly: bool = False, busy_timeout: float = 30) -> Store:
    """Open the archive's database (SQLite, the embedded default); a write waits up to
    `busy_timeout` seconds for another writer, then fails with StoreError."""
    return SQLiteStore(database, readonly=readonly, busy_timeout=busy_timeout)
