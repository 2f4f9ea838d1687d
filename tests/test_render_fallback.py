"""A message whose page cannot be rendered: the build goes on and writes that page as the
message's raw text with a note; the pages that list it (its thread, its period, its parent,
the feeds) show it as a plain link or leave its entry out; the server answers the same.

The failure is made as one that was met: a date filter raising ValueError, here for the date
of one message (found by its Message-ID), wherever a page or feed draws that date."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from piperarc import config as configlib
from piperarc import feeds
from piperarc.cli import main
from piperarc.ingest.sources.sample import sample_mbox
from piperarc.render import text
from piperarc.store import open_store
from piperarc.web.app import create_app
from tests.conftest import cli
from tests.test_web import Client

TARGET = "sample-8@example.org"  # a reply with a reply, in the middle of its thread
NOTE = "This message could not be rendered"


def _failing_on(date_utc: int, func: Callable[..., Any]) -> Callable[..., Any]:
    """`func`, raising ValueError as a broken date filter would for `date_utc` alone."""

    def patched(value: Any, *args: Any) -> Any:
        if value == date_utc:
            raise ValueError(f"year is out of range: {value}")
        return func(value, *args)

    return patched


def _break_dates(patch: pytest.MonkeyPatch, date_utc: int) -> None:
    """Every date filter the pages use (taken when a Renderer is made) and the feeds' date."""
    for name in ("short_date", "iso_date", "sender_date"):
        patch.setattr(text, name, _failing_on(date_utc, getattr(text, name)))
    patch.setattr(feeds, "_date", _failing_on(date_utc, feeds._date))


def _target(root: Path) -> Any:
    store = open_store(configlib.load(root).database, readonly=True)
    try:
        (msg,) = store.messages_by_mid("salon", TARGET)
    finally:
        store.close()
    return msg


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Any, Result]]:
    """The sample list built, and then served, while one message's date cannot be drawn:
    (the archive, that message, the build's result)."""
    root = tmp_path_factory.mktemp("fallback") / "archive"
    assert cli("init", root, "--list", "salon").exit_code == 0
    mbox = root.parent / "salon.mbox"
    mbox.write_bytes(sample_mbox())
    assert cli("import", "--archive", root, "--list", "salon", mbox).exit_code == 0
    msg = _target(root)
    with pytest.MonkeyPatch.context() as patch:
        _break_dates(patch, msg.date_utc)
        result = CliRunner().invoke(
            main, ["build", "--archive", str(root), "--jobs", "1", "--no-search-index"]
        )
        yield root, msg, result


@pytest.fixture(scope="module")
def client(broken: tuple[Path, Any, Result]) -> Iterator[Client]:
    app = create_app(configlib.load(broken[0]))  # made while the dates are broken
    yield Client(app)
    app.state.archive.close()


def _page(root: Path, path: str) -> str:
    return (root / "site" / path).read_text(encoding="utf-8")


def test_the_build_finishes_and_warns_once_naming_the_message(
    broken: tuple[Path, Any, Result],
) -> None:
    _, msg, result = broken
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if "could not be rendered" in line]
    assert len(warnings) == 1
    assert f"salon/m/{msg.key}.html" in warnings[0] and TARGET in warnings[0]
    assert "ValueError" in warnings[0]
    assert "1 shown as raw text" in result.stdout


def test_the_page_is_the_raw_text_escaped_with_a_note_and_a_link_to_the_original(
    broken: tuple[Path, Any, Result],
) -> None:
    root, msg, _ = broken
    html = _page(root, f"salon/m/{msg.key}.html")
    assert NOTE in html
    assert f'href="../../salon/m/{msg.key}.eml"' in html
    raw = html[html.index('<pre class="raw-message">') :]
    assert "Message-ID: &lt;sample-8 at example.org&gt;" in raw  # escaped, obfuscated
    assert "In-Reply-To:" in raw
    assert (root / "site" / "salon" / "m" / f"{msg.key}.eml").is_file()


