"""No single message can stop or corrupt the archive (issue 14), as a property: batches of
mail built from hostile parts (impossible dates, huge headers, reference loops and chains
hundreds deep, MIME nested a hundred deep, unknown and wrong charsets, raw 8-bit) go through
every way in and out: `import` of half the batch, `build`, `piperarc deliver` of the other
half into the built site, then the live server. Nothing crashes (exit 0, no 500), nothing is
lost (`export` gives back every message byte-exact, once), every message has its page.

Hypothesis shrinks a failure to the smallest batch that shows it."""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from piperarc import config as configlib
from piperarc import urls
from piperarc.cli import main
from piperarc.feeds import mboxrd_entry
from piperarc.store import open_store
from piperarc.web.app import create_app
from tests.conftest import BACKENDS, cli, database_for
from tests.crashhelpers import exported
from tests.livehelpers import asgi_get

LIST = "h"
ENVELOPE = b"From hostile@hostile.test Mon Jan  1 00:00:00 2024"
DOMAIN = "hostile.test"
LIVE = 3  # messages of a batch delivered live; the rest are imported

DATES = [
    "Mon, 01 Jan 2024 00:00:00 -2400",
    "Mon, 01 Jan 2024 00:00:00 +9959",
    "Mon, 01 Jan 0001 00:00:00 +0000",
    "Fri, 31 Dec 9999 23:59:59 +0000",
    "Fri, 31 Dec 99999 23:59:59 +0000",
    "Sat, 30 Feb 2024 25:61:61 +0000",
    "Thu, 01 Jan 1970 00:00:00 +0000",
    "Mon, 01 Jan 2024 00:00:00 +0000",
    "-1",
    "yesterday",
    "",
]
CHARSETS = [
    "utf-8",
    "us-ascii",
    "x-unknown",
    "unknown-8bit",
    "iso-8859-1",
    "utf-7",
    "utf-16",
    "gb2312",
    'bogus"charset',
    "",
]
HEADER_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=0x2FFF), max_size=40)
GARBAGE = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=40)
EIGHT_BIT = st.binary(max_size=60).map(lambda b: b.replace(b"\n", b" ").replace(b"\r", b" "))


def _header(name: str, value: bytes) -> bytes:
    return name.encode() + b": " + value + b"\n"


@st.composite
def _date(draw: st.DrawFn) -> bytes | None:
    """A Date header's value, or None for no Date header."""
    kind = draw(st.sampled_from(["list", "garbage", "missing"]))
    if kind == "missing":
        return None
    text = draw(st.sampled_from(DATES)) if kind == "list" else draw(GARBAGE)
    return text.encode()


@st.composite
def _headers(draw: st.DrawFn, mid: str | None, refs: list[str], reply_to: str | None) -> bytes:
    """Every header but the MIME ones: sizes, dates, 8-bit, references as drawn."""
    subject_size = draw(st.sampled_from([0, 30, 5000, 60000]))
    subject = (draw(HEADER_TEXT) + "x" * subject_size).encode("utf-8", "surrogateescape")
    name = b"A" * draw(st.sampled_from([1, 3000, 40000]))
    head = _header("From", name + b" <a@" + DOMAIN.encode() + b">")
    head += _header("To", f"{LIST}@example.org".encode())
    head += _header("Subject", subject + draw(EIGHT_BIT))
    date = draw(_date())
    if date is not None:
        head += _header("Date", date)
    if mid is not None:
        head += _header("Message-ID", f"<{mid}>".encode())
    if reply_to is not None:
        head += _header("In-Reply-To", f"<{reply_to}>".encode())
    if refs:
        head += _header("References", "\n ".join(f"<{r}>" for r in refs).encode())
    many = draw(st.sampled_from([0, 0, 2500]))
    head += b"".join(_header(f"X-Filler-{i}", b"filler") for i in range(many))
    return head


@st.composite
def _text_part(draw: st.DrawFn) -> bytes:
    """A text/plain part: a charset that may be unknown or wrong, a body of any bytes."""
    charset = draw(st.sampled_from(CHARSETS))
    body = draw(st.binary(max_size=200)) + "Grüße, naïve café ✓".encode(
        draw(st.sampled_from(["utf-8", "latin-1"])), "replace"
    )
    ctype = b"Content-Type: text/plain" + (f'; charset="{charset}"'.encode() if charset else b"")
    encoding = draw(st.sampled_from([b"8bit", b"base64", b"quoted-printable", b"x-bogus"]))
    return ctype + b"\nContent-Transfer-Encoding: " + encoding + b"\n\n" + body + b"\n"


@st.composite
def _mime(draw: st.DrawFn) -> bytes:
    """The MIME headers and body: a text part inside `depth` multiparts or message/rfc822
    (as drawn at each level), built inside out without recursion."""
    depth = draw(st.sampled_from([0, 1, 25, 150]))
    kinds = draw(st.lists(st.sampled_from(["multipart", "rfc822"]), min_size=depth, max_size=depth))
    entity = draw(_text_part())
    for level, kind in enumerate(reversed(kinds)):
        if kind == "multipart":
            boundary = f"b{level}".encode()
            entity = (
                b'Content-Type: multipart/mixed; boundary="'
                + boundary
                + b'"\n\n--'
                + boundary
                + b"\n"
                + entity
                + b"\n--"
                + boundary
                + b"--\n"
            )
        else:
            inner = _header("Subject", f"level {level}".encode()) + entity
            entity = b"Content-Type: message/rfc822\n\n" + inner
    return b"MIME-Version: 1.0\n" + entity


