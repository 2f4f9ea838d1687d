"""Bringing the real old archives of shared/corpus/old-archives over: for each, the time of
`piperarc import --from` (a fresh process, median of N runs), how many old URLs it mapped and
could not, and, asked through the live server, how many old message URLs reach the message
the old archive showed (the truth: each Pipermail folder's OLD-URLS.csv; MHonArc's and
Hypermail's id comments), with how many land on a wrong one.

    python bench/old_archives.py            # 3 imports each, medians
    python bench/old_archives.py --runs 5

Prints figures, asserts nothing (the suite's tests/test_oldarchive_*_import.py assert).
"""

from __future__ import annotations

import argparse
import csv
import html
import lzma
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from piperarc import config as configlib
from piperarc.store import open_store
from piperarc.web.app import create_app

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.livehelpers import asgi_get  # the test helper, not a copy of it

ROOT = Path(__file__).resolve().parents[1]
OLD = ROOT.parent / "shared" / "corpus" / "old-archives"
LINUX_MAN = ROOT.parent / "shared" / "corpus" / "lists" / "linux-man-10k.mbox.xz"
PIPERARC = [sys.executable, "-c", "from piperarc.cli import main; main()"]
PIPERMAIL = {
    "imagej-devel": "imagej-devel-2009-2010",
    "divunal-devel": "twisted-divunal-devel",
    "twisted-python": "twisted-python-selected",
}
COMMENT = {"mhonarc": r"<!--X-Message-Id: (.*?) -->", "hypermail": r'<!-- id="(.*?)" -->'}


def _cli(*args: str | Path) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run([*PIPERARC, *map(str, args)], capture_output=True, text=True)
    return time.perf_counter() - start, done.stdout


def _truth_pipermail(name: str) -> dict[str, str]:
    with (OLD / "pipermail" / PIPERMAIL[name] / "OLD-URLS.csv").open(encoding="utf-8") as fh:
        return {"/pipermail/" + r["old_url_path"]: r["message_id"] for r in csv.DictReader(fh)}


def _truth_pages(kind: str, folder: Path) -> dict[str, str]:
    truth = {}
    for page in sorted(folder.glob("*.html")):
        found = re.search(COMMENT[kind], page.read_text(encoding="utf-8", errors="replace"))
        if found and re.fullmatch(r"(msg)?\d+\.html", page.name):
            mid = found[1].replace("&ndash;", "-") if kind == "hypermail" else found[1]
            mid = html.unescape(mid)
            truth[f"/{kind}/{page.name}"] = mid.replace("_at_", "@") if kind == "hypermail" else mid
    return truth


def _check(root: Path, name: str, truth: dict[str, str]) -> tuple[int, int, int]:
    """(right, wrong, not redirected) over the old message URLs, through serve's app."""
    app = create_app(configlib.load(root))
    store = open_store(configlib.load(root).database, readonly=True)
    try:
        mids = {s.key: s for s in store.summaries(name)}
    finally:
        store.close()
    stored = {s.mid for s in mids.values()}
    right = wrong = lost = 0
    for path, mid in truth.items():
        moved = asgi_get(app, path)
        found = re.match(
            rf"^/{re.escape(name)}/m/([^/]+)\.html$", moved.headers.get("location", "")
        )
        if moved.status_code != 301 or not found:
            lost += 1
        elif mids[found[1]].mid == mid.strip("<>") or mid.strip("<>") not in stored:
            right += 1  # (early Pipermail kept no Message-IDs: the tests check those by date)
        else:
            wrong += 1
    return right, wrong, lost


def _measure(
    label: str, name: str, args: list[str | Path], truth: dict[str, str], runs: int
) -> None:
    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp) / "archive"
            _cli("init", root, "--list", name)
            seconds, out = _cli("import", "--archive", root, "--list", name, *args)
            times.append(seconds)
            _, again = _cli("import", "--archive", root, "--list", name, *args)
            right, wrong, lost = _check(root, name, truth)
    links = out.strip().splitlines()[-1]
    print(
        f"{label:28} import {statistics.median(times):5.2f} s  | {links}\n"
        f"{'':28} message URLs: {right}/{len(truth)} reach their message "
        f"({100 * right / len(truth):.1f}%), {wrong} wrong, {lost} not redirected; "
        f"again: {again.splitlines()[-2] if len(again.splitlines()) > 1 else again.strip()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    for name, folder in PIPERMAIL.items():
        source = OLD / "pipermail" / folder / name
        _measure(
            f"pipermail {name}", name, ["--from", "pipermail", source], _truth_pipermail(name), runs
        )
    with tempfile.TemporaryDirectory() as tmp:
        data = lzma.decompress(LINUX_MAN.read_bytes())
        starts = [m.start() for m in re.finditer(rb"(?m)^From ", data)]
        mbox = Path(tmp) / "linux-man-1000.mbox"
        mbox.write_bytes(data[: starts[1000]])
        for kind in ("mhonarc", "hypermail"):
            with tarfile.open(OLD / f"{kind}-linux-man-1000.tar.xz") as tar:
                tar.extractall(tmp, filter="data")
            folder = Path(tmp) / kind
            truth = _truth_pages(kind, folder)
            base: list[str | Path] = ["--from", kind, folder, "--at", f"/{kind}/"]
            _measure(f"{kind} + mbox", "linux-man", [*base, mbox], truth, runs)
            _measure(f"{kind}, pages only", "linux-man", base, truth, runs)


if __name__ == "__main__":
    main()
