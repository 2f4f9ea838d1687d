"""`piperarc lmtp`: an LMTP server (RFC 2033) for an MTA to deliver list mail to.

Recipients are mapped to lists at RCPT time (live.list_for_address); an unknown one gets 550
there. After DATA, LMTP answers once per accepted recipient (RFC 2033 §4.2): 250 only when
the message is committed to the list (SQLite, fsync'd), 451 when it could not be (busy,
disk full): the MTA keeps it and retries. A message for two lists is stored in each.

What is not the sender's fault never gets a 5xx (which makes the MTA bounce the mail for
good): a storage failure or an internal error answers 451. Lines of any length are taken
(aiosmtpd refuses lines over RFC 5321's 1,000 octets with a 500, but real list mail has
them and the archive keeps what it is given, byte-exact); only the whole message is bounded.

Commits are grouped: one writer thread takes every message waiting and commits them in one
transaction (one fsync for many clients). A publisher thread then threads what is new and
updates the built site, coalescing bursts. On SIGTERM or SIGINT the server stops listening,
lets sessions finish the transaction they are in (their replies included), lets the
publisher catch up, and exits.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import queue
import signal
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiosmtpd.lmtp import LMTP

from piperarc.config import ArchiveConfig
from piperarc.ingest import live
from piperarc.ingest.deliver import prepare
from piperarc.ingest.sources.eml import from_bytes
from piperarc.model import NewMessage
from piperarc.site import update as siteupdate
from piperarc.store import AddResult, Store, open_store

GROUP_MAX = 200  # messages per grouped commit
DATA_SIZE_LIMIT = 64 * 1024 * 1024  # 552 above this (RFC 5321 §4.5.3.1.7)
DRAIN_SECONDS = 30.0  # how long SIGTERM waits for open sessions
TRY_LATER = "451 4.3.0 cannot archive it now; try again later"


@dataclass(slots=True)
class _Job:
    list_name: str
    new: NewMessage
    future: concurrent.futures.Future[AddResult]


class Committer(threading.Thread):
    """Stores messages in grouped, durable commits on its own connection, opened when the
    first message comes and opened again after a failed commit: a database that was away
    (restarted, locked, full) fails those messages with 451 and is tried afresh for the
    next, so one failure never stops the server."""

    def __init__(self, config: ArchiveConfig, on_commit: Any) -> None:
        super().__init__(name="piperarc-commit", daemon=True)
        self.config = config
        self.jobs: queue.Queue[_Job | None] = queue.Queue()
        self.on_commit = on_commit

    def submit(self, list_name: str, raw: bytes) -> concurrent.futures.Future[AddResult]:
        """Queue one message (parsed here, on the caller's thread) for the list."""
        future: concurrent.futures.Future[AddResult] = concurrent.futures.Future()
        try:
            new = prepare(from_bytes(raw, "<lmtp>"))
        except Exception as err:  # parsing is best-effort and never raises; belt and braces
            future.set_exception(err)
            return future
        self.jobs.put(_Job(list_name, new, future))
        return future

    def stop(self) -> None:
        """Commit what is queued, then end."""
        self.jobs.put(None)
        self.join()

    def run(self) -> None:
        store: Store | None = None
        try:
            running = True
            while running:
                first = self.jobs.get()
                if first is None:
                    break
                group = [first]
                while len(group) < GROUP_MAX:
                    try:
                        more = self.jobs.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        running = False
                        break
                    group.append(more)
                store = self._commit(store, group)
        finally:
            _close_quietly(store)

    def _commit(self, store: Store | None, group: list[_Job]) -> Store | None:
        """Commit the group; the store to use next (None: open a fresh one)."""
        by_list: dict[str, list[_Job]] = {}
        for job in group:
            by_list.setdefault(job.list_name, []).append(job)
        now = int(time.time())
        try:
            store = store or open_store(self.config.database)
            for name in by_list:
                store.ensure_list(name)
            done: list[tuple[_Job, AddResult]] = []
            with store.writing():
                for name, jobs in by_list.items():
                    results = store.add_messages(name, [job.new for job in jobs], now)
                    done.extend(zip(jobs, results, strict=True))
        except Exception as err:  # every one of them gets 451 and is retried by the MTA
            for job in group:
                job.future.set_exception(err)
            _close_quietly(store)
            return None
        for job, result in done:
            job.future.set_result(result)
        self.on_commit(set(by_list))
        return store


def _close_quietly(store: Store | None) -> None:
    """Close a store that may be broken already (its connection lost mid-commit)."""
    if store is None:
        return
    try:
        store.close()
    except Exception as err:  # nothing of it is needed any more
        live.warn(f"closing the archive's connection: {live.describe(err)}")


class Publisher(threading.Thread):
    """Threads new mail and updates the built site after commits, coalescing bursts."""

    def __init__(self, config: ArchiveConfig, site: Path | None) -> None:
        super().__init__(name="piperarc-publish", daemon=True)
        self.config = config
        self.site = site
        self._wanted: set[str] = set()
        self._cond = threading.Condition()
        self._stopping = False

    def want(self, lists: set[str]) -> None:
        """Ask for these lists to be published (soon, once)."""
        with self._cond:
            self._wanted |= lists
            self._cond.notify()

    def stop(self) -> None:
        """Publish what was asked, then end."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self.join()

    def run(self) -> None:
        store = open_store(self.config.database)
        updater = siteupdate.SiteUpdater(self.config, self.site or live.site_folder(self.config))
        try:
            while True:
                with self._cond:
                    while not self._wanted and not self._stopping:
                        self._cond.wait()
                    if not self._wanted and self._stopping:
                        return
                    lists, self._wanted = self._wanted, set()
                for name in sorted(lists & _lists_with_mail(store, lists)):
                    try:
                        live.publish(self.config, store, name, updater=updater)
                    except Exception as err:  # stored already; the next publish retries
                        live.warn(f"{name}: stored, but the site is not updated: "
                                  f"{live.describe(err)}")  # fmt: skip
        finally:
            store.close()


def _lists_with_mail(store: Store, lists: set[str]) -> set[str]:
    """The lists that have mail to publish (one with none yet has no pages); all of them
    when the archive cannot say, so that publishing them reports why."""
    try:
        return set(store.list_names())
    except Exception:  # publishing each then warns with the reason
        return lists


class Handler:
    """aiosmtpd's handler: RCPT maps to a list, DATA commits and answers per recipient."""

    def __init__(self, config: ArchiveConfig, committer: Committer) -> None:
        self.config = config
        self.committer = committer
        self.busy = 0  # sessions between DATA and its replies

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if live.list_for_address(self.config, address) is None:
            return f"550 5.1.1 <{address}>: no such list in this archive"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.busy += 1
        try:
            try:
                lines = await self._replies(envelope.rcpt_tos, envelope.original_content or b"")
            except Exception as err:  # ours, not the sender's: each recipient gets 451
                live.warn(f"lmtp: not stored, the client will retry: {live.describe(err)}")
                lines = [TRY_LATER for _ in envelope.rcpt_tos]
            for line in lines[:-1]:
                await server.push(line)
            return lines[-1]
        finally:
            self.busy -= 1

    async def handle_exception(self, error: Exception) -> str:
        """An error of ours in a session (aiosmtpd would answer 500: a bounce): 451."""
        live.warn(f"lmtp: the client will retry: {live.describe(error)}")
        return TRY_LATER

    async def _replies(self, rcpts: list[str], raw: bytes) -> list[str]:
        """One reply per recipient, in order: each list's message committed together."""
        names = []
        for rcpt in rcpts:
            lst = live.list_for_address(self.config, rcpt)
            names.append(lst.name if lst else "")
        futures = {
            name: asyncio.wrap_future(self.committer.submit(name, raw))
            for name in dict.fromkeys(names)
            if name
        }
        replies: dict[str, str] = {}
        for name, future in futures.items():
            try:
                result = await future
            except Exception as err:  # the archive's trouble (busy, full, away): retry
                live.warn(f"{name}: not stored, the client will retry: {live.describe(err)}")
                replies[name] = TRY_LATER
                continue
            replies[name] = _accepted(name, result)
        return [replies.get(name, "550 5.1.1 no such list") for name in names]


def _accepted(list_name: str, result: AddResult) -> str:
    """The 250 reply for a message the archive took (or, by its rules, did not keep)."""
    if result.status == "removed":
        return f"250 2.0.0 removed earlier from {list_name}, not archived"
    if result.status == "no-archive":
        return f"250 2.0.0 marked X-No-Archive, not archived in {list_name}"
    what = "already archived" if result.status == "duplicate" else "archived"
    return f"250 2.0.0 {what} in {list_name} as {result.key}"


class Session(LMTP):
    """aiosmtpd's LMTP session, taking lines of any length (RFC 5322 §2.1.1 asks senders
    for at most 998 octets, but mail that breaks it is still mail to archive). Reading a
    line is bounded by the message size limit instead, past which the reply is 552."""

    line_length_limit = DATA_SIZE_LIMIT + 3  # the line, CRLF, and a dot-stuffing dot


def session(handler: Handler) -> Session:
    """A new LMTP session (one connection) over `handler`."""
    return Session(
        handler,
        data_size_limit=DATA_SIZE_LIMIT,
        enable_SMTPUTF8=True,
        ident="piperarc LMTP",
    )


def _listen(loop: asyncio.AbstractEventLoop, listen: str, factory: Any) -> Any:
    if listen.startswith("unix:"):
        path = listen[len("unix:") :]
        if Path(path).is_socket():
            Path(path).unlink()  # a socket left by a server that did not stop cleanly
        return loop.run_until_complete(loop.create_unix_server(factory, path))
    host, _, port = listen.rpartition(":")
    return loop.run_until_complete(loop.create_server(factory, host.strip("[]"), int(port)))


def serve(
    config: ArchiveConfig,
    listen: str,
    *,
    site: Path | None = None,
    ready: Any = None,
) -> None:
    """Run the LMTP server on `listen` (HOST:PORT or unix:PATH) until SIGTERM/SIGINT;
    `ready` (if given) is called with the bound address once it accepts connections."""
    loop = asyncio.new_event_loop()
    publisher = Publisher(config, site)
    committer = Committer(config, publisher.want)
    handler = Handler(config, committer)
    publisher.start()
    committer.start()
    # Publish anything a previous run committed but did not get to.
    publisher.want({lst.name for lst in config.lists})
    sessions: weakref.WeakSet[LMTP] = weakref.WeakSet()

    def factory() -> LMTP:
        protocol = session(handler)
        sessions.add(protocol)
        return protocol

    server = _listen(loop, listen, factory)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if ready is not None:
        sockname = server.sockets[0].getsockname()
        ready(f"unix:{sockname}" if isinstance(sockname, str) else f"{sockname[0]}:{sockname[1]}")

    async def drain() -> None:
        await stop.wait()
        server.close()
        deadline = loop.time() + DRAIN_SECONDS
        while handler.busy and loop.time() < deadline:
            await asyncio.sleep(0.02)
        for protocol in list(sessions):
            transport = getattr(protocol, "transport", None)
            if transport is not None:
                transport.close()
        await asyncio.sleep(0)

    try:
        loop.run_until_complete(drain())
    finally:
        committer.stop()
        publisher.stop()
        loop.close()
