"""Writes the static archive from store reads and templates.

Message and thread pages, the bulk of the work, are rendered thread by thread in worker
processes (each opens the database read-only); the parent meanwhile writes the period
views, the period downloads and the homes. Every file is written to a temporary name and
renamed, so a reader never sees half a page.
"""

from __future__ import annotations

import gzip
import multiprocessing
import os
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from markupsafe import Markup

from piperarc import parse, urls
from piperarc.config import ArchiveConfig, ListConfig
from piperarc.feeds import envelope_line, mboxrd_entry
from piperarc.model import StoredMessage, Summary
from piperarc.render import Renderer
from piperarc.render.text import body_html
from piperarc.store import Store, open_store

THREADS_PER_TASK = 64


@dataclass(slots=True)
class BuildReport:
    """What a build wrote."""

    messages: int = 0
    threads: int = 0
    pages: int = 0
    attachments: int = 0
    downloads: int = 0
    seconds: float = 0.0
    lists: list[str] = field(default_factory=list)

    def add(self, pages: int, messages: int, threads: int, attachments: int) -> None:
        self.pages += pages
        self.messages += messages
        self.threads += threads
        self.attachments += attachments


class Writer:
    """Writes files under the site root atomically (write to a temporary name, rename)."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self._root = str(out)
        self._made: set[str] = set()
        self._suffix = f".{os.getpid()}.tmp"

    def write(self, path: str, data: bytes | str) -> None:
        # Plain os calls on str paths: this runs for every file of the site.
        target = f"{self._root}/{path}"
        parent, _, name = target.rpartition("/")
        if parent not in self._made:
            os.makedirs(parent, exist_ok=True)  # noqa: PTH103 -- str paths: the hot path
            self._made.add(parent)
        tmp = f"{parent}/.{name}{self._suffix}"
        with open(tmp, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, target)  # noqa: PTH105 -- as above


class ListPlan:
    """Everything about a list's order that the pages need, computed once from summaries."""

    def __init__(self, summaries: Sequence[Summary], period_kind: str) -> None:
        self.by_num = {s.num: s for s in summaries}
        self.by_date = sorted(summaries, key=lambda s: (s.date_utc, s.num))
        self.date_index = {s.num: i for i, s in enumerate(self.by_date)}
        threads: dict[str, list[Summary]] = defaultdict(list)
        for s in summaries:
            threads[s.thread_key].append(s)
        for members in threads.values():
            members.sort(key=lambda s: s.thread_pos)
        self.threads = dict(threads)
        self.children: dict[int, list[Summary]] = defaultdict(list)
        for s in summaries:
            if s.parent_num is not None:
                self.children[s.parent_num].append(s)
        self.period_of = {s.num: urls.period_of(s.date_utc, period_kind) for s in summaries}
        periods: dict[str, list[Summary]] = defaultdict(list)
        for s in self.by_date:
            periods[self.period_of[s.num]].append(s)
        self.periods = dict(sorted(periods.items()))

    def neighbours_by_date(self, num: int) -> tuple[Summary | None, Summary | None]:
        i = self.date_index[num]
        prev = self.by_date[i - 1] if i > 0 else None
        nxt = self.by_date[i + 1] if i + 1 < len(self.by_date) else None
        return prev, nxt

    def neighbours_in_thread(self, summary: Summary) -> tuple[Summary | None, Summary | None]:
        members = self.threads[summary.thread_key]
        i = summary.thread_pos
        prev = members[i - 1] if 0 < i <= len(members) else None
        nxt = members[i + 1] if i + 1 < len(members) else None
        return prev, nxt


@dataclass(frozen=True, slots=True)
class _Job:
    """What a worker needs to render a list's message and thread pages."""

    database: Path
    out: Path
    archive_title: str
    lst: ListConfig
    plan: ListPlan


