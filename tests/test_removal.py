"""Removing a message for good (`piperarc remove`), on both backends: its permalink says it
was removed (410, or 451 for legal reasons), its thread keeps a placeholder, and nothing
else holds it (period views, feeds, downloads, search, the API, export, the built site);
a tombstone keeps the audit, and nothing brings the message back (import, deliver,
reindex after a restore)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from starlette.applications import Starlette

from piperarc import config as configlib
from piperarc.ingest.deliver import asks_no_archive, prepare
from piperarc.ingest.sources.eml import from_bytes
from piperarc.model import StoredMessage
from piperarc.store import open_store
from piperarc.web.app import create_app
from tests.conftest import Run, pg_schema
from tests.livehelpers import asgi_get

SECRET = "hunter2-swordfish"
LEAK_MID = "leak@example.org"


def _message(mid: str, subject: str, body: str, date: str, parent: str | None = None) -> str:
    refs = f"In-Reply-To: <{parent}>\nReferences: <{parent}>\n" if parent else ""
    return (
        f"From: Ada <ada@example.org>\nTo: salon@example.org\nSubject: {subject}\n"
        f"Date: {date}\nMessage-ID: <{mid}>\n{refs}\n{body}\n"
    )


JAN = "Mon, 15 Jan 2024 {}:00:00 +0000"
ROOT = _message("root@example.org", "Passwords", "How do we share them?", JAN.format(10))
LEAK = _message(
    LEAK_MID, "Re: Passwords", f"Mine is {SECRET}, oops.", JAN.format(11), "root@example.org"
)
AFTER = _message(
    "after@example.org", "Re: Passwords", "Please remove that.", JAN.format(12), LEAK_MID
)
ALONE = _message(
    "alone@example.org", "March news", f"Also {SECRET} here.", "Fri, 15 Mar 2024 10:00:00 +0000"
)


def _mbox(*messages: str) -> str:
    return "".join(f"From ada@example.org Mon Jan 15 10:00:00 2024\n{m}\n" for m in messages)


@pytest.fixture
def filled(archive: Path, run: Run, tmp_path: Path) -> Path:
    """The salon list with a thread of three (the middle one leaks a password) and a
    message alone in March; the mbox it came from is beside the archive."""
    mbox = tmp_path / "salon.mbox"
    mbox.write_text(_mbox(ROOT, LEAK, AFTER, ALONE))
    result = run("import", "--archive", archive, "--list", "salon", mbox)
    assert result.exit_code == 0, result.output
    return archive


def _remove(run: Run, archive: Path, *args: str) -> str:
    result = run("remove", "--archive", archive, "--list", "salon", *args)
    assert result.exit_code == 0, result.output
    return result.output


_get = asgi_get


def _app(archive: Path) -> Starlette:
    return create_app(configlib.load(archive))


def _stored(archive: Path, mid: str) -> list[StoredMessage]:
    """The list's copies of a Message-ID, as the store holds them now."""
    store = open_store(configlib.load(archive).database, readonly=True)
    try:
        return store.messages_by_mid("salon", mid)
    finally:
        store.close()


def _key(archive: Path, mid: str) -> str:
    return _stored(archive, mid)[0].key


def test_a_removed_messages_permalink_answers_410_gone(filled: Path, run: Run) -> None:
    key = _key(filled, LEAK_MID)
    output = _remove(run, filled, LEAK_MID, "--reason", "a leaked password")
    assert f"removed <{LEAK_MID}>" in output
    got = _get(_app(filled), f"/salon/m/{key}.html")
    assert got.status_code == 410
    assert "This message was removed" in got.text
    assert SECRET not in got.text
    assert "a leaked password" not in got.text  # the reason is for the audit


def test_a_message_removed_for_legal_reasons_answers_451(filled: Path, run: Run) -> None:
    key = _key(filled, LEAK_MID)
    _remove(run, filled, LEAK_MID, "--reason", "court order", "--legal")
    got = _get(_app(filled), f"/salon/m/{key}.html")
    assert got.status_code == 451
    assert "for legal reasons" in got.text


def test_a_removed_messages_original_and_attachments_are_gone(filled: Path, run: Run) -> None:
    key = _key(filled, LEAK_MID)
    _remove(run, filled, LEAK_MID, "--reason", "leak")
    app = _app(filled)
    assert _get(app, f"/salon/m/{key}.eml").status_code == 410
    assert _get(app, f"/salon/m/{key}/1-file.txt").status_code == 410


def test_a_message_id_lookup_leads_to_the_removed_page(filled: Path, run: Run) -> None:
    key = _key(filled, LEAK_MID)
    _remove(run, filled, LEAK_MID, "--reason", "leak")
    got = _get(_app(filled), f"/mid/{LEAK_MID}")
    assert got.status_code == 302
    assert got.headers["location"].endswith(f"/salon/m/{key}.html")


