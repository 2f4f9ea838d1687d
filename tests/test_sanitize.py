"""The sanitizer: the one way HTML from mail reaches a page (render/sanitize.py)."""

from __future__ import annotations

from piperarc.render.sanitize import sanitize

OWN = {"logo@example.org": "../../salon/m/k/2-logo.png"}


def test_a_cid_image_of_the_message_is_drawn_from_its_attachment() -> None:
    html = sanitize('<img src="cid:logo@example.org" alt="logo">', OWN)
    assert html == '<img src="../../salon/m/k/2-logo.png" alt="logo">'


def test_a_percent_encoded_cid_is_resolved_as_rfc_2392_says() -> None:
    assert 'src="../../salon/m/k/2-logo.png"' in sanitize('<img src="cid:logo%40example.org">', OWN)


def test_a_cid_the_message_does_not_have_leaves_a_placeholder() -> None:
    assert sanitize('<img src="cid:other@x" alt="chart">', OWN) == (
        '<span class="image-gone">[image: chart]</span>'
    )


def test_a_cid_link_is_not_a_way_to_reach_a_file() -> None:
    assert "href" not in sanitize('<a href="cid:logo@example.org">x</a>', OWN)


def test_a_remote_image_becomes_a_link_and_is_never_loaded() -> None:
    html = sanitize('<img src="https://t.example.com/p.gif?u=1&amp;v=2" alt="pixel">', {})
    assert "<img" not in html
    assert 'href="https://t.example.com/p.gif?u=1&amp;v=2"' in html and "[pixel]" in html


def test_relative_links_and_images_that_are_not_the_messages_own_are_dropped() -> None:
    html = sanitize('<a href="/admin">a</a><img src="../../etc/x.png">', OWN)
    assert "/admin" not in html and "etc/x.png" not in html


def test_style_elements_and_attributes_are_gone_with_their_urls() -> None:
    html = sanitize(
        "<style>@import url(https://x.example/a.css)</style>"
        '<p style="background:url(https://x.example/b.png)">text</p>',
        {},
    )
    assert html == "<p>text</p>"


def test_class_and_id_cannot_borrow_the_pages_styles_or_anchors() -> None:
    assert sanitize('<p class="damage" id="m1">x</p>', {}) == "<p>x</p>"


def test_obfuscation_leaves_the_messages_own_image_source_alone() -> None:
    own = {"a@b.png": "../../salon/m/k/1-a@b.png"}
    html = sanitize(
        '<p>jane@example.org</p><img src="cid:a@b.png" alt="me@example.org">', own, "at"
    )
    assert html == (
        '<p>jane at example.org</p><img src="../../salon/m/k/1-a@b.png" alt="me at example.org">'
    )
