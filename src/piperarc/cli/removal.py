"""`piperarc remove` and `piperarc removals`: messages taken out for good (a leaked
password, a GDPR request, spam, a court order), and the audit of what was."""

from __future__ import annotations

import getpass
import json
import sys
import time
from pathlib import Path

import click

from piperarc import config as configlib
from piperarc import urls
from piperarc.cli.options import archive_option
from piperarc.errors import PiperarcError
from piperarc.ingest import live
from piperarc.ingest.removal import remove as remove_messages
from piperarc.ingest.sources.shown import printable
from piperarc.model import Tombstone
from piperarc.render.text import iso_date
from piperarc.site import update as siteupdate
from piperarc.store import open_store
from piperarc.store.base import Removal


@click.command()
@archive_option
@click.option("--list", "list_name", required=True, help="The list the messages are in.")
@click.option("--reason", required=True, help="Why (kept in the audit: piperarc removals).")
@click.option("--by", "removed_by", help="Who removes them (default: this user).")
@click.option(
    "--legal", is_flag=True, help="For legal reasons: the permalink answers 451, not 410."
)
@click.option(
    "--site",
    type=click.Path(file_okay=False, path_type=Path),
    help="The built site to take them out of (default: ARCHIVE/site, if built).",
)
@click.argument("message_ids", nargs=-1, required=True)
def remove(
    archive: Path,
    list_name: str,
    reason: str,
    removed_by: str | None,
    legal: bool,
    site: Path | None,
    message_ids: tuple[str, ...],
) -> None:
    """Remove messages for good: every copy with each MESSAGE-ID is deleted, with its
    attachments and index entries; a tombstone keeps its Message-ID, the SHA-256 of its
    bytes, the reason, who and when, and nothing brings it back."""
    config = configlib.load(archive)
    lst = config.list(list_name)
    if not reason.strip():
        raise PiperarcError("--reason must say why (it is kept in the audit)")
    removal = Removal(reason.strip(), removed_by or getpass.getuser(), int(time.time()), legal)
    store = open_store(config.database)
    try:
        done = remove_messages(store, lst.name, message_ids, removal)
    finally:
        store.close()
    status = "451 Unavailable For Legal Reasons" if legal else "410 Gone"
    for tombstone in done.tombstones:
        click.echo(
            f"removed <{printable(tombstone.mid)}> "
            f"({urls.message(lst.name, tombstone.key)}: {status})"
        )
    for mid in done.unknown:
        click.echo(
            f"piperarc: error: no message <{printable(mid)}> in the list {lst.name!r}", err=True
        )
    if done.tombstones:
        out = site or live.site_folder(config)
        report = siteupdate.after_removal(config, out, lst.name, done.tombstones)
        if report is not None:
            click.echo(
                f"the built site {out} is updated: {lst.name} written again ({report.pages} pages)"
            )
    if done.unknown:
        sys.exit(1)


@click.command()
@archive_option
@click.option("--list", "list_name", required=True, help="The list whose removals to list.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def removals(archive: Path, list_name: str, as_json: bool) -> None:
    """The audit of what was removed from a list: when, by whom, why."""
    config = configlib.load(archive)
    lst = config.list(list_name)
    store = open_store(config.database, readonly=True)
    try:
        tombstones = store.tombstones(lst.name)
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps([_fields(t) for t in tombstones], indent=2, ensure_ascii=False))
        return
    if not tombstones:
        click.echo(f"nothing removed from {lst.name}")
        return
    for t in tombstones:
        legal = " (legal)" if t.legal else ""
        click.echo(
            f"{iso_date(t.removed_at)}  <{printable(t.mid)}>  by {printable(t.removed_by)}"
            f"{legal}: {printable(t.reason)}\n"
            f"    sha256 {t.digest}  {urls.message(lst.name, t.key)}"
        )


def _fields(t: Tombstone) -> dict[str, object]:
    return {
        "message_id": t.mid,
        "sha256": t.digest,
        "reason": t.reason,
        "by": t.removed_by,
        "removed_at": iso_date(t.removed_at),
        "legal": t.legal,
        "key": t.key,
        "url": urls.message(t.list_name, t.key),
    }
