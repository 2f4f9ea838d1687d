"""SQLite keeps the search index in a file of its own beside the archive file, so that a
thread writes it while the messages are stored (SQLite has one writer per file). The two
files never disagree about a stored message: the index commits first, and an entry it
kept for a message whose own commit never came is deleted by the next write."""

from __future__ import annotations

import resource
import signal
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from piperarc.errors import StoreError
from piperarc.ingest import deliver
from piperarc.ingest.sources import RawMail
from piperarc.ingest.sources.sample import sample_mbox
from piperarc.model import NewMessage, SearchQuery, SearchTerm
from piperarc.store import SQLiteStore, open_store
from piperarc.store.sqlite import MIGRATIONS, MOVED_INDEX, PARALLEL_INDEX, index_path
from piperarc.store.sqlite import writes as sqlite_store  # where _INDEX_INSERT is read
from tests.conftest import Run


def _mail(n: int, word: str = "") -> bytes:
    return (
        f"From: Ann <ann@example.org>\nSubject: note {n}\nMessage-ID: <n{n}@example.org>\n"
        f"Date: Mon, 1 Jan 2024 00:00:{n % 60:02d} +0000\n\nbody of note {n} {word}\n"
    ).encode()


def _new(raw: bytes) -> NewMessage:
    return deliver.prepare(RawMail(raw, None, "test"))


def _search(store: SQLiteStore, word: str) -> tuple[int, list[int]]:
    total, hits, _ = store.search(
        SearchQuery(((SearchTerm(word),),)), by_date=True, limit=50, offset=0
    )
    return total, sorted(h.num for h in hits)


def _store_at(database: Path, *batches: list[NewMessage]) -> None:
    """An archive file at `database` holding `batches`, each added in one call."""
    store = open_store(database)
    store.ensure_list("salon")
    for batch in batches:
        store.add_messages("salon", batch, 0)
    store.close()


def _index_rows(database: Path) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(index_path(database))) as db:
        return db.execute("SELECT rowid, * FROM search_index ORDER BY rowid").fetchall()


def test_the_index_is_a_file_beside_the_archive_holding_one_entry_per_message(
    tmp_path: Path,
) -> None:
    database = tmp_path / "archive.sqlite3"
    _store_at(database, [_new(_mail(n)) for n in range(3)])
    assert index_path(database) == tmp_path / "archive-search.sqlite3"
    assert [row[0] for row in _index_rows(database)] == [1, 2, 3]
    with closing(sqlite3.connect(database)) as db:
        assert not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'search_index'").fetchall()


def test_a_batch_indexed_by_the_thread_matches_one_indexed_message_by_message(
    tmp_path: Path,
) -> None:
    mails = [_new(_mail(n, "ferret" if n % 3 == 0 else "")) for n in range(PARALLEL_INDEX + 8)]
    together = tmp_path / "together.sqlite3"
    apart = tmp_path / "apart.sqlite3"
    _store_at(together, mails)  # one batch: a thread writes the index
    _store_at(apart, *([mail] for mail in mails))  # written at once, one by one
    assert _index_rows(together) == _index_rows(apart)
    assert len(_index_rows(together)) == len(mails)


def test_a_batch_whose_index_cannot_be_written_is_not_stored_at_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "archive.sqlite3"
    store = open_store(database)
    store.ensure_list("salon")
    # The indexing thread's statement fails (as a full disk or a broken index would).
    monkeypatch.setattr(sqlite_store, "_INDEX_INSERT", "INSERT INTO no_such_table VALUES (?)")
    with pytest.raises(StoreError, match="cannot store messages"):
        store.add_messages("salon", [_new(_mail(n)) for n in range(PARALLEL_INDEX)], 0)
    store.close()
    with closing(sqlite3.connect(database)) as db:
        assert db.execute("SELECT count(*) FROM messages").fetchone() == (0,)
    assert _index_rows(database) == []


def test_an_entry_left_by_a_crash_between_the_two_commits_goes_at_the_next_write(
    tmp_path: Path,
) -> None:
    database = tmp_path / "archive.sqlite3"
    store = SQLiteStore(database)
    store.ensure_list("salon")
    store.add_messages("salon", [_new(_mail(1))], 0)
    # What a kill leaves after the index file committed and before the archive file did:
    # an entry numbered after the last message, for mail that was never stored.
    with closing(sqlite3.connect(index_path(database))) as db:
        db.execute(
            "INSERT INTO search_index (rowid, subject, sender, body, quoted, files, facets) "
            "VALUES (2, 'lost', '', 'wombat', '', '', '')"
        )
        db.commit()
    store.add_messages("salon", [_new(_mail(2, "badger"))], 0)  # takes row 2 itself
    assert _search(store, "wombat") == (0, [])
    assert _search(store, "badger") == (1, [2])
    store.close()


