"""The incremental build: after mail arrives, rewrite only the pages it touches.

A site that `piperarc build` wrote carries a marker (build.MARKER): per list, the last message
number in the site and each period's count and download size. An update brings the site up
to the database: for every message numbered above the marker (and every message whose thread
placement changed, as placing.py reports), it rewrites

- the pages of each thread they are in: every member's page, .eml and attachments, the
  thread page, its feed and mbox (a member's page shows the thread's size and replies);
- the pages of their date neighbours (the previous / next links);
- a redirect for every thread page whose thread was merged into another;
- each touched period's views (every period of a thread that grew) and its mbox.gz;
- the list's home and feeds, and the archive's home.

Every file is written to a temporary name and renamed (site/files.Writer), so a reader never sees
half a page. Updates are serialized by an flock on a file in the site folder and read one
database snapshot each, so the last update to finish always wrote from the newest state.
Reads are bounded by what the new messages touch, never by the size of the archive (save
the counts on the homes, which SQLite answers from its indexes).

- the static search index, if the site has one: the new messages' words are added to the
  shards that hold them, and their entries to the index's doc files (searchindex.add).

A message that only moved keeps its place in the search index (it is found by its words,
not its thread); is:root follows a move at the next `piperarc build`.
"""

from __future__ import annotations

import fcntl
import gzip
import json
import os
import shutil
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from piperarc import feeds, urls
from piperarc.config import ArchiveConfig, ListConfig
from piperarc.feeds import envelope_line, mboxrd_entry
from piperarc.model import Summary, Tombstone
from piperarc.pages import RECENT_DAYS, ListPlan, Pages, feed_document, home_entry
from piperarc.site import removed, searchindex
from piperarc.site.build import (
    GZIP_LEVEL,
    MARKER,
    BuildReport,
    _build_list,
    _Job,
    _ListWriter,
    build,
    raw_page_warning,
)
from piperarc.site.files import Writer
from piperarc.store import Store, open_store

LOCK = ".piperarc-build.lock"


@dataclass(slots=True)
class UpdateReport:
    """What an update rewrote."""

    messages: int = 0  # new messages now in the site
    threads: int = 0
    pages: int = 0
    periods: int = 0
    full_lists: int = 0  # lists built whole (they were empty at the last build)
    # A line per message page written as its raw text (its rendering failed).
    warnings: list[str] = field(default_factory=list)


def _private_side(marker: dict[str, Any]) -> bool:
    """Whether the site a build marker belongs to holds the private lists (`build
    --private-out`) rather than the public ones (a marker from before says nothing: public)."""
    return bool(marker.get("private", False))


def is_built(out: Path) -> bool:
    """Whether `out` holds a site written by `piperarc build` (incremental updates apply)."""
    return (out / MARKER).is_file()


