"""A damaged archive is refused, never read as an empty one nor written into (issue 14).

Each damage is made for real, as it happens to a file: cut short with its WAL lost (a crash
on a filesystem that lost the tail), a WAL lost with the commits in it (a copy that took
only archive.sqlite3, a crash before the disk had it), every byte zeroed (a filesystem
that zero-fills lost blocks), something else written over it, and a 0-byte file where an
archive was. Every command then says which file, what is wrong, and where to read how to
recover (docs/operating.md), without a traceback; `deliver` exits 75 so the MTA keeps the
mail. A lost search index file is rebuilt whole from the stored messages by the next
write. PostgreSQL: a schema with a table missing, or fewer messages than it recorded, is
refused the same way."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner

from piperarc import config as configlib
from piperarc.cli import main
from piperarc.ingest.live import EX_TEMPFAIL
from piperarc.store.sqlite import health
from tests.conftest import Run, cli, pg_schema

MESSAGES = 300
GUIDE = "docs/operating.md"


def _mail(n: int, word: str = "") -> bytes:
    return (
        f"From: Ann <ann@example.org>\nSubject: note {n}\nMessage-ID: <n{n}@example.org>\n"
        f"Date: Mon, 1 Jan 2024 00:{n // 60 % 60:02d}:{n % 60:02d} +0000\n\n"
        f"body of note {n} {word}\n"
    ).encode()


def _mbox(path: Path, numbers: range, word: Callable[[int], str] = lambda n: "") -> Path:
    path.write_bytes(
        b"".join(
            b"From ann@example.org Mon Jan  1 00:00:00 2024\n" + _mail(n, word(n)) + b"\n"
            for n in numbers
        )
    )
    return path


def _word(n: int) -> str:
    return "aardvark" if n == 3 else ""


@pytest.fixture(scope="module")
def whole(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite archive of 300 messages, closed (its WAL checkpointed away); copied by each
    test before it is damaged."""
    root = tmp_path_factory.mktemp("whole") / "archive"
    assert cli("init", root, "--list", "salon").exit_code == 0
    mbox = _mbox(root.parent / "salon.mbox", range(MESSAGES), _word)
    assert cli("import", "--archive", root, "--list", "salon", mbox).exit_code == 0
    assert not (root / "archive.sqlite3-wal").exists()
    return root


@pytest.fixture
def copy(whole: Path, tmp_path: Path) -> Path:
    """This test's own copy of the whole archive."""
    return Path(shutil.copytree(whole, tmp_path / "archive"))


def _database(root: Path) -> Path:
    database = configlib.load(root).database
    assert isinstance(database, Path)
    return database


def _deliver(root: Path, raw: bytes) -> int:
    """`piperarc deliver` of one message, as an MTA pipes it; its exit status."""
    result = CliRunner().invoke(main, ["deliver", "--archive", str(root), "--list", "salon"], raw)
    return result.exit_code


