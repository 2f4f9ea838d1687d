"""Search: each form of the query language against mail whose right answer is known."""

from __future__ import annotations

import contextlib
import json
import lzma
import mailbox
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from piperarc import config as configlib
from piperarc import search
from piperarc.errors import QueryError
from piperarc.ingest.sources.sample import sample_mbox
from piperarc.mail import parse, stems
from piperarc.mail.parse import header_text
from piperarc.store import Store, open_store
from tests.conftest import Run, cli, corpus_path


@pytest.fixture(scope="module")
def sample(
    tmp_path_factory: pytest.TempPathFactory, module_db_args: tuple[str, ...]
) -> Iterator[Store]:
    """The sample list, imported once (on each backend)."""
    root = tmp_path_factory.mktemp("search") / "archive"
    cli("init", root, "--list", "salon", *module_db_args)
    mbox = root / "salon.mbox"
    mbox.write_bytes(sample_mbox())
    cli("import", "--archive", root, "--list", "salon", mbox)
    store = open_store(configlib.load(root).database, readonly=True)
    yield store
    store.close()


def _subjects(store: Store, query: str, **options: object) -> list[str]:
    results = search.run(store, query, per_page=100, **options)  # type: ignore[arg-type]
    return [hit.subject for hit in results.hits]


def test_bare_words_must_all_match(sample: Store) -> None:
    subjects = _subjects(sample, "priority scheduler")
    assert subjects and all("Apollo" in s for s in subjects)
    assert _subjects(sample, "priority bernoulli") == []


def test_a_phrase_matches_the_words_together(sample: Store) -> None:
    assert len(_subjects(sample, '"executive overflow"')) == 0  # only in an attachment's body
    assert len(_subjects(sample, '"priority scheduler"')) == 4


def test_an_excluded_word_removes_messages(sample: Store) -> None:
    with_word = set(_subjects(sample, "apollo"))
    assert with_word
    assert _subjects(sample, "apollo -agree") == ["[salon] Apollo guidance software review"]


def test_or_finds_either(sample: Store) -> None:
    either = len(_subjects(sample, "s:apollo OR s:compilers"))
    assert either == len(_subjects(sample, "s:apollo")) + len(_subjects(sample, "s:compilers"))


def test_subject_and_from_prefixes_look_only_there(sample: Store) -> None:
    assert all("Compilers" in s for s in _subjects(sample, "s:compilers"))
    results = search.run(sample, "f:grace", per_page=100)
    assert results.total > 0 and all(h.from_name == "Grace Hopper" for h in results.hits)


def test_body_prefix_ignores_the_subject(sample: Store) -> None:
    assert _subjects(sample, "b:guidance") == []
    assert _subjects(sample, "s:guidance")


def test_a_date_range_and_a_month_limit_the_dates(sample: Store) -> None:
    march = search.run(sample, "d:2024-03 agree", per_page=100)
    assert march.total == 3
    assert all(h.date_utc >= 1709251200 for h in march.hits)  # 2024-03-01
    assert search.run(sample, "d:2024-03-01..2024-03-31 agree").total == 3


def test_has_attachment_and_is_root(sample: Store) -> None:
    assert _subjects(sample, "has:attachment") == ["[salon] Apollo guidance software review"]
    roots = _subjects(sample, "is:root salon")
    assert roots and not any(s.startswith("[salon] Re:") for s in roots)


def test_attachment_file_names_are_searchable(sample: Store) -> None:
    assert _subjects(sample, "apollo-report") == ["[salon] Apollo guidance software review"]


def test_accents_do_not_matter(sample: Store) -> None:
    assert _subjects(sample, "reunion") == _subjects(sample, "réunion") != []


def test_matches_are_marked_in_the_snippet(sample: Store) -> None:
    (hit,) = search.run(sample, "has:attachment scheduler").hits
    html = search.snippet_html(hit.snippet, "none")
    assert "<mark>scheduler</mark>" in html


