"""parse.py: raw bytes in, fields out; bad mail never raises."""

from __future__ import annotations

from pathlib import Path

import pytest

from piperarc.ingest.sources import mbox
from piperarc.mail import parse
from piperarc.mail.subjects import subject_base
from tests.conftest import corpus_path

MAIL = Path(__file__).parent / "mail"
DIGEST = "0" * 64


def test_encoded_words_in_from_and_subject_are_decoded() -> None:
    msg = parse.parse((MAIL / "encoded-subject.eml").read_bytes(), DIGEST)
    assert msg.from_name == "José Núñez"
    assert msg.subject == "[salon] Re: AW: Réunion à Paris"


def test_subject_base_drops_the_list_tag_and_reply_prefixes() -> None:
    assert subject_base("[salon] Re: AW: Fwd: RE[2]: Réunion à Paris") == "réunion à paris"


def test_date_is_kept_in_utc_with_the_senders_offset() -> None:
    msg = parse.parse((MAIL / "encoded-subject.eml").read_bytes(), DIGEST)
    assert msg.date_utc == 1704324600  # 2024-01-03 23:30 UTC
    assert msg.tz_offset == -300


def test_quoted_printable_latin1_body_is_decoded() -> None:
    msg = parse.parse((MAIL / "encoded-subject.eml").read_bytes(), DIGEST)
    assert msg.body_text.strip() == "Café crème."


def test_references_then_in_reply_to_give_the_ancestors() -> None:
    msg = parse.parse((MAIL / "encoded-subject.eml").read_bytes(), DIGEST)
    assert msg.references == ("grand@example.org", "root@example.org")
    assert msg.in_reply_to == "root@example.org"


def test_a_message_without_message_id_gets_one_derived_from_its_content() -> None:
    raw = (MAIL / "no-message-id.eml").read_bytes()
    first = parse.parse(raw, "ab" * 32)
    again = parse.parse(raw, "ab" * 32)
    assert first.mid_synthetic
    assert first.mid == again.mid == "abababababababababababababababab@piperarc.invalid"


def test_text_that_is_not_mail_is_damaged_and_kept_as_its_text() -> None:
    raw = b"diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n"
    msg = parse.parse(raw, DIGEST)
    assert msg.damage is not None and "not an email" in msg.damage
    assert "+++ b/x" in msg.body_text


@pytest.mark.parametrize("date", ["Mon, 31 Feb 99999 25:61:00 +9999", "yesterday", ""])
def test_impossible_dates_are_unusable_not_errors(date: str) -> None:
    raw = f"From: a@b\nDate: {date}\nSubject: x\n\nbody\n".encode()
    assert parse.parse(raw, DIGEST).date_utc is None


def test_an_envelope_date_stands_in_for_a_missing_date() -> None:
    raw = b"From: a@b\nSubject: x\n\nbody\n"
    msg = parse.parse(raw, DIGEST, "From a@b Tue Jan  2 10:00:00 2024")
    assert msg.date_utc == 1704189600


def test_unknown_charset_falls_back_to_detection() -> None:
    raw = (
        "From: a@b\nSubject: x\nContent-Type: text/plain; charset=x-unheard-of\n\nGrüße aus Köln\n"
    ).encode()
    assert "Grüße aus Köln" in parse.parse(raw, DIGEST).body_text


def test_raw_utf8_in_headers_is_read_as_utf8() -> None:
    raw = "From: Zoë <z@b>\nSubject: naïve café\n\nx\n".encode()
    msg = parse.parse(raw, DIGEST)
    assert (msg.from_name, msg.subject) == ("Zoë", "naïve café")


def test_attachments_are_listed_with_name_and_type() -> None:
    raw = (
        b'From: a@b\nSubject: x\nContent-Type: multipart/mixed; boundary="B"\n\n--B\n'
        b"Content-Type: text/plain\n\nsee attached\n--B\nContent-Type: image/png\n"
        b'Content-Disposition: attachment; filename="chart.png"\n'
        b"Content-Transfer-Encoding: base64\n\niVBORw0KGgo=\n--B--\n"
    )
    msg = parse.parse(raw, DIGEST, with_data=True)
    assert msg.body_text.strip() == "see attached"
    assert [(a.filename, a.content_type) for a in msg.attachments] == [("chart.png", "image/png")]
    assert msg.attachments[0].data == b"\x89PNG\r\n\x1a\n"


