"""The SQLite store: the embedded default. One archive file and one search index file beside
it, WAL mode, versioned migrations.

    schema      both files' migrations, where the index file lives
    health      whether the archive file is whole and holds what the index file recorded
    connection  the two files opened (and checked) together, write transactions over both,
                read snapshots
    writes      adding messages, placing threads, rebuilding the index (also when found
                lost or behind on opening), copying rows in
    reads       summaries, stored messages, raw bytes, rows for copying, counts
    search      FTS5 queries, ranked among the newest matches; whether the index is behind
    oldlinks    an old archive's URLs and what each leads to; notes on messages taken from
                an old archive's own copies
    removal     messages removed whole, and the tombstones they leave

SQLiteStore is the one class the rest of piperarc sees (the Store protocol, store/base.py).
Each module imports only those listed above it; all may import store's base and rows, and
the base (errors, model, mid, facets).
"""

from __future__ import annotations

from pathlib import Path

from piperarc.store.sqlite.oldlinks import OldLinks
from piperarc.store.sqlite.reads import Reads
from piperarc.store.sqlite.removal import Removals
from piperarc.store.sqlite.schema import IN_MEMORY, MIGRATIONS, MOVED_INDEX, index_path
from piperarc.store.sqlite.search import Search
from piperarc.store.sqlite.writes import PARALLEL_INDEX, Writes

__all__ = ["MIGRATIONS", "MOVED_INDEX", "PARALLEL_INDEX", "SQLiteStore", "index_path"]


class SQLiteStore(Writes, Reads, Search, OldLinks, Removals):
    """Store on one SQLite file. Safe for one writer and many readers at once (WAL).

    Opening checks that the archive file is whole (health.py), and, to write, fills a
    search index file found missing or behind before anything else is written."""

    def __init__(self, path: Path, *, readonly: bool = False, busy_timeout: float = 30) -> None:
        super().__init__(path, readonly=readonly, busy_timeout=busy_timeout)
        if readonly or str(path) == IN_MEMORY:
            return
        try:
            self.restore_index()
        except BaseException:
            self.close()
            raise
