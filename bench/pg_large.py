"""Search latency on a large PostgreSQL archive: the 10k linux-man list grown in place to
N copies (200,000 and 1,000,000 messages), p50/p95 over the same 200 queries as
bench/search_latency.py.

    python bench/pg_large.py --schema SCHEMA --sizes 20,100
    python bench/pg_large.py --schema SCHEMA --measure-only     # as it is, no growing

SCHEMA (on PIPERARC_BENCH_PG, default postgresql:///test) must hold the list `lm` imported
once (bench/pg_vs_sqlite.py leaves one with --keep-schema, or `piperarc init --db` +
`piperarc import`). Each copy's rows are made by the database itself (INSERT … SELECT)
with the Message-ID, permalink, digest, numbers and thread made unique to the copy; the
text, and so the search index, is the original's — what importing N rewritten copies
(bench/search_latency.py's way) gives, without hours of parsing on a shared 2-core
machine. The full-text index is dropped while rows are added and built again before each
measurement. This is benchmark scaffolding: the one place outside store/ that writes SQL.

Prints figures, asserts nothing. Target (issue 5): p95 under 100 ms at 1,000,000.
search_latency.queries() breaks ties between equally common words in set order, so the
200 queries change with Python's hash seed: run with PYTHONHASHSEED=0 to compare runs.
"""

from __future__ import annotations

import argparse
import os
import time

import psycopg

from pg_vs_sqlite import LIST, latency, schema_url
from piperarc.store import open_store
from search_latency import queries

PG = os.environ.get("PIPERARC_BENCH_PG", "postgresql:///test")

_COPY = """
INSERT INTO messages (id, list_id, num, key, mid, mid_synthetic, digest, date_utc, tz_offset,
    date_source, from_name, from_addr, subject, subject_base, in_reply_to, refs, attachments,
    damage, size, envelope, archived_at, thread_key, parent_num, depth, thread_pos)
SELECT id + %(shift)s, list_id, num + %(renumber)s, key || %(tag)s, mid || %(tag)s,
    mid_synthetic, encode(sha256(convert_to(digest || %(tag)s, 'UTF8')), 'hex'), date_utc,
    tz_offset, date_source, from_name, from_addr, subject, subject_base, in_reply_to, refs,
    attachments, damage, size, envelope, archived_at, thread_key || %(tag)s,
    parent_num + %(renumber)s, depth, thread_pos
FROM messages WHERE id <= %(base)s;
INSERT INTO contents SELECT message_id + %(shift)s, raw, body_text, snippet_text
FROM contents WHERE message_id <= %(base)s;
INSERT INTO search_index (message_id, doc, paired) SELECT message_id + %(shift)s, doc, paired
FROM search_index WHERE message_id <= %(base)s;
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--schema", required=True)
    parser.add_argument("--sizes", default="20,100", help="copies at which to measure")
    parser.add_argument(
        "--measure-only", action="store_true", help="measure the schema as it is (grown before)"
    )
    parser.add_argument("--runs", type=int, default=1, help="measurements (--measure-only)")
    args = parser.parse_args()
    url = schema_url(args.schema)
    base_store = open_store(url, readonly=True)
    # The queries are drawn from the first copy (the original's subjects and senders).
    first = _first_copy(url)
    summaries = (
        base_store.summaries_by_nums(LIST, range(1, first + 1))
        if first
        else base_store.summaries(LIST)
    )
    base_store.close()
    qs = queries([s.subject for s in summaries], [s.from_name for s in summaries], 200, 5)
    if args.measure_only:
        for _ in range(args.runs):
            measure(url, qs, "")
        return
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT max(id), count(*) FROM messages").fetchone()
        assert row is not None
        base, n = row
        have = 1
        print(f"base: {n} messages (ids up to {base})", flush=True)
        for size in (int(s) for s in args.sizes.split(",")):
            started = time.perf_counter()
            conn.execute("DROP INDEX IF EXISTS search_index_doc")
            for copy in range(have, size):
                params = {"shift": copy * base, "renumber": copy * n, "tag": f".c{copy}"}
                with conn.transaction():
                    for statement in _COPY.split(";")[:3]:
                        conn.execute(statement.encode(), {**params, "base": base})
                if copy % 10 == 9:
                    print(f"  copy {copy + 1}/{size}", flush=True)
            have = size
            conn.execute("UPDATE lists SET next_num = %s", (size * n + 1,))
            conn.execute("SELECT setval('message_ids', %s)", (size * base,))
            grown = time.perf_counter()
            conn.execute("SET maintenance_work_mem = '1GB'")
            conn.execute("CREATE INDEX search_index_doc ON search_index USING GIN (doc)")
            conn.execute("VACUUM ANALYZE")
            indexed = time.perf_counter()
            measure(
                url,
                qs,
                f" (rows added in {grown - started:.0f}s, index built in {indexed - grown:.0f}s)",
            )


def _first_copy(url: str) -> int:
    """The highest number of the original list (0 if not grown yet): copy 1 follows it."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT coalesce(min(num) - 1, 0) FROM messages WHERE key LIKE '%.c1'"
        ).fetchone()
    return int(row[0]) if row else 0


def measure(url: str, qs: list[str], note: str) -> None:
    store = open_store(url, readonly=True)
    try:
        total = store.stats(LIST).messages
        before = os.getloadavg()[0]
        p50, p95 = latency(store, qs)
    finally:
        store.close()
    load = f"load average {before:.2f} before, {os.getloadavg()[0]:.2f} after"
    print(
        f"search postgresql at {total}: p50 {p50:.1f} ms, p95 {p95:.1f} ms ({load}){note}",
        flush=True,
    )


if __name__ == "__main__":
    main()
