"""Every page of the archive, from store values to HTML: one source for the static build
(site/) and the live server (web/). Pure: values in, strings out; no I/O."""

from __future__ import annotations

import bisect
import email.utils
import functools
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

from markupsafe import Markup

from piperarc import feeds, urls
from piperarc.config import ListConfig
from piperarc.mail import structure
from piperarc.mail.parse import header_text, real_sender
from piperarc.model import Attachment, StoredMessage, Summary, Tombstone
from piperarc.render import Renderer
from piperarc.render.mail import shown
from piperarc.render.text import elide_quotes, obfuscate
from piperarc.store import ListStats

T = TypeVar("T")
# The deepest a thread's tree indents (as HyperKitty caps it): a deeper reply is shown at
# this depth, saying whom it answers, at every screen width.
MAX_DEPTH = 5
# Of a message's raw text, the most its fallback page shows (the original has it all).
RAW_TEXT_CHARS = 1_000_000


def _person(s: Summary) -> str:
    """Who sent `s`, as counts of people and posters tell people apart."""
    return (s.from_addr or s.from_name).lower()


@dataclass(frozen=True, slots=True)
class ThreadFacts:
    """A whole thread as a period's thread view sums it up."""

    messages: int
    people: int
    last: int  # the date of its last message
    periods: tuple[str, ...]  # the periods it has messages in, in order


class ListPlan:
    """Everything about a list's order that the pages need, computed once from summaries."""

    def __init__(
        self,
        summaries: Sequence[Summary],
        period_kind: str,
        origins: dict[int, str] | None = None,
        removed: Sequence[Tombstone] = (),
        whole_threads: Sequence[Summary] = (),
    ) -> None:
        # Notes on messages taken from an old archive's own copies (store.origins).
        self.origins = origins or {}
        # Removed messages (store.tombstones): by URL key, and by thread for placeholders.
        self.removed = {t.key: t for t in removed}
        self.removed_in: dict[str, list[Tombstone]] = defaultdict(list)
        for t in removed:
            self.removed_in[t.thread_key].append(t)
        self.by_num = {s.num: s for s in summaries}
        self.by_key = {s.key: s for s in summaries}
        self.by_date = sorted(summaries, key=lambda s: (s.date_utc, s.num))
        self.date_index = {s.num: i for i, s in enumerate(self.by_date)}
        threads: dict[str, list[Summary]] = defaultdict(list)
        for s in summaries:
            threads[s.thread_key].append(s)
        for members in threads.values():
            members.sort(key=lambda s: s.thread_pos)
        self.threads = dict(threads)
        # Each message's index in its thread's list: its thread_pos, unless a message
        # before it was removed (a gap the placeholder holds).
        self.thread_index = {
            s.num: i for members in threads.values() for i, s in enumerate(members)
        }
        self.children: dict[int, list[Summary]] = defaultdict(list)
        for s in summaries:
            if s.parent_num is not None:
                self.children[s.parent_num].append(s)
        self.kind = period_kind
        self.period_of = {s.num: urls.period_of(s.date_utc, period_kind) for s in summaries}
        periods: dict[str, list[Summary]] = defaultdict(list)
        for s in self.by_date:
            periods[self.period_of[s.num]].append(s)
        self.periods = dict(sorted(periods.items()))
        self._facts: dict[str, ThreadFacts] = {}
        # A plan of some periods only (an incremental build) is given the whole threads
        # of their messages, for thread_facts.
        self._whole: dict[str, list[Summary]] = defaultdict(list)
        for s in whole_threads:
            self._whole[s.thread_key].append(s)

    def thread_facts(self, thread_key: str) -> ThreadFacts:
        """How many messages and people a thread has, its last date and its periods."""
        found = self._facts.get(thread_key)
        if found is None:
            members = self._whole.get(thread_key) or self.threads[thread_key]
            found = self._facts[thread_key] = ThreadFacts(
                messages=len(members),
                people=len({_person(s) for s in members}),
                last=max(s.date_utc for s in members),
                periods=tuple(sorted({urls.period_of(s.date_utc, self.kind) for s in members})),
            )
        return found

    def neighbours_by_date(self, num: int) -> tuple[Summary | None, Summary | None]:
        i = self.date_index[num]
        prev = self.by_date[i - 1] if i > 0 else None
        nxt = self.by_date[i + 1] if i + 1 < len(self.by_date) else None
        return prev, nxt

    def neighbours_in_thread(self, summary: Summary) -> tuple[Summary | None, Summary | None]:
        members = self.threads[summary.thread_key]
        i = self.thread_index[summary.num]
        prev = members[i - 1] if 0 < i <= len(members) else None
        nxt = members[i + 1] if i + 1 < len(members) else None
        return prev, nxt


