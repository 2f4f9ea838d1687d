"""Whole real lists: linux-man (10,000 messages) and usrp-users (2,991, HTML and attachments).

Each list is imported and built once per module: usrp-users in one go; linux-man in two
steps (its first 5,000 messages, then the rest with synthetic older mail), built after each.
The tests check what a list owner relies on: every message counted, re-imports idempotent,
no dead link in the site, and permalinks that survive later imports of older mail.
"""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import json
import lzma
import mailbox
import re
import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import Result

from tests.conftest import cli, corpus_path, summary_counts
from tests.sitecheck import broken_links, page_raw

pytestmark = [pytest.mark.corpus, pytest.mark.slow]

LISTS = {"linux-man": "linux-man-10k.mbox.xz", "usrp-users": "usrp-users-3k.mbox.xz"}
FIRST_PART = 5000  # messages of linux-man imported before the rest
SYNTHETIC = 7  # messages synthetic_mbox makes
_MBOXRD_QUOTED = re.compile(rb"^>(>*From )", re.MULTILINE)


def ok(*args: str | Path) -> Result:
    result = cli(*args)
    assert result.exit_code == 0, f"piperarc {args[0]}: {result.output}"
    return result


def header_mid(raw: bytes) -> str | None:
    """The Message-ID header of `raw`, without brackets, as the standard library reads it."""
    headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)
    value = headers.get("Message-ID")
    if value is None:
        return None
    found = re.search(r"<([^<>]+)>", str(value))
    return re.sub(r"\s+", "", found[1] if found else str(value))


# -- what the standard library reads in each list file ---------------------------------------


@dataclass(frozen=True)
class ListFile:
    """A list's mbox, decompressed, and what mailbox.mbox finds in it."""

    name: str
    xz: Path
    mbox: Path
    count: int  # messages, split as mailbox.mbox splits
    duplicates: int  # messages identical (sha256 of their bytes) to an earlier one
    shared_mids: dict[str, list[bytes]]  # Message-IDs that different messages share


def read_list_file(name: str, folder: Path) -> ListFile:
    xz = corpus_path("lists", LISTS[name])
    mbox = folder / f"{name}.mbox"
    with lzma.open(xz) as packed, mbox.open("wb") as out:
        shutil.copyfileobj(packed, out, 1 << 20)
    box = mailbox.mbox(mbox, create=False)
    digests: Counter[str] = Counter()
    by_mid: dict[str, dict[str, bytes]] = {}
    try:
        for key in box.iterkeys():
            # The corpus is mboxrd: one '>' quotes From lines in bodies.
            raw = _MBOXRD_QUOTED.sub(rb"\1", box.get_bytes(key, from_=False))
            digest = hashlib.sha256(raw).hexdigest()
            digests[digest] += 1
            mid = header_mid(raw)
            if mid:
                by_mid.setdefault(mid, {})[digest] = raw
    finally:
        box.close()
    count = sum(digests.values())
    shared = {mid: list(raws.values()) for mid, raws in by_mid.items() if len(raws) > 1}
    return ListFile(name, xz, mbox, count, count - len(digests), shared)


@pytest.fixture(scope="module")
def list_files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], ListFile]]:
    """Reads each list file once, when a test first needs it."""
    folder = tmp_path_factory.mktemp("mboxes")
    cache: dict[str, ListFile] = {}

    def get(name: str) -> ListFile:
        if name not in cache:
            cache[name] = read_list_file(name, folder)
        return cache[name]

    yield get
    shutil.rmtree(folder, ignore_errors=True)


# -- the archives: each list imported and built once -----------------------------------------


@dataclass(frozen=True)
class Archive:
    """A list file imported (perhaps in parts, perhaps with synthetic mail) and built."""

    source: ListFile
    root: Path
    site: Path
    imports: list[Result]  # every import of the list file's messages, in order
    built: Result
    synthetic: int = 0  # messages imported besides the list file's own

    @property
    def name(self) -> str:
        return self.source.name

    def stats(self) -> dict[str, int]:
        out = ok("stats", "--archive", self.root, "--json").stdout
        counts: dict[str, int] = json.loads(out)["lists"][self.name]
        return counts


@pytest.fixture(scope="module")
def usrp_users(
    tmp_path_factory: pytest.TempPathFactory, list_files: Callable[[str], ListFile]
) -> Iterator[Archive]:
    """usrp-users imported whole, in one go, and built."""
    source = list_files("usrp-users")
    root = tmp_path_factory.mktemp(source.name) / "archive"
    ok("init", root, "--list", source.name)
    imported = cli("import", "--archive", root, "--list", source.name, source.xz)
    built = cli("build", "--archive", root)
    yield Archive(source, root, root / "site", [imported], built)
    shutil.rmtree(root, ignore_errors=True)


