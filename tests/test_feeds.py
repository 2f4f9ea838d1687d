"""Atom feeds (RFC 4287): a list's newest messages and threads, each thread's messages."""

from __future__ import annotations

import dataclasses
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from piperarc import config as configlib
from piperarc import feeds
from piperarc.config import ListConfig
from piperarc.errors import ConfigError
from piperarc.ingest.sources.sample import sample_mbox
from piperarc.model import StoredMessage
from piperarc.store import open_store
from tests.conftest import Run
from tests.sitecheck import broken_links

A = "{http://www.w3.org/2005/Atom}"
ADDRESS = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
SALON = ListConfig("salon", "The Salon", "Talk", "salon@example.org")


def _message(num: int, date_utc: int, **fields: object) -> StoredMessage:
    values: dict[str, object] = {
        "list_name": "salon",
        "num": num,
        "key": f"key{num:013d}",
        "mid": f"m{num}@example.org",
        "mid_synthetic": False,
        "date_utc": date_utc,
        "tz_offset": 0,
        "date_source": "date",
        "from_name": "Ada Lovelace",
        "from_addr": "ada@example.org",
        "subject": f"Message {num}",
        "subject_base": f"message {num}",
        "in_reply_to": None,
        "references": (),
        "body_text": "Write to ada@example.org.\n",
        "has_attachments": False,
        "damage": None,
        "digest": "0" * 64,
        "size": 100,
        "envelope": None,
        "archived_at": date_utc,
        "thread_key": "key0000000000001",
        "parent_num": None,
        "depth": 0,
        "thread_pos": 0,
    }
    values.update(fields)
    return StoredMessage(**values)  # type: ignore[arg-type]


def _parse(data: bytes) -> ET.Element:
    root = ET.fromstring(data)
    assert root.tag == f"{A}feed"
    return root


def _entries(root: ET.Element) -> list[ET.Element]:
    return root.findall(f"{A}entry")


def _href(element: ET.Element, rel: str) -> str:
    links = [link for link in element.findall(f"{A}link") if link.get("rel") == rel]
    assert len(links) == 1, f"{len(links)} rel={rel} links"
    return links[0].get("href") or ""


@pytest.fixture
def built(run: Run, archive: Path, tmp_path: Path) -> Path:
    mbox = tmp_path / "salon.mbox"
    mbox.write_bytes(sample_mbox())
    run("import", "--archive", archive, "--list", "salon", mbox)
    assert run("build", "--archive", archive, "--no-search-index").exit_code == 0
    return archive / "site"


def _set(archive: Path, old: str, new: str) -> None:
    path = archive / configlib.CONFIG_NAME
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_a_feed_has_the_elements_atom_requires() -> None:
    feed = feeds.list_feed(SALON, "messages")
    root = _parse(feeds.atom(feed, SALON, [_message(1, 1_700_000_000)]))
    for name in ("id", "title", "updated"):
        assert (root.findtext(f"{A}{name}") or "").strip(), name
    assert _href(root, "self") == "messages.atom"
    assert _href(root, "alternate") == "index.html"
    (entry,) = _entries(root)
    for name in ("id", "title", "updated", "author/{A}name", "content"):
        assert (entry.findtext(f"{A}{name}".replace("{A}", A)) or "").strip(), name
    assert entry.findtext(f"{A}updated") == "2023-11-14T22:13:20Z"
    assert _href(entry, "alternate") == "m/key0000000000001.html"
    content = entry.find(f"{A}content")
    assert content is not None
    assert content.get("type") == "text"


def test_entries_are_newest_first() -> None:
    messages = [_message(n, 1_700_000_000 + (n * 7919) % 50 * 3600) for n in range(1, 30)]
    root = _parse(feeds.atom(feeds.list_feed(SALON, "messages"), SALON, messages))
    dates = [e.findtext(f"{A}updated") or "" for e in _entries(root)]
    assert dates == sorted(dates, reverse=True)
    assert root.findtext(f"{A}updated") == dates[0]


def test_an_entry_id_comes_from_the_message_id_and_never_changes() -> None:
    first = _message(1, 1_700_000_000)
    again = _message(9, 1_800_000_000, mid=first.mid, subject="Another build, other fields")
    copy = _message(2, 1_700_000_000, key="key0000000000001-2")
    assert feeds.entry_id(first) == feeds.entry_id(again)
    assert feeds.entry_id(first).startswith("urn:uuid:")
    assert feeds.entry_id(copy) != feeds.entry_id(first)  # same Message-ID, another message


