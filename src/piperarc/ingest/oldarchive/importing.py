"""`piperarc import --from KIND DIR`: bring an old archive over, mail and links.

The messages come from the raw mail when given (the list's mbox), else from what the old
archive kept of them (Pipermail's period text files; the message pages themselves where
nothing else is left), each such copy noted on its page. Then every old page is matched to
the message it shows (matching.py) and its URL recorded, so `serve` and the built site's
redirect maps send it there. Importing the same old archive again adds nothing."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from piperarc.errors import SourceError
from piperarc.ingest import deliver
from piperarc.ingest.oldarchive import hypermail, mhonarc, pipermail
from piperarc.ingest.oldarchive.found import OldArchive
from piperarc.ingest.oldarchive.matching import Unmapped, at_path, match
from piperarc.ingest.sources import RawMail, read_source
from piperarc.mail import structure
from piperarc.model import Attachment, ImportCounts, OldLink
from piperarc.store import Store
from piperarc.store.base import AddResult
from piperarc.urls import safe_filename

# Each kind's reader: read(folder) -> OldArchive, page_messages(archive) for when the old
# archive kept nothing of the mail but its pages, and (Pipermail) volume_start(volume).
READERS: dict[str, ModuleType] = {
    "pipermail": pipermail,
    "mhonarc": mhonarc,
    "hypermail": hypermail,
}
KINDS = tuple(READERS)


def default_at(kind: str, list_name: str) -> str | None:
    """Where the old archive was served, when the tool had one place for it."""
    return f"/pipermail/{list_name}/" if kind == "pipermail" else None


@dataclass
class OldImport:
    """What one import of an old archive did."""

    counts: ImportCounts
    mapped: int = 0  # old URLs that lead to a page now
    added: int = 0  # of those, recorded by this import (0 when it ran before)
    unmapped: list[Unmapped] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)  # paths another list already maps
    problems: list[str] = field(default_factory=list)  # what the reader could not read
    messages_from: str = "sources"  # "sources", "the old archive's text" or "the old pages"


def import_old_archive(
    store: Store,
    list_name: str,
    kind: str,
    folder: Path,
    sources: Sequence[str],
    *,
    at: str,
    now: Callable[[], int],
    fmt: str | None = None,
    jobs: int | None = None,
) -> OldImport:
    """Import the old archive of `kind` in `folder` into `list_name`, its mail from
    `sources` (read as `fmt`, else recognised) when given, and record its URLs under `at`.
    SourceError if the folder is not such an archive; what cannot be read inside it is
    counted, not raised."""
    if kind not in KINDS:
        raise SourceError(f"unknown kind of old archive {kind!r} (one of {', '.join(KINDS)})")
    reader = READERS[kind]
    if not folder.is_dir():
        raise SourceError(f"no such folder: the old {kind} archive's folder is needed", folder)
    found: OldArchive = reader.read(folder)
    if sources:
        counts = deliver.import_paths(store, list_name, sources, fmt=fmt, now=now, jobs=jobs)
        result = OldImport(counts)
    elif found.sources:
        result = OldImport(_import_old_text(store, list_name, found, now, jobs))
        result.messages_from = "the old archive's text"
    else:
        mails = _page_mails(reader, found)
        result = OldImport(_import_mails(store, list_name, mails, now, _page_note(kind)))
        result.messages_from = "the old pages"
    result.problems = list(found.problems)
    volume_start = getattr(reader, "volume_start", lambda volume: None)
    matched = match(found, store.summaries(list_name), at, volume_start)
    links = matched.links + _attachment_links(store, list_name, found, matched.pages, at)
    result.added, result.conflicts = store.add_old_links(list_name, links)
    result.mapped = len({link.path for link in links}) - len(result.conflicts)
    result.unmapped = matched.unmapped
    return result


def _import_old_text(
    store: Store,
    list_name: str,
    found: OldArchive,
    now: Callable[[], int],
    jobs: int | None,
) -> ImportCounts:
    """The messages of Pipermail's period text files, each noted on its page."""
    notes: dict[int, str] = {}
    by_file = {str(source.path): source.note for source in found.sources}
    workers = jobs if jobs is not None else os.cpu_count() or 1
    with deliver.Importer(store, list_name, now, jobs=workers) as importer:

        def noted(origin: str, result: AddResult) -> None:
            note = by_file.get(origin.rsplit(":", 1)[0])
            if note is not None and result.status == "new":
                notes[result.num] = note

        importer.on_stored = noted
        for source in found.sources:
            try:
                # Pipermail wrote its text files with Python's mbox quoting of "From " only.
                importer.add_all(read_source(source.path, "mboxo"))
            except SourceError as err:
                importer.counts.problems.append(str(err))
                importer.counts.failed_sources += 1
        counts = importer.finish()
    if notes:
        store.set_origins(list_name, notes)
    return counts


