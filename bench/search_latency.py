"""Search latency: p50 and p95 over 200 varied queries, on the 10k list and on a 200k
archive made by importing the list 20 times with rewritten Message-IDs.

    python bench/search_latency.py                 # 10k and 200k (the 200k import takes minutes)
    python bench/search_latency.py --copies 1      # 10k only
    python bench/search_latency.py --keep /tmp/big # keep (and reuse) the archives there

Prints figures, asserts nothing. Target (issue 3): p95 under 50 ms at 200k. Measured with
the database in the page cache (read once first), as a running server has it.
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
from piperarc import search
from piperarc.store import open_store

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "lists"
_MID = re.compile(rb"^(message-id|in-reply-to|references):", re.IGNORECASE)
_ID = re.compile(rb"<([^<>@\s]+)@")


def rewritten(mbox: bytes, copy: int) -> bytes:
    """The mbox with every Message-ID (and reference to one) made unique to this copy."""
    if copy == 0:
        return mbox
    tag = f".c{copy}".encode()
    out = []
    in_header = False
    for line in mbox.split(b"\n"):
        if line.startswith(b"From "):
            in_header = True
        elif in_header and not line:
            in_header = False
        elif in_header and (_MID.match(line) or line[:1] in (b" ", b"\t")):
            line = _ID.sub(lambda m: b"<" + m.group(1) + tag + b"@", line)
        out.append(line)
    return b"\n".join(out)


def piperarc(*args: str) -> str:
    exe = str(Path(sys.executable).parent / "piperarc")
    done = subprocess.run([exe, *args], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def make_archive(root: Path, mbox: bytes, copies: int) -> None:
    if (root / "piperarc.toml").exists():
        print(f"  reusing {root}")
        return
    piperarc("init", str(root), "--list", "lm")
    started = time.perf_counter()
    for copy in range(copies):
        path = root / f"copy{copy}.mbox"
        path.write_bytes(rewritten(mbox, copy))
        line = piperarc("import", "--archive", str(root), "--list", "lm", str(path))
        path.unlink()
        print(f"  copy {copy + 1}/{copies}: {line}", flush=True)
    print(f"  imported in {time.perf_counter() - started:.0f}s")


def queries(subjects: list[str], senders: list[str], count: int, seed: int) -> list[str]:
    """Varied queries drawn from the list's own words: common and rare, every form."""
    rng = random.Random(seed)
    words = [w for s in subjects for w in re.findall(r"[a-z]{4,}", s.lower())]
    names = [w for s in senders for w in re.findall(r"[a-z]{4,}", s.lower())]
    common = [
        w
        for w, _ in sorted(((w, words.count(w)) for w in set(words[:20000])), key=lambda p: -p[1])[
            :40
        ]
    ]
    forms = [
        lambda: rng.choice(words),
        lambda: rng.choice(common),
        lambda: f"{rng.choice(words)} {rng.choice(words)}",
        lambda: f'"{rng.choice(common)} {rng.choice(common)}"',
        lambda: f"s:{rng.choice(words)}",
        lambda: f"f:{rng.choice(names)}",
        lambda: f"{rng.choice(words)} d:{rng.randint(2019, 2022)}",
        lambda: f"{rng.choice(words)} OR {rng.choice(words)}",
        lambda: f"{rng.choice(common)} -{rng.choice(common)}",
        lambda: f"{rng.choice(words)} has:attachment",
        lambda: f"is:root {rng.choice(words)}",
        lambda: f"{rng.choice(words)[:4]}*",
        lambda: f"b:{rng.choice(common)} f:{rng.choice(names)}",
    ]
    return [rng.choice(forms)() for _ in range(count)]


def warm(database: Path) -> None:
    """Read the database once, so it is in the page cache as a running server has it."""
    with database.open("rb") as fh:
        while fh.read(1 << 24):
            pass


def measure(root: Path, qs: list[str], sort: str) -> tuple[float, float, float, int]:
    warm(configlib.load(root).database)
    store = open_store(configlib.load(root).database, readonly=True)
    try:
        for q in qs[:20]:  # warm the page cache as a running server would be
            search.run(store, q, sort=sort)
        times = []
        for q in qs:
            started = time.perf_counter()
            search.run(store, q, sort=sort)
            times.append((time.perf_counter() - started) * 1000)
        total = store.stats("lm").messages
    finally:
        store.close()
    times.sort()
    return (statistics.median(times), times[int(len(times) * 0.95) - 1], times[-1], total)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mbox", type=Path, default=CORPUS / "linux-man-10k.mbox.xz")
    parser.add_argument("--copies", type=int, default=20, help="copies for the big archive")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--keep", type=Path, help="folder to keep (and reuse) archives in")
    args = parser.parse_args()
    data = (
        lzma.decompress(args.mbox.read_bytes())
        if args.mbox.suffix == ".xz"
        else args.mbox.read_bytes()
    )
    work = args.keep or Path(tempfile.mkdtemp(prefix="piperarc-search-"))
    sizes = [1] + ([args.copies] if args.copies > 1 else [])
    subjects = re.findall(rb"^Subject: (.*)$", data, re.MULTILINE)
    senders = re.findall(rb"^From: (.*)$", data, re.MULTILINE)
    qs = queries(
        [s.decode("utf-8", "replace") for s in subjects],
        [s.decode("utf-8", "replace") for s in senders],
        args.queries,
        seed=7,
    )
    print(f"{len(qs)} queries, e.g. {qs[:6]}")
    for copies in sizes:
        root = work / f"x{copies}"
        print(f"archive of {copies} cop{'y' if copies == 1 else 'ies'}:")
        make_archive(root, data, copies)
        for sort in ("relevance", "date"):
            p50, p95, worst, total = measure(root, qs, sort)
            print(
                f"  {total:>7} messages, sort={sort:9}: p50 {p50:6.1f} ms   p95 {p95:6.1f} ms"
                f"   max {worst:7.1f} ms"
            )


if __name__ == "__main__":
    main()
