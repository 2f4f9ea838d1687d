"""The command line: each command reads its options, calls one function, maps errors."""

from __future__ import annotations

import json
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from piperarc import __version__, feeds, urls
from piperarc import config as configlib
from piperarc import mid as midlib
from piperarc import search as searchlib
from piperarc.cli import creating, oldarchive, removal
from piperarc.cli import progress as progressbar
from piperarc.cli.options import archive_option
from piperarc.errors import ConfigError, NotFoundError, PiperarcError
from piperarc.ingest import deliver
from piperarc.ingest.oldarchive.importing import KINDS as OLD_KINDS
from piperarc.ingest.removal import remove_again
from piperarc.ingest.sources import FORMATS
from piperarc.ingest.sources.sample import sample_mbox
from piperarc.model import StoredMessage
from piperarc.render.text import iso_date, iso_offset
from piperarc.site import build as sitebuild
from piperarc.store import Store, database_exists, open_store
from piperarc.store.copy import copy_archive


class _Group(click.Group):
    """Turns every PiperarcError into one clear line on stderr and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PiperarcError as err:
            click.echo(f"piperarc: error: {err}", err=True)
            ctx.exit(1)


@contextmanager
def _opened(
    archive: Path, *, readonly: bool = False, check_index: bool = False
) -> Iterator[tuple[configlib.ArchiveConfig, Store]]:
    config = configlib.load(archive)
    if readonly and not database_exists(config.database):
        raise PiperarcError(
            "the archive has no database yet: import some mail first", config.database
        )
    store = open_store(config.database, readonly=readonly)
    try:
        if check_index:
            _warn_about_index(store)
        yield config, store
    finally:
        store.close()


def _warn_about_index(store: Store) -> None:
    warning = store.index_warning()
    if warning:
        click.echo(f"piperarc: warning: {warning}", err=True)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="piperarc")
def main() -> None:
    """piperarc: mailing-list archives that keep every message and never break a link."""


main.add_command(creating.init)
main.add_command(removal.remove)
main.add_command(removal.removals)


@main.command(name="import")
@archive_option
@click.option(
    "--list", "list_name", help="The list to import into (default: the archive's only list)."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    help="What the sources are (default: recognized from each file).",
)
@click.option(
    "--from",
    "old",
    nargs=2,
    type=(click.Choice(OLD_KINDS), click.Path(path_type=Path)),
    metavar="KIND DIR",
    help="Bring over an old archive (pipermail, mhonarc or hypermail) and its URLs; the "
    "SOURCEs, if given, are its raw mail.",
)
@click.option(
    "--at",
    metavar="PATH",
    help="The path the old archive was served at (default for pipermail: /pipermail/LIST/).",
)
@click.argument("sources", nargs=-1)
def import_(
    archive: Path,
    list_name: str | None,
    fmt: str | None,
    old: tuple[str, Path] | None,
    at: str | None,
    sources: tuple[str, ...],
) -> None:
    """Import mbox files (also .gz/.bz2/.xz), Maildirs, folders of messages, .eml files, or
    - for stdin; with --from, an old archive's mail and links."""
    if not sources and not old:
        raise click.UsageError("name the mail to import (SOURCE...), or an old archive (--from)")
    if at is not None and not old:
        raise click.UsageError("--at says where an old archive was: use it with --from")
    with _opened(archive, check_index=True) as (config, store):
        list_name = _import_list(config, list_name)
        if old:
            new, failed = oldarchive.import_old(store, config, list_name, old, at, sources, fmt)
        else:
            new, failed = _import_sources(store, list_name, fmt, sources)
    if new:
        _update_built_site(archive, list_name)
    if failed:
        sys.exit(1)


def _import_sources(
    store: Store, list_name: str, fmt: str | None, sources: tuple[str, ...]
) -> tuple[bool, bool]:
    """Import the sources: (whether there was new mail, whether a source failed)."""
    progress, on_message, stop = progressbar.callbacks(sys.stderr.isatty())
    try:
        counts = deliver.import_paths(
            store,
            list_name,
            sources,
            fmt=fmt,
            now=lambda: int(time.time()),
            stdin=sys.stdin.buffer,
            progress=progress,
            on_message=on_message,
        )
    finally:
        stop()
    oldarchive.report(counts, len(sources))
    return counts.new > 0, counts.failed_sources > 0


