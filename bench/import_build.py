"""Import and build speed, and peak memory, on a real list; MHonArc on the same mail.

Prints figures, asserts nothing (DESIGN.md rule 8). Each repeat makes a fresh archive in a
temporary folder and runs `piperarc import` then `piperarc build` as separate processes,
timing each wall-clock and sampling the memory of its whole process tree (the build forks
workers) every 50 ms from /proc. MHonArc, the anchor, runs on the decompressed mbox;
decompression happens once, before anything is timed.

    .venv/bin/python bench/import_build.py                       # the full run (minutes)
    .venv/bin/python bench/import_build.py --limit 500 --repeat 1 --mhonarc-repeat 0
    .venv/bin/python bench/import_build.py --quick               # the same smoke run

Memory is reported three ways, because forked workers share pages with their parent:
"tree RSS" sums every process's resident set (counts shared pages once per process, so it
overstates), "tree PSS" sums proportional set sizes (shared pages divided among sharers: the
fair total) and "largest process" is the kernel's own peak for the biggest single process
(ru_maxrss from wait4, exact, not sampled).
"""

from __future__ import annotations

import argparse
import bz2
import contextlib
import gzip
import io
import lzma
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_MBOX = Path("/work/shared/corpus/lists/linux-man-10k.mbox.xz")
QUICK_LIMIT = 500
SAMPLE_SECONDS = 0.05
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
MB = 1024 * 1024
TARGET_RATIO = 0.5  # piperarc import+build in at most half MHonArc's time


@dataclass(slots=True)
class TreeMemory:
    """Peaks of the sampled memory of a process tree, in bytes."""

    rss_sum: int = 0
    pss_sum: int = 0
    processes: int = 0


@dataclass(slots=True)
class PhaseRun:
    """One timed run of one command."""

    seconds: float
    tree: TreeMemory
    largest_process: int  # bytes, from wait4's ru_maxrss
    output: str
    returncode: int


@dataclass(slots=True)
class Series:
    """The runs of one phase over all repeats."""

    name: str
    runs: list[PhaseRun] = field(default_factory=list)

    def median_seconds(self) -> float:
        return statistics.median(r.seconds for r in self.runs)

    def peak_rss(self) -> int:
        return max(r.tree.rss_sum for r in self.runs)

    def peak_pss(self) -> int:
        return max(r.tree.pss_sum for r in self.runs)

    def peak_largest(self) -> int:
        return max(r.largest_process for r in self.runs)

    def max_processes(self) -> int:
        return max(r.tree.processes for r in self.runs)


# --- the process tree, read from /proc ------------------------------------------------


def _parent_pids() -> dict[int, int]:
    """pid -> parent pid for every process visible in /proc."""
    parents: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue  # it ended while we looked
        # The command name is in parentheses and may itself hold ") ": split after the last.
        fields = stat[stat.rfind(b")") + 2 :].split()
        parents[int(entry.name)] = int(fields[1])
    return parents