def _attachments_of(msg: StoredMessage, raw: bytes) -> list[dict[str, Any]]:
    if not msg.has_attachments:
        return []
    parsed = parse.parse(raw, msg.digest, msg.envelope, with_data=True)
    return [
        {
            "index": a.index,
            "filename": a.filename,
            "content_type": a.content_type,
            "size": len(a.data),
            "data": a.data,
        }
        for a in parsed.attachments
    ]


def summary_depth(entry: dict[str, Any]) -> int:
    msg: StoredMessage = entry["msg"]
    return msg.depth


class _ThreadRenderer:
    """Renders the message pages and the thread page of threads (in a worker or inline)."""

    def __init__(self, job: _Job) -> None:
        self.job = job
        self.store: Store = open_store(job.database, readonly=True)
        self.renderer = Renderer()
        self.writer = Writer(job.out)

    def render(self, thread_keys: Iterable[str]) -> tuple[int, int, int, int]:
        pages = messages = threads = attachments = 0
        job, plan, lst = self.job, self.job.plan, self.job.lst
        for thread_key in thread_keys:
            entries = []
            members = self.store.thread_messages(lst.name, thread_key)
            for msg, raw in members:
                summary = plan.by_num[msg.num]
                body = body_html(msg.body_text, lst.obfuscate)
                files = _attachments_of(msg, raw)
                for a in files:
                    self.writer.write(
                        urls.attachment(lst.name, msg.key, a["index"], a["filename"]), a["data"]
                    )
                attachments += len(files)
                self.writer.write(urls.message_raw(lst.name, msg.key), raw)
                parent = plan.by_num.get(msg.parent_num) if msg.parent_num else None
                prev_date, next_date = plan.neighbours_by_date(msg.num)
                prev_thread, next_thread = plan.neighbours_in_thread(summary)
                path = urls.message(lst.name, msg.key)
                # The message itself is rendered once, for its page and its thread's page
                # (both sit at the same depth, so their relative links are the same).
                article = self.renderer.page(
                    "message_body",
                    path,
                    lst=lst,
                    msg=msg,
                    body=body,
                    attachments=files,
                    parent=parent,
                    replies=plan.children.get(msg.num, []),
                )
                self.writer.write(
                    path,
                    self.renderer.page(
                        "message",
                        path,
                        archive_title=job.archive_title,
                        lst=lst,
                        msg=msg,
                        period=plan.period_of[msg.num],
                        article=Markup(article),
                        prev_date=prev_date,
                        next_date=next_date,
                        prev_thread=prev_thread,
                        next_thread=next_thread,
                        thread_size=len(members),
                    ),
                )
                entries.append({"msg": msg, "article": Markup(article)})
                pages += 1
                messages += 1
            if entries:
                path = urls.thread(lst.name, thread_key)
                self.writer.write(
                    path,
                    self.renderer.page(
                        "thread",
                        path,
                        archive_title=job.archive_title,
                        lst=lst,
                        first=entries[0]["msg"],
                        entries=entries,
                        depths=[summary_depth(e) for e in entries],
                    ),
                )
                pages += 1
                threads += 1
        return pages, messages, threads, attachments


_worker: _ThreadRenderer | None = None  # one per worker process, set by its initializer


def _init_worker(job: _Job) -> None:
    global _worker
    _worker = _ThreadRenderer(job)


def _render_in_worker(thread_keys: list[str]) -> tuple[int, int, int, int]:
    assert _worker is not None
    return _worker.render(thread_keys)


def _download_in_worker(period: str) -> tuple[str, int]:
    assert _worker is not None
    job = _worker.job
    size = _period_download(
        _worker.store, _worker.writer, job.lst, period, job.plan.periods[period]
    )
    return period, size