def _import_list(config: configlib.ArchiveConfig, list_name: str | None) -> str:
    """The list to import into: --list, or the archive's only list."""
    if list_name is not None:
        config.list(list_name)
        return list_name
    names = [lst.name for lst in config.lists]
    if len(names) == 1:
        return names[0]
    if not names:
        raise ConfigError(
            f"the archive has no list yet: add one with: piperarc init {config.root} --list NAME"
        )
    raise ConfigError(
        f"the archive has {len(names)} lists ({', '.join(names)}): "
        "say which to import into with --list NAME"
    )


@main.command()
@archive_option
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to write the site (default: ARCHIVE/site).",
)
@click.option("--jobs", type=click.IntRange(1, 64), help="Worker processes (default: cores).")
@click.option(
    "--no-search-index",
    is_flag=True,
    help="Skip the search index that search.html uses (faster; search.html then finds nothing).",
)
@click.option(
    "--private-out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also write the private lists, as a site of their own here (for a server that "
    "lets only their members in); they never go into the public site.",
)
def build(
    archive: Path,
    out: Path | None,
    jobs: int | None,
    no_search_index: bool,
    private_out: Path | None,
) -> None:
    """Write the static archive: every list, period, thread and message, feeds, search."""
    config = configlib.load(archive)
    if not database_exists(config.database):
        open_store(config.database).close()
    target = out or archive / "site"
    sites = [(target, False)]
    if private_out is not None:
        sitebuild.check_private_out(target, private_out)
        sites.append((private_out, True))
    for where, private in sites:
        report = sitebuild.build(
            config, where, jobs=jobs, search_index=not no_search_index, private=private
        )
        _build_report(report, "private lists: " if private else "")
    private_names = [lst.name for lst in config.lists if lst.private]
    if private_names and private_out is None:
        click.echo(
            f"{len(private_names)} private lists not built ({', '.join(private_names)}): "
            "they never go into the public site; write them with --private-out DIR"
        )
    click.echo(f"open {(target / urls.home()).resolve()}")


def _build_report(report: sitebuild.BuildReport, prefix: str) -> None:
    for warning in report.warnings:
        click.echo(f"piperarc: warning: {warning}", err=True)
    rate = report.messages / report.seconds if report.seconds else 0.0
    click.echo(
        f"{prefix}built {report.pages} pages ({report.messages} messages, {report.threads} "
        f"threads, {report.attachments} attachments, {report.downloads} mbox downloads, "
        f"{report.feeds} feeds) in {report.seconds:.1f}s ({rate:.0f} messages/s)"
        + (f"; {report.raw_pages} shown as raw text (see the warnings)" if report.raw_pages else "")
    )
    if report.search is not None and report.search_seconds is not None:
        index = report.search
        click.echo(
            f"{prefix}search index written in {report.search_seconds:.1f}s ({index.docs} "
            f"messages, {index.words} words, {index.shards} shards)"
        )
    if report.old_urls:
        click.echo(
            f"{prefix}{report.old_urls} old URLs redirected: redirects.nginx.map, "
            "redirects.apache.txt, _redirects (docs/migrating.md)"
        )


@main.command()
@archive_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def stats(archive: Path, as_json: bool) -> None:
    """Counts per list: messages, threads, damaged, duplicates, first and last date."""
    with _opened(archive, check_index=True) as (config, store):
        stored = set(store.list_names())
        result: dict[str, dict[str, Any]] = {}
        for lst in config.lists:
            if lst.name in stored:
                s = store.stats(lst.name)
                result[lst.name] = {
                    "messages": s.messages,
                    "threads": s.threads,
                    "damaged": s.damaged,
                    "duplicates": s.duplicates,
                    "first": iso_date(s.first) if s.first is not None else None,
                    "last": iso_date(s.last) if s.last is not None else None,
                }
            else:
                result[lst.name] = {
                    "messages": 0,
                    "threads": 0,
                    "damaged": 0,
                    "duplicates": 0,
                    "first": None,
                    "last": None,
                }
    if as_json:
        click.echo(json.dumps({"lists": result}, indent=None))
        return
    for name, row in result.items():
        click.echo(
            f"{name}: {row['messages']} messages, {row['threads']} threads, "
            f"{row['damaged']} damaged, {row['duplicates']} duplicates skipped, "
            f"{row['first'] or '-'} to {row['last'] or '-'}"
        )


