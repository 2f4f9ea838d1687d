"""A query word finds the other forms of it, on every backend alike; a quoted word, a code
identifier or a number is found as written; a snippet comes from the sender's own text,
every matched word marked."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from piperarc import config as configlib
from piperarc import search
from piperarc.mail import stems
from piperarc.mail.words import split_tail
from piperarc.model import MARK_END, MARK_START
from piperarc.store import Store, open_store
from tests.conftest import cli

# Porter's own examples ("An algorithm for suffix stripping", 1980), step by step.
PORTER = {
    "caresses": "caress",
    "ponies": "poni",
    "cats": "cat",
    "agreed": "agre",
    "plastered": "plaster",
    "motoring": "motor",
    "sing": "sing",
    "conflated": "conflat",
    "hopping": "hop",
    "falling": "fall",
    "filing": "file",
    "happy": "happi",
    "relational": "relat",
    "conditional": "condit",
    "digitizer": "digit",
    "decisiveness": "decis",
    "triplicate": "triplic",
    "goodness": "good",
    "allowance": "allow",
    "adjustment": "adjust",
    "adoption": "adopt",
    "communism": "commun",
    "effective": "effect",
    "probate": "probat",
    "rate": "rate",
    "controll": "control",
    "roll": "roll",
}


@pytest.mark.parametrize(("word", "expected"), sorted(PORTER.items()))
def test_stems_are_porters(word: str, expected: str) -> None:
    assert stems.stem(word) == expected


def test_a_word_has_its_inflected_forms() -> None:
    found = stems.forms("overflow")
    assert {"overflow", "overflows", "overflowed", "overflowing"} <= set(found)
    assert {"overflowing", "overflows"} <= set(stems.forms("overflowing"))
    assert "warnings" in stems.forms("warn")
    assert "capabilities" in stems.forms("capability")
    assert all(stems.stem(form) == "overflow" for form in found)


@pytest.mark.parametrize("word", ["usrp2", "rx", "x310", "münchen", "über"])
def test_numbers_short_words_and_other_scripts_are_not_widened(word: str) -> None:
    assert stems.forms(word) == [word]


MESSAGES = [
    ("one", "buffer overflow", "The receive buffer had an overflow at 200 MS/s."),
    ("two", "more trouble", "Overflows again, each run."),
    ("three", "still", "It keeps overflowing when the host is busy."),
    ("four", "fixed", "Nothing overflowed after the fix; see rx_overflow_count."),
    ("five", "unrelated", "An unrelated note about the flow graph."),
    (
        "six",
        "footer only",
        "Thanks.\n\n_______________________________________________\n"
        "USRP-users mailing list\nusrp-users@lists.example.com\n"
        "(overflow questions welcome)",
    ),
    (
        "seven",
        "quoted and own",
        "> an old line about the overflow\n\nMy answer: the overflow was the disk.",
    ),
]


def _mbox(messages: list[tuple[str, str, str]]) -> bytes:
    out = []
    for i, (mid, subject, body) in enumerate(messages):
        out.append(
            f"From sender@example.org Mon Jan  {i + 1} 10:00:00 2024\n"
            f"From: Sender {i} <sender{i}@example.org>\n"
            f"Subject: {subject}\n"
            f"Date: Mon, {i + 1} Jan 2024 10:00:00 +0000\n"
            f"Message-ID: <{mid}@example.org>\n\n{body}\n\n"
        )
    return "".join(out).encode()


@pytest.fixture(scope="module")
def store(
    tmp_path_factory: pytest.TempPathFactory, module_db_args: tuple[str, ...]
) -> Iterator[Store]:
    root: Path = tmp_path_factory.mktemp("stemming") / "archive"
    cli("init", root, "--list", "l", *module_db_args)
    box = root / "l.mbox"
    box.write_bytes(_mbox(MESSAGES))
    cli("import", "--archive", root, "--list", "l", box)
    opened = open_store(configlib.load(root).database, readonly=True)
    yield opened
    opened.close()


def _mids(store: Store, query: str) -> set[str]:
    return {hit.mid.split("@")[0] for hit in search.run(store, query, per_page=100).hits}


def test_a_word_finds_its_forms_on_every_backend(store: Store) -> None:
    assert _mids(store, "overflow") == {"one", "two", "three", "four", "six", "seven"}
    assert _mids(store, "overflowing") == _mids(store, "overflow")


def test_a_quoted_word_is_found_as_written(store: Store) -> None:
    assert _mids(store, '"overflow"') == {"one", "six", "seven", "four"}
    assert _mids(store, '"overflowing"') == {"three"}


def test_an_identifier_is_found_as_written(store: Store) -> None:
    assert _mids(store, "rx_overflow_count") == {"four"}


def test_a_subject_word_finds_its_forms_too(store: Store) -> None:
    assert _mids(store, "s:overflows") == {"one"}


def _snippet(store: Store, query: str, mid: str) -> str:
    hits = search.run(store, query, per_page=100).hits
    return next(h.snippet for h in hits if h.mid.startswith(mid + "@"))


def test_every_form_found_is_marked_in_the_snippet(store: Store) -> None:
    snippet = _snippet(store, "overflow", "one")
    assert f"{MARK_START}overflow{MARK_END}" in snippet
    assert _snippet(store, "overflow", "two").startswith(f"{MARK_START}Overflows{MARK_END}")


def test_a_snippet_prefers_the_senders_own_text_to_quoted_lines(store: Store) -> None:
    assert "My answer" in _snippet(store, "overflow", "seven")
    assert "old line" not in _snippet(store, "overflow", "seven")


def test_a_lists_footer_is_the_snippet_only_when_the_words_are_nowhere_else(
    store: Store,
) -> None:
    assert f"{MARK_START}overflow{MARK_END} questions" in _snippet(store, "overflow", "six")
    assert "mailing list" not in _snippet(store, "thanks", "six")


def test_split_tail_cuts_at_a_signature_or_a_footer() -> None:
    assert split_tail("text\n-- \nJane") == ("text\n", "-- \nJane")
    own = "words\n___________________________\nL mailing list\nl@example.org"
    assert split_tail(own)[0] == "words\n"
    assert split_tail("no tail here") == ("no tail here", "")


def test_a_word_no_message_holds_gets_near_words_that_messages_hold(store: Store) -> None:
    assert search.suggest(store, "overfow") == ["overflow", "overf*"]
    assert search.suggest(store, "the overfow -x") == ["the overflow -x", "the overf* -x"]


def test_a_word_that_is_found_in_another_form_gets_no_suggestion(store: Store) -> None:
    assert search.suggest(store, "overflowings") == []


def test_suggestions_come_only_from_the_lists_searched(store: Store) -> None:
    assert search.suggest(store, "overfow", ["l"]) == ["overflow", "overf*"]
    assert search.suggest(store, "overfow", ["another"]) == []


def test_edits_keep_the_first_letter() -> None:
    found = search.edits("cat")
    assert {"cart", "cta", "cut", "ca", "cats"} <= set(found)
    assert all(w.startswith("c") for w in found)
