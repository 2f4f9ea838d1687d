"""Reading a Pipermail (Mailman 2) archive folder: which message each old page shows, its
period pages and text archives. The truth is each corpus folder's OLD-URLS.csv (every
article URL and the Message-ID it shows) and MAPPING-from-database.csv (every database row),
made by hand from the folders (../shared/corpus/old-archives/pipermail/*/PROVENANCE.txt)."""

from __future__ import annotations

import csv
import marshal
import os
import pickle
import shutil
import stat
from pathlib import Path

import pytest

from piperarc.errors import SourceError
from piperarc.ingest.oldarchive import pipermail
from piperarc.ingest.oldarchive.found import OldArchive, OldMessagePage
from piperarc.ingest.oldarchive.pipermail_db import DatabaseError, load_py2_marshal
from piperarc.ingest.oldarchive.shown_dates import shown_date
from tests.conftest import corpus_path

pytestmark = pytest.mark.corpus

FIXTURES = {
    "imagej": ("imagej-devel-2009-2010", "imagej-devel"),
    "divunal": ("twisted-divunal-devel", "divunal-devel"),
    "twisted-python": ("twisted-python-selected", "twisted-python"),
}


def fixture_dir(name: str) -> Path:
    return corpus_path("old-archives", "pipermail", FIXTURES[name][0])


def folder_of(name: str) -> Path:
    return fixture_dir(name) / FIXTURES[name][1]


def truth(name: str) -> dict[str, dict[str, str]]:
    """OLD-URLS.csv by path relative to the list's folder."""
    with (fixture_dir(name) / "OLD-URLS.csv").open(newline="") as f:
        return {row["old_url_path"].split("/", 1)[1]: row for row in csv.DictReader(f)}


def database_dates(name: str) -> dict[str, int]:
    """MAPPING-from-database.csv: each Message-ID (without <>) to the epoch it recorded."""
    with (fixture_dir(name) / "MAPPING-from-database.csv").open(newline="") as f:
        return {row["msgid"]: int(row["date"]) for row in csv.DictReader(f)}


def bracketed(mid: str) -> str:
    # OLD-URLS.csv writes a Message-ID as the header had it; 8 twisted-python ones came
    # without <> (Trac's weekly summaries). The reader always gives it with <>.
    return f"<{mid.strip().strip('<>')}>"


def by_path(archive: OldArchive) -> dict[str, OldMessagePage]:
    return {page.path: page for page in archive.messages}


def writable_copy(src: Path, dest: Path) -> Path:
    """A copy of a (read-only) corpus folder that a test may damage."""
    shutil.copytree(src, dest, symlinks=True)
    for root, dirs, files in os.walk(dest):
        for name in dirs + files:
            path = Path(root) / name
            if not path.is_symlink():
                path.chmod(path.stat().st_mode | stat.S_IWUSR)
    dest.chmod(dest.stat().st_mode | stat.S_IWUSR)
    return dest


def py2_article_table(articles: dict[bytes, bytes]) -> bytes:
    """A database/PERIOD-article file as Mailman 2 wrote it: a marshal of a dict from
    Message-ID to pickle string (marshal version 2 writes the same codes Python 2 did)."""
    return marshal.dumps(articles, 2)


# --- which message each page shows ----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "rows"), [("imagej", 23), ("divunal", 107), ("twisted-python", 103)]
)
def test_every_page_the_database_maps_gets_that_message_id_from_the_database(
    name: str, rows: int
) -> None:
    pages = by_path(pipermail.read(folder_of(name)))
    expected = {path: row for path, row in truth(name).items() if row["how"] == "database"}
    assert len(expected) == rows
    for path, row in expected.items():
        assert (pages[path].mid, pages[path].how) == (bracketed(row["message_id"]), "database")


@pytest.mark.parametrize("name", FIXTURES)
def test_every_article_page_is_read_once_with_its_volume_and_number(name: str) -> None:
    archive = pipermail.read(folder_of(name))
    assert sorted(page.path for page in archive.messages) == sorted(truth(name))
    for page in archive.messages:
        row = truth(name)[page.path]
        assert (page.volume, page.number) == (row["period"], int(row["number"]))
    assert archive.problems == []