def test_html_only_mail_is_indexed_as_its_text_without_markup() -> None:
    raw = (
        b"From: a@b\nSubject: x\nContent-Type: text/html\n\n"
        b"<p>Hello <b>there</b></p><script>alert(1)</script>"
    )
    msg = parse.parse(raw, DIGEST)
    assert msg.html_only
    assert "Hello there" in msg.body_text and "alert" not in msg.body_text


@pytest.mark.corpus
def test_the_fast_path_reads_every_linux_man_message_as_the_stdlib_path_does() -> None:
    path = corpus_path("lists", "linux-man-10k.mbox.xz")
    differ = []
    for mail in mbox.read_messages(path):
        fast = parse.parse(mail.raw, DIGEST, mail.envelope)
        slow = parse.parse(mail.raw, DIGEST, mail.envelope, fast=False)
        if fast != slow:
            differ.append(mail.origin)
    assert differ == []


def test_a_malformed_base64_encoded_word_is_read_not_raised() -> None:
    # Found by bench/fuzz_render.py: email.header lets HeaderParseError out of this Subject.
    raw = b"From: a@example.org\nSubject: =?UTF-8?B?abcde?=\nMessage-ID: <b@x.org>\n\nhello\n"
    parsed = parse.parse(raw, "d" * 64)
    assert parsed.mid == "b@x.org"
    assert "hello" in parsed.body_text


def test_a_charset_naming_a_bytes_codec_falls_back_to_detection() -> None:
    # "uu" is a codec Python knows, but not a text encoding: decode() raises LookupError.
    raw = b"Content-Type: text/plain; charset=uu\nMessage-ID: <c@x.org>\n\nhello\n"
    assert parse.parse(raw, "d" * 64).body_text.strip() == "hello"


def _dated(date: str) -> bytes:
    return f"From: a@b\nDate: {date}\nSubject: x\n\nbody\n".encode()


@pytest.mark.parametrize(
    ("date", "offset"),
    [("Mon, 01 Jan 2024 00:00:00 -2400", -24 * 60), ("Mon, 01 Jan 2024 00:00:00 +9959", 5999)],
)
def test_an_impossible_offset_is_kept_as_written_not_dropped(date: str, offset: int) -> None:
    msg = parse.parse(_dated(date), DIGEST)
    assert msg.date_source == "date"
    assert msg.tz_offset == offset
    assert msg.date_utc == 1704067200 - offset * 60  # the written local time less the offset


@pytest.mark.parametrize("year", ["0001", "0999", "9999", "99999"])
def test_a_four_or_more_digit_year_is_that_year_so_out_of_range_ones_are_unusable(
    year: str,
) -> None:
    msg = parse.parse(_dated(f"Mon, 01 Jan {year} 00:00:00 +0000"), DIGEST)
    assert msg.date_utc is None  # not 2001, not 1999: the envelope or archiving time stands in
    assert msg.date_source == "none"


def test_a_two_digit_year_is_still_read_as_rfc_5322_says() -> None:
    assert parse.parse(_dated("Thu, 3 Dec 98 10:00:00 -0800"), DIGEST).date_utc == 912708000


@pytest.mark.parametrize(
    ("header", "name", "address"),
    [
        ("carmstro at dynup.net (Chris Armstrong)", "Chris Armstrong", "carmstro@dynup.net"),
        ("Jane <jane at example.org>", "Jane", "jane@example.org"),
        ("Jane <jane@example.org>", "Jane", "jane@example.org"),
    ],
)
def test_an_address_written_at_as_pipermails_text_archives_do_is_read_back(
    header: str, name: str, address: str
) -> None:
    parsed = parse.parse(f"From: {header}\nSubject: x\n\nbody\n".encode(), "d", None)
    assert (parsed.from_name, parsed.from_addr) == (name, address)
