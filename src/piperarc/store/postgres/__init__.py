"""The PostgreSQL store: for sites with many lists, many messages and several workers.

psycopg 3 with a small connection pool (psycopg_pool), so that the web server's threads
share it. Every write is one transaction. Numbers are handed out under a row lock on the
list (SELECT … FOR UPDATE), so importers running at once on the same list take turns per
batch: no number is given twice or skipped, and the duplicate check sees every commit
before it. Unique constraints on (list, num), (list, key) and (list, digest) hold even if
that reasoning were wrong. Full-text search: one tsvector per message (text.py).

Live delivery: writing() and reading() hold one pooled connection (per thread) for their
block, and every store call inside uses it; writing() also takes an advisory lock, so
live writers take turns as on SQLite, and a writer waits at most busy_timeout (as the
server's lock_timeout) for any lock before StoreError.

    schema      the migrations, one version each
    text        what a message's tsvector and a query's tsquery hold, snippets
    connection  the pool, the schema brought up to date, transactions, one-query helpers
    writes      adding messages, placing threads, rebuilding vectors, copying rows in
    reads       summaries, stored messages, raw bytes, rows for copying, counts
    search      tsquery over the vectors, the newest window, exact or estimated totals
    oldlinks    an old archive's URLs and what each leads to; notes on messages taken from
                an old archive's own copies
    removal     messages removed whole, and the tombstones they leave

PostgresStore is the one class the rest of piperarc sees (the Store protocol, store/base.py).
Each module imports only those listed above it; all may import store's base and rows, and
the base (errors, model, mid, facets).
"""

from __future__ import annotations

from piperarc.store.postgres.oldlinks import OldLinks
from piperarc.store.postgres.reads import Reads
from piperarc.store.postgres.removal import Removals
from piperarc.store.postgres.schema import MIGRATIONS
from piperarc.store.postgres.search import EXACT_ARCHIVE, EXACT_UP_TO, RANK_WINDOW, Search
from piperarc.store.postgres.writes import Writes

__all__ = ["EXACT_ARCHIVE", "EXACT_UP_TO", "MIGRATIONS", "RANK_WINDOW", "PostgresStore"]


class PostgresStore(Writes, Reads, Search, OldLinks, Removals):
    """Store on a PostgreSQL database named by a postgresql:// URL."""