def test_imagej_pages_reply_links_name_the_same_message_as_the_database() -> None:
    folder = folder_of("imagej")
    for page in pipermail.read(folder).messages:
        html = pipermail.page_text((folder / page.path).read_bytes())
        assert pipermail.reply_link_mid(html) == page.mid


def test_no_twisted_python_page_gets_a_wrong_message_id() -> None:
    known = truth("twisted-python")
    pages = pipermail.read(folder_of("twisted-python")).messages
    with_mid = [page for page in pages if page.mid is not None]
    assert len(with_mid) >= 103
    for page in with_mid:
        assert page.mid == bracketed(known[page.path]["message_id"]), page.path


def test_stale_twisted_python_pages_show_their_message_by_date_subject_and_author() -> None:
    known = truth("twisted-python")
    dates = database_dates("twisted-python")
    stale = [
        p
        for p in pipermail.read(folder_of("twisted-python")).messages
        if known[p.path]["how"].startswith("stale-copy")
    ]
    assert len(stale) == 81
    for page in stale:
        row = known[page.path]
        assert page.mid in (None, bracketed(row["message_id"]))
        # The shown date (EST/EDT on old pages, MST/MDT on regenerated ones) is the instant
        # the database recorded for that message.
        assert page.date is not None
        assert abs(page.date - dates[row["message_id"].strip("<>")]) <= 2, page.path
        assert page.subject == row["title"]
        assert page.author


def test_an_old_pages_reply_link_holding_the_parents_id_is_not_taken_as_its_own() -> None:
    folder = folder_of("twisted-python")
    html = pipermail.page_text((folder / "2001-March/000007.html").read_bytes())
    assert "In-Reply-To=3AAF3E8C.23030.A99C17%40localhost" in html  # the parent's id
    assert pipermail.reply_link_mid(html) is None
    page = by_path(pipermail.read(folder))["2001-March/000007.html"]
    assert (page.mid, page.how) == (None, "shown")


def test_a_regenerated_page_without_a_database_row_gets_its_id_from_its_reply_link() -> None:
    page = by_path(pipermail.read(folder_of("twisted-python")))["2001-March/000008.html"]
    assert (page.mid, page.how) == ("<200103172255.GAA20474@ns2.trafficmagnet.net>", "reply-link")


def test_a_page_shows_its_subject_author_and_date() -> None:
    page = by_path(pipermail.read(folder_of("imagej")))["2009-November/000000.html"]
    assert page.subject == "[ImageJ-devel] Mailing list for ImageJ developers"
    assert page.author == "Curtis Rueden"
    assert page.date == 1258067056  # Thu Nov 12 17:04:16 CST 2009


def test_the_message_dated_1945_keeps_its_date_before_the_epoch() -> None:
    page = by_path(pipermail.read(folder_of("twisted-python")))["1945-February/002044.html"]
    assert page.date == -785633486  # Wed Feb  7 20:28:34 EDT 1945, as the database has it


def test_attachments_linked_by_absolute_url_are_listed_from_attachments() -> None:
    page = by_path(pipermail.read(folder_of("imagej")))["2009-November/000000.html"]
    assert page.attachments == ("attachments/20091112/06977de8/attachment.html",)
    assert (folder_of("imagej") / page.attachments[0]).is_file()


def test_attachments_linked_by_path_are_listed_without_their_digest_twins() -> None:
    page = by_path(pipermail.read(folder_of("twisted-python")))["2021-May/065606.html"]
    assert page.attachments == ("attachments/20210501/49179482/attachment.htm",)


# --- index pages, downloads and sources -----------------------------------------------------


def test_the_home_page_is_listed() -> None:
    pages = pipermail.read(folder_of("imagej")).pages
    assert [(p.path, p.volume) for p in pages if p.kind == "home"] == [("index.html", None)]


