"""What the crash and hostile-mail property tests share: a slice of a real list, a fresh
archive on either backend, what `piperarc export` gives back, and each message's thread.

A message is named by the sha256 of its bytes with CRLF read as LF, as the store names a
message's content (two different messages may share a Message-ID, and LMTP stores the CRLF
it received); failures print its Message-ID beside it."""

from __future__ import annotations

import hashlib
import lzma
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from piperarc import config as configlib
from piperarc.ingest.sources.mbox import read_messages
from piperarc.model import Summary
from piperarc.store import open_store
from tests.conftest import cli, corpus_path, database_for

LIST = "lm"


def slice_mbox(xz_name: str, count: int, target: Path) -> Path:
    """The first `count` messages of the corpus list `xz_name`, decompressed to `target`
    (cut just before the From_ line of the next message, so it is the file's own bytes)."""
    seen = 0
    with lzma.open(corpus_path("lists", xz_name)) as packed, target.open("wb") as out:
        for line in packed:
            if line.startswith(b"From "):
                seen += 1
                if seen > count:
                    break
            out.write(line)
    return target


def mbox_messages(mbox: Path) -> list[bytes]:
    """Each message of an mbox as piperarc stores it (mboxrd unquoted, no From_ line)."""
    return [mail.raw for mail in read_messages(mbox)]


def identity(raw: bytes) -> str:
    """What names a message here: its content's digest, line endings aside."""
    return hashlib.sha256(raw.replace(b"\r\n", b"\n")).hexdigest()


def lmtp_wire(raw: bytes) -> bytes:
    """The bytes an LMTP server receives for `raw` from tests/lmtpclient.py (CRLF lines),
    which is what it must store."""
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def new_archive(stack: ExitStack, root: Path, backend: str, list_name: str = LIST) -> Path:
    """`piperarc init` of an archive at `root` with one list, on `backend`; a PostgreSQL
    schema lives as long as `stack`."""
    db_args = stack.enter_context(database_for(backend))
    result = cli("init", root, "--list", list_name, *db_args)
    assert result.exit_code == 0, result.output
    return root


def exported(archive: Path, list_name: str = LIST) -> list[bytes]:
    """Every message `piperarc export` writes, read back as an import would read it."""
    result = cli("export", "--archive", archive, "--list", list_name)
    assert result.exit_code == 0, result.output
    out = archive.parent / f"{archive.name}-export.mbox"
    out.write_bytes(result.stdout_bytes)
    try:
        return mbox_messages(out)
    finally:
        out.unlink()


@dataclass(frozen=True, slots=True)
class Place:
    """Where a message sits, by Message-ID (which copy of a Message-ID two messages share
    is a parent depends on which was archived first, so it is not compared)."""

    mid: str
    thread: frozenset[str]  # the Message-IDs in its thread; empty if it is in none
    parent: str | None  # its parent's Message-ID, None for a thread's root


def _summaries_named(archive: Path, list_name: str) -> tuple[list[Summary], dict[int, str]]:
    """The list's summaries, and each message's identity by its number."""
    store = open_store(configlib.load(archive).database, readonly=True)
    try:
        summaries = store.summaries(list_name)
        nums = [s.num for s in summaries]
        return summaries, {num: identity(raw) for num, _, raw in store.iter_raw(list_name, nums)}
    finally:
        store.close()


def places(archive: Path, list_name: str = LIST) -> dict[str, Place]:
    """Each stored message's place (by digest), read from the store's summaries."""
    summaries, names = _summaries_named(archive, list_name)
    mids = {s.num: s.mid for s in summaries}
    members: dict[str, set[str]] = {"": set()}  # no thread key: not threaded yet
    for s in summaries:
        if s.thread_key:
            members.setdefault(s.thread_key, set()).add(s.mid)
    return {
        names[s.num]: Place(
            s.mid,
            frozenset(members[s.thread_key]),
            mids[s.parent_num] if s.parent_num is not None else None,
        )
        for s in summaries
    }


def place_differences(got: dict[str, Place], want: dict[str, Place], limit: int = 8) -> list[str]:
    """Readable lines for the messages placed differently in `got` than in `want`."""
    lines = []
    for key in sorted(set(got) | set(want)):
        a, b = got.get(key), want.get(key)
        if a == b:
            continue
        if a is None or b is None:
            lines.append(f"{key[:12]} only in {'want' if a is None else 'got'}")
            continue
        what = []
        if a.parent != b.parent:
            what.append(f"parent <{a.parent}>, not <{b.parent}>")
        if not a.thread:
            what.append("in no thread")
        elif a.thread != b.thread:
            what.append(f"a thread of {len(a.thread)}, not {len(b.thread)}")
        lines.append(f"<{a.mid}>: " + ", ".join(what))
    if len(lines) > limit:
        lines = [*lines[:limit], f"... {len(lines) - limit} more"]
    return lines


def subject_shared(archive: Path, list_name: str = LIST) -> set[str]:
    """The messages (by identity) of every thread whose root's subject (base) is also
    another thread's root's: where JWZ's subject grouping decides, so where the order mail
    arrives in could change the threads."""
    summaries, names = _summaries_named(archive, list_name)
    roots: dict[str, set[str]] = {}
    for s in summaries:
        if s.parent_num is None:
            roots.setdefault(s.subject_base, set()).add(s.thread_key)
    shared = {key for keys in roots.values() if len(keys) > 1 for key in keys}
    return {names[s.num] for s in summaries if s.thread_key in shared}
