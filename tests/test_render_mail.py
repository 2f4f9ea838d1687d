"""Every kind of mail on its page: each test renders one real message through Pages.message
(the static build's and the server's one entry point) and reads what a visitor would see.

Messages come from the edge corpus where it has one (../shared/corpus/edge) and from
tests/mail/ otherwise (uuencode, RFC 2231 names, windows-1252, hostile HTML: the corpus
has none).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import mailbox
import re
from html import unescape
from pathlib import Path

from piperarc.config import ListConfig
from piperarc.mail import parse, structure
from piperarc.model import StoredMessage, Summary
from piperarc.pages import ListPlan, MessagePage, Pages, attachments_of
from tests.conftest import corpus_path
from tests.storedmail import as_stored

MAIL = Path(__file__).parent / "mail"
SALON = ListConfig(name="salon", title="The Salon", obfuscate="at")
_TAGS = re.compile(r"<[^>]+>")


def stored(raw: bytes) -> StoredMessage:
    """`raw` as the store would hold it after import (message 1 of list salon)."""
    digest = hashlib.sha256(raw).hexdigest()
    p = parse.parse(raw, digest)
    return as_stored(p, raw, digest, list_name="salon", num=1, key="k" * 16)


@functools.cache
def pages() -> Pages:
    return Pages("Archive")  # compiling the templates once keeps these tests quick


def page(raw: bytes, lst: ListConfig = SALON) -> MessagePage:
    msg = stored(raw)
    summary = Summary(
        num=1,
        key=msg.key,
        mid=msg.mid,
        date_utc=msg.date_utc,
        tz_offset=msg.tz_offset,
        from_name=msg.from_name,
        from_addr=msg.from_addr,
        subject=msg.subject,
        subject_base=msg.subject_base,
        references=msg.references,
        damaged=msg.damage is not None,
        has_attachments=msg.has_attachments,
        thread_key=msg.thread_key,
    )
    return pages().message(lst, ListPlan([summary], lst.period), msg, raw)


def mail(name: str) -> bytes:
    return (MAIL / name).read_bytes()


def edge(name: str) -> bytes:
    raw = corpus_path("edge", "messages", name).read_bytes()
    return raw.split(b"\n", 1)[1] if raw.startswith(b"From ") else raw


def edge_mbox(name: str) -> bytes:
    """The first message of an edge mbox (some hold one bare message, no From_ line)."""
    path = corpus_path("edge", "mboxes", name)
    if not path.read_bytes().startswith(b"From "):
        return path.read_bytes()
    box = mailbox.mbox(path, create=False)
    try:
        return box.get_bytes(box.keys()[0], from_=False)
    finally:
        box.close()


def body(found: MessagePage) -> str:
    """The article's <div class="body">…</div> as it is in the page (HTML)."""
    article = str(found.article)
    start = article.index('<div class="body">')
    return (
        article[start : article.index('<section class="attachments"', start)]
        if ('<section class="attachments"' in article)
        else article[start : article.index('<p class="raw">', start)]
    )


def text_of(html: str) -> str:
    return unescape(_TAGS.sub("", html))


# -- 1. text ----------------------------------------------------------------------------------


def test_iso_2022_jp_text_is_decoded_by_its_declared_charset() -> None:
    shown = text_of(body(page(edge("public-inbox-iso-2202-jp.eml"))))
    assert "けいじゅ\uff20今はフリー" in shown  # a full-width at sign in the original
    assert "$B" not in shown  # no raw escape sequences left


def test_windows_1252_sent_as_iso_8859_1_shows_its_quotes_and_euro_sign() -> None:
    shown = text_of(body(page(mail("outlook-cp1252-as-latin1.eml"))))
    assert "It\u2019s \u201cquoted\u201d \u2013 and café costs 5€." in shown


def test_encoded_words_in_a_forwarded_messages_headers_are_decoded() -> None:
    html = body(page(mail("forwarded-encoded-words.eml")))
    assert "Jürgen Müller" in text_of(html)
    assert "<dt>Subject</dt><dd>Grüße</dd>" in html
    assert "=?UTF-8?" not in html