@dataclass(frozen=True, slots=True)
class MessagePage:
    """A message's page, its article (reused on its thread's page) and its attachments."""

    html: str
    article: Markup
    # The article as its thread's page shows it: its subject an <h2> below the thread's
    # <h1>, an HTML version offered beside the text and long quotes links to this page.
    thread_article: Markup
    attachments: tuple[Attachment, ...]
    # Why the page is the message's raw text (message_raw.html) and not its rendering.
    problem: str | None = None


def problem_of(err: Exception) -> str:
    """An exception as a warning line says it: its type and first line."""
    said = str(err).strip().splitlines()
    return f"{type(err).__name__}: {said[0]}" if said else type(err).__name__


def _attempt(make: Callable[[], T], fallback: Callable[[], T]) -> T:
    """make(), or fallback() when make fails: for a piece of a page drawn from one message,
    so that a message that cannot be drawn never takes down a page that lists it."""
    try:
        return make()
    except Exception:  # whatever one message makes fail (issue 14)
        return fallback()


def _pieces(
    items: Iterable[Any], make: Callable[[Any], Markup], fallback: Callable[[Any], Markup]
) -> list[Markup]:
    """Each item's piece of HTML; one that cannot be made gets its fallback piece."""
    pieces = []
    for item in items:
        try:
            pieces.append(make(item))
        except Exception:  # as in _attempt
            pieces.append(fallback(item))
    return pieces


def raw_text(raw: bytes, mode: str) -> tuple[str, int]:
    """A message's raw bytes as its fallback page shows them: as UTF-8 (bytes that are not
    become U+FFFD, as a NUL does: HTML cannot carry one), addresses obfuscated as the list
    asks, cut at RAW_TEXT_CHARS. Returns (text, the length it was cut at or 0)."""
    text = raw.decode("utf-8", "replace").replace("\x00", "\ufffd")
    cut = RAW_TEXT_CHARS if len(text) > RAW_TEXT_CHARS else 0
    return obfuscate(text[:RAW_TEXT_CHARS], mode), cut


def feed_document(
    feed: feeds.Feed, lst: ListConfig, messages: Sequence[StoredMessage], base_url: str | None
) -> bytes:
    """feeds.atom, leaving out the entry of any message whose entry cannot be written (found
    by writing each alone, only when the whole feed fails): one message never takes down
    a feed."""
    try:
        return feeds.atom(feed, lst, messages, base_url)
    except Exception:  # whatever one message makes fail (issue 14)
        writable = [msg for msg in messages if _entry_writes(feed, lst, msg, base_url)]
        return feeds.atom(feed, lst, writable, base_url)


def _entry_writes(
    feed: feeds.Feed, lst: ListConfig, msg: StoredMessage, base_url: str | None
) -> bool:
    """Whether `msg`'s feed entry can be written."""
    try:
        feeds.atom(feed, lst, [msg], base_url)
    except Exception:  # as in feed_document
        return False
    return True


def attachments_of(msg: StoredMessage, raw: bytes) -> tuple[Attachment, ...]:
    """The message's attachments with their bytes (read again from the raw message), as
    its page numbers them: MIME parts, then uuencoded files (structure.view)."""
    return structure.attachments(raw)


def _thread_meta(macro: Any, thread: dict[str, Any], view: str) -> Markup:
    return Markup(macro(thread, view))


def _reply_link(lst: ListConfig, msg: StoredMessage) -> str | None:
    """A mailto: link that writes to the list in reply to `msg` (Subject "Re: …" and
    In-Reply-To, as Pipermail's did); none for a list with no address, or one that hides
    addresses."""
    if not lst.address or lst.obfuscate == "hide":
        return None
    subject = msg.subject or ""
    if not subject.lower().startswith("re:"):
        subject = f"Re: {subject}"
    fields = urlencode({"subject": subject, "In-Reply-To": f"<{msg.mid}>"}, quote_via=quote)
    return f"mailto:{quote(lst.address, safe='@')}?{fields}"


