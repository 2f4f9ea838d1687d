"""Writes the static archive: store reads → pages.py → files.

Message and thread pages, the bulk of the work, are rendered thread by thread in worker
processes (each opens the database read-only), which then write the period downloads; the
parent meanwhile writes the period views and the homes. Every file is written to a
temporary name and renamed, so a reader never sees half a page. Atom feeds are written
beside the pages; last, the search index that search.html reads (searchindex.py) is made
from what the server's search holds.
"""

from __future__ import annotations

import gzip
import json
import multiprocessing
import os
import shutil
import time
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from markupsafe import Markup

from piperarc import feeds, urls
from piperarc.config import ArchiveConfig, ListConfig
from piperarc.errors import ConfigError, StoreError
from piperarc.feeds import envelope_line, mboxrd_entry
from piperarc.model import Summary
from piperarc.pages import ListPlan, Pages, feed_document, home_entry
from piperarc.site import redirects, removed, searchindex
from piperarc.site.files import Writer
from piperarc.store import Store, open_store

THREADS_PER_TASK = 64
# Downloads are gzipped fast (level 1): three times quicker than level 6 for about a
# sixth more bytes, and a build writes every message into two of them.
GZIP_LEVEL = 1
# Left in the site by a build: what it holds per list (the last message number in it, each
# period's count and download size), so a live delivery updates only what it touches
# (update.py). Hidden, and not a page.
MARKER = ".piperarc-build.json"


@dataclass(slots=True)
class BuildReport:
    """What a build wrote."""

    messages: int = 0
    threads: int = 0
    pages: int = 0
    attachments: int = 0
    downloads: int = 0
    feeds: int = 0
    seconds: float = 0.0
    search_seconds: float | None = None  # how long the search index took, if made
    search: searchindex.IndexReport | None = None
    lists: list[str] = field(default_factory=list)
    built: dict[str, Any] = field(default_factory=dict)  # the marker's entry per list
    warnings: list[str] = field(default_factory=list)  # one line each, for the user
    raw_pages: int = 0  # message pages written as their raw text (their rendering failed)
    old_urls: int = 0  # old URLs (an old archive's, HyperKitty's) in the redirect maps

    def add(
        self, pages: int, messages: int, threads: int, attachments: int, problems: list[str]
    ) -> None:
        """Counts from _ListWriter.threads; `problems`, a warning line per raw page."""
        self.pages += pages
        self.messages += messages
        self.threads += threads
        self.attachments += attachments
        self.raw_pages += len(problems)
        self.warnings.extend(problems)


@dataclass(frozen=True, slots=True)
class _Job:
    """What a worker needs to render a list's message and thread pages."""

    database: Path | str
    out: Path
    archive_title: str
    lst: ListConfig
    plan: ListPlan
    base_url: str | None


