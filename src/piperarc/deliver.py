"""The ONE write path: raw mail → parse → store, idempotent. import, pipe and LMTP use it."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import BinaryIO

from piperarc import parse, threads
from piperarc.errors import SourceError
from piperarc.model import ImportCounts, NewMessage
from piperarc.sources import RawMail, read_source, read_stdin
from piperarc.sources.raw import Progress
from piperarc.store import Store

BATCH_SIZE = 1000


def digest_of(raw: bytes) -> str:
    """The identity of a message's content: identical copies (CRLF or LF) share it."""
    return hashlib.sha256(raw.replace(b"\r\n", b"\n")).hexdigest()


def prepare(mail: RawMail) -> NewMessage:
    """Parse one raw message into what the store keeps beside its bytes."""
    digest = digest_of(mail.raw)
    return NewMessage(mail.raw, mail.envelope, parse.parse(mail.raw, digest, mail.envelope), digest)


class Importer:
    """Feeds messages to the store in batches, counts what happened, rethreads at the end."""

    def __init__(
        self,
        store: Store,
        list_name: str,
        now: Callable[[], int],
        on_message: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.list_name = list_name
        self.now = now
        self.on_message = on_message
        self.counts = ImportCounts()
        self._batch: list[tuple[NewMessage, str]] = []
        store.ensure_list(list_name)

    def add(self, mail: RawMail) -> None:
        self._batch.append((prepare(mail), mail.origin))
        if len(self._batch) >= BATCH_SIZE:
            self.flush()

    def add_all(self, mails: Iterable[RawMail]) -> None:
        """Add every message; a source that fails midway is counted, what it gave is kept."""
        try:
            for mail in mails:
                self.add(mail)
                if self.on_message is not None:
                    self.on_message()
        except SourceError as err:
            self.counts.problems.append(str(err))
            self.counts.failed_sources += 1
        finally:
            self.flush()

    def flush(self) -> None:
        if not self._batch:
            return
        batch, self._batch = self._batch, []
        results = self.store.add_messages(self.list_name, [new for new, _ in batch], self.now())
        for (new, origin), result in zip(batch, results, strict=True):
            if result.status == "duplicate":
                self.counts.duplicates += 1
                continue
            self.counts.new += 1
            if new.parsed.damage:
                self.counts.damaged += 1
                self.counts.problems.append(
                    f"{origin}: damaged, kept as raw text: {new.parsed.damage}"
                )

    def finish(self) -> ImportCounts:
        """Store what is pending and rethread the list if anything new arrived."""
        self.flush()
        if self.counts.new:
            rethread(self.store, self.list_name)
        return self.counts


def rethread(store: Store, list_name: str) -> None:
    """Thread the whole list again and record each message's place (numbers never change)."""
    store.set_threads(list_name, threads.thread(store.summaries(list_name)))


def import_paths(
    store: Store,
    list_name: str,
    paths: Sequence[str],
    *,
    fmt: str | None,
    now: Callable[[], int],
    stdin: BinaryIO | None = None,
    progress: Progress | None = None,
    on_message: Callable[[], None] | None = None,
) -> ImportCounts:
    """Import every source (a path, or "-" for one message on stdin) into `list_name`."""
    importer = Importer(store, list_name, now, on_message)
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
