"""`piperarc lmtp`: per-recipient replies after commit (RFC 2033), unknown lists refused at
RCPT, a clean stop on SIGTERM, many clients at once while `serve` answers, and no bounce (5xx)
for what is not the sender's fault: long lines, a failing disk, an error of ours."""

from __future__ import annotations

import asyncio
import concurrent.futures
import resource
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from piperarc import config as configlib
from piperarc.ingest import lmtp
from piperarc.store import AddResult, open_store
from tests.conftest import Run
from tests.livehelpers import PIPERARC, message, start_lmtp
from tests.lmtpclient import LMTPClient


@pytest.fixture
def server(archive: Path) -> Iterator[str]:
    proc, address = start_lmtp(archive)
    yield address
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)


def _mids(archive: Path) -> list[str]:
    store = open_store(configlib.load(archive).database, readonly=True)
    try:
        if "salon" not in store.list_names():
            return []
        return [s.mid for s in store.summaries("salon")]
    finally:
        store.close()


def test_each_recipient_gets_a_250_once_the_message_is_stored(archive: Path, server: str) -> None:
    client = LMTPClient(server)
    replies = client.send(
        "a@test.example", ["salon@example.org", "SALON@elsewhere.net"], message(1)
    )
    client.close()
    assert [r[:3] for r in replies] == ["250", "250"]
    assert _mids(archive) == ["m1@test.example"]


def test_an_unknown_list_is_refused_with_550_at_rcpt(archive: Path, server: str) -> None:
    client = LMTPClient(server)
    replies = client.send("a@test.example", ["nobody@example.org"], message(2))
    both = client.send("a@test.example", ["nobody@example.org", "salon@example.org"], message(3))
    client.close()
    assert replies[0].startswith("550")
    assert both[0].startswith("550") and both[1].startswith("250")
    assert _mids(archive) == ["m3@test.example"]


def test_a_message_sent_twice_is_stored_once_and_acknowledged_both_times(
    archive: Path, server: str
) -> None:
    client = LMTPClient(server)
    first = client.send("a@test.example", ["salon@example.org"], message(4))
    second = client.send("a@test.example", ["salon@example.org"], message(4))
    client.close()
    assert first[0].startswith("250") and second[0].startswith("250")
    assert _mids(archive) == ["m4@test.example"]


def test_a_removed_message_sent_again_is_acknowledged_and_not_archived(
    archive: Path, server: str, run: Run
) -> None:
    client = LMTPClient(server)
    client.send("a@test.example", ["salon@example.org"], message(5))
    removed = run("remove", "--archive", archive, "--list", "salon", "m5@test.example",
                  "--reason", "spam")  # fmt: skip
    assert removed.exit_code == 0, removed.output
    again = client.send("a@test.example", ["salon@example.org"], message(5))
    client.close()
    assert again[0].startswith("250")  # no bounce: the sender did nothing wrong
    assert "removed earlier" in again[0]
    assert _mids(archive) == []


def test_sigterm_stops_the_server_after_what_it_acknowledged(archive: Path) -> None:
    proc, address = start_lmtp(archive)
    client = LMTPClient(address)
    assert client.send("a@test.example", ["salon@example.org"], message(5))[0].startswith("250")
    proc.send_signal(signal.SIGTERM)  # the session is still open: the server ends it
    assert proc.wait(timeout=60) == 0
    client.close()
    assert _mids(archive) == ["m5@test.example"]
    with pytest.raises(OSError):
        LMTPClient(address, timeout=2)


def test_a_unix_socket_works_as_well(archive: Path, tmp_path: Path) -> None:
    proc, address = start_lmtp(archive, f"unix:{tmp_path / 'lmtp.sock'}")
    try:
        client = LMTPClient(address)
        assert client.send("a@test.example", ["salon@x.org"], message(6))[0].startswith("250")
        client.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    assert _mids(archive) == ["m6@test.example"]


def _stored_raw(archive: Path) -> list[bytes]:
    store = open_store(configlib.load(archive).database, readonly=True)
    try:
        return [raw for _, _, raw in store.iter_raw("salon")]
    finally:
        store.close()


