"""The edge corpus: odd, broken and hostile-ish mail from other projects' test suites.

Whatever comes in is kept byte for byte, counted, given a page and exported back exactly;
input that is not mail at all is kept too, flagged as damaged, never dropped
(../shared/corpus/SOURCES.md describes the files).
"""

from __future__ import annotations

import hashlib
import io
import json
import mailbox
import re
import traceback
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import Result

from piperarc import config as configlib
from piperarc.store import open_store
from tests.conftest import Run, cli, corpus_path, summary_counts

pytestmark = pytest.mark.corpus

LIST = "edge"
BARE_PATCH = "public-inbox-solve-bare-patch.eml"
_MBOXRD_QUOTED = re.compile(rb"^>(>*From )")


@dataclass(frozen=True)
class Mail:
    """One input message: where it came from and its bytes without any From_ line."""

    origin: str
    raw: bytes


def edge_sources() -> list[Path]:
    """Every .eml and .mbox file of the edge corpus, in name order."""
    edge = corpus_path("edge")
    return sorted((edge / "messages").glob("*.eml")) + sorted((edge / "mboxes").glob("*.mbox"))


def messages_in(path: Path) -> list[Mail]:
    """The messages a file holds, read by the standard library, not by piperarc.

    A .eml is one message; its leading `From ` envelope line, if any, is not part of it.
    An mbox is split as Python's mailbox.mbox splits it; an "mbox" with no From_ line at
    all (8 patchwork files are bare messages) is one message, as SOURCES.md counts them.
    """
    data = path.read_bytes()
    if path.suffix == ".eml":
        if data.startswith(b"From "):
            data = data.split(b"\n", 1)[1]
        return [Mail(path.name, data)]
    if not data.startswith(b"From "):
        return [Mail(path.name, data)]
    box = mailbox.mbox(path, create=False)
    try:
        return [
            Mail(f"{path.name}#{i + 1}", box.get_bytes(key, from_=False))
            for i, key in enumerate(box.keys())
        ]
    finally:
        box.close()


def read_mboxrd(data: bytes) -> list[bytes]:
    """The messages of an mboxrd stream: split at From_ lines, one '>' taken off quoted
    From lines, the blank separator line after each message dropped."""
    messages: list[list[bytes]] = []
    for line in io.BytesIO(data):
        if line.startswith(b"From "):
            messages.append([])
            continue
        assert messages, f"mboxrd does not start with a From_ line: {line[:60]!r}"
        messages[-1].append(_MBOXRD_QUOTED.sub(rb"\1", line))
    out = []
    for lines in messages:
        assert lines and lines[-1] == b"\n", "an mboxrd entry must end with a blank line"
        out.append(b"".join(lines[:-1]))
    return out


def mbox_exact(raw: bytes) -> bytes:
    """What an mbox gives back of `raw`: mbox cannot keep a missing final newline, so
    export adds one (as feeds.py documents)."""
    return raw if raw.endswith(b"\n") else raw + b"\n"


def stored_raws(root: Path, list_name: str) -> dict[int, bytes]:
    """Every stored message's raw bytes by number, read straight from the store."""
    store = open_store(configlib.load(root).database, readonly=True)
    try:
        return {s.num: store.raw(list_name, s.num) for s in store.summaries(list_name)}
    finally:
        store.close()


def stored_mids(root: Path, list_name: str) -> dict[int, str]:
    store = open_store(configlib.load(root).database, readonly=True)
    try:
        return {s.num: s.mid for s in store.summaries(list_name)}
    finally:
        store.close()


def show(root: Path, list_name: str, mid: str) -> dict[str, object]:
    result = cli("show", "--archive", root, "--list", list_name, "--json", "--", mid)
    assert result.exit_code == 0, f"show <{mid}>: {result.output}"
    fields: dict[str, object] = json.loads(result.stdout)
    return fields


def page_urls(root: Path, list_name: str) -> dict[int, str]:
    """Every stored message's page (relative to the site root), as `show --json` tells it."""
    pages: dict[int, str] = {}
    for mid in sorted(set(stored_mids(root, list_name).values())):
        fields = show(root, list_name, mid)
        others = fields.get("others", [])
        assert isinstance(others, list)
        for entry in [fields, *others]:
            assert isinstance(entry, dict)
            pages[int(entry["number"])] = str(entry["url"])
    return pages


