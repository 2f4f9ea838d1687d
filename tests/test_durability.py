"""What a mail server promises: a message acknowledged is on disk. `deliver` and `lmtp` are
killed with SIGKILL at random moments while mail streams in (20 rounds of 25 messages each,
500 in all, for each); then every acknowledged message is in the archive exactly once, the
database passes PRAGMA integrity_check, and no message is half-stored (a message row without
its content or its search entry). What was not acknowledged is then sent again, as an MTA
retries, and everything is in the archive exactly once."""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest

from piperarc import config as configlib
from piperarc.store.sqlite import index_path
from tests.livehelpers import PIPERARC, message, start_lmtp
from tests.lmtpclient import LMTPClient

ROUNDS = 20
PER_ROUND = 25
pytestmark = pytest.mark.slow


def _check_archive(archive: Path) -> list[str]:
    """The stored Message-IDs, after checking the database whole and every message whole."""
    database = configlib.load(archive).database
    if not isinstance(database, Path):
        return _check_postgresql(database)
    db = sqlite3.connect(database)
    db.execute("ATTACH DATABASE ? AS search", (str(index_path(database)),))
    try:
        for schema in ("main", "search"):
            assert db.execute(f"PRAGMA {schema}.integrity_check").fetchall() == [("ok",)]
        messages = db.execute("SELECT count(*) FROM messages").fetchone()[0]
        assert db.execute("SELECT count(*) FROM contents").fetchone()[0] == messages
        # Every message has its search entry. The index file commits first, so a kill
        # between the two commits may leave an entry above the last message, for mail
        # that was not stored (the next write deletes it); never one among them.
        indexed = db.execute(
            "SELECT count(*) FROM search_index s JOIN messages m ON m.id = s.rowid"
        ).fetchone()[0]
        below_last = db.execute(
            "SELECT count(*) FROM search_index WHERE rowid <= (SELECT max(id) FROM messages)"
        ).fetchone()[0]
        assert indexed == below_last == messages
        assert db.execute(
            "SELECT count(*) FROM messages m LEFT JOIN contents c ON c.message_id = m.id "
            "WHERE c.raw IS NULL"
        ).fetchone() == (0,)
        return [row[0] for row in db.execute("SELECT mid FROM messages")]
    finally:
        db.close()


def _check_postgresql(url: str) -> list[str]:
    """As _check_archive, on PostgreSQL (whose own pages the server checks)."""
    import psycopg

    with psycopg.connect(url) as db:
        messages = db.execute("SELECT count(*) FROM messages").fetchone()
        assert messages is not None
        for table in ("contents", "search_index"):
            assert db.execute(f"SELECT count(*) FROM {table}".encode()).fetchone() == messages
        return [row[0] for row in db.execute("SELECT mid FROM messages")]


def _tag(n: int) -> str:
    return f"m{n}@test.example"


def _mail(n: int) -> bytes:
    # Every fifth message replies to an earlier one: threads merge and grow as they arrive.
    return message(n, parent=n - 3 if n % 5 == 4 else None)


def _deliver(archive: Path, n: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [PIPERARC, "deliver", "--archive", str(archive), "--list", "salon"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdin is not None
    try:
        proc.stdin.write(_mail(n))
        proc.stdin.close()
    except BrokenPipeError:
        pass
    return proc


def test_deliver_killed_at_random_loses_no_acknowledged_message(archive: Path) -> None:
    # No built site here (each process would compile the page templates, a third of a
    # second): this is about the store and the acknowledgement.
    rng = random.Random(6)
    acked: set[int] = set()
    killed: list[int] = []
    took = [1.0]  # how long deliveries take here (a loaded machine is slow): kill within that
    lock = threading.Lock()

    def one(n: int) -> None:
        started = time.monotonic()
        proc = _deliver(archive, n)
        if rng.random() < 0.5:  # half of them are killed, at any point of their run
            try:
                proc.wait(timeout=rng.uniform(0.0, 1.5 * sorted(took)[len(took) // 2]))
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                with lock:
                    killed.append(n)
        if proc.wait() == 0:
            with lock:
                acked.add(n)
                took.append(time.monotonic() - started)

    for r in range(ROUNDS):
        # The round's messages stream in as pipe deliveries, five at a time.
        numbers = list(range(r * PER_ROUND, (r + 1) * PER_ROUND))
        for start in range(0, PER_ROUND, 5):
            wave = [threading.Thread(target=one, args=(n,)) for n in numbers[start : start + 5]]
            for t in wave:
                t.start()
            for t in wave:
                t.join()
    stored = _check_archive(archive)
    assert len(stored) == len(set(stored))
    assert {_tag(n) for n in acked} <= set(stored)
    assert killed and acked
    # The MTA retries what was not acknowledged.
    for n in sorted(set(range(ROUNDS * PER_ROUND)) - acked):
        assert _deliver(archive, n).wait() == 0
    stored = _check_archive(archive)
    assert sorted(stored) == sorted(_tag(n) for n in range(ROUNDS * PER_ROUND))


def test_lmtp_killed_at_random_loses_no_acknowledged_message(archive: Path) -> None:
    rng = random.Random(7)
    acked: set[int] = set()
    lock = threading.Lock()

    def stream(address: str, numbers: list[int]) -> None:
        try:
            client = LMTPClient(address, timeout=20)
        except OSError:
            return  # killed before it accepted us
        try:
            for n in numbers:
                if client.send("a@test.example", ["salon@example.org"], _mail(n))[0][:3] == "250":
                    with lock:
                        acked.add(n)
        except OSError:
            pass  # the server died under us: the rest is not acknowledged
        finally:
            client.close()

    for r in range(ROUNDS):
        proc, address = start_lmtp(archive)
        numbers = list(range(r * PER_ROUND, (r + 1) * PER_ROUND))
        # Four clients at once, each streaming its share.
        clients = [threading.Thread(target=stream, args=(address, numbers[i::4])) for i in range(4)]
        for t in clients:
            t.start()
        # Killed just after a random number of this round's acknowledgements (however fast
        # the machine is), or at once when that number is 0: always mid-stream.
        cut = rng.randrange(PER_ROUND)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any(t.is_alive() for t in clients):
            with lock:
                if len(acked.intersection(numbers)) >= cut:
                    break
            time.sleep(0.001)
        time.sleep(rng.uniform(0.0, 0.01))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        for t in clients:
            t.join()
    stored = _check_archive(archive)
    assert len(stored) == len(set(stored))
    assert {_tag(n) for n in acked} <= set(stored)
    assert acked and len(acked) < ROUNDS * PER_ROUND  # some were cut off
    # The MTA retries what was not acknowledged.
    proc, address = start_lmtp(archive)
    client = LMTPClient(address)
    for n in sorted(set(range(ROUNDS * PER_ROUND)) - acked):
        assert client.send("a@test.example", ["salon@example.org"], _mail(n))[0][:3] == "250"
    client.close()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    stored = _check_archive(archive)
    assert sorted(stored) == sorted(_tag(n) for n in range(ROUNDS * PER_ROUND))
