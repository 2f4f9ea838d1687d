"""`piperarc deliver`: one message on stdin, sysexits codes, and the built site kept current
page by page (the same pages a full build writes)."""

from __future__ import annotations

import filecmp
import gzip
import re
import resource
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from piperarc import config as configlib
from piperarc.ingest.sources.sample import sample_messages
from piperarc.render.text import human_size
from piperarc.site import build as site
from piperarc.site.build import MARKER
from piperarc.store import open_store
from piperarc.web.app import create_app
from tests.conftest import Run
from tests.livehelpers import asgi_get

REPLY = (
    b"From: Ada <ada@example.org>\nTo: salon@example.org\nSubject: Re: Welcome\n"
    b"Message-ID: <live-reply@example.org>\nIn-Reply-To: <%s>\n"
    b"Date: Mon, 15 Jan 2024 10:00:00 +0000\n\nA reply delivered live.\n"
)


def _count(archive: Path) -> int:
    store = open_store(configlib.load(archive).database, readonly=True)
    try:
        return store.stats("salon").messages if "salon" in store.list_names() else 0
    finally:
        store.close()


def test_a_delivered_message_is_stored_and_deliver_exits_0(run: Run, archive: Path) -> None:
    result = run("deliver", "--archive", archive, "--list", "salon", input=sample_messages()[0])
    assert result.exit_code == 0, result.output
    assert _count(archive) == 1


def test_delivering_the_same_message_twice_exits_0_and_stores_it_once(
    run: Run, archive: Path
) -> None:
    for _ in range(2):
        result = run("deliver", "--archive", archive, "--list", "salon", input=sample_messages()[0])
        assert result.exit_code == 0, result.output
    assert _count(archive) == 1


def test_odd_mail_is_stored_as_damaged_and_deliver_exits_0(run: Run, archive: Path) -> None:
    odd = b"Subject: =?bogus?Q?x?=\nContent-Type: multipart/mixed; boundary=\n\n\xff\xfe\x00body\n"
    result = run("deliver", "--archive", archive, "--list", "salon", input=odd)
    assert result.exit_code == 0, result.output
    assert _count(archive) == 1


def test_an_unknown_list_exits_67_ex_nouser(run: Run, archive: Path) -> None:
    result = run("deliver", "--archive", archive, "--list", "nope", input=sample_messages()[0])
    assert result.exit_code == 67
    assert "no list named 'nope'" in result.stderr


def test_a_folder_that_is_no_archive_exits_78_ex_config(run: Run, tmp_path: Path) -> None:
    result = run("deliver", "--archive", tmp_path, "--list", "salon", input=sample_messages()[0])
    assert result.exit_code == 78


def test_empty_input_exits_65_ex_dataerr(run: Run, archive: Path) -> None:
    result = run("deliver", "--archive", archive, "--list", "salon", input=b"")
    assert result.exit_code == 65