class _PageReader(HTMLParser):
    """The raw-message links of a page and the text of its message body."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.eml_links: set[str] = set()
        self.body_parts: list[str] = []
        self._body_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        href = found.get("href") or ""
        if tag == "a" and href.endswith(".eml"):
            self.eml_links.add(href)
        if self._body_depth:
            if tag == "div":
                self._body_depth += 1
        elif tag == "div" and "body" in (found.get("class") or "").split():
            self._body_depth = 1

    def handle_endtag(self, tag: str) -> None:
        if self._body_depth and tag == "div":
            self._body_depth -= 1

    def handle_data(self, data: str) -> None:
        if self._body_depth:
            self.body_parts.append(data)


def read_page(page: Path) -> _PageReader:
    reader = _PageReader()
    reader.feed(page.read_text(encoding="utf-8"))
    reader.close()
    return reader


def page_raw(site: Path, url: str) -> bytes:
    """The bytes of the one original (.eml) the message page at `url` links to."""
    page = site / url
    links = read_page(page).eml_links
    assert len(links) == 1, f"{url} links {len(links)} originals: {sorted(links)}"
    return (page.parent / links.pop()).read_bytes()


# -- the corpus itself ------------------------------------------------------------------------


@dataclass(frozen=True)
class EdgeArchive:
    """Every edge file imported into one list in one command, then built."""

    root: Path
    site: Path
    mails: list[Mail]
    imported: Result
    built: Result


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory, module_db_args: tuple[str, ...]) -> EdgeArchive:
    sources = edge_sources()
    mails = [mail for path in sources for mail in messages_in(path)]
    root = tmp_path_factory.mktemp("edge") / "archive"
    site = root.parent / "site"
    made = cli("init", root, "--list", LIST, *module_db_args)
    assert made.exit_code == 0, made.output
    imported = cli("import", "--archive", root, "--list", LIST, *sources)
    built = cli("build", "--archive", root, "--out", site)
    return EdgeArchive(root, site, mails, imported, built)


def test_the_edge_corpus_holds_the_messages_its_sources_file_counts() -> None:
    sources = edge_sources()
    emls = [p for p in sources if p.suffix == ".eml"]
    mboxes = [p for p in sources if p.suffix == ".mbox"]
    assert (len(emls), len(mboxes)) == (70, 71)
    # SOURCES.md says 137: what mailbox.mbox finds. It finds nothing in the 8 files that
    # have no From_ line; each of those is one bare message, and piperarc imports it.
    bare = [p for p in mboxes if not p.read_bytes().startswith(b"From ")]
    assert len(bare) == 8
    assert sum(len(messages_in(p)) for p in mboxes) == 137 + len(bare)


def test_each_edge_file_imports_alone_with_exit_code_zero_and_every_message_counted(
    tmp_path: Path,
) -> None:
    problems: list[str] = []
    for number, path in enumerate(edge_sources()):
        root = tmp_path / str(number)
        assert cli("init", root, "--list", LIST).exit_code == 0
        digests = Counter(hashlib.sha256(m.raw).hexdigest() for m in messages_in(path))
        expected = (len(digests), sum(digests.values()) - len(digests))
        try:
            result = cli("import", "--archive", root, "--list", LIST, path)
        except Exception:
            problems.append(f"{path.name}: crashed:\n{traceback.format_exc()}")
            continue
        if result.exit_code != 0:
            problems.append(f"{path.name}: exit {result.exit_code}: {result.output}")
        elif summary_counts(result)[:2] != expected:
            problems.append(
                f"{path.name}: (new, duplicates) {summary_counts(result)[:2]}, expected {expected}"
            )
    assert not problems, "\n".join(problems)


def test_importing_every_edge_file_at_once_exits_zero_without_errors(edge: EdgeArchive) -> None:
    assert edge.imported.exit_code == 0, edge.imported.output
    errors = [line for line in edge.imported.stderr.splitlines() if "warning" not in line]
    assert not errors, edge.imported.stderr


def test_every_distinct_edge_message_is_stored_once_and_exact_copies_are_skipped(
    edge: EdgeArchive,
) -> None:
    digests = Counter(hashlib.sha256(m.raw).hexdigest() for m in edge.mails)
    duplicates = len(edge.mails) - len(digests)
    stats = json.loads(cli("stats", "--archive", edge.root, "--json").stdout)["lists"][LIST]
    assert summary_counts(edge.imported)[:2] == (len(digests), duplicates)
    assert (stats["messages"], stats["duplicates"]) == (len(digests), duplicates)


def test_every_mbox_message_is_stored_byte_exact(edge: EdgeArchive) -> None:
    kept = set(stored_raws(edge.root, LIST).values())
    missing = [m.origin for m in edge.mails if ".mbox" in m.origin and m.raw not in kept]
    assert not missing, f"stored differently or not at all: {missing}"


def test_every_single_eml_is_stored_byte_exact_without_its_envelope_line(
    edge: EdgeArchive,
) -> None:
    kept = set(stored_raws(edge.root, LIST).values())
    missing = [m.origin for m in edge.mails if m.origin.endswith(".eml") and m.raw not in kept]
    assert not missing, f"stored differently or not at all: {missing}"


def test_the_store_holds_no_bytes_that_no_input_had(edge: EdgeArchive) -> None:
    stored = stored_raws(edge.root, LIST)
    # Compared without trailing newlines, so that this test stands apart from the one above.
    inputs = {m.raw.rstrip(b"\n") for m in edge.mails}
    invented = [num for num, raw in stored.items() if raw.rstrip(b"\n") not in inputs]
    assert not invented, f"stored messages matching no input: {invented}"
    assert len(set(stored.values())) == len(stored), "two stored messages have identical bytes"


def test_the_edge_archive_builds_without_error(edge: EdgeArchive) -> None:
    assert edge.built.exit_code == 0, edge.built.output
    stored = len(stored_raws(edge.root, LIST))
    assert f"({stored} messages," in edge.built.stdout


def test_every_edge_message_has_a_page_linking_its_original(edge: EdgeArchive) -> None:
    raws = stored_raws(edge.root, LIST)
    pages = page_urls(edge.root, LIST)
    assert sorted(pages) == sorted(raws), "show --json does not reach every stored message"
    assert len(set(pages.values())) == len(pages), "two messages share a page"
    wrong = [
        f"{num} ({url})"
        for num, url in sorted(pages.items())
        if not (edge.site / url).is_file() or page_raw(edge.site, url) != raws[num]
    ]
    assert not wrong, f"pages missing or linking another message's original: {wrong}"


def test_exporting_the_edge_list_as_mboxrd_gives_back_every_stored_message(
    edge: EdgeArchive,
) -> None:
    result = cli("export", "--archive", edge.root, "--list", LIST)
    assert result.exit_code == 0, result.stderr
    stored = stored_raws(edge.root, LIST).values()
    assert Counter(read_mboxrd(result.stdout_bytes)) == Counter(map(mbox_exact, stored))


def test_exporting_the_thread_of_each_message_named_by_its_message_id_gives_it_back(
    edge: EdgeArchive,
) -> None:
    raws = stored_raws(edge.root, LIST)
    mids = stored_mids(edge.root, LIST)
    # A Message-ID shared by several messages names only the first one's thread.
    unique = Counter(mids.values())
    wrong: list[str] = []
    for num, mid in mids.items():
        if unique[mid] > 1:
            continue
        result = cli("export", "--archive", edge.root, "--list", LIST, "--thread", mid)
        exported = read_mboxrd(result.stdout_bytes) if result.exit_code == 0 else []
        if mbox_exact(raws[num]) not in exported:
            wrong.append(f"{num} <{mid}>: exit {result.exit_code} {result.stderr.strip()}")
    assert len(unique) > 100
    assert not wrong, "\n".join(wrong)


def test_exporting_each_thread_by_its_key_gives_back_exactly_its_messages(
    edge: EdgeArchive,
) -> None:
    raws = stored_raws(edge.root, LIST)
    store = open_store(configlib.load(edge.root).database, readonly=True)
    try:
        threads: dict[str, list[int]] = {}
        for s in store.summaries(LIST):
            threads.setdefault(s.thread_key, []).append(s.num)
    finally:
        store.close()
    wrong: list[str] = []
    for key, nums in threads.items():
        result = cli("export", "--archive", edge.root, "--list", LIST, "--thread", key)
        exported = read_mboxrd(result.stdout_bytes) if result.exit_code == 0 else []
        if Counter(exported) != Counter(mbox_exact(raws[num]) for num in nums):
            wrong.append(f"thread {key} {nums}: exit {result.exit_code} {result.stderr.strip()}")
    assert not wrong, "\n".join(wrong)


# -- input that is not mail -------------------------------------------------------------------


@pytest.fixture
def bare_patch(archive: Path, run: Run) -> tuple[Path, Result]:
    """The archive after importing a bare diff (no header at all) into `salon`."""
    result = run(
        "import",
        "--archive",
        archive,
        "--list",
        "salon",
        corpus_path("edge", "messages", BARE_PATCH),
    )
    return archive, result


def test_a_bare_diff_that_is_not_mail_is_still_stored_byte_exact(
    bare_patch: tuple[Path, Result],
) -> None:
    root, result = bare_patch
    assert result.exit_code == 0, result.output
    raw = corpus_path("edge", "messages", BARE_PATCH).read_bytes()
    assert list(stored_raws(root, "salon").values()) == [raw]


def test_a_bare_diff_is_counted_as_damaged_in_stats(
    bare_patch: tuple[Path, Result], run: Run
) -> None:
    root, result = bare_patch
    stats = json.loads(run("stats", "--archive", root, "--json").stdout)["lists"]["salon"]
    assert (stats["messages"], stats["damaged"]) == (1, 1)
    assert summary_counts(result) == (1, 0, 1)


def test_importing_a_bare_diff_warns_on_stderr_naming_the_file(
    bare_patch: tuple[Path, Result],
) -> None:
    _, result = bare_patch
    warnings = [
        line
        for line in result.stderr.splitlines()
        if line.startswith("piperarc: warning:") and BARE_PATCH in line
    ]
    assert len(warnings) == 1, result.stderr
    assert "damaged" in warnings[0]
    assert BARE_PATCH not in result.stdout


def test_the_page_of_a_bare_diff_shows_its_raw_text(
    bare_patch: tuple[Path, Result], run: Run
) -> None:
    root, _ = bare_patch
    assert run("build", "--archive", root).exit_code == 0
    (mid,) = stored_mids(root, "salon").values()
    fields = show(root, "salon", mid)
    assert fields["damaged"]
    page = read_page(root / "site" / str(fields["url"]))
    raw = corpus_path("edge", "messages", BARE_PATCH).read_text(encoding="utf-8")
    assert "".join(page.body_parts).rstrip("\n").split("\n") == raw.rstrip("\n").split("\n")


# -- inputs that once crashed Patchwork -------------------------------------------------------


def fuzz_mboxes() -> Iterator[Path]:
    yield from sorted(corpus_path("edge", "mboxes").glob("patchwork-data-fuzz-*.mbox"))


def test_the_patchwork_fuzz_mboxes_import_and_build_without_error(tmp_path: Path) -> None:
    sources = list(fuzz_mboxes())
    assert len(sources) == 17
    root = tmp_path / "archive"
    assert cli("init", root, "--list", LIST).exit_code == 0
    imported = cli("import", "--archive", root, "--list", LIST, *sources)
    assert imported.exit_code == 0, imported.output
    built = cli("build", "--archive", root)
    assert built.exit_code == 0, built.output
    expected = {m.raw for path in sources for m in messages_in(path)}
    assert set(stored_raws(root, LIST).values()) == expected
    assert f"({len(expected)} messages," in built.stdout
    pages = page_urls(root, LIST).values()
    assert len(set(pages)) == len(expected)
    assert all((root / "site" / url).is_file() for url in pages)


_RUNNABLE = re.compile(r"<script|<[a-z][^>]*\son[a-z]+\s*=|href=\"\s*(?:javascript|data):", re.I)


def test_every_edge_message_page_shows_its_body_and_nothing_that_can_run(
    edge: EdgeArchive,
) -> None:
    pages = page_urls(edge.root, LIST)
    wrong = []
    for url in pages.values():
        html = (edge.site / url).read_text(encoding="utf-8")
        if '<div class="body">' not in html or _RUNNABLE.search(html):
            wrong.append(url)
    assert not wrong, f"pages without a body or with something that runs: {wrong}"


def test_the_edge_pages_show_nested_signed_alternative_and_patch_parts(
    edge: EdgeArchive,
) -> None:
    html = "".join(
        (edge.site / url).read_text(encoding="utf-8") for url in page_urls(edge.root, LIST).values()
    )
    for marker in (
        '<section class="nested"',
        '<details class="html-version">',
        '<p class="signed">',
        '<div class="text diff">',
        '<span class="add">',
        '<figure class="image">',
    ):
        assert marker in html, marker