def _period_pages(
    renderer: Renderer, writer: Writer, archive_title: str, lst: ListConfig, plan: ListPlan
) -> int:
    keys = list(plan.periods)
    pages = 0
    for i, (period, items) in enumerate(plan.periods.items()):
        common = {
            "archive_title": archive_title,
            "lst": lst,
            "period": period,
            "first": items[0].date_utc,
            "last": items[-1].date_utc,
            "older": keys[i - 1] if i > 0 else None,
            "newer": keys[i + 1] if i + 1 < len(keys) else None,
        }
        # By thread: threads in order of their first message here; depth as in the thread.
        by_thread: dict[str, list[Summary]] = {}
        for s in items:
            by_thread.setdefault(s.thread_key, []).append(s)
        tree: list[Summary] = []
        depths: list[int] = []
        for members in by_thread.values():
            members.sort(key=lambda s: s.thread_pos)
            top = min(s.depth for s in members)
            tree.extend(members)
            depths.extend(s.depth - top for s in members)
        views: dict[str, dict[str, Any]] = {
            "thread": {"items": tree, "depths": depths},
            "date": {"items": items},
            "subject": {
                "items": items,
                "groups": _groups(
                    items, lambda s: s.subject_base, lambda s: s.subject or "(no subject)"
                ),
            },
            "author": {
                "items": items,
                "groups": _groups(
                    items,
                    lambda s: (s.from_name or s.from_addr).lower(),
                    lambda s: s.from_name or s.from_addr or "(unknown sender)",
                ),
            },
        }
        for view, extra in views.items():
            path = urls.period_view(lst.name, period, view)
            writer.write(path, renderer.page("period", path, view=view, **common, **extra))
            pages += 1
    return pages


def _groups(items: Sequence[Summary], key: Any, heading: Any) -> list[tuple[str, list[Summary]]]:
    grouped: dict[str, list[Summary]] = {}
    for s in items:
        grouped.setdefault(key(s), []).append(s)
    return [(heading(group[0]), group) for _, group in sorted(grouped.items())]


def _redirect_moved_threads(
    renderer: Renderer, writer: Writer, archive_title: str, lst: ListConfig, plan: ListPlan
) -> int:
    """A thread page whose thread was merged into another (a missing parent arrived) becomes
    a redirect to the thread its first message is in now: no link into the archive breaks."""
    folder = writer.out / urls.thread(lst.name, "x").rsplit("/", 1)[0]
    if not folder.is_dir():
        return 0
    by_key = {s.key: s for s in plan.by_num.values()}
    moved = 0
    for page in folder.glob("*.html"):
        old_key = page.stem
        if old_key in plan.threads or old_key not in by_key:
            continue
        summary = by_key[old_key]
        target = f"{urls.thread(lst.name, summary.thread_key)}#m{summary.num}"
        path = urls.thread(lst.name, old_key)
        writer.write(
            path,
            renderer.page(
                "moved",
                path,
                archive_title=archive_title,
                lst=lst,
                target=target,
                subject=summary.subject,
            ),
        )
        moved += 1
    return moved


def _period_download(
    store: Store, writer: Writer, lst: ListConfig, period: str, items: Sequence[Summary]
) -> int:
    """Write one period's mbox.gz (mboxrd, byte-exact messages); returns its size."""
    target = writer.out / urls.period_mbox(lst.name, period)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.{os.getpid()}.tmp"
    by_num = {s.num: s for s in items}
    with (
        tmp.open("wb") as fh,
        gzip.GzipFile(fileobj=fh, mode="wb", mtime=0, compresslevel=6) as gz,
    ):
        for num, envelope, raw in store.iter_raw(lst.name, [s.num for s in items]):
            s = by_num[num]
            gz.write(mboxrd_entry(envelope_line(envelope, s.from_addr, s.date_utc), raw))
    tmp.replace(target)
    return target.stat().st_size