class _ListWriter:
    """Writes a list's message, thread and download files (in a worker or inline)."""

    def __init__(self, job: _Job, store: Store | None = None, pages: Pages | None = None) -> None:
        self.job = job
        self.store: Store = store or open_store(job.database, readonly=True)
        self.pages = pages or Pages(job.archive_title)
        self.writer = Writer(job.out)

    def threads(
        self, thread_keys: Iterable[str], first: Collection[int] = ()
    ) -> tuple[int, int, int, int, list[str]]:
        """Each thread's message pages, originals, attachments and thread page. The pages
        of the messages numbered in `first` (mail that just arrived) are written before
        the rest of their thread's: their URLs work a little sooner. Returns the counts
        (pages, messages, threads, attachments) and a warning line for each message whose
        page could not be rendered and was written as its raw text."""
        pages = messages = threads = attachments = 0
        problems: list[str] = []
        lst, plan, write = self.job.lst, self.job.plan, self.writer.write
        for thread_key in thread_keys:
            members = list(self.store.thread_messages(lst.name, thread_key))
            order = sorted(range(len(members)), key=lambda i: members[i][0].num not in first)
            articles: dict[int, Markup] = {}
            for i in order:
                msg, raw = members[i]
                page = self.pages.message(lst, plan, msg, raw)
                if page.problem is not None:
                    problems.append(raw_page_warning(lst, msg.key, msg.mid, page.problem))
                for a in page.attachments:
                    write(urls.attachment(lst.name, msg.key, a.index, a.filename), a.data)
                write(urls.message_raw(lst.name, msg.key), raw)
                write(urls.message(lst.name, msg.key), page.html)
                articles[i] = page.thread_article
                attachments += len(page.attachments)
                pages += 1
                messages += 1
            entries = [(msg, articles[i]) for i, (msg, _) in enumerate(members)]
            mbox = [
                mboxrd_entry(envelope_line(msg.envelope, msg.from_addr, msg.date_utc), raw)
                for msg, raw in members
            ]
            if entries:
                write(
                    urls.thread(lst.name, thread_key),
                    self.pages.thread(
                        lst, thread_key, entries, plan.removed_in.get(thread_key, ())
                    ),
                )
                write(
                    urls.thread_mbox(lst.name, thread_key),
                    gzip.compress(b"".join(mbox), compresslevel=GZIP_LEVEL, mtime=0),
                )
                feed = feeds.thread_feed(lst, thread_key, entries[0][0])
                messages_only = [msg for msg, _ in entries]
                write(feed.path, feed_document(feed, lst, messages_only, self.job.base_url))
                pages += 1
                threads += 1
        return pages, messages, threads, attachments, problems

    def download(self, period: str) -> tuple[str, int]:
        """The period's mbox.gz (mboxrd, byte-exact messages), in the order they were
        archived, as Pipermail's were: mail that arrives later is appended to it (see
        siteupdate._append_download), whatever its Date says. Returns (period, size)."""
        items: Sequence[Summary] = sorted(self.job.plan.periods[period], key=lambda s: s.num)
        path = urls.period_mbox(self.job.lst.name, period)
        target = self.job.out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.parent / f".{target.name}.{os.getpid()}.tmp"
        by_num = {s.num: s for s in items}
        with (
            tmp.open("wb") as fh,
            gzip.GzipFile(
                filename="", fileobj=fh, mode="wb", mtime=0, compresslevel=GZIP_LEVEL
            ) as gz,
        ):
            for num, envelope, raw in self.store.iter_raw(
                self.job.lst.name, [s.num for s in items]
            ):
                s = by_num[num]
                gz.write(mboxrd_entry(envelope_line(envelope, s.from_addr, s.date_utc), raw))
        tmp.replace(target)
        return period, target.stat().st_size


def raw_page_warning(lst: ListConfig, key: str, mid: str, problem: str) -> str:
    """The warning line of a message page written as its raw text. The Message-ID and the
    error's words may come from the mail: shown with no control character (a terminal would
    obey one) and cut short."""
    return (
        f"{urls.message(lst.name, key)} (<{_printable(mid)}>) could not be rendered "
        f"({_printable(problem)}): written as its raw text, with a link to its original"
    )


def _printable(text: str, limit: int = 160) -> str:
    shown = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text[:limit])
    return shown + ("..." if len(text) > limit else "")


_worker: _ListWriter | None = None  # one per worker process, set by its initializer


def _init_worker(job: _Job) -> None:
    global _worker
    _worker = _ListWriter(job)


def _threads_in_worker(thread_keys: list[str]) -> tuple[int, int, int, int, list[str]]:
    assert _worker is not None
    return _worker.threads(thread_keys)


def _download_in_worker(period: str) -> tuple[str, int]:
    assert _worker is not None
    return _worker.download(period)


