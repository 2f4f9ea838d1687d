"""Bodies and addresses as HTML: escaped first, then quotes, signatures and links marked."""

from __future__ import annotations

from piperarc.render import tree_events
from piperarc.render.text import body_html, obfuscate, sender_date


def test_markup_in_a_body_is_shown_as_text() -> None:
    html = body_html("<script>alert(1)</script>", "none")
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_quoted_lines_are_grouped_in_one_blockquote() -> None:
    html = body_html("On Monday Ada wrote:\n> one\n> two\nMy answer.\n", "none")
    assert html == (
        'On Monday Ada wrote:\n<blockquote class="quote">&gt; one\n&gt; two\n'
        "</blockquote>My answer.\n"
    )


def test_a_long_quote_is_folded_under_a_closed_details() -> None:
    html = body_html("".join(f"> line {i}\n" for i in range(6)) + "Yes.\n", "none")
    assert html.startswith('<details class="quote"><summary>6 quoted lines</summary>')


def test_an_inline_patch_has_its_added_removed_and_hunk_lines_marked() -> None:
    text = (
        "Fix:\n---\n a | 2 +-\n\n"
        "diff --git a/a b/a\n--- a/a\n+++ b/a\n@@ -1 +1 @@\n-old\n+new\n ctx\n"
    )
    html = body_html(text, "none")
    assert '<span class="del">-old\n</span>' in html
    assert '<span class="add">+new\n</span>' in html
    assert '<span class="hunk">@@ -1 +1 @@\n</span>' in html
    assert '<span class="meta">--- a/a\n</span>' in html
    assert "Fix:\n---\n a | 2 +-" in html  # the text before the patch is left alone


def test_a_dash_line_that_starts_no_patch_is_not_marked() -> None:
    html = body_html("List:\n- one\n+ two\n", "none")
    assert "<span" not in html


def test_the_signature_is_set_apart() -> None:
    html = body_html("Thanks.\n-- \nAda\n", "none")
    assert html.endswith('<div class="signature">-- \nAda\n</div>')


def test_urls_are_linked_without_the_punctuation_after_them() -> None:
    html = body_html("See https://example.org/a?b=1&c=2. Or <http://x.org/y>.", "none")
    assert '<a href="https://example.org/a?b=1&amp;c=2" rel="nofollow noopener noreferrer">' in html
    assert '<a href="http://x.org/y" rel="nofollow noopener noreferrer">' in html


def test_only_web_urls_are_linked() -> None:
    html = body_html("javascript:alert(1) data:text/html,<b>x</b>", "none")
    assert "<a " not in html


def test_a_quote_in_a_url_cannot_leave_the_attribute() -> None:
    html = body_html('http://x.org/"onmouseover="alert(1)', "none")
    assert html == (
        '<a href="http://x.org/" rel="nofollow noopener noreferrer">http://x.org/</a>'
        "&#34;onmouseover=&#34;alert(1)\n"
    )


def test_addresses_are_obfuscated_as_the_list_asks() -> None:
    assert obfuscate("mail jane.doe@example.org now", "at") == "mail jane.doe at example.org now"
    assert obfuscate("mail jane.doe@example.org now", "hide") == "mail jane.doe@… now"
    assert obfuscate("mail jane.doe@example.org now", "none") == "mail jane.doe@example.org now"


def test_addresses_in_quoted_attributions_are_obfuscated_too() -> None:
    html = body_html("jane@example.org wrote:\n> hi\n", "at")
    assert "jane at example.org wrote:" in html


def test_the_date_is_shown_in_the_senders_zone() -> None:
    assert sender_date(1704324600, -300) == "Wed, 03 Jan 2024 18:30:00 -0500"


def test_tree_events_nest_lists_without_skipping_levels() -> None:
    events = list(tree_events([0, 1, 3, 0]))
    html = "".join(
        {"open": "<ul>", "close": "</ul>", "end": "</li>"}.get(e, f"<li>{i}") for e, i in events
    )
    assert html == "<ul><li>0<ul><li>1<ul><li>2</li></ul></li></ul></li><li>3</li></ul>"


def test_a_bar_followed_by_a_space_quotes_as_some_mailers_wrote_it() -> None:
    html = body_html("Ada wrote:\n| one\n| two\nMy answer.\n", "none")
    assert '<blockquote class="quote">| one\n| two\n</blockquote>' in html


def test_a_bar_starting_a_word_or_a_table_row_is_text_not_a_quote() -> None:
    for body in ("|ω・) こんにちは\n", "| name | size |\n|------|------|\n| a    | 1    |\n"):
        assert "blockquote" not in body_html(body, "none")
