"""`piperarc lmtp`: per-recipient replies after commit (RFC 2033), unknown lists refused at
RCPT, a clean stop on SIGTERM, and many clients at once while `serve` answers."""

from __future__ import annotations

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
from piperarc.store import open_store
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
