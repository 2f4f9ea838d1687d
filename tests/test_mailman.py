"""The Mailman 3 archiver (piperarc.mailman) against the real `mailman` package: it is an
IArchiver, it archives a message Mailman built, and its permalink is where the message is."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import pytest

from piperarc import config as configlib
from piperarc.store import open_store
from tests.conftest import IN_CI, Run

if importlib.util.find_spec("mailman") is None:
    if IN_CI:
        pytest.fail("CI needs Mailman 3: pip install -e '.[test,mailman]'", pytrace=False)
    pytest.skip("Mailman 3 is not installed (pip install -e '.[mailman]')", allow_module_level=True)

from mailman.email.message import Message
from mailman.interfaces.archiver import ArchivePolicy, IArchiver
from zope.interface.verify import verifyObject

from piperarc.ingest.mailman import SPOOL
from piperarc.mailman import Archiver  # the name Mailman's configuration gives

BASE = "https://lists.example.org/archive/"


@dataclass
class MailingList:
    """The attributes of Mailman's IMailingList the archiver reads."""

    list_name: str = "salon"
    mail_host: str = "example.org"
    list_id: str = "salon.example.org"
    archive_policy: ArchivePolicy = ArchivePolicy.public

    @property
    def fqdn_listname(self) -> str:
        return f"{self.list_name}@{self.mail_host}"

    @property
    def posting_address(self) -> str:
        return self.fqdn_listname


def _message(mid: str, body: str = "Hello from Mailman.") -> Message:
    msg = Message()
    msg["From"] = "Ada <ada@example.org>"
    msg["To"] = "salon@example.org"
    msg["Subject"] = "Analytical engines"
    msg["Message-ID"] = f"<{mid}>"
    msg["Date"] = "Mon, 15 Jan 2024 10:00:00 +0000"
    msg.set_payload(body)
    return msg


@pytest.fixture
def archiver(archive: Path, tmp_path: Path) -> Archiver:
    settings = tmp_path / "piperarc-mailman.cfg"
    settings.write_text(f"[general]\narchive: {archive}\nbase_url: {BASE}\n", encoding="utf-8")
    return Archiver(str(settings))


def test_the_archiver_provides_mailmans_iarchiver(archiver: Archiver) -> None:
    assert verifyObject(IArchiver, archiver)
    assert archiver.name == "piperarc"


def test_the_list_url_is_the_lists_home_in_the_archive(archiver: Archiver) -> None:
    assert archiver.list_url(MailingList()) == BASE + "salon/index.html"


def test_archive_message_stores_a_message_mailman_built(archiver: Archiver, archive: Path) -> None:
    url = archiver.archive_message(MailingList(), _message("mm1@example.org"))
    store = open_store(configlib.load(archive).database, readonly=True)
    try:
        (stored,) = store.messages_by_mid("salon", "mm1@example.org")
        assert "Hello from Mailman." in stored.body_text
    finally:
        store.close()
    assert url == BASE + f"salon/m/{stored.key}.html"


def test_the_permalink_is_the_url_the_message_then_has(archiver: Archiver) -> None:
    msg = _message("mm2@example.org")
    before = archiver.permalink(MailingList(), msg)
    assert archiver.archive_message(MailingList(), msg) == before
    assert archiver.permalink(MailingList(), msg) == before


def test_a_second_message_with_the_same_message_id_gets_the_permalink_it_is_given(
    archiver: Archiver,
) -> None:
    archiver.archive_message(MailingList(), _message("twin@example.org", "first"))
    other = _message("twin@example.org", "second, different")
    predicted = archiver.permalink(MailingList(), other)
    assert archiver.archive_message(MailingList(), other) == predicted
    assert predicted.endswith("-2.html")


def test_archived_mail_appears_in_the_built_site(
    run: Run, archive: Path, archiver: Archiver
) -> None:
    archiver.archive_message(MailingList(), _message("mm3@example.org"))
    assert run("build", "--archive", archive, "--no-search-index", "--jobs", "1").exit_code == 0
    url = archiver.archive_message(MailingList(), _message("mm4@example.org", "Built live."))
    page = archive / "site" / url.removeprefix(BASE)
    assert "Built live." in page.read_text(encoding="utf-8")


# The transient failure is made on the SQLite file: this one runs on SQLite only.
@pytest.mark.parametrize("db_args", [()], ids=["sqlite"])
def test_a_message_the_archive_cannot_take_now_is_spooled_and_stored_later(
    archiver: Archiver, archive: Path
) -> None:
    database = archive / "archive.sqlite3"
    database.rename(archive / "away")
    database.mkdir()  # the database cannot be opened: a transient failure
    archiver.archive_message(MailingList(), _message("spooled@example.org"))
    assert len(list((archive / SPOOL / "salon" / "new").iterdir())) == 1
    database.rmdir()
    (archive / "away").rename(database)
    archiver.archive_message(MailingList(), _message("after@example.org"))
    store = open_store(database, readonly=True)
    try:
        assert store.messages_by_mid("salon", "spooled@example.org")
        assert store.messages_by_mid("salon", "after@example.org")
    finally:
        store.close()
    assert not list((archive / SPOOL / "salon" / "new").iterdir())


def test_a_mailman_list_the_archive_does_not_have_is_an_error(archiver: Archiver) -> None:
    from piperarc.errors import UnknownListError

    with pytest.raises(UnknownListError):
        archiver.archive_message(MailingList(list_name="other"), _message("x@example.org"))


def test_a_list_mailman_keeps_private_is_not_published_while_piperarc_has_it_public(
    archiver: Archiver, archive: Path, tmp_path: Path
) -> None:
    private = MailingList(archive_policy=ArchivePolicy.private)
    archiver.archive_message(private, _message("secret@example.org"))
    assert len(list((archive / SPOOL / "salon" / "new").iterdir())) == 1
    store = open_store(configlib.load(archive).database, readonly=True)
    try:
        assert "salon" not in store.list_names() or not store.messages_by_mid(
            "salon", "secret@example.org"
        )
    finally:
        store.close()


def test_held_mail_is_archived_once_the_list_is_made_private(
    archiver: Archiver, archive: Path, tmp_path: Path
) -> None:
    private = MailingList(archive_policy=ArchivePolicy.private)
    archiver.archive_message(private, _message("held@example.org"))
    toml = archive / configlib.CONFIG_NAME
    toml.write_text(toml.read_text().replace('name = "salon"', 'name = "salon"\nprivate = true'))
    settings = tmp_path / "piperarc-mailman.cfg"
    Archiver(str(settings)).archive_message(private, _message("next@example.org"))
    store = open_store(configlib.load(archive).database, readonly=True)
    try:
        assert store.messages_by_mid("salon", "held@example.org")
        assert store.messages_by_mid("salon", "next@example.org")
    finally:
        store.close()
