"""No crash can corrupt the archive (issue 14): `import`, a stream of `deliver` runs and an
`lmtp` server are each killed with SIGKILL several times at random moments while a real list
(the start of linux-man) goes in, on both backends; then one run finishes (everything is
imported or delivered again, as a user or an MTA retries). After that every message is stored
exactly once, `piperarc export` gives back its bytes, and every message sits in the same
thread under the same parent as in a clean import of the same mail into a fresh archive.

tests/test_durability.py checks the acknowledgement itself (nothing acknowledged is lost);
these check what the next run makes of what a crash left behind."""

from __future__ import annotations

import contextlib
import json
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from piperarc import config as configlib
from piperarc.errors import PiperarcError
from piperarc.feeds import mboxrd_entry
from piperarc.ingest.sources.mbox import read_messages
from piperarc.store import database_exists, open_store
from tests.conftest import BACKENDS, Run, cli
from tests.crashhelpers import (
    LIST,
    Place,
    exported,
    identity,
    lmtp_wire,
    new_archive,
    place_differences,
    places,
    slice_mbox,
    subject_shared,
)
from tests.livehelpers import PIPERARC, start_lmtp
from tests.lmtpclient import LMTPClient

pytestmark = [pytest.mark.corpus, pytest.mark.slow]

IMPORT_COUNT = 2000  # messages of linux-man imported (two of the importer's batches)
KILLS = 3  # SIGKILLs per scenario
STREAMED = 10  # `piperarc deliver` processes in the killed stream, five at a time
CLIENTS = 4  # LMTP clients sending at once
ADDRESS = f"{LIST}@example.org"


@dataclass(frozen=True)
class Mail:
    """The slice of the list, as a file and as the messages piperarc stores from it."""

    mbox: Path  # the first IMPORT_COUNT messages
    messages: list[bytes]
    envelopes: dict[bytes, bytes]  # each message's From_ line


@dataclass(frozen=True)
class Clean:
    """What a clean import into a fresh archive gives, on one backend."""

    backend: str
    seconds: float  # how long `piperarc import` of the whole slice took, as a process
    places: dict[str, Place]
    # What is delivered live, one message at a time (PostgreSQL places ~25 a second: not
    # all 2,000): the messages of every thread whose subject another thread shares, in the
    # list's order, where the order of arrival can change the threads.
    live: list[bytes]
    live_places: dict[str, Place]  # as a clean import of just those places them


@pytest.fixture(scope="module")
def mail(tmp_path_factory: pytest.TempPathFactory) -> Mail:
    folder = tmp_path_factory.mktemp("crash-mail")
    mbox = slice_mbox("linux-man-10k.mbox.xz", IMPORT_COUNT, folder / "linux-man.mbox")
    found = list(read_messages(mbox))
    assert len(found) == IMPORT_COUNT
    return Mail(mbox, [m.raw for m in found], {m.raw: (m.envelope or "").encode() for m in found})


@pytest.fixture(scope="module", params=BACKENDS)
def clean(
    request: pytest.FixtureRequest, mail: Mail, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Clean]:
    """The slice, then its live part, imported whole, once per backend, by processes that
    are not killed."""
    backend = request.param
    folder = tmp_path_factory.mktemp(f"crash-clean-{backend}")
    with ExitStack() as stack:
        whole = new_archive(stack, folder / "whole", backend)
        started = time.monotonic()
        _finish_import(whole, mail.mbox)
        seconds = time.monotonic() - started
        shared = subject_shared(whole)
        live = [raw for raw in mail.messages if identity(raw) in shared]
        assert len(live) > 300, "the slice has too few threads that share a subject"
        live_mbox = folder / "live.mbox"
        live_mbox.write_bytes(b"".join(mboxrd_entry(mail.envelopes[raw], raw) for raw in live))
        live_archive = new_archive(stack, folder / "live", backend)
        _finish_import(live_archive, live_mbox)
        yield Clean(backend, seconds, places(whole), live, places(live_archive))


