"""Reading a MHonArc output folder: the real output of MHonArc 2.6.19 for the first 1,000
messages of linux-man, checked against those messages themselves."""

from __future__ import annotations

import email
import email.policy
import lzma
import re
import shutil
import tarfile
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest

from piperarc.errors import SourceError
from piperarc.ingest.oldarchive import hypermail, mhonarc
from piperarc.ingest.oldarchive.found import OldArchive, OldMessagePage
from tests.conftest import corpus_path

MESSAGES = 1000


def first_messages(path: Path, count: int) -> dict[str, EmailMessage]:
    """The first `count` messages of an xz mboxrd, by Message-ID (unique among them)."""
    found: dict[str, EmailMessage] = {}
    chunks: list[list[bytes]] = []
    with lzma.open(path) as mbox:
        for line in mbox:
            if line.startswith(b"From "):
                if len(chunks) == count:
                    break
                chunks.append([])
            elif chunks:
                chunks[-1].append(re.sub(rb"^>(>*From )", rb"\1", line))
    for lines in chunks:
        msg = email.message_from_bytes(b"".join(lines), policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        found[str(msg["Message-ID"]).strip()] = msg
    assert len(found) == count
    return found


@pytest.fixture(scope="module")
def originals() -> dict[str, EmailMessage]:
    return first_messages(corpus_path("lists", "linux-man-10k.mbox.xz"), MESSAGES)


def _extract(name: str, into: Path) -> Path:
    with tarfile.open(corpus_path("old-archives", name)) as tar:
        tar.extractall(into, filter="data")
    return into


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = _extract("mhonarc-linux-man-1000.tar.xz", tmp_path_factory.mktemp("mhonarc"))
    return root / "mhonarc"


@pytest.fixture(scope="module")
def archive(folder: Path) -> OldArchive:
    return mhonarc.read(folder)


@pytest.fixture
def copy(folder: Path, tmp_path: Path) -> Path:
    """A copy of the folder a test may spoil."""
    return Path(shutil.copytree(folder, tmp_path / "mhonarc"))


def _page(archive: OldArchive, path: str) -> OldMessagePage:
    return next(page for page in archive.messages if page.path == path)


def test_every_message_page_carries_the_message_id_of_its_mbox_message(
    archive: OldArchive, originals: dict[str, EmailMessage]
) -> None:
    assert len(archive.messages) == MESSAGES
    assert all(page.how == "page-comment" for page in archive.messages)
    assert {page.mid for page in archive.messages} == set(originals)
    assert archive.problems == []


def test_ids_mhonarc_escaped_in_its_comment_are_read_back(
    archive: OldArchive, originals: dict[str, EmailMessage]
) -> None:
    # MHonArc writes every "-" of an id as "&#45;" (no "--" may end its comment early).
    mid = "<CAHk-=whJ3kmcZp=Ws+uXnRB9KokG6nXSQCSuBnerG--jkAfP5w@mail.gmail.com>"
    assert mid in originals
    assert mid in {page.mid for page in archive.messages}


def test_pages_are_numbered_as_their_files(archive: OldArchive) -> None:
    assert [page.number for page in archive.messages] == list(range(MESSAGES))
    assert archive.messages[42].path == "msg00042.html"
    assert all(page.volume is None for page in archive.messages)


def test_subject_is_the_messages_own_with_encoded_words_decoded(
    archive: OldArchive, originals: dict[str, EmailMessage]
) -> None:
    for page in archive.messages:
        assert page.mid is not None
        assert page.subject == " ".join(str(originals[page.mid]["Subject"] or "").split())
    assert _page(archive, "msg00052.html").subject == "Spelling mistake in prctl(2)"


def test_author_is_the_name_the_from_r13_comment_hides(archive: OldArchive) -> None:
    # <!--X-From-R13: "[e Vnaf Sevpu Vryzhg" &#60;yvaanarNzbanpb.zp> -->
    assert mhonarc.r13("[e Vnaf Sevpu Vryzhg") == "Mr Hans Erich Helmut"
    assert mhonarc.r13("yvaanarNzbanpb.zp") == "linnane@monaco.mc"
    assert _page(archive, "msg00000.html").author == "Mr Hans Erich Helmut"
    assert _page(archive, "msg00052.html").author == "Tomas Skäre"  # =?UTF-8?B?...?=


def test_author_is_the_from_name_or_address_of_every_message(
    archive: OldArchive, originals: dict[str, EmailMessage]
) -> None:
    for page in archive.messages:
        assert page.mid is not None
        sender = originals[page.mid]["From"].addresses[0]
        # Spaces aside: "NAOYA(堀口\u3000直也)" reads as "NAOYA (堀口 直也)".
        shown = {"".join(sender.display_name.split()), sender.addr_spec}
        # "ebiederm@xmission.com (Eric W. Biederman)": the name is in a comment.
        raw = " ".join(v for k, v in originals[page.mid].raw_items() if k.lower() == "from")
        assert "".join(page.author.split()) in shown or page.author in raw


def test_date_is_the_messages_date_header_not_mhonarcs_received_date(
    archive: OldArchive, originals: dict[str, EmailMessage]
) -> None:
    # X-Date of msg00000 is "Mon, 29 Apr 2019 02:14:45 +0200 (CEST)", its first Received.
    assert _page(archive, "msg00000.html").date == 1556445777  # Sun, 28 Apr 2019 10:02:57 -0000
    for page in archive.messages:
        assert page.mid is not None
        sent = parsedate_to_datetime(str(originals[page.mid]["Date"]))
        assert page.date == int(sent.timestamp())


def test_index_pages_are_all_home_pages(archive: OldArchive) -> None:
    assert [(page.path, page.kind, page.volume) for page in archive.pages] == [
        ("maillist.html", "home", None),
        ("threads.html", "home", None),
    ]
    assert archive.sources == []


def test_every_file_mhonarc_wrote_from_a_message_is_listed_on_its_page(
    archive: OldArchive, folder: Path
) -> None:
    # .mhonarc.db is MHonArc's own database, not served.
    written = {
        path.name
        for path in folder.iterdir()
        if path.suffix != ".html" and not path.name.startswith(".")
    }
    listed = [name for page in archive.messages for name in page.attachments]
    assert len(written) == 47
    assert sorted(listed) == sorted(written)
    assert _page(archive, "msg00070.html").attachments == ("binN8HRlLnvCK.bin",)


def test_recovered_messages_parse_and_carry_their_pages_message_id(
    archive: OldArchive,
) -> None:
    count = 0
    for page, raw in mhonarc.page_messages(archive):
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        assert msg["Message-ID"] == page.mid
        assert msg["X-Piperarc-Recovered-From"] == f"mhonarc page {page.path}"
        assert msg.get_content_type() == "text/plain"
        assert not msg.defects
        count += 1
    assert count == MESSAGES


def test_a_recovered_message_shows_the_original_headers_and_text(
    archive: OldArchive, originals: dict[str, EmailMessage]
) -> None:
    page, raw = next(item for item in mhonarc.page_messages(archive) if item[0].number == 922)
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    original = originals["<20200212032139.GA31425@hori.linux.bs1.fc.nec.co.jp>"]
    assert page.mid == original["Message-ID"]
    assert msg["From"].addresses[0].addr_spec == "naoya.horiguchi@nec.com"
    assert msg["Subject"] == " ".join(str(original["Subject"]).split())
    assert msg["Date"].datetime == original["Date"].datetime
    assert msg["In-Reply-To"] == original["In-Reply-To"]
    assert msg["References"].split() == str(original["References"]).split()
    assert "The suggested change looks good to me, too.\n" in msg.get_content()


def _plain_text(msg: EmailMessage) -> str:
    plain = msg.get_body(("plain",))
    try:
        return "" if plain is None else str(plain.get_content())
    except LookupError:  # windows-874: a charset Python does not know
        return ""


def test_recovered_message_bodies_hold_lines_of_the_original_text(
    archive: OldArchive, originals: dict[str, EmailMessage]
) -> None:
    without = []
    for page, raw in mhonarc.page_messages(archive):
        assert page.mid is not None
        lines = [line.strip() for line in _plain_text(originals[page.mid]).split("\n")]
        long_lines = [line for line in lines if len(line) > 20]
        body = email.message_from_bytes(raw, policy=email.policy.default).get_content()
        if long_lines and not any(line in body for line in long_lines):
            without.append(page.path)
    # msg00814 is format=flowed: MHonArc shows its "> " quotes as quotes, without the "> ".
    assert without == ["msg00814.html"]


def test_recovering_the_same_page_twice_gives_the_same_bytes(
    archive: OldArchive,
) -> None:
    first = [raw for _page, raw in mhonarc.page_messages(archive)]
    again = [raw for _page, raw in mhonarc.page_messages(mhonarc.read(archive.folder))]
    assert first == again


def test_a_hypermail_folder_is_refused_as_not_mhonarc(tmp_path: Path) -> None:
    root = _extract("hypermail-linux-man-1000.tar.xz", tmp_path)
    with pytest.raises(SourceError, match=r"not a MHonArc output folder.*msgNNNNN\.html"):
        mhonarc.read(root / "hypermail")


def test_a_mhonarc_folder_is_refused_as_not_hypermail(folder: Path) -> None:
    with pytest.raises(SourceError, match=r"not a Hypermail output folder.*NNNN\.html") as err:
        hypermail.read(folder)
    assert err.value.path == str(folder)


def test_an_empty_folder_is_refused_saying_what_was_expected(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as err:
        mhonarc.read(tmp_path)
    assert "it has no msgNNNNN.html page" in str(err.value)
    assert "expected msgNNNNN.html pages with X-Message-Id comments" in str(err.value)


def test_a_garbled_page_is_one_problem_and_the_rest_are_read(copy: Path) -> None:
    (copy / "msg00005.html").write_bytes(b"\x00\xff\xfe garbage \x89PNG\r\n")
    archive = mhonarc.read(copy)
    assert len(archive.problems) == 1
    assert archive.problems[0].startswith("msg00005.html: ")
    assert len(archive.messages) == MESSAGES - 1
    assert all(page.mid for page in archive.messages)


def test_a_page_without_its_id_comment_is_matched_by_what_it_shows(copy: Path) -> None:
    page = copy / "msg00007.html"
    page.write_bytes(re.sub(rb"<!--X-Message-Id: [^\n]*\n", b"", page.read_bytes()))
    shown = _page(mhonarc.read(copy), "msg00007.html")
    assert (shown.mid, shown.how) == (None, "shown")
    assert shown.subject and shown.author and shown.date


def test_an_id_mhonarc_made_up_for_a_message_without_one_is_not_taken(copy: Path) -> None:
    page = copy / "msg00007.html"
    made_up = (
        b"<!--X-Message-Id: 0123456789abcdef0123456789abcdef@NO&#45;ID&#45;FOUND.mhonarc.org -->"
    )
    page.write_bytes(re.sub(rb"<!--X-Message-Id: [^\n]*", made_up, page.read_bytes()))
    archive = mhonarc.read(copy)
    shown = _page(archive, "msg00007.html")
    assert (shown.mid, shown.how) == (None, "shown")
    recovered = dict(mhonarc.page_messages(archive))[shown]
    assert b"Message-ID:" not in recovered
