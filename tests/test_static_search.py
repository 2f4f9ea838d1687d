"""The static site's search index (site/searchindex.py): what the build writes, that it
finds what the server's search finds, that live mail is added to it by rewriting only the
files its words are in, that it is the same from either backend, and that it holds only
the site's own lists. The browser's half (search.js) is in test_browser_static_search.py.

The reader here follows the format the module's docstring gives, independently of the
code that writes it."""

from __future__ import annotations

import gzip
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from piperarc import config as configlib
from piperarc import search
from piperarc.ingest.sources.sample import sample_mbox
from piperarc.mail.words import words
from piperarc.site import searchindex
from piperarc.store import open_store
from tests.conftest import BACKENDS, Run, database_for

NEW_WORD = "zyzzogeton"
NEW_MAIL = f"""From: Ada <ada@example.org>
To: salon@example.org
Subject: A late note on the {NEW_WORD}
Message-ID: <late-note@example.org>
Date: Mon, 03 Jun 2030 10:00:00 +0000

The {NEW_WORD} is a leafhopper; nothing to do with engines.
""".encode()


def _utf16(text: str) -> bytes:
    return text.encode("utf-16-be", "surrogatepass")


def _read(path: Path) -> Any:
    return json.loads(gzip.decompress(path.read_bytes()))


class Reader:
    """The index of a built site, read as search.js reads it."""

    def __init__(self, site: Path) -> None:
        self.folder = site / "search-index"
        self.root = _read(self.folder / "index.json.gz")

    def shard_of(self, word: str) -> str:
        """As search.js: the last shard whose first word is not after `word`, strings
        compared as JavaScript compares them (UTF-16 code units)."""
        name = self.root["shards"][0][1]
        for first, shard in self.root["shards"]:
            if _utf16(first) <= _utf16(word):
                name = shard
        return name

    def docs_with(self, word: str) -> list[int]:
        shard = _read(self.folder / "w" / f"{self.shard_of(word)}.json.gz")
        if word not in shard:
            return []
        docs, doc = [], 0
        for entry in shard[word][1].split(";"):
            doc += int(entry.split(":", 1)[0])
            docs.append(doc)
        return docs

    def doc(self, number: int) -> list[str]:
        chunk = self.root["chunk"]
        return _read(self.folder / "d" / f"{number // chunk}.json.gz")[number % chunk]

    def urls_with(self, word: str) -> set[str]:
        return {self.doc(n)[0] for n in self.docs_with(word)}

    def every_word(self) -> dict[str, str]:
        words: dict[str, str] = {}
        for _, name in self.root["shards"]:
            words.update({w: v[1] for w, v in _read(self.folder / "w" / f"{name}.json.gz").items()})
        return words

    def every_doc(self) -> list[list[str]]:
        return [self.doc(n) for n in range(self.root["docs"])]


def _server_urls(archive: Path, word: str) -> set[str]:
    """What the server finds for `word` as written (quoted: not its other forms, which the
    index keeps as words of their own)."""
    config = configlib.load(archive)
    store = open_store(config.database, readonly=True)
    try:
        hits = search.run(store, f'"{word}"', per_page=100).hits
    finally:
        store.close()
    return {f"{h.list_name}/m/{h.key}.html" for h in hits}


@pytest.fixture
def imported(run: Run, archive: Path, tmp_path: Path) -> Path:
    mbox = tmp_path / "salon.mbox"
    mbox.write_bytes(sample_mbox())
    assert run("import", "--archive", archive, "--list", "salon", mbox).exit_code == 0
    return archive


@pytest.fixture
def built(run: Run, imported: Path) -> Path:
    result = run("build", "--archive", imported)
    assert result.exit_code == 0, result.output
    return imported / "site"