def test_its_thread_keeps_a_placeholder_where_it_was(filled: Path, run: Run) -> None:
    thread_key = _stored(filled, "root@example.org")[0].thread_key
    _remove(run, filled, LEAK_MID, "--reason", "leak")
    page = _get(_app(filled), f"/salon/t/{thread_key}.html").text
    assert "[message removed on" in page
    assert "Please remove that." in page  # its reply stays, in its place below it
    assert page.index("[message removed on") < page.index('href="#m3"')
    assert SECRET not in page


def test_period_views_feeds_and_downloads_no_longer_hold_it(filled: Path, run: Run) -> None:
    thread = _stored(filled, "root@example.org")[0].thread_key
    _remove(run, filled, LEAK_MID, "--reason", "leak")
    app = _app(filled)
    for path in (
        f"/salon/t/{thread}.mbox",
        f"/salon/t/{thread}.atom",
        f"/api/lists/salon/threads/{thread}",
        "/salon/2024-01/thread.html",
        "/salon/2024-01/date.html",
        "/salon/messages.atom",
        "/salon/threads.atom",
        "/salon/2024-01.mbox",
        "/api/lists/salon/periods/2024-01",
    ):
        got = _get(app, path)
        assert got.status_code == 200, path
        assert f"Mine is {SECRET}" not in got.text, path
        assert f"Message-ID: <{LEAK_MID}>" not in got.text, path  # (replies name it)


def test_search_no_longer_finds_it(filled: Path, run: Run) -> None:
    _remove(run, filled, LEAK_MID, "--reason", "leak")
    found = run("search", "--archive", filled, "--json", "swordfish")
    hits = json.loads(found.output)
    assert [hit["message_id"] for hit in hits["results"]] == ["alone@example.org"]
    assert _get(_app(filled), "/api/search?q=swordfish").json()["total"] == 1


def test_export_no_longer_holds_it(filled: Path, run: Run) -> None:
    _remove(run, filled, LEAK_MID, "--reason", "leak")
    exported = run("export", "--archive", filled, "--list", "salon").output
    assert "Please remove that." in exported
    assert f"Mine is {SECRET}" not in exported


def test_importing_the_same_mbox_again_brings_nothing_back(
    filled: Path, run: Run, tmp_path: Path
) -> None:
    _remove(run, filled, LEAK_MID, "--reason", "leak")
    again = run("import", "--archive", filled, "--list", "salon", tmp_path / "salon.mbox")
    assert again.exit_code == 0, again.output
    assert "imported 0 new, 3 duplicates skipped" in again.output
    assert "1 removed earlier, not archived" in again.output
    assert _get(_app(filled), f"/salon/m/{_key_of_removed(filled)}.html").status_code == 410


def _key_of_removed(archive: Path) -> str:
    store = open_store(configlib.load(archive).database, readonly=True)
    try:
        return store.tombstones("salon")[0].key
    finally:
        store.close()


def test_delivering_it_again_stores_nothing(filled: Path, run: Run) -> None:
    _remove(run, filled, LEAK_MID, "--reason", "leak")
    result = run("deliver", "--archive", filled, "--list", "salon", input=LEAK)
    assert result.exit_code == 0  # accepted: the mail server must not retry
    assert "not archived: removed earlier" in result.output
    assert _stored(filled, LEAK_MID) == []


def test_other_bytes_under_the_removed_message_id_are_refused_too(filled: Path, run: Run) -> None:
    _remove(run, filled, LEAK_MID, "--reason", "leak")
    edited = LEAK.replace("oops", "sorry")
    run("deliver", "--archive", filled, "--list", "salon", input=edited)
    assert _stored(filled, LEAK_MID) == []


def test_reindex_removes_again_what_a_restored_copy_brought_back(filled: Path, run: Run) -> None:
    config = configlib.load(filled)
    store = open_store(config.database)
    try:
        rows = store.export_rows("salon", 0, 100)
        leak = [row for row in rows if row.values[2] == LEAK_MID]
        duplicates = store.stats("salon").duplicates
    finally:
        store.close()
    _remove(run, filled, LEAK_MID, "--reason", "leak")
    store = open_store(config.database)
    try:  # the rows put back as a restore from an older copy would
        text = prepare(from_bytes(LEAK.encode(), "restore")).index
        store.import_rows("salon", leak, [text], duplicates)
        assert store.messages_by_mid("salon", LEAK_MID)
    finally:
        store.close()
    result = run("reindex", "--archive", filled)
    assert "salon: 1 removed again" in result.output
    assert _stored(filled, LEAK_MID) == []