@dataclass(frozen=True)
class Grown:
    """linux-man imported in two steps and built after each, into a fresh folder each time."""

    archive: Archive
    before: dict[str, str]  # message page url → sha256 of its original, after step one
    synthetic: bytes


@pytest.fixture(scope="module")
def grown(
    tmp_path_factory: pytest.TempPathFactory, list_files: Callable[[str], ListFile]
) -> Iterator[Grown]:
    source = list_files("linux-man")
    folder = tmp_path_factory.mktemp("linux-man")
    data = source.mbox.read_bytes()
    starts = [m.start() for m in re.finditer(rb"^From ", data, re.MULTILINE)]
    assert len(starts) == source.count
    head, tail = folder / "first.mbox", folder / "rest.mbox"
    head.write_bytes(data[: starts[FIRST_PART]])
    tail.write_bytes(data[starts[FIRST_PART] :])
    del data
    box = mailbox.mbox(head, create=False)
    try:
        early = [box.get_bytes(key, from_=False) for key in list(box.iterkeys())[:3]]
    finally:
        box.close()
    synthetic = synthetic_mbox(early)
    extra = folder / "synthetic.mbox"
    extra.write_bytes(synthetic)
    root = folder / "archive"
    ok("init", root, "--list", source.name)
    first = cli("import", "--archive", root, "--list", source.name, head)
    ok("build", "--archive", root, "--out", folder / "site-1")
    before = message_pages(folder / "site-1", source.name)
    shutil.rmtree(folder / "site-1")
    second = cli("import", "--archive", root, "--list", source.name, tail, extra)
    built = cli("build", "--archive", root, "--out", folder / "site-2")
    archive = Archive(source, root, folder / "site-2", [first, second], built, SYNTHETIC)
    yield Grown(archive, before, synthetic)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module", params=sorted(LISTS))
def archive_of(request: pytest.FixtureRequest) -> Archive:
    """Each list's archive: linux-man grown in two steps, usrp-users imported whole."""
    if request.param == "linux-man":
        found: Grown = request.getfixturevalue("grown")
        return found.archive
    usrp: Archive = request.getfixturevalue("usrp_users")
    return usrp


def test_importing_a_whole_list_succeeds_without_errors(archive_of: Archive) -> None:
    for result in archive_of.imports:
        assert result.exit_code == 0, result.output
        errors = [line for line in result.stderr.splitlines() if "warning" not in line]
        assert not errors, result.stderr


def test_every_message_of_a_list_is_stored_but_exact_duplicates(archive_of: Archive) -> None:
    source = archive_of.source
    expected = source.count - source.duplicates + archive_of.synthetic
    assert archive_of.stats()["messages"] == expected


def test_the_import_summary_counts_the_exact_duplicates_it_skipped(archive_of: Archive) -> None:
    source = archive_of.source
    counts = [summary_counts(result) for result in archive_of.imports]
    new, duplicates = sum(c[0] for c in counts), sum(c[1] for c in counts)
    assert (new, duplicates) == (
        source.count - source.duplicates + archive_of.synthetic,
        source.duplicates,
    )


def test_a_whole_list_builds_with_a_page_for_every_message(archive_of: Archive) -> None:
    assert archive_of.built.exit_code == 0, archive_of.built.output
    assert f"({archive_of.stats()['messages']} messages," in archive_of.built.stdout


def test_every_relative_link_in_a_built_list_leads_to_a_file(archive_of: Archive) -> None:
    checked, broken = broken_links(archive_of.site)
    assert checked > 10 * archive_of.stats()["messages"]
    assert not broken, f"{len(broken)} broken links, e.g.:\n" + "\n".join(broken[:30])


# -- linux-man: permalinks survive more mail, older mail included ---------------------------


def message_pages(site: Path, list_name: str) -> dict[str, str]:
    """url → sha256 of the original it links, for every message page of the list: the
    permanent NAME/m/KEY.html of the URL scheme (urls.py)."""
    found: dict[str, str] = {}
    for page in (site / list_name / "m").glob("*.html"):
        url = page.relative_to(site).as_posix()
        found[url] = hashlib.sha256(page_raw(site, url)).hexdigest()
    return found