def test_a_line_of_5000_bytes_is_stored_byte_exact(archive: Path, server: str) -> None:
    # RFC 5322 asks for lines of at most 998 octets; 14 of linux-man's 10,000 break it.
    long_line = b"".join(b"%04d " % i for i in range(1000))
    raw = message(7).replace(b"\n", b"\r\n") + long_line + b"\r\n"
    client = LMTPClient(server)
    replies = client.send("a@test.example", ["salon@example.org"], raw)
    client.close()
    assert replies[0].startswith("250"), replies
    assert _stored_raw(archive) == [raw]


def _file_size_limited(limit: int) -> None:
    """In the server: files may not grow past `limit` bytes, as on a full disk (writes fail
    with EFBIG; SIGXFSZ ignored so the write returns the error instead of killing)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_a_full_disk_answers_451_and_the_server_goes_on(run: Run, tmp_path: Path) -> None:
    # SQLite only: on PostgreSQL the server's disk fills, not this process's.
    root = tmp_path / "archive"
    run("init", root, "--list", "salon")
    port = _free_port()
    with (root / "lmtp.log").open("wb") as log:
        proc = subprocess.Popen(
            [PIPERARC, "lmtp", "--archive", str(root), "--listen", f"127.0.0.1:{port}"],
            stderr=log,
            preexec_fn=lambda: _file_size_limited(512 * 1024),
        )
    try:
        client = _connect(f"127.0.0.1:{port}")
        big = message(8) + b"".join(b"line %d of a long message\n" % i for i in range(40_000))
        full = client.send("a@test.example", ["salon@example.org"], big)
        small = client.send("a@test.example", ["salon@example.org"], message(9))
        client.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    assert full[0].startswith("451"), full
    assert small[0].startswith("250"), small
    assert _mids(root) == ["m9@test.example"]


def _connect(address: str) -> LMTPClient:
    deadline = time.monotonic() + 60
    while True:
        try:
            return LMTPClient(address)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class _BrokenCommitter:
    """A committer with a bug: every submit raises."""

    def submit(self, list_name: str, raw: bytes) -> concurrent.futures.Future[AddResult]:
        raise RuntimeError("a bug in piperarc")


def test_an_error_of_ours_answers_451_to_each_recipient(archive: Path) -> None:
    handler = lmtp.Handler(configlib.load(archive), _BrokenCommitter())  # type: ignore[arg-type]
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(
        loop.create_server(lambda: lmtp.session(handler), "127.0.0.1", 0)
    )
    address = f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
    thread = threading.Thread(target=loop.run_forever)
    thread.start()
    try:
        client = LMTPClient(address)
        replies = client.send("a@test.example", ["salon@example.org", "salon@x.org"], message(10))
        client.close()
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        server.close()
        loop.run_until_complete(server.wait_closed())
        loop.close()
    assert [r[:3] for r in replies] == ["451", "451"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


CLIENTS = 8
PER_CLIENT = 25


@pytest.mark.slow
def test_eight_clients_at_once_while_serve_answers_archive_every_message_once(
    archive: Path, server: str
) -> None:
    port = _free_port()
    web = subprocess.Popen(
        [PIPERARC, "serve", "--archive", str(archive), "--port", str(port), "--no-access-log"],
        stderr=subprocess.DEVNULL,
    )
    statuses: list[int] = []
    stop, answering = threading.Event(), threading.Event()

    def browse() -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            while not stop.is_set():
                try:
                    statuses.append(http.get("/salon/index.html").status_code)
                    answering.set()
                except httpx.TransportError:
                    time.sleep(0.1)  # still starting

    replies: list[str] = []

    def send(first: int) -> None:
        client = LMTPClient(server)
        for n in range(first, first + PER_CLIENT):
            replies.extend(client.send("a@test.example", ["salon@example.org"], message(n)))
        client.close()

    browser = threading.Thread(target=browse)
    browser.start()
    senders = [threading.Thread(target=send, args=(c * 1000,)) for c in range(CLIENTS)]
    try:
        answering.wait(timeout=60)  # else the mail may all be in before serve starts
        for t in senders:
            t.start()
        for t in senders:
            t.join()
    finally:
        stop.set()
        browser.join()
        web.terminate()
        web.wait(timeout=60)
    assert len(replies) == CLIENTS * PER_CLIENT
    assert all(r.startswith("250") for r in replies), [r for r in replies if r[:3] != "250"][:3]
    mids = _mids(archive)
    assert len(mids) == len(set(mids)) == CLIENTS * PER_CLIENT
    assert 200 in statuses and set(statuses) <= {200, 404}
