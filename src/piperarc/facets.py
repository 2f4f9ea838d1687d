"""Facets as search tokens: a message's list, dates and attachments written as words in a
hidden column of the full-text index, so that l:, d: and has: narrow a search inside the
index (fast at any size) instead of row by row afterwards.

    l<hex of the list name>   d20230105 (UTC day)   m202301 (month)   y2023 (year)
    attach (has attachments)  root (starts a thread)
"""

from __future__ import annotations

from calendar import monthrange
from datetime import UTC, date, datetime, timedelta

ATTACHMENT = "attach"
ROOT = "root"  # a thread starter: added and removed as threading changes (store.set_threads)


def list_token(list_name: str) -> str:
    """One token, whatever the name holds ("linux-man" would be two words)."""
    return "l" + list_name.encode("utf-8").hex()


def message_tokens(
    list_name: str, date_utc: int, has_attachments: bool, is_root: bool = False
) -> str:
    """The facet tokens of one message."""
    ymd = f"{datetime.fromtimestamp(date_utc, UTC):%Y%m%d}"  # formatted once: an import
    tokens = [list_token(list_name), f"d{ymd}", f"m{ymd[:-2]}", f"y{ymd[:-4]}"]  # does 10k/s
    if has_attachments:
        tokens.append(ATTACHMENT)
    if is_root:
        tokens.append(ROOT)
    return " ".join(tokens)


def date_cover(first: date, last: date) -> list[str]:
    """The fewest day, month and year tokens that cover first..last (both included)."""
    tokens: list[str] = []
    day = first
    while day <= last:
        year_end = date(day.year, 12, 31)
        month_end = date(day.year, day.month, monthrange(day.year, day.month)[1])
        if day.month == 1 and day.day == 1 and year_end <= last:
            tokens.append(f"y{day:%Y}")
            day = year_end + timedelta(days=1)
        elif day.day == 1 and month_end <= last:
            tokens.append(f"m{day:%Y%m}")
            day = month_end + timedelta(days=1)
        else:
            tokens.append(f"d{day:%Y%m%d}")
            day += timedelta(days=1)
    return tokens
