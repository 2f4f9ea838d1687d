"""The SQLite store: the embedded default. One archive file and one search index file beside
it, WAL mode, versioned migrations.

    schema      both files' migrations, where the index file lives
    connection  the two files opened together, write transactions over both, read snapshots
    writes      adding messages, placing threads, rebuilding the index, copying rows in
    reads       summaries, stored messages, raw bytes, rows for copying, counts
    search      FTS5 queries, ranked among the newest matches; whether the index is behind

SQLiteStore is the one class the rest of piperarc sees (the Store protocol, store/base.py).
Each module imports only those listed above it; all may import store's base and rows, and
the base (errors, model, mid, facets).
"""

from __future__ import annotations

from piperarc.store.sqlite.reads import Reads
from piperarc.store.sqlite.schema import MIGRATIONS, MOVED_INDEX, index_path
from piperarc.store.sqlite.search import Search
from piperarc.store.sqlite.writes import PARALLEL_INDEX, Writes

__all__ = ["MIGRATIONS", "MOVED_INDEX", "PARALLEL_INDEX", "SQLiteStore", "index_path"]


class SQLiteStore(Writes, Reads, Search):
    """Store on one SQLite file. Safe for one writer and many readers at once (WAL)."""