def test_an_archive_from_before_the_index_file_gets_its_index_moved_into_one(
    tmp_path: Path,
) -> None:
    database = tmp_path / "archive.sqlite3"
    _store_at(database, [_new(_mail(n, "otter" if n == 2 else "")) for n in range(4)])
    rows = _index_rows(database)
    # Made as the schema before the move had it: the index inside the archive file.
    with closing(sqlite3.connect(database)) as db:
        db.executescript(MIGRATIONS[1])
        db.executemany(
            "INSERT INTO search_index (rowid, subject, sender, body, quoted, files, facets) "
            "VALUES (?,?,?,?,?,?,?)",
            rows,
        )
        db.execute(f"PRAGMA user_version = {MOVED_INDEX - 1}")
        db.commit()
    index_path(database).unlink()
    old = SQLiteStore(database, readonly=True)  # a reader before any upgrade finds it too
    assert _search(old, "otter") == (1, [3])
    old.close()
    store = SQLiteStore(database)
    assert _search(store, "otter") == (1, [3])
    store.close()
    assert _index_rows(database) == rows
    with closing(sqlite3.connect(database)) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'search_index'").fetchall()


def _file_size_limited(limit: int) -> None:
    """In the child: no file may grow past `limit` bytes, as on a full disk."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_an_import_that_fills_the_disk_leaves_no_message_without_its_index_entry(
    tmp_path: Path,
) -> None:
    root = tmp_path / "archive"
    cli = [sys.executable, "-m", "piperarc.cli"]
    subprocess.run([*cli, "init", str(root), "--list", "salon"], check=True)
    filler = "".join(f"line {i} of a long note\n" for i in range(300))
    mbox = tmp_path / "notes.mbox"
    mbox.write_bytes(
        b"".join(
            b"From ann@example.org Mon Jan  1 00:00:00 2024\n" + _mail(n, filler) + b"\n"
            for n in range(400)
        )
    )
    imports = [*cli, "import", "--archive", str(root), "--list", "salon", str(mbox)]
    full = subprocess.run(
        imports,
        capture_output=True,
        preexec_fn=lambda: _file_size_limited(1024 * 1024),
        check=False,
    )
    assert full.returncode != 0
    assert b"cannot store messages" in full.stderr, full.stderr
    database = root / "archive.sqlite3"

    def counts() -> tuple[int, int]:
        with closing(sqlite3.connect(database)) as db:
            db.execute("ATTACH DATABASE ? AS search", (str(index_path(database)),))
            messages = db.execute("SELECT count(*) FROM messages").fetchone()[0]
            indexed = db.execute(
                "SELECT count(*) FROM search_index s JOIN messages m ON m.id = s.rowid"
            ).fetchone()[0]
            return messages, indexed

    stored, indexed = counts()
    assert stored == indexed < 400
    again = subprocess.run(imports, capture_output=True, check=False)
    assert again.returncode == 0, again.stderr
    assert counts() == (400, 400)


def test_a_lost_index_file_is_reported_until_reindex_brings_it_back(
    run: Run, tmp_path: Path
) -> None:
    """Back-ups that kept only archive.sqlite3, or an index file from an older copy: the
    commands that search or add say so instead of quietly finding less."""
    root = tmp_path / "archive"
    run("init", root, "--list", "salon")
    mbox = tmp_path / "salon.mbox"
    mbox.write_bytes(sample_mbox())
    run("import", "--archive", root, "--list", "salon", mbox)
    older = tmp_path / "older-search.sqlite3"
    with closing(sqlite3.connect(index_path(root / "archive.sqlite3"))) as db:
        db.execute("VACUUM INTO ?", (str(older),))  # the index of 27 messages
    for leftover in root.glob("archive-search.sqlite3*"):
        leftover.unlink()

    searched = run("search", "--archive", root, "analytical engine")
    assert searched.exit_code == 1
    assert "index file archive-search.sqlite3 is missing" in searched.stderr
    assert "piperarc reindex" in searched.stderr.splitlines()[-1]  # the error says it too

    older.replace(index_path(root / "archive.sqlite3"))
    one = _mail(99, "zeppelin")
    run("import", "--archive", root, "--list", "salon", "-", input=one)  # indexed, 28
    with closing(sqlite3.connect(index_path(root / "archive.sqlite3"))) as db:
        db.execute("DELETE FROM search_index WHERE rowid = (SELECT max(rowid) FROM search_index)")
        db.commit()  # as if the index came from a copy made before the last import
    searched = run("search", "--archive", root, "zeppelin")  # a writer would rebuild it
    assert "is behind the archive" in searched.stderr
    assert (
        run("reindex", "--archive", root).stdout
        == "salon: indexed 28 messages, rethreaded (0 moved)\n"
    )
    for command in (("stats",), ("search", "zeppelin"), ("import", "--list", "salon", mbox)):
        result = run(command[0], "--archive", root, *command[1:])
        assert result.exit_code == 0 and "warning" not in result.stderr, command
    assert "1 message matches" in run("search", "--archive", root, "zeppelin").stdout
