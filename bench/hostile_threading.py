"""One hostile message must not make every later delivery slow: the time to import a
one-line message into linux-man (first 2,000 messages) before and after the archive holds a
message with 50,000 References, and of a reply into a 5,000-deep reply chain.

    python bench/hostile_threading.py              # 5 imports each, medians
    python bench/hostile_threading.py --runs 9

Each import is `piperarc import` of one .eml in a fresh process, as an operator or a cron
job runs it (Python's start-up included, printed apart). Prints figures, asserts nothing.
Issue 14 measured ~12 s after the 50,000 References and 18 s into the chain, 0.25 s before.
"""

from __future__ import annotations

import argparse
import lzma
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "lists" / "linux-man-10k.mbox.xz"
PIPERARC = [sys.executable, "-c", "from piperarc.cli import main; main()"]


def _run(*args: str | Path) -> float:
    start = time.perf_counter()
    subprocess.run([*PIPERARC, *map(str, args)], check=True, capture_output=True)
    return time.perf_counter() - start


def _eml(path: Path, mid: str, refs: str = "", irt: str = "") -> Path:
    head = f"From: a@example.org\nSubject: note {mid}\nDate: Mon, 01 Jan 2024 00:00:00 +0000\n"
    head += f"Message-ID: <{mid}>\n"
    if refs:
        head += f"References: {refs}\n"
    if irt:
        head += f"In-Reply-To: <{irt}>\n"
    path.write_text(head + "\nOne line.\n")
    return path


def _mbox_of_chain(path: Path, depth: int) -> Path:
    """A reply chain `depth` deep, each message naming only its parent."""
    with path.open("w") as out:
        for i in range(depth):
            irt = f"In-Reply-To: <chain{i - 1}@example.org>\n" if i else ""
            out.write(
                "From a@example.org Mon Jan  1 00:00:00 2024\n"
                f"From: a@example.org\nSubject: Re: chain\nMessage-ID: <chain{i}@example.org>\n"
                f"Date: Mon, 01 Jan 2024 {i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}"
                f" +0000\n{irt}\nlink {i}\n\n"
            )
    return path


def _median_import(root: Path, tmp: Path, tag: str, runs: int, **refs: str) -> float:
    times = [
        _run(
            "import",
            "--archive",
            root,
            "--list",
            "lm",
            _eml(tmp / f"{tag}{i}.eml", f"{tag}{i}@x", **refs),
        )
        for i in range(runs)
    ]
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        root = tmp / "archive"
        _run("init", root, "--list", "lm")
        mbox = tmp / "lm.mbox"
        with lzma.open(CORPUS) as packed, mbox.open("wb") as out:
            starts = 0
            for line in packed:
                if line.startswith(b"From "):
                    starts += 1
                    if starts > 2000:
                        break
                out.write(line)
        _run("import", "--archive", root, "--list", "lm", mbox)
        _run("import", "--archive", root, "--list", "lm", _mbox_of_chain(tmp / "chain.mbox", 5000))
        startup = statistics.median(_run("--version") for _ in range(args.runs))
        before = _median_import(root, tmp, "before", args.runs)
        huge = " ".join(f"<huge{i}@example.org>" for i in range(50_000))
        _run("import", "--archive", root, "--list", "lm", _eml(tmp / "huge.eml", "huge@x", huge))
        after = _median_import(root, tmp, "after", args.runs)
        chain = " ".join(f"<chain{i}@example.org>" for i in range(5000))
        into = _median_import(
            root, tmp, "reply", args.runs, refs=chain, irt="chain4999@example.org"
        )
    print(f"python start-up (piperarc --version): {startup:.2f} s")
    print(f"import of a one-line message, median of {args.runs}:")
    print(f"  before the hostile message:          {before:.2f} s")
    print(f"  after a message with 50,000 References: {after:.2f} s ({after / before:.1f}x)")
    print(f"  a reply into a 5,000-deep chain:     {into:.2f} s ({into / before:.1f}x)")


if __name__ == "__main__":
    main()