def test_an_rfc_2231_file_name_is_decoded_and_joined_from_its_sections() -> None:
    found = page(mail("rfc2231-filename.eml"))
    assert [a.filename for a in found.attachments] == ["présentation du projet.txt"]
    assert "présentation du projet.txt" in unescape(str(found.article))


def test_an_rfc_2231_charset_parameter_is_understood() -> None:
    shown = text_of(body(page(edge("cpython-msg_32.eml"))))
    assert "damage" not in shown and shown.strip()


def test_format_flowed_text_is_reflowed_into_paragraphs() -> None:
    html = body(page(edge_mbox("patchwork-data-mail-0007-cvs-format-diff.mbox")))
    assert (
        "On mips64-linux the presence of a version script was causing the MIPS_RLD_MAP dynamic"
        in text_of(html)
    )


def test_unflow_keeps_the_signature_line_and_quote_depths_apart() -> None:
    text = "one \ntwo\n> quoted \n> more\n-- \nsig\n"
    assert structure.unflow(text) == "one two\n> quoted more\n-- \nsig\n"


def test_an_inline_patch_is_shown_as_a_diff() -> None:
    html = body(page(edge("public-inbox-data-0001-patch.eml")))
    assert '<span class="add">+' in html and '<span class="hunk">@@' in html


def test_a_patch_attachment_is_shown_as_a_diff_and_kept_as_a_file() -> None:
    found = page(edge("public-inbox-plack-attached-patch.eml"))
    html = body(found)
    assert '<div class="text diff"><p class="part-name">foo&amp;.patch</p>' in html
    assert '<span class="hunk">@@ -49, 7 +49,34 @@\n</span>' in html
    assert [a.filename for a in found.attachments] == ["foo&.patch"]


def test_long_quotes_fold_under_a_details_that_needs_no_script() -> None:
    raw = (
        b"From: a@example.org\nSubject: re\n\n"
        + b"".join(b"> line %d\n" % i for i in range(8))
        + b"\nAgreed.\n"
    )
    html = body(page(raw))
    assert '<details class="quote"><summary>8 quoted lines</summary>' in html


def test_addresses_in_a_quoted_attribution_are_obfuscated() -> None:
    raw = b"From: a@example.org\nSubject: re\n\nOn Monday, Jane <jane@example.net> wrote:\n> hi\n"
    html = body(page(raw))
    assert "Jane &lt;jane at example.net&gt; wrote:" in html
    assert "jane@example.net" not in html


# -- 2. structure -----------------------------------------------------------------------------


def test_multipart_alternative_shows_the_text_and_offers_the_html() -> None:
    html = body(page(mail("usrp-inline-image.eml")))
    assert html.index('<div class="text">') < html.index('<details class="html-version">')
    assert "Power consomption" in text_of(html) or "B20" in text_of(html)


def test_an_inline_cid_image_is_shown_in_place_from_the_messages_own_attachment() -> None:
    found = page(mail("usrp-inline-image.eml"))
    (image,) = [a for a in found.attachments if a.content_id]
    src = f'src="../../salon/m/{"k" * 16}/{image.index}-{image.filename}"'
    assert src in body(found)
    assert "cid:" not in body(found)


def test_html_only_mail_is_shown_as_sanitized_html() -> None:
    html = body(page(mail("html-only.eml")))
    assert '<div class="html">' in html and "<b>meeting</b>" in html
    assert "<style" not in html and "color: red" not in html


def test_remote_images_are_not_loaded_but_offered_as_a_link() -> None:
    html = body(page(mail("html-only.eml")))
    assert "<img" not in html
    assert 'class="remote-image" href="https://tracker.example.com/open.gif?id=42"' in html


def test_a_forwarded_message_is_shown_nested_with_its_own_headers() -> None:
    html = body(page(edge("public-inbox-data-message_embed.eml")))
    assert html.count('<section class="nested"') == 2
    assert html.count("</section>") == 2


