"""What only a server database has to show: several importers at once, search that finds
what SQLite finds, and `piperarc migrate` both ways with nothing lost. (Everything else runs
on both backends through the parametrized fixtures in conftest.py.)"""

from __future__ import annotations

import json
import lzma
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from piperarc import config as configlib
from piperarc import search
from piperarc.errors import StoreError
from piperarc.ingest import placing
from piperarc.ingest.deliver import prepare
from piperarc.ingest.sources import RawMail
from piperarc.ingest.sources.mbox import read_messages
from piperarc.ingest.sources.sample import sample_mbox, sample_messages
from piperarc.mail import threads
from piperarc.model import IndexText, StoredMessage
from piperarc.store import Store, open_store
from piperarc.store.postgres import (
    EXACT_ARCHIVE,
    EXACT_UP_TO,
    MIGRATIONS,
    RANK_WINDOW,
    PostgresStore,
)
from piperarc.store.postgres import search as postgres  # where RANK_WINDOW, EXACT_* are read
from piperarc.store.postgres import text as pgtext
from piperarc.web.app import create_app
from tests.conftest import Run, cli, corpus_path, pg_schema
from tests.livehelpers import asgi_get

IMPORTERS = 4


def _everything(store: Store, list_name: str) -> list[tuple[StoredMessage, bytes]]:
    return [
        (store.message(list_name, s.num), store.raw(list_name, s.num))
        for s in store.summaries(list_name)
    ]


def _split_mbox(data: bytes) -> list[bytes]:
    """An mbox's messages, each with its From_ line (mboxrd: a new message starts at a
    From_ line after a blank line)."""
    starts = [0] + [m.start() + 2 for m in re.finditer(rb"\n\nFrom ", data)]
    return [data[a:b] for a, b in zip(starts, [*starts[1:], len(data)], strict=True)]


@pytest.fixture
def pg_url() -> Iterator[str]:
    with pg_schema() as url:
        yield url


def test_a_reader_cannot_write_to_postgresql(pg_url: str) -> None:
    open_store(pg_url).close()
    reader = open_store(pg_url, readonly=True)
    try:
        with pytest.raises(StoreError):
            reader.ensure_list("x")
    finally:
        reader.close()


def test_a_postgresql_database_from_a_newer_piperarc_is_refused(pg_url: str) -> None:
    import psycopg

    open_store(pg_url).close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE schema_version SET version = %s", (len(MIGRATIONS) + 1,))
    with pytest.raises(StoreError, match="newer"):
        open_store(pg_url)


def test_a_reader_of_an_empty_postgresql_database_is_told_to_run_init(pg_url: str) -> None:
    with pytest.raises(StoreError, match="piperarc init"):
        open_store(pg_url, readonly=True)


def test_a_write_moves_the_data_version_other_connections_see(pg_url: str) -> None:
    writer = open_store(pg_url)
    reader = open_store(pg_url, readonly=True)
    try:
        before = reader.data_version()
        writer.ensure_list("salon")
        assert reader.data_version() != before
    finally:
        writer.close()
        reader.close()


def test_init_with_db_writes_the_url_to_piperarc_toml(
    run: Run, tmp_path: Path, pg_url: str
) -> None:
    root = tmp_path / "archive"
    assert run("init", root, "--list", "salon", "--db", pg_url).exit_code == 0
    assert configlib.load(root).database == pg_url


def test_init_db_refuses_a_file_name(run: Run, tmp_path: Path) -> None:
    result = run("init", tmp_path / "a", "--db", "archive.db")
    assert result.exit_code == 1
    assert "postgresql://" in result.stderr