def build(
    config: ArchiveConfig,
    out: Path,
    *,
    jobs: int | None = None,
    list_names: Sequence[str] | None = None,
) -> BuildReport:
    """Write the whole static archive of `config` under `out`."""
    started = time.perf_counter()
    report = BuildReport()
    jobs = jobs or os.cpu_count() or 1
    out.mkdir(parents=True, exist_ok=True)
    writer = Writer(out)
    renderer = Renderer()
    css = resources.files("piperarc").joinpath("render/static/piperarc.css").read_bytes()
    writer.write(urls.stylesheet(), css)
    store = open_store(config.database, readonly=True)
    stored = set(store.list_names())
    home_entries = []
    try:
        for lst in config.lists:
            if list_names and lst.name not in list_names:
                continue
            stats = store.stats(lst.name) if lst.name in stored else None
            home_entries.append(
                {
                    "name": lst.name,
                    "title": lst.title,
                    "description": lst.description,
                    "messages": stats.messages if stats else 0,
                    "last": stats.last if stats else None,
                }
            )
            if stats is None or not stats.messages:
                path = urls.list_home(lst.name)
                writer.write(
                    path,
                    renderer.page(
                        "list",
                        path,
                        archive_title=config.title,
                        lst=lst,
                        total=0,
                        threads=0,
                        periods=[],
                        first=0,
                        last=0,
                    ),
                )
                continue
            report.lists.append(lst.name)
            _build_list(config, store, lst, out, writer, renderer, jobs, report)
        writer.write(
            urls.home(),
            renderer.page("home", urls.home(), archive_title=config.title, lists=home_entries),
        )
        report.pages += 1
    finally:
        store.close()
    report.seconds = time.perf_counter() - started
    return report


def _build_list(
    config: ArchiveConfig,
    store: Store,
    lst: ListConfig,
    out: Path,
    writer: Writer,
    renderer: Renderer,
    jobs: int,
    report: BuildReport,
) -> None:
    plan = ListPlan(store.summaries(lst.name), lst.period)
    job = _Job(config.database, out, config.title, lst, plan)
    keys = sorted(plan.threads, key=lambda k: -len(plan.threads[k]))  # big threads first
    chunks = [keys[i : i + THREADS_PER_TASK] for i in range(0, len(keys), THREADS_PER_TASK)]
    if jobs > 1 and len(chunks) > 1:
        context = multiprocessing.get_context("fork")
        with context.Pool(jobs, initializer=_init_worker, initargs=(job,)) as pool:
            # Workers take the threads (big ones first), then the period downloads; the
            # parent writes the period views meanwhile.
            pending = pool.imap_unordered(_render_in_worker, chunks)
            downloads = pool.imap_unordered(_download_in_worker, list(plan.periods))
            report.pages += _period_pages(renderer, writer, config.title, lst, plan)
            for result in pending:
                report.add(*result)
            sizes = dict(downloads)
    else:
        inline = _ThreadRenderer(job)
        for chunk in chunks:
            report.add(*inline.render(chunk))
        inline.store.close()
        report.pages += _period_pages(renderer, writer, config.title, lst, plan)
        sizes = {
            period: _period_download(store, writer, lst, period, items)
            for period, items in plan.periods.items()
        }
    report.downloads += len(sizes)
    report.pages += _redirect_moved_threads(renderer, writer, config.title, lst, plan)
    stats = store.stats(lst.name)
    path = urls.list_home(lst.name)
    periods = [
        {"key": key, "count": len(items), "mbox_size": sizes[key]}
        for key, items in reversed(plan.periods.items())
    ]
    writer.write(
        path,
        renderer.page(
            "list",
            path,
            archive_title=config.title,
            lst=lst,
            total=stats.messages,
            threads=stats.threads,
            periods=periods,
            first=stats.first,
            last=stats.last,
        ),
    )
    report.pages += 1


def remove_stale_temporaries(out: Path) -> None:
    """Delete temporary files an interrupted build left (they start with a dot)."""
    for tmp in out.rglob(".*.tmp"):
        tmp.unlink(missing_ok=True)
