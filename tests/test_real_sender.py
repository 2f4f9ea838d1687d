"""A sender the list rewrote ("Jane via USRP-users <usrp-users@…>", Mailman's DMARC
mitigation) is archived as the person who wrote; the header stays as it came; and the
text of HTML mail beside which a list put its footer is the message's text."""

from __future__ import annotations

from pathlib import Path

import pytest

from piperarc import config as configlib
from piperarc.mail import parse
from piperarc.store import FieldUpdate, open_store
from tests.conftest import Run, cli, corpus_path


def _mail(headers: str, body: str = "Hello.\n") -> bytes:
    return (
        "Message-ID: <a@example.org>\nDate: Mon, 1 Jan 2024 10:00:00 +0000\n"
        f"Subject: test\n{headers}\n\n{body}"
    ).encode()


def test_a_sender_rewritten_by_the_list_is_read_from_reply_to() -> None:
    parsed = parse.parse(
        _mail(
            "From: Jane Doe via USRP-users <usrp-users@lists.ettus.com>\n"
            "Reply-To: Jane Doe <jane@example.org>"
        ),
        "d",
    )
    assert (parsed.from_name, parsed.from_addr) == ("Jane Doe", "jane@example.org")


def test_x_original_from_comes_before_reply_to() -> None:
    parsed = parse.parse(
        _mail(
            "From: Jane Doe via Salon <salon@example.org>\n"
            "X-Original-From: Jane Doe <jane@example.org>\n"
            "Reply-To: salon@example.org"
        ),
        "d",
    )
    assert parsed.from_addr == "jane@example.org"


def test_a_rewritten_sender_without_an_address_keeps_the_name() -> None:
    parsed = parse.parse(_mail("From: Jane Doe via Salon <salon@example.org>"), "d")
    assert (parsed.from_name, parsed.from_addr) == ("Jane Doe", "salon@example.org")


def test_via_in_a_name_that_is_not_the_lists_is_left_alone() -> None:
    parsed = parse.parse(
        _mail("From: Travel via Rome <bookings@example.org>\nReply-To: x@example.org"), "d"
    )
    assert (parsed.from_name, parsed.from_addr) == ("Travel via Rome", "bookings@example.org")


def test_html_mail_with_the_lists_footer_as_a_text_part_is_searchable_as_html() -> None:
    raw = _mail(
        'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b"',
        "--b\nContent-Type: text/html\n\n<p>The overflow happens at 200 MS/s.</p>\n"
        "--b\nContent-Type: text/plain\n\n_______________________________________________\n"
        "Salon mailing list\nsalon@example.org\n--b--\n",
    )
    parsed = parse.parse(raw, "d")
    assert "The overflow happens" in parsed.body_text
    assert "Salon mailing list" in parsed.body_text


@pytest.mark.corpus
def test_usrp_users_senders_are_the_people_who_wrote(run: Run, tmp_path: Path) -> None:
    path = corpus_path("lists", "usrp-users-3k.mbox.xz")
    root = tmp_path / "archive"
    cli("init", root, "--list", "usrp")
    cli("import", "--archive", root, "--list", "usrp", path)
    store = open_store(configlib.load(root).database, readonly=True)
    summaries = store.summaries("usrp")
    store.close()
    assert len(summaries) == 2991
    rewritten = [s for s in summaries if s.from_addr == "usrp-users@lists.ettus.com"]
    assert len(rewritten) <= 1  # one has no address of its own anywhere
    assert not [s for s in summaries if " via " in s.from_name]
    assert len({s.from_addr.lower() for s in summaries}) > 350


def test_reindex_restores_senders_archived_before(run: Run, tmp_path: Path) -> None:
    """An archive made before the rewriting was read: `reindex` stores the real senders."""
    root = tmp_path / "archive"
    cli("init", root, "--list", "salon")
    one = tmp_path / "one.eml"
    one.write_bytes(
        _mail("From: Jane Doe via Salon <salon@example.org>\nReply-To: Jane Doe <jane@example.org>")
    )
    cli("import", "--archive", root, "--list", "salon", one)
    store = open_store(configlib.load(root).database)
    # As an older parser stored it.
    store.refresh_fields("salon", [FieldUpdate(1, "Jane Doe via Salon", "salon@example.org", "")])
    store.close()
    out = run("reindex", "--archive", root)
    assert "1 with sender or text made anew" in out.output
    store = open_store(configlib.load(root).database, readonly=True)
    (summary,) = store.summaries("salon")
    store.close()
    assert (summary.from_name, summary.from_addr) == ("Jane Doe", "jane@example.org")
    assert "made anew" not in run("reindex", "--archive", root).output
