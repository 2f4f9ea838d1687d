"""Which stored message each old page shows, and the old URLs that follow from it.

A page whose Message-ID the old archive recorded leads to the message with that
Message-ID. A page without one (Pipermail's stale pages of a re-archive, old volumes that
kept no Message-IDs) is matched by what it shows: the date to the minute, the author and
the subject, and only when exactly one stored message fits; two candidates are never
guessed between, and the page is reported instead."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from piperarc import mid as midlib
from piperarc import urls
from piperarc.ingest.oldarchive.found import OldArchive, OldIndexPage, OldMessagePage
from piperarc.model import OldLink, Summary

# Seconds a shown date may be off from the stored one: Pipermail shows whole seconds in
# the server's zone, so only rounding remains; a wrong zone is hours off and not matched.
DATE_SLACK = 60

_TAG = re.compile(r"^\s*(\[[^\]]*\]\s*)+")
_REPLY = re.compile(r"^\s*((re|aw|sv|fwd?|tr)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)
_SPACE = re.compile(r"\s+")
_WORDISH = re.compile(r"[^\w@.]+")


@dataclass(frozen=True, slots=True)
class Unmapped:
    """An old URL that leads nowhere, and why."""

    path: str
    reason: str


@dataclass
class Matched:
    """Every old URL of one old archive: mapped (to be stored) and not."""

    links: list[OldLink]
    unmapped: list[Unmapped]
    pages: dict[str, int]  # message page path (relative to the folder) -> message number


def normal_subject(subject: str) -> str:
    """A subject as both sides can be compared: no list tags, no Re:, folded, lower case."""
    text = subject
    for _ in range(4):  # "Re: [List] Re: [List] x"
        text = _REPLY.sub("", _TAG.sub("", text))
    return _SPACE.sub(" ", text).strip().lower()


def normal_author(author: str) -> str:
    """A name or address as both sides can be compared ("jane at example.org" as an address)."""
    text = author.replace(" at ", "@").strip().strip('"').lower()
    return _SPACE.sub(" ", _WORDISH.sub(" ", text)).strip()


def _author_fits(shown: str, summary: Summary) -> bool:
    wanted = normal_author(shown)
    if not wanted:
        return True
    names = {normal_author(summary.from_name), normal_author(summary.from_addr)}
    return wanted in names or any(wanted and name and (wanted in name) for name in names)


def _subject_fits(shown: str, summary: Summary) -> bool:
    wanted = normal_subject(shown)
    have = normal_subject(summary.subject)
    return wanted == have or (bool(wanted) and bool(have) and (wanted in have or have in wanted))


def _made_up(mid: str) -> bool:
    """Whether a stored Message-ID was made from the content (the message had none)."""
    return mid.endswith("@" + midlib.SYNTHETIC_DOMAIN)


def at_path(at: str) -> str:
    """`--at` as a path prefix: a leading and a trailing "/"."""
    return "/" + at.strip("/") + "/" if at.strip("/") else "/"


class _Finder:
    def __init__(self, summaries: Iterable[Summary]) -> None:
        self.by_mid: dict[str, list[Summary]] = defaultdict(list)
        self.by_minute: dict[int, list[Summary]] = defaultdict(list)
        for summary in summaries:
            self.by_mid[summary.mid].append(summary)
            self.by_minute[summary.date_utc // DATE_SLACK].append(summary)

    def by_shown(self, page: OldMessagePage) -> list[Summary]:
        if page.date is None:
            return []
        near = [
            s
            for minute in (
                page.date // DATE_SLACK - 1,
                page.date // DATE_SLACK,
                page.date // DATE_SLACK + 1,
            )
            for s in self.by_minute.get(minute, ())
            if abs(s.date_utc - page.date) <= DATE_SLACK
        ]
        return [s for s in near if _subject_fits(page.subject, s) and _author_fits(page.author, s)]

    def find(self, page: OldMessagePage) -> tuple[Summary | None, str]:
        """The message the page shows, or None and why not."""
        if page.mid:
            bare = page.mid.strip().removeprefix("<").removesuffix(">")
            found = self.by_mid.get(bare)
            if found:
                # Messages sharing a Message-ID: the one whose date the page shows, else
                # the first archived (as mid/ answers).
                if len(found) > 1 and page.date is not None:
                    dated = [s for s in found if abs(s.date_utc - page.date) <= DATE_SLACK]
                    if len(dated) == 1:
                        return dated[0], ""
                return found[0], ""
        shown = self.by_shown(page)
        if len(shown) == 1:
            return shown[0], ""
        if len({s.mid for s in shown}) == 1 and not _made_up(shown[0].mid):
            # One message, kept twice by the old archive (a re-archive's text holds each
            # message again, the copies differing only in what the old tool rewrote): the
            # first archived copy, as mid/ answers.
            return shown[0], ""
        if len(shown) > 1:
            return None, (
                f"{len(shown)} messages have its date, author and subject "
                f"(numbers {', '.join(str(s.num) for s in shown[:5])}): not guessed"
            )
        if page.mid:
            return None, f"it shows {page.mid}, and no imported message has that Message-ID"
        return None, "no imported message has its date, author and subject"


def _volume_message(
    volume: str | None,
    nums: list[int],
    dates: dict[int, int],
    volume_start: Callable[[str], int | None],
) -> int | None:
    """The message that places an old volume among the new periods: its earliest message
    dated inside the volume (Pipermail dated volumes in the server's zone), else its earliest."""
    if not nums:
        return None
    ordered = sorted(nums, key=lambda n: (dates[n], n))
    start = volume_start(volume) if volume else None
    if start is not None:
        inside = [n for n in ordered if dates[n] >= start]
        if inside:
            return inside[0]
    return ordered[0]


def match(
    found: OldArchive,
    summaries: list[Summary],
    at: str,
    volume_start: Callable[[str], int | None] = lambda volume: None,
) -> Matched:
    """Map every page of `found` to a stored message (or the list's home), under `at`."""
    prefix = at_path(at)
    finder = _Finder(summaries)
    dates = {s.num: s.date_utc for s in summaries}
    links: list[OldLink] = []
    unmapped: list[Unmapped] = []
    pages: dict[str, int] = {}
    in_volume: dict[str | None, list[int]] = defaultdict(list)
    for page in found.messages:
        summary, why = finder.find(page)
        if summary is None:
            unmapped.append(Unmapped(prefix + page.path, why))
            continue
        pages[page.path] = summary.num
        in_volume[page.volume].append(summary.num)
        links.append(OldLink(prefix + page.path, "message", summary.num))
    for index_page in found.pages:
        links.extend(_index_links(prefix, index_page, in_volume, dates, volume_start))
    return Matched(links, unmapped, pages)


def _index_links(
    prefix: str,
    page: OldIndexPage,
    in_volume: dict[str | None, list[int]],
    dates: dict[int, int],
    volume_start: Callable[[str], int | None],
) -> list[OldLink]:
    paths = [prefix + page.path]
    if page.path == "index.html" or page.path.endswith("/index.html"):
        paths.append(prefix + page.path.removesuffix("index.html"))  # the folder's own URL
    if page.kind == "home":
        return [OldLink(path, "home", None) for path in paths]
    num = _volume_message(page.volume, in_volume.get(page.volume, []), dates, volume_start)
    if num is None:  # a volume none of whose messages could be found: the list's home
        return [OldLink(path, "home", None) for path in paths]
    if page.kind == "download":
        return [OldLink(path, "download", num) for path in paths]
    view = page.path.rsplit("/", 1)[-1].removesuffix(".html")
    return [
        OldLink(path, "period", num, view if view in urls.VIEWS else "thread") for path in paths
    ]
