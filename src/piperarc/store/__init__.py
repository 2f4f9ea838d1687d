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


def open_store(database: Path, *, readonly: bool = False) -> Store:
    """Open the archive's database (SQLite, the embedded default)."""
    return SQLiteStore(database, readonly=readonly)
