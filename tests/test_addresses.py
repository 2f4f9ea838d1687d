"""Address obfuscation in every place an address can appear: one test per place, each with a
real message, in the list's mode ("at" as Pipermail did, or "hide"); never in raw downloads.
"""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from pathlib import Path

from piperarc import feeds, search
from piperarc.model import MARK_END, MARK_START, SearchHit
from piperarc.pages import ListPlan
from piperarc.web.api import Documents
from tests.conftest import cli
from tests.test_render_mail import SALON, body, mail, page, stored

HIDE = dataclasses.replace(SALON, obfuscate="hide")
FORWARDED = "forwarded-encoded-words.eml"
ADDRESSED = (
    b"From: jane@example.net\nTo: list@example.org\nSubject: ask bob@example.com\n"
    b"Date: Mon, 3 Jan 2005 10:00:00 +0000\nMessage-ID: <addr@example.org>\n\n"
    b"On Monday, Bob <bob@example.com> wrote:\n> write to carol@example.org\n"
    b"Mail me at jane@example.net.\n"
)


def test_the_from_header_of_a_page_hides_an_address_without_a_name() -> None:
    article = str(page(ADDRESSED, HIDE).article)
    assert "<dt>From</dt><dd>jane@…</dd>" in article


def test_the_subject_of_a_page_is_obfuscated() -> None:
    article = str(page(ADDRESSED).article)
    assert "ask bob at example.com</h1>" in article


def test_addresses_in_the_body_are_obfuscated() -> None:
    html = body(page(ADDRESSED))
    assert "Mail me at jane at example.net." in html


def test_addresses_in_quoted_text_and_its_attribution_are_obfuscated() -> None:
    html = body(page(ADDRESSED, HIDE))
    assert "Bob &lt;bob@…&gt; wrote:" in html and "write to carol@…" in html


def test_a_page_in_hide_mode_shows_no_address_anywhere() -> None:
    for raw in (ADDRESSED, mail(FORWARDED)):
        assert "@example." not in page(raw, HIDE).html


def test_addresses_in_mail_html_are_obfuscated_and_mailto_links_dropped() -> None:
    html = body(page(mail("usrp-inline-image.eml")))
    assert "louisadrien.dufrene at orange.com" in html
    assert "louisadrien.dufrene@orange.com" not in html and 'href="mailto:' not in html


def test_the_headers_and_text_of_a_forwarded_message_are_obfuscated() -> None:
    html = body(page(mail(FORWARDED)))
    assert "<dt>From</dt><dd>Jürgen Müller &lt;juergen at example.de&gt;</dd>" in html
    assert "write to juergen at example.de." in html


def test_feed_entries_obfuscate_the_subject_author_and_text() -> None:
    msg = stored(ADDRESSED)
    feed = feeds.list_feed(SALON, "messages")
    entry = ET.fromstring(feeds.atom(feed, SALON, [msg])).find("{http://www.w3.org/2005/Atom}entry")
    assert entry is not None
    text = ET.tostring(entry, encoding="unicode")
    assert "@example." not in text
    assert "ask bob at example.com" in text and "jane at example.net" in text


def test_the_json_api_obfuscates_the_subject_sender_and_text() -> None:
    msg = stored(ADDRESSED)
    doc = Documents("/").message(SALON, ListPlan([], SALON.period), msg, ())
    assert (doc["subject"], doc["from"]) == ("ask bob at example.com", "jane at example.net")
    # The Message-ID stays: it is an identifier to look the message up by, not an address.
    assert "@example." not in str({k: v for k, v in doc.items() if k != "message_id"})


def test_search_snippets_obfuscate_addresses_even_where_they_matched() -> None:
    snippet = f"write to {MARK_START}carol{MARK_END}@example.org now"
    assert search.snippet_html(snippet, "hide") == "write to carol@… now"


def test_the_raw_download_of_a_hiding_list_is_the_message_byte_for_byte(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    source = tmp_path / "addressed.eml"
    source.write_bytes(ADDRESSED)
    assert cli("init", root, "--list", "salon", "--obfuscate", "hide").exit_code == 0
    assert cli("import", "--archive", root, "--list", "salon", source).exit_code == 0
    assert cli("build", "--archive", root).exit_code == 0
    (original,) = (root / "site" / "salon" / "m").glob("*.eml")
    assert original.read_bytes() == ADDRESSED
    (article,) = (root / "site" / "salon" / "m").glob("*.html")
    assert "@example." not in article.read_text(encoding="utf-8")


def test_search_hits_obfuscate_the_subject_and_sender() -> None:
    hit = SearchHit(
        "salon", 1, "k", "addr@example.org", "ask bob@example.com", "", "jane@example.net", 0, 0, ""
    )
    doc = search.hit_json(hit, "at")
    assert (doc["subject"], doc["from"]) == ("ask bob at example.com", "jane at example.net")
