"""Mail arriving live, one message at a time: what `deliver`, `lmtp`, `watch` and the
Mailman archiver share.

`store_one` is the promise a mail server makes: when it returns, the message is committed
(SQLite, WAL, synchronous=FULL: fsync'd) or was already there. `publish` then threads what is
new (placing.py: only the messages it touches) and updates the built site (site/update.py).
The two steps are apart on purpose: a message is acknowledged after the first, and a crash
before the second loses nothing (the next publish picks up every unplaced message and every
message newer than the site).

Exit codes follow sysexits(3), as MTAs (Postfix pipe(8), Exim's pipe transport, procmail)
read them: 0 delivered, 75 EX_TEMPFAIL try again later, 67 EX_NOUSER no such list,
78 EX_CONFIG the archive's settings are wrong, 65 EX_DATAERR no message at all.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from piperarc.config import ArchiveConfig, ListConfig
from piperarc.errors import (
    ArchiveNotFoundError,
    ConfigError,
    DamagedArchiveError,
    PiperarcError,
    SourceError,
    UnknownListError,
)
from piperarc.ingest import placing
from piperarc.ingest.deliver import prepare
from piperarc.ingest.sources.eml import from_bytes
from piperarc.site import update as siteupdate
from piperarc.store import AddResult, Store

EX_OK = 0
EX_DATAERR = 65
EX_NOUSER = 67
EX_TEMPFAIL = 75
EX_CONFIG = 78


def now() -> int:
    """The archiving time: seconds since the epoch."""
    return int(time.time())


@dataclass(frozen=True, slots=True)
class Delivered:
    """What happened to one delivered message."""

    result: AddResult
    damaged: str | None  # what was wrong with it, if anything (it is stored all the same)


def store_one(
    store: Store,
    list_name: str,
    raw: bytes,
    origin: str,
    now: Callable[[], int] = now,
) -> Delivered:
    """Parse and store one message in one durable transaction (no worker pool: one message
    is parsed faster than a pool starts). Raises SourceError for empty input, StoreError
    when the archive is busy, locked or full."""
    if not raw.strip():
        raise SourceError("no message: the input is empty", origin)
    mail = from_bytes(raw, origin)
    new = prepare(mail)
    store.ensure_list(list_name)
    (result,) = store.add_messages(list_name, [new], now())
    return Delivered(result, new.parsed.damage)


def site_folder(config: ArchiveConfig) -> Path:
    """Where `piperarc build` writes the site by default, and live updates look for it."""
    return config.root / "site"


def publish(
    config: ArchiveConfig,
    store: Store,
    list_name: str,
    site: Path | None = None,
    updater: siteupdate.SiteUpdater | None = None,
) -> siteupdate.UpdateReport | None:
    """Thread what is new in the list and update the built site (if there is one); a
    long-running caller passes its `updater` (made once: its templates compile once)."""
    placed = placing.place_pending(store, list_name)
    updater = updater or siteupdate.SiteUpdater(config, site or site_folder(config))
    report = updater.update(list_name, placed.changed)
    for line in report.warnings if report else ():
        warn(f"warning: {line}")  # a page shown as its raw text; the rest is updated
    return report


def list_for_address(config: ArchiveConfig, address: str) -> ListConfig | None:
    """The list a recipient address reaches: the list's posting address (any case), or any
    address whose local part is the list's name (salon@any.domain reaches `salon`)."""
    address = address.strip().strip("<>").lower()
    for lst in config.lists:
        if lst.address and lst.address.lower() == address:
            return lst
    local = address.rpartition("@")[0] if "@" in address else address
    # A +detail (RFC 5233 subaddress) still reaches the list.
    local = local.split("+", 1)[0]
    for lst in config.lists:
        if lst.name == local:
            return lst
    return None


def exit_status(err: BaseException) -> int:
    """The sysexits status for an error while delivering (after the list was known)."""
    if isinstance(err, UnknownListError):
        return EX_NOUSER
    if isinstance(err, ConfigError | ArchiveNotFoundError):
        return EX_CONFIG
    if isinstance(err, SourceError):
        return EX_DATAERR
    if isinstance(err, DamagedArchiveError):
        # Refused, not stored: the MTA keeps the mail (for days) while the archive is
        # recovered (docs/operating.md), and delivers it then.
        return EX_TEMPFAIL
    # StoreError (busy, locked, disk full, read-only), OSError, and anything unforeseen:
    # the MTA keeps the message and tries again, which loses nothing.
    return EX_TEMPFAIL


def warn(line: str) -> None:
    """One line on stderr, which MTAs log (and Postfix returns to the sender on failure)."""
    print(f"piperarc: {line}", file=sys.stderr, flush=True)


def describe(err: BaseException) -> str:
    """An error as one line, without a traceback."""
    if isinstance(err, PiperarcError):
        return str(err)
    return f"{type(err).__name__}: {err}"
