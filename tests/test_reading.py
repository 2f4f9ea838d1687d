"""What a reader gets on a message's page and its thread's: who wrote it (the list's
rewriting undone, and said), to whom, its Message-ID as it is, a way to reply; a thread
page with one h1, its messages' subjects below it, quotes and HTML versions behind links,
its tree no deeper than pages.MAX_DEPTH; a period's thread view that sums each thread up;
a list home with its recent mail."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from piperarc.pages import MAX_DEPTH
from tests.conftest import Run

QUOTE = "".join(f"> line {i} of what came before\n" for i in range(12))


def _message(n: int, parent: int | None, day: int, month: int = 1, extra: str = "") -> str:
    refs = f"In-Reply-To: <m{parent}@example.org>\n" if parent is not None else ""
    subject = "Re: deep question" if parent is not None else "deep question"
    return (
        f"From sender@example.org Mon Jan  1 10:00:00 2024\n"
        f"From: Jane Doe via Salon <salon@example.org>\n"
        f"Reply-To: Jane Doe <jane{n % 3}@example.org>\n"
        f"To: Salon <salon@example.org>\nCc: Bob <bob@example.net>\n"
        f"Subject: {subject}\nDate: Mon, {day} {['Jan', 'Feb'][month - 1]} 2024 "
        f"{10 + n % 10}:{n % 60:02d}:00 +0000\n"
        f"Message-ID: <m{n}@example.org>\n{refs}{extra}\n"
        f"Answer {n}.\n\n{QUOTE if parent is not None else ''}\n"
    )


@pytest.fixture
def site(run: Run, tmp_path: Path) -> Path:
    """A thread twelve replies deep, its last two in February; built."""
    root = tmp_path / "archive"
    run("init", root, "--list", "salon", "--address", "salon@example.org")
    box = tmp_path / "salon.mbox"
    box.write_text(
        "".join(_message(n, n - 1 if n else None, 2 + n, 1 if n < 11 else 2) for n in range(13))
    )
    assert run("import", "--archive", root, "--list", "salon", box).exit_code == 0
    assert run("build", "--archive", root, "--no-search-index").exit_code == 0
    return root / "site"


def _page_of(site: Path, mid: str) -> str:
    for page in (site / "salon" / "m").glob("*.html"):
        text = page.read_text()
        if f'<code class="mid">{mid}</code>' in text:
            return text
    raise AssertionError(f"no page shows {mid}")


def test_a_message_shows_the_real_sender_and_says_the_list_rewrote_it(site: Path) -> None:
    page = _page_of(site, "m1@example.org")
    assert "Jane Doe &lt;jane1 at example.org&gt;" in page
    assert "the list sent it as “Jane Doe via Salon &lt;salon at example.org&gt;”" in page


def test_a_message_shows_to_and_cc_obfuscated_and_its_message_id_as_it_is(site: Path) -> None:
    page = _page_of(site, "m1@example.org")
    assert "<dt>To</dt><dd>Salon &lt;salon at example.org&gt;</dd>" in page
    assert "<dt>Cc</dt><dd>Bob &lt;bob at example.net&gt;</dd>" in page
    assert '<code class="mid">m1@example.org</code>' in page


def test_a_message_has_a_reply_link_to_the_list_in_reply_to_it(site: Path) -> None:
    page = _page_of(site, "m0@example.org")
    link = re.search(r'<p class="reply"><a href="([^"]+)">', page)
    assert link is not None
    href = unquote(link[1].replace("&amp;", "&"))
    assert href == "mailto:salon@example.org?subject=Re: deep question&In-Reply-To=<m0@example.org>"
    assert "In-Reply-To: &lt;m0@example.org&gt;" in page  # the instructions


def test_a_thread_page_has_one_h1_and_a_h2_per_message(site: Path) -> None:
    (page,) = [p.read_text() for p in (site / "salon" / "t").glob("*.html")]
    assert page.count("<h1") == 1
    assert page.count("<h2 id=") == 13


def test_a_thread_page_leaves_long_quotes_on_the_messages_pages(site: Path) -> None:
    (page,) = [p.read_text() for p in (site / "salon" / "t").glob("*.html")]
    assert "line 3 of what came before" not in page
    assert page.count("[12 quoted lines: on the message's page]") == 12
    assert "line 3 of what came before" in _page_of(site, "m5@example.org")


def test_a_thread_tree_stops_indenting_at_max_depth_and_says_whom_a_reply_answers(
    site: Path,
) -> None:
    (page,) = [p.read_text() for p in (site / "salon" / "t").glob("*.html")]
    tree = page[page.index('<nav class="tree"') : page.index("</nav>", page.index('class="tree"'))]
    deepest = max(
        len(re.findall(r"<ul>", tree[: m.start()])) - len(re.findall(r"</ul>", tree[: m.start()]))
        for m in re.finditer(r"<li>", tree)
    )
    assert deepest == MAX_DEPTH + 1  # the outer list and MAX_DEPTH levels below it
    assert tree.count('class="irt">in reply to') == 12 - MAX_DEPTH


def test_a_periods_thread_view_sums_each_thread_up(site: Path) -> None:
    january = (site / "salon" / "2024-01" / "thread.html").read_text()
    february = (site / "salon" / "2024-02" / "thread.html").read_text()
    assert "whole thread</a>: 13 messages, 3 people" in january
    assert "continues in <a" in january and "February 2024</a>" in january
    assert "continued from <a" in february and "January 2024</a>" in february
    assert (site / "salon" / "2024-01" / "activity.html").exists()


def test_a_list_home_shows_its_newest_threads_posters_and_chart(site: Path) -> None:
    home = (site / "salon" / "index.html").read_text()
    assert "Newest threads" in home and "deep question" in home
    assert "Most frequent posters" in home and "Jane Doe" in home
    assert '<svg viewBox="0 0 12 60"' in home  # two months, six units a bar
