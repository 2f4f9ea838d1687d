"""Message-IDs: cleaning, reference lists and the URL key that never changes."""

from __future__ import annotations

from piperarc import mid


def test_clean_takes_the_id_between_angle_brackets() -> None:
    assert mid.clean("  <abc@example.org> (comment)") == "abc@example.org"


def test_clean_accepts_an_id_without_brackets() -> None:
    assert mid.clean("abc@example.org") == "abc@example.org"


def test_clean_of_an_empty_header_is_none() -> None:
    assert mid.clean("  ") is None
    assert mid.clean(None) is None


def test_references_are_oldest_first_with_in_reply_to_appended_when_new() -> None:
    refs = mid.references("<a@x> <b@x>", "<c@x>")
    assert refs == ("a@x", "b@x", "c@x")


def test_in_reply_to_prose_is_ignored_except_its_bracketed_id() -> None:
    refs = mid.references(None, 'Your message of "Mon, 1 Jan" <d@x>')
    assert refs == ("d@x",)


def test_repeated_references_are_kept_once() -> None:
    assert mid.extract("<a@x> <b@x> <a@x>") == ["a@x", "b@x"]


def test_url_key_is_stable_lowercase_and_file_name_safe() -> None:
    key = mid.url_key("20190428055901.22D19BDA714@thirdlane.local")
    assert key == mid.url_key("20190428055901.22D19BDA714@thirdlane.local")
    assert len(key) == 16
    assert key.isalnum() and key == key.lower()


def test_url_keys_differ_for_ids_that_differ_only_in_case() -> None:
    assert mid.url_key("ABC@x") != mid.url_key("abc@x")


def test_synthetic_ids_use_the_reserved_invalid_domain() -> None:
    assert mid.synthetic("ab" * 32).endswith("@piperarc.invalid")


def test_threading_reads_the_first_and_the_nearest_references_of_a_huge_header() -> None:
    header = " ".join(f"<r{i}@example.org>" for i in range(50_000))
    refs = mid.references(header, "<r49999@example.org>")
    assert len(refs) == mid.MAX_REFERENCES
    assert refs[0] == "r0@example.org"  # the thread's root
    assert refs[-1] == "r49999@example.org"  # the parent
    assert refs[1] == f"r{50_000 - mid.MAX_REFERENCES + 1}@example.org"