def _truncated(root: Path) -> None:
    """Cut to half its length, as a crash on a filesystem that lost the file's tail; the
    WAL (none after a clean close) is gone too."""
    database = _database(root)
    with database.open("r+b") as fh:
        fh.truncate(database.stat().st_size // 2)


def _emptied(root: Path) -> None:
    """0 bytes where the archive was (a truncation to nothing, a failed restore)."""
    _database(root).write_bytes(b"")


def _zeroed(root: Path) -> None:
    """Every byte zero, the length kept: what some filesystems leave of unwritten blocks."""
    database = _database(root)
    database.write_bytes(bytes(database.stat().st_size))


def _overwritten(root: Path) -> None:
    """Something that is not SQLite at all where the archive was."""
    _database(root).write_bytes(b"From ann@example.org Mon Jan  1 00:00:00 2024\n" * 200)


def _wal_lost(root: Path) -> None:
    """Five deliveries committed into the WAL, then the WAL lost: the archive file is whole
    but holds only what was checkpointed (the 300), and the index file knows of more."""
    database = _database(root)
    with closing(sqlite3.connect(database)) as holder:
        # Open, this connection keeps the last writer from checkpointing as it closes.
        holder.execute("SELECT count(*) FROM messages").fetchone()
        for n in range(MESSAGES, MESSAGES + 5):
            assert _deliver(root, _mail(n)) == 0
        assert (root / "archive.sqlite3-wal").stat().st_size > 0
        kept = database.read_bytes()  # the file as it is on disk, without its WAL
    for leftover in root.glob("archive.sqlite3-*"):
        leftover.unlink()
    database.write_bytes(kept)


DAMAGES = {
    "truncated": (_truncated, "is cut short"),
    "emptied": (_emptied, "is empty (0 bytes)"),
    "zeroed": (_zeroed, "is not a SQLite database"),
    "overwritten": (_overwritten, "is not a SQLite database"),
    "wal lost": (_wal_lost, "holds fewer messages than it recorded"),
}


@pytest.fixture(params=sorted(DAMAGES))
def damaged(request: pytest.FixtureRequest, copy: Path) -> Iterator[tuple[Path, str]]:
    """(the archive, damaged one way, and the words that name the damage)."""
    damage, named = DAMAGES[request.param]
    damage(copy)
    yield copy, named


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _refusal(stderr: str, named: str) -> None:
    """One line that names the archive file, the damage and the guide; no traceback."""
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "archive.sqlite3" in lines[0] and named in lines[0] and GUIDE in lines[0], lines[0]


def test_stats_on_a_damaged_archive_refuses_with_one_line_instead_of_counting_zero(
    damaged: tuple[Path, str], run: Run
) -> None:
    root, named = damaged
    result = run("stats", "--archive", root)
    assert result.exit_code == 1
    assert "messages" not in result.stdout
    _refusal(result.stderr, named)


@pytest.mark.parametrize("command", [("search", "note"), ("show", "--list", "salon", "n1@x")])
def test_reading_a_damaged_archive_refuses_with_one_line(
    damaged: tuple[Path, str], run: Run, command: tuple[str, ...]
) -> None:
    root, named = damaged
    result = run(command[0], "--archive", root, *command[1:])
    assert result.exit_code == 1
    _refusal(result.stderr, named)


def test_deliver_into_a_damaged_archive_exits_75_and_writes_nothing(
    damaged: tuple[Path, str], run: Run
) -> None:
    root, named = damaged
    before = _digest(_database(root))
    result = run("deliver", "--archive", root, "--list", "salon", input=_mail(9999))
    assert result.exit_code == EX_TEMPFAIL
    _refusal(result.stderr, named)
    assert _digest(_database(root)) == before


def test_import_into_a_damaged_archive_refuses_and_writes_nothing(
    damaged: tuple[Path, str], run: Run, tmp_path: Path
) -> None:
    root, named = damaged
    before = _digest(_database(root))
    mbox = _mbox(tmp_path / "more.mbox", range(MESSAGES + 10, MESSAGES + 12))
    result = run("import", "--archive", root, "--list", "salon", mbox)
    assert result.exit_code == 1
    _refusal(result.stderr, named)
    assert _digest(_database(root)) == before


def test_an_archive_file_cut_short_is_refused_without_its_index_file_too(
    copy: Path, run: Run
) -> None:
    """The file's own header says how long it is: no other record is needed."""
    _truncated(copy)
    for index in copy.glob("archive-search.sqlite3*"):
        index.unlink()
    _refusal(run("stats", "--archive", copy).stderr, "is cut short")


def test_a_whole_archive_opens_as_before(copy: Path, run: Run) -> None:
    result = run("stats", "--archive", copy)
    assert result.exit_code == 0 and result.stderr == ""
    assert result.stdout.startswith(f"salon: {MESSAGES} messages")


def test_a_lost_search_index_file_is_rebuilt_whole_by_the_next_import(
    run: Run, tmp_path: Path
) -> None:
    root = tmp_path / "archive"
    run("init", root, "--list", "salon")
    older = _mbox(tmp_path / "older.mbox", range(30), _word)
    run("import", "--archive", root, "--list", "salon", older)
    for index in root.glob("archive-search.sqlite3*"):
        index.unlink()
    one = run("import", "--archive", root, "--list", "salon", "-", input=_mail(30))
    assert one.exit_code == 0, one.output
    found = run("search", "--archive", root, "aardvark")
    assert (found.exit_code, found.stderr) == (0, "")
    assert found.stdout.startswith("1 message matches")
    assert run("search", "--archive", root, "note").stdout.startswith("31 messages match")


# -- PostgreSQL: the server keeps its own pages whole; what goes wrong is a schema restored
# in part, or tables emptied behind piperarc's back --


@pytest.fixture
def pg_archive(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """(an archive of 30 messages on PostgreSQL, its database URL)."""
    with pg_schema() as url:
        root = tmp_path / "archive"
        assert cli("init", root, "--list", "salon", "--db", url).exit_code == 0
        mbox = _mbox(tmp_path / "salon.mbox", range(30))
        assert cli("import", "--archive", root, "--list", "salon", mbox).exit_code == 0
        yield root, url


def _sql(url: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(statement.encode())


def test_a_postgresql_archive_missing_a_table_is_refused(
    pg_archive: tuple[Path, str], run: Run
) -> None:
    root, url = pg_archive
    _sql(url, "DROP TABLE contents")
    result = run("stats", "--archive", root)
    assert result.exit_code == 1
    assert "Traceback" not in result.stderr
    assert "table contents is missing" in result.stderr and GUIDE in result.stderr


def test_a_postgresql_archive_holding_fewer_messages_than_it_recorded_is_refused(
    pg_archive: tuple[Path, str], run: Run
) -> None:
    root, url = pg_archive
    _sql(url, "TRUNCATE messages, contents, search_index, message_refs")
    result = run("stats", "--archive", root)
    assert result.exit_code == 1
    assert "holds fewer messages than it recorded" in result.stderr and GUIDE in result.stderr
    delivered = run("deliver", "--archive", root, "--list", "salon", input=_mail(99))
    assert delivered.exit_code == EX_TEMPFAIL
    assert "holds fewer messages than it recorded" in delivered.stderr


def test_a_file_behind_its_header_with_a_wal_to_make_it_up_is_not_damage(copy: Path) -> None:
    # What a process killed in the middle of a checkpoint leaves: page 1 (the new page
    # count) copied back, the pages after it not yet; the WAL still holds them all, and
    # SQLite finishes the copy on the next open. (kill -9 during an import left this.)
    database = _database(copy)
    size = database.stat().st_size
    with database.open("r+b") as fh:
        fh.truncate(size // 2)
    wal = database.with_name(database.name + "-wal")
    wal.write_bytes(b"\x37\x7f\x06\x82" + bytes(4096))  # a WAL header and a frame's worth
    assert health.file_problem(database) is None
    wal.unlink()
    assert "is cut short" in (health.file_problem(database) or "")
