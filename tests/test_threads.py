"""JWZ threading: references first, ghost parents, subject grouping, no recursion."""

from __future__ import annotations

from piperarc.mail.subjects import subject_base
from piperarc.mail.threads import thread
from piperarc.model import Summary, ThreadPlacement


def _summary(
    num: int, mid: str, refs: tuple[str, ...] = (), subject: str = "topic", date: int | None = None
) -> Summary:
    return Summary(
        num=num,
        key=f"k{num}",
        mid=mid,
        date_utc=date if date is not None else num,
        tz_offset=0,
        from_name="",
        from_addr="",
        subject=subject,
        subject_base=subject_base(subject),
        references=refs,
        damaged=False,
        has_attachments=False,
    )


def _by_num(placements: list[ThreadPlacement]) -> dict[int, ThreadPlacement]:
    return {p.num: p for p in placements}


def test_a_reply_is_placed_under_its_parent() -> None:
    placed = _by_num(thread([_summary(1, "a"), _summary(2, "b", ("a",), "Re: topic")]))
    assert placed[2].parent_num == 1
    assert placed[2].thread_key == placed[1].thread_key == "k1"
    assert placed[2].depth == 1


def test_a_reply_that_arrives_before_its_parent_lands_in_its_thread() -> None:
    placed = _by_num(
        thread([_summary(1, "b", ("a",), "Re: topic", date=20), _summary(2, "a", date=10)])
    )
    assert placed[1].parent_num == 2
    assert placed[1].thread_key == "k2"
    assert (placed[2].thread_pos, placed[1].thread_pos) == (0, 1)


def test_replies_to_a_missing_parent_share_a_thread_through_a_ghost() -> None:
    placed = _by_num(
        thread([_summary(1, "b", ("ghost",), "Re: lost"), _summary(2, "c", ("ghost",), "Re: lost")])
    )
    assert placed[1].thread_key == placed[2].thread_key
    assert placed[1].parent_num is None and placed[2].parent_num is None


def test_a_missing_middle_message_keeps_grandchildren_in_the_thread() -> None:
    placed = _by_num(thread([_summary(1, "a"), _summary(2, "c", ("a", "b"), "Re: topic")]))
    assert placed[2].thread_key == "k1"
    assert placed[2].parent_num == 1


def test_a_reply_without_references_joins_the_thread_of_its_subject() -> None:
    placed = _by_num(
        thread(
            [
                _summary(1, "a", subject="[salon] Plans"),
                _summary(2, "b", subject="Re: [salon] Plans"),
            ]
        )
    )
    assert placed[2].thread_key == "k1"


def test_two_unrelated_posts_with_the_same_subject_stay_apart() -> None:
    placed = _by_num(
        thread(
            [
                _summary(1, "a", subject="[PATCH] fix typo"),
                _summary(2, "b", subject="[PATCH] fix typo"),
            ]
        )
    )
    assert placed[1].thread_key != placed[2].thread_key


def test_two_messages_sharing_a_message_id_are_both_threaded() -> None:
    placements = thread([_summary(1, "same"), _summary(2, "same", subject="other")])
    assert sorted(p.num for p in placements) == [1, 2]


def test_reference_loops_do_not_hang_or_lose_messages() -> None:
    placements = thread([_summary(1, "a", ("b",)), _summary(2, "b", ("a",))])
    assert sorted(p.num for p in placements) == [1, 2]


def test_a_very_deep_thread_needs_no_recursion() -> None:
    depth = 20_000
    chain = [_summary(0, "m0")]
    chain += [_summary(i, f"m{i}", (f"m{i - 1}",), "Re: topic") for i in range(1, depth)]
    placed = _by_num(thread(chain))
    assert placed[depth - 1].depth == depth - 1
    assert placed[depth - 1].thread_pos == depth - 1


def test_siblings_are_ordered_by_date() -> None:
    placed = _by_num(
        thread(
            [
                _summary(1, "a", date=1),
                _summary(2, "late", ("a",), "Re: topic", date=30),
                _summary(3, "early", ("a",), "Re: topic", date=20),
            ]
        )
    )
    assert placed[3].thread_pos < placed[2].thread_pos
