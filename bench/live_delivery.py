"""Live delivery: time from handing a message to piperarc until its page is on disk in the
built site, median and p95, on the 10k linux-man archive and on a 100k one (the list
imported 10 times with rewritten Message-IDs, as bench/search_latency.py makes them).

    python bench/live_delivery.py                  # 10k and 100k (import + build: long)
    python bench/live_delivery.py --copies 1       # 10k only
    python bench/live_delivery.py --keep /tmp/big  # keep (and reuse) the archives there

Each delivered message is a real one of the list under a new Message-ID, its references
untouched: it joins the thread it replied to, as live mail does. Delivery is in-process
(live.store_one, then live.publish: threading and the incremental site update, with one
SiteUpdater kept as the daemons keep it), so the
figures are piperarc's, not Python's start-up (`piperarc deliver` adds that: printed too).
Prints figures, asserts nothing. Target (issue 6): median under 100 ms, and no more than
1.5x slower at 100k than at 10k.
"""

from __future__ import annotations

import argparse
import lzma
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from piperarc import config as configlib
from piperarc import live, urls
from piperarc.siteupdate import SiteUpdater
from piperarc.store import open_store
from search_latency import make_archive, piperarc

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "lists"
_OWN_MID = re.compile(rb"^(Message-ID:[ \t]*<)([^>]+)>", re.IGNORECASE | re.MULTILINE)


def live_messages(mbox: bytes, count: int, seed: int) -> list[bytes]:
    """`count` messages of the list, each under a Message-ID of its own (references kept)."""
    messages = [m for m in re.split(rb"\nFrom [^\n]*\n", mbox) if _OWN_MID.search(m)]
    picks = random.Random(seed).sample(messages, count)
    tag = f"live{seed % 10**9}.".encode()
    return [
        _OWN_MID.sub(lambda m, i=i: m[1] + tag + b"%d." % i + m[2] + b">", raw, count=1)
        for i, raw in enumerate(picks)
    ]


def built(root: Path) -> None:
    if (root / "site" / ".piperarc-build.json").exists():
        return
    started = time.perf_counter()
    piperarc("build", "--archive", str(root), "--no-search-index")
    print(f"  built in {time.perf_counter() - started:.0f}s", flush=True)


def measure(root: Path, messages: list[bytes]) -> tuple[list[float], list[float], list[float]]:
    """(ms to stored, ms to page on disk, ms to the whole update done) per message. The page
    is written first (with its thread); the period views, feeds and homes follow: its
    modification time says when it was on disk."""
    config = configlib.load(root)
    stored_ms: list[float] = []
    page_ms: list[float] = []
    done_ms: list[float] = []
    store = open_store(config.database)
    # As the daemons (lmtp, watch, mailman) do: one updater, its templates compiled once.
    updater = SiteUpdater(config, root / "site")
    try:
        for raw in messages:
            wall = time.time()
            started = time.perf_counter()
            delivered = live.store_one(store, "lm", raw, "<bench>")
            stored_ms.append((time.perf_counter() - started) * 1000)
            live.publish(config, store, "lm", updater=updater)
            page = root / "site" / urls.message("lm", delivered.result.key)
            done_ms.append((time.perf_counter() - started) * 1000)
            page_ms.append((page.stat().st_mtime_ns / 1e9 - wall) * 1000)
    finally:
        store.close()
    return stored_ms, page_ms, done_ms


def cli_deliveries(root: Path, messages: list[bytes]) -> list[float]:
    exe = str(Path(sys.executable).parent / "piperarc")
    took = []
    for raw in messages:
        started = time.perf_counter()
        subprocess.run(
            [exe, "deliver", "--archive", str(root), "--list", "lm"], input=raw, check=True
        )
        took.append((time.perf_counter() - started) * 1000)
    return took


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mbox", type=Path, default=CORPUS / "linux-man-10k.mbox.xz")
    parser.add_argument("--copies", type=int, default=10, help="copies for the big archive")
    parser.add_argument("--messages", type=int, default=100, help="deliveries per archive")
    parser.add_argument("--keep", type=Path, help="folder to keep (and reuse) archives in")
    args = parser.parse_args()
    data = lzma.decompress(args.mbox.read_bytes())
    work = args.keep or Path(tempfile.mkdtemp(prefix="piperarc-live-"))
    sizes = [1] + ([args.copies] if args.copies > 1 else [])
    medians = {}
    for copies in sizes:
        root = work / f"x{copies}"
        print(f"archive of {copies} cop{'y' if copies == 1 else 'ies'}:", flush=True)
        make_archive(root, data, copies)
        built(root)
        # Fresh Message-IDs per run, so a kept archive takes them as new mail.
        messages = live_messages(data, args.messages + 10, seed=time.time_ns() % 10**9)
        warm, messages, by_cli = messages[:5], messages[5:-5], messages[-5:]
        measure(root, warm)  # the first deliveries load the templates and the page cache
        stored, page, done = measure(root, messages)
        medians[copies] = statistics.median(page)
        print(
            f"  {len(messages)} deliveries: stored (acknowledgeable) median "
            f"{statistics.median(stored):.1f} ms, p95 {p95(stored):.1f} ms; "
            f"page on disk median {statistics.median(page):.1f} ms, p95 {p95(page):.1f} ms; "
            f"whole update done median {statistics.median(done):.1f} ms, p95 {p95(done):.1f} ms",
            flush=True,
        )
        took = cli_deliveries(root, by_cli)
        print(
            f"  `piperarc deliver` (a new process each, start-up included): "
            f"median {statistics.median(took):.0f} ms",
            flush=True,
        )
    if len(medians) == 2:
        big, small = medians[sizes[1]], medians[1]
        print(f"{sizes[1]}x archive / 1x: {big / small:.2f}x the median time to page")


if __name__ == "__main__":
    main()