def test_every_other_message_page_is_rendered_as_usual(broken: tuple[Path, Any, Result]) -> None:
    root, msg, _ = broken
    others = [p for p in (root / "site" / "salon" / "m").glob("*.html") if p.stem != msg.key]
    assert len(others) == 26
    for page in others:
        html = page.read_text(encoding="utf-8")
        assert NOTE not in html and '<article class="message">' in html, page.name


def test_its_thread_page_holds_its_raw_text_and_lists_it_by_number(
    broken: tuple[Path, Any, Result],
) -> None:
    root, msg, _ = broken
    html = _page(root, f"salon/t/{msg.thread_key}.html")
    assert html.count('<article class="message in-thread">') == 6
    assert NOTE in html
    assert f'<a href="#m{msg.num}">Message {msg.num}</a>' in html
    assert html.count("<time datetime=") >= 5  # the other messages' lines, as usual


def test_its_period_views_and_its_parents_page_show_it_as_a_plain_link(
    broken: tuple[Path, Any, Result],
) -> None:
    root, msg, _ = broken
    link = f'<a href="../../salon/m/{msg.key}.html">Message {msg.num}</a>'
    for view in ("thread", "date", "subject", "author"):
        html = _page(root, f"salon/2024-02/{view}.html")
        assert link in html, view
        assert html.count("<time datetime=") > 5, view  # its neighbours' rows, as usual
    parent = _page(root, f"salon/m/{_key_of(root, msg.parent_num)}.html")
    assert link in parent and NOTE not in parent


def _key_of(root: Path, num: int) -> str:
    store = open_store(configlib.load(root).database, readonly=True)
    try:
        return store.message("salon", num).key
    finally:
        store.close()


def test_the_feeds_leave_out_its_entry_and_keep_the_others(
    broken: tuple[Path, Any, Result],
) -> None:
    root, msg, _ = broken
    thread_feed = _page(root, f"salon/t/{msg.thread_key}.atom")
    assert thread_feed.count("<entry>") == 5
    assert f"{msg.key}.html" not in thread_feed
    messages_feed = _page(root, "salon/messages.atom")
    assert messages_feed.count("<entry>") == 26


def test_the_server_answers_200_with_the_same_raw_page(
    broken: tuple[Path, Any, Result], client: Client
) -> None:
    root, msg, _ = broken
    for path in (f"salon/m/{msg.key}.html", f"salon/t/{msg.thread_key}.html"):
        response = client.get(f"/{path}")
        assert response.status_code == 200, path
        assert response.text == _page(root, path)
    feed = client.get(f"/salon/t/{msg.thread_key}.atom")
    assert feed.status_code == 200 and feed.text.count("<entry>") == 5


def test_an_update_after_new_mail_writes_a_failing_message_as_its_raw_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "archive"
    assert cli("init", root, "--list", "salon").exit_code == 0
    first = tmp_path / "first.eml"
    first.write_bytes(
        b"From: a@example.org\nSubject: plans\nDate: Tue, 2 Jan 2024 10:00:00 +0000\n"
        b"Message-ID: <root@x>\n\nshall we?\n"
    )
    assert cli("import", "--archive", root, "--list", "salon", first).exit_code == 0
    assert cli("build", "--archive", root, "--jobs", "1", "--no-search-index").exit_code == 0
    reply = tmp_path / "reply.eml"
    reply.write_bytes(
        b"From: b@example.org\nSubject: Re: plans\nDate: Wed, 3 Jan 2024 10:00:00 +0000\n"
        b"Message-ID: <reply@x>\nIn-Reply-To: <root@x>\n\nyes, <b>gladly</b>\n"
    )
    _break_dates(monkeypatch, 1704276000)  # the reply's date
    assert cli("import", "--archive", root, "--list", "salon", reply).exit_code == 0
    pages = {p.read_text(encoding="utf-8") for p in (root / "site" / "salon" / "m").glob("*.html")}
    (raw_page,) = [html for html in pages if NOTE in html]
    assert "yes, &lt;b&gt;gladly&lt;/b&gt;" in raw_page
    (thread_page,) = (root / "site" / "salon" / "t").glob("*.html")
    assert re.search(r"<a href=\"#m2\">Message 2</a>", thread_page.read_text(encoding="utf-8"))
