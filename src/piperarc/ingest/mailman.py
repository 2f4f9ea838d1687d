"""A Mailman 3 archiver: a Mailman site archives its lists with piperarc instead of HyperKitty.

In mailman.cfg:

    [archiver.piperarc]
    class: piperarc.mailman.Archiver
    enable: yes
    configuration: /etc/mailman3/piperarc-mailman.cfg

and in that file:

    [general]
    # The piperarc archive (the folder holding piperarc.toml); its lists are matched to
    # Mailman's by posting address, or by name (the local part of the address).
    archive: /var/lib/piperarc
    # Where the site is published (else [archive] base_url of piperarc.toml is used).
    base_url: https://lists.example.org/archive/
    # The built site to update as mail arrives (default: ARCHIVE/site, if built).
    site: /var/www/archive

Mailman calls archive_message from its archive runner and, if it raises, only logs it: the
message would be lost to the archive. So a message that cannot be stored now (the archive
busy, the disk full) is written to a spool Maildir (ARCHIVE/mailman-spool/LIST, fsync'd),
and every later call stores what waits there first (`piperarc watch` can drain it too).
"""

from __future__ import annotations

import os
import socket
import time
from configparser import ConfigParser
from email.message import Message
from pathlib import Path
from typing import Any

from mailman.interfaces.archiver import IArchiver
from zope.interface import implementer

from piperarc import config as configlib
from piperarc import urls
from piperarc.config import ArchiveConfig, ListConfig
from piperarc.errors import ConfigError, StoreError, UnknownListError
from piperarc.ingest import live
from piperarc.ingest.deliver import prepare
from piperarc.ingest.sources.eml import from_bytes
from piperarc.ingest.watch import import_new, pending
from piperarc.mid import url_key
from piperarc.site.update import SiteUpdater
from piperarc.store import open_store

SPOOL = "mailman-spool"


def _raw(msg: Message) -> bytes:
    """The message's bytes as Mailman holds it."""
    try:
        return msg.as_bytes()
    except (UnicodeError, LookupError):
        return msg.as_string().encode("utf-8", "surrogateescape")


def _read_settings(path: str) -> ConfigParser:
    parser = ConfigParser()
    if parser.read(path) != [path]:
        raise ConfigError("cannot read the piperarc archiver's configuration", path)
    return parser


@implementer(IArchiver)
class Archiver:
    """piperarc as a Mailman 3 IArchiver."""

    name = "piperarc"
    is_enabled = False  # Mailman sets it from [archiver.piperarc] enable

    def __init__(self, configuration: str | None = None) -> None:
        if configuration is None:
            from mailman.config import config as mailman_config

            configuration = str(mailman_config.archiver.piperarc.configuration)
        settings = _read_settings(configuration)
        general = settings["general"] if settings.has_section("general") else {}
        archive = general.get("archive")
        if not archive:
            raise ConfigError(
                "[general] archive: the piperarc archive folder is missing", configuration
            )
        self.config: ArchiveConfig = configlib.load(Path(archive))
        base_url = general.get("base_url") or self.config.base_url
        if not base_url:
            raise ConfigError("[general] base_url is needed for permalinks", configuration)
        self.base_url = base_url.rstrip("/") + "/"
        site = general.get("site")
        self.updater = SiteUpdater(
            self.config, Path(site) if site else live.site_folder(self.config)
        )

    def _list(self, mlist: Any) -> ListConfig:
        for address in (getattr(mlist, "posting_address", None), mlist.fqdn_listname):
            if address:
                found = live.list_for_address(self.config, str(address))
                if found is not None:
                    return found
        raise UnknownListError(
            f"Mailman list {mlist.fqdn_listname} has no list in the piperarc archive "
            f"(add it with: piperarc init {self.config.root} --list {mlist.list_name})"
        )

    def list_url(self, mlist: Any) -> str:
        """See IArchiver: the list's home in the archive."""
        return self.base_url + urls.list_home(self._list(mlist).name)

    def permalink(self, mlist: Any, msg: Message) -> str:
        """See IArchiver: the URL the message has once archived (its key comes from its
        Message-ID; a second, different message with the same Message-ID gets a suffix,
        and a message the archive already holds keeps the URL it has)."""
        lst = self._list(mlist)
        new = prepare(from_bytes(_raw(msg), "<mailman>"))
        key = url_key(new.parsed.mid)
        try:
            store = open_store(self.config.database, readonly=True)
        except StoreError:  # no archive to ask (yet): the key from the Message-ID stands
            return self.base_url + urls.message(lst.name, key)
        try:
            if lst.name in store.list_names():
                same = store.messages_by_mid(lst.name, new.parsed.mid)
                stored = next((m for m in same if m.digest == new.digest), None)
                if stored is not None:
                    key = stored.key
                elif same:
                    key = f"{key}-{len(same) + 1}"
        finally:
            store.close()
        return self.base_url + urls.message(lst.name, key)

    def archive_message(self, mlist: Any, msg: Message) -> str:
        """See IArchiver: store the message durably, update the site, return its URL."""
        lst = self._list(mlist)
        raw = _raw(msg)
        spool = self.config.root / SPOOL / lst.name
        if _private_in_mailman(mlist) and not lst.private:
            # Mailman keeps this list's archive private, piperarc.toml would publish it:
            # keep the mail unpublished until the settings agree (CVE-2021-33038 was
            # HyperKitty showing a private list's archive while its policy was not set).
            path = _spool(spool, raw)
            live.warn(
                f"{lst.name}: Mailman says its archive is private, but piperarc.toml has the "
                f"list public: kept in {path}, not archived, until the list is made private "
                "(private = true, members = ...; see docs/private-lists.md)"
            )
            return self.permalink(mlist, msg)
        if pending(spool):
            import_new(self.config, lst.name, spool, self.updater)  # an earlier failure's
        store = None
        try:
            store = open_store(self.config.database)
            delivered = live.store_one(store, lst.name, raw, "<mailman>")
        except Exception as err:
            path = _spool(spool, raw)
            live.warn(f"{lst.name}: kept in {path} until the archive can store it: "
                      f"{live.describe(err)}")  # fmt: skip
            if store is not None:
                store.close()
            return self.permalink(mlist, msg)
        try:
            live.publish(self.config, store, lst.name, updater=self.updater)
        except Exception as err:  # stored; the next delivery catches the site up
            live.warn(f"{lst.name}: stored, but the site is not updated: {live.describe(err)}")
        finally:
            store.close()
        if delivered.result.status == "no-archive":  # its sender asked: the list's home
            return self.base_url + urls.list_home(lst.name)
        return self.base_url + urls.message(lst.name, delivered.result.key)


def _private_in_mailman(mlist: Any) -> bool:
    """Whether Mailman's archive policy for the list is private (ArchivePolicy.private)."""
    policy = getattr(mlist, "archive_policy", None)
    return str(getattr(policy, "name", policy or "")).lower() == "private"


def _spool(maildir: Path, raw: bytes) -> Path:
    """Write `raw` into the Maildir durably (tmp/, fsync, rename into new/)."""
    for sub in ("tmp", "new", "cur"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    name = f"{int(time.time())}.P{os.getpid()}R{time.monotonic_ns()}.{socket.gethostname()}"
    tmp = maildir / "tmp" / name
    with tmp.open("wb") as fh:
        fh.write(raw)
        fh.flush()
        os.fsync(fh.fileno())
    target = maildir / "new" / name
    tmp.replace(target)
    return target
