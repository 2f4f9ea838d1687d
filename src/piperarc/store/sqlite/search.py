"""The SQLite store's search: a SearchQuery as an FTS5 match over the index file, ranked
among the newest matches, and whether that index is missing or behind."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from piperarc.errors import QueryError, StoreError
from piperarc.mail import snippets
from piperarc.model import (
    SearchHit,
    SearchQuery,
    SearchTerm,
)
from piperarc.store.base import SearchText
from piperarc.store.sqlite.connection import Connected
from piperarc.store.sqlite.schema import IN_MEMORY, MOVED_INDEX

# bm25 weights of subject, sender, body, quoted, files: a word in the subject counts most,
# one in quoted text least.
_RANK = "bm25(search_index, 10.0, 4.0, 1.0, 0.2, 2.0, 0.0)"


# A query matching more than this many messages is ranked (or sorted by date) among its
# most recently archived matches only: ranking reads every position of every matched word
# (a common word in long patches is costly), so this bounds the time a search can take at
# any archive size. Narrowing the query (d:, l:, s:) reaches the older ones.
RANK_WINDOW = 1000


_HIT_COLUMNS = (
    "(SELECT name FROM lists WHERE id = m.list_id), m.num, m.key, m.mid, m.subject, "
    "m.from_name, m.from_addr, m.date_utc, m.tz_offset"
)


_FTS_COLUMNS = {
    "subject": "subject",
    "sender": "sender",
    "body": "{body quoted}",
    "facets": "facets",
    None: "{subject sender body quoted files}",
}


def _fts_term(term: SearchTerm) -> str:
    """A term as an FTS5 expression: always a quoted string, so no user text is syntax."""
    expr = '"' + term.text.replace('"', '""') + '"' + (" *" if term.prefix else "")
    return f"{_FTS_COLUMNS[term.field]} : {expr}"


def _hit(row: Any, query: SearchQuery) -> SearchHit:
    return SearchHit(
        list_name=row[0],
        num=row[1],
        key=row[2],
        mid=row[3],
        subject=row[4],
        from_name=row[5],
        from_addr=row[6],
        date_utc=row[7],
        tz_offset=row[8],
        snippet=snippets.snippet(row[9] or "", row[10] or "", query),
    )


class Search(Connected):
    """Full-text search (FTS5)."""

    def search(
        self, query: SearchQuery, *, by_date: bool, limit: int, offset: int
    ) -> tuple[int, list[SearchHit], bool]:
        match = " AND ".join(
            "(" + " OR ".join(_fts_term(t) for t in group) + ")" for group in query.groups
        )
        if not match:
            return 0, [], True
        if query.excluded:
            match = f"({match}) NOT ({' OR '.join(_fts_term(t) for t in query.excluded)})"
        db = self._searching()
        try:
            # Everything a query asks is in the index (facets included), so counting and
            # the window never touch the messages table.
            total = db.execute(
                "SELECT count(*) FROM search_index WHERE search_index MATCH ?", (match,)
            ).fetchone()[0]
            window = ""
            args: list[object] = [match]
            if total > RANK_WINDOW:
                cutoff = db.execute(
                    "SELECT rowid FROM search_index WHERE search_index MATCH ? "
                    "ORDER BY rowid DESC LIMIT 1 OFFSET ?",
                    (match, RANK_WINDOW - 1),
                ).fetchone()
                if cutoff is not None:
                    window = " AND search_index.rowid >= ?"
                    args.append(cutoff[0])
            order = "m.date_utc + 0 DESC" if by_date else f"{_RANK}, m.date_utc DESC"
            ids = [
                row[0]
                for row in db.execute(
                    "SELECT m.id FROM search_index JOIN messages m ON m.id = search_index.rowid "
                    f"WHERE search_index MATCH ?{window} ORDER BY {order} LIMIT ? OFFSET ?",
                    [*args, limit, offset],
                )
            ]
            if not ids:
                return total, [], True
            # This page's rows and texts (own lines, quoted lines) for its snippets
            # (mail/snippets.py: the own text first, the quoted lines and footers last).
            found = {
                row[0]: row[1:]
                for row in db.execute(
                    f"SELECT m.id, {_HIT_COLUMNS}, s.body, s.quoted FROM search_index s "
                    "JOIN messages m ON m.id = s.rowid "
                    f"WHERE s.rowid IN ({','.join('?' * len(ids))})",
                    ids,
                )
            }
        except sqlite3.OperationalError as err:
            if "fts5" in str(err) or "syntax" in str(err):
                raise QueryError(f"cannot search for that: {err}") from err
            raise StoreError(f"cannot search: {err}", self.path) from err
        return total, [_hit(found[i], query) for i in ids if i in found], True

    def word_counts(self, words: Sequence[str], within: Sequence[SearchTerm]) -> dict[str, int]:
        db = self._searching()
        found: dict[str, int] = {}
        limit = " AND (" + " OR ".join(map(_fts_term, within)) + ")" if within else ""
        try:
            for word in dict.fromkeys(words):
                count = db.execute(
                    "SELECT count(*) FROM search_index WHERE search_index MATCH ?",
                    (_fts_term(SearchTerm(word)) + limit,),
                ).fetchone()[0]
                if count:
                    found[word] = count
        except sqlite3.Error as err:
            raise StoreError(f"cannot search: {err}", self.path) from err
        return found

    def search_texts(self, list_name: str, nums: Sequence[int]) -> list[tuple[int, SearchText]]:
        db = self._searching()
        list_id = self._list_id(list_name)
        found: list[tuple[int, SearchText]] = []
        for start in range(0, len(nums), 500):
            chunk = nums[start : start + 500]
            found += [
                (row[0], row[1:])
                for row in db.execute(
                    "SELECT m.num, s.subject, s.sender, s.body, s.quoted, s.files, s.facets "
                    "FROM messages m JOIN search_index s ON s.rowid = m.id "
                    f"WHERE m.list_id = ? AND m.num IN ({','.join('?' * len(chunk))})",
                    (list_id, *chunk),
                )
            ]
        return found

    def index_warning(self) -> str | None:
        if str(self.path) == IN_MEMORY:
            return None
        if self._schema() < MOVED_INDEX:
            return None  # the index is still inside the archive file
        name, fix = self.index_path.name, "search misses messages until `piperarc reindex`"
        if not self.index_path.exists():
            return f"the search index file {name} is missing: {fix}"
        try:
            db = self._searching()
            # Rows are message ids, written before the messages: never behind but on loss.
            indexed = db.execute(
                "SELECT rowid FROM search.search_index ORDER BY rowid DESC LIMIT 1"
            ).fetchone()
            stored = db.execute("SELECT max(id) FROM main.messages").fetchone()
        except (sqlite3.Error, StoreError) as err:
            return f"the search index file {name} cannot be read ({err}): {fix}"
        if (indexed[0] if indexed else 0) < (stored[0] or 0):
            return f"the search index file {name} is behind the archive (an older copy?): {fix}"
        return None