def _head_fields(lst: ListConfig, msg: StoredMessage, raw: bytes) -> dict[str, Any]:
    """What a message's header block shows that is not stored: To, Cc, the From as it came
    when the list rewrote it (parse.real_sender), and the link to reply."""
    get = structure.header_fields(raw)
    raw_name, raw_addr = email.utils.parseaddr(header_text(get("from")))
    _, _, rewritten = real_sender(raw_name, raw_addr, get)
    source = ""
    if rewritten:
        source = "X-Original-From" if get("x-original-from") else "Reply-To"
    return {
        "to": " ".join(header_text(get("to")).split())[:1000],
        "cc": " ".join(header_text(get("cc")).split())[:1000],
        "rewritten": rewritten if rewritten and msg.from_addr != raw_addr else None,
        "rewritten_from": source,
        "reply_to": _reply_link(lst, msg),
    }


RECENT_DAYS = 365  # the mail a list's home sums up: its last year (up to its last message)
ACTIVE_DAYS = 28  # "most active threads": by messages in the last four weeks of it
OVERVIEW_SIZE = 8  # threads in each of the home's lists
POSTERS = 10


def overview(recent: Sequence[Summary]) -> dict[str, Any]:
    """A list home's summary of its recent mail (`recent`, oldest first): its newest threads,
    its most active threads of the last ACTIVE_DAYS, its most frequent posters; as
    HyperKitty's overview and public-inbox's root give."""
    if not recent:
        return {"newest": [], "active": [], "posters": [], "since": None}
    threads: dict[str, list[Summary]] = defaultdict(list)
    for s in recent:
        threads[s.thread_key].append(s)
    starters = [s for s in recent if s.thread_pos == 0]
    newest = [
        {"first": s, "messages": len(threads[s.thread_key]), "last": threads[s.thread_key][-1]}
        for s in reversed(starters[-OVERVIEW_SIZE:])
    ]
    since = recent[-1].date_utc - ACTIVE_DAYS * 86400
    lately: dict[str, list[Summary]] = defaultdict(list)
    for s in recent:
        if s.date_utc >= since:
            lately[s.thread_key].append(s)
    busiest = sorted(lately.items(), key=lambda kv: (-len(kv[1]), -kv[1][-1].date_utc))
    active = [
        {
            "first": min(members, key=lambda s: s.thread_pos),
            "messages": len(members),
            "people": len({_person(s) for s in members}),
            "last": members[-1],
        }
        for _, members in busiest[:OVERVIEW_SIZE]
    ]
    posters: dict[str, list[Summary]] = defaultdict(list)
    for s in recent:
        posters[_person(s)].append(s)
    top = sorted(posters.values(), key=lambda msgs: (-len(msgs), -msgs[-1].date_utc))
    return {
        "newest": newest,
        "active": active,
        "posters": [{"who": msgs[-1], "messages": len(msgs)} for msgs in top[:POSTERS]],
        "since": recent[0].date_utc,
        "last": recent[-1].date_utc,
    }


CHART_HEIGHT = 60
CHART_BAR = 6  # width of one period's bar (and its gap) in the chart's own units


def activity_chart(counts: dict[str, int]) -> dict[str, Any] | None:
    """The bars of a list's activity chart, one per period from the first to the last
    (none where a period had no mail), for list.html's inline SVG; None without mail."""
    if not counts:
        return None
    highest = max(counts.values()) or 1
    keys = sorted(counts)
    if all(len(k) == 7 and k[4] == "-" for k in keys):  # months: the empty ones too
        first = int(keys[0][:4]) * 12 + int(keys[0][5:]) - 1
        last = int(keys[-1][:4]) * 12 + int(keys[-1][5:]) - 1
        keys = [f"{m // 12:04d}-{m % 12 + 1:02d}" for m in range(first, last + 1)]
    bars = []
    for i, key in enumerate(keys):
        count = counts.get(key, 0)
        height = max(1, round(count / highest * CHART_HEIGHT)) if count else 0
        bars.append(
            {
                "x": i * CHART_BAR,
                "y": CHART_HEIGHT - height,
                "height": height,
                "key": key,
                "count": count,
            }
        )
    return {
        "bars": bars,
        "width": len(keys) * CHART_BAR,
        "height": CHART_HEIGHT,
        "highest": highest,
        "first": keys[0],
        "last": keys[-1],
        "busiest": max(keys, key=lambda k: counts.get(k, 0)),
    }


