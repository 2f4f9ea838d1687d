"""Removed messages in the static site: the page at each removed message's permalink (a
static host cannot answer 410; the page says it), and a built site brought up to date at
once after `piperarc remove`: the message's files deleted, its list written again, its
empty threads and periods taken out, the search index made again."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from piperarc import urls
from piperarc.config import ListConfig
from piperarc.model import Tombstone
from piperarc.pages import ListPlan, Pages


class Files(Protocol):
    def write(self, path: str, data: bytes | str) -> None: ...


def write_pages(
    writer: Files,
    pages: Pages,
    lst: ListConfig,
    plan: ListPlan | None,
    tombstones: Sequence[Tombstone],
) -> int:
    """The page at each removed message's permalink; how many."""
    for tombstone in tombstones:
        writer.write(urls.message(lst.name, tombstone.key), pages.removed(lst, tombstone, plan))
    return len(tombstones)


def delete_files(out: Path, lst: ListConfig, tombstones: Sequence[Tombstone]) -> None:
    """The removed messages' own files: the original, the attachments (the page is written
    over by write_pages)."""
    for tombstone in tombstones:
        (out / urls.message_raw(lst.name, tombstone.key)).unlink(missing_ok=True)
        folder = out / urls.message(lst.name, tombstone.key).removesuffix(".html")
        if folder.is_dir() and not folder.is_symlink():
            shutil.rmtree(folder)


def delete_emptied(
    out: Path, lst: ListConfig, plan: ListPlan | None, tombstones: Sequence[Tombstone]
) -> None:
    """Threads and periods the removal left without a message: their pages, feeds and
    downloads (a full build writes only what has messages, and never deletes)."""
    threads = plan.threads if plan else {}
    periods = plan.periods if plan else {}
    if not periods:  # no message left: no feed of the list's newest either
        for kind in urls.FEEDS:
            (out / urls.list_feed(lst.name, kind)).unlink(missing_ok=True)
    for tombstone in tombstones:
        if tombstone.thread_key and tombstone.thread_key not in threads:
            for path in (
                urls.thread(lst.name, tombstone.thread_key),
                urls.thread_feed(lst.name, tombstone.thread_key),
                urls.thread_mbox(lst.name, tombstone.thread_key),
            ):
                (out / path).unlink(missing_ok=True)
        period = urls.period_of(tombstone.date_utc, lst.period)
        if period not in periods:
            (out / urls.period_mbox(lst.name, period)).unlink(missing_ok=True)
            folder = out / urls.period_view(lst.name, period, "thread").rsplit("/", 1)[0]
            if folder.is_dir() and not folder.is_symlink():
                shutil.rmtree(folder)
