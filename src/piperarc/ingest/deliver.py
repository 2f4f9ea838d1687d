"""The ONE write path: raw mail → parse → store, idempotent. import, pipe and LMTP use it.

Parsing (and compressing) runs in worker processes when there are several messages and
cores; the parent reads the sources and writes the store, so the two overlap. Results come
back in source order, at most a few batches in flight, so memory stays flat however large
the source is.
"""

from __future__ import annotations

import dataclasses
import hashlib
import multiprocessing
import os
import queue
import re
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from multiprocessing.pool import AsyncResult, Pool
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from piperarc.errors import SourceError
from piperarc.ingest import placing
from piperarc.ingest.sources import RawMail, read_source, read_stdin
from piperarc.ingest.sources.raw import Progress
from piperarc.mail import parse
from piperarc.model import ImportCounts, IndexText, NewMessage, ParsedMessage
from piperarc.store import FieldUpdate, Store, pack
from piperarc.store.base import AddResult

BATCH_SIZE = 1000  # messages per store transaction, at most
# ... and at most this many bytes of mail: a thousand messages with attachments held at once
# (raw, packed and parsed) took an import of usrp-users to 295 MB.
BATCH_BYTES = 16 * 1024 * 1024
PLACE_AT_MOST = 200  # unthreaded messages placed one neighbourhood at a time, not by a rethread
PARSE_CHUNK = 64  # messages per task sent to a parsing worker
IN_FLIGHT_PER_WORKER = 4

Prepared = list[tuple[NewMessage, str]]


def digest_of(raw: bytes) -> str:
    """The identity of a message's content: identical copies (CRLF or LF) share it."""
    return hashlib.sha256(raw.replace(b"\r\n", b"\n")).hexdigest()


# X-No-Archive: yes (Usenet's convention, honoured by Mailman and most archives): its
# sender asks that the message not be archived. Looked for in the header block only.
_NO_ARCHIVE = re.compile(rb"^x-no-archive:[ \t]*yes\b", re.IGNORECASE | re.MULTILINE)
_HEADER_END = re.compile(rb"\r?\n\r?\n")


def asks_no_archive(raw: bytes) -> bool:
    """Whether the message's header says X-No-Archive: yes."""
    end = _HEADER_END.search(raw)
    return _NO_ARCHIVE.search(raw, 0, end.start() if end else len(raw)) is not None


def prepare(mail: RawMail) -> NewMessage:
    """Parse one raw message into what the store keeps beside its bytes."""
    digest = digest_of(mail.raw)
    parsed = _parse(mail.raw, digest, mail.envelope)
    if mail.problem:
        damage = f"{mail.problem}; {parsed.damage}" if parsed.damage else mail.problem
        parsed = dataclasses.replace(parsed, damage=damage)
    return NewMessage(
        mail.raw,
        mail.envelope,
        parsed,
        digest,
        pack(mail.raw),
        parse.index_text(parsed),
        asks_no_archive(mail.raw),
    )


def _parse(raw: bytes, digest: str, envelope: str | None) -> ParsedMessage:
    """parse.parse, or the raw text when it fails: a parser bug must not stop an import or
    a rebuild of the index, nor lose mail."""
    try:
        return parse.parse(raw, digest, envelope)
    except Exception as err:
        return parse.unreadable(raw, digest, f"parser failed: {type(err).__name__}: {err}")


def _prepare_chunk(chunk: list[RawMail]) -> Prepared:
    return [(prepare(mail), mail.origin) for mail in chunk]


def _chunks(mails: Iterable[RawMail], errors: list[SourceError]) -> Iterator[list[RawMail]]:
    """Chunks of a source; a source that fails midway yields what it gave, then stops."""
    chunk: list[RawMail] = []
    try:
        for mail in mails:
            chunk.append(mail)
            if len(chunk) >= PARSE_CHUNK:
                yield chunk
                chunk = []
    except SourceError as err:
        errors.append(err)
    if chunk:
        yield chunk


