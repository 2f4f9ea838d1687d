"""Whether the SQLite archive file is the archive it recorded, checked on every open by
reading a few pages, whatever the archive's size (no scan).

Each damage leaves its own trace:
- a file cut short keeps its header, which says how many pages it has (SQLite writes the
  count at every commit): fewer bytes than that is a truncation;
- a zeroed or overwritten file has lost SQLite's 16-byte magic;
- a 0-byte file is never an archive: a new one is made whole under another name and
  linked into place (create_whole), so none is ever seen empty while in the making;
- a lost WAL leaves a file that is whole but older: it holds fewer messages than the
  search index file recorded (RECORD: every write transaction records there how many the
  archive held as it began). The last message's id is that count, read from one b-tree
  path; a removed message (`piperarc remove`) leaves its id in its tombstone, which counts
  as held.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

from piperarc.errors import DamagedArchiveError, StoreError

HEADER = 100  # bytes of SQLite's file header
MAGIC = b"SQLite format 3\x00"
EMPTY = "is empty (0 bytes)"

# A checkpoint copies the WAL's pages back into the file, page 1 (with the new page count)
# among the first: while it runs, or after a process was killed in the middle of one, the
# header is ahead of the file, and the WAL still holds every page the file lacks (SQLite
# completes the copy on the next open). A file shorter than its header is damage only when
# there is no WAL to make up the difference.

# The archive file's tables by the schema version that brought them (schema.MIGRATIONS).
TABLES = (
    (1, "lists"),
    (1, "messages"),
    (1, "contents"),
    (3, "message_refs"),
    (6, "old_links"),
    (6, "message_origins"),
    (7, "tombstones"),
)

# The record of what the archive held, in the search index file (INDEX_MIGRATIONS 2).
RECORD = "archive_record"
WRITE_RECORD = (
    f"INSERT INTO {RECORD} (one, messages) VALUES (1, ?) "
    "ON CONFLICT (one) DO UPDATE SET messages = excluded.messages"
)


def check_file(path: Path) -> None:
    """Refuse a file that cannot be an archive: empty, not SQLite, or shorter than its own
    header says. Nothing to check when there is no file."""
    problem = file_problem(path)
    if problem is not None:
        raise DamagedArchiveError(problem, path)


def check_index_file(index: Path) -> None:
    """Refuse a search index file that is not SQLite (zeroed, overwritten, cut short),
    saying the cure: it is derived, and rebuilt whole from the archive once deleted. An
    empty one passes: SQLite makes it anew, and the next write fills it."""
    problem = file_problem(index)
    if problem is not None and not problem.startswith(EMPTY):
        raise DamagedArchiveError(
            f"the search index file {problem}: delete it, the next write rebuilds it "
            "from the archive",
            index,
        )


def file_problem(path: Path) -> str | None:
    """What is wrong with the file at `path` as a SQLite database, or None."""
    try:
        found = _measure(path)
    except FileNotFoundError:
        return None
    except OSError as err:
        raise StoreError(f"cannot read the database: {err}", path) from err
    if isinstance(found, str):
        return found
    size, expected = found
    if size < expected and not _wal_in_use(path):
        return (
            f"is cut short: {size} bytes where its header says {expected} (a truncated "
            "file, or a copy that stopped midway)"
        )
    return None


def _measure(path: Path) -> tuple[int, int] | str:
    """(the file's size, the size its header says it has), or what is wrong with it."""
    with path.open("rb") as fh:
        header = fh.read(HEADER)
        size = os.fstat(fh.fileno()).st_size
    if size == 0:
        return f"{EMPTY} where an archive's database was"
    if not header.startswith(MAGIC):
        return "is not a SQLite database (its first bytes are not SQLite's: zeroed or overwritten)"
    if len(header) < HEADER:
        return size, HEADER
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    # The page count is valid only when written by the commit that last changed the file
    # (SQLite before 3.7.0 did not keep it): else nothing to compare.
    if pages == 0 or header[24:28] != header[92:96]:
        return size, 0
    return size, pages * page_size


def _wal_in_use(path: Path) -> bool:
    """Whether the file's WAL holds frames (a checkpoint may be copying them back)."""
    wal = path.with_name(path.name + "-wal")
    try:
        return wal.stat().st_size > 32  # the WAL's own header is 32 bytes
    except FileNotFoundError:
        return False


def check_contents(db: sqlite3.Connection, path: Path, recorded: int | None, index: str) -> None:
    """Refuse an archive file whose tables are not all there for its schema version, or
    that holds fewer messages than `recorded` (as read, before this, from the index file
    named `index`; None when it records nothing yet)."""
    try:
        version = int(db.execute("PRAGMA main.user_version").fetchone()[0])
        tables = {
            row[0] for row in db.execute("SELECT name FROM main.sqlite_master WHERE type='table'")
        }
        for since, table in TABLES:
            if version >= since and table not in tables:
                raise DamagedArchiveError(
                    f"table {table} is missing (schema version {version})", path
                )
        held = 0
        if version >= 1:
            held = db.execute("SELECT max(id) FROM main.messages").fetchone()[0] or 0
        if version >= 7:
            removed = db.execute("SELECT max(message_id) FROM main.tombstones").fetchone()[0]
            held = max(held, removed or 0)
    except sqlite3.DatabaseError as err:
        raise DamagedArchiveError(f"cannot be read: {err}", path) from err
    if recorded is not None and held < recorded:
        raise DamagedArchiveError(
            f"holds fewer messages than it recorded: {held}, where {index} recorded "
            f"{recorded} (a lost -wal file, or an older copy of the archive file put back "
            "beside a newer index file)",
            path,
        )


def read_record(db: sqlite3.Connection, schema: str, index: Path) -> int | None:
    """How many messages the archive held at its last write, as the index file recorded
    (None: an index file from before the record, or a new one)."""
    try:
        found = db.execute(
            f"SELECT name FROM {schema}.sqlite_master WHERE name = ?", (RECORD,)
        ).fetchone()
        if found is None:
            return None
        row = db.execute(f"SELECT messages FROM {schema}.{RECORD}").fetchone()
    except sqlite3.DatabaseError as err:
        raise DamagedArchiveError(
            f"cannot be read ({err}): delete it, the next write rebuilds it from the archive",
            index,
        ) from err
    return None if row is None else int(row[0])


def create_whole(path: Path, make: Callable[[sqlite3.Connection], None]) -> None:
    """Make a new archive file under another name (`make` brings it up to date), then link
    it into place: a file at `path` is never one still in the making, so an empty or
    half-made file there is damage, not a new archive."""
    making = path.with_name(f".{path.name}.{os.getpid()}.new")
    for leftover in (making, making.with_name(making.name + "-wal")):
        leftover.unlink(missing_ok=True)
    db = sqlite3.connect(making, isolation_level=None)
    try:
        make(db)
    finally:
        db.close()  # the last connection: its WAL is checkpointed into the file
    try:
        os.link(making, path)
    except FileExistsError:
        pass  # another process made it first, as whole as this one
    finally:
        making.unlink(missing_ok=True)
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    """Make the new name durable (POSIX: a directory entry needs its folder fsync'd)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # not every filesystem lets a folder be synced
    finally:
        os.close(fd)