def test_every_period_view_is_listed_with_its_volume() -> None:
    pages = pipermail.read(folder_of("imagej")).pages
    views = {(p.path, p.volume) for p in pages if p.kind == "period"}
    volumes = ["2009-November", "2009-December", "2010-January", "2010-February", "2010-March"]
    names = ["index.html", "thread.html", "date.html", "subject.html", "author.html"]
    assert views == {(f"{v}/{n}", v) for v in volumes for n in names}


def test_both_download_names_are_listed_when_only_the_gzipped_one_exists() -> None:
    folder = folder_of("divunal")
    assert not (folder / "1999-June.txt").exists()
    downloads = {(p.path, p.volume) for p in pipermail.read(folder).pages if p.kind == "download"}
    assert ("1999-June.txt", "1999-June") in downloads
    assert ("1999-June.txt.gz", "1999-June") in downloads
    assert len(downloads) == 12


def test_divunal_sources_are_its_six_gzipped_text_archives_in_order() -> None:
    folder = folder_of("divunal")
    sources = pipermail.read(folder).sources
    volumes = [
        "1999-June",
        "1999-July",
        "1999-August",
        "1999-September",
        "1999-December",
        "2000-January",
    ]
    assert [(s.path, s.volume) for s in sources] == [(folder / f"{v}.txt.gz", v) for v in volumes]
    assert "From, Date and Subject" in sources[0].note  # Pipermail 0.05 kept no more


def test_sources_are_the_plain_text_archives_where_they_exist_and_never_both() -> None:
    folder = folder_of("twisted-python")
    sources = pipermail.read(folder).sources
    assert [s.path.name for s in sources] == [
        "1945-February.txt",
        "2001-March.txt",
        "2001-April.txt",
        "2001-May.txt",
        "2021-May.txt",
        "2021-June.txt",
    ]
    assert sources[1].note == (
        'From Pipermail\'s text archive of 2001-March: addresses were written "at" and '
        "attachments removed by Pipermail."
    )


# --- what cannot be read --------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["truncated", "garbled"])
def test_a_damaged_database_file_is_one_problem_and_every_page_is_still_read(
    tmp_path: Path, damage: str
) -> None:
    folder = writable_copy(folder_of("imagej"), tmp_path / "imagej-devel")
    article = folder / "database" / "2010-March-article"
    data = article.read_bytes()
    article.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"\x93" + data[1:])
    archive = pipermail.read(folder)
    assert len(archive.problems) == 1
    assert "2010-March-article" in archive.problems[0]
    assert len(archive.messages) == 23
    known = truth("imagej")
    for page in archive.messages:
        # The pages of that month still say which message they show, in their reply links.
        expected_how = "reply-link" if page.volume == "2010-March" else "database"
        assert (page.mid, page.how) == (known[page.path]["message_id"], expected_how)


def test_a_damaged_article_in_a_readable_database_is_one_problem(tmp_path: Path) -> None:
    folder = writable_copy(folder_of("divunal"), tmp_path / "divunal-devel")
    article = folder / "database" / "1999-June-article"
    table = load_py2_marshal(article.read_bytes())
    assert isinstance(table, dict)
    first = next(iter(table))
    table[first] = b"(iMailman.Archiver.HyperArch\nArticle\n(dp0\nS'msgid"  # cut short
    article.write_bytes(py2_article_table(table))
    archive = pipermail.read(folder)
    assert len(archive.problems) == 1
    assert "1 of 34 articles cannot be read" in archive.problems[0]
    assert sum(page.how == "database" for page in archive.messages) == 106
    assert len(archive.messages) == 107


