"""Reading a Hypermail output folder: the real output of Hypermail 3.0 for the first 1,000
messages of linux-man, checked against those messages themselves."""

from __future__ import annotations

import email
import email.policy
import re
import shutil
import tarfile
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest

from piperarc.errors import SourceError
from piperarc.ingest.oldarchive import hypermail
from piperarc.ingest.oldarchive.found import OldArchive, OldMessagePage
from tests.conftest import corpus_path
from tests.test_oldarchive_mhonarc import first_messages

MESSAGES = 1000


@pytest.fixture(scope="module")
def originals() -> dict[str, EmailMessage]:
    return first_messages(corpus_path("lists", "linux-man-10k.mbox.xz"), MESSAGES)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hypermail")
    with tarfile.open(corpus_path("old-archives", "hypermail-linux-man-1000.tar.xz")) as tar:
        tar.extractall(root, filter="data")
    return root / "hypermail"


@pytest.fixture(scope="module")
def archive(folder: Path) -> OldArchive:
    return hypermail.read(folder)


@pytest.fixture
def copy(folder: Path, tmp_path: Path) -> Path:
    """A copy of the folder a test may spoil."""
    return Path(shutil.copytree(folder, tmp_path / "hypermail"))


def _page(archive: OldArchive, path: str) -> OldMessagePage:
    return next(page for page in archive.messages if page.path == path)


def test_every_message_page_carries_the_message_id_of_its_mbox_message(
    archive: OldArchive, originals: dict[str, EmailMessage]
) -> None:
    assert len(archive.messages) == MESSAGES
    assert all(page.how == "page-comment" for page in archive.messages)
    assert {page.mid for page in archive.messages} == set(originals)
    assert archive.problems == []


def test_ids_with_a_double_dash_hypermail_wrote_as_ndash_are_read_back(
    archive: OldArchive, originals: dict[str, EmailMessage]
) -> None:
    # <!-- id="CAHk&ndash;=whJ3...G&ndash;&ndash;jkAfP5w_at_mail.gmail.com" -->: every "-"
    # of an id holding "--" is "&ndash;"; six of the 1,000 ids are so.
    mid = "<CAHk-=whJ3kmcZp=Ws+uXnRB9KokG6nXSQCSuBnerG--jkAfP5w@mail.gmail.com>"
    assert mid in originals
    assert _page(archive, "0349.html").mid == "<20190918211503.GA1808@darwi-home-pc>"
    assert mid in {page.mid for page in archive.messages}
    assert sum("--" in (page.mid or "") for page in archive.messages) == 6


def test_the_at_hypermail_replaced_is_the_last_at_before_any_at_left() -> None:
    assert hypermail.restore_at("123.GA1808_at_darwi-home-pc") == "123.GA1808@darwi-home-pc"
    # An id holding "_at_" itself: its left part is where that is likelier.
    assert hypermail.restore_at("look_at_me_at_example.org") == "look_at_me@example.org"
    # Only the first "@" was replaced: a second one is still there.
    assert hypermail.restore_at("a_at_b@c") == "a@b@c"
    assert hypermail.restore_at("no-at-sign") == "no-at-sign"


def test_pages_are_numbered_as_their_files(archive: OldArchive) -> None:
    assert [page.number for page in archive.messages] == list(range(MESSAGES))
    assert archive.messages[42].path == "0042.html"
    assert all(page.volume is None for page in archive.messages)


def test_subject_is_the_messages_own_as_hypermail_showed_it(
    archive: OldArchive, originals: dict[str, EmailMessage]
) -> None:
    same = 0
    for page in archive.messages:
        assert page.mid is not None
        same += page.subject == " ".join(str(originals[page.mid]["Subject"] or "").split())
    # The others: Hypermail's "(no subject)" (9), two subjects it garbled ("Узн??йте").
    assert same == MESSAGES - 11
    assert _page(archive, "0128.html").subject == "(no subject)"
    # "please add linux-man_at_vger.kernel.org list": the address is put back.
    assert _page(archive, "0208.html").subject.startswith("please add linux-man@vger.kernel.org")


def test_author_is_the_name_or_else_the_address_of_the_sender(
    archive: OldArchive, originals: dict[str, EmailMessage]
) -> None:
    assert _page(archive, "0349.html").author == "Ahmed S. Darwish"
    assert _page(archive, "0050.html").author == "linux-man@vger.kernel.org"  # no name
    # The name comment kept in the message's ISO-2022-JP inside a UTF-8 page.
    assert _page(archive, "0922.html").author == "堀口 直也"
    names = 0
    for page in archive.messages:
        assert page.mid is not None
        sender = originals[page.mid]["From"].addresses[0]
        names += page.author in {" ".join(sender.display_name.split()), sender.addr_spec}
    assert names >= 975


def test_date_is_the_messages_date_header(
    archive: OldArchive, originals: dict[str, EmailMessage]
) -> None:
    for page in archive.messages:
        assert page.mid is not None
        sent = parsedate_to_datetime(str(originals[page.mid]["Date"]))
        assert page.date == int(sent.timestamp())