def test_removals_lists_the_audit_as_json(filled: Path, run: Run) -> None:
    key = _key(filled, LEAK_MID)
    _remove(run, filled, LEAK_MID, "--reason", "a leaked password", "--by", "postmaster")
    result = run("removals", "--archive", filled, "--list", "salon", "--json")
    (entry,) = json.loads(result.output)
    assert entry["message_id"] == LEAK_MID
    assert entry["reason"] == "a leaked password"
    assert entry["by"] == "postmaster"
    assert entry["legal"] is False
    assert entry["key"] == key
    assert entry["url"] == f"salon/m/{key}.html"
    assert len(entry["sha256"]) == 64
    assert entry["removed_at"].endswith("Z") or "+00:00" in entry["removed_at"]


def test_an_unknown_message_id_is_an_error_and_the_others_are_removed(
    filled: Path, run: Run
) -> None:
    result = run(
        "remove", "--archive", filled, "--list", "salon", "nobody@example.org", LEAK_MID,
        "--reason", "leak",
    )  # fmt: skip
    assert result.exit_code == 1
    assert "no message <nobody@example.org>" in result.output
    assert f"removed <{LEAK_MID}>" in result.output


def test_removing_the_newest_message_leaves_a_whole_archive(filled: Path, run: Run) -> None:
    _remove(run, filled, "alone@example.org", "--reason", "spam")
    late = _message("late@example.org", "Later", "More.", "Sat, 16 Mar 2024 10:00:00 +0000")
    assert run("deliver", "--archive", filled, "--list", "salon", input=late).exit_code == 0
    store = open_store(configlib.load(filled).database)  # opening checks the archive is whole
    try:
        assert store.stats("salon").messages == 4
        late_key = store.messages_by_mid("salon", "late@example.org")[0].key
        assert late_key != store.tombstones("salon")[0].key
    finally:
        store.close()


def test_x_no_archive_mail_is_not_archived_and_counted(
    archive: Path, run: Run, tmp_path: Path
) -> None:
    private = ROOT.replace("Subject:", "X-No-Archive: yes\nSubject:")
    mbox = tmp_path / "a.mbox"
    mbox.write_text(_mbox(private, ALONE))
    result = run("import", "--archive", archive, "--list", "salon", mbox)
    assert "imported 1 new" in result.output
    assert "1 marked X-No-Archive, not archived" in result.output


def test_x_no_archive_is_read_from_the_header_only() -> None:
    assert asks_no_archive(b"From: a\r\nX-No-Archive: Yes\r\n\r\nbody")
    assert not asks_no_archive(b"From: a\n\nX-No-Archive: yes\n")
    assert not asks_no_archive(b"From: a\nX-No-Archive: no\n\nbody")


# -- the static site --


def _site_holds(site: Path, text: str) -> list[Path]:
    found = []
    for path in site.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            if data[:2] == b"\x1f\x8b":
                data = gzip.decompress(data)
            if text.encode() in data:
                found.append(path)
    return found


def test_the_build_writes_the_removed_page_at_the_permalink(filled: Path, run: Run) -> None:
    key = _key(filled, LEAK_MID)
    _remove(run, filled, LEAK_MID, "--reason", "leak")
    assert run("build", "--archive", filled, "--no-search-index").exit_code == 0
    page = (filled / "site" / "salon" / "m" / f"{key}.html").read_text()
    assert "This message was removed" in page
    assert not (filled / "site" / "salon" / "m" / f"{key}.eml").exists()
    holding = _site_holds(filled / "site", "Mine is " + SECRET)
    assert holding == []


def test_removal_updates_a_built_site_at_once(filled: Path, run: Run) -> None:
    assert run("build", "--archive", filled).exit_code == 0
    site = filled / "site"
    assert _site_holds(site / "search-index", SECRET)  # the search index holds it, compressed
    output = _remove(run, filled, LEAK_MID, "alone@example.org", "--reason", "leak")
    assert f"the built site {site} is updated" in output
    assert _site_holds(site, SECRET) == []  # pages, downloads, feeds, the search index
    assert not (site / "salon" / "2024-03").exists()  # a period left empty
    assert not (site / "salon" / "2024-03.mbox.gz").exists()
    assert "2024-03" not in (site / "salon" / "index.html").read_text()


def test_a_private_lists_removed_message_is_not_found_by_an_outsider(
    filled: Path, run: Run
) -> None:
    key = _key(filled, LEAK_MID)
    _remove(run, filled, LEAK_MID, "--reason", "leak")
    toml = filled / configlib.CONFIG_NAME
    toml.write_text(toml.read_text().replace('name = "salon"', 'name = "salon"\nprivate = true'))
    app = _app(filled)
    assert _get(app, f"/salon/m/{key}.html").status_code == 404
    assert _get(app, f"/mid/{LEAK_MID}").status_code == 404