def _read_ahead(chunks: Iterator[list[RawMail]], depth: int) -> Iterator[list[RawMail]]:
    """The chunks, read by a thread a few ahead: decompressing and reading release the GIL,
    so the next chunks come in while this thread writes the store."""
    ready: queue.Queue[list[RawMail] | BaseException | None] = queue.Queue(depth)
    stop = threading.Event()

    def hand_over(item: list[RawMail] | BaseException | None) -> bool:
        """Queue the item unless the consumer has gone; never blocks past its going."""
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for chunk in chunks:
                if not hand_over(chunk):
                    return
        except BaseException as err:  # handed to the consumer of the chunks, raised there
            hand_over(err)
            return
        hand_over(None)

    reader = threading.Thread(target=read, name="piperarc-read-ahead", daemon=True)
    reader.start()
    try:
        while (item := ready.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        reader.join()


class Importer:
    """Feeds messages to the store in batches, counts what happened, rethreads at the end.

    Use it as a context manager: with `jobs` > 1 it runs a pool of parsing workers."""

    def __init__(
        self,
        store: Store,
        list_name: str,
        now: Callable[[], int],
        *,
        jobs: int = 1,
        on_message: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.list_name = list_name
        self.now = now
        self.on_message = on_message
        self.counts = ImportCounts()
        # Told (where it came from, what the store did) for every message offered.
        self.on_stored: Callable[[str, AddResult], None] | None = None
        self._batch: Prepared = []
        self._batch_bytes = 0
        self._pool: Pool | None = None
        self._jobs = jobs
        store.ensure_list(list_name)

    def __enter__(self) -> Importer:
        if self._jobs > 1:
            self._pool = multiprocessing.get_context("fork").Pool(self._jobs)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._pool is not None:
            self._pool.terminate() if error else self._pool.close()
            self._pool.join()
            self._pool = None

    def add_all(self, mails: Iterable[RawMail]) -> None:
        """Add every message; a source that fails midway is counted, what it gave is kept."""
        errors: list[SourceError] = []
        try:
            if self._pool is None:
                for chunk in _chunks(mails, errors):
                    self._take(_prepare_chunk(chunk))
            else:
                window = IN_FLIGHT_PER_WORKER * self._jobs
                pending: deque[AsyncResult[Prepared]] = deque()
                for chunk in _read_ahead(_chunks(mails, errors), window):
                    pending.append(self._pool.apply_async(_prepare_chunk, (chunk,)))
                    if len(pending) >= window:
                        self._take(pending.popleft().get())
                while pending:
                    self._take(pending.popleft().get())
        finally:
            self.flush()
        for err in errors:
            self.counts.problems.append(str(err))
            self.counts.failed_sources += 1

    def _take(self, prepared: Prepared) -> None:
        self._batch.extend(prepared)
        self._batch_bytes += sum(len(new.raw) for new, _ in prepared)
        if self.on_message is not None:
            for _ in prepared:
                self.on_message()
        if len(self._batch) >= BATCH_SIZE or self._batch_bytes >= BATCH_BYTES:
            self.flush()

    def flush(self) -> None:
        """Store what is pending, in one transaction."""
        if not self._batch:
            return
        batch, self._batch = self._batch, []
        self._batch_bytes = 0
        results = self.store.add_messages(self.list_name, [new for new, _ in batch], self.now())
        for (new, origin), result in zip(batch, results, strict=True):
            if self.on_stored is not None:
                self.on_stored(origin, result)
            if result.status == "duplicate":
                self.counts.duplicates += 1
                continue
            if result.status == "removed":
                self.counts.removed += 1
                continue
            if result.status == "no-archive":
                self.counts.no_archive += 1
                continue
            self.counts.new += 1
            if new.parsed.damage:
                self.counts.damaged += 1
                self.counts.problems.append(
                    f"{origin}: damaged, kept as raw text: {new.parsed.damage}"
                )

    def finish(self) -> ImportCounts:
        """Store what is pending, then thread what is not threaded yet.

        Threading is derived state that any run completes: an import killed after storing
        some batches left them unplaced, and the next run places them even if it adds
        nothing itself. A few messages are placed among the threads they touch
        (placing.place_pending, the same threads a full rethread gives); many, by threading
        the whole list again."""
        self.flush()
        unplaced = len(self.store.unplaced(self.list_name))
        if 0 < unplaced <= PLACE_AT_MOST:
            placing.place_pending(self.store, self.list_name)
        elif unplaced:
            rethread(self.store, self.list_name)
        return self.counts


def rethread(store: Store, list_name: str) -> int:
    """Thread the whole list again and record each message's place where it changed
    (numbers never change); returns how many messages moved."""
    with store.writing():
        _, _, changes = placing.rethread(store, list_name)
    return len(changes)


def reindex(store: Store, list_name: str) -> tuple[int, int]:
    """Rebuild the list's search index from its raw messages (a better parser, a new
    tokenizer, or a damaged index), and store again the fields a better parser derives
    differently: a sender the list rewrote, the text of HTML mail (parse.py). Returns
    how many messages were indexed and how many had fields made anew."""
    stored = {s.num: (s.from_name, s.from_addr) for s in store.summaries(list_name)}
    # Kept for after the index: a sender that differs, and every text made from HTML
    # (the only texts a parser change has made differ so far); from undamaged mail only.
    anew: list[FieldUpdate] = []

    def texts() -> Iterator[tuple[int, IndexText]]:
        for num, envelope, raw in store.iter_raw(list_name):
            parsed = _parse(raw, "", envelope)
            # Never from a message read as raw text (a parser that failed on it now
            # would otherwise overwrite what a parser that read it then stored).
            differs = parsed.html_only or stored.get(num) != (parsed.from_name, parsed.from_addr)
            if differs and parsed.damage is None:
                anew.append(FieldUpdate(num, parsed.from_name, parsed.from_addr, parsed.body_text))
            yield num, parse.index_text(parsed)

    count = store.replace_index(list_name, texts())
    return count, store.refresh_fields(list_name, anew) if anew else 0


def import_paths(
    store: Store,
    list_name: str,
    paths: Sequence[str],
    *,
    fmt: str | None,
    now: Callable[[], int],
    stdin: BinaryIO | None = None,
    progress: Progress | None = None,
    jobs: int | None = None,
    on_message: Callable[[], None] | None = None,
) -> ImportCounts:
    """Import every source (a path, or "-" for one message on stdin) into `list_name`."""
    if jobs is None:
        # Parsing workers pay off for files; one message on stdin is parsed in-process.
        jobs = 1 if all(name == "-" for name in paths) else os.cpu_count() or 1
    with Importer(store, list_name, now, jobs=jobs, on_message=on_message) as importer:
        for name in paths:
            if name == "-":
                if stdin is None:
                    raise SourceError("no standard input to read", "-")
                importer.add_all(read_stdin(stdin))
                continue
            try:
                mails = read_source(Path(name), fmt, progress)
            except SourceError as err:
                importer.counts.problems.append(str(err))
                importer.counts.failed_sources += 1
                continue
            importer.add_all(mails)
        return importer.finish()