def build(
    config: ArchiveConfig,
    out: Path,
    *,
    jobs: int | None = None,
    list_names: Sequence[str] | None = None,
    search_index: bool = True,
    private: bool = False,
) -> BuildReport:
    """Write the whole static archive of `config` under `out`; with `search_index`, then
    its search index (of every list of the site, built here or not).

    A site holds the public lists only, or (`private`) the private lists only: a private
    list is never written into a public site, and what an earlier build wrote of a list
    that has changed sides is taken out of it."""
    started = time.perf_counter()
    report = BuildReport()
    others = config.scoped(private=not private)
    config = config.scoped(private=private)
    jobs = jobs or os.cpu_count() or 1
    if search_index and jobs > 1:
        searchindex.start_workers()
    out.mkdir(parents=True, exist_ok=True)
    writer = Writer(out)
    pages = Pages(config.title)
    css = resources.files("piperarc").joinpath("render/static/piperarc.css").read_bytes()
    writer.write(urls.stylesheet(), css)
    script = resources.files("piperarc").joinpath("render/static/search.js").read_bytes()
    writer.write(urls.search_script(), script)
    store = open_store(config.database, readonly=True)
    stored = set(store.list_names())
    home_entries: list[dict[str, Any]] = []
    moved: list[redirects.Moved] = []
    indexed: list[searchindex.Doc] = []  # what the search index will hold
    try:
        withdrawn = _withdraw(out, store, others, stored, redirects.site_names(config))
        if withdrawn and not search_index:
            # Its old index holds the withdrawn lists' text: gone too, until the next index.
            shutil.rmtree(out / urls.search_index_folder(), ignore_errors=True)
        for lst in config.lists:
            stats = store.stats(lst.name) if lst.name in stored else None
            home_entries.append(home_entry(lst, stats))  # the home shows every list
            if list_names and lst.name not in list_names:
                if search_index and stats is not None and stats.messages:
                    indexed += searchindex.docs_of(lst.name, store.summaries(lst.name))
                continue
            if stats is None or not stats.messages:
                writer.write(urls.list_home(lst.name), pages.list_home(lst, None, None))
                if stats is not None:  # every message removed: their pages say so
                    gone = store.tombstones(lst.name)
                    report.pages += removed.write_pages(writer, pages, lst, None, gone)
                continue
            report.lists.append(lst.name)
            plan = _build_list(config, store, lst, out, writer, pages, jobs, report)
            if search_index:
                indexed += searchindex.docs_of(lst.name, plan.by_num.values())
            moved += redirects.old_links(store, lst)
            moved += redirects.hyperkitty_links(config, lst, plan)
            del plan  # the summaries, their references and orders: not held past the list
        writer.write(urls.home(), pages.home(home_entries))
        writer.write(urls.search_help(), pages.search_help())
        report.pages += 3  # the home, search.html and its help
        if list_names:
            _merge_marker(out, writer, report.built, private)
        else:
            writer.write(MARKER, json.dumps({"lists": report.built, "private": private}))
            report.old_urls, old_pages = redirects.write(writer, config, pages, moved)
            report.pages += old_pages
    finally:
        store.close()
    if search_index:
        indexing = time.perf_counter()
        try:
            report.search = searchindex.build(out, config.database, config.lists, indexed, jobs)
        except StoreError as err:  # the pages stand; search.html says there is no index
            report.warnings.append(f"no search index: {err}")
        else:
            report.search_seconds = time.perf_counter() - indexing
            # Pagefind's index, from builds before piperarc wrote its own: nothing reads it.
            shutil.rmtree(out / urls.pagefind_folder(), ignore_errors=True)
    # Written last: it searches only when an index is there (this build's, or an earlier
    # one kept by --no-search-index).
    writer.write(urls.search(), pages.static_search(searchindex.has_index(out)))
    report.seconds = time.perf_counter() - started
    return report


