"""The whole default job (`piperarc import` then `piperarc build`, search index included)
side by side with Hypermail 3.0 (C) and MHonArc on the same mail: time, peak memory of
every process, and bytes written.

Prints figures, asserts nothing (DESIGN.md rule 8). Each repeat makes a fresh archive in a
temporary folder and runs each tool as separate processes, taking turns (piperarc,
Hypermail, MHonArc, piperarc, ...) so that a load coming or going weighs on all alike;
each is timed wall-clock and the memory of its whole process tree (the build forks
workers) sampled every 50 ms from /proc. Decompression happens once, before anything is
timed: every tool reads the same plain mbox (Hypermail and MHonArc read no other);
--compressed has piperarc read the compressed file instead, its decompression counted.

    .venv/bin/python bench/import_build.py                       # linux-man-10k (minutes)
    .venv/bin/python bench/import_build.py --mbox ../shared/corpus/lists/usrp-users-3k.mbox.xz
    .venv/bin/python bench/import_build.py --scales 1,10 --repeat 1 --mhonarc-repeat 0
    .venv/bin/python bench/import_build.py --quick               # a smoke run

--scales 1,10 also runs the list copied ten times (100,000 messages from linux-man): each
copy's Message-IDs, References and In-Reply-To rewritten alike (so each copy threads as
the original did, apart from the others) and a header naming the copy (so no two copies
are the same bytes), to show how time and memory grow.

Memory is reported four ways, because forked workers share pages with their parent:
"tree RSS" sums every process's resident set (counts shared pages once per process, so it
overstates), "tree PSS" sums proportional set sizes (the fair total), "largest process" is
the biggest single process's resident set as sampled (the figure the 300 MB target is
about), and the kernel's own ru_maxrss of the process started.
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
HYPERMAIL = Path(__file__).resolve().parents[2] / "shared" / "tools" / "hypermail"
# The targets (the issue "The whole job at the C archiver's speed"): the whole job within
# twice Hypermail's time, no process above 300 MB, at most 1.5 times Hypermail's bytes, and
# ten times the mail in at most eleven times the time.
TARGET_TIME = 2.0
TARGET_RSS = 300 * 1024 * 1024
TARGET_BYTES = 1.5
TARGET_GROWTH = 11.0


@dataclass(slots=True)
class TreeMemory:
    """Peaks of the sampled memory of a process tree, in bytes."""

    rss_sum: int = 0
    pss_sum: int = 0
    processes: int = 0
    largest: int = 0  # the biggest single process's RSS seen


@dataclass(slots=True)
class PhaseRun:
    """One timed run of one command."""

    seconds: float
    tree: TreeMemory
    largest_process: int  # bytes, from wait4's ru_maxrss
    output: str
    returncode: int
    written: int = 0  # bytes of the files it wrote (apparent size)


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
        return max(max(r.largest_process, r.tree.largest) for r in self.runs)

    def median_written(self) -> int:
        return int(statistics.median(r.written for r in self.runs))

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
                self.peak.largest = max(self.peak.largest, one_rss)
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


_ID_HEADER = re.compile(rb"^(message-id|references|in-reply-to):", re.IGNORECASE)
_ID = re.compile(rb"<([^<>\s]+)>")


def _copied(lines: list[bytes], copy: int) -> list[bytes]:
    """A message's lines as copy number `copy` (1 up): its Message-ID and the Message-IDs
    it refers to prefixed alike, and a header saying which copy it is."""
    out = [lines[0], b"X-Bench-Copy: %d\n" % copy]
    in_ids = False
    at_body = False
    for line in lines[1:]:
        if not at_body:
            if line in (b"\n", b"\r\n"):
                at_body = True
            elif line[:1] in (b" ", b"\t"):
                pass  # a continuation of the header before
            else:
                in_ids = bool(_ID_HEADER.match(line))
            if in_ids and not at_body:
                line = _ID.sub(lambda m: b"<c%d.%s>" % (copy, m.group(1)), line)
        out.append(line)
    return out


def decompress(source: Path, target: Path, limit: int | None, scale: int = 1) -> int:
    """Write the plain mbox of `source` (its first `limit` messages), `scale` times (the
    copies after the first under new Message-IDs) to `target`; count the messages."""
    count = 0
    with target.open("wb") as out:
        for copy in range(scale):
            taken = 0
            with _open_mail(source) as fh:
                for lines in _mbox_messages(iter(fh)):
                    if limit is not None and taken >= limit:
                        break
                    out.writelines(lines if copy == 0 else _copied(lines, copy))
                    taken += 1
            count += taken
    return count


def folder_bytes(folder: Path) -> int:
    """The apparent size of every file under `folder`."""
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size  # noqa: PTH118
    return total


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
        f"  {series.name:<10} peak memory: largest process {_mb(series.peak_largest())}, "
        f"tree RSS {_mb(series.peak_rss())}, tree PSS {_mb(series.peak_pss())}"
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
        help="piperarc and Hypermail runs; medians are printed (default 3, --quick 1)",
    )
    parser.add_argument(
        "--mhonarc-repeat",
        type=int,
        default=1,
        help="MHonArc runs (default 1: it takes about half a minute); 0 skips it",
    )
    parser.add_argument(
        "--limit", type=int, default=None, metavar="N", help="use only the first N messages"
    )
    parser.add_argument(
        "--scales",
        default="1",
        help="comma-separated copies of the mail to run (1,10: the list and ten times it)",
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
        "--compressed",
        action="store_true",
        help="give piperarc the --mbox file as given (compressed), decompressing it inside "
        "the timed import; by default it reads the plain mbox the others read",
    )
    parser.add_argument(
        "--no-search-index",
        action="store_true",
        help="build without the search index (neither Hypermail nor MHonArc writes one)",
    )
    parser.add_argument(
        "--hypermail", type=Path, default=HYPERMAIL, help=f"Hypermail's binary ({HYPERMAIL})"
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
    try:
        args.scales = [int(n) for n in args.scales.split(",")]
    except ValueError:
        parser.error("--scales takes whole numbers: 1,10")
    return args


def _piperarc_run(
    args: argparse.Namespace,
    piperarc: list[str],
    feed: Path,
    tmp: Path,
    tag: str,
    imports: Series,
    builds: Series,
) -> float:
    """One fresh archive: import then build, each timed; returns their sum."""
    archive = tmp / f"archive-{tag}"
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
        tmp / f"import-{tag}.log",
    )
    _check(imports, imp)
    imp.written = folder_bytes(archive)
    imports.runs.append(imp)
    build_argv: list[str | Path] = [*piperarc, "build", "--archive", archive]
    if args.no_search_index:
        build_argv.append("--no-search-index")
    if args.jobs:
        build_argv += ["--jobs", str(args.jobs)]
    bld = run_phase(build_argv, tmp / f"build-{tag}.log")
    _check(builds, bld)
    bld.written = folder_bytes(archive / "site")
    builds.runs.append(bld)
    summary = imp.output.strip().splitlines()[-1] if imp.output.strip() else ""
    indexed = re.search(r"search index written in ([\d.]+)s", bld.output)
    print(
        f"  piperarc: import {imp.seconds:6.2f}s  build {bld.seconds:6.2f}s"
        + (f" (search index {indexed.group(1)}s)" if indexed else "")
        + f"  site {bld.written / MB:.0f} MB, archive {imp.written / MB:.0f} MB  ({summary})",
        flush=True,
    )
    return imp.seconds + bld.seconds


@dataclass(slots=True)
class Scale:
    """The figures of one size of input."""

    messages: int
    totals: list[float] = field(default_factory=list)
    imports: Series = field(default_factory=lambda: Series("import"))
    builds: Series = field(default_factory=lambda: Series("build"))
    hypermail: Series = field(default_factory=lambda: Series("hypermail"))
    mhonarc: Series = field(default_factory=lambda: Series("mhonarc"))


def _peer_run(series: Series, argv: list[str | Path], out_dir: Path, log: Path) -> PhaseRun:
    out_dir.mkdir()
    run = run_phase(argv, log)
    _check(series, run)
    run.written = folder_bytes(out_dir)
    series.runs.append(run)
    print(f"  {series.name}: {run.seconds:6.2f}s  {run.written / MB:.0f} MB", flush=True)
    return run


def run_scale(args: argparse.Namespace, scale: int, tmp: Path) -> Scale:
    piperarc = _piperarc_command()
    mhonarc = shutil.which("mhonarc")
    hypermail = args.hypermail if args.hypermail.exists() else None
    plain = tmp / f"input-x{scale}.mbox"
    started = time.perf_counter()
    messages = decompress(args.mbox, plain, args.limit, scale)
    print(
        f"input x{scale}: {args.mbox.name} -> {messages} messages, "
        f"{plain.stat().st_size / MB:.1f} MB plain (prepared in "
        f"{time.perf_counter() - started:.1f}s, untimed)"
    )
    compressed = args.mbox.name.lower().endswith((".xz", ".gz", ".bz2"))
    plain_only = not args.compressed or args.limit is not None or scale > 1 or not compressed
    feed = plain if plain_only else args.mbox
    print(
        f"piperarc reads {feed.name}"
        + (" (decompression counted in import)" if feed == args.mbox else "")
        + f"; build --jobs {args.jobs or 'default'}"
        + ("; no search index" if args.no_search_index else "")
    )
    figures = Scale(messages)
    mhonarc_repeat = args.mhonarc_repeat if mhonarc else 0
    for i in range(max(args.repeat, mhonarc_repeat)):
        tag = f"x{scale}-{i}"
        print(f" round {i + 1}:")
        if i < args.repeat:
            figures.totals.append(
                _piperarc_run(args, piperarc, feed, tmp, tag, figures.imports, figures.builds)
            )
            if hypermail is not None:
                out_dir = tmp / f"hypermail-{tag}"
                argv: list[str | Path] = [hypermail, "-m", plain, "-d", out_dir]
                _peer_run(figures.hypermail, argv, out_dir, tmp / f"hypermail-{tag}.log")
        if i < mhonarc_repeat:
            assert mhonarc is not None
            out_dir = tmp / f"mhonarc-{tag}"
            argv = [mhonarc, "-quiet", "-outdir", out_dir, plain]
            _peer_run(figures.mhonarc, argv, out_dir, tmp / f"mhonarc-{tag}.log")
        # Outputs are kept until every run is done (see settle()).
    return figures


def _verdict(ok: bool) -> str:
    return "meets" if ok else "MISSES"


def report(args: argparse.Namespace, scale: int, f: Scale) -> None:
    total = statistics.median(f.totals)
    print()
    print(f"x{scale}: piperarc, {f.messages} messages, median of {len(f.totals)} run(s):")
    for phase in (f.imports, f.builds):
        seconds = phase.median_seconds()
        print(f"  {phase.name:<14} {seconds:8.2f} s  {_rate(f.messages, seconds)}")
    print(f"  import+build   {total:8.2f} s  {_rate(f.messages, total)}")
    print(_memory_line(f.imports))
    print(_memory_line(f.builds))
    site = f.builds.median_written()
    database = f.imports.median_written()
    print(f"  wrote: site {site / MB:.1f} MB, archive (database) {database / MB:.1f} MB")
    largest = max(f.imports.peak_largest(), f.builds.peak_largest())
    print(
        f"  target: every process <= {TARGET_RSS // MB} MB: largest {largest / MB:.0f} MB "
        f"({_verdict(largest <= TARGET_RSS)})"
    )
    for peer in (f.hypermail, f.mhonarc):
        if not peer.runs:
            continue
        anchor = peer.median_seconds()
        print(f"{peer.name}, median of {len(peer.runs)} run(s):")
        wrote = peer.median_written()
        rate = _rate(f.messages, anchor)
        print(f"  {peer.name:<14} {anchor:8.2f} s  {rate}  wrote {wrote / MB:.1f} MB")
        print(_memory_line(peer))
        ratio = total / anchor
        size = site / peer.median_written() if peer.median_written() else 0.0
        print(
            f"  ratio piperarc import+build / {peer.name} time = {ratio:.2f}"
            + (
                f" ({_verdict(ratio <= TARGET_TIME)} the target <= {TARGET_TIME})"
                if peer is f.hypermail
                else ""
            )
        )
        print(
            f"  ratio piperarc site / {peer.name} bytes = {size:.2f}"
            + (
                f" ({_verdict(size <= TARGET_BYTES)} the target <= {TARGET_BYTES})"
                if peer is f.hypermail
                else ""
            )
        )
    if not f.hypermail.runs:
        print(f"Hypermail: not found at {args.hypermail} (--hypermail PATH), comparison skipped")
    if not f.mhonarc.runs:
        print("MHonArc: not run (apt-get install mhonarc; --mhonarc-repeat 1)")


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if not args.mbox.exists():
        sys.exit(f"no mail at {args.mbox} (give one with --mbox PATH)")
    piperarc = _piperarc_command()
    mhonarc = shutil.which("mhonarc")
    for line in machine_info():
        print(line)
    print(f"piperarc:  {_version([*piperarc, '--version'])} ({' '.join(piperarc)})")
    print(f"hypermail: {args.hypermail if args.hypermail.exists() else 'not found'}")
    print(f"mhonarc:   {_version([mhonarc, '-v']) if mhonarc else 'not installed'}")
    results: dict[int, Scale] = {}
    with tempfile.TemporaryDirectory(prefix="piperarc-bench-", dir=args.workdir) as tmp_name:
        for scale in args.scales:
            print()
            results[scale] = run_scale(args, scale, Path(tmp_name))
    print()
    print(_load_line("after"))
    for scale, figures in results.items():
        report(args, scale, figures)
    if 1 in results and len(results) > 1:
        base = statistics.median(results[1].totals)
        for scale, figures in results.items():
            if scale == 1:
                continue
            growth = statistics.median(figures.totals) / base
            limit = TARGET_GROWTH * scale / 10
            print(
                f"growth x{scale}: piperarc import+build {growth:.2f} times the x1 time "
                f"({_verdict(growth <= limit)} the target <= {limit:g})"
            )
            if figures.hypermail.runs and results[1].hypermail.runs:
                peer = figures.hypermail.median_seconds() / results[1].hypermail.median_seconds()
                print(f"growth x{scale}: hypermail {peer:.2f} times its x1 time")


if __name__ == "__main__":
    main()
