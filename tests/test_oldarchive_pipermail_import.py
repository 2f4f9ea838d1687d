"""A real Pipermail archive brought over: every old message URL of the three real folders in
shared/corpus/old-archives/pipermail (a clean one, an early one without Message-IDs, a
re-archived one with stale pages) leads through `serve`'s 301, and through Debian's nginx
with the written map, to a page showing that message; period and index pages redirect; a
second import adds nothing. The truth is each folder's OLD-URLS.csv."""

from __future__ import annotations

import csv
import email.utils
import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from piperarc import config as configlib
from piperarc.model import Summary
from piperarc.store import open_store
from piperarc.web.app import create_app
from tests.conftest import cli, corpus_path, database_for
from tests.livehelpers import asgi_get
from tests.nginxhelpers import nginx_serving

FIXTURES = {
    "imagej-devel": "imagej-devel-2009-2010",
    "divunal-devel": "twisted-divunal-devel",
    "twisted-python": "twisted-python-selected",
}
_PERMALINK = re.compile(r"^/([^/]+)/m/([^/]+)\.html$")


@dataclass
class Imported:
    root: Path
    name: str
    truth: list[dict[str, str]]  # OLD-URLS.csv
    database: dict[tuple[str, int], dict[str, str]]  # MAPPING-from-database.csv
    first: str  # the first import's output
    second: str  # the second's
    by_key: dict[str, Summary]


def _import(tmp: Path, name: str, db_args: tuple[str, ...]) -> Imported:
    folder = corpus_path("old-archives", "pipermail", FIXTURES[name])
    root = tmp / "archive"
    assert cli("init", root, "--list", name, *db_args).exit_code == 0
    first = cli("import", "--archive", root, "--list", name, "--from", "pipermail", folder / name)
    assert first.exit_code == 0, first.output
    second = cli("import", "--archive", root, "--list", name, "--from", "pipermail", folder / name)
    with (folder / "OLD-URLS.csv").open(encoding="utf-8") as fh:
        truth = list(csv.DictReader(fh))
    with (folder / "MAPPING-from-database.csv").open(encoding="utf-8") as fh:
        database = {(r["period"], int(r["sequence"])): r for r in csv.DictReader(fh)}
    store = open_store(configlib.load(root).database, readonly=True)
    try:
        by_key = {s.key: s for s in store.summaries(name)}
    finally:
        store.close()
    return Imported(root, name, truth, database, first.output, second.output, by_key)


