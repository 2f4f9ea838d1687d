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
The same messages go to both archives, in turns (10k, 100k, 100k, 10k, ...): the machine's
load, which comes and goes, weighs on both alike, and the ratio is also given per message.
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
from piperarc import urls
from piperarc.ingest import live
from piperarc.site import build as site
from piperarc.site.update import SiteUpdater
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


class _PageClock:
    """When a given page's file was renamed into place (its write done), read in-process:
    a file's modification time is only as fine as the kernel's clock tick (4 ms here), too
    coarse for pages that take 5-15 ms. Wraps site.Writer.write: bench scaffolding."""

    def __init__(self) -> None:
        self.wanted = ""
        self.at = 0.0
        write = site.Writer.write

        def timed(writer: site.Writer, path: str, data: bytes | str) -> None:
            write(writer, path, data)
            if path == self.wanted and not self.at:
                self.at = time.perf_counter()

        site.Writer.write = timed  # type: ignore[method-assign]


_CLOCK = _PageClock()


class Deliverer:
    """Delivers messages to one archive as the daemons (lmtp, watch, mailman) do: one store
    and one SiteUpdater kept open, its templates compiled once."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.config = configlib.load(root)
        self.store = open_store(self.config.database)
        self.updater = SiteUpdater(self.config, root / "site")

    def one(self, raw: bytes) -> tuple[float, float, float]:
        """(ms to stored, ms to page on disk, ms to the whole update done). The page is
        written first (then the rest of its thread); the period views, feeds and homes
        follow."""
        started = time.perf_counter()
        delivered = live.store_one(self.store, "lm", raw, "<bench>")
        stored = (time.perf_counter() - started) * 1000
        _CLOCK.wanted, _CLOCK.at = urls.message("lm", delivered.result.key), 0.0
        live.publish(self.config, self.store, "lm", updater=self.updater)
        done = (time.perf_counter() - started) * 1000
        assert _CLOCK.at, "the message's page was not written"
        return stored, (_CLOCK.at - started) * 1000, done

    def close(self) -> None:
        self.store.close()


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
    roots = {copies: work / f"x{copies}" for copies in sizes}
    for copies, root in roots.items():
        print(f"archive of {copies} cop{'y' if copies == 1 else 'ies'}:", flush=True)
        make_archive(root, data, copies)
        built(root)
    # The same messages go to every archive (fresh Message-IDs per run, so a kept archive
    # takes them as new mail), one archive after the other for each message, in turns:
    # a load that comes and goes on the machine weighs on every archive alike, and each
    # message is timed on both (paired).
    messages = live_messages(data, args.messages + 10, seed=time.time_ns() % 10**9)
    warm, messages, by_cli = messages[:5], messages[5:-5], messages[-5:]
    deliverers = {copies: Deliverer(root) for copies, root in roots.items()}
    times: dict[int, list[tuple[float, float, float]]] = {copies: [] for copies in sizes}
    print(f"load before: {_load()}", flush=True)
    try:
        for raw in warm:  # the first deliveries load the templates and the page cache
            for deliverer in deliverers.values():
                deliverer.one(raw)
        for i, raw in enumerate(messages):
            for copies in sizes if i % 2 == 0 else sizes[::-1]:
                times[copies].append(deliverers[copies].one(raw))
    finally:
        for deliverer in deliverers.values():
            deliverer.close()
    print(f"load after: {_load()}", flush=True)
    for copies in sizes:
        stored, page, done = (list(column) for column in zip(*times[copies], strict=True))
        print(
            f"{copies}x ({copies * 10}k messages), {len(messages)} deliveries: "
            f"stored (acknowledgeable) median {statistics.median(stored):.1f} ms, "
            f"p95 {p95(stored):.1f} ms; page on disk median {statistics.median(page):.1f} ms, "
            f"p95 {p95(page):.1f} ms; whole update done median "
            f"{statistics.median(done):.1f} ms, p95 {p95(done):.1f} ms",
            flush=True,
        )
        took = cli_deliveries(roots[copies], by_cli)
        print(
            f"  `piperarc deliver` (a new process each, start-up included): "
            f"median {statistics.median(took):.0f} ms",
            flush=True,
        )
    if len(sizes) == 2:
        small = [t[1] for t in times[1]]
        big = [t[1] for t in times[sizes[1]]]
        print(
            f"{sizes[1]}x archive / 1x, time to page: ratio of medians "
            f"{statistics.median(big) / statistics.median(small):.2f}x, median of paired "
            f"ratios {statistics.median(b / s for b, s in zip(big, small, strict=True)):.2f}x "
            f"(target <= 1.5x)"
        )


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


if __name__ == "__main__":
    main()