def _page_note(kind: str) -> str:
    name = {"mhonarc": "MHonArc", "hypermail": "Hypermail"}.get(kind, kind)
    return (
        f"Recovered from the old {name} page: the original message was not at hand, so "
        "its headers and text are as that page showed them, and attachments are missing."
    )


def _page_mails(reader: ModuleType, found: OldArchive) -> Iterator[RawMail]:
    for page, raw in reader.page_messages(found):
        yield RawMail(raw, None, f"{found.folder / page.path}")


def _import_mails(
    store: Store,
    list_name: str,
    mails: Iterator[RawMail],
    now: Callable[[], int],
    note: str,
) -> ImportCounts:
    notes: dict[int, str] = {}
    with deliver.Importer(store, list_name, now) as importer:

        def noted(origin: str, result: AddResult) -> None:
            if result.status == "new":
                notes[result.num] = note

        importer.on_stored = noted
        importer.add_all(mails)
        counts = importer.finish()
    if notes:
        store.set_origins(list_name, notes)
    return counts


def _attachment_links(
    store: Store,
    list_name: str,
    found: OldArchive,
    pages: dict[str, int],
    at: str,
) -> list[OldLink]:
    """An old attachment URL leads to the same file on the new page (same name, or the
    same bytes), else to the message page that had it."""
    prefix = at_path(at)
    links: list[OldLink] = []
    seen: set[str] = set()
    for page in found.messages:
        num = pages.get(page.path)
        if num is None or not page.attachments:
            continue
        files = structure.attachments(store.raw(list_name, num))
        for old in _with_twins(found.folder, page.attachments):
            path = prefix + old
            if path in seen:
                continue
            seen.add(path)
            links.append(OldLink(path, "attachment", num, _same_file(found.folder / old, files)))
    return links


def _with_twins(folder: Path, linked: Sequence[str]) -> list[str]:
    """The attachments a page links, and the other files of a folder of its own that holds
    them: Pipermail scrubbed each message's attachments into attachments/DATE/HASH/, and
    the digest's copies (attachment-0001.htm) sit beside them, linked from the digests
    subscribers received."""
    found = list(dict.fromkeys(linked))
    for old in linked:
        parent = (folder / old).parent
        if parent == folder or not parent.is_dir() or not old.startswith("attachments/"):
            continue
        for twin in sorted(parent.iterdir()):
            if twin.is_file():
                found.append(twin.relative_to(folder).as_posix())
    return list(dict.fromkeys(found))


def _same_file(old: Path, files: Sequence[Attachment]) -> str:
    """The new page's file name ("2-report.pdf") of the attachment `old` was, or ""."""
    data = None
    try:
        # Compared by content only when a message holds a file of its size: a regular file
        # (never a device or a pipe an old folder's link could name), read once.
        sizes = {len(attached.data) for attached in files}
        if old.is_file() and old.stat().st_size in sizes:
            data = old.read_bytes()
    except OSError:
        data = None
    for attached in files:
        if data is not None and attached.data == data:
            return f"{attached.index}-{safe_filename(attached.filename, attached.index)}"
    names = [a for a in files if a.filename == old.name]
    if len(names) == 1:
        return f"{names[0].index}-{safe_filename(names[0].filename, names[0].index)}"
    return ""


def unmapped_lines(result: OldImport) -> list[str]:
    """The lines of the file that lists old URLs that lead nowhere."""
    return [f"{item.path}\t{item.reason}" for item in result.unmapped] + [
        f"{path}\talready maps to another message or list" for path in result.conflicts
    ]
