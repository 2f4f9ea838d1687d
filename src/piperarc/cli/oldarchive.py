"""What `piperarc import` prints: the summary line, the problems, and for an old archive
(--from) how many of its URLs were mapped and where the others are listed."""

from __future__ import annotations

import time
from pathlib import Path

import click

from piperarc import config as configlib
from piperarc.errors import ConfigError
from piperarc.ingest.oldarchive.importing import (
    OldImport,
    default_at,
    import_old_archive,
    unmapped_lines,
)
from piperarc.ingest.oldarchive.pipermail import kept_private
from piperarc.ingest.sources.shown import printable
from piperarc.model import ImportCounts
from piperarc.store import Store

MAX_PROBLEM_LINES = 20


def summary_line(counts: ImportCounts, sources: int) -> str:
    """The import's one line of counts."""
    line = (
        f"imported {counts.new} new, {counts.duplicates} duplicates skipped, "
        f"{counts.damaged} damaged (kept as raw text)"
    )
    if counts.removed:
        line += f", {counts.removed} removed earlier, not archived"
    if counts.no_archive:
        line += f", {counts.no_archive} marked X-No-Archive, not archived"
    if counts.failed_sources:
        line += f"; {counts.failed_sources} of {sources} sources had problems"
    return line


def warn(lines: list[str]) -> None:
    """Each line as a warning on stderr, at most MAX_PROBLEM_LINES, then how many more."""
    for line in lines[:MAX_PROBLEM_LINES]:
        click.echo(f"piperarc: warning: {printable(line)}", err=True)
    if len(lines) > MAX_PROBLEM_LINES:
        click.echo(
            f"piperarc: warning: ... and {len(lines) - MAX_PROBLEM_LINES} more problems",
            err=True,
        )


def report(counts: ImportCounts, sources: int) -> None:
    """The problems as warnings, then the summary line."""
    warn(counts.problems)
    click.echo(summary_line(counts, sources))


def import_old(
    store: Store,
    config: configlib.ArchiveConfig,
    list_name: str,
    old: tuple[str, Path],
    at: str | None,
    sources: tuple[str, ...],
    fmt: str | None = None,
) -> tuple[bool, bool]:
    """Import an old archive and say what became of its URLs: (new mail, something could
    not be read)."""
    kind, folder = old
    if kind == "pipermail" and kept_private(folder) and not config.list(list_name).private:
        # Mailman 2 did not publish it: nor will we, unless the operator says so.
        raise ConfigError(
            f"Mailman 2 kept this archive private ({folder.parent.parent / 'public'} has no "
            f"{folder.name}): make the list private first (private = true and members in "
            f"{config.root / configlib.CONFIG_NAME}; see docs/private-lists.md), or, to "
            "publish it, link it into archives/public as Mailman 2 does for a public list"
        )
    where = at or default_at(kind, list_name)
    if where is None:
        raise click.UsageError(
            f"say where the old {kind} archive was served with --at PATH "
            f"(the URL path its pages had, e.g. /archives/{list_name}/)"
        )
    result = import_old_archive(
        store, list_name, kind, folder, sources, at=where, fmt=fmt, now=lambda: int(time.time())
    )
    warn(result.problems + result.counts.problems)
    click.echo(summary_line(result.counts, max(len(sources), 1)))
    click.echo(_links_line(config, list_name, kind, result))
    return result.counts.new > 0, bool(result.problems or result.counts.failed_sources)


def _links_line(
    config: configlib.ArchiveConfig, list_name: str, kind: str, result: OldImport
) -> str:
    lines = unmapped_lines(result)
    line = f"old URLs: {result.mapped} mapped ({result.added} new), {len(lines)} could not be"
    listing = config.root / f"old-urls-{list_name}-{kind}-unmapped.txt"
    if lines:
        listing.write_text(
            "".join("\t".join(map(printable, text.split("\t", 1))) + "\n" for text in lines),
            encoding="utf-8",
        )
        line += f" (listed in {listing})"
    elif listing.exists():
        listing.unlink()  # a list from an earlier run that no longer holds
    if result.messages_from != "sources":
        line += f"; messages taken from {result.messages_from}"
    return line