def _message_fields(msg: StoredMessage) -> dict[str, Any]:
    return {
        "list": msg.list_name,
        "number": msg.num,
        "message_id": msg.mid,
        "message_id_synthetic": msg.mid_synthetic,
        "url": urls.message(msg.list_name, msg.key),
        "thread_url": urls.thread(msg.list_name, msg.thread_key),
        "date": iso_date(msg.date_utc),
        "date_offset": iso_offset(msg.tz_offset),
        "date_source": msg.date_source,
        "from_name": msg.from_name,
        "from_address": msg.from_addr,
        "subject": msg.subject,
        "subject_sort": msg.subject_base,
        "in_reply_to": msg.in_reply_to,
        "references": list(msg.references),
        "parent_number": msg.parent_num,
        "attachments": msg.has_attachments,
        "damaged": msg.damage,
        "size": msg.size,
        "sha256": msg.digest,
        "archived_at": iso_date(msg.archived_at),
    }


@main.command()
@archive_option
@click.option("--list", "list_name", required=True, help="The list the message is in.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.argument("message_id")
def show(archive: Path, list_name: str, as_json: bool, message_id: str) -> None:
    """Show the stored fields of the message with MESSAGE_ID (brackets optional)."""
    wanted = midlib.clean(message_id) or message_id
    with _opened(archive, readonly=True) as (config, store):
        config.list(list_name)
        found = store.messages_by_mid(list_name, wanted) if list_name in store.list_names() else []
        old_urls = store.old_paths(list_name, found[0].num) if found else []
    if not found:
        raise NotFoundError(f"no message with Message-ID <{wanted}> in list {list_name!r}")
    fields = _message_fields(found[0])
    fields["old_urls"] = old_urls  # the paths of an old archive's pages that lead here
    if len(found) > 1:
        fields["others"] = [
            {
                "number": m.num,
                "url": urls.message(list_name, m.key),
                "thread_url": urls.thread(list_name, m.thread_key),
            }
            for m in found[1:]
        ]
        fields["note"] = (
            f"{len(found)} different messages share this Message-ID; "
            "this is the first archived, 'others' lists the rest"
        )
    if as_json:
        click.echo(json.dumps(fields, ensure_ascii=False))
        return
    for key, value in fields.items():
        click.echo(f"{key}: {value}")


@main.command()
@archive_option
@click.option("--list", "list_name", required=True, help="The list to export.")
@click.option("--thread", "thread", help="Only this thread: its key or any Message-ID in it.")
def export(archive: Path, list_name: str, thread: str | None) -> None:
    """Write the list (or one thread) to stdout as mboxrd, every message byte-exact."""
    with _opened(archive, readonly=True) as (config, store):
        config.list(list_name)
        if list_name not in store.list_names():
            raise NotFoundError(f"the list {list_name!r} has no messages yet")
        summaries = store.summaries(list_name)
        if thread:
            wanted = midlib.clean(thread) or thread
            key = next(
                (s.thread_key for s in summaries if s.thread_key == thread or s.mid == wanted), None
            )
            if key is None:
                raise NotFoundError(f"no thread {thread!r} in list {list_name!r}")
            chosen = sorted(
                (s for s in summaries if s.thread_key == key), key=lambda s: s.thread_pos
            )
        else:
            chosen = summaries
        by_num = {s.num: s for s in chosen}
        out = sys.stdout.buffer
        for num, envelope, raw in store.iter_raw(list_name, [s.num for s in chosen]):
            s = by_num[num]
            out.write(
                feeds.mboxrd_entry(feeds.envelope_line(envelope, s.from_addr, s.date_utc), raw)
            )
        out.flush()


@main.command()
@archive_option
@click.option("--list", "list_names", multiple=True, help="Only this list (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON, as the API gives it.")
@click.option("--page", type=click.IntRange(1), default=1, show_default=True)
@click.option("--per-page", type=click.IntRange(1, 100), default=20, show_default=True)
@click.option(
    "--sort", type=click.Choice(["relevance", "date"]), default="relevance", show_default=True
)
@click.argument("query")
def search(
    archive: Path,
    list_names: tuple[str, ...],
    as_json: bool,
    page: int,
    per_page: int,
    sort: str,
    query: str,
) -> None:
    """Search the archive: words, "phrases", -not, OR, s: f: b: l: d: has:attachment is:root."""
    with _opened(archive, readonly=True, check_index=True) as (config, store):
        for name in list_names:
            config.list(name)
        results = searchlib.run(
            store, query, list_names=list_names or None, page=page, per_page=per_page, sort=sort
        )
        instead = searchlib.suggest(store, query, list_names) if not results.total else []
    modes = {lst.name: lst.obfuscate for lst in config.lists}
    found = [searchlib.hit_json(hit, modes.get(hit.list_name, "at")) for hit in results.hits]
    if as_json:
        click.echo(
            json.dumps(
                {
                    "total": results.total,
                    "total_exact": results.total_exact,
                    "results": found,
                    "suggestions": instead,
                },
                ensure_ascii=False,
            )
        )
        return
    matches = "1 message matches" if results.total == 1 else f"{results.total} messages match"
    if not results.total_exact:
        matches = f"about {matches}"
    click.echo(f"{matches} (page {page} of {results.pages})")
    if instead:
        click.echo("did you mean: " + " · ".join(instead))
    for hit in found:
        click.echo(f"{hit['date'][:10]}  {hit['from']}  {hit['subject']}\n    {hit['url']}")


@main.command()
@archive_option
@click.option("--list", "list_names", multiple=True, help="Only this list (repeatable).")
def reindex(archive: Path, list_names: tuple[str, ...]) -> None:
    """Rebuild the search index and the threads from the raw messages."""
    with _opened(archive) as (config, store):
        stored = store.list_names()
        for lst in config.lists:
            if (list_names and lst.name not in list_names) or lst.name not in stored:
                continue
            again = remove_again(store, lst.name, int(time.time()))
            if again:
                click.echo(f"{lst.name}: {len(again)} removed again (their tombstones name them)")
            count, anew = deliver.reindex(store, lst.name)
            moved = deliver.rethread(store, lst.name)
            fields = f", {anew} with sender or text made anew" if anew else ""
            click.echo(f"{lst.name}: indexed {count} messages{fields}, rethreaded ({moved} moved)")
            if (moved or anew) and (config.root / "site").exists():
                click.echo("  the built site shows what was there before: run `piperarc build`")


@main.command()
@archive_option
@click.option(
    "--to",
    "target",
    required=True,
    metavar="URL_OR_FILE",
    help="The new database: a postgresql:// URL, or a SQLite file that does not exist yet.",
)
def migrate(archive: Path, target: str) -> None:
    """Copy the archive to another database, prove nothing was lost, and switch to it.

    Every message goes whole (raw bytes, number, permalink, thread, dates, damage); the
    search index is rebuilt on the new side. At the end each list's count and digests
    (of every raw message, of every number and permalink, of every stored field) are
    printed for both sides; if any differ the command fails and piperarc.toml is left
    as it was. Else piperarc.toml's [archive] database names the new database. The old
    one is not touched: remove it when you are satisfied."""
    config = configlib.load(archive)
    location: Path | str = target
    if not target.startswith(configlib.SERVER_SCHEMES):
        location = Path(target).resolve()
        if location.exists():
            raise ConfigError("already exists: migrate into a new file", location)
    if location == config.database or (
        isinstance(config.database, Path) and config.database.resolve() == location
    ):
        raise ConfigError("the archive is already in that database")
    source = open_store(config.database, readonly=True)
    try:
        destination = open_store(location)
        try:
            prints = copy_archive(source, destination, lambda line: click.echo(line, err=True))
        finally:
            destination.close()
    finally:
        source.close()
    same = True
    for name, old, new in prints:
        for side, fp in (("from", old), ("to", new)):
            click.echo(
                f"{name} {side:4} {fp.messages} messages, {fp.duplicates} duplicates, "
                f"raw {fp.raw[:16]}, num+key {fp.keys[:16]}, fields {fp.rows[:16]}"
            )
        same = same and old == new
    if not same:
        raise PiperarcError(
            "the copy differs from the original (see above): piperarc.toml not changed"
        )
    setting = str(location)
    if isinstance(location, Path) and location.is_relative_to(archive.resolve()):
        setting = str(location.relative_to(archive.resolve()))
    configlib.set_database(archive, setting)
    click.echo(
        f"all {sum(fp.messages for _, fp, _ in prints)} messages copied and verified; "
        f"piperarc.toml now says: {configlib.database_line(setting)}"
    )


@main.command()
@archive_option
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="The port."
)
@click.option(
    "--workers", type=click.IntRange(1, 64), default=1, show_default=True, help="Processes."
)
@click.option("--access-log/--no-access-log", default=True, help="Log every request.")
@click.option(
    "--reader-header",
    metavar="NAME",
    help="The header a reverse proxy sets to the reader's address once it authenticated "
    "them (e.g. X-Remote-User): members of private lists read them. Trusted only from a "
    "loopback or unix-socket peer.",
)
@click.option(
    "--uds",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Listen on this unix socket instead of --host and --port.",
)
def serve(
    archive: Path,
    host: str,
    port: int,
    workers: int,
    access_log: bool,
    reader_header: str | None,
    uds: Path | None,
) -> None:
    """Serve the archive over HTTP from its database: pages, search, JSON API, downloads."""
    from piperarc.web import app as webapp  # starlette and uvicorn load only for this command

    config = configlib.load(archive)
    store = open_store(config.database, readonly=database_exists(config.database))
    try:
        _warn_about_index(store)
    finally:
        store.close()
    if uds is None:
        _check_port(host, port)
    where = f"unix socket {uds}" if uds else f"http://{host}:{port}/"
    click.echo(f"serving {config.title!r} at {where} (Ctrl-C stops)", err=True)
    private = [lst.name for lst in config.lists if lst.private]
    if private:
        readers = (
            f"readers named by {reader_header}" if reader_header else "nobody (no --reader-header)"
        )
        click.echo(
            f"private lists ({', '.join(private)}) shown to their members: {readers}", err=True
        )
    webapp.serve(
        config,
        host=host,
        port=port,
        workers=workers,
        access_log=access_log,
        reader_header=reader_header,
        uds=str(uds) if uds else None,
    )