def test_index_pages_are_all_home_pages(archive: OldArchive) -> None:
    assert sorted((page.path, page.kind, page.volume) for page in archive.pages) == [
        (name, "home", None)
        for name in ("attachment.html", "author.html", "date.html", "index.html", "subject.html")
    ]
    assert archive.sources == []


def test_every_attachment_hypermail_saved_is_listed_on_its_page(
    archive: OldArchive, folder: Path
) -> None:
    saved = {path.relative_to(folder).as_posix() for path in folder.glob("att-*/*")}
    listed = [name for page in archive.messages for name in page.attachments]
    assert len(saved) == 62
    assert sorted(listed) == sorted(saved)
    assert _page(archive, "0028.html").attachments == ("att-0028/test-write.c",)


def test_recovered_messages_parse_and_carry_their_pages_message_id(archive: OldArchive) -> None:
    count = 0
    for page, raw in hypermail.page_messages(archive):
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        assert msg["Message-ID"] == page.mid
        assert msg["X-Piperarc-Recovered-From"] == f"hypermail page {page.path}"
        assert msg.get_content_type() == "text/plain"
        assert not msg.defects
        count += 1
    assert count == MESSAGES


def test_a_recovered_message_shows_the_original_headers_and_text(
    archive: OldArchive, originals: dict[str, EmailMessage]
) -> None:
    page, raw = next(item for item in hypermail.page_messages(archive) if item[0].number == 349)
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    original = originals["<20190918211503.GA1808@darwi-home-pc>"]
    assert page.mid == original["Message-ID"]
    assert str(msg["From"]) == '"Ahmed S. Darwish" <darwish.07@gmail.com>'
    assert msg["Subject"] == " ".join(str(original["Subject"]).split())
    assert msg["Date"].datetime == original["Date"].datetime
    assert msg["In-Reply-To"] == original["In-Reply-To"]
    text = msg.get_content()
    assert "Interestingly though, on my current system, the triggered WARN()\n" in text
    # The headers Hypermail shows inside its body markers are not the text.
    assert "Received on" not in text and not text.startswith("From")


def test_recovered_message_bodies_hold_lines_of_the_original_text(
    archive: OldArchive, originals: dict[str, EmailMessage]
) -> None:
    without = []
    for page, raw in hypermail.page_messages(archive):
        assert page.mid is not None
        plain = originals[page.mid].get_body(("plain",))
        try:
            lines = [] if plain is None else str(plain.get_content()).split("\n")
        except LookupError:  # windows-874: a charset Python does not know
            lines = []
        long_lines = [line.strip() for line in lines if len(line.strip()) > 20]
        body = email.message_from_bytes(raw, policy=email.policy.default).get_content()
        if long_lines and not any(line in body for line in long_lines):
            without.append(page.path)
    # Each of these has its only long lines with an address: Hypermail showed it "_at_"
    # (0547 it showed empty).
    assert without == [f"{n:04d}.html" for n in (130, 133, 547, 572, 951, 969, 988)]


def test_recovering_the_same_page_twice_gives_the_same_bytes(archive: OldArchive) -> None:
    first = [raw for _page, raw in hypermail.page_messages(archive)]
    again = [raw for _page, raw in hypermail.page_messages(hypermail.read(archive.folder))]
    assert first == again


def test_an_empty_folder_is_refused_saying_what_was_expected(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as err:
        hypermail.read(tmp_path)
    assert "not a Hypermail output folder: it has no NNNN.html page" in str(err.value)
    assert 'expected NNNN.html pages with <!-- id="..." --> comments' in str(err.value)


def test_a_file_is_refused_as_not_a_folder(folder: Path) -> None:
    with pytest.raises(SourceError, match="it is not a folder"):
        hypermail.read(folder / "0001.html")


def test_a_garbled_page_is_one_problem_and_the_rest_are_read(copy: Path) -> None:
    (copy / "0005.html").write_bytes(b"\x00\xff\xfe garbage \x89PNG\r\n")
    archive = hypermail.read(copy)
    assert len(archive.problems) == 1
    assert archive.problems[0].startswith("0005.html: ")
    assert len(archive.messages) == MESSAGES - 1
    assert all(page.mid for page in archive.messages)


def test_a_page_without_its_id_comment_is_matched_by_what_it_shows(copy: Path) -> None:
    page = copy / "0007.html"
    page.write_bytes(re.sub(rb'<!-- id="[^\n]*\n', b"", page.read_bytes()))
    archive = hypermail.read(copy)
    shown = _page(archive, "0007.html")
    assert (shown.mid, shown.how) == (None, "shown")
    assert shown.subject and shown.author and shown.date
    assert archive.problems == ["0007.html: no id comment; to be matched by what it shows"]


def test_an_id_hypermail_made_up_for_a_message_without_one_is_not_taken(copy: Path) -> None:
    page = copy / "0007.html"
    made_up = b'<!-- id="1700000000.0000_at_hypermail.dummy" -->'
    page.write_bytes(re.sub(rb'<!-- id="[^\n]*', made_up, page.read_bytes()))
    archive = hypermail.read(copy)
    shown = _page(archive, "0007.html")
    assert (shown.mid, shown.how) == (None, "shown")
    recovered = dict(hypermail.page_messages(archive))[shown]
    assert b"Message-ID:" not in recovered