def home_entry(lst: ListConfig, stats: ListStats | None) -> dict[str, Any]:
    """A list's line on the archive's home (Pages.home); `stats` None while it has no mail."""
    return {
        "name": lst.name,
        "title": lst.title,
        "description": lst.description,
        "messages": stats.messages if stats else 0,
        "last": stats.last if stats else None,
    }


def _list_feeds(lst: ListConfig) -> list[feeds.Feed]:
    """The feeds a list's pages link to with <link rel="alternate">."""
    return [feeds.list_feed(lst, kind) for kind in urls.FEEDS]


def _groups(
    items: Sequence[Summary], key: Callable[[Summary], str], heading: Callable[[Summary], str]
) -> list[tuple[str, list[Summary]]]:
    grouped: dict[str, list[Summary]] = {}
    for s in items:
        grouped.setdefault(key(s), []).append(s)
    return [(heading(group[0]), group) for _, group in sorted(grouped.items())]


class Pages:
    """Renders the archive's pages for one archive title."""

    def __init__(self, archive_title: str) -> None:
        self.archive_title = archive_title
        self.renderer = Renderer()
        # A list's feeds are the same on each of its pages: made once per list, not per page
        # (their ids are UUIDs, whose hashing showed in build profiles).
        self._feeds: dict[ListConfig, list[feeds.Feed]] = {}
        self._thread_feeds: dict[tuple[ListConfig, str, str, str], feeds.Feed] = {}
        self._entries: dict[tuple[ListConfig | None, str], Any] = {}

    def _entry(self, lst: ListConfig | None, page_path: str, macro: str) -> Any:
        """Macro `macro` of entries.html for `lst`'s pages at the depth of `page_path` (made
        once per list and depth: every message page of a list shares one)."""
        key = (lst, urls.relative(page_path, ""))
        module = self._entries.get(key)
        if module is None:
            module = self._entries[key] = self.renderer.macros("entries", page_path, lst=lst)
        return getattr(module, macro)

    def _thread_feed(self, lst: ListConfig, thread_key: str, root: Summary) -> feeds.Feed:
        """The thread's feed, made once per thread (keyed by all it is made from)."""
        key = (lst, thread_key, root.mid, root.subject)
        found = self._thread_feeds.get(key)
        if found is None:
            found = self._thread_feeds[key] = feeds.thread_feed(lst, thread_key, root)
        return found

    def _list_feeds(self, lst: ListConfig) -> list[feeds.Feed]:
        found = self._feeds.get(lst)
        if found is None:
            found = self._feeds[lst] = _list_feeds(lst)
        return found

    def _page(self, template: str, path: str, **context: Any) -> str:
        return self.renderer.page(template, path, archive_title=self.archive_title, **context)

    def home(self, entries: Sequence[dict[str, Any]]) -> str:
        """The archive's home: each list's name, title, description, count and last date."""
        when = self._entry(None, urls.home(), "when")
        latest = _pieces(
            entries, lambda e: when(e["last"]) if e["last"] else Markup(), lambda _: Markup()
        )
        listed = [{**e, "latest": t} for e, t in zip(entries, latest, strict=True)]
        return self._page("home", urls.home(), lists=listed)

    def list_home(
        self,
        lst: ListConfig,
        plan: ListPlan | None,
        stats: ListStats | None,
        mbox_sizes: dict[str, int] | None = None,
        counts: dict[str, int] | None = None,
        recent: Sequence[Summary] | None = None,
    ) -> str:
        """A list's home: an overview of its recent mail (`recent`: its last RECENT_DAYS,
        read from `plan` when not given), its activity by period as a chart, then its
        periods, newest first, with counts and downloads (the counts from `plan`, or given
        as {period: messages} by an incremental build)."""
        if counts is None and plan is not None:
            counts = {key: len(items) for key, items in plan.periods.items()}
        if recent is None and plan is not None and plan.by_date:
            since = plan.by_date[-1].date_utc - RECENT_DAYS * 86400
            at = bisect.bisect_left(plan.by_date, since, key=lambda s: s.date_utc)
            recent = plan.by_date[at:]
        periods = [
            {"key": key, "count": count, "mbox_size": (mbox_sizes or {}).get(key)}
            for key, count in sorted((counts or {}).items(), reverse=True)
        ]

        chart = activity_chart(counts or {})

        def page(summary: dict[str, Any]) -> str:
            return self._page(
                "list",
                urls.list_home(lst.name),
                lst=lst,
                feeds=self._list_feeds(lst) if counts is not None else [],
                total=stats.messages if stats else 0,
                threads=stats.threads if stats else 0,
                periods=periods,
                overview=summary,
                chart=chart,
                span=self._span(
                    lst,
                    urls.list_home(lst.name),
                    stats.first if stats and stats.first else 0,
                    stats.last if stats and stats.last else 0,
                ),
            )

        # A message that cannot be drawn takes the overview away, never the page.
        return _attempt(lambda: page(overview(recent or ())), lambda: page(overview(())))

    def period_views(self, lst: ListConfig, plan: ListPlan, period: str) -> dict[str, str]:
        """The four Pipermail views of a period: {path: html}."""
        keys = list(plan.periods)
        i = keys.index(period)
        items = plan.periods[period]
        common: dict[str, Any] = {
            "lst": lst,
            "period": period,
            "older": keys[i - 1] if i > 0 else None,
            "newer": keys[i + 1] if i + 1 < len(keys) else None,
            "feeds": self._list_feeds(lst),
        }
        # By thread: threads in order of their first message here (or of their last one
        # here, newest first: "activity"), each with its tree as in the thread (depth
        # from its top message here, at most MAX_DEPTH) and what the whole thread holds.
        by_thread: dict[str, list[Summary]] = {}
        for s in items:
            by_thread.setdefault(s.thread_key, []).append(s)
        threads = [
            self._period_thread(lst, plan, period, key, members)
            for key, members in by_thread.items()
        ]
        # Each thread's line of facts, made on its own (one whose dates cannot be drawn
        # goes without it).
        meta = self._entry(lst, urls.period_view(lst.name, period, "thread"), "thread_meta")
        for t in threads:
            t["meta"] = {
                view: _attempt(functools.partial(_thread_meta, meta, t, view), Markup)
                for view in ("thread", "activity")
            }
        latest = sorted(threads, key=lambda t: t["latest"], reverse=True)
        views: dict[str, dict[str, Any]] = {
            "thread": {"items": items, "threads": threads},
            "activity": {"items": items, "threads": latest},
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
        # A message's line is the same in all four views (they sit side by side): made once,
        # each on its own (one that cannot be drawn is only its number and link).
        date_view = urls.period_view(lst.name, period, "date")
        rows = self.renderer.macros("period_rows", date_view, lst=lst)
        unshown = self._unshown(lst, date_view)
        lines = _pieces(items, rows.row, unshown)
        common["rows"] = {s.num: line for s, line in zip(items, lines, strict=True)}
        common["span"] = self._span(lst, date_view, items[0].date_utc, items[-1].date_utc)
        pages = {}
        for view, extra in views.items():
            path = urls.period_view(lst.name, period, view)
            pages[path] = self._page("period", path, view=view, **common, **extra)
        return pages

    @staticmethod
    def _period_thread(
        lst: ListConfig, plan: ListPlan, period: str, key: str, members: list[Summary]
    ) -> dict[str, Any]:
        """One thread on a period's thread view: its messages here in thread order, their
        depths, whom the ones shown less deep than they are answer, and the whole thread's
        facts (counts, last date, the periods before and after this one it runs into)."""
        members.sort(key=lambda s: s.thread_pos)
        top = min(s.depth for s in members)
        facts = plan.thread_facts(key)
        at = facts.periods.index(period)
        parents = [
            plan.by_num.get(s.parent_num) if s.depth - top > MAX_DEPTH and s.parent_num else None
            for s in members
        ]
        return {
            "key": key,
            "members": members,
            "depths": [min(s.depth - top, MAX_DEPTH) for s in members],
            "parents": parents,
            "facts": facts,
            "latest": max(s.date_utc for s in members),
            "before": facts.periods[at - 1] if at > 0 else None,
            "after": facts.periods[at + 1] if at + 1 < len(facts.periods) else None,
        }

    def _span(self, lst: ListConfig | None, page_path: str, first: int, last: int) -> Markup:
        """First and last dates ("D to D") on a page at `page_path`; nothing if one cannot
        be drawn."""
        span = self._entry(lst, page_path, "span")

        def draw() -> Markup:
            return Markup(span(first, last))

        return _attempt(draw, Markup)

    def _unshown(self, lst: ListConfig, page_path: str) -> Callable[[Any], Markup]:
        """The line of a message that cannot be drawn, on a page at `page_path`: its number,
        linked to its page."""
        unshown = self._entry(lst, page_path, "unshown")
        root = urls.relative(page_path, "")
        return lambda s: unshown(s, root + urls.message(lst.name, s.key))

    def message(
        self, lst: ListConfig, plan: ListPlan, msg: StoredMessage, raw: bytes
    ) -> MessagePage:
        """A message's page; its article is rendered once and kept for its thread's page
        (both pages sit at the same depth, so their relative links are the same). A message
        whose page cannot be rendered gets its raw text instead (raw_message), and the
        reason in MessagePage.problem: one message never stops a build or a server."""
        try:
            return self._message(lst, plan, msg, raw)
        except Exception as err:  # whatever one message makes fail (issue 14)
            return self.raw_message(lst, plan, msg, raw, problem_of(err))

    def raw_message(
        self, lst: ListConfig, plan: ListPlan, msg: StoredMessage, raw: bytes, problem: str
    ) -> MessagePage:
        """A message's page as its raw text, escaped, with a note and a link to its original:
        for a message whose page failed to render. Drawn from as little as can fail: no date
        filter, no MIME structure; its attachments are in its original."""
        path = urls.message(lst.name, msg.key)
        text, cut = _attempt(lambda: raw_text(raw, lst.obfuscate), lambda: ("", 0))
        subject = _attempt(
            lambda: obfuscate(msg.subject or "(no subject)", lst.obfuscate),
            lambda: f"Message {msg.num}",
        )
        article, in_thread = (
            Markup(
                self.renderer.page(
                    "message_raw_body",
                    path,
                    lst=lst,
                    msg=msg,
                    subject=subject,
                    text=text,
                    cut=cut,
                    level=level,
                )
            )
            for level in (1, 2)
        )
        html = self._page(
            "message_raw",
            path,
            lst=lst,
            msg=msg,
            period=plan.period_of.get(msg.num),
            article=article,
        )
        return MessagePage(html, article, in_thread, (), problem)

    def _message(
        self, lst: ListConfig, plan: ListPlan, msg: StoredMessage, raw: bytes
    ) -> MessagePage:
        """The message's page as `message` makes it when nothing fails."""
        summary = plan.by_num[msg.num]
        # The plain text stored at import is all a single text part shows (the fast path).
        view = structure.view(raw, msg.body_text if not msg.damage else None)
        parent = plan.by_num.get(msg.parent_num) if msg.parent_num else None
        path = urls.message(lst.name, msg.key)
        unshown = self._unshown(lst, path)
        parent_line = _pieces([parent], self._entry(lst, path, "parent"), unshown) if parent else []
        replies = _pieces(plan.children.get(msg.num, []), self._entry(lst, path, "reply"), unshown)
        what = shown(
            view,
            list_name=lst.name,
            key=msg.key,
            root=urls.relative(path, ""),
            mode=lst.obfuscate,
            inline_limit=lst.inline_limit,
        )
        head: dict[str, Any] = {
            "lst": lst,
            "msg": msg,
            "parent": parent_line[0] if parent_line else None,
            "replies": replies,
            "date_written": structure.written_date(raw) if msg.date_source != "date" else "",
            **_head_fields(lst, msg, raw),
        }
        body: dict[str, Any] = {
            "lst": lst,
            "msg": msg,
            "parts": what.parts,
            "damaged_parts": what.damaged_parts,
            "attachments": what.attachments,
            "origin": plan.origins.get(msg.num),
        }
        render = self.renderer.page
        text = render("message_body", path, level=1, in_thread=False, **body)
        article = Markup(render("message_head", path, level=1, **head) + text)
        # Its thread's page: the header a level down; the body made again only where it
        # differs there (an HTML version offered, attachments under a heading, long
        # quotes: left out, the messages they quote are on that page).
        own_page = urls.relative(path, "") + urls.message(lst.name, msg.key)
        elided = {
            i: short
            for i, p in enumerate(what.parts)
            if p["kind"] in ("text", "damaged")
            and (short := elide_quotes(p["html"], own_page)) is not None
        }
        if (
            elided
            or what.attachments
            or any(p["kind"] == "html" and p.get("offered") for p in what.parts)
        ):
            body["parts"] = [
                {**p, "html": elided[i]} if i in elided else p for i, p in enumerate(what.parts)
            ]
            text = render("message_body", path, level=2, in_thread=True, **body)
        in_thread = Markup(render("message_head", path, level=2, **head) + text)
        files = view.attachments
        prev_date, next_date = plan.neighbours_by_date(msg.num)
        prev_thread, next_thread = plan.neighbours_in_thread(summary)
        html = self._page(
            "message",
            path,
            lst=lst,
            msg=msg,
            period=plan.period_of[msg.num],
            article=article,
            prev_date=prev_date,
            next_date=next_date,
            prev_thread=prev_thread,
            next_thread=next_thread,
            thread_size=len(plan.threads[msg.thread_key]),
            feeds=[
                self._thread_feed(lst, msg.thread_key, plan.threads[msg.thread_key][0]),
                *self._list_feeds(lst),
            ],
        )
        return MessagePage(html, article, in_thread, files)

    def thread(
        self,
        lst: ListConfig,
        thread_key: str,
        entries: Sequence[tuple[StoredMessage, Markup]],
        removed: Sequence[Tombstone] = (),
    ) -> str:
        """A whole thread: a tree of its messages, then each message's article in order.
        A message that cannot be drawn in the tree is only its number there; a removed
        one keeps its place in the tree as a placeholder."""
        path = urls.thread(lst.name, thread_key)
        first = entries[0][0]
        tree_item = self._entry(lst, path, "tree_item")
        unshown = self._entry(lst, path, "unshown")
        gone = self._entry(lst, path, "removed_item")
        by_num = {msg.num: msg for msg, _ in entries}

        def item(m: StoredMessage) -> Markup:
            # Deeper than MAX_DEPTH: shown at that depth, saying whom it answers.
            parent = by_num.get(m.parent_num) if m.depth > MAX_DEPTH and m.parent_num else None
            return Markup(tree_item(m, parent))

        items = _pieces([msg for msg, _ in entries], item, lambda m: unshown(m, f"#m{m.num}"))
        # The tree: messages and placeholders in thread order (a placeholder before a
        # message that took its position since: it came first).
        rows = sorted(
            [
                (msg.thread_pos, 1, min(msg.depth, MAX_DEPTH), item)
                for (msg, _), item in zip(entries, items, strict=True)
            ]
            + [(t.thread_pos, 0, min(t.depth, MAX_DEPTH), gone(t)) for t in removed],
            key=lambda row: (row[0], row[1]),
        )
        return self._page(
            "thread",
            path,
            lst=lst,
            first=first,
            subject=_attempt(
                lambda: obfuscate(first.subject or "(no subject)", lst.obfuscate),
                lambda: "(no subject)",
            ),
            entries=[{"msg": msg, "article": article} for msg, article in entries],
            tree=[row[3] for row in rows],
            depths=[row[2] for row in rows],
            feeds=_attempt(lambda: [feeds.thread_feed(lst, thread_key, first)], list),
        )

    def removed(self, lst: ListConfig, tombstone: Tombstone, plan: ListPlan | None) -> str:
        """What a removed message's permalink shows: that it was removed, and when (not
        why: the reason is for the audit, `piperarc removals`)."""
        thread = tombstone.thread_key if plan and tombstone.thread_key in plan.threads else None
        return self._page(
            "removed",
            urls.message(lst.name, tombstone.key),
            lst=lst,
            tombstone=tombstone,
            thread=thread,
        )

    def static_search(self, indexed: bool) -> str:
        """search.html of the static build: search.js over the index the build wrote,
        or (`indexed` false) a note that this build has none."""
        return self._page("search_static", urls.search(), indexed=indexed)

    def search_help(self) -> str:
        """help/search.html of the static build: the query language, as search.js reads it."""
        return self._page("search_help", urls.search_help(), static=True)

    def old_page(self, lst: ListConfig, path: str, target: str) -> str:
        """A page at an old archive's path (from the site root) that sends the reader on to
        `target` (a refresh and rel=canonical), for static hosts with no redirects."""
        return self._page("old_redirect", path, lst=lst, target=target)

    def moved_thread(self, lst: ListConfig, plan: ListPlan, old_key: str) -> str | None:
        """A redirect from a thread page whose thread was merged into another (a missing
        parent arrived) to the thread its first message is in now; None if not moved."""
        summary = plan.by_key.get(old_key)
        if old_key in plan.threads or summary is None:
            return None
        target = f"{urls.thread(lst.name, summary.thread_key)}#m{summary.num}"
        return self._page(
            "moved", urls.thread(lst.name, old_key), lst=lst, target=target, subject=summary.subject
        )