def test_sorting_by_date_gives_newest_first(sample: Store) -> None:
    dates = [h.date_utc for h in search.run(sample, "salon", sort="date", per_page=100).hits]
    assert dates == sorted(dates, reverse=True)


def test_results_are_paginated(sample: Store) -> None:
    everything = search.run(sample, "salon", sort="date", per_page=100)
    first = search.run(sample, "salon", sort="date", per_page=5)
    second = search.run(sample, "salon", sort="date", per_page=5, page=2)
    assert first.total == everything.total and first.pages == -(-everything.total // 5)
    assert [h.num for h in first.hits + second.hits] == [h.num for h in everything.hits[:10]]


@pytest.mark.parametrize(
    "query", ['"unclosed', "d:2024-13", "d:soon", "has:wings", "a OR", "OR b", "is:leaf", "", "   "]
)
def test_malformed_queries_get_a_friendly_message(sample: Store, query: str) -> None:
    with pytest.raises(QueryError) as err:
        search.run(sample, query)
    assert "Traceback" not in str(err.value) and len(str(err.value)) < 200


@pytest.mark.parametrize("query", ["AND", "NEAR(", "*", "a:b:c", '"', "^x", "col:umn", "{x}"])
def test_fts_syntax_in_a_query_is_only_text(sample: Store, query: str) -> None:
    with contextlib.suppress(QueryError):  # a friendly message is fine; a crash is not
        search.run(sample, query)


def test_addresses_in_snippets_are_disguised_even_when_matched() -> None:
    snippet = "mail \ue000ada\ue001@example.org today"
    assert search.snippet_html(snippet, "at") == "mail ada at example.org today"
    assert "example.org" not in search.snippet_html(snippet, "hide")


def test_search_json_has_the_api_shape(run: Run, archive: Path, tmp_path: Path) -> None:
    mbox = tmp_path / "salon.mbox"
    mbox.write_bytes(sample_mbox())
    run("import", "--archive", archive, "--list", "salon", mbox)
    out = json.loads(run("search", "--archive", archive, "apollo", "--json").stdout)
    assert out["total"] == 4
    assert set(out["results"][0]) == {
        "message_id",
        "list",
        "url",
        "subject",
        "from",
        "date",
        "snippet",
    }
    assert "@" not in out["results"][0]["from"]


def test_the_index_follows_imports_and_reindex_rebuilds_it(run: Run, archive: Path) -> None:
    one = (
        b"From: a@x\nSubject: zeppelin\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n"
        b"Message-ID: <z@x>\n\nairships\n"
    )
    run("import", "--archive", archive, "--list", "salon", "-", input=one)
    assert (
        json.loads(run("search", "--archive", archive, "zeppelin", "--json").stdout)["total"] == 1
    )
    assert (
        run("reindex", "--archive", archive).stdout
        == "salon: indexed 1 messages, rethreaded (0 moved)\n"
    )
    assert (
        json.loads(run("search", "--archive", archive, "airships", "--json").stdout)["total"] == 1
    )


def test_reindex_indexes_a_message_the_parser_fails_on_as_raw_text(
    run: Run, archive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    one = (
        b"From: a@x\nSubject: zeppelin\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n"
        b"Message-ID: <z@x>\n\nairships\n"
    )
    run("import", "--archive", archive, "--list", "salon", "-", input=one)

    def broken(raw: bytes, digest: str, envelope: str | None = None) -> object:
        raise ValueError("a parser bug")

    monkeypatch.setattr(parse, "parse", broken)
    assert (
        run("reindex", "--archive", archive).stdout
        == "salon: indexed 1 messages, rethreaded (0 moved)\n"
    )
    monkeypatch.undo()
    found = json.loads(run("search", "--archive", archive, "airships", "--json").stdout)
    assert found["total"] == 1


def _words(text: str) -> set[str]:
    return set(re.findall(r"[^\W_]+", text.casefold()))


@pytest.fixture(scope="module")
def linux_man(
    tmp_path_factory: pytest.TempPathFactory, module_db_args: tuple[str, ...]
) -> Iterator[tuple[Store, list[tuple[str, str]]]]:
    """The linux-man list imported, and each message's (decoded subject, From) read by the
    standard library — the ground truth."""
    path = corpus_path("lists", "linux-man-10k.mbox.xz")
    root = tmp_path_factory.mktemp("lm") / "archive"
    cli("init", root, "--list", "lm", *module_db_args)
    cli("import", "--archive", root, "--list", "lm", path)
    plain = root.parent / "lm.mbox"
    plain.write_bytes(lzma.decompress(path.read_bytes()))
    box = mailbox.mbox(plain)
    truth = [(header_text(m["subject"]), header_text(m["from"])) for m in box]
    box.close()
    store = open_store(configlib.load(root).database, readonly=True)
    yield store, truth
    store.close()


@pytest.mark.corpus
@pytest.mark.parametrize("word", ["typo", "fix", "pages", "clone", "mmap", "locale"])
def test_subject_search_on_linux_man_equals_the_ground_truth(
    linux_man: tuple[Store, list[tuple[str, str]]], word: str
) -> None:
    """A quoted word is found exactly as written."""
    store, truth = linux_man
    expected = sum(1 for subject, _ in truth if word in _words(subject))
    assert expected > 0
    assert search.run(store, f's:"{word}"').total == expected


@pytest.mark.corpus
@pytest.mark.parametrize("word", ["typo", "fix", "pages", "clone", "mmap", "locale"])
def test_an_unquoted_word_finds_every_subject_with_one_of_its_forms(
    linux_man: tuple[Store, list[tuple[str, str]]], word: str
) -> None:
    store, truth = linux_man
    wanted = set(stems.forms(word))
    expected = sum(1 for subject, _ in truth if wanted & _words(subject))
    assert search.run(store, f"s:{word}").total == expected


@pytest.mark.corpus
@pytest.mark.parametrize("word", ["kerrisk", "alejandro", "gmail", "branden"])
def test_from_search_on_linux_man_equals_the_ground_truth(
    linux_man: tuple[Store, list[tuple[str, str]]], word: str
) -> None:
    store, truth = linux_man
    expected = sum(1 for _, sender in truth if word in _words(sender))
    assert expected > 0
    assert search.run(store, f"f:{word}").total == expected


def test_is_root_follows_threading_when_a_parent_arrives_late(run: Run, archive: Path) -> None:
    reply = (
        b"From: b@x\nSubject: Re: plans\nDate: Tue, 2 Jan 2024 10:00:00 +0000\n"
        b"Message-ID: <reply@x>\nIn-Reply-To: <root@x>\n\nyes to the plans\n"
    )
    root = (
        b"From: a@x\nSubject: plans\nDate: Mon, 1 Jan 2024 10:00:00 +0000\n"
        b"Message-ID: <root@x>\n\nlet us make plans\n"
    )

    def roots() -> list[str]:
        out = json.loads(run("search", "--archive", archive, "is:root plans", "--json").stdout)
        return [r["message_id"] for r in out["results"]]

    run("import", "--archive", archive, "--list", "salon", "-", input=reply)
    assert roots() == ["reply@x"]  # alone, the reply starts its thread
    run("import", "--archive", archive, "--list", "salon", "-", input=root)
    assert roots() == ["root@x"]


@pytest.mark.parametrize("query", ["\x00", "a\x00b", "salon \x00"])
def test_a_query_with_a_nul_character_is_refused_with_a_message(sample: Store, query: str) -> None:
    with pytest.raises(QueryError, match="NUL"):
        search.run(sample, query, list_names=["salon"])


@pytest.mark.parametrize("query", ["-", "\x01", "\u200b", "- ! ?", "s:!"])
def test_a_query_with_nothing_to_search_for_is_refused_even_within_a_list(
    sample: Store, query: str
) -> None:
    # Within a list (as the search page and the API always ask), a query left empty by
    # cleaning would otherwise match the whole list.
    with pytest.raises(QueryError, match="type some words"):
        search.run(sample, query, list_names=["salon"])