def test_migrate_to_postgresql_and_back_keeps_every_message_whole(
    run: Run, tmp_path: Path, pg_url: str
) -> None:
    root = tmp_path / "archive"
    run("init", root, "--list", "salon")
    (tmp_path / "s.mbox").write_bytes(sample_mbox())
    run("import", "--archive", root, "--list", "salon", tmp_path / "s.mbox")
    first = open_store(configlib.load(root).database, readonly=True)
    before = _everything(first, "salon")
    first.close()

    there = run("migrate", "--archive", root, "--to", pg_url)
    assert there.exit_code == 0, there.output
    assert configlib.load(root).database == pg_url
    pg = open_store(pg_url, readonly=True)
    try:  # the copy's vectors hold their word pairs: a phrase is found through them
        assert search.run(pg, '"priority scheduler"').total == 4
    finally:
        pg.close()
    back = run("migrate", "--archive", root, "--to", tmp_path / "back.sqlite3")
    assert back.exit_code == 0, back.output
    assert configlib.load(root).database == tmp_path / "back.sqlite3"

    last = open_store(tmp_path / "back.sqlite3", readonly=True)
    try:
        assert _everything(last, "salon") == before
        assert last.stats("salon").duplicates == 0
        assert search.run(last, "lovelace").total > 0
        assert search.run(last, '"priority scheduler"').total == 4
    finally:
        last.close()


def test_migrate_prints_the_same_digests_for_both_sides(
    run: Run, tmp_path: Path, pg_url: str
) -> None:
    root = tmp_path / "archive"
    run("init", root, "--list", "salon")
    (tmp_path / "s.mbox").write_bytes(sample_mbox())
    run("import", "--archive", root, "--list", "salon", tmp_path / "s.mbox")
    result = run("migrate", "--archive", root, "--to", pg_url)
    lines = [
        line.split(" ", 2)[2].strip()
        for line in result.stdout.splitlines()
        if line.startswith("salon ")
    ]
    assert len(lines) == 2 and lines[0] == lines[1] and "27 messages" in lines[0]


def test_migrate_refuses_an_existing_sqlite_file(run: Run, archive: Path, tmp_path: Path) -> None:
    (tmp_path / "taken.sqlite3").write_bytes(b"")
    result = run("migrate", "--archive", archive, "--to", tmp_path / "taken.sqlite3")
    assert result.exit_code == 1
    assert "already exists" in result.stderr


# -- several importers at once ------------------------------------------------------


