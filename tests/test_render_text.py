"""The text filters' fast paths give exactly what the plain way would."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from piperarc import feeds
from piperarc.render.text import iso_date, obfuscate, short_date

# The address pattern applied to the whole text at once: what obfuscate must equal.
_ADDRESS = re.compile(r"\b([A-Za-z0-9._%+'=-]+)@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)\b")
_MAILISH = st.text(alphabet=st.sampled_from("ab.-_+@ \n\t\r<>()'=%é\u00a0xz0"), max_size=80)


@given(_MAILISH)
def test_obfuscating_word_by_word_equals_the_pattern_over_the_whole_text(text: str) -> None:
    assert obfuscate(text, "at") == _ADDRESS.sub(r"\1 at \2", text)
    assert obfuscate(text, "hide") == _ADDRESS.sub(r"\1@…", text)


def test_every_address_of_a_line_is_obfuscated() -> None:
    line = "On Mon, Jane <jane@example.org> wrote to\tbob@x.org,ann@y.net:\r\n"
    assert obfuscate(line, "at") == (
        "On Mon, Jane <jane at example.org> wrote to\tbob at x.org,ann at y.net:\r\n"
    )


@given(st.integers(min_value=0, max_value=4102444799))
def test_utc_dates_are_formatted_as_datetime_would(date_utc: int) -> None:
    moment = datetime.fromtimestamp(date_utc, UTC)
    assert iso_date(date_utc) == moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert short_date(date_utc) == moment.strftime("%Y-%m-%d %H:%M")


@given(st.text(max_size=60))
def test_feed_entry_ids_are_rfc_4122_name_based_uuids(name: str) -> None:
    namespace = uuid.uuid5(uuid.NAMESPACE_URL, "https://piperarc.invalid/atom")
    assert feeds._urn(name) == f"urn:uuid:{uuid.uuid5(namespace, name)}"


def test_from_lines_are_quoted_in_mboxrd_entries_and_nothing_else_changes() -> None:
    raw = b"Subject: x\n\nFrom here\n>From there\nno From at the start\n"
    entry = feeds.mboxrd_entry(b"From a@b Mon Jan  1 00:00:00 2024", raw)
    assert entry.split(b"\n")[3:6] == [b">From here", b">>From there", b"no From at the start"]
    plain = b"Subject: y\n\nnothing to quote\n"
    assert feeds.mboxrd_entry(b"From a@b", plain) == b"From a@b\n" + plain + b"\n"