def _check_port(host: str, port: int) -> None:
    """Fail before saying "serving" when the address cannot be listened on (a port in use,
    a host not of this machine), as uvicorn would only after the line was printed. Bound
    as uvicorn binds (SO_REUSEADDR), so a port a stopped server left waiting is free."""
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        for family, kind, proto, _, sockaddr in addresses:
            with socket.socket(family, kind, proto) as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind(sockaddr)
    except OSError as err:
        reason = err.strerror or str(err)
        raise PiperarcError(
            f"cannot listen on {host} port {port} ({reason.lower()}): serve on another "
            "with --port N (or stop what listens there)"
        ) from err


@main.command()
@click.argument(
    "directory", type=click.Path(file_okay=False, path_type=Path), default=Path("demo-archive")
)
def demo(directory: Path) -> None:
    """Make a demo archive in DIRECTORY from a sample list, build it, say where to open it."""
    if (directory / configlib.CONFIG_NAME).exists():
        raise ConfigError("already exists; remove it or choose another folder", directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / configlib.CONFIG_NAME).write_text(
        configlib.archive_header("piperarc demo archive")
        + configlib.list_block(
            configlib.ListConfig(
                "salon", "The Salon", "A sample list about early computing", "salon@example.org"
            )
        ),
        encoding="utf-8",
    )
    config = configlib.load(directory)
    sample = directory / "sample-salon.mbox"
    sample.write_bytes(sample_mbox())
    store = open_store(config.database)
    try:
        counts = deliver.import_paths(
            store, "salon", [str(sample)], fmt=None, now=lambda: int(time.time())
        )
    finally:
        store.close()
    click.echo(oldarchive.summary_line(counts, 1))
    report = sitebuild.build(config, directory / "site")
    for warning in report.warnings:
        click.echo(f"piperarc: warning: {warning}", err=True)
    click.echo(f"built {report.pages} pages in {report.seconds:.1f}s")
    click.echo(f"open {(directory / 'site' / urls.home()).resolve()}")


