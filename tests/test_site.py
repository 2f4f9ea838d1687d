"""The static site as a reader meets it: pages, links, obfuscation, attachments, permalinks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from piperarc import config as configlib
from piperarc.ingest.sources.sample import sample_mbox
from piperarc.site import build as site
from tests.conftest import Run
from tests.sitecheck import broken_links


@pytest.fixture
def built(run: Run, archive: Path, tmp_path: Path) -> Path:
    mbox = tmp_path / "salon.mbox"
    mbox.write_bytes(sample_mbox())
    run("import", "--archive", archive, "--list", "salon", mbox)
    assert run("build", "--archive", archive).exit_code == 0
    return archive / "site"


def _page_of(site_dir: Path, text: str) -> str:
    for page in sorted((site_dir / "salon" / "m").glob("*.html")):
        html = page.read_text(encoding="utf-8")
        if text in html:
            return html
    raise AssertionError(f"no message page contains {text!r}")


def test_every_internal_link_resolves(built: Path) -> None:
    assert broken_links(built)[1] == []


def test_each_period_has_the_four_pipermail_views(built: Path) -> None:
    periods = sorted(p.name for p in (built / "salon").iterdir() if p.is_dir() and p.name[0] == "2")
    assert periods == ["2024-01", "2024-02", "2024-03", "2024-04", "2024-05"]
    for period in periods:
        for view in ("thread", "date", "subject", "author"):
            assert (built / "salon" / period / f"{view}.html").is_file()


def test_the_thread_view_nests_replies_under_their_parents(built: Path) -> None:
    html = (built / "salon" / "2024-02" / "thread.html").read_text(encoding="utf-8")
    tree = html[html.index('<div class="tree">') :]
    assert tree.count("<ul>") > 1  # nested lists, not indentation by spaces


def test_addresses_are_written_the_pipermail_way(built: Path) -> None:
    html = _page_of(built, "Notes on the Analytical Engine")
    assert "grace at example.net" in html or "ada at example.org" in html
    assert not re.search(r"[a-z]+@example\.(org|net|com)", html)


def test_quoted_lines_are_set_apart_and_urls_linked(built: Path) -> None:
    html = _page_of(built, "Reply 1: I agree")
    assert '<blockquote class="quote">&gt; ' in html
    welcome = _page_of(built, "https://example.org/salon/")
    assert '<a href="https://example.org/salon/" rel="nofollow noopener noreferrer">' in welcome


def test_a_reply_links_to_its_parent_and_the_parent_to_its_replies(built: Path) -> None:
    html = _page_of(built, "Reply 1: I agree")
    assert "<dt>In reply to</dt>" in html
    root = _page_of(built, "Introduce yourselves")
    assert "<dt>Replies</dt>" in root


def test_attachments_are_saved_and_linked_with_their_real_name(built: Path) -> None:
    html = _page_of(built, "apollo-report.txt")
    match = re.search(r'href="\.\./\.\./(salon/m/[a-z0-9]+/1-apollo-report\.txt)"', html)
    assert match, "attachment link missing"
    assert (built / match.group(1)).read_bytes() == b"1202 alarm: executive overflow\n"


def test_the_non_ascii_subject_is_shown_decoded(built: Path) -> None:
    assert "Réunion à Paris — café ☕" in _page_of(built, "Qui vient")


def test_every_message_page_offers_its_raw_message(built: Path) -> None:
    pages = list((built / "salon" / "m").glob("*.html"))
    emls = list((built / "salon" / "m").glob("*.eml"))
    assert len(pages) == len(emls) == 27


def test_a_thread_page_shows_every_message_of_the_thread(built: Path) -> None:
    html = _page_of(built, "Reply 1: I agree")
    link = re.search(r'href="\.\./\.\./(salon/t/[a-z0-9]+\.html)">whole thread \((\d+)', html)
    assert link
    thread_html = (built / link.group(1)).read_text(encoding="utf-8")
    assert thread_html.count('<article class="message in-thread">') == int(link.group(2))


def test_rebuilding_keeps_every_page_at_its_url(built: Path, run: Run, archive: Path) -> None:
    before = {p.relative_to(built): p.read_bytes() for p in (built / "salon" / "m").glob("*.eml")}
    run("build", "--archive", archive)
    after = {p.relative_to(built): p.read_bytes() for p in (built / "salon" / "m").glob("*.eml")}
    assert before == after


def test_a_list_that_hides_addresses_shows_none(run: Run, tmp_path: Path) -> None:
    root = tmp_path / "hidden"
    run("init", root, "--list", "salon", "--obfuscate", "hide")
    mbox = tmp_path / "salon.mbox"
    mbox.write_bytes(sample_mbox())
    run("import", "--archive", root, "--list", "salon", mbox)
    site.build(configlib.load(root), root / "site", jobs=1)
    for page in (root / "site").rglob("*.html"):
        assert not re.search(r"@example\.(org|net|com)", page.read_text(encoding="utf-8")), page


def test_a_single_process_build_writes_the_same_pages(
    built: Path, archive: Path, tmp_path: Path
) -> None:
    other = tmp_path / "single"
    site.build(configlib.load(archive), other, jobs=1)

    def names(root: Path) -> list[str]:
        return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())

    assert names(built) == names(other)


def test_a_reply_months_later_lands_on_its_threads_page(built: Path) -> None:
    html = _page_of(built, "Months later: did anyone run Note G?")
    link = re.search(r'href="\.\./\.\./(salon/t/[a-z0-9]+\.html)">whole thread', html)
    assert link
    thread_html = (built / link.group(1)).read_text(encoding="utf-8")
    assert "Note G has an algorithm" in thread_html  # the thread's first message
    assert "Months later" in thread_html


def test_a_message_with_a_broken_date_says_where_its_date_came_from(built: Path) -> None:
    html = _page_of(built, "The Date header below is nonsense.")
    assert "its Date header, “yesterday-ish”, is not a usable date: from the mbox envelope" in html


def test_a_thread_page_merged_into_another_redirects_to_it(run: Run, archive: Path) -> None:
    reply = (
        b"From: b@x\nSubject: Re: plans\nDate: Tue, 2 Jan 2024 10:00:00 +0000\n"
        b"Message-ID: <reply@x>\nIn-Reply-To: <root@x>\n\nyes\n"
    )
    root = (
        b"From: a@x\nSubject: plans\nDate: Mon, 1 Jan 2024 10:00:00 +0000\n"
        b"Message-ID: <root@x>\n\nlet us plan\n"
    )
    run("import", "--archive", archive, "--list", "salon", "-", input=reply)
    run("build", "--archive", archive)
    site_dir = archive / "site"
    (old_thread,) = (site_dir / "salon" / "t").glob("*.html")
    run("import", "--archive", archive, "--list", "salon", "-", input=root)  # the parent, late
    run("build", "--archive", archive)
    html = old_thread.read_text(encoding="utf-8")
    assert '<meta http-equiv="refresh"' in html
    assert len(list((site_dir / "salon" / "t").glob("*.html"))) == 2  # the new one and the moved
    assert broken_links(site_dir)[1] == []


def test_period_downloads_are_plain_gzip_with_no_temporary_name_in_them(built: Path) -> None:
    for download in (built / "salon").glob("*.mbox.gz"):
        header = download.read_bytes()[:10]
        assert header[:3] == b"\x1f\x8b\x08"
        assert header[3] & 0x08 == 0, f"{download.name} names a file in its gzip header"
        assert header[4:8] == b"\0\0\0\0"  # no time either: rebuilds give the same bytes