class _Hostile:
    """What an attacker would pickle: calling os.system when loaded."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (self.command,))


@pytest.mark.parametrize("form", ["protocol-0", "protocol-2", "inst"])
def test_a_pickle_naming_any_other_class_is_refused_and_never_run(
    tmp_path: Path, form: str
) -> None:
    folder = writable_copy(folder_of("imagej"), tmp_path / "imagej-devel")
    marker = tmp_path / "ran"
    command = f"touch {marker}"
    if form == "inst":  # the opcode Pipermail's own Articles use, naming another class
        hostile = b"(S'" + command.encode() + b"'\nios\nsystem\n."
    else:
        hostile = pickle.dumps(_Hostile(command), protocol=int(form[-1]))
    (folder / "database" / "2009-November-article").write_bytes(
        py2_article_table({b"evil@example.com": hostile})
    )
    archive = pipermail.read(folder)
    assert not marker.exists()
    assert len(archive.problems) == 1
    assert "refused to load" in archive.problems[0]
    assert "system" in archive.problems[0]
    assert len(archive.messages) == 23


def test_a_page_whose_reply_link_disagrees_with_the_database_is_taken_at_its_word(
    tmp_path: Path,
) -> None:
    # A row left by another run of the archiver that reused the number must not name the
    # message a regenerated page shows; the disagreement is reported.
    folder = writable_copy(folder_of("imagej"), tmp_path / "imagej-devel")
    page = folder / "2009-November" / "000000.html"
    own = "%3C857a86450911121504p45be723aq8280afa0ee6f2e7b%40mail.gmail.com%3E"
    page.write_text(page.read_text().replace(own, "%3Cother%40example.org%3E"))
    archive = pipermail.read(folder)
    found = by_path(archive)["2009-November/000000.html"]
    assert (found.mid, found.how) == ("<other@example.org>", "reply-link")
    assert len(archive.problems) == 1
    assert "the page's own link was taken" in archive.problems[0]


def test_an_unreadable_page_is_one_problem_and_still_listed(tmp_path: Path) -> None:
    folder = writable_copy(folder_of("imagej"), tmp_path / "imagej-devel")
    page = folder / "2010-January" / "000010.html"
    page.unlink()
    page.mkdir()  # reading it now fails, as an unreadable file would
    archive = pipermail.read(folder)
    assert len(archive.problems) == 1
    assert archive.problems[0].startswith("2010-January/000010.html: cannot be read")
    found = by_path(archive)["2010-January/000010.html"]
    assert found.how == "database"  # the database still says which message it was
    assert (found.subject, found.date) == ("", None)


def test_an_empty_folder_is_not_a_pipermail_archive(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as err:
        pipermail.read(tmp_path)
    assert "not a Pipermail archive folder" in str(err.value)
    assert "expected" in str(err.value)
    assert err.value.path == str(tmp_path)


def test_a_folder_of_other_html_is_not_a_pipermail_archive(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<html><body>hello</body></html>")
    (tmp_path / "2009-November").mkdir()
    (tmp_path / "2009-November" / "page.html").write_text("<html></html>")
    with pytest.raises(SourceError, match=r"not a Pipermail archive folder: .*000000\.html"):
        pipermail.read(tmp_path)


# --- a folder made here: other volume names, a new-format page ------------------------------


REPLY = "mailto:salon%40example.org?Subject=Re%3A%20Hello&In-Reply-To=%3C{id}%40example.org%3E"
NEW_PAGE = """<HTML><HEAD><TITLE> [Salon] Hello &amp; welcome
   </TITLE>
   <LINK REL="made" HREF="{reply}">
 </HEAD><BODY>
   <H1>[Salon] Hello &amp; welcome</H1>
    <B>Ann &lt;A&gt; Smith</B>
    <A HREF="{reply}"
       TITLE="[Salon] Hello">ann at example.org</A><BR>
    <I>{date}</I>
