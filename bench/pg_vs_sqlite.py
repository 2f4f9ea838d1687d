"""PostgreSQL against SQLite: import rate on the 10k list (median of runs), and search
latency (p50/p95 over 200 varied queries) at 10k on both and on a large PostgreSQL
archive (the list copied N times with rewritten Message-IDs).

    python bench/pg_vs_sqlite.py                      # import x3 each, search at 10k
    python bench/pg_vs_sqlite.py --copies 100         # ... and at 1,000,000 on PostgreSQL
    python bench/pg_vs_sqlite.py --skip-import --copies 20 --keep-schema big20

PIPERARC_BENCH_PG (default postgresql:///test) names the server; each archive gets a schema
of its own there (dropped at the end unless --keep-schema names the large one).

The large archive is made through the store's own copy path (Store.import_rows, what
`piperarc migrate` uses) rather than by parsing the mbox N times: the 10k list is imported
once, then its rows are stored N-1 more times with the Message-ID, permalink, digest and
thread of each copy made unique. Search indexes words, never Message-IDs, so the index is
the one that importing N rewritten copies (bench/search_latency.py) would make; only the
hours of parsing are saved. The raw bytes of the copies are the original's.

Prints figures, asserts nothing. Target (issue 5): search p95 under 100 ms at 1,000,000.
The machine these ran on was shared with other jobs: figures are noisy.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

from piperarc import config as configlib
from piperarc import search
from piperarc.mail import parse
from piperarc.store import Store, open_store, unpack
from piperarc.store.base import ROW_FIELDS, ArchivedRow
from search_latency import CORPUS, queries

PG = os.environ.get("PIPERARC_BENCH_PG", "postgresql:///test")
LIST = "lm"
_NUM, _KEY, _MID, _DIGEST = (ROW_FIELDS.index(f) for f in ("num", "key", "mid", "digest"))
_THREAD = ROW_FIELDS.index("thread_key")


def schema_url(name: str) -> str:
    return f"{PG}{'&' if '?' in PG else '?'}options=-csearch_path%3D{name}"


def make_schema(name: str) -> str:
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {name}".encode())
    return schema_url(name)


def drop_schema(name: str) -> None:
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE".encode())


def piperarc(*args: str) -> str:
    exe = str(Path(sys.executable).parent / "piperarc")
    return subprocess.run([exe, *args], capture_output=True, text=True, check=True).stdout


def import_once(tmp: Path, db_args: tuple[str, ...]) -> tuple[float, Path]:
    root = tmp / f"a{secrets.token_hex(4)}"
    piperarc("init", str(root), "--list", LIST, *db_args)
    started = time.perf_counter()
    piperarc(
        "import", "--archive", str(root), "--list", LIST, str(CORPUS / "linux-man-10k.mbox.xz")
    )
    return time.perf_counter() - started, root


def latency(store: Store, qs: list[str]) -> tuple[float, float]:
    for q in qs[:20]:  # warm caches as a running server has them
        search.run(store, q)
    times = []
    for q in qs:
        started = time.perf_counter()
        search.run(store, q)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def the_queries(store: Store) -> list[str]:
    summaries = store.summaries(LIST)
    return queries([s.subject for s in summaries], [s.from_name for s in summaries], 200, 5)


def copy_rows(
    source: Store,
    target: Store,
    copies: int,
    say: Callable[[str], None],
    at_copy: Callable[[int], None],
) -> None:
    """The list `copies` times into `target` (copy 0 as it is); `at_copy` after each."""
    rows: list[ArchivedRow] = []
    while batch := source.export_rows(LIST, rows[-1].num if rows else 0, 2000):
        rows.extend(batch)
    envelope = ROW_FIELDS.index("envelope")
    texts = [
        parse.index_text(parse.parse(unpack(r.packed), "", r.values[envelope]))  # type: ignore[arg-type]
        for r in rows
    ]
    n = len(rows)
    started = time.perf_counter()
    for copy in range(copies):
        tag = f".c{copy}" if copy else ""
        made = []
        for row in rows:
            values = list(row.values)
            values[_NUM] = int(values[_NUM]) + copy * n  # type: ignore[call-overload]
            values[_KEY] = f"{values[_KEY]}{tag}"
            values[_MID] = f"{values[_MID]}{tag}"
            values[_DIGEST] = hashlib.sha256(f"{values[_DIGEST]}{tag}".encode()).hexdigest()
            values[_THREAD] = f"{values[_THREAD]}{tag}"
            made.append(ArchivedRow(tuple(values), row.packed))
        for start in range(0, n, 2000):
            target.import_rows(LIST, made[start : start + 2000], texts[start : start + 2000], 0)
        done = (copy + 1) * n
        rate = done / (time.perf_counter() - started)
        say(f"  copy {copy + 1}/{copies}: {done} messages, {rate:.0f} messages/s")
        at_copy(copy + 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="imports per backend")
    parser.add_argument("--skip-import", action="store_true")
    parser.add_argument("--copies", type=int, default=0, help="large PG archive: the list x N")
    parser.add_argument("--keep-schema", help="keep (and reuse) the large archive's schema")
    args = parser.parse_args()
    say: Callable[[str], None] = lambda line: print(line, flush=True)  # noqa: E731
    made: list[str] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        roots: dict[str, Path] = {}
        qs: list[str] = []
        backends = ("sqlite", "postgresql")
        if not args.skip_import or not args.keep_schema:
            for backend in backends:
                seconds = []
                for _ in range(1 if args.skip_import else args.runs):
                    db_args: tuple[str, ...] = ()
                    if backend == "postgresql":
                        name = f"bench_{secrets.token_hex(4)}"
                        made.append(name)
                        db_args = ("--db", make_schema(name))
                    took, roots[backend] = import_once(tmp, db_args)
                    seconds.append(took)
                if not args.skip_import:
                    median = statistics.median(seconds)
                    say(
                        f"import 10k into {backend}: median {median:.1f}s "
                        f"({10000 / median:.0f} messages/s) over {len(seconds)} runs: "
                        + ", ".join(f"{s:.1f}" for s in seconds)
                    )
            for backend in backends:
                store = open_store(configlib.load(roots[backend]).database, readonly=True)
                try:
                    qs = qs or the_queries(store)
                    p50, p95 = latency(store, qs)
                    count = store.stats(LIST).messages
                    say(f"search {backend} at {count}: p50 {p50:.1f} ms, p95 {p95:.1f} ms")
                finally:
                    store.close()
        if args.copies:
            name = args.keep_schema or f"bench_big_{secrets.token_hex(4)}"
            if not args.keep_schema:
                made.append(name)
            url = make_schema(name)
            big = open_store(url)
            try:
                if LIST not in big.list_names() or not big.stats(LIST).messages:
                    source = open_store(configlib.load(roots["postgresql"]).database)
                    started = time.perf_counter()

                    def checkpoint(done: int) -> None:
                        # Latency on the way up too: whatever size is reached is measured.
                        if done in (10, 20, 50) and done < args.copies:
                            p50, p95 = latency(big, qs)
                            say(f"search postgresql at {done}x: p50 {p50:.1f} ms, p95 {p95:.1f} ms")

                    copy_rows(source, big, args.copies, say, checkpoint)
                    source.close()
                    say(f"  large archive made in {time.perf_counter() - started:.0f}s")
                p50, p95 = latency(big, qs or the_queries(big))
                count = big.stats(LIST).messages
                say(f"search postgresql at {count}: p50 {p50:.1f} ms, p95 {p95:.1f} ms")
            finally:
                big.close()
    for name in made:
        drop_schema(name)


if __name__ == "__main__":
    main()