@pytest.fixture(scope="module", params=list(FIXTURES))
def imported(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Imported:
    return _import(tmp_path_factory.mktemp("pipermail"), request.param, ())


def _right(imp: Imported, row: dict[str, str], location: str) -> bool:
    """Whether `location` is the permalink of the message the old page showed."""
    found = _PERMALINK.match(location)
    if not found or found[1] != imp.name or found[2] not in imp.by_key:
        return False
    summary = imp.by_key[found[2]]
    wanted = row["message_id"].strip("<>")
    if summary.mid == wanted:
        return True
    if any(s.mid == wanted for s in imp.by_key.values()):
        return False  # another message has that Message-ID: this one is wrong
    # The old text kept no Message-IDs (early Pipermail): the Date header the database
    # recorded (its own epoch is off by the server's zone) and the subject.
    record = imp.database.get((row["period"], int(row["number"])))
    if not record:
        return False
    written = email.utils.parsedate_to_datetime(record["datestr"]).timestamp()
    return summary.date_utc == int(written) and summary.subject == " ".join(
        record["subject"].split()
    )


def _tally(imp: Imported, answer: dict[str, str]) -> tuple[int, int, int, list[str]]:
    """(right, wrong, total, database rows not right) over the old message URLs."""
    right = wrong = 0
    missed: list[str] = []
    for row in imp.truth:
        location = answer.get("/pipermail/" + row["old_url_path"], "")
        if _right(imp, row, location):
            right += 1
        else:
            if location:
                wrong += 1
            if row["how"] == "database":
                missed.append(row["old_url_path"])
    return right, wrong, len(imp.truth), missed


def _serve_answers(imp: Imported, paths: list[str]) -> dict[str, str]:
    app = create_app(configlib.load(imp.root))
    answers = {}
    for path in paths:
        response = asgi_get(app, path)
        if response.status_code == 301:
            answers[path] = response.headers["location"]
    return answers


def test_every_old_message_url_reaches_its_message_through_serve(imported: Imported) -> None:
    paths = ["/pipermail/" + row["old_url_path"] for row in imported.truth]
    right, wrong, total, missed = _tally(imported, _serve_answers(imported, paths))
    assert wrong == 0
    assert missed == []  # 100% where the old archive records the Message-ID
    assert right >= 0.99 * total, f"{right} of {total}"


def test_the_import_says_how_many_old_urls_were_mapped(imported: Imported) -> None:
    line = imported.first.strip().splitlines()[-1]
    assert re.match(r"old URLs: \d+ mapped \(\d+ new\), \d+ could not be", line), line


def test_a_second_import_adds_nothing(imported: Imported) -> None:
    assert "imported 0 new" in imported.second
    assert "(0 new)" in imported.second


def test_period_pages_and_downloads_lead_to_the_same_period(imported: Imported) -> None:
    app = create_app(configlib.load(imported.root))
    periods = sorted({row["period"] for row in imported.truth})
    for period in periods:
        for view in ("thread", "date", "subject", "author"):
            moved = asgi_get(app, f"/pipermail/{imported.name}/{period}/{view}.html")
            assert moved.status_code == 301, (period, view)
            assert moved.headers["location"].endswith(f"/{view}.html")
            assert asgi_get(app, moved.headers["location"]).status_code == 200
        moved = asgi_get(app, f"/pipermail/{imported.name}/{period}.txt.gz")
        assert moved.status_code == 301 and moved.headers["location"].endswith(".mbox.gz")
    home = asgi_get(app, f"/pipermail/{imported.name}/")
    assert (home.status_code, home.headers.get("location")) == (301, f"/{imported.name}/index.html")


def test_a_month_page_leads_to_the_month_holding_its_messages(imported: Imported) -> None:
    app = create_app(configlib.load(imported.root))
    month = sorted({row["period"] for row in imported.truth if row["period"][:1] == "2"})[0]
    moved = asgi_get(app, f"/pipermail/{imported.name}/{month}/date.html")
    year, name = month.split("-")
    number = ["January", "February", "March", "April", "May", "June", "July", "August",
              "September", "October", "November", "December"].index(name) + 1  # fmt: skip
    assert moved.headers["location"] == f"/{imported.name}/{year}-{number:02d}/date.html"


def test_every_old_url_goes_through_nginx_with_the_written_map(
    imported: Imported, tmp_path: Path
) -> None:
    out = tmp_path / "site"
    built = cli("build", "--archive", imported.root, "--out", out, "--no-search-index")
    assert built.exit_code == 0, built.output
    answers: dict[str, str] = {}
    with nginx_serving(out, tmp_path / "nginx") as base, httpx.Client(base_url=base) as client:
        for row in imported.truth:
            path = "/pipermail/" + row["old_url_path"]
            moved = client.get(path)
            if moved.status_code == 301:
                answers[path] = httpx.URL(moved.headers["location"]).path
        # and the page it leads to is there
        some = next(iter(answers.values()))
        assert client.get(some).status_code == 200
    right, wrong, total, missed = _tally(imported, answers)
    assert (wrong, missed) == (0, [])
    assert right >= 0.99 * total


def test_pages_at_the_old_paths_send_a_reader_on_where_nothing_redirects(
    imported: Imported, tmp_path: Path
) -> None:
    out = tmp_path / "site"
    cli("build", "--archive", imported.root, "--out", out, "--no-search-index", "--jobs", "1")
    built = configlib.load(imported.root)
    del built
    row = imported.truth[0]
    # The site is served at "/", so the old /pipermail/ paths are under it.
    page = (out / "pipermail" / row["old_url_path"]).read_text(encoding="utf-8")
    assert 'http-equiv="refresh"' in page and 'rel="canonical"' in page


@pytest.fixture(scope="module")
def on_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Imported]:
    with database_for("postgresql") as args:
        yield _import(tmp_path_factory.mktemp("pipermail-pg"), "twisted-python", args)


def test_the_re_archived_list_maps_the_same_on_postgresql(on_postgres: Imported) -> None:
    paths = ["/pipermail/" + row["old_url_path"] for row in on_postgres.truth]
    right, wrong, total, missed = _tally(on_postgres, _serve_answers(on_postgres, paths))
    assert (wrong, missed) == (0, [])
    assert right >= 0.99 * total
    assert "imported 0 new" in on_postgres.second


