"""The live server's view of the archive: its settings, one read-only store, and
each list's ListPlan and rendered pages, cached in memory. Everything cached is dropped when
the database changes (PRAGMA data_version), so newly imported mail shows at once, without a
rebuild. Pages come out byte for byte as the static build writes them (pages.py, feeds.py).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from piperarc import config as configlib
from piperarc import feeds, urls
from piperarc import mid as midlib
from piperarc.config import ArchiveConfig, ListConfig
from piperarc.errors import NotFoundError, PiperarcError, StoreError
from piperarc.model import StoredMessage, Summary, Tombstone
from piperarc.pages import ListPlan, Pages, feed_document, home_entry
from piperarc.store import ListStats, Store, database_exists, open_store
from piperarc.web.access import Access

PAGE_CACHE_BYTES = 64 * 1024 * 1024


def _settings_seen(config: ArchiveConfig) -> tuple[int, int] | None:
    """When piperarc.toml last changed, as far as a stat says (None: no file)."""
    try:
        stat = (config.root / configlib.CONFIG_NAME).stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


# Where the server says that a page was answered as a message's raw text (uvicorn shows it).
log = logging.getLogger("piperarc.web")


@dataclass(frozen=True, slots=True)
class CachedPage:
    """A rendered page as sent: its bytes and validators."""

    body: bytes
    etag: str
    last_modified: int | None = None


def etag(body: bytes) -> str:
    """A strong validator for `body` (RFC 9110 8.8.3)."""
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


class Archive:
    """The server's view of the archive: settings, a read-only store, cached plans and pages."""

    def __init__(
        self,
        config: ArchiveConfig,
        *,
        page_cache_bytes: int = PAGE_CACHE_BYTES,
        access: Callable[[ArchiveConfig], Access] = Access,
    ) -> None:
        self.config = config
        self._make_access = access
        self.access = access(config)
        self._settings = _settings_seen(config)
        self.pages = Pages(config.title)
        self._store: Store | None = None
        self._version: int | None = None
        self._plans: dict[str, ListPlan | None] = {}
        self._stats: dict[str, ListStats | None] = {}
        self._hyperkitty: dict[str, dict[str, Summary]] = {}
        self._tombstones: dict[str, dict[str, Tombstone]] = {}
        self._cache: OrderedDict[str, CachedPage] = OrderedDict()
        self._cache_bytes = 0
        self._cache_limit = page_cache_bytes
        self.css = resources.files("piperarc").joinpath("render/static/piperarc.css").read_bytes()

    @property
    def store(self) -> Store:
        if self._store is None:
            if not database_exists(self.config.database):
                raise StoreError(
                    "the archive has no database yet: import some mail first",
                    self.config.database,
                )
            self._store = open_store(self.config.database, readonly=True)
        return self._store

    def reader(self) -> Store:
        """A connection of its own, for a download that streams from a worker thread."""
        self.store  # noqa: B018 -- the same checks and errors as the shared connection
        return open_store(self.config.database, readonly=True)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def refresh(self) -> None:
        """Drop every cached plan and page if anyone committed to the database since, or
        changed piperarc.toml (a list made private is private at once)."""
        seen = _settings_seen(self.config)
        if seen != self._settings:
            self._reload_settings(seen)
        version = self.store.data_version()
        if version != self._version:
            self._version = version
            self._drop_caches()

    def _drop_caches(self) -> None:
        self._plans.clear()
        self._stats.clear()
        self._hyperkitty.clear()
        self._tombstones.clear()
        self._cache.clear()
        self._cache_bytes = 0

    def _reload_settings(self, seen: tuple[int, int] | None) -> None:
        """Settings changed on disk: read them again. Settings that cannot be read serve
        nothing (503) until they can: never the old settings, which may be less private."""
        self._version = None
        self._drop_caches()
        try:
            config = configlib.load(self.config.root)
        except PiperarcError as err:
            self.config = dataclasses.replace(self.config, lists=())
            self.access = self._make_access(self.config)
            raise StoreError(f"the archive's settings cannot be read: {err}") from err
        self.config, self.access, self._settings = config, self._make_access(config), seen

    def stats(self, lst: ListConfig) -> ListStats | None:
        if lst.name not in self._stats:
            stored = lst.name in self.store.list_names()
            self._stats[lst.name] = self.store.stats(lst.name) if stored else None
        return self._stats[lst.name]

    def plan(self, lst: ListConfig) -> ListPlan | None:
        """The list's plan, None while it has no messages."""
        if lst.name not in self._plans:
            stats = self.stats(lst)
            self._plans[lst.name] = (
                ListPlan(
                    self.store.summaries(lst.name),
                    lst.period,
                    self.store.origins(lst.name),
                    self.store.tombstones(lst.name),
                )
                if stats and stats.messages
                else None
            )
        return self._plans[lst.name]

    def hyperkitty(self, lst: ListConfig) -> dict[str, Summary]:
        """The list's messages by the hash HyperKitty's URLs name them by (mid.py), the
        first archived where several share a Message-ID; made from the list's plan."""
        if lst.name not in self._hyperkitty:
            plan = self.plan(lst)
            by_hash: dict[str, Summary] = {}
            for summary in sorted(plan.by_key.values(), key=lambda s: s.num) if plan else []:
                by_hash.setdefault(midlib.hyperkitty_hash(summary.mid), summary)
            self._hyperkitty[lst.name] = by_hash
        return self._hyperkitty[lst.name]

    def need_plan(self, lst: ListConfig) -> ListPlan:
        plan = self.plan(lst)
        if plan is None:
            raise NotFoundError(f"the list {lst.name!r} has no messages yet")
        return plan

    def period(self, lst: ListConfig, period: str) -> tuple[ListPlan, list[Summary]]:
        """The list's plan and the period's messages, by date."""
        plan = self.need_plan(lst)
        items = plan.periods.get(period)
        if items is None:
            raise NotFoundError(f"no period {period!r} in the list {lst.name!r}")
        return plan, items

    def thread(self, lst: ListConfig, thread_key: str) -> tuple[ListPlan, list[Summary]]:
        """The list's plan and the thread's messages, in thread order."""
        plan = self.need_plan(lst)
        items = plan.threads.get(thread_key)
        if items is None:
            raise NotFoundError(f"no thread {thread_key!r} in the list {lst.name!r}")
        return plan, items

    def summary(self, lst: ListConfig, key: str) -> tuple[ListPlan, Summary]:
        plan = self.need_plan(lst)
        found = plan.by_key.get(key)
        if found is None:
            raise NotFoundError(f"no message {key!r} in the list {lst.name!r}")
        return plan, found

    def cached(self, path: str) -> CachedPage | None:
        page = self._cache.get(path)
        if page is not None:
            self._cache.move_to_end(path)
        return page

    def keep(self, path: str, body: bytes, last_modified: int | None = None) -> CachedPage:
        """Caches a rendered page (least recently used pages go first)."""
        page = CachedPage(body, etag(body), last_modified)
        if len(body) * 4 <= self._cache_limit:
            old = self._cache.pop(path, None)
            if old is not None:
                self._cache_bytes -= len(old.body)
            self._cache[path] = page
            self._cache_bytes += len(body)
            while self._cache_bytes > self._cache_limit:
                _, dropped = self._cache.popitem(last=False)
                self._cache_bytes -= len(dropped.body)
        return page

    # -- pages, as the static build writes them --
    def home_page(self, lists: Sequence[ListConfig]) -> CachedPage:
        """The archive's home, showing `lists` (those the reader may see)."""
        private = [lst.name for lst in lists if lst.private]
        # Cached apart for each set of private lists shown, so no reader gets another's.
        key = urls.home() + ("\0" + "\0".join(private) if private else "")
        page = self.cached(key)
        if page is None:
            entries = [home_entry(lst, self.stats(lst)) for lst in lists]
            page = self.keep(key, self.pages.home(entries).encode())
        return page

    def list_page(self, lst: ListConfig) -> CachedPage:
        # The static build also shows each period's download size; the server makes its
        # downloads on request and knows no size, so its list home leaves the sizes out.
        path = urls.list_home(lst.name)
        page = self.cached(path)
        if page is None:
            html = self.pages.list_home(lst, self.plan(lst), self.stats(lst))
            page = self.keep(path, html.encode())
        return page

    def period_page(self, lst: ListConfig, period: str, view: str) -> CachedPage:
        path = urls.period_view(lst.name, period, view)
        page = self.cached(path)
        if page is None:
            plan = self.need_plan(lst)
            if period not in plan.periods or view not in urls.VIEWS:
                raise NotFoundError(f"no period {period!r} in the list {lst.name!r}")
            for view_path, html in self.pages.period_views(lst, plan, period).items():
                self.keep(view_path, html.encode())
            page = self.cached(path) or CachedPage(b"", '""')
        return page

    def message_page(self, lst: ListConfig, key: str) -> CachedPage:
        path = urls.message(lst.name, key)
        page = self.cached(path)
        if page is None:
            plan, summary = self.summary(lst, key)
            msg = self.store.message(lst.name, summary.num)
            made = self.pages.message(lst, plan, msg, self.store.raw(lst.name, msg.num))
            if made.problem is not None:
                log.warning(
                    "%s could not be rendered (%s): answered as its raw text", path, made.problem
                )
            page = self.keep(path, made.html.encode(), msg.archived_at)
        return page

    def thread_page(self, lst: ListConfig, thread_key: str) -> CachedPage:
        path = urls.thread(lst.name, thread_key)
        page = self.cached(path)
        if page is None:
            plan = self.need_plan(lst)
            if thread_key in plan.threads:
                entries = [
                    (msg, self.pages.message(lst, plan, msg, raw).thread_article)
                    for msg, raw in self.store.thread_messages(lst.name, thread_key)
                ]
                html = self.pages.thread(
                    lst, thread_key, entries, plan.removed_in.get(thread_key, ())
                )
            else:
                moved = self.pages.moved_thread(lst, plan, thread_key)
                if moved is None:
                    raise NotFoundError(f"no thread {thread_key!r} in the list {lst.name!r}")
                html = moved
            page = self.keep(path, html.encode())
        return page

    def list_feed_doc(self, lst: ListConfig, kind: str) -> CachedPage:
        """The list's Atom feed of its newest messages or threads, as the build writes it."""
        if kind not in urls.FEEDS:
            raise NotFoundError(f"no {kind!r} feed")
        path = urls.list_feed(lst.name, kind)
        page = self.cached(path)
        if page is None:
            plan = self.need_plan(lst)
            picked = feeds.newest(
                plan.by_date if kind == "messages" else feeds.thread_starters(plan.threads)
            )
            messages = [self.store.message(lst.name, s.num) for s in picked]
            feed = feeds.list_feed(lst, kind)
            page = self.keep(path, feed_document(feed, lst, messages, self.config.base_url))
        return page

    def tombstones(self, lst: ListConfig) -> dict[str, Tombstone]:
        """The list's tombstones (removed messages) by URL key, in number order."""
        if lst.name not in self._tombstones:
            self._tombstones[lst.name] = {t.key: t for t in self.store.tombstones(lst.name)}
        return self._tombstones[lst.name]

    def removed_page(self, lst: ListConfig, tombstone: Tombstone) -> CachedPage:
        """What a removed message's permalink shows, as the build writes it."""
        path = urls.message(lst.name, tombstone.key)
        page = self.cached(path)
        if page is None:
            html = self.pages.removed(lst, tombstone, self.plan(lst))
            page = self.keep(path, html.encode())
        return page

    def thread_feed_doc(self, lst: ListConfig, thread_key: str) -> CachedPage:
        """A thread's Atom feed, as the build writes it."""
        path = urls.thread_feed(lst.name, thread_key)
        page = self.cached(path)
        if page is None:
            self.thread(lst, thread_key)  # a NotFoundError for a thread not in the list
            messages = [msg for msg, _ in self.store.thread_messages(lst.name, thread_key)]
            feed = feeds.thread_feed(lst, thread_key, messages[0])
            page = self.keep(path, feed_document(feed, lst, messages, self.config.base_url))
        return page

    def message_and_raw(self, lst: ListConfig, key: str) -> tuple[ListPlan, StoredMessage, bytes]:
        plan, summary = self.summary(lst, key)
        msg = self.store.message(lst.name, summary.num)
        return plan, msg, self.store.raw(lst.name, msg.num)

    def by_mid(self, mid: str, list_names: Sequence[str]) -> list[StoredMessage]:
        """Every message with this Message-ID in these lists, first archived first."""
        stored = set(self.store.list_names())
        found = [
            msg
            for name in list_names
            if name in stored
            for msg in self.store.messages_by_mid(name, mid)
        ]
        return sorted(found, key=lambda m: (m.archived_at, m.num))

    def render(self, template: str, path: str, **context: Any) -> str:
        """One of the server's own pages (search, help, errors), as pages.py renders."""
        return self.pages.renderer.page(template, path, archive_title=self.config.title, **context)