@pytest.mark.parametrize("db_args", [()], ids=["sqlite"])
def test_a_move_to_postgresql_keeps_removed_messages_removed(filled: Path, run: Run) -> None:
    _remove(run, filled, LEAK_MID, "--reason", "leak")
    with pg_schema() as url:
        moved = run("migrate", "--archive", filled, "--to", url)
        assert moved.exit_code == 0, moved.output
        assert _get(_app(filled), f"/salon/m/{_key_of_removed(filled)}.html").status_code == 410
        again = run("deliver", "--archive", filled, "--list", "salon", input=LEAK)
        assert "not archived: removed earlier" in again.output


def test_a_maildir_watched_brings_nothing_back(filled: Path, run: Run, tmp_path: Path) -> None:
    _remove(run, filled, LEAK_MID, "--reason", "leak")
    maildir = tmp_path / "Maildir"
    for sub in ("new", "cur", "tmp"):
        (maildir / sub).mkdir(parents=True)
    (maildir / "new" / "1.leak").write_text(LEAK)
    result = run("watch", "--archive", filled, "--list", "salon", "--once", maildir)
    assert "imported 0 new" in result.output
    assert "removed earlier, not archived" in result.output
    assert list((maildir / "cur").iterdir())  # taken from new/: not offered again


def test_a_reply_after_the_removed_one_links_its_thread_neighbours(filled: Path, run: Run) -> None:
    root_key = _key(filled, "root@example.org")
    after_key = _key(filled, "after@example.org")
    _remove(run, filled, LEAK_MID, "--reason", "leak")
    page = _get(_app(filled), f"/salon/m/{after_key}.html").text
    nav = page[page.index("In thread:") :]
    nav = nav[: nav.index("</li>")]
    assert f"m/{root_key}.html" in nav  # the message before it in the thread now
    assert "end of thread" in nav


def test_the_audit_prints_a_hostile_message_id_harmlessly(archive: Path, run: Run) -> None:
    hostile = "evil\x1b]0;pwned\x07@example.org"
    mail = f"From: x@example.org\nSubject: s\nMessage-ID: <{hostile}>\n\nbody\n"
    assert run("deliver", "--archive", archive, "--list", "salon", input=mail).exit_code == 0
    removed = run("remove", "--archive", archive, "--list", "salon", hostile, "--reason", "x")
    listed = run("removals", "--archive", archive, "--list", "salon")
    for output in (removed.output, listed.output):
        assert "\x1b" not in output
        assert "\\x1b" in output


def test_a_thread_whose_first_message_is_removed_is_still_counted_and_fed(
    filled: Path, run: Run
) -> None:
    def threads() -> int:
        store = open_store(configlib.load(filled).database, readonly=True)
        try:
            return store.stats("salon").threads
        finally:
            store.close()

    before = threads()
    _remove(run, filled, "root@example.org", "--reason", "spam")
    assert threads() == before
    feed = _get(_app(filled), "/salon/threads.atom").text
    assert f"m/{_key(filled, LEAK_MID)}.html" in feed  # the thread's first message left
    found = run("search", "--archive", filled, "--json", "is:root passwords")
    assert [h["message_id"] for h in json.loads(found.output)["results"]] == [LEAK_MID]


def test_a_removal_keeps_every_list_on_the_built_sites_home(
    filled: Path, run: Run, tmp_path: Path
) -> None:
    assert run("init", filled, "--list", "other", "--title", "The Other List").exit_code == 0
    other = tmp_path / "other.eml"
    other.write_text(_message("o@example.org", "Other", "Other.", JAN.format(9)))
    assert run("import", "--archive", filled, "--list", "other", other).exit_code == 0
    assert run("build", "--archive", filled, "--no-search-index").exit_code == 0
    _remove(run, filled, LEAK_MID, "--reason", "leak")
    home = (filled / "site" / "index.html").read_text()
    assert "The Other List" in home
    assert "The Salon" in home


def test_removing_every_message_of_a_built_list_leaves_only_removed_pages(
    archive: Path, run: Run, tmp_path: Path
) -> None:
    one = tmp_path / "one.eml"
    one.write_text(LEAK)
    assert run("import", "--archive", archive, "--list", "salon", one).exit_code == 0
    assert run("build", "--archive", archive, "--no-search-index").exit_code == 0
    key = _key(archive, LEAK_MID)
    _remove(run, archive, LEAK_MID, "--reason", "leak")
    site = archive / "site"
    assert "This message was removed" in (site / "salon" / "m" / f"{key}.html").read_text()
    assert _site_holds(site, SECRET) == []


def test_the_search_page_no_longer_finds_it(filled: Path, run: Run) -> None:
    _remove(run, filled, LEAK_MID, "--reason", "leak")
    page = _get(_app(filled), "/search.html?q=swordfish")
    assert page.status_code == 200
    assert "March news" in page.text  # the other message with the word is still found
    assert f"Mine is {SECRET}" not in page.text
    assert _key_of_removed(filled) not in page.text
