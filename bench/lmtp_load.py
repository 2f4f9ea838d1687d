"""LMTP under load on loopback: 2,000 messages from 8 concurrent clients into `piperarc lmtp`
while `piperarc serve` answers page requests; prints messages/s and the time from each
LMTP acknowledgement (250) to the message's page existing in the built site (median, p95).

    python bench/lmtp_load.py                    # a fresh archive: the sample list, built
    python bench/lmtp_load.py --messages 500     # smaller

Prints figures, checks that every message is archived exactly once; no timed asserts.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from tests.livehelpers import PIPERARC, message, start_lmtp
from tests.lmtpclient import LMTPClient

from piperarc import urls
from piperarc.store import open_store


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="piperarc-lmtp-")) / "archive"
    subprocess.run([PIPERARC, "demo", str(root)], check=True, capture_output=True)
    site = root / "site"
    port = _free_port()
    web = subprocess.Popen(
        [PIPERARC, "serve", "--archive", str(root), "--port", str(port), "--no-access-log"],
        stderr=subprocess.DEVNULL,
    )
    proc, address = start_lmtp(root)
    acks: dict[str, float] = {}  # page path -> when acknowledged
    seen: dict[str, float] = {}  # page path -> when it first existed
    lock = threading.Lock()
    done = threading.Event()
    served: list[float] = []

    def send(client_no: int) -> None:
        client = LMTPClient(address)
        for n in range(client_no, args.messages, args.clients):
            (reply,) = client.send("a@test.example", ["salon@example.org"], message(n))
            at = time.perf_counter()
            assert reply.startswith("250"), reply
            key = reply.rsplit(" as ", 1)[1]
            with lock:
                acks[urls.message("salon", key)] = at
        client.close()

    def look() -> None:
        while not (done.is_set() and len(seen) == len(acks)):
            with lock:
                waiting = [p for p in acks if p not in seen]
            for path in waiting:
                if (site / path).exists():
                    seen[path] = time.perf_counter()
            time.sleep(0.002)

    def browse() -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            while not done.is_set():
                started = time.perf_counter()
                try:
                    http.get("/salon/index.html").raise_for_status()
                except httpx.TransportError:
                    time.sleep(0.1)
                    continue
                served.append(time.perf_counter() - started)

    watcher = threading.Thread(target=look)
    browser = threading.Thread(target=browse)
    watcher.start()
    browser.start()
    started = time.perf_counter()
    senders = [threading.Thread(target=send, args=(c,)) for c in range(args.clients)]
    for t in senders:
        t.start()
    for t in senders:
        t.join()
    elapsed = time.perf_counter() - started
    done.set()
    watcher.join(timeout=300)
    browser.join()
    proc.terminate()
    proc.wait()
    web.terminate()
    web.wait()
    store = open_store(root / "archive.sqlite3", readonly=True)
    mids = [s.mid for s in store.summaries("salon") if s.mid.endswith("@test.example")]
    store.close()
    once = len(mids) == len(set(mids)) == args.messages
    lags = [(seen[p] - acks[p]) * 1000 for p in acks if p in seen]
    print(
        f"{args.messages} messages from {args.clients} LMTP clients in {elapsed:.1f}s: "
        f"{args.messages / elapsed:.0f} messages/s; archived exactly once: {once}"
    )
    print(
        f"acknowledgement to page on disk: median {statistics.median(lags):.0f} ms, "
        f"p95 {statistics.quantiles(lags, n=20)[-1]:.0f} ms ({len(lags)} pages seen)"
    )
    print(
        f"serve meanwhile: {len(served)} list pages, median "
        f"{statistics.median(served) * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
