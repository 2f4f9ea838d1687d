"""Plain values that flow between the layers. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Attachment:
    """A non-text part (or a uuencoded block): its real name, type and decoded bytes."""

    index: int  # position among the message's attachments, 1-based, stable for a given raw message
    filename: str  # as the sender named it (decoded), or a made-up name when it had none
    content_type: str
    data: bytes
    content_id: str | None = None


@dataclass(frozen=True, slots=True)
class ParsedMessage:
    """What parse.py reads from one message's raw bytes: everything derived, nothing stored."""

    mid: str  # without angle brackets
    mid_synthetic: bool  # True when the message had no usable Message-ID and we derived one
    date_utc: int | None  # seconds since the epoch, UTC
    tz_offset: int | None  # the sender's offset from UTC in minutes (+60 for +0100)
    date_source: str  # "date" (its Date header), "envelope" (the mbox From_ line) or "none"
    from_name: str
    from_addr: str
    subject: str  # decoded, whitespace folded, as the sender wrote it
    subject_base: str  # for sorting and threading: no list tag, no Re:/Fwd:/AW:, lower case
    in_reply_to: str | None
    references: tuple[str, ...]  # References, oldest first, then In-Reply-To if not already in it
    body_text: str  # the readable text of the message (decoded text parts)
    attachments: tuple[Attachment, ...] = ()
    html_only: bool = False  # the message has HTML but no plain text alternative
    damage: str | None = None  # why the message could not be read properly, if it could not
    defects: tuple[str, ...] = ()  # lesser problems the parser noted


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message on its way into the store: its raw bytes and what was parsed from them."""

    raw: bytes  # byte-exact, without any mbox From_ envelope line
    envelope: str | None  # the mbox From_ line it came with, if any (without the newline)
    parsed: ParsedMessage
    digest: str  # sha256 of raw with CRLF line ends as LF: identical copies share it
    packed: bytes  # raw, compressed as every store keeps it (store.base.pack)
    index: IndexText  # what full-text search indexes
    # Its sender asked that it not be archived (X-No-Archive: yes): the store declines it.
    no_archive: bool = False


@dataclass(frozen=True, slots=True)
class IndexText:
    """A message's text as the search index holds it, column by column."""

    subject: str
    sender: str  # name and address
    body: str  # the sender's own lines
    quoted: str  # quoted lines ("> ..."), ranked lower
    files: str  # attachment file names


@dataclass(frozen=True, slots=True)
class SearchTerm:
    """A word or phrase to find, perhaps only in one field."""

    text: str  # one word, or the words of a phrase
    field: str | None = None  # "subject", "sender", "body" (own and quoted), "facets", or None
    prefix: bool = False  # "manp*": words that start with it


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A parsed query: every group must match (a group matches if any of its terms does)
    and no excluded term may. Lists, dates, attachments and thread starters are terms on
    the index's facets (facets.py)."""

    groups: tuple[tuple[SearchTerm, ...], ...] = ()
    excluded: tuple[SearchTerm, ...] = ()


# Around the matched words of a search snippet; private-use characters, so they cannot
# occur in mail the index holds (parse keeps them out) and need no escaping.
MARK_START, MARK_END = "\ue000", "\ue001"


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One message found by a search."""

    list_name: str
    num: int
    key: str
    mid: str
    subject: str
    from_name: str
    from_addr: str
    date_utc: int
    tz_offset: int
    snippet: str  # plain text, the matched words between MARK_START and MARK_END


@dataclass(frozen=True, slots=True)
class Summary:
    """A small row per stored message: enough for every index page and for threading."""

    num: int  # per-list number, fixed at first archiving
    key: str  # URL key, fixed at first archiving
    mid: str
    date_utc: int
    tz_offset: int
    from_name: str
    from_addr: str
    subject: str
    subject_base: str
    references: tuple[str, ...]
    damaged: bool
    has_attachments: bool
    thread_key: str = ""
    parent_num: int | None = None  # the stored message this one replies to, if known
    depth: int = 0
    thread_pos: int = 0  # position in the thread's tree order


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """One message as the store holds it: its fixed identity, parsed fields and raw bytes."""

    list_name: str
    num: int
    key: str
    mid: str
    mid_synthetic: bool
    date_utc: int
    tz_offset: int
    date_source: str
    from_name: str
    from_addr: str
    subject: str
    subject_base: str
    in_reply_to: str | None
    references: tuple[str, ...]
    body_text: str
    has_attachments: bool
    damage: str | None
    digest: str
    size: int
    envelope: str | None
    archived_at: int
    thread_key: str
    parent_num: int | None
    depth: int
    thread_pos: int


@dataclass(frozen=True, slots=True)
class ThreadPlacement:
    """Where threading put one message: its thread, its parent and its place in tree order."""

    num: int
    thread_key: str
    parent_num: int | None
    depth: int
    thread_pos: int


@dataclass(slots=True)
class ImportCounts:
    """What one import did: the summary line's numbers."""

    new: int = 0
    duplicates: int = 0
    damaged: int = 0
    failed_sources: int = 0  # sources that could not be read at all, or only in part
    removed: int = 0  # removed earlier (a tombstone names them): not archived again
    no_archive: int = 0  # marked X-No-Archive: yes by their sender: not archived
    problems: list[str] = field(default_factory=list)  # one line per damaged message or bad source

    def add(self, other: ImportCounts) -> None:
        self.new += other.new
        self.duplicates += other.duplicates
        self.damaged += other.damaged
        self.failed_sources += other.failed_sources
        self.removed += other.removed
        self.no_archive += other.no_archive
        self.problems.extend(other.problems)


@dataclass(frozen=True, slots=True)
class OldLink:
    """One URL of an archive another tool made (Pipermail, MHonArc, Hypermail) and the page
    that shows the same thing now. Stored at import; a redirect reads it back with the
    target message's `key` and `date_utc` filled in."""

    path: str  # from the server's root, with its leading "/": "/pipermail/salon/2009-May/…"
    kind: str  # "message", "attachment", "period", "download" or "home"
    num: int | None  # the message it shows (message, attachment) or that places its period
    detail: str = (
        ""  # attachment: the file's name on the new page ("2-report.pdf"); period: the view
    )
    list_name: str = ""
    key: str | None = None
    date_utc: int | None = None


OLD_LINK_KINDS = ("message", "attachment", "period", "download", "home")


@dataclass(frozen=True, slots=True)
class Tombstone:
    """What is kept of a removed message (`piperarc remove`): enough to say at its permalink
    that it was removed, to hold its place in its thread, and to refuse it if it comes
    again (by Message-ID or by its bytes' digest). Nothing of its content."""

    list_name: str
    num: int
    key: str
    mid: str
    mid_synthetic: bool
    digest: str  # sha256 of the raw bytes (CRLF as LF), as messages.digest
    date_utc: int
    thread_key: str
    parent_num: int | None
    depth: int
    thread_pos: int
    reason: str
    removed_by: str
    removed_at: int
    legal: bool  # removed for legal reasons: 451 (RFC 7725) rather than 410