# -- Mail arriving live (issue 6): deliver, lmtp, watch. Kept together at the end. --


def _update_built_site(archive: Path, list_name: str) -> None:
    """After an import: rewrite the pages of a built site (ARCHIVE/site) that the new mail
    touches; nothing if the archive has not been built."""
    from piperarc.ingest import live
    from piperarc.site import update as siteupdate

    config = configlib.load(archive)
    try:
        report = siteupdate.update(config, live.site_folder(config), list_name)
    except PiperarcError as err:
        click.echo(f"piperarc: warning: the site is not updated: {err}", err=True)
        return
    for warning in report.warnings if report else ():
        click.echo(f"piperarc: warning: {warning}", err=True)


def _site_option(func: Any) -> Any:
    return click.option(
        "--site",
        type=click.Path(file_okay=False, path_type=Path),
        help="The built site to update as mail arrives (default: ARCHIVE/site, if built).",
    )(func)


@main.command(name="deliver")
@archive_option
@click.option("--list", "list_name", required=True, help="The list the message is for.")
@click.option(
    "--wait",
    type=click.FloatRange(0),
    default=30.0,
    show_default=True,
    help="Seconds to wait for a busy archive before exiting 75 (the MTA retries).",
)
@_site_option
def deliver_(archive: Path, list_name: str, wait: float, site: Path | None) -> None:
    """Archive one message from stdin, for an MTA pipe or a procmail/sieve rule.

    Exits 0 once the message is durably stored (or was already), 75 (EX_TEMPFAIL) if
    the archive is busy or the disk full so the MTA retries, 67 for an unknown list,
    78 for a broken archive configuration (sysexits)."""
    from piperarc.ingest import live

    try:
        config = configlib.load(archive)
        config.list(list_name)
    except PiperarcError as err:
        live.warn(live.describe(err))
        sys.exit(live.exit_status(err))
    try:
        raw = sys.stdin.buffer.read()
        store = open_store(config.database, busy_timeout=wait)
    except Exception as err:
        live.warn(f"not stored, try again later: {live.describe(err)}")
        sys.exit(live.EX_TEMPFAIL)
    try:
        try:
            delivered = live.store_one(store, list_name, raw, "<stdin>")
        except Exception as err:
            status = live.exit_status(err)
            live.warn(f"not stored{', try again later' if status == 75 else ''}: "
                      f"{live.describe(err)}")  # fmt: skip
            sys.exit(status)
        if delivered.result.status in ("removed", "no-archive"):
            why = "removed earlier" if delivered.result.status == "removed" else "X-No-Archive"
            live.warn(f"not archived: {why}")  # accepted (exit 0): the MTA must not retry
            return
        if delivered.damaged:
            live.warn(f"stored, damaged (kept as raw text): {delivered.damaged}")
        try:
            live.publish(config, store, list_name, site)
        except Exception as err:  # the message is safe; the next delivery catches up
            live.warn(f"stored, but the site is not updated yet: {live.describe(err)}")
    finally:
        store.close()