<!--beginarticle--><PRE>Hi</PRE><!--endarticle-->
</BODY></HTML>
"""


def test_weekly_volumes_are_read_in_order_from_their_reply_links(tmp_path: Path) -> None:
    for volume, number, day in [
        ("2009-Week-of-Mon-20091109", 1, 10),
        ("2009-Week-of-Mon-20091102", 0, 3),
    ]:
        (tmp_path / volume).mkdir()
        page = NEW_PAGE.format(
            reply=REPLY.format(id=f"m{number}"), date=f"Tue Nov {day} 09:00:00 CET 2009"
        )
        (tmp_path / volume / f"{number:06d}.html").write_text(page)
        (tmp_path / f"{volume}.txt.gz").write_bytes(b"")
    archive = pipermail.read(tmp_path)
    assert [(p.path, p.mid, p.how) for p in archive.messages] == [
        ("2009-Week-of-Mon-20091102/000000.html", "<m0@example.org>", "reply-link"),
        ("2009-Week-of-Mon-20091109/000001.html", "<m1@example.org>", "reply-link"),
    ]
    assert [s.volume for s in archive.sources] == [
        "2009-Week-of-Mon-20091102",
        "2009-Week-of-Mon-20091109",
    ]
    first = archive.messages[0]
    assert (first.subject, first.author) == ("[Salon] Hello & welcome", "Ann <A> Smith")
    assert first.date == 1257235200  # 2009-11-03 08:00 UTC


def test_a_date_in_an_unknown_zone_is_left_unread_and_said_once(tmp_path: Path) -> None:
    (tmp_path / "2009").mkdir()
    for number in (0, 1):
        page = NEW_PAGE.format(
            reply=REPLY.format(id=f"m{number}"), date="Tue Nov 3 09:00:00 XYZT 2009"
        )
        (tmp_path / "2009" / f"{number:06d}.html").write_text(page)
    archive = pipermail.read(tmp_path)
    assert [p.date for p in archive.messages] == [None, None]
    assert archive.problems == [
        "2 page(s) show dates in the time zone 'XYZT', which is not known: "
        "their dates were left unread"
    ]


# --- the parts: volume names, shown dates, Python 2 marshal ---------------------------------


@pytest.mark.parametrize(
    ("volume", "start"),
    [
        ("2009-November", 1257033600),
        ("2009q4", 1254355200),
        ("2009", 1230768000),
        ("2009-Week-of-Mon-20091102", 1257120000),
        ("20091102", 1257120000),
        ("1945-February", -786240000),
        ("attachments", None),
        ("database", None),
        ("2009-Novembre", None),
        ("2009q5", None),
    ],
)
def test_volume_start_is_the_first_instant_of_a_volume_name(volume: str, start: int | None) -> None:
    assert pipermail.volume_start(volume) == start


@pytest.mark.parametrize(
    ("shown", "epoch"),
    [
        ("Thu Nov 12 17:04:16 CST 2009", 1258067056),
        ("Sun Mar  4 11:12:33 MST 2001", 983729553),
        ("Sun Mar  4 13:12:33 EST 2001", 983729553),
        ("Sun, 13 Jun 1999 02:28:09 -0400 (EDT)", 929255289),
        ("Wed, 23 Jun 1999 17:19:26 -0700", 930183566),
        ("Mon, 21 Oct 2002 15:02:34 +50579034 (CEST)", 1035205354),
        ("Tue, 3 Nov 09 09:00 CET", 1257235200),
    ],
)
def test_a_shown_date_is_read_in_its_own_zone(shown: str, epoch: int) -> None:
    assert shown_date(shown) == (epoch, None)


def test_a_shown_date_without_a_zone_is_not_guessed() -> None:
    assert shown_date("Thu Nov 12 17:04:16 2009") == (None, "(none)")


def test_the_marshal_reader_follows_python_2_interned_strings() -> None:
    # {'abc': 'abc', u'\xe9': [1, None]} as Python 2 wrote it: 't' interns, 'R' refers back.
    data = (
        b"{t\x03\x00\x00\x00abcR\x00\x00\x00\x00"
        b"u\x02\x00\x00\x00\xc3\xa9[\x02\x00\x00\x00i\x01\x00\x00\x00N0"
    )
    assert load_py2_marshal(data) == {b"abc": b"abc", "\xe9": [1, None]}


def test_the_marshal_reader_refuses_code_objects() -> None:
    with pytest.raises(DatabaseError, match="code object"):
        load_py2_marshal(marshal.dumps(compile("1", "x", "eval"), 2))
