"""The PostgreSQL store's search: a SearchQuery as a tsquery over one tsvector per message
(text.py), its window of newest matches found without touching every match, totals counted
exactly up to a bound and estimated past it, and whether vectors still lack word pairs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql

from piperarc import facets
from piperarc.errors import QueryError, StoreError
from piperarc.mail import snippets
from piperarc.mail.parse import parse
from piperarc.mail.words import split_quoted
from piperarc.model import (
    SearchHit,
    SearchQuery,
    SearchTerm,
)
from piperarc.store.base import SearchText, unpack
from piperarc.store.postgres import text as pgtext
from piperarc.store.postgres.connection import Connected, safe_url
from piperarc.store.postgres.schema import PAIRED_SCHEMA

RANK_WINDOW = 1000  # as in the SQLite store: rank among the most recent matches only


# Matches are counted exactly up to about this many (by the planner's estimate), and in an
# index of up to EXACT_ARCHIVE messages always; beyond, the total is that estimate
# (counting 700,000 matches reads 700,000 heap rows; 10,000 took 50-200 ms).
EXACT_UP_TO = 2_000


EXACT_ARCHIVE = 50_000


# A query the planner expects in at least this share of the messages: its window is found
# by reading the newest vectors in id order (the GIN index would hand over every match).
SCAN_SHARE = 0.2


RANGE_GROWTH = 4  # how much older each range of ids a window is looked for in (_window)


# Per search (transaction): no JIT (it compiles for longer than these queries run), room
# for exact bitmaps, no parallel workers, and never a sequential scan of the vectors.
_SEARCH_SETTINGS = (
    "SELECT set_config('jit', 'off', true), set_config('work_mem', '64MB', true), "
    "set_config('max_parallel_workers_per_gather', '0', true), "
    "set_config('enable_seqscan', 'off', true)"
)


# Which way a window is found: through the GIN index (a bitmap, optionally ANDed with a
# range of ids), or by walking the newest ids in order.
_USE_INDEX = (
    "SELECT set_config('enable_indexscan', 'off', true), "
    "set_config('enable_bitmapscan', 'on', true)"
)


_USE_ANY = (
    "SELECT set_config('enable_indexscan', 'on', true), set_config('enable_bitmapscan', 'on', true)"
)


_USE_ORDER = (
    "SELECT set_config('enable_indexscan', 'on', true), "
    "set_config('enable_bitmapscan', 'off', true)"
)


def _search_stats(conn: psycopg.Connection[Any], match: str) -> tuple[int, int, int | None]:
    """The planner's estimate of the messages matching, its estimate of all messages in
    the index (ANALYZE's; 0 before the first), and the newest id (None when empty)."""
    plan = conn.execute(
        "EXPLAIN (FORMAT JSON) SELECT 1 FROM search_index WHERE doc @@ %s::tsquery", (match,)
    ).fetchone()
    row = conn.execute(
        "SELECT greatest(reltuples, 0)::bigint, (SELECT max(message_id) FROM search_index) "
        "FROM pg_class WHERE oid = 'search_index'::regclass"
    ).fetchone()
    estimate = int(plan[0][0]["Plan"]["Plan Rows"]) if plan else 0
    return (estimate, int(row[0]), row[1]) if row else (estimate, 0, None)


class Search(Connected):
    """Full-text search (tsvector, GIN)."""

    def __init__(
        self, url: str, *, readonly: bool = False, pool_size: int = 4, busy_timeout: float = 30
    ) -> None:
        # Per store, so that a test can make one store estimate where another counts.
        self.exact_up_to, self.exact_archive = EXACT_UP_TO, EXACT_ARCHIVE
        super().__init__(url, readonly=readonly, pool_size=pool_size, busy_timeout=busy_timeout)

    def search(
        self, query: SearchQuery, *, by_date: bool, limit: int, offset: int
    ) -> tuple[int, list[SearchHit], bool]:
        if not query.groups:  # asks for nothing (match_query would be "")
            return 0, [], True
        ranking = pgtext.rank_query(query)
        try:
            with self._connection() as conn, conn.transaction():
                conn.execute(_SEARCH_SETTINGS)
                match = pgtext.match_query(query, pairs=self._all_paired(conn))
                window, count, exact = self._window(conn, match)
                conn.execute(_USE_ANY)
                if by_date or not ranking:
                    order = sql.SQL("m.date_utc DESC, s.message_id DESC")
                    order_args: list[object] = []
                else:
                    order = sql.SQL(
                        "ts_rank_cd(%s::float4[], s.doc, %s::tsquery, %s) DESC, m.date_utc DESC, "
                        "s.message_id DESC"
                    )
                    order_args = [pgtext.RANK_WEIGHTS, ranking, pgtext.RANK_NORMALIZATION]
                # The page's ids first (ranking reads the window's vectors and dates), then
                # its rows: the texts for snippets are read for this page only.
                ids = [
                    row[0]
                    for row in conn.execute(
                        sql.SQL(
                            "SELECT s.message_id FROM search_index s "
                            "JOIN messages m ON m.id = s.message_id "
                            "WHERE s.message_id = ANY(%s) ORDER BY {} LIMIT %s OFFSET %s"
                        ).format(order),
                        [window, *order_args, limit, offset],
                    )
                ]
                found = {
                    row[0]: row[1:]
                    for row in conn.execute(
                        "SELECT m.id, l.name, m.num, m.key, m.mid, m.subject, m.from_name, "
                        "m.from_addr, m.date_utc, m.tz_offset, c.snippet_text, c.body_text "
                        "FROM messages m JOIN lists l ON l.id = m.list_id "
                        "JOIN contents c ON c.message_id = m.id WHERE m.id = ANY(%s)",
                        (ids,),
                    )
                }
                rows = [found[i] for i in ids if i in found]
        except psycopg.errors.SyntaxError as err:
            raise QueryError(f"cannot search for that: {err}") from err
        except psycopg.Error as err:
            raise StoreError(f"cannot search: {err}", safe_url(self.url)) from err
        hits = [
            SearchHit(
                list_name=r[0],
                num=r[1],
                key=r[2],
                mid=r[3],
                subject=r[4],
                from_name=r[5],
                from_addr=r[6],
                date_utc=r[7],
                tz_offset=r[8],
                snippet=snippets.snippet(r[9] or "", split_quoted(r[10] or "")[1], query),
            )
            for r in rows
        ]
        return count, hits, exact

    def word_counts(self, words: Sequence[str], within: Sequence[SearchTerm]) -> dict[str, int]:
        found: dict[str, int] = {}
        limit = " & (" + " | ".join(map(pgtext.term_query, within)) + ")" if within else ""
        try:
            with self._connection() as conn, conn.transaction():
                conn.execute(_SEARCH_SETTINGS)
                for word in dict.fromkeys(words):
                    row = conn.execute(
                        "SELECT count(*) FROM search_index WHERE doc @@ %s::tsquery",
                        (pgtext.term_query(SearchTerm(word)) + limit,),
                    ).fetchone()
                    if row and row[0]:
                        found[word] = int(row[0])
        except psycopg.Error as err:
            raise StoreError(f"cannot search: {err}", safe_url(self.url)) from err
        return found

    def search_texts(self, list_name: str, nums: Sequence[int]) -> list[tuple[int, SearchText]]:
        """PostgreSQL keeps vectors, not text: each message's text is made again as the
        import made it (its stored fields; attachment names read again from its raw bytes,
        for the messages that have attachments)."""
        rows = self._all(
            "SELECT m.num, m.subject, m.from_name, m.from_addr, c.body_text, m.date_utc, "
            "m.attachments, m.thread_pos, m.digest, CASE WHEN m.attachments > 0 THEN c.raw END "
            "FROM messages m JOIN contents c ON c.message_id = m.id "
            "WHERE m.list_id = %s AND m.num = ANY(%s) ORDER BY m.num",
            (self._id_of(list_name), list(nums)),
        )
        found: list[tuple[int, SearchText]] = []
        for num, subject, name, addr, body, date_utc, attachments, pos, digest, packed in rows:
            own, quoted = split_quoted(body)
            files = ""
            if packed is not None:
                parsed = parse(unpack(bytes(packed)), digest)
                files = " ".join(a.filename for a in parsed.attachments)
            tokens = facets.message_tokens(list_name, date_utc, attachments > 0, pos == 0)
            found.append((num, (subject, f"{name} {addr}".strip(), own, quoted, files, tokens)))
        return found

    def index_warning(self) -> str | None:
        if self.schema_version < PAIRED_SCHEMA:
            return None
        row = self._one("SELECT count(*) FROM search_index WHERE NOT paired")
        if not row or not row[0]:
            return None
        return (
            f"{row[0]} messages were indexed before word pairs: phrase searches are slow "
            "until `piperarc reindex`"
        )

    def _all_paired(self, conn: psycopg.Connection[Any]) -> bool:
        """Whether every vector holds its word pairs. A store opened on a schema from
        before pairs never asks (the column may be missing) until it is opened again."""
        if self.schema_version < PAIRED_SCHEMA:
            return False
        row = conn.execute("SELECT EXISTS (SELECT 1 FROM search_index WHERE NOT paired)").fetchone()
        return not (row and row[0])

    def _window(self, conn: psycopg.Connection[Any], match: str) -> tuple[list[int], int, bool]:
        """The ids of the RANK_WINDOW most recent matches (newest first), the number of
        matches and whether that number is exact.

        The planner's estimate of the matches (from ANALYZE's word statistics) picks the
        way: up to exact_up_to (or in a small archive), every match is found through the
        GIN index and counted;
        beyond, only the newest messages are looked at and the total is the estimate.
        A word in most messages is found by reading the newest vectors one by one (the
        index would hand over every match); a rarer one by the index, limited to a range
        of the newest ids that grows until the window is full."""
        estimate, rows, newest = _search_stats(conn, match)
        if estimate <= self.exact_up_to or rows <= self.exact_archive or newest is None:
            conn.execute(_USE_INDEX)
            found = conn.execute(
                "SELECT message_id, count(*) OVER () FROM search_index "
                "WHERE doc @@ %s::tsquery ORDER BY message_id DESC LIMIT %s",
                (match, RANK_WINDOW),
            ).fetchall()
            return [r[0] for r in found], int(found[0][1]) if found else 0, True
        share = min(1.0, estimate / max(rows, 1))
        span = int(RANK_WINDOW / share * 2) + 1
        ids: list[int] = []
        high = newest + 1  # ids below it are still to look at
        if share >= SCAN_SHARE:
            conn.execute(_USE_ORDER)
            ids = [
                r[0]
                for r in conn.execute(
                    "SELECT message_id FROM (SELECT message_id, doc FROM search_index "
                    "ORDER BY message_id DESC LIMIT %s) n WHERE doc @@ %s::tsquery LIMIT %s",
                    (span, match, RANK_WINDOW),
                )
            ]
            if len(ids) == RANK_WINDOW:
                return ids, max(estimate, RANK_WINDOW), False
            row = conn.execute(
                "SELECT message_id FROM search_index ORDER BY message_id DESC OFFSET %s LIMIT 1",
                (span,),
            ).fetchone()
            if row is None:  # every message was looked at
                return ids, len(ids), True
            high = row[0] + 1
        conn.execute(_USE_INDEX)
        # The newest `span` ids first (the index's matches ANDed with that range), then,
        # while the window is not full, ranges of older ids, each GROWTH times the last.
        # The estimate can be far too high (a phrase is estimated as if its words could be
        # anywhere in a message), and every match the index hands over in a range is
        # checked against its vector: the whole rest at once could be 20,000 checks.
        while True:
            low = max(high - span, 0)
            ids += [
                r[0]
                for r in conn.execute(
                    "SELECT message_id FROM search_index WHERE doc @@ %s::tsquery "
                    "AND message_id >= %s AND message_id < %s ORDER BY message_id DESC LIMIT %s",
                    (match, low, high, RANK_WINDOW - len(ids)),
                )
            ]
            if len(ids) == RANK_WINDOW:
                return ids, max(estimate, RANK_WINDOW), False
            if low == 0:
                return ids, len(ids), True  # every message was looked at
            high, span = low, span * RANGE_GROWTH