@pytest.fixture
def fresh(clean: Clean, tmp_path: Path) -> Iterator[Path]:
    """An empty archive on the backend of `clean`."""
    with ExitStack() as stack:
        yield new_archive(stack, tmp_path / "archive", clean.backend)


# -- what every scenario checks once the last run finished ---------------------------------


def _stored_count(archive: Path) -> int:
    result = cli("stats", "--archive", archive, "--json")
    assert result.exit_code == 0, result.output
    return int(json.loads(result.stdout)["lists"][LIST]["messages"])


def _assert_whole(archive: Path, sent: list[bytes], want: dict[str, Place]) -> None:
    """Each distinct message stored once and exported byte-exact; each placed as `want`."""
    assert _stored_count(archive) == len(set(sent))
    got = exported(archive)
    assert Counter(got) == Counter(set(sent)), "export does not give back each message once"
    differences = place_differences(places(archive), want)
    assert not differences, "threaded unlike a clean import:\n" + "\n".join(differences)


# -- import ---------------------------------------------------------------------------------


def _import(archive: Path, mbox: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [PIPERARC, "import", "--archive", str(archive), "--list", LIST, str(mbox)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _finish_import(archive: Path, mbox: Path) -> None:
    done = subprocess.run(
        [PIPERARC, "import", "--archive", str(archive), "--list", LIST, str(mbox)],
        capture_output=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")


def _last_num(archive: Path) -> int:
    """The highest message number stored so far (0 before the first commit), as a reader
    sees it while the import writes."""
    database = configlib.load(archive).database
    if not database_exists(database):
        return 0
    try:
        store = open_store(database, readonly=True)
    except PiperarcError:
        # A reader racing a writer's checkpoint may be refused (reported apart): look again.
        return 0
    try:
        return store.last_num(LIST) if LIST in store.list_names() else 0
    finally:
        store.close()


def _kill_when(proc: subprocess.Popen[bytes], ready: Callable[[], bool], timeout: float) -> bool:
    """SIGKILL `proc` as soon as `ready()`; False if it finished (or timed out) first."""
    deadline = time.monotonic() + timeout
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if ready():
                proc.send_signal(signal.SIGKILL)
                return proc.wait() != 0
            time.sleep(0.002)
        return False
    finally:
        proc.kill()
        proc.wait()


def _after(seconds: float) -> Callable[[], bool]:
    moment = time.monotonic() + seconds
    return lambda: time.monotonic() >= moment


def test_import_killed_at_random_then_run_again_stores_and_threads_as_a_clean_import(
    mail: Mail, clean: Clean, fresh: Path
) -> None:
    rng = random.Random(14)
    kills = 0
    for _ in range(KILLS - 1):  # at random moments of a run as long as a clean one
        proc = _import(fresh, mail.mbox)
        kills += _kill_when(proc, _after(rng.uniform(0.05, 1.0) * clean.seconds), 60)
    # And once just after the last batch is committed, while the list is being threaded:
    # the run after it adds nothing, and must thread all the same.
    proc = _import(fresh, mail.mbox)
    kills += _kill_when(proc, lambda: _last_num(fresh) >= len(mail.messages), 60)
    assert kills >= 2, "the imports finished before they could be killed"
    _finish_import(fresh, mail.mbox)
    _assert_whole(fresh, mail.messages, clean.places)


# -- deliver --------------------------------------------------------------------------------


def _deliver(archive: Path, raw: bytes) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [PIPERARC, "deliver", "--archive", str(archive), "--list", LIST],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdin is not None
    with contextlib.suppress(BrokenPipeError), proc.stdin:
        proc.stdin.write(raw)
    return proc


def _deliver_stream(archive: Path, messages: list[bytes], rng: random.Random) -> int:
    """`deliver` runs five at a time, KILLS of them killed at a random moment of their run
    (within the time the unkilled ones took); returns how many were killed mid-run."""
    doomed = set(rng.sample(range(len(messages)), KILLS))
    took = [0.5]
    killed = 0
    lock = threading.Lock()

    def one(n: int) -> None:
        nonlocal killed
        started = time.monotonic()
        proc = _deliver(archive, messages[n])
        if n in doomed:
            with lock:
                limit = rng.uniform(0.0, 1.2) * sorted(took)[len(took) // 2]
            try:
                proc.wait(timeout=limit)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                with lock:
                    killed += 1
        status = proc.wait()
        if status == 0:
            with lock:
                took.append(time.monotonic() - started)

    for start in range(0, len(messages), 5):
        wave = [threading.Thread(target=one, args=(n,)) for n in range(start, start + 5)]
        for t in wave:
            t.start()
        for t in wave:
            t.join()
    return killed


def test_deliver_killed_at_random_then_every_message_again_threads_as_a_clean_import(
    mail: Mail, clean: Clean, fresh: Path, run: Run
) -> None:
    rng = random.Random(15)
    # The stream starts mid-list, so later mail arrives before the earlier mail it answers.
    middle = len(clean.live) // 2
    stream = clean.live[middle : middle + STREAMED]
    assert _deliver_stream(fresh, stream, rng) >= 2, "the deliveries finished before the kill"
    # The MTA then hands over every message (again), in the order its queue holds them.
    for raw in rng.sample(clean.live, len(clean.live)):
        result = run("deliver", "--archive", fresh, "--list", LIST, input=raw)
        assert result.exit_code == 0, result.output
    _assert_whole(fresh, clean.live, clean.live_places)


# -- lmtp -----------------------------------------------------------------------------------


def _send_all(address: str, messages: list[bytes], replies: list[str]) -> None:
    """One client sending `messages` until the server dies under it; each reply to DATA
    is appended to `replies`."""
    try:
        client = LMTPClient(address, timeout=30)
    except OSError:
        return  # killed before it accepted us
    try:
        for raw in messages:
            replies.append(client.send("a@test.example", [ADDRESS], raw)[0])
    except OSError:
        pass  # the server was killed: the rest is not acknowledged
    finally:
        client.close()


def _lmtp_round(archive: Path, messages: list[bytes], cut: int | None) -> None:
    """An lmtp server taking `messages` from CLIENTS clients at once; killed with SIGKILL
    after `cut` acknowledgements, or stopped with SIGTERM once all are sent (cut None)."""
    proc, address = start_lmtp(archive)
    replies: list[str] = []  # list.append is atomic: the clients share it
    clients = [
        threading.Thread(target=_send_all, args=(address, messages[i::CLIENTS], replies))
        for i in range(CLIENTS)
    ]
    for t in clients:
        t.start()
    if cut is not None:
        deadline = time.monotonic() + 120
        while len(replies) < cut and time.monotonic() < deadline:
            time.sleep(0.001)
        proc.send_signal(signal.SIGKILL)
    for t in clients:
        t.join()
    if cut is None:
        proc.send_signal(signal.SIGTERM)
    status = proc.wait(timeout=120)
    if cut is None:
        assert status == 0
        assert [r[:3] for r in replies] == ["250"] * len(messages), Counter(replies)


def test_lmtp_killed_at_random_then_every_message_again_threads_as_a_clean_import(
    mail: Mail, clean: Clean, fresh: Path
) -> None:
    rng = random.Random(16)
    queue = rng.sample(clean.live, len(clean.live))  # mail arrives in no particular order
    share = len(queue) // KILLS
    for k in range(KILLS):  # each server takes the next share of the queue, and is killed
        mine = queue[k * share : (k + 1) * share]
        _lmtp_round(fresh, mine, cut=rng.randrange(len(mine)))
    # The MTA then sends every message (again) over one server that is left to finish.
    _lmtp_round(fresh, queue, cut=None)
    _assert_whole(fresh, [lmtp_wire(raw) for raw in clean.live], clean.live_places)