def _ending(raw: bytes) -> bytes:
    """Every message ends in a newline: an mbox cannot hold one that does not."""
    return raw if raw.endswith(b"\n") else raw + b"\n"


@st.composite
def batches(draw: st.DrawFn) -> list[bytes]:
    """A few messages whose references point at each other (loops, self-references), now
    and then a chain hundreds deep that closes on itself, and one with thousands of
    References."""
    count = draw(st.integers(1, 5))
    mids = [f"m{i}@{DOMAIN}" for i in range(count)]
    chain = draw(st.sampled_from([0, 0, 300]))
    chain_mids = [f"c{i}@{DOMAIN}" for i in range(chain)]
    everyone = mids + chain_mids
    messages = []
    for mid in mids:
        refs = draw(st.lists(st.sampled_from(everyone), max_size=4))
        if draw(st.integers(0, 4)) == 0:
            refs += [f"r{i}@{DOMAIN}" for i in range(3000)] + everyone
        reply_to = draw(st.none() | st.sampled_from(everyone))
        kept = None if draw(st.integers(0, 5)) == 0 else mid
        messages.append(draw(_headers(kept, refs, reply_to)) + draw(_mime()))
    for i, mid in enumerate(chain_mids):
        parent = chain_mids[i - 1]  # the first answers the last: a loop 300 long
        head = _header("From", b"Chain <c@hostile.test>") + _header("Subject", b"Re: chain")
        head += _header("Message-ID", f"<{mid}>".encode()) + _header(
            "In-Reply-To", f"<{parent}>".encode()
        )
        messages.append(head + b"\nlink " + str(i).encode() + b"\n")
    # In any order: a reply may come before what it answers, live or in the mbox.
    return draw(st.permutations([_ending(raw) for raw in messages]))


# -- the archive's ways in and out ------------------------------------------------------------


def _ok(*args: str | Path, input: bytes | None = None) -> None:
    result = CliRunner().invoke(main, [str(a) for a in args], input=input)
    assert result.exit_code == 0, (
        f"piperarc {args[0]} exited {result.exit_code}: {result.output} {result.exception!r}"
    )


def _load(root: Path, db_args: tuple[str, ...], mail: list[bytes]) -> None:
    """All but the last few imported, the site built, the last few delivered live into it
    (each delivery rewrites the pages of its thread: a few keep a chain 300 deep cheap)."""
    _ok("init", root, "--list", LIST, *db_args)
    cut = max(1, len(mail) - LIVE)
    mbox = root / "in.mbox"
    mbox.write_bytes(b"".join(mboxrd_entry(ENVELOPE, raw) for raw in mail[:cut]))
    _ok("import", "--archive", root, "--list", LIST, mbox)
    _ok("build", "--archive", root, "--jobs", "1", "--no-search-index")
    for raw in mail[cut:]:
        _ok("deliver", "--archive", root, "--list", LIST, input=raw)


def _pages(root: Path) -> Iterator[str]:
    """Every path the server must answer: homes, period views, messages, threads."""
    store = open_store(configlib.load(root).database, readonly=True)
    try:
        summaries = store.summaries(LIST)
    finally:
        store.close()
    yield from ("/", "/" + urls.list_home(LIST), f"/api/lists/{LIST}")
    for s in summaries:
        yield "/" + urls.message(LIST, s.key)
        yield f"/api/lists/{LIST}/messages/{s.key}"
    for key in sorted({s.thread_key for s in summaries}):
        yield "/" + urls.thread(LIST, key)
        yield f"/api/lists/{LIST}/threads/{key}"


def _serve(root: Path) -> list[str]:
    """GET every page; the paths that did not answer 200."""
    app = create_app(configlib.load(root))
    try:
        paths = list(_pages(root))
        listing = asgi_get(app, f"/api/lists/{LIST}")
        assert listing.status_code == 200, listing.text
        for period in json.loads(listing.text)["periods"]:
            paths += ["/" + urls.period_view(LIST, period["key"], v) for v in urls.VIEWS]
            paths.append(f"/api/lists/{LIST}/periods/{period['key']}")
        return [
            f"{p}: {r.status_code}" for p in paths if (r := asgi_get(app, p)).status_code != 200
        ]
    finally:
        app.state.archive.close()


def _stored_count(root: Path) -> int:
    result = cli("stats", "--archive", root, "--json")
    assert result.exit_code == 0, result.output
    return int(json.loads(result.stdout)["lists"][LIST]["messages"])


# A failing batch is printed whole: tens of kB of headers, on purpose.
@pytest.mark.filterwarnings("ignore:Generating overly large repr")
@pytest.mark.parametrize("backend", BACKENDS)
@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mail=batches())
def test_hostile_batches_are_imported_built_delivered_served_and_exported_whole(
    backend: str, mail: list[bytes]
) -> None:
    with tempfile.TemporaryDirectory() as folder, database_for(backend) as db_args:
        root = Path(folder) / "archive"
        _load(root, db_args, mail)
        assert _serve(root) == []
        assert _stored_count(root) == len(set(mail))
        assert Counter(exported(root, LIST)) == Counter(set(mail))
        site = root / "site"
        store = open_store(configlib.load(root).database, readonly=True)
        try:
            missing = [
                s.mid
                for s in store.summaries(LIST)
                if not (site / urls.message(LIST, s.key)).exists()
            ]
        finally:
            store.close()
        assert missing == [], "messages with no page in the built site"