@contextmanager
def _locked(out: Path) -> Iterator[None]:
    fd = os.open(out / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def period_bounds(key: str, kind: str) -> tuple[int, int]:
    """[start, end) in UTC seconds of the period `key` (as urls.period_of names it)."""
    if kind == "year":
        start = datetime(int(key), 1, 1, tzinfo=UTC)
        end = datetime(int(key) + 1, 1, 1, tzinfo=UTC)
    elif kind == "quarter":
        year, quarter = (int(part) for part in key.split("-Q"))
        start = datetime(year, 3 * quarter - 2, 1, tzinfo=UTC)
        end = datetime(year + quarter // 4, (3 * quarter) % 12 + 1, 1, tzinfo=UTC)
    elif kind == "week":
        year, week = (int(part) for part in key.split("-W"))
        start = datetime.fromisocalendar(year, week, 1).replace(tzinfo=UTC)
        return int(start.timestamp()), int(start.timestamp()) + 7 * 86400
    else:
        year, month = (int(part) for part in key.split("-"))
        start = datetime(year, month, 1, tzinfo=UTC)
        end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return int(start.timestamp()), int(end.timestamp())


class SiteUpdater:
    """Updates one built site; keep one for many updates (its templates compile once)."""

    def __init__(self, config: ArchiveConfig, out: Path) -> None:
        self.config = config
        self.out = out
        self._pages: Pages | None = None

    @property
    def pages(self) -> Pages:
        if self._pages is None:
            self._pages = Pages(self.config.title)
        return self._pages

    def update(self, list_name: str, changed: Iterable[int] = ()) -> UpdateReport | None:
        """Bring the site up to the database for `list_name`: the messages archived since
        it was written, and those in `changed` (moved by threading). None if the folder
        holds no built site (nothing to update: `piperarc build` writes it whole)."""
        out, config = self.out, self.config
        if not is_built(out):
            return None
        lst = config.list(list_name)
        with _locked(out):
            try:
                marker: dict[str, Any] = json.loads((out / MARKER).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return None  # a damaged marker: the next full build rewrites it
            if lst.private != _private_side(marker):
                return None  # a private list never goes into a public site, nor the reverse
            config = config.scoped(private=lst.private)
            store = open_store(config.database, readonly=True)
            try:
                with store.reading():
                    report = _update(config, out, store, lst, marker, set(changed), self.pages)
                    if report is not None:
                        writer = Writer(out)
                        stored = set(store.list_names())
                        entries = [
                            home_entry(o, store.home_stats(o.name) if o.name in stored else None)
                            for o in config.lists
                        ]
                        writer.write(urls.home(), self.pages.home(entries))
                        writer.write(MARKER, json.dumps(marker))
                        report.pages += 1
            finally:
                store.close()
        return report


def update(
    config: ArchiveConfig, out: Path, list_name: str, changed: Iterable[int] = ()
) -> UpdateReport | None:
    """SiteUpdater(config, out).update(list_name, changed), once."""
    return SiteUpdater(config, out).update(list_name, changed)


def _update(
    config: ArchiveConfig,
    out: Path,
    store: Store,
    lst: ListConfig,
    marker: dict[str, Any],
    changed: set[int],
    pages: Pages,
) -> UpdateReport | None:
    name = lst.name
    lists: dict[str, Any] = marker.setdefault("lists", {})
    entry = lists.get(name)
    if entry is None:
        # The list had no mail at the last build: build it whole, once.
        if name not in store.list_names() or not store.last_num(name):
            return None
        built = BuildReport()
        plan = _build_list(config, store, lst, out, Writer(out), pages, 1, built)
        lists[name] = built.built[name]
        _add_to_index(config, out, store, lst, list(plan.by_num.values()))
        return UpdateReport(
            messages=built.messages, pages=built.pages, full_lists=1, warnings=built.warnings
        )
    new: list[Summary] = []
    for s in store.summaries_after(name, int(entry["through"])):
        if not s.thread_key:
            break  # not threaded yet: whoever places it updates the site after
        new.append(s)
    moved = store.summaries_by_nums(name, changed - {s.num for s in new})
    if not new and not moved:
        return None
    report = UpdateReport(messages=len(new))
    writer = Writer(out)
    keys = {s.thread_key for s in new} | {s.thread_key for s in moved}
    members = store.summaries_in_threads(name, keys)
    # The date neighbours of a new message link to it: their pages change too.
    extra = {
        n.num: n
        for s in new
        for n in store.date_neighbours(name, s.date_utc, s.num)
        if n.thread_key not in keys
    }
    known = {s.num: s for s in members}
    known.update(
        (s.num, s) for s in store.summaries_in_threads(name, {s.thread_key for s in extra.values()})
    )
    for s in [*members, *extra.values()]:
        for n in store.date_neighbours(name, s.date_utc, s.num):
            known.setdefault(n.num, n)
    # In number order, as a full build reads them: replies are listed in that order.
    plan = ListPlan(
        sorted(known.values(), key=lambda s: s.num),
        lst.period,
        {num: note for num in known if (note := store.origin(name, num)) is not None},
        store.tombstones(name),
    )
    job = _Job(config.database, out, config.title, lst, plan, config.base_url)
    inline = _ListWriter(job, store, pages)
    # The new messages' own pages first: that is when their URLs start to work.
    written, _, threads, _, problems = inline.threads(sorted(keys), first={s.num for s in new})
    report.pages += written
    report.threads += threads
    report.warnings.extend(problems)
    for s in extra.values():
        msg = store.message(name, s.num)
        page = pages.message(lst, plan, msg, store.raw(name, s.num))
        if page.problem is not None:
            report.warnings.append(raw_page_warning(lst, msg.key, msg.mid, page.problem))
        writer.write(urls.message(name, s.key), page.html)
        report.pages += 1
    for s in members:
        if s.key != s.thread_key and (out / urls.thread(name, s.key)).exists():
            html = pages.moved_thread(lst, plan, s.key)
            if html is not None:
                writer.write(urls.thread(name, s.key), html)
                report.pages += 1
    # Periods: the views of every period a new or moved message is in; downloads of those
    # that gained a message.
    periods: dict[str, list[int | None]] = entry.setdefault("periods", {})
    gained = {urls.period_of(s.date_utc, lst.period) for s in new}
    touched = gained | {urls.period_of(s.date_utc, lst.period) for s in moved}
    # A thread view sums each thread up (its counts, last date, the periods it runs into):
    # every period of a thread that grew shows it anew.
    touched |= {urls.period_of(s.date_utc, lst.period) for s in members if s.thread_key}
    # A period new to the list changes its neighbours' "older" / "newer" links.
    every = sorted(set(periods) | touched)
    for period in gained - set(periods):
        i = every.index(period)
        touched.update(every[max(i - 1, 0) : i + 2])
    # What the site holds after this update: a message another process stored but has not
    # placed yet waits for the update that follows its placing (listed now, its page would
    # not exist yet, and appended then, the period's download would hold it twice).
    through = new[-1].num if new else int(entry["through"])
    for period in sorted(touched):
        start, end = period_bounds(period, lst.period)
        items = [
            s for s in store.summaries_dated(name, start, end) if s.num <= through and s.thread_key
        ]
        if not items:
            continue
        around = store.date_neighbours(name, items[0].date_utc, items[0].num)[:1]
        around += store.date_neighbours(name, items[-1].date_utc, items[-1].num)[-1:]
        around = [s for s in around if not start <= s.date_utc < end]
        # Whole threads, for what a period's thread view says of each (counts, the periods
        # it runs into): their messages in other periods are not in the plan's periods.
        whole = [
            s
            for s in store.summaries_in_threads(name, {s.thread_key for s in items})
            if s.num <= through
        ]
        period_plan = ListPlan(
            sorted([*items, *around], key=lambda s: s.num), lst.period, whole_threads=whole
        )
        for path, html in pages.period_views(lst, period_plan, period).items():
            writer.write(path, html)
            report.pages += 1
        size = (periods.get(period) or [0, None])[1]
        if period in gained:
            arrived = {s.num for s in new if urls.period_of(s.date_utc, lst.period) == period}
            size = _append_download(out, store, lst, period, items, arrived)
            if size is None:
                job = _Job(config.database, out, config.title, lst, period_plan, config.base_url)
                size = _ListWriter(job, store, pages).download(period)[1]
        periods[period] = [len(items), size]
        report.periods += 1
    counts = {key: int(value[0] or 0) for key, value in periods.items()}
    sizes = {key: value[1] for key, value in periods.items() if value[1] is not None}
    stats = store.home_stats(name)
    recent: list[Summary] = []
    if stats.last is not None:
        since = stats.last - RECENT_DAYS * 86400
        recent = [s for s in store.summaries_dated(name, since, stats.last + 1) if s.thread_key]
    writer.write(
        urls.list_home(name), pages.list_home(lst, None, stats, sizes, counts, recent=recent)
    )
    for kind in urls.FEEDS:
        newest = store.newest_summaries(name, feeds.FEED_SIZE, starters=kind == "threads")
        messages = [store.message(name, s.num) for s in newest]
        feed = feeds.list_feed(lst, kind)
        writer.write(feed.path, feed_document(feed, lst, messages, config.base_url))
    report.pages += 1
    if new:
        entry["through"] = new[-1].num
        _add_to_index(config, out, store, lst, new)
    return report


def _add_to_index(
    config: ArchiveConfig, out: Path, store: Store, lst: ListConfig, new: Sequence[Summary]
) -> None:
    if searchindex.has_index(out):
        searchindex.add(out, store, lst, new, {o.name: o for o in config.lists})


def _append_download(
    out: Path, store: Store, lst: ListConfig, period: str, items: list[Summary], arrived: set[int]
) -> int | None:
    """The period's mbox.gz with the messages that `arrived` added as one more gzip member
    (RFC 1952 §2.2: a gzip file is a series of members; readers give their concatenation):
    no recompressing the whole period. The download is in archiving order, so new mail is
    its tail whatever its Date. Written to a copy, then renamed. Returns the new size, or
    None when it must be rebuilt (the file is missing, or `arrived` is not the tail)."""
    path = out / urls.period_mbox(lst.name, period)
    by_arrival = sorted(items, key=lambda s: s.num)
    tail = by_arrival[len(by_arrival) - len(arrived) :]
    if not arrived or not path.is_file() or {s.num for s in tail} != arrived:
        return None
    by_num = {s.num: s for s in tail}
    member = gzip.compress(
        b"".join(
            mboxrd_entry(envelope_line(envelope, by_num[num].from_addr, by_num[num].date_utc), raw)
            for num, envelope, raw in store.iter_raw(lst.name, [s.num for s in tail])
        ),
        compresslevel=GZIP_LEVEL,
        mtime=0,
    )
    tmp = path.parent / f".{path.name}.{os.getpid()}.tmp"
    shutil.copyfile(path, tmp)
    with tmp.open("ab") as fh:
        fh.write(member)
    tmp.replace(path)
    return path.stat().st_size


def after_removal(
    config: ArchiveConfig, out: Path, list_name: str, tombstones: Sequence[Tombstone]
) -> BuildReport | None:
    """Take removed messages out of the built site at `out` at once: their files deleted,
    their list written again (its pages, views, feeds and downloads no longer hold them;
    their permalinks say they were removed; their threads show a placeholder), threads and
    periods left empty taken out, and the search index made again if the site has one.
    None when the site does not hold the list."""
    lst = config.list(list_name)
    try:
        marker = json.loads((out / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # no built site there (or a damaged marker: the next build rewrites it)
    if lst.private != _private_side(marker) or not (out / lst.name).is_dir():
        return None
    with _locked(out):
        removed.delete_files(out, lst, tombstones)
        report = build(
            config,
            out,
            list_names=[list_name],
            search_index=searchindex.has_index(out),
            private=lst.private,
        )
        store = open_store(config.database, readonly=True)
        try:
            stored = list_name in store.list_names()
            plan = ListPlan(store.summaries(list_name), lst.period) if stored else None
        finally:
            store.close()
        removed.delete_emptied(out, lst, plan, tombstones)
    return report