def test_addresses_are_obfuscated_as_the_list_asks() -> None:
    message = _message(1, 1_700_000_000, from_name="")
    feed = feeds.list_feed(SALON, "messages")
    for mode in ("at", "hide"):
        lst = dataclasses.replace(SALON, obfuscate=mode)
        data = feeds.atom(feed, lst, [message]).decode("utf-8")
        assert not ADDRESS.search(data), mode
        assert "<email>" not in data
    plain = feeds.atom(feed, dataclasses.replace(SALON, obfuscate="none"), [message])
    (entry,) = _entries(_parse(plain))
    assert entry.findtext(f"{A}author/{A}email") == "ada@example.org"


def test_characters_xml_cannot_carry_are_replaced() -> None:
    message = _message(1, 1_700_000_000, subject="bell\x07", body_text="nul\x00 and \ufffe")
    root = _parse(feeds.atom(feeds.list_feed(SALON, "messages"), SALON, [message]))
    (entry,) = _entries(root)
    assert entry.findtext(f"{A}title") == "bell\ufffd"


def test_with_a_base_url_every_link_is_absolute() -> None:
    feed = feeds.thread_feed(SALON, "key0000000000001", _message(1, 1_700_000_000))
    base = "https://lists.example.org/archive/"
    root = _parse(feeds.atom(feed, SALON, [_message(1, 1_700_000_000)], base))
    links = [link.get("href") or "" for link in root.iter(f"{A}link")]
    assert links == [
        base + "salon/t/key0000000000001.atom",
        base + "salon/t/key0000000000001.html",
        base + "salon/m/key0000000000001.html",
    ]


def test_newest_takes_the_latest_fifty() -> None:
    messages = [_message(n, 1_700_000_000 + n) for n in range(1, 121)]
    picked = feeds.newest(messages)  # type: ignore[arg-type]
    assert [m.num for m in picked] == list(range(120, 70, -1))


def test_base_url_is_read_from_the_archive_settings(archive: Path) -> None:
    _set(archive, 'title = "', 'base_url = "https://lists.example.org/a"\ntitle = "')
    assert configlib.load(archive).base_url == "https://lists.example.org/a/"
    _set(archive, "https://lists.example.org/a", "lists.example.org")
    with pytest.raises(ConfigError, match="base_url"):
        configlib.load(archive)


def test_the_build_writes_a_lists_two_feeds_newest_first(built: Path) -> None:
    messages = _parse((built / "salon" / "messages.atom").read_bytes())
    threads = _parse((built / "salon" / "threads.atom").read_bytes())
    assert len(_entries(messages)) == 27  # the sample list: fewer than 50
    assert len(_entries(threads)) == len(list((built / "salon" / "t").glob("*.html")))
    for root in (messages, threads):
        dates = [e.findtext(f"{A}updated") or "" for e in _entries(root)]
        assert dates == sorted(dates, reverse=True)
    assert all(
        not (e.findtext(f"{A}title") or "").startswith("[salon] Re:") for e in _entries(threads)
    )


def test_a_thread_feed_holds_exactly_its_threads_messages(built: Path, archive: Path) -> None:
    store = open_store(configlib.load(archive).database, readonly=True)
    try:
        for page in (built / "salon" / "t").glob("*.html"):
            in_thread = store.thread_messages("salon", page.stem)
            root = _parse(page.with_suffix(".atom").read_bytes())
            expected = {f"../m/{msg.key}.html" for msg, _ in in_thread}
            assert {_href(e, "alternate") for e in _entries(root)} == expected
            assert len(_entries(root)) == len(in_thread)
    finally:
        store.close()


def test_no_feed_of_the_build_shows_an_address(built: Path) -> None:
    for path in built.rglob("*.atom"):
        assert not ADDRESS.search(path.read_text(encoding="utf-8")), path


def test_pages_link_their_feeds_and_every_link_resolves(built: Path) -> None:
    def alternates(path: Path) -> list[str]:
        html = path.read_text(encoding="utf-8")
        return re.findall(
            r'<link rel="alternate" type="application/atom\+xml" href="([^"]+)"', html
        )

    assert alternates(built / "salon" / "index.html") == [
        "../salon/messages.atom",
        "../salon/threads.atom",
    ]
    assert len(alternates(built / "salon" / "2024-01" / "date.html")) == 2
    message = next((built / "salon" / "m").glob("*.html"))
    assert len(alternates(message)) == 3  # its thread's feed, then the list's two
    thread = next((built / "salon" / "t").glob("*.html"))
    assert alternates(thread) == [f"../../salon/t/{thread.stem}.atom"]
    assert alternates(built / "index.html") == []
    assert broken_links(built)[1] == []