def _tree(root: int) -> list[int]:
    """`root` and all its descendants (this kernel has no /proc/PID/task/TID/children)."""
    children: dict[int, list[int]] = {}
    for pid, ppid in _parent_pids().items():
        children.setdefault(ppid, []).append(pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


def _rss_and_pss(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process in bytes; (0, 0) if it has gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as fh:
            rollup = fh.read()
    except OSError:
        rollup = b""
    rss = pss = 0
    for line in rollup.splitlines():
        if line.startswith(b"Rss:"):
            rss = int(line.split()[1]) * 1024
        elif line.startswith(b"Pss:"):
            pss = int(line.split()[1]) * 1024
    if rss:
        return rss, pss
    try:  # no smaps_rollup (old kernel, or not ours to read): RSS only, PSS unknown
        with open(f"/proc/{pid}/statm", "rb") as fh:
            return int(fh.read().split()[1]) * PAGE_BYTES, 0
    except (OSError, IndexError):
        return 0, 0


class TreeSampler:
    """Samples the summed memory of a process tree in a thread until stopped."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.peak = TreeMemory()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while True:
            pids = _tree(self.root)
            rss = pss = 0
            for pid in pids:
                one_rss, one_pss = _rss_and_pss(pid)
                rss += one_rss
                pss += one_pss
            self.peak.rss_sum = max(self.peak.rss_sum, rss)
            self.peak.pss_sum = max(self.peak.pss_sum, pss)
            self.peak.processes = max(self.peak.processes, len(pids))
            if self._stop.wait(SAMPLE_SECONDS):
                return


def settle() -> None:
    """Flush what earlier phases wrote before the next one is timed (untimed).

    On this machine's ext4, creating files soon after a big deletion, or behind a few
    hundred MB of dirty pages, is up to ten times slower: 10,000 small files took 0.4-0.6 s
    on a settled disk and 4-8 s just after `rm -rf` of a built site (a build's system time
    went from 2.3 s to 7-8 s for minutes after a large deletion; why, not found: the disk's
    discards complete at once). So no run's output is deleted until every run is done, and
    each phase starts after a sync: each tool is timed on a settled disk, not on the
    previous run's debris. Run the bench minutes after any large deletion."""
    os.sync()


def run_phase(argv: Sequence[str | Path], log: Path) -> PhaseRun:
    """Run one command, timing it and sampling its process tree's memory."""
    settle()
    with log.open("w+b") as out:
        start = time.perf_counter()
        proc = subprocess.Popen([str(a) for a in argv], stdout=out, stderr=subprocess.STDOUT)
        with TreeSampler(proc.pid) as sampler:
            # wait4 rather than proc.wait: it also returns the child's resource usage.
            _, status, usage = os.wait4(proc.pid, 0)
            seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        output = out.read().decode("utf-8", "replace")
    return PhaseRun(
        seconds=seconds,
        tree=sampler.peak,
        largest_process=usage.ru_maxrss * 1024,  # Linux reports kilobytes
        output=output,
        returncode=proc.returncode,
    )


# --- the input --------------------------------------------------------------------------


def _open_mail(path: Path) -> io.BufferedIOBase:
    name = path.name.lower()
    if name.endswith(".xz"):
        return lzma.open(path, "rb")
    if name.endswith(".gz"):
        return gzip.open(path, "rb")
    if name.endswith(".bz2"):
        return bz2.open(path, "rb")
    return path.open("rb")


def _mbox_messages(lines: Iterator[bytes]) -> Iterator[list[bytes]]:
    """The lines of each message of an mbox (a "From " line after a blank line starts one)."""
    current: list[bytes] = []
    previous_blank = True
    for line in lines:
        if line.startswith(b"From ") and previous_blank and current:
            yield current
            current = []
        current.append(line)
        previous_blank = line in (b"\n", b"\r\n")
    if current:
        yield current


def decompress(source: Path, target: Path, limit: int | None) -> int:
    """Write the plain mbox of `source` (its first `limit` messages) to `target`; count them."""
    count = 0
    with _open_mail(source) as fh, target.open("wb") as out:
        for lines in _mbox_messages(iter(fh)):
            if limit is not None and count >= limit:
                break
            out.writelines(lines)
            count += 1
    return count


# --- reporting --------------------------------------------------------------------------


def _piperarc_command() -> list[str]:
    """The console script beside this Python, else `python -m piperarc.cli`."""
    script = Path(sys.executable).with_name("piperarc")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "piperarc.cli"]


def machine_info() -> list[str]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    total_mb = os.sysconf("SC_PHYS_PAGES") * PAGE_BYTES // MB
    usable = len(os.sched_getaffinity(0))
    return [
        _load_line("before"),
        f"machine: {os.cpu_count()} CPUs ({usable} usable, nproc), {model}, {total_mb} MB RAM",
        f"python:  {platform.python_implementation()} {platform.python_version()} "
        f"on {platform.system()} {platform.release()}",
    ]


def _load_line(when: str) -> str:
    """The load average: other work on the machine skews every figure here."""
    one, five, fifteen = os.getloadavg()
    return f"load:    {one:.2f} {five:.2f} {fifteen:.2f} (1/5/15 min, {when} the runs)"


def _mb(n: int) -> str:
    return f"{n / MB:7.1f} MB" if n else "    n/a"


def _rate(messages: int, seconds: float) -> str:
    return f"{messages / seconds:8.0f} msgs/s" if seconds else "     n/a"


def _memory_line(series: Series) -> str:
    return (
        f"  {series.name:<8} peak memory: tree RSS {_mb(series.peak_rss())}, "
        f"tree PSS {_mb(series.peak_pss())}, largest process {_mb(series.peak_largest())}"
        f"  (up to {series.max_processes()} processes)"
    )


def _check(series: Series, run: PhaseRun) -> None:
    if run.returncode != 0:
        sys.stderr.write(f"{series.name} failed (exit {run.returncode}):\n{run.output}\n")
        raise SystemExit(1)


def _version(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except OSError:
        return "unknown"
    text = (done.stdout or done.stderr).strip().splitlines()
    return text[0].strip() if text else "unknown"


# --- the benchmark ----------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--mbox",
        type=Path,
        default=DEFAULT_MBOX,
        help="the mail to use (mbox, or .xz/.gz/.bz2 of one)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=None,
        help="piperarc runs; medians are printed (default 3, --quick 1)",
    )
    parser.add_argument(
        "--mhonarc-repeat",
        type=int,
        default=1,
        help="MHonArc runs (default 1: it takes about a minute); 0 skips it",
    )
    parser.add_argument(
        "--limit", type=int, default=None, metavar="N", help="use only the first N messages"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"a smoke run: --limit {QUICK_LIMIT} (unless given) and --repeat 1",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="passed to `piperarc build --jobs` (default: its own, the cores)",
    )
    parser.add_argument(
        "--plain",
        action="store_true",
        help="give piperarc the decompressed mbox too (by default it reads "
        "the --mbox file as given, decompressing it inside the timed import)",
    )
    parser.add_argument(
        "--search-index",
        action="store_true",
        help="also write the Pagefind index in the build (MHonArc writes none; off by default)",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="where the temporary archives go (default: the system temp dir)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.limit = QUICK_LIMIT if args.limit is None else args.limit
        args.repeat = 1 if args.repeat is None else args.repeat
    args.repeat = 3 if args.repeat is None else args.repeat
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def _piperarc_run(
    args: argparse.Namespace,
    piperarc: list[str],
    feed: Path,
    tmp: Path,
    i: int,
    imports: Series,
    builds: Series,
) -> float:
    """One fresh archive: import then build, each timed; returns their sum."""
    archive = tmp / f"archive-{i}"
    setup = subprocess.run(
        [*piperarc, "init", str(archive), "--list", "bench"],
        capture_output=True,
        text=True,
        check=False,
    )
    if setup.returncode != 0:
        sys.exit(f"piperarc init failed:\n{setup.stdout}{setup.stderr}")
    imp = run_phase(
        [*piperarc, "import", "--archive", archive, "--list", "bench", feed],
        tmp / f"import-{i}.log",
    )
    _check(imports, imp)
    imports.runs.append(imp)
    build_argv: list[str | Path] = [*piperarc, "build", "--archive", archive]
    if not args.search_index:
        # Like for like: MHonArc writes no search index. --search-index adds ours.
        build_argv.append("--no-search-index")
    if args.jobs:
        build_argv += ["--jobs", str(args.jobs)]
    bld = run_phase(build_argv, tmp / f"build-{i}.log")
    _check(builds, bld)
    builds.runs.append(bld)
    summary = imp.output.strip().splitlines()[-1] if imp.output.strip() else ""
    built = re.search(r"built (\d+) pages", bld.output)
    print(
        f"  run {i + 1}/{args.repeat}: import {imp.seconds:6.2f}s  "
        f"build {bld.seconds:6.2f}s  ({summary}; "
        f"{built.group(1) if built else '?'} pages)",
        flush=True,
    )
    return imp.seconds + bld.seconds


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    source: Path = args.mbox
    if not source.exists():
        sys.exit(f"no mail at {source} (give one with --mbox PATH)")
    piperarc = _piperarc_command()
    mhonarc = shutil.which("mhonarc")

    for line in machine_info():
        print(line)
    print(f"piperarc: {_version([*piperarc, '--version'])} ({' '.join(piperarc)})")
    print(f"mhonarc:  {_version([mhonarc, '-v']) if mhonarc else 'not installed'}")

    with tempfile.TemporaryDirectory(prefix="piperarc-bench-", dir=args.workdir) as tmp_name:
        tmp = Path(tmp_name)
        plain = tmp / "input.mbox"
        started = time.perf_counter()
        messages = decompress(source, plain, args.limit)
        print(
            f"input:    {source} -> {messages} messages, "
            f"{plain.stat().st_size / MB:.1f} MB plain "
            f"(prepared in {time.perf_counter() - started:.1f}s, untimed)"
        )
        compressed = source.name.lower().endswith((".xz", ".gz", ".bz2"))
        feed = plain if args.plain or args.limit is not None or not compressed else source
        print(
            f"piperarc reads {feed.name}"
            + (" (decompression counted in import)" if feed == source and compressed else "")
            + f"; build --jobs {args.jobs or 'default'}; work dir {tmp}"
        )
        print()

        imports, builds = Series("import"), Series("build")
        mhonarc_runs = Series("mhonarc")
        totals: list[float] = []
        mhonarc_repeat = args.mhonarc_repeat if mhonarc else 0
        # The two tools take turns (piperarc, MHonArc, piperarc, ...), so a load that comes
        # or goes during the minutes of a run weighs on both alike.
        for i in range(max(args.repeat, mhonarc_repeat)):
            if i < args.repeat:
                totals.append(_piperarc_run(args, piperarc, feed, tmp, i, imports, builds))
            if i < mhonarc_repeat:
                assert mhonarc is not None
                out_dir = tmp / f"mhonarc-{i}"
                out_dir.mkdir()
                run = run_phase(
                    [mhonarc, "-quiet", "-outdir", out_dir, plain], tmp / f"mhonarc-{i}.log"
                )
                _check(mhonarc_runs, run)
                mhonarc_runs.runs.append(run)
                print(f"  mhonarc run {i + 1}/{mhonarc_repeat}: {run.seconds:6.2f}s")
            # Outputs are kept until every run is done (see settle()).

    total = statistics.median(totals)
    print()
    print(_load_line("after"))
    print(f"piperarc, {messages} messages, median of {args.repeat} run(s):")
    print(
        f"  import         {imports.median_seconds():8.2f} s  "
        f"{_rate(messages, imports.median_seconds())}"
    )
    print(
        f"  build          {builds.median_seconds():8.2f} s  "
        f"{_rate(messages, builds.median_seconds())}"
    )
    print(f"  import+build   {total:8.2f} s  {_rate(messages, total)}")
    print(_memory_line(imports))
    print(_memory_line(builds))
    if not mhonarc:
        print("MHonArc: not installed (apt-get install mhonarc), comparison skipped")
        return
    if not mhonarc_runs.runs:
        print("MHonArc: skipped (--mhonarc-repeat 0)")
        return
    anchor = mhonarc_runs.median_seconds()
    print(f"MHonArc, median of {len(mhonarc_runs.runs)} run(s):")
    print(f"  mhonarc        {anchor:8.2f} s  {_rate(messages, anchor)}")
    print(_memory_line(mhonarc_runs))
    ratio = total / anchor
    verdict = "meets" if ratio <= TARGET_RATIO else "misses"
    print(
        f"ratio piperarc import+build / MHonArc = {ratio:.3f} "
        f"({verdict} the target <= {TARGET_RATIO})"
    )


if __name__ == "__main__":
    main()