def test_a_copy_of_the_folder_with_a_damaged_database_still_imports(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "imagej-devel"
    shutil.copytree(
        corpus_path("old-archives", "pipermail", FIXTURES["imagej-devel"], "imagej-devel"), folder
    )
    damaged = folder / "database" / "2009-December-article"
    damaged.write_bytes(damaged.read_bytes()[:40])
    root = tmp_path / "archive"
    cli("init", root, "--list", "imagej-devel")
    result = cli("import", "--archive", root, "--from", "pipermail", folder)
    assert result.exit_code == 1
    assert "2009-December-article" in result.stderr
    assert "Traceback" not in result.output
    # The pages of that month still map, by their own reply links (Mailman 2.1.10+).
    app = create_app(configlib.load(root))
    moved = asgi_get(app, "/pipermail/imagej-devel/2009-December/000002.html")
    assert moved.status_code == 301


def test_a_folder_that_is_not_pipermail_is_one_clear_line(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    cli("init", root, "--list", "salon")
    (tmp_path / "not-an-archive").mkdir()
    (tmp_path / "not-an-archive" / "readme.txt").write_text("hello")
    result = cli("import", "--archive", root, "--from", "pipermail", tmp_path / "not-an-archive")
    assert result.exit_code == 1
    assert "not a Pipermail archive" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("imported", ["imagej-devel", "twisted-python"], indirect=True)
def test_a_scrubbed_attachments_old_url_leads_to_its_message(imported: Imported) -> None:
    folder = corpus_path("old-archives", "pipermail", FIXTURES[imported.name], imported.name)
    files = sorted(p for p in (folder / "attachments").rglob("*") if p.is_file())
    assert files
    app = create_app(configlib.load(imported.root))
    for file in files:
        path = f"/pipermail/{imported.name}/{file.relative_to(folder).as_posix()}"
        moved = asgi_get(app, path)
        assert moved.status_code == 301, path
        # Taken from the text archive, the message has no attachment: its page, then.
        assert _PERMALINK.match(moved.headers["location"]), moved.headers["location"]


def test_show_lists_a_messages_old_urls(imported: Imported) -> None:
    row = next(r for r in imported.truth if r["how"] == "database")
    location = _serve_answers(imported, ["/pipermail/" + row["old_url_path"]])
    key = _PERMALINK.match(next(iter(location.values())))
    assert key is not None
    mid = imported.by_key[key[2]].mid
    shown = cli("show", "--archive", imported.root, "--list", imported.name, "--json", mid)
    assert "/pipermail/" + row["old_url_path"] in json.loads(shown.stdout)["old_urls"]


def test_a_quarterly_volume_leads_to_the_period_holding_its_first_message(
    tmp_path: Path,
) -> None:
    # The clean archive, its November volume renamed as Pipermail names a quarter's.
    folder = tmp_path / "imagej-devel"
    shutil.copytree(
        corpus_path("old-archives", "pipermail", FIXTURES["imagej-devel"], "imagej-devel"), folder
    )
    (folder / "2009-November").rename(folder / "2009q4")
    for old in [*folder.glob("2009-November.*"), *(folder / "database").glob("2009-November-*")]:
        old.rename(old.with_name(old.name.replace("2009-November", "2009q4")))
    root = tmp_path / "archive"
    cli("init", root, "--list", "imagej-devel")
    result = cli("import", "--archive", root, "--from", "pipermail", folder)
    assert result.exit_code == 0, result.output
    app = create_app(configlib.load(root))
    moved = asgi_get(app, "/pipermail/imagej-devel/2009q4/thread.html")
    assert (moved.status_code, moved.headers["location"]) == (
        301,
        "/imagej-devel/2009-11/thread.html",
    )
    assert asgi_get(app, "/pipermail/imagej-devel/2009q4/000000.html").status_code == 301


def test_with_only_the_pages_left_the_messages_are_rebuilt_from_them(tmp_path: Path) -> None:
    # The re-archived list with its text archives gone: only the article pages remain.
    name = "twisted-python"
    folder = tmp_path / name
    shutil.copytree(corpus_path("old-archives", "pipermail", FIXTURES[name], name), folder)
    for text in [*folder.glob("*.txt"), *folder.glob("*.txt.gz")]:
        text.unlink()
    root = tmp_path / "archive"
    cli("init", root, "--list", name)
    result = cli("import", "--archive", root, "--from", "pipermail", folder)
    assert result.exit_code == 0, result.output
    assert "messages taken from the old pages" in result.output
    store = open_store(configlib.load(root).database, readonly=True)
    try:
        by_key = {s.key: s for s in store.summaries(name)}
    finally:
        store.close()
    truth_file = corpus_path("old-archives", "pipermail", FIXTURES[name], "OLD-URLS.csv")
    with truth_file.open(encoding="utf-8") as fh:
        truth = list(csv.DictReader(fh))
    imp = Imported(root, name, truth, {}, result.output, "", by_key)
    paths = ["/pipermail/" + row["old_url_path"] for row in truth]
    right, wrong, total, missed = _tally(imp, _serve_answers(imp, paths))
    assert (wrong, missed) == (0, [])
    assert right >= 0.99 * total, f"{right} of {total}"
    first = next(iter(_serve_answers(imp, paths[:1]).values()))
    assert "Not the original message." in asgi_get(create_app(configlib.load(root)), first).text


def test_a_page_whose_message_nobody_imported_is_listed_not_redirected(tmp_path: Path) -> None:
    # The clean archive, one message cut out of its December text archive.
    folder = tmp_path / "imagej-devel"
    shutil.copytree(
        corpus_path("old-archives", "pipermail", FIXTURES["imagej-devel"], "imagej-devel"), folder
    )
    text = (folder / "2009-December.txt").read_bytes()
    starts = [m.start() for m in re.finditer(rb"(?m)^From ", text)]
    (folder / "2009-December.txt").write_bytes(text[: starts[0]] + text[starts[1] :])
    root = tmp_path / "archive"
    cli("init", root, "--list", "imagej-devel")
    result = cli("import", "--archive", root, "--from", "pipermail", folder)
    assert result.exit_code == 0, result.output
    last = result.stdout.strip().splitlines()[-1]
    assert ", 1 could not be (listed in " in last
    listing = root / "old-urls-imagej-devel-pipermail-unmapped.txt"
    [line] = listing.read_text(encoding="utf-8").splitlines()
    path, reason = line.split("\t")
    assert path == "/pipermail/imagej-devel/2009-December/000002.html"
    assert "no imported message has that Message-ID" in reason
    assert asgi_get(create_app(configlib.load(root)), path).status_code == 404


def _mailman2_layout(tmp_path: Path, public: bool) -> Path:
    """imagej-devel as Mailman 2 keeps it: archives/private/NAME, and archives/public
    holding a link to it only if the list was public."""
    archives = tmp_path / "archives"
    folder = archives / "private" / "imagej-devel"
    shutil.copytree(
        corpus_path("old-archives", "pipermail", FIXTURES["imagej-devel"], "imagej-devel"), folder
    )
    (archives / "public").mkdir()
    if public:
        (archives / "public" / "imagej-devel").symlink_to(folder)
    return folder


def test_an_archive_mailman_2_kept_private_is_not_imported_into_a_public_list(
    tmp_path: Path,
) -> None:
    folder = _mailman2_layout(tmp_path, public=False)
    root = tmp_path / "archive"
    assert cli("init", root, "--list", "imagej-devel").exit_code == 0
    result = cli("import", "--archive", root, "--from", "pipermail", folder)
    assert result.exit_code == 1
    assert "Mailman 2 kept this archive private" in result.output
    store = open_store(configlib.load(root).database, readonly=True)
    try:
        assert "imagej-devel" not in store.list_names()  # nothing stored
    finally:
        store.close()


def test_an_archive_mailman_2_kept_private_comes_into_a_private_list(tmp_path: Path) -> None:
    folder = _mailman2_layout(tmp_path, public=False)
    root = tmp_path / "archive"
    made = cli("init", root, "--list", "imagej-devel", "--private", "--members", "m.txt")
    assert made.exit_code == 0
    result = cli("import", "--archive", root, "--from", "pipermail", folder)
    assert result.exit_code == 0, result.output


def test_an_archive_mailman_2_published_comes_into_a_public_list(tmp_path: Path) -> None:
    folder = _mailman2_layout(tmp_path, public=True)
    root = tmp_path / "archive"
    assert cli("init", root, "--list", "imagej-devel").exit_code == 0
    result = cli("import", "--archive", root, "--from", "pipermail", folder)
    assert result.exit_code == 0, result.output