def _merge_marker(out: Path, writer: Writer, built: dict[str, Any], private: bool) -> None:
    """A build of some lists only: their entries in the site's marker are replaced, the
    others kept (no marker: none is written, the site was never built whole)."""
    try:
        marker = json.loads((out / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    marker.setdefault("lists", {}).update(built)
    marker["private"] = private
    writer.write(MARKER, json.dumps(marker))


def check_private_out(public: Path, private: Path) -> None:
    """ConfigError unless the private lists' site and the public one are apart (neither
    inside the other): a private tree inside the public site would be published with it."""
    a, b = public.resolve(), private.resolve()
    if a == b or a.is_relative_to(b) or b.is_relative_to(a):
        raise ConfigError(
            f"--private-out {private} and the public site {public} must be separate folders, "
            "neither inside the other (the public site is published whole)"
        )


def _withdraw(
    out: Path, store: Store, lists: ArchiveConfig, stored: set[str], own: frozenset[str]
) -> list[str]:
    """Takes out of the site at `out` what an earlier build wrote of `lists` (those of the
    other side: a list made private since, or public): its folder and the pages left at its
    old archive's paths (never one under `own`, the site's own first segments). Only in a
    folder a build wrote (its marker there). The names of the lists it took out."""
    taken: list[str] = []
    if not (out / MARKER).is_file():
        return taken
    root = redirects.site_root(lists)
    for lst in lists.lists:
        folder = out / lst.name
        if folder.is_dir() and not folder.is_symlink():
            shutil.rmtree(folder)
            taken.append(lst.name)
        if lst.name not in stored:
            continue
        for link in store.old_links(lst.name):
            rel = redirects.page_at(link.path, root)
            if rel is not None and rel.split("/", 1)[0] not in own and (out / rel).is_file():
                (out / rel).unlink()
    return taken


def _build_list(
    config: ArchiveConfig,
    store: Store,
    lst: ListConfig,
    out: Path,
    writer: Writer,
    pages: Pages,
    jobs: int,
    report: BuildReport,
) -> ListPlan:
    tombstones = store.tombstones(lst.name)
    plan = ListPlan(store.summaries(lst.name), lst.period, store.origins(lst.name), tombstones)
    threads_before = report.threads
    job = _Job(config.database, out, config.title, lst, plan, config.base_url)
    keys = sorted(plan.threads, key=lambda k: -len(plan.threads[k]))  # big threads first
    chunks = [keys[i : i + THREADS_PER_TASK] for i in range(0, len(keys), THREADS_PER_TASK)]
    if jobs > 1 and len(chunks) > 1:
        context = multiprocessing.get_context("fork")
        with context.Pool(jobs, initializer=_init_worker, initargs=(job,)) as pool:
            # Workers take the threads (big ones first), then the period downloads; the
            # parent writes the period views meanwhile.
            pending = pool.imap_unordered(_threads_in_worker, chunks)
            downloads = pool.imap_unordered(_download_in_worker, list(plan.periods))
            report.pages += _write_period_views(writer, pages, lst, plan)
            for result in pending:
                report.add(*result)
            sizes = dict(downloads)
    else:
        inline = _ListWriter(job)
        for chunk in chunks:
            report.add(*inline.threads(chunk))
        report.pages += _write_period_views(writer, pages, lst, plan)
        sizes = dict(inline.download(period) for period in plan.periods)
        inline.store.close()
    report.downloads += len(sizes)
    report.pages += _redirect_moved_threads(writer, pages, lst, plan)
    report.pages += removed.write_pages(writer, pages, lst, plan, tombstones)
    writer.write(urls.list_home(lst.name), pages.list_home(lst, plan, store.stats(lst.name), sizes))
    report.pages += 1
    report.built[lst.name] = {
        "through": max(plan.by_num),
        "periods": {key: [len(items), sizes.get(key)] for key, items in plan.periods.items()},
    }
    # A feed per thread (written with its page) and the list's own.
    report.feeds += report.threads - threads_before
    report.feeds += _write_list_feeds(writer, store, lst, plan, config.base_url)
    return plan


def _write_list_feeds(
    writer: Writer, store: Store, lst: ListConfig, plan: ListPlan, base_url: str | None
) -> int:
    """The list's feeds of its newest messages and newest threads (thread starters)."""
    picks = {
        "messages": feeds.newest(plan.by_date),
        "threads": feeds.newest(feeds.thread_starters(plan.threads)),
    }
    for kind, summaries in picks.items():
        messages = [store.message(lst.name, s.num) for s in summaries]
        feed = feeds.list_feed(lst, kind)
        writer.write(feed.path, feed_document(feed, lst, messages, base_url))
    return len(picks)


def _write_period_views(writer: Writer, pages: Pages, lst: ListConfig, plan: ListPlan) -> int:
    written = 0
    for period in plan.periods:
        for path, html in pages.period_views(lst, plan, period).items():
            writer.write(path, html)
            written += 1
    return written


def _redirect_moved_threads(writer: Writer, pages: Pages, lst: ListConfig, plan: ListPlan) -> int:
    """Thread pages left from before a merge become redirects: no link into the archive
    breaks."""
    folder = writer.out / urls.thread(lst.name, "x").rsplit("/", 1)[0]
    if not folder.is_dir():
        return 0
    moved = 0
    for page in folder.glob("*.html"):
        html = pages.moved_thread(lst, plan, page.stem)
        if html is not None:
            writer.write(urls.thread(lst.name, page.stem), html)
            moved += 1
    return moved