def test_a_uuencoded_block_becomes_an_attachment_and_leaves_the_text() -> None:
    raw = mail("uuencoded.eml")
    found = page(raw)
    assert [(a.filename, a.data) for a in found.attachments] == [
        ("notes.txt", b"hello from 1994\n" * 3)
    ]
    assert attachments_of(stored(raw), raw) == found.attachments  # served as linked
    html = body(found)
    shown = text_of(html)
    assert "Here it is" in shown and "Cheers." in shown and "begin 644" not in shown
    assert 'uuencoded file: <a href="../../salon/m/' in html


def test_signed_mail_shows_its_text_and_lists_the_signature() -> None:
    html = body(page(edge("cpython-msg_45.eml")))
    assert '<p class="signed">Signed (OpenPGP)' in html and "signature.asc" in html
    assert '<div class="text">' in html


def test_an_image_larger_than_the_lists_inline_limit_is_linked_not_drawn() -> None:
    raw = edge("cpython-msg_07.eml")
    assert '<figure class="image">' in body(page(raw))
    small = dataclasses.replace(SALON, inline_limit=100)
    html = body(page(raw, small))
    assert '<figure class="image">' not in html and '<p class="image-link">' in html


def test_attachments_keep_the_numbers_the_import_gave_them() -> None:
    for raw in (mail("usrp-inline-image.eml"), edge("cpython-msg_22.eml")):
        parsed = parse.parse(raw, "x", with_data=True).attachments
        assert [(a.index, a.filename) for a in page(raw).attachments] == [
            (a.index, a.filename) for a in parsed
        ]


# -- 3. the sanitizer -------------------------------------------------------------------------


def test_hostile_html_loses_its_scripts_handlers_and_dangerous_urls() -> None:
    html = body(page(mail("hostile-html.eml")))
    for gone in (
        "<script",
        "alert(",
        "onerror",
        "onclick",
        "onload",
        "javascript:",
        "data:",
        "<form",
        "<input",
        "<iframe",
        "<base",
        "<meta",
        "style=",
        "url(",
        "<svg",
        "<object",
        "target=",
        "evil.example",
    ):
        assert gone not in html.lower(), gone


def test_links_in_mail_html_carry_nofollow_noopener_noreferrer() -> None:
    html = body(page(mail("hostile-html.eml")))
    assert '<a href="https://example.org/" rel="nofollow noopener noreferrer">fine link</a>' in html


# -- 5. damage --------------------------------------------------------------------------------


def test_a_part_that_cannot_be_decoded_is_shown_raw_with_a_note_and_the_rest_renders() -> None:
    found = page(mail("damaged-base64-part.eml"))
    html = body(found)
    assert "This part is fine." in html
    assert '<p class="part-damage" role="note">' in html
    assert "VGhpcyBwYXJ0IGlz!!!IGJyb2tlbg=" in html
    assert "1 part of this message could not be read properly" in str(found.article)


def test_every_edge_message_renders_through_pages_message() -> None:
    count = 0
    for path in sorted(corpus_path("edge", "messages").glob("*.eml")):
        raw = path.read_bytes()
        raw = raw.split(b"\n", 1)[1] if raw.startswith(b"From ") else raw
        assert '<div class="body">' in str(page(raw).article), path.name
        count += 1
    for path in sorted(corpus_path("edge", "mboxes").glob("*.mbox")):
        box = mailbox.mbox(path, create=False)
        try:
            for key in box.iterkeys():
                raw = box.get_bytes(key, from_=False)
                assert '<div class="body">' in str(page(raw).article), path.name
                count += 1
        finally:
            box.close()
    assert count >= 200


def test_a_single_flowed_part_is_reflowed_on_the_fast_path_too() -> None:
    raw = (
        b"From: a@example.org\r\nSubject: flowed\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=utf-8;\r\n format=flowed; delsp=yes\r\n\r\n"
        b"one long para \r\ngraph here\r\n\r\nnext\r\n"
    )
    assert structure.simple_text(raw)
    assert "one long paragraph here\n\nnext" in text_of(body(page(raw)))