def _import(root: Path, source: Path) -> subprocess.Popen[bytes]:
    """`piperarc import` in a process of its own."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "piperarc.cli",
            "import",
            "--archive",
            str(root),
            "--list",
            "lm",
            str(source),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _identity(store: Store) -> dict[str, object]:
    summaries = store.summaries("lm")
    messages = [store.message("lm", s.num) for s in summaries]
    return {
        "count": len(summaries),
        "numbers": [s.num for s in summaries],
        "digests": sorted(m.digest for m in messages),
        "keys": sorted(m.key for m in messages),
        "mids": sorted(m.mid for m in messages),
    }


@pytest.mark.corpus
@pytest.mark.slow
def test_four_importers_at_once_on_overlapping_slices_equal_one_import(tmp_path: Path) -> None:
    corpus = corpus_path("lists", "linux-man-10k.mbox.xz")
    mails = _split_mbox(lzma.decompress(corpus.read_bytes()))
    n = len(mails)
    # Slices of the file that overlap: every message is offered by two importers or more,
    # at once.
    slices = []
    for i, (start, end) in enumerate([(0, 4), (2, 6), (4, 8), (1, 5)]):
        path = tmp_path / f"slice{i}.mbox"
        path.write_bytes(b"".join(mails[start * n // 8 : end * n // 8]))
        slices.append(path)
    with pg_schema() as together_url, pg_schema() as alone_url:
        together, alone = tmp_path / "together", tmp_path / "alone"
        assert cli("init", together, "--list", "lm", "--db", together_url).exit_code == 0
        assert cli("init", alone, "--list", "lm", "--db", alone_url).exit_code == 0
        running = [_import(together, path) for path in slices]
        single = _import(alone, corpus)
        for proc in [*running, single]:
            _out, err = proc.communicate(timeout=900)
            assert proc.returncode == 0, err.decode()
        stores = [open_store(url, readonly=True) for url in (together_url, alone_url)]
        try:
            many, one = (_identity(store) for store in stores)
            assert many["numbers"] == list(range(1, int(str(one["count"])) + 1))
            assert many == one
            # A message's permalink is its Message-ID's key whoever imported it (two
            # different messages sharing a Message-ID get -2 in arrival order).
            keys = [
                {m.digest: m.key for m in (s.message("lm", x.num) for x in s.summaries("lm"))}
                for s in stores
            ]
            differ = {d for d in keys[1] if keys[0][d] != keys[1][d]}
            assert all(re.search(r"-\d+$", keys[1][d] + keys[0][d]) for d in differ)
            assert stores[0].stats("lm").messages == stores[1].stats("lm").messages
        finally:
            for store in stores:
                store.close()


# -- the same search results as SQLite ----------------------------------------------

QUERIES = [
    "uhd",
    "usrp b210",
    '"sample rate"',
    "s:uhd",
    "f:marcus",
    "b:firmware",
    "gnu*",
    "rfnoc -x310",
    "x310 OR n210",
    "has:attachment",
    "has:attachment fpga",
    "is:root d:2019",
    "d:2020-03",
    "d:2019-06..2019-12 ettus",
    "l:usrp s:b200*",
    "error s:re",
    "timeout OR overflow d:2019-01..",
    '"python api"',
    "dpdk*",
    "frequency -s:frequency",
    # Phrases, which PostgreSQL narrows down by their word pairs (pgtext.pair)
    '"set the sample rate"',
    'b:"sample rate"',
    's:"sample rate" OR s:"python api"',
    'f:"marcus müller" "sample rate"',
    "set-the-sample-ra*",
    'uhd -"sample rate"',
    '"rate sample"',
]


@pytest.fixture(scope="module")
def usrp_roots(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """usrp-users (HTML, attachments) imported the same way into SQLite and PostgreSQL
    (analyzed, as autovacuum leaves a live database: search asks the planner's estimates)."""
    corpus = corpus_path("lists", "usrp-users-3k.mbox.xz")
    with pg_schema() as url:
        roots = []
        for args in ((), ("--db", url)):
            root = tmp_path_factory.mktemp("same") / "archive"
            assert cli("init", root, "--list", "usrp", *args).exit_code == 0
            assert cli("import", "--archive", root, "--list", "usrp", corpus).exit_code == 0
            roots.append(root)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("ANALYZE")
        yield roots[0], roots[1]


@pytest.fixture(scope="module")
def both(usrp_roots: tuple[Path, Path]) -> Iterator[tuple[Store, Store]]:
    """The two usrp-users archives' stores (SQLite, PostgreSQL)."""
    stores = [open_store(configlib.load(root).database, readonly=True) for root in usrp_roots]
    yield stores[0], stores[1]
    for store in stores:
        store.close()


@pytest.mark.corpus
@pytest.mark.parametrize("query", QUERIES)
def test_postgresql_finds_the_same_messages_as_sqlite(
    both: tuple[Store, Store], query: str
) -> None:
    lite, pg = both
    found = []
    for store in (lite, pg):
        first = search.run(store, query, per_page=100)
        hits = {h.num for h in first.hits}
        for page in range(2, min(first.pages, 10) + 1):
            hits |= {h.num for h in search.run(store, query, per_page=100, page=page).hits}
        found.append((first.total, hits if first.total <= 1000 else len(hits)))
    assert found[0] == found[1]
    assert found[0][0] > 0, "a query that finds nothing shows nothing"


@pytest.mark.corpus
@pytest.mark.parametrize("query", ['"sample rate"', "s:uhd", "b200 firmware", "f:marcus"])
def test_postgresql_ranks_the_clear_winners_as_sqlite_does(
    both: tuple[Store, Store], query: str
) -> None:
    """Where one message clearly scores best (a phrase in its subject, a word in few
    subjects) both put it first, and mostly the same next ones. (ts_rank_cd is not bm25:
    on common words the orders differ more; docs/deployment.md says by how much.)"""
    lite, pg = both
    tops = [[h.num for h in search.run(store, query, per_page=5).hits] for store in (lite, pg)]
    assert tops[0][0] == tops[1][0]
    assert len(set(tops[0]) & set(tops[1])) >= 4


def _window_hits(store: Store, query: str, sort: str = "relevance") -> list[int]:
    """Every hit a query shows, page after page (the RANK_WINDOW most recent matches)."""
    hits: list[int] = []
    for page in range(1, 11):
        found = search.run(store, query, per_page=100, page=page, sort=sort).hits
        hits += [h.num for h in found]
    return hits


@pytest.mark.corpus
@pytest.mark.parametrize("query", ["uhd", "usrp b210", '"sample rate"', "b:firmware"])
def test_past_the_counted_limit_postgresql_estimates_the_total_and_shows_the_same_hits(
    both: tuple[Store, Store], query: str
) -> None:
    """Beyond PostgresStore.exact_up_to (by the planner's estimate; here also in a small
    archive) the total is the estimate, said to be one, and the hits are the same
    messages in the same order."""
    lite, pg = both
    assert isinstance(pg, PostgresStore)
    counted = search.run(pg, query)
    exact_hits = {sort: _window_hits(pg, query, sort) for sort in ("relevance", "date")}
    pg.exact_up_to, pg.exact_archive = 10, 0
    try:
        estimated = search.run(pg, query)
        for sort, hits in exact_hits.items():
            assert _window_hits(pg, query, sort) == hits
    finally:
        pg.exact_up_to, pg.exact_archive = EXACT_UP_TO, EXACT_ARCHIVE
    assert counted.total_exact and counted.total == search.run(lite, query).total
    if counted.total > RANK_WINDOW:  # the window is full: the rest is not looked at
        assert not estimated.total_exact
        assert estimated.total > RANK_WINDOW
    else:  # every message was looked at, so the count is exact after all
        assert estimated.total_exact and estimated.total == counted.total
    assert set(exact_hits["relevance"]) == set(_window_hits(lite, query))


@pytest.mark.corpus
def test_a_window_rarer_than_estimated_is_read_in_ever_larger_ranges_with_the_same_hits(
    both: tuple[Store, Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The planner estimates a phrase as if its words could be anywhere in a message, so
    the newest range of ids may hold few of its matches: older ranges, each larger, are
    read until the window is full. Here a small window and an estimate eight times too
    high make it take several ranges; the window holds the same messages as when every
    match is counted."""
    _, pg = both
    assert isinstance(pg, PostgresStore)
    monkeypatch.setattr(postgres, "RANK_WINDOW", 20)
    counted = {sort: _window_hits(pg, "octoclock", sort) for sort in ("relevance", "date")}
    real = postgres._search_stats

    def overestimated(conn: psycopg.Connection[Any], match: str) -> tuple[int, int, int | None]:
        estimate, rows, newest = real(conn, match)
        return max(estimate, rows // 8), rows, newest  # under SCAN_SHARE: ranges of the index

    monkeypatch.setattr(postgres, "_search_stats", overestimated)
    monkeypatch.setattr(pg, "exact_up_to", 10)
    monkeypatch.setattr(pg, "exact_archive", 0)
    for sort, hits in counted.items():
        assert len(hits) == 20
        assert _window_hits(pg, "octoclock", sort) == hits


@pytest.mark.corpus
def test_an_estimated_total_says_so_on_the_page_in_the_api_and_in_the_cli(
    usrp_roots: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(postgres, "EXACT_UP_TO", 10)
    monkeypatch.setattr(postgres, "EXACT_ARCHIVE", 0)
    root = usrp_roots[1]
    app = create_app(configlib.load(root))
    try:
        api = asgi_get(app, "/api/search?q=uhd").json()
        page = asgi_get(app, "/search.html?q=uhd").text
        rare = asgi_get(app, "/api/search?q=s:b210").json()
    finally:
        app.state.archive.close()
    assert api["total_exact"] is False and api["total"] > RANK_WINDOW
    assert f"About {api['total']} messages found" in page
    assert rare["total_exact"] is True  # the few matches of a rare word are counted
    shown = cli("search", "--archive", root, "uhd")
    assert shown.output.startswith(f"about {api['total']} messages match")
    as_json = json.loads(cli("search", "--archive", root, "--json", "uhd").output)
    assert as_json["total_exact"] is False


@pytest.mark.corpus
def test_postgresql_snippets_mark_the_words_found(both: tuple[Store, Store]) -> None:
    _, pg = both
    hits = search.run(pg, "b:firmware", per_page=20).hits
    assert hits and all("firmware" in h.snippet.lower() for h in hits[:5])
    assert any("\ue000" in h.snippet for h in hits)


# -- phrases narrowed down by word pairs -------------------------------------------------


def _pair_lexemes(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute(
        "SELECT count(*) FROM search_index, unnest(doc) u WHERE u.lexeme LIKE %s",
        (pgtext.PAIR_MARK + "%",),
    ).fetchone()
    return int(row[0]) if row else 0


def test_an_archive_indexed_before_word_pairs_finds_its_phrases_until_and_after_reindex(
    run: Run, tmp_path: Path, pg_url: str
) -> None:
    """Vectors written before schema 4 have no pair lexemes, so asking for a phrase's pairs
    would find nothing there: the store asks for them only once no such vector is left,
    which `piperarc reindex` makes so. A reader opened before the upgrade never asks."""
    root = tmp_path / "archive"
    run("init", root, "--list", "salon", "--db", pg_url)
    mbox = tmp_path / "salon.mbox"
    mbox.write_bytes(sample_mbox())
    run("import", "--archive", root, "--list", "salon", mbox)
    phrase = search.parse_query('"priority scheduler"')
    with psycopg.connect(pg_url, autocommit=True) as conn:
        assert _pair_lexemes(conn) > 0
        conn.execute(  # back to schema 3: no pairs, no paired column
            "UPDATE search_index SET doc = ts_delete(doc, (SELECT coalesce(array_agg(lexeme), "
            "'{}') FROM unnest(doc) WHERE lexeme LIKE %s))",
            (pgtext.PAIR_MARK + "%",),
        )
        conn.execute("ALTER TABLE search_index DROP COLUMN paired")
        conn.execute("UPDATE schema_version SET version = 3")
        assert _pair_lexemes(conn) == 0
        with_pairs = pgtext.match_query(phrase, pairs=True)
        found = conn.execute(
            "SELECT count(*) FROM search_index WHERE doc @@ %s::tsquery", (with_pairs,)
        ).fetchone()
        assert found == (0,)  # why the store must not ask for pairs yet
    reader = open_store(pg_url, readonly=True)  # a `serve` started before the upgrade
    upgraded = open_store(pg_url)  # schema 4: every vector not paired
    try:
        for store in (reader, upgraded):
            assert search.run(store, '"priority scheduler"').total == 4
        assert reader.index_warning() is None  # schema 3: nothing it could tell
        assert upgraded.index_warning() == (
            "27 messages were indexed before word pairs: phrase searches are slow until "
            "`piperarc reindex`"
        )
        assert "indexed before word pairs" in run("stats", "--archive", root).stderr
        assert run("reindex", "--archive", root).exit_code == 0
        assert upgraded.index_warning() is None
        with psycopg.connect(pg_url, autocommit=True) as conn:
            unpaired = conn.execute("SELECT count(*) FROM search_index WHERE NOT paired")
            assert unpaired.fetchone() == (0,)
            assert _pair_lexemes(conn) > 0
        for store in (reader, upgraded):
            assert search.run(store, '"priority scheduler"').total == 4
            assert search.run(store, '"scheduler priority"').total == 0
    finally:
        reader.close()
        upgraded.close()


def test_every_two_adjacent_words_of_a_column_make_a_pair_and_no_others() -> None:
    text = IndexText(
        subject="Apollo guidance",
        sender="Margaret Hamilton",
        body="executive overflow",
        quoted="priority displays",
        files="apollo-report.pdf",
    )
    pairs = re.findall(f"'{pgtext.PAIR_MARK}([^']*)'", pgtext.vector(text, ""))
    # Not "guidance margaret" (two columns), nor "apollo report" (file names are only
    # searched by their marked words).
    assert sorted(pairs) == [
        "apollo guidance",
        "executive overflow",
        "margaret hamilton",
        "priority displays",
    ]


_LEXEME = re.compile(r"'([^']*)'(:[^ ]*)?")  # a lexeme of tsvector text, and its positions


def test_a_vector_is_the_same_whether_its_size_is_counted_word_by_word_or_not() -> None:
    """vector() counts a vector's size word by word only when the message could fill it;
    both ways give the same lexemes, past PostgreSQL's last position too."""
    texts = [prepare(RawMail(m, None, "t")).index for m in sample_messages()]
    long_body = " ".join(f"w{i % 300}" for i in range(17_000))  # positions past 16,383
    texts.append(IndexText(subject="s", sender="a b", body=long_body, quoted="q r", files=""))
    for text in texts:
        columns = [
            pgtext.words(c)
            for c in (text.subject, text.sender, text.files, "", text.body, text.quoted)
        ]
        fast, counted = pgtext.vector(text, ""), pgtext._vector_in_part(columns)
        assert sorted(_LEXEME.findall(fast)) == sorted(_LEXEME.findall(counted))


def test_a_message_too_big_for_one_vector_is_indexed_in_part_with_every_pair(
    pg_url: str,
) -> None:
    """A tsvector holds 1 MB: a huge body is cut where the vector is full, so that every
    word kept has the pair that leads to it, and its phrases are found up to there (the
    same with its pairs asked for as without). Here the body ends with two of its first
    words the other way round: words already kept, but a new pair."""
    word = "{}{:06d}abcdefghij".format
    body = " ".join(f"{word('w', i)} {word('x', i)}" for i in range(20_000))
    body += f" {word('x', 0)} {word('w', 0)}"
    vector = pgtext.vector(IndexText(subject="", sender="", body=body, quoted="", files=""), "")
    kept = [int(n) for n in re.findall(r"'w(\d+)abcdefghij':", vector)]
    assert 1000 < len(kept) < 20_000 and sorted(kept) == list(range(len(kept)))
    with psycopg.connect(pg_url) as conn:

        def found(words: str, pairs: bool) -> bool:
            query = pgtext.match_query(search.parse_query(f'"{words}"'), pairs=pairs)
            row = conn.execute("SELECT %s::tsvector @@ %s::tsquery", (vector, query)).fetchone()
            return bool(row and row[0])

        for n in (0, len(kept) // 2, len(kept) - 2):
            words = f"{word('w', n)} {word('x', n)} {word('w', n + 1)}"
            assert found(words, pairs=True) and found(words, pairs=False), n
        reversed_words = f"{word('x', 0)} {word('w', 0)}"
        assert found(reversed_words, pairs=True) == found(reversed_words, pairs=False)


def test_pointing_an_archive_at_another_database_keeps_every_other_line(
    run: Run, tmp_path: Path
) -> None:
    root = tmp_path / "archive"
    run("init", root, "--list", "salon", "--title", "The Salon")
    before = (root / configlib.CONFIG_NAME).read_text(encoding="utf-8")
    configlib.set_database(root, "postgresql://db.example.org/lists")
    configlib.set_database(root, "other.sqlite3")
    after = (root / configlib.CONFIG_NAME).read_text(encoding="utf-8")
    assert after.replace('database = "other.sqlite3"\n', "") == before
    assert configlib.load(root).database == root / "other.sqlite3"


def _replies(store: Store, list_name: str) -> dict[str, list[int]]:
    """Each referenced Message-ID with the messages naming it, as the store finds them."""
    named = {ref for s in store.summaries(list_name) for ref in s.references}
    return {
        mid: sorted(s.num for s in store.summaries_referencing(list_name, [mid]))
        for mid in sorted(named)
    }


def _expected_replies(store: Store, list_name: str) -> dict[str, list[int]]:
    """The same, read from every message's references."""
    found: dict[str, list[int]] = {}
    for s in store.summaries(list_name):
        for ref in dict.fromkeys(s.references):
            found.setdefault(ref, []).append(s.num)
    return dict(sorted(found.items()))


def test_an_archive_from_before_live_delivery_learns_who_references_whom(pg_url: str) -> None:
    import psycopg

    store = open_store(pg_url)
    store.ensure_list("salon")
    store.add_messages("salon", [prepare(RawMail(m, None, "t")) for m in sample_messages()], 0)
    store.close()
    with psycopg.connect(pg_url, autocommit=True) as conn:  # back to schema version 1
        conn.execute(
            "DROP TABLE message_refs; DROP INDEX messages_by_subject, messages_starters, "
            "messages_by_date; CREATE INDEX messages_by_date ON messages (list_id, date_utc); "
            "ALTER TABLE search_index DROP COLUMN paired; UPDATE schema_version SET version = 1"
        )
    upgraded = open_store(pg_url)
    try:
        expected = _expected_replies(upgraded, "salon")
        assert expected and _replies(upgraded, "salon") == expected
    finally:
        upgraded.close()


def test_a_migrated_archive_knows_who_references_whom_both_ways(
    run: Run, tmp_path: Path, pg_url: str
) -> None:
    root = tmp_path / "archive"
    run("init", root, "--list", "salon")
    (tmp_path / "s.mbox").write_bytes(sample_mbox())
    run("import", "--archive", root, "--list", "salon", tmp_path / "s.mbox")
    for target in (pg_url, tmp_path / "back.sqlite3"):
        assert run("migrate", "--archive", root, "--to", target).exit_code == 0
        copy = open_store(target)
        try:
            expected = _expected_replies(copy, "salon")
            assert expected and _replies(copy, "salon") == expected
        finally:
            copy.close()


@pytest.mark.corpus
@pytest.mark.slow
def test_delivering_one_by_one_to_postgresql_threads_the_list_as_one_import_does(
    tmp_path: Path, pg_url: str
) -> None:
    # test_placing.py does this with 5000 messages on SQLite; here the PostgreSQL reads.
    mbox = tmp_path / "linux-man.mbox"
    mbox.write_bytes(lzma.decompress(corpus_path("lists", "linux-man-10k.mbox.xz").read_bytes()))
    store = open_store(pg_url)
    try:
        store.ensure_list("lm")
        for count, mail in enumerate(read_messages(mbox, "mboxrd")):
            if count == 800:
                break
            store.add_messages("lm", [prepare(mail)], 1_700_000_000)
            assert not placing.place_pending(store, "lm").full
        placed = {
            s.num: (s.thread_key, s.parent_num, s.depth, s.thread_pos)
            for s in store.summaries("lm")
        }
        expected = {
            p.num: (p.thread_key, p.parent_num, p.depth, p.thread_pos)
            for p in threads.thread(store.summaries("lm"))
        }
    finally:
        store.close()
    assert len(placed) == 800 and placed == expected