def test_the_build_writes_an_index_of_every_message_and_says_so(run: Run, imported: Path) -> None:
    result = run("build", "--archive", imported)
    assert result.exit_code == 0, result.output
    assert "search index written in" in result.stdout
    site = imported / "site"
    pages = sorted(f"salon/m/{p.name}" for p in (site / "salon" / "m").glob("*.html"))
    docs = Reader(site).every_doc()
    assert sorted(d[0] for d in docs) == pages
    assert 'src="piperarc-search.js"' in (site / "search.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("word", ["apollo", "engine", "lovelace", "salon"])
def test_a_word_leads_to_the_messages_the_server_finds(built: Path, word: str) -> None:
    found = Reader(built).urls_with(word)
    assert found
    assert found == _server_urls(built.parent, word)


def test_docs_are_numbered_oldest_first(built: Path) -> None:
    dates = [d[4] for d in Reader(built).every_doc()]
    assert dates == sorted(dates)


def test_a_result_shows_subject_sender_date_and_the_start_of_the_text(built: Path) -> None:
    reader = Reader(built)
    url, list_name, subject, sender, date, excerpt = reader.doc(reader.docs_with("apollo")[0])
    page = (built / url).read_text(encoding="utf-8")
    assert list_name == "salon"
    assert subject and subject.split()[0] in page
    assert " at " in sender and "@" not in sender  # disguised as the list asks
    assert len(date) == 10
    assert excerpt and len(excerpt) <= searchindex.EXCERPT + 2


def test_no_search_index_skips_it_and_search_html_says_so(run: Run, imported: Path) -> None:
    result = run("build", "--archive", imported, "--no-search-index")
    assert result.exit_code == 0, result.output
    assert not (imported / "site" / "search-index").exists()
    page = (imported / "site" / "search.html").read_text(encoding="utf-8")
    assert "without a search index" in page
    assert "piperarc-search.js" not in page


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_an_index_that_cannot_be_made_is_one_warning_and_the_pages_stand(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: str
) -> None:
    monkeypatch.setattr(searchindex, "CHUNK", 4)  # several tasks: workers with --jobs 2
    monkeypatch.setattr(searchindex, "TASK_FILES", 1)
    archive = tmp_path / "demo"
    assert run("demo", archive).exit_code == 0
    (archive / "archive-search.sqlite3").unlink()  # SQLite's search index file, lost
    shutil.rmtree(archive / "site")
    result = run("build", "--archive", archive, "--jobs", jobs)
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "no search index:" in warnings[0]
    assert "piperarc reindex" in warnings[0]
    site = archive / "site"
    assert (site / "salon" / "index.html").is_file()
    assert "without a search index" in (site / "search.html").read_text(encoding="utf-8")
    assert [p.name for p in site.iterdir() if "search-index" in p.name] == []


def test_a_build_takes_out_the_pagefind_folder_of_older_builds(run: Run, imported: Path) -> None:
    old = imported / "site" / "pagefind" / "fragment"
    old.mkdir(parents=True)
    (old / "en_1.pf_fragment").write_bytes(b"an old index")
    assert run("build", "--archive", imported).exit_code == 0
    assert not (imported / "site" / "pagefind").exists()


def _docs(site: Path) -> tuple[configlib.ArchiveConfig, list[searchindex.Doc]]:
    """The settings of the archive that built `site`, and its messages as the index takes them."""
    config = configlib.load(site.parent)
    store = open_store(config.database, readonly=True)
    try:
        return config, searchindex.docs_of("salon", store.summaries("salon"))
    finally:
        store.close()


def test_workers_and_one_process_write_the_same_index(
    built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small doc files and tasks, so that the sample makes several runs to merge.
    monkeypatch.setattr(searchindex, "CHUNK", 4)
    monkeypatch.setattr(searchindex, "TASK_FILES", 2)
    monkeypatch.setattr(searchindex, "SHARD_CHARS", 1000)
    config, docs = _docs(built)
    written = []
    for jobs in (1, 2):
        out = tmp_path / f"jobs-{jobs}"
        report = searchindex.build(out, config.database, config.lists, list(docs), jobs=jobs)
        assert report.docs == len(docs) and report.shards > 3
        written.append(_files(out / "search-index"))
    assert written[0] == written[1]
    assert Reader(tmp_path / "jobs-2").urls_with("apollo") == Reader(built).urls_with("apollo")


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def test_live_mail_is_added_rewriting_only_the_files_its_words_are_in(
    run: Run, imported: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(searchindex, "SHARD_CHARS", 300)  # many shards of the sample
    assert run("build", "--archive", imported).exit_code == 0
    built = imported / "site"
    before = _files(built / "search-index")
    docs = Reader(built).root["docs"]
    result = run("deliver", "--archive", imported, "--list", "salon", input=NEW_MAIL)
    assert result.exit_code == 0, result.output
    reader = Reader(built)
    assert reader.root["docs"] == docs + 1
    assert reader.urls_with(NEW_WORD) == _server_urls(imported, NEW_WORD)
    assert reader.docs_with(NEW_WORD) == [docs]  # the next number
    assert reader.urls_with("leafhopper") == reader.urls_with(NEW_WORD)
    after = _files(built / "search-index")
    changed = {name for name in after if before.get(name) != after[name]}
    # The root, the new doc's doc file, the shards of the new message's words: no more.
    text = NEW_MAIL.decode().replace("\n", " ")
    shards = {f"w/{reader.shard_of(w)}.json.gz" for w in words(text) if w != "message"}
    assert {"index.json.gz", f"d/{docs // 256}.json.gz"} <= changed
    assert changed - {"index.json.gz", f"d/{docs // 256}.json.gz"} <= shards
    assert {f"w/{reader.shard_of(w)}.json.gz" for w in (NEW_WORD, "leafhopper")} <= changed
    assert len(changed) < len(after)  # shards without its words are left as they were


def test_words_past_u_ffff_are_found_where_the_browser_looks(
    run: Run, imported: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A shard a word or two, so that a word filed by code point order would be looked for
    # in the wrong shard: U+1D41B (a bold b) comes after U+FF41 (a fullwidth a) by code
    # points, before it in UTF-16, the browser's order.
    monkeypatch.setattr(searchindex, "SHARD_CHARS", 1)
    bold, wide = "\U0001d41b\U0001d428\U0001d425\U0001d41d", "\uff57\uff49\uff44\uff45"
    mail = NEW_MAIL.replace(b"leafhopper;", f"leafhopper; {bold} and {wide};".encode())
    assert run("build", "--archive", imported).exit_code == 0
    assert run("deliver", "--archive", imported, "--list", "salon", input=mail).exit_code == 0
    built = imported / "site"
    reader = Reader(built)
    firsts = [first for first, _ in reader.root["shards"]]
    assert firsts == sorted(firsts, key=_utf16)
    for word in (bold, wide, NEW_WORD):
        assert reader.urls_with(word) == _server_urls(imported, word) != set()
    assert run("build", "--archive", imported).exit_code == 0  # and from a whole build
    assert Reader(built).urls_with(bold) == _server_urls(imported, bold)


def test_delivering_the_same_mail_again_adds_nothing(run: Run, built: Path) -> None:
    for _ in range(2):
        run("deliver", "--archive", built.parent, "--list", "salon", input=NEW_MAIL)
    assert len(Reader(built).docs_with(NEW_WORD)) == 1


def test_a_shard_grown_past_twice_its_size_is_split_in_order(
    run: Run, built: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config, docs = _docs(built)
    # The whole index in one shard; then, shards of 2,000 characters, a message arrives.
    monkeypatch.setattr(searchindex, "SHARD_CHARS", 10**9)
    searchindex.build(built, config.database, config.lists, docs, jobs=1)
    words = Reader(built).every_word()
    assert len(Reader(built).root["shards"]) == 1
    monkeypatch.setattr(searchindex, "SHARD_CHARS", 2000)
    assert (
        run("deliver", "--archive", built.parent, "--list", "salon", input=NEW_MAIL).exit_code == 0
    )
    reader = Reader(built)
    firsts = [first for first, _ in reader.root["shards"]]
    assert len(firsts) > 2 and firsts == sorted(firsts) and firsts[0] == ""
    assert words.keys() <= reader.every_word().keys()
    for word in ("apollo", "engine", NEW_WORD):
        assert reader.urls_with(word) == _server_urls(built.parent, word)


@pytest.fixture(scope="module")
def both_backends(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Reader]]:
    from click.testing import CliRunner

    from piperarc.cli import main

    mbox = tmp_path_factory.mktemp("mbox") / "salon.mbox"
    mbox.write_bytes(sample_mbox())
    readers: dict[str, Reader] = {}
    with database_for("sqlite") as sqlite_args, database_for("postgresql") as pg_args:
        for backend, args in zip(BACKENDS, (sqlite_args, pg_args), strict=True):
            root = tmp_path_factory.mktemp(backend) / "archive"
            for command in (
                ["init", str(root), "--list", "salon", *args],
                ["import", "--archive", str(root), "--list", "salon", str(mbox)],
                ["build", "--archive", str(root)],
            ):
                result = CliRunner().invoke(main, command, catch_exceptions=False)
                assert result.exit_code == 0, result.output
            readers[backend] = Reader(root / "site")
        yield readers


def test_the_index_is_the_same_from_either_backend(both_backends: dict[str, Reader]) -> None:
    sqlite, postgres = both_backends["sqlite"], both_backends["postgresql"]
    assert sqlite.every_word() == postgres.every_word()
    assert sqlite.every_doc() == postgres.every_doc()
    assert sqlite.every_word()  # not two empty indexes