@main.command()
@archive_option
@click.option(
    "--listen",
    required=True,
    help="HOST:PORT (e.g. 127.0.0.1:2424) or unix:PATH to accept LMTP connections on.",
)
@_site_option
def lmtp(archive: Path, listen: str, site: Path | None) -> None:
    """Accept list mail over LMTP; replies 250 per recipient once committed."""
    from piperarc.ingest import lmtp as lmtplib

    config = configlib.load(archive)
    open_store(config.database).close()

    def ready(address: str) -> None:
        click.echo(f"piperarc lmtp: listening on {address}", err=True)

    lmtplib.serve(config, listen, site=site, ready=ready)


@main.command()
@archive_option
@click.option("--list", "list_name", required=True, help="The list the Maildir's mail is for.")
@click.option("--poll", type=click.FloatRange(0.1), default=5.0, show_default=True, help="Seconds.")
@click.option("--once", is_flag=True, help="Import what is there now, then stop.")
@click.argument("maildir", type=click.Path(file_okay=False, path_type=Path))
def watch(archive: Path, list_name: str, poll: float, once: bool, maildir: Path) -> None:
    """Archive mail as it lands in MAILDIR/new, moving each to cur/ once stored."""
    import signal
    import threading

    from piperarc.ingest import watch as watchlib

    config = configlib.load(archive)
    if once:
        config.list(list_name)
        new, duplicates = watchlib.import_new(config, list_name, maildir)
        click.echo(f"imported {new} new, {duplicates} duplicates skipped")
        return
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    click.echo(f"piperarc watch: watching {maildir} for list {list_name}", err=True)
    watchlib.watch(config, list_name, maildir, poll=poll, stop=stop)