@contextmanager
def _locked(archive: Path) -> Iterator[None]:
    """Another writer holding the archive: SQLite's write lock, or the list's row on
    PostgreSQL (what every writer of the list takes first)."""
    database = configlib.load(archive).database
    if isinstance(database, Path):
        locker = sqlite3.connect(database, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        return
    import psycopg

    with psycopg.connect(database) as conn:
        conn.execute("SELECT 1 FROM lists WHERE name = 'salon' FOR UPDATE")
        try:
            yield
        finally:
            conn.rollback()


def test_a_locked_archive_exits_75_ex_tempfail_and_stores_nothing(run: Run, archive: Path) -> None:
    run("deliver", "--archive", archive, "--list", "salon", input=sample_messages()[0])
    with _locked(archive):
        result = run(
            "deliver", "--archive", archive, "--list", "salon", "--wait", "0.2",
            input=sample_messages()[1],
        )  # fmt: skip
    assert result.exit_code == 75
    assert "try again later" in result.stderr
    assert _count(archive) == 1


def _file_size_limited(limit: int) -> None:
    """In the child: files may not grow past `limit` bytes, as on a full disk (writes fail
    with EFBIG; SIGXFSZ ignored so the write returns the error instead of killing)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_a_full_disk_exits_75_ex_tempfail_and_a_later_delivery_stores_it(
    run: Run, tmp_path: Path
) -> None:
    # SQLite only: on PostgreSQL the server's disk fills, not this process's.
    root = tmp_path / "archive"
    run("init", root, "--list", "salon")
    lines = b"".join(b"line %d of a long message\n" % i for i in range(40_000))
    big = REPLY % b"nothing@example.org" + lines
    deliver = [sys.executable, "-m", "piperarc.cli", "deliver", "--archive", str(root)]
    full = subprocess.run(
        [*deliver, "--list", "salon"],
        input=big,
        capture_output=True,
        preexec_fn=lambda: _file_size_limited(256 * 1024),
        check=False,
    )
    assert full.returncode == 75, full.stderr
    assert b"try again later" in full.stderr
    assert _count(root) == 0  # nothing half-stored: the archive opens and holds nothing
    again = subprocess.run([*deliver, "--list", "salon"], input=big, capture_output=True)
    assert again.returncode == 0, again.stderr
    assert _count(root) == 1


def _site_files(site: Path) -> set[str]:
    skip = {MARKER, ".piperarc-build.lock", "search.html"}
    return {
        str(p.relative_to(site))
        for p in site.rglob("*")
        if p.is_file() and p.name not in skip and not p.name.endswith(".tmp")
    }


_DOWNLOAD_SIZE = re.compile(
    r'href="\.\./salon/([^"/]+)\.mbox\.gz" download>mbox\.gz</a> \(([^)]*)\)'
)


def _without_sizes(page: Path) -> str:
    return _DOWNLOAD_SIZE.sub("", page.read_text(encoding="utf-8"))


def test_delivered_mail_updates_the_built_site_to_what_a_full_build_writes(
    run: Run, archive: Path, tmp_path: Path
) -> None:
    messages = sample_messages()
    half = len(messages) // 2
    for raw in messages[:half]:
        assert run("deliver", "--archive", archive, "--list", "salon", input=raw).exit_code == 0
    assert run("build", "--archive", archive, "--no-search-index", "--jobs", "1").exit_code == 0
    # The rest in reverse: replies before their parents, so threads merge as parents arrive.
    for raw in reversed(messages[half:]):
        assert run("deliver", "--archive", archive, "--list", "salon", input=raw).exit_code == 0
    fresh = tmp_path / "fresh"
    result = run("build", "--archive", archive, "--out", fresh, "--no-search-index", "--jobs", "1")
    assert result.exit_code == 0
    live, full = archive / "site", fresh
    # Threads that merged as their parents arrived leave their old files: the page as a
    # redirect to the merged thread (links never break), the feed and mbox as they were.
    extra = _site_files(live) - _site_files(full)
    assert _site_files(full) <= _site_files(live)
    assert all(name.startswith("salon/t/") for name in extra), extra
    # A period's download grows by a gzip member per delivery: the same mbox inside, in a
    # file a little larger, whose size the list's home gives.
    differ = [
        name
        for name in sorted(_site_files(full))
        if not filecmp.cmp(live / name, full / name, shallow=False)
        and not (
            name.endswith(".mbox.gz")
            and gzip.decompress((live / name).read_bytes())
            == gzip.decompress((full / name).read_bytes())
        )
        and not (
            name == "salon/index.html"
            and _without_sizes(live / name) == _without_sizes(full / name)
        )
    ]
    assert differ == []
    home = (live / "salon" / "index.html").read_text(encoding="utf-8")
    listed = _DOWNLOAD_SIZE.findall(home)
    assert len(listed) == len(list((live / "salon").glob("*.mbox.gz")))
    for period, shown in listed:
        assert shown == human_size((live / "salon" / f"{period}.mbox.gz").stat().st_size)


def test_a_delivery_before_the_first_build_leaves_no_site(run: Run, archive: Path) -> None:
    run("deliver", "--archive", archive, "--list", "salon", input=sample_messages()[0])
    assert not (archive / "site").exists()


def test_serve_shows_a_message_delivered_by_another_process_at_once(
    run: Run, archive: Path
) -> None:
    run("deliver", "--archive", archive, "--list", "salon", input=sample_messages()[0])
    app = create_app(configlib.load(archive))
    try:
        before = asgi_get(app, "/salon/index.html")
        assert before.status_code == 200
        parent = sample_messages()[0].split(b"Message-ID: <", 1)[1].split(b">", 1)[0]
        result = run("deliver", "--archive", archive, "--list", "salon", input=REPLY % parent)
        assert result.exit_code == 0
        found = asgi_get(app, "/mid/live-reply@example.org")
        assert found.status_code in (301, 302, 303, 307, 308)
        page = asgi_get(app, found.headers["location"].split("http://test")[-1])
        assert "A reply delivered live." in page.text
        assert asgi_get(app, "/salon/index.html").text != before.text
    finally:
        app.state.archive.close()


@pytest.mark.parametrize("listed", ["salon@example.org", "SALON@lists.example.net"])
def test_a_list_is_found_by_its_address_or_its_name_at_any_domain(
    archive: Path, listed: str
) -> None:
    from piperarc.ingest.live import list_for_address

    config = configlib.load(archive)
    found = list_for_address(config, listed)
    assert found is not None and found.name == "salon"
    assert list_for_address(config, "nobody@example.org") is None


def test_a_delivered_reply_gets_its_page_before_the_rest_of_its_thread(
    run: Run, archive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for raw in sample_messages():
        run("deliver", "--archive", archive, "--list", "salon", input=raw)
    assert run("build", "--archive", archive, "--no-search-index", "--jobs", "1").exit_code == 0
    written: list[str] = []
    write = site.Writer.write

    def recording(self: site.Writer, path: str, data: bytes | str) -> None:
        written.append(path)
        write(self, path, data)

    monkeypatch.setattr(site.Writer, "write", recording)
    reply = REPLY % b"sample-1@example.org"
    assert run("deliver", "--archive", archive, "--list", "salon", input=reply).exit_code == 0
    pages = [p for p in written if p.startswith("salon/m/") and p.endswith(".html")]
    assert len(pages) > 2  # its thread's other pages were rewritten too (they list replies)
    first = (archive / "site" / pages[0]).read_text(encoding="utf-8")
    assert "A reply delivered live." in first


def test_an_import_into_a_built_archive_updates_its_site(
    run: Run, archive: Path, tmp_path: Path
) -> None:
    messages = sample_messages()
    run("deliver", "--archive", archive, "--list", "salon", input=messages[0])
    assert run("build", "--archive", archive, "--no-search-index", "--jobs", "1").exit_code == 0
    mbox = tmp_path / "more.mbox"
    mbox.write_bytes(
        b"".join(b"From x@y Mon Jan  1 00:00:00 2024\n" + m + b"\n" for m in messages[1:4])
    )
    assert run("import", "--archive", archive, "--list", "salon", mbox).exit_code == 0
    store = open_store(configlib.load(archive).database, readonly=True)
    try:
        keys = [s.key for s in store.summaries("salon")]
    finally:
        store.close()
    assert len(keys) == 4
    assert all((archive / "site" / "salon" / "m" / f"{key}.html").exists() for key in keys)
