"""`piperarc watch`: archive mail as it lands in a Maildir.

A Maildir's writer puts a message in tmp/ and renames it into new/ when it is complete
(https://cr.yp.to/proto/maildir.html), so whatever is in new/ is whole. Each file there is
stored (one durable transaction per batch), and only then moved to cur/ with the ":2,"
info suffix the spec gives a message that has been seen. A crash between the two leaves the
file in new/: the next pass stores it again, which the store recognises as a duplicate, and
moves it. Nothing is lost and nothing is stored twice.

New files are noticed through inotify (Linux, via inotify_simple) and, always, by looking
again every `poll` seconds, so a missed event or another platform only delays a message.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from piperarc.config import ArchiveConfig
from piperarc.errors import SourceError
from piperarc.ingest import live
from piperarc.ingest.deliver import prepare
from piperarc.ingest.sources.eml import from_bytes
from piperarc.site.update import SiteUpdater
from piperarc.store import open_store

BATCH = 100  # files per transaction


def _cur_name(name: str) -> str:
    """The name a message gets in cur/: its unique part and ':2,' plus any flags it had."""
    return name if ":2," in name else f"{name.split(':', 1)[0]}:2,"


def pending(maildir: Path) -> list[str]:
    """The names of the finished messages waiting in new/, oldest first."""
    folder = maildir / "new"
    try:
        names = [entry.name for entry in os.scandir(folder) if not entry.name.startswith(".")]
    except FileNotFoundError:
        return []
    # Maildir names begin with the delivery time in seconds: sorting by name is nearly by time.
    return sorted(names)


def import_new(
    config: ArchiveConfig,
    list_name: str,
    maildir: Path,
    updater: SiteUpdater | None = None,
) -> tuple[int, int]:
    """Store every message now in new/ and move each to cur/ after its commit; then
    publish (through `updater`, if given). Returns (new, duplicates)."""
    new_count = duplicates = 0
    store = open_store(config.database)
    try:
        store.ensure_list(list_name)
        names = pending(maildir)
        for start in range(0, len(names), BATCH):
            batch = []
            for name in names[start : start + BATCH]:
                path = maildir / "new" / name
                try:
                    raw = path.read_bytes()
                except FileNotFoundError:
                    continue  # taken by another watcher or the user
                if not raw.strip():
                    live.warn(f"{path}: empty file, left in new/")
                    continue
                batch.append((name, prepare(from_bytes(raw, str(path)))))
            if not batch:
                continue
            results = store.add_messages(list_name, [new for _, new in batch], live.now())
            for (name, new), result in zip(batch, results, strict=True):
                if result.status == "duplicate":
                    duplicates += 1
                elif result.status in ("removed", "no-archive"):
                    why = "removed earlier" if result.status == "removed" else "X-No-Archive"
                    live.warn(f"{name}: {why}, not archived")
                else:
                    new_count += 1
                    if new.parsed.damage:
                        live.warn(f"{name}: damaged, kept as raw text: {new.parsed.damage}")
                (maildir / "new" / name).replace(maildir / "cur" / _cur_name(name))
        if new_count:
            live.publish(config, store, list_name, updater=updater)
    finally:
        store.close()
    return new_count, duplicates


class _Waiter:
    """Sleeps until new/ changes or a timeout passes: inotify where it can, else a plain
    sleep (the caller looks again either way)."""

    def __init__(self, maildir: Path) -> None:
        self._pause = threading.Event()
        self._inotify: Any = None
        try:
            from inotify_simple import INotify, flags
        except ImportError:  # not Linux, or not installed: polling alone
            return
        self._inotify = INotify()
        self._inotify.add_watch(str(maildir / "new"), flags.MOVED_TO | flags.CREATE)

    def wait(self, timeout: float) -> None:
        if self._inotify is None:
            self._pause.wait(timeout)
        else:
            self._inotify.read(timeout=int(timeout * 1000), read_delay=20)

    def close(self) -> None:
        if self._inotify is not None:
            self._inotify.close()


def watch(
    config: ArchiveConfig,
    list_name: str,
    maildir: Path,
    *,
    poll: float = 5.0,
    stop: threading.Event | None = None,
    on_pass: Callable[[int, int], None] | None = None,
) -> None:
    """Import new mail from `maildir` until `stop` is set (forever if None)."""
    config.list(list_name)
    if not (maildir / "new").is_dir() or not (maildir / "cur").is_dir():
        raise SourceError("not a Maildir (it needs new/ and cur/ inside)", maildir)
    stop = stop or threading.Event()
    waiter = _Waiter(maildir)
    updater = SiteUpdater(config, live.site_folder(config))
    try:
        while not stop.is_set():
            try:
                counts = import_new(config, list_name, maildir, updater)
            except Exception as err:  # busy, disk full: the files stay in new/ for next time
                live.warn(f"{maildir}: will retry: {live.describe(err)}")
                counts = (0, 0)
            if on_pass is not None:
                on_pass(*counts)
            if not pending(maildir):
                waiter.wait(poll)
    finally:
        waiter.close()