def synthetic_mbox(early: list[bytes]) -> bytes:
    """Later mail for linux-man: three threads from 2001 (older than anything archived),
    replies to the list's first messages (one dated before its parent), and a different
    message reusing the first message's Message-ID; as mboxrd."""
    messages: list[tuple[str, str, str, str]] = []  # (mid, date, extra headers, role)
    for n in range(1, 4):
        messages.append(
            (f"old-{n}@piperarc.test", f"Mon, {n:02d} Jan 2001 10:00:00 +0000", "", "2001 root")
        )
    for n, raw in enumerate(early[:3], 1):
        parent = header_mid(raw)
        assert parent
        date = "Tue, 02 Jan 2001 12:00:00 +0100" if n == 1 else "Sun, 08 Jan 2023 09:00:00 +0000"
        messages.append(
            (
                f"reply-{n}@piperarc.test",
                date,
                f"In-Reply-To: <{parent}>\nReferences: <{parent}>\n",
                "reply to an early message",
            )
        )
    first = header_mid(early[0])
    assert first
    messages.append((first, "Wed, 03 Jan 2001 08:00:00 +0000", "", "reused Message-ID"))
    chunks = []
    for n, (mid, date, extra, role) in enumerate(messages):
        chunks.append(
            "From tester@piperarc.test Mon Jan  1 00:00:00 2001\n"
            f"From: Tester <tester@piperarc.test>\nTo: linux-man@vger.kernel.org\n"
            f"Subject: synthetic message {n} ({role})\nDate: {date}\n"
            f"Message-ID: <{mid}>\n{extra}MIME-Version: 1.0\n"
            "Content-Type: text/plain; charset=utf-8\n\n"
            f"Synthetic message {n}: {role}.\nFrom here on nothing matters.\n\n"
        )
    return "".join(chunks).replace("\nFrom here", "\n>From here").encode()


def test_the_first_part_of_linux_man_has_a_page_per_message(grown: Grown) -> None:
    assert summary_counts(grown.archive.imports[0])[0] == FIRST_PART
    assert len(grown.before) == FIRST_PART


def test_every_earlier_message_url_still_shows_the_same_message(grown: Grown) -> None:
    after = message_pages(grown.archive.site, "linux-man")
    lost = [url for url in grown.before if url not in after]
    changed = [url for url, digest in grown.before.items() if after.get(url, digest) != digest]
    assert not lost, f"{len(lost)} message pages gone, e.g. {lost[:10]}"
    assert not changed, f"{len(changed)} pages now show another message, e.g. {changed[:10]}"
    assert len(after) == grown.archive.stats()["messages"]


def test_synthetic_mail_dated_2001_gets_pages_too(grown: Grown) -> None:
    for mid in ("old-1@piperarc.test", "reply-1@piperarc.test", "reply-3@piperarc.test"):
        fields = json.loads(
            ok("show", "--archive", grown.archive.root, "--list", "linux-man", "--json", mid).stdout
        )
        assert fields["url"] not in grown.before
        assert mid.encode() in page_raw(grown.archive.site, fields["url"])


def test_a_reused_message_id_keeps_the_first_message_at_its_url(grown: Grown) -> None:
    first_mid = re.findall(rb"^Message-ID: <([^>]+)>", grown.synthetic, re.MULTILINE)[-1].decode()
    fields = json.loads(
        ok(
            "show",
            "--archive",
            grown.archive.root,
            "--list",
            "linux-man",
            "--json",
            "--",
            first_mid,
        ).stdout
    )
    assert fields["number"] == 1
    assert fields["url"] in grown.before
    (other,) = fields["others"]
    assert other["url"] not in grown.before
    assert b"(reused Message-ID)" in page_raw(grown.archive.site, other["url"])


def test_linux_man_has_one_message_id_shared_by_two_different_messages(
    list_files: Callable[[str], ListFile],
) -> None:
    shared = list_files("linux-man").shared_mids
    assert [len(raws) for raws in shared.values()] == [2], sorted(shared)


def test_both_messages_sharing_a_message_id_are_stored_and_reachable(
    grown: Grown, list_files: Callable[[str], ListFile]
) -> None:
    ((mid, raws),) = list_files("linux-man").shared_mids.items()
    fields = json.loads(
        ok(
            "show", "--archive", grown.archive.root, "--list", "linux-man", "--json", "--", mid
        ).stdout
    )
    assert fields["message_id"] == mid
    assert len(fields["others"]) == 1, fields
    urls = [fields["url"], fields["others"][0]["url"]]
    assert urls[0] != urls[1]
    assert {page_raw(grown.archive.site, url) for url in urls} == set(raws)


# -- last: re-importing (it writes to the shared archives) -------------------------------------


def test_importing_the_same_list_file_again_adds_nothing(archive_of: Archive) -> None:
    before = archive_of.stats()
    again = ok(
        "import", "--archive", archive_of.root, "--list", archive_of.name, archive_of.source.xz
    )
    assert "imported 0 new" in again.stdout
    assert summary_counts(again) == (0, archive_of.source.count, 0)
    after = archive_of.stats()
    assert after["messages"] == before["messages"]
    assert after["duplicates"] == before["duplicates"] + archive_of.source.count
