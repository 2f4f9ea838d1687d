"""Throughput and latency of one `piperarc serve` worker under wrk, on loopback.

    python bench/serve_load.py [--archive DIR] [--seconds 10] [--connections 32]

Without --archive it makes one from ../shared/corpus/lists/linux-man-10k.mbox.xz in a
temporary folder (`piperarc init`, `piperarc import`). It starts `piperarc serve` (one
worker, no access log), then for each URL set runs wrk for a bounded time, walking the
set's URLs in turn, and prints requests/s and latency percentiles:

    message pages, first visit   messages not seen before, each rendered on request
    message pages, cached        other messages, fetched once beforehand (the warm-up)
    message page, 304            one page, with the ETag a browser kept
    API message JSON             /api/lists/LIST/messages/KEY for the same messages
    period views                 thread/date/subject/author pages of every period

Needs wrk (Debian: apt-get install wrk). Target (issue 3): 1,000 message pages/s.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = (
    Path(os.environ.get("PIPERARC_CORPUS", ROOT.parent / "shared" / "corpus"))
    / "lists"
    / "linux-man-10k.mbox.xz"
)
PIPERARC = Path(sys.executable).parent / "piperarc"

LUA = """
local paths = {}
local header = nil
local counter = 0
local offset = 0
local step = 1

function init(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  if args[2] and args[2] ~= "" then header = args[2] end
  offset = tonumber(args[3] or "0")
  step = tonumber(args[4] or "1")
end

setup_count = 0
function setup(thread)
  thread:set("id", setup_count)
  setup_count = setup_count + 1
end

function request()
  -- each thread walks its own share of the list: together they visit each path once
  -- before any is visited twice
  local i = (offset + counter * step + id) % #paths + 1
  counter = counter + 1
  if header then
    return wrk.format("GET", paths[i], {["If-None-Match"] = header})
  end
  return wrk.format("GET", paths[i])
end

function done(summary, latency, requests)
  local s = summary
  local out = string.format(
    '{"requests": %d, "seconds": %f, "errors": %d, "non2xx": %d, '
    .. '"p50": %f, "p90": %f, "p99": %f, "max": %f}',
    s.requests, s.duration / 1e6,
    s.errors.connect + s.errors.read + s.errors.write + s.errors.timeout,
    s.errors.status,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000)
  io.stderr:write("RESULT " .. out .. "\\n")
end
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _make_archive(folder: Path) -> Path:
    archive = folder / "archive"
    subprocess.run(
        [str(PIPERARC), "init", str(archive), "--list", "linux-man"],
        check=True,
        capture_output=True,
    )
    started = time.perf_counter()
    subprocess.run(
        [str(PIPERARC), "import", "--archive", str(archive), "--list", "linux-man", str(CORPUS)],
        check=True,
        capture_output=True,
    )
    print(f"imported {CORPUS.name} in {time.perf_counter() - started:.1f}s")
    return archive


def _get_json(base: str, path: str) -> dict[str, object]:
    with urllib.request.urlopen(base + path, timeout=60) as response:
        result: dict[str, object] = json.loads(response.read())
        return result


def _wait_until_up(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"piperarc serve exited with status {server.returncode}")
        try:
            _get_json(base, "/api/lists")
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("piperarc serve did not answer within 30 s")


def _wrk(
    base: str,
    paths: list[str],
    seconds: int,
    connections: int,
    threads: int,
    work: Path,
    header: str | None = None,
) -> dict[str, float]:
    listing = work / "paths.txt"
    listing.write_text("\n".join(paths) + "\n", encoding="utf-8")
    script = work / "walk.lua"
    script.write_text(LUA, encoding="utf-8")
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        base,
        "--",
        str(listing),
        header or "",
        "0",
        str(threads),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    line = next(x for x in result.stderr.splitlines() if x.startswith("RESULT "))
    figures: dict[str, float] = json.loads(line.removeprefix("RESULT "))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--archive", type=Path, help="an archive to serve (default: make one)")
    parser.add_argument("--seconds", type=int, default=10, help="per URL set")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--count", type=int, default=5000, help="messages to visit")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("needs wrk: apt-get install wrk")
    with tempfile.TemporaryDirectory(prefix="piperarc-serve-") as tmp:
        work = Path(tmp)
        archive = args.archive or _make_archive(work)
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [
                str(PIPERARC),
                "serve",
                "--archive",
                str(archive),
                "--port",
                str(port),
                "--no-access-log",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_until_up(base, server)
            _run_sets(base, args, work)
        finally:
            server.terminate()
            server.wait(timeout=30)


def _run_sets(base: str, args: argparse.Namespace, work: Path) -> None:
    lists = _get_json(base, "/api/lists")["lists"]
    assert isinstance(lists, list)
    name = str(lists[0]["name"])
    detail = _get_json(base, f"/api/lists/{name}")
    periods = detail["periods"]
    assert isinstance(periods, list)
    keys: list[str] = []
    views: list[str] = []
    for period in periods:
        doc = _get_json(base, str(period["api"]))
        messages = doc["messages"]
        assert isinstance(messages, list)
        keys.extend(str(m["key"]) for m in messages)
        views.extend(
            f"/{name}/{period['key']}/{view}.html"
            for view in ("thread", "date", "subject", "author")
        )
    random.Random(1).shuffle(keys)
    half = min(args.count, len(keys) // 2)
    cold = [f"/{name}/m/{key}.html" for key in keys[half : 2 * half]]
    keys = keys[:half]
    pages = [f"/{name}/m/{key}.html" for key in keys]
    started = time.perf_counter()
    for path in pages:  # fill the server's page cache, one request at a time
        with urllib.request.urlopen(base + path, timeout=60) as response:
            response.read()
            etag = response.headers["ETag"]
    warm_rate = len(pages) / (time.perf_counter() - started)
    print(f"warm-up: {len(pages)} message pages, one at a time, at {warm_rate:.0f}/s")
    sets: list[tuple[str, list[str], str | None]] = [
        ("message pages, first visit", cold, None),
        ("message pages, cached", pages, None),
        ("message page, 304 to its ETag", [pages[-1]], etag),
        ("API message JSON", [f"/api/lists/{name}/messages/{key}" for key in keys], None),
        ("period views", views, None),
    ]
    print(
        f"one worker, wrk -t{args.threads} -c{args.connections}, {args.seconds} s per set, "
        f"{len(keys)} messages of {name}"
    )
    print(f"{'URL set':32} {'req/s':>8} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for label, paths, header in sets:
        # The first-visit set is bounded shorter: a page asked twice would come from the cache.
        seconds = min(args.seconds, 4) if paths is cold else args.seconds
        f = _wrk(base, paths, seconds, args.connections, args.threads, work, header)
        rate = f["requests"] / f["seconds"]
        note = ""
        if paths is cold and f["requests"] > len(cold):
            note = "  (set exhausted: includes cache hits)"
        print(
            f"{label:32} {rate:8.0f} {f['p50']:8.1f} {f['p90']:8.1f} {f['p99']:8.1f} "
            f"{int(f['errors'] + f['non2xx']):7d}{note}"
        )


if __name__ == "__main__":
    main()
