"""Private lists (web/access.py): a private list is shown to its members only, and to
everyone else it does not exist, by every route of the server. Anonymous readers,
non-members, members whose header came from a peer that is not trusted, and members taken
out of the members file are tried on every route; what they get is compared with what a
list nobody created gets."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from piperarc import config as configlib
from piperarc import mid as midlib
from piperarc.model import OldLink
from piperarc.store import open_store
from piperarc.web.app import create_app, routes
from tests.conftest import Run, cli

HEADER = "X-Remote-User"
MEMBER = "Ada@Example.org"  # as the proxy spells it: addresses compare in lower case
SECRET_MID = "zebracorn-plan@staff.example.org"
SECRET_REPLY_MID = "zebracorn-reply@staff.example.org"
# What must never reach a non-member: the list's name, title and address, its mail.
SECRETS = ("staff", "Staff Room", "Zebracorn", SECRET_MID, "zebracorn", "quagga")


def _mail(mid: str, subject: str, body: str, date: str, reply_to: str | None = None) -> str:
    refs = f"In-Reply-To: <{reply_to}>\nReferences: <{reply_to}>\n" if reply_to else ""
    return (
        f"From someone@example.org {date}\n"
        f"From: Ada <ada@example.org>\nTo: list@example.org\nSubject: {subject}\n"
        f"Date: {date}\nMessage-ID: <{mid}>\n{refs}\n{body}\n\n"
    )


def _eml(mid: str, subject: str) -> str:
    """One message (no mbox From_ line), of the private list's kind."""
    return _mail(mid, subject, "quagga", "Wed, 17 Jan 2024 10:00:00 +0000").split("\n", 1)[1]


STAFF_MBOX = _mail(
    SECRET_MID,
    "Zebracorn budget",
    "The quagga plan and the budget, staff only.\n",
    "Mon, 15 Jan 2024 10:00:00 +0000",
) + _mail(
    SECRET_REPLY_MID,
    "Re: Zebracorn budget",
    "Agreed on the budget.\n",
    "Tue, 16 Jan 2024 10:00:00 +0000",
    reply_to=SECRET_MID,
)
SALON_MBOX = _mail(
    "open-budget@salon.example.org",
    "The salon budget",
    "Everyone may read about this budget.\n",
    "Mon, 15 Jan 2024 09:00:00 +0000",
)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory, module_db_args: tuple[str, ...]) -> Path:
    """A public list (salon) and a private one (staff, its members in staff.txt), with
    mail in both, an old archive's URL for staff, and a built public site."""
    root = tmp_path_factory.mktemp("private") / "archive"
    assert cli("init", root, "--list", "salon", "--title", "The Salon", *module_db_args)
    result = cli(
        "init", root, "--list", "staff", "--title", "Staff Room",
        "--address", "staff@example.org", "--private", "--members", "staff.txt",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (root / "staff.txt").write_text(f"# who reads staff\n{MEMBER}\nBob Lee <bob@example.org>\n")
    mail = root.parent / "mail"
    mail.mkdir()
    (mail / "staff.mbox").write_text(STAFF_MBOX)
    (mail / "salon.mbox").write_text(SALON_MBOX)
    assert cli("import", "--archive", root, "--list", "staff", mail / "staff.mbox").exit_code == 0
    assert cli("import", "--archive", root, "--list", "salon", mail / "salon.mbox").exit_code == 0
    config = configlib.load(root)
    store = open_store(config.database)
    try:
        num = store.messages_by_mid("staff", SECRET_MID)[0].num
        store.add_old_links(
            "staff", [OldLink("/pipermail/staff/2024-January/000001.html", "message", num)]
        )
    finally:
        store.close()
    return root


class Client:
    """The app in-process; `peer` is the address the request comes from."""

    def __init__(self, app: Starlette, peer: str = "127.0.0.1") -> None:
        self.app = app
        self.peer = peer

    def get(self, path: str, headers: list[tuple[str, str]] | None = None) -> httpx.Response:
        async def fetch() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app, client=(self.peer, 40000))
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
                return await c.get(path, headers=headers or [])

        return asyncio.run(fetch())


def _app(root: Path) -> Starlette:
    return create_app(configlib.load(root), reader_header=HEADER)


@pytest.fixture(scope="module")
def app(archive: Path) -> Starlette:
    return _app(archive)


def _keys(root: Path) -> dict[str, str]:
    """The staff list's message and thread keys, its period, and its HyperKitty hash."""
    config = configlib.load(root)
    store = open_store(config.database, readonly=True)
    try:
        msg = store.messages_by_mid("staff", SECRET_MID)[0]
    finally:
        store.close()
    return {
        "key": msg.key,
        "thread": msg.thread_key or msg.key,
        "period": "2024-01",
        "hash": midlib.hyperkitty_hash(SECRET_MID),
    }


# Every route of the app, as a path into the private list (or, for the site-wide ones, a
# path that would show it). {list} is the list's name; {key} and the rest, its message's.
ROUTE_PATHS = {
    "/": "/",
    "/index.html": "/index.html",
    "/piperarc.css": "/piperarc.css",
    "/favicon.ico": "/favicon.ico",
    "/search.html": "/search.html?q=budget",
    "/search.mbox": "/search.mbox?q=budget",
    "/help/search.html": "/help/search.html",
    "/mid/{mid:path}": "/mid/{mid}",
    "/api/openapi.json": "/api/openapi.json",
    "/api/lists": "/api/lists",
    "/api/lists/{list}": "/api/lists/{list}",
    "/api/lists/{list}/periods/{period}": "/api/lists/{list}/periods/{period}",
    "/api/lists/{list}/threads/{key}": "/api/lists/{list}/threads/{thread}",
    "/api/lists/{list}/messages/{key}": "/api/lists/{list}/messages/{key}",
    "/api/search": "/api/search?q=budget",
    "/{list}": "/{list}",
    "/{list}/": "/{list}/",
    "/{list}/index.html": "/{list}/index.html",
    "/{list}/mid/{mid:path}": "/{list}/mid/{mid}",
    "/{list}/m/{key}.html": "/{list}/m/{key}.html",
    "/{list}/m/{key}.eml": "/{list}/m/{key}.eml",
    "/{list}/m/{key}/{name}": "/{list}/m/{key}/1-file.txt",
    "/{list}/t/{key}.html": "/{list}/t/{thread}.html",
    "/{list}/t/{key}.atom": "/{list}/t/{thread}.atom",
    "/{list}/{kind}.atom": "/{list}/messages.atom",
    "/{list}/t/{key}.mbox.gz": "/{list}/t/{thread}.mbox.gz",
    "/{list}/t/{key}.mbox": "/{list}/t/{thread}.mbox",
    "/{list}/{period}.mbox.gz": "/{list}/{period}.mbox.gz",
    "/{list}/{period}.mbox": "/{list}/{period}.mbox",
    "/{list}/{period}/{view}.html": "/{list}/{period}/thread.html",
}
# Paths no route answers, where the server may still answer for the list: an old archive's
# URL and HyperKitty's (web/oldlinks.py, from the 404 handler).
FALLBACK_PATHS = [
    "/pipermail/{list}/2024-January/000001.html",
    "/hyperkitty/list/{list}@example.org/message/{hash}/",
    "/hyperkitty/list/{list}@example.org/thread/{hash}/",
    "/hyperkitty/list/{list}@example.org/2024/1/",
    "/hyperkitty/list/{list}@example.org/",
]


MISSING_MID = "nobody-wrote-this@nowhere.example.org"


def _paths(root: Path, name: str, mid: str = SECRET_MID) -> list[str]:
    values = {"list": name, "mid": mid, **_keys(root)}
    return [p.format(**values) for p in [*ROUTE_PATHS.values(), *FALLBACK_PATHS]]


def _outsiders(app: Starlette) -> Iterator[tuple[str, Client, list[tuple[str, str]]]]:
    yield "anonymous", Client(app), []
    yield "a non-member", Client(app), [(HEADER, "mallory@example.org")]
    yield "a member from a peer not trusted", Client(app, "203.0.113.9"), [(HEADER, MEMBER)]
    yield "a member header sent twice", Client(app), [(HEADER, MEMBER), (HEADER, MEMBER)]


def test_every_route_of_the_app_is_tried() -> None:
    assert {r.path for r in routes()} == set(ROUTE_PATHS)


def test_an_outsider_finds_nothing_of_a_private_list_by_any_route(
    app: Starlette, archive: Path
) -> None:
    for who, client, headers in _outsiders(app):
        for path in _paths(archive, "staff"):
            got = client.get(path, headers)
            # What the path itself says may be said back ("no list named 'staff'"):
            # a page saying it was not found is compared with a missing list's below.
            for secret in (s for s in SECRETS if s not in path):
                assert secret not in got.text, f"{who}: {path} shows {secret!r}"
                for name, value in got.headers.items():
                    assert secret not in value, f"{who}: {path} header {name}: {value}"


def test_a_private_list_answers_an_outsider_as_a_list_nobody_created(
    app: Starlette, archive: Path
) -> None:
    for who, client, headers in _outsiders(app):
        pairs = zip(_paths(archive, "staff"), _paths(archive, "nolist", MISSING_MID), strict=True)
        for private, missing in pairs:
            got, expected = client.get(private, headers), client.get(missing, headers)
            assert got.status_code == expected.status_code, f"{who}: {private}"
            seen = got.text.replace(SECRET_MID, "MID").replace("staff", "NAME")
            assert seen == expected.text.replace(MISSING_MID, "MID").replace("nolist", "NAME")


def test_a_member_reads_every_page_of_the_private_list(app: Starlette, archive: Path) -> None:
    keys = _keys(archive)
    client = Client(app)
    me = [(HEADER, MEMBER)]
    assert "Zebracorn budget" in client.get(f"/staff/m/{keys['key']}.html", me).text
    assert "Zebracorn" in client.get(f"/staff/t/{keys['thread']}.html", me).text
    assert "Staff Room" in client.get("/", me).text
    assert client.get(f"/staff/m/{keys['key']}.eml", me).content.startswith(b"From: Ada")
    assert client.get("/staff/2024-01.mbox", me).status_code == 200
    assert client.get("/staff/messages.atom", me).status_code == 200


def test_a_member_is_known_by_name_and_address_in_the_header(app: Starlette) -> None:
    got = Client(app).get("/staff/", [(HEADER, "Bob Lee <BOB@example.org>")])
    assert got.status_code == 200


def test_what_a_member_sees_is_never_kept_by_a_shared_cache(app: Starlette, archive: Path) -> None:
    keys = _keys(archive)
    client = Client(app)
    for path in (
        "/",
        "/staff/",
        f"/staff/m/{keys['key']}.html",
        f"/staff/m/{keys['key']}.eml",
        "/api/lists",
        "/search.html?q=budget",
    ):
        assert client.get(path, [(HEADER, MEMBER)]).headers["cache-control"] == "private, no-store"


def test_public_pages_stay_cacheable_for_anyone(app: Starlette) -> None:
    assert Client(app).get("/salon/").headers["cache-control"] == "public, max-age=300"


def test_a_member_and_an_outsider_never_get_each_others_home_page(app: Starlette) -> None:
    client = Client(app)
    assert "Staff Room" in client.get("/", [(HEADER, MEMBER)]).text
    assert "Staff Room" not in client.get("/").text
    assert "Staff Room" in client.get("/", [(HEADER, MEMBER)]).text


def test_search_counts_only_what_the_reader_may_read(app: Starlette) -> None:
    client = Client(app)
    outsider = client.get("/api/search?q=budget").json()
    member = client.get("/api/search?q=budget", [(HEADER, MEMBER)]).json()
    assert outsider["total"] == 1
    assert member["total"] == 3


def test_a_member_follows_the_private_lists_old_url(app: Starlette, archive: Path) -> None:
    got = Client(app).get("/pipermail/staff/2024-January/000001.html", [(HEADER, MEMBER)])
    assert got.status_code == 301
    assert got.headers["location"].endswith(f"/staff/m/{_keys(archive)['key']}.html")


def test_a_member_follows_the_private_lists_hyperkitty_url(app: Starlette, archive: Path) -> None:
    path = f"/hyperkitty/list/staff@example.org/message/{_keys(archive)['hash']}/"
    got = Client(app).get(path, [(HEADER, MEMBER)])
    assert got.status_code == 301


def test_a_member_taken_out_of_the_file_reads_no_more(archive: Path, tmp_path: Path) -> None:
    app = _app(archive)
    members = archive / "staff.txt"
    before = members.read_text()
    try:
        assert Client(app).get("/staff/", [(HEADER, MEMBER)]).status_code == 200
        members.write_text("bob@example.org\n# Ada left\n")
        assert Client(app).get("/staff/", [(HEADER, MEMBER)]).status_code == 404
    finally:
        members.write_text(before)


def test_a_members_file_that_cannot_be_read_lets_nobody_in(archive: Path) -> None:
    app = _app(archive)
    members = archive / "staff.txt"
    hidden = archive / "staff.txt.away"
    members.rename(hidden)
    try:
        assert Client(app).get("/staff/", [(HEADER, MEMBER)]).status_code == 404
    finally:
        hidden.rename(members)


def test_without_a_reader_header_setting_nobody_is_a_member(archive: Path) -> None:
    app = create_app(configlib.load(archive))
    assert Client(app).get("/staff/", [(HEADER, MEMBER)]).status_code == 404


def test_a_member_on_a_unix_socket_is_trusted(app: Starlette) -> None:
    async def fetch() -> int:
        status = 0

        async def receive() -> dict[str, object]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, object]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(str(message["status"]))

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/staff/",
            "raw_path": b"/staff/",
            "root_path": "",
            "query_string": b"",
            "headers": [(HEADER.lower().encode(), MEMBER.encode()), (b"host", b"x")],
            "client": None,  # what uvicorn gives for a unix socket's peer
            "server": None,
        }
        await app(scope, receive, send)  # type: ignore[arg-type]
        return status

    assert asyncio.run(fetch()) == 200


def test_a_list_made_private_is_private_at_once_for_a_running_server(archive: Path) -> None:
    app = _app(archive)
    config = archive / configlib.CONFIG_NAME
    before = config.read_text()
    try:
        assert Client(app).get("/salon/").status_code == 200
        config.write_text(
            before.replace('name = "salon"', 'name = "salon"\nprivate = true\nmembers = "x.txt"')
        )
        assert Client(app).get("/salon/").status_code == 404
    finally:
        config.write_text(before)


def test_settings_that_cannot_be_read_serve_nothing(archive: Path) -> None:
    app = _app(archive)
    config = archive / configlib.CONFIG_NAME
    before = config.read_text()
    try:
        config.write_text(before + "\n[[lists]]\nthis is not toml\n")
        got = Client(app).get("/salon/")
        assert got.status_code == 503
        assert "budget" not in got.text
    finally:
        config.write_text(before)


def test_mail_imported_into_a_private_list_while_the_server_runs_stays_private(
    archive: Path, run: Run, tmp_path: Path
) -> None:
    app = _app(archive)
    assert Client(app).get("/").status_code == 200  # the server is up before the mail comes
    late = tmp_path / "late.eml"
    late.write_text(_eml("late@staff.example.org", "Zebracorn late"))
    assert run("import", "--archive", archive, "--list", "staff", late).exit_code == 0
    for path in ("/", "/api/lists", "/search.html?q=quagga", "/mid/late@staff.example.org"):
        got = Client(app).get(path)
        assert "Zebracorn" not in got.text
        assert "Staff Room" not in got.text
        assert got.status_code in (200, 404)


# -- the static build --


def _site_text(site: Path) -> Iterator[tuple[Path, bytes]]:
    """Every file of a built site as bytes, decompressed where compressed (gzip, zlib:
    the mbox downloads and the search index's files)."""
    for path in site.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        elif data[:1] == b"\x78":
            with contextlib.suppress(zlib.error):
                data = zlib.decompress(data)
        yield path, data


def test_the_public_site_holds_nothing_of_a_private_list(archive: Path, run: Run) -> None:
    result = run("build", "--archive", archive)
    assert result.exit_code == 0, result.output
    assert "1 private lists not built (staff)" in result.output
    site = archive / "site"
    assert not (site / "staff").exists()
    scanned = 0
    for path, data in _site_text(site):
        scanned += 1
        for secret in (SECRET_MID, SECRET_REPLY_MID, "Zebracorn", "quagga", "Staff Room"):
            assert secret.encode() not in data, f"{path} holds {secret!r}"
        assert b"staff" not in data.lower(), path
    assert scanned > 10
    # The scan reads the search index's compressed files: the public list's words are
    # found there (its doc files hold the start of each message's text).
    indexed = [p for p, data in _site_text(site / "search-index") if b"Everyone may read" in data]
    assert indexed


def test_private_out_writes_the_private_lists_as_a_site_of_their_own(
    archive: Path, run: Run, tmp_path: Path
) -> None:
    private = tmp_path / "members-only"
    result = run("build", "--archive", archive, "--private-out", private, "--no-search-index")
    assert result.exit_code == 0, result.output
    assert (private / "staff" / "index.html").is_file()
    assert not (private / "salon").exists()
    assert "Staff Room" in (private / "index.html").read_text()
    assert "The Salon" not in (private / "index.html").read_text()
    marker = json.loads((private / ".piperarc-build.json").read_text())
    assert marker["private"] is True


def test_private_out_inside_the_public_site_is_refused(archive: Path, run: Run) -> None:
    result = run("build", "--archive", archive, "--private-out", archive / "site" / "members")
    assert result.exit_code == 1
    assert "must be separate folders" in result.output


def test_a_list_made_private_is_taken_out_of_the_public_site_by_the_next_build(
    archive: Path, run: Run, tmp_path: Path
) -> None:
    config = archive / configlib.CONFIG_NAME
    before = config.read_text()
    site = tmp_path / "site"
    try:
        config.write_text(before.replace("private = true\n", ""))
        config.write_text(config.read_text().replace('members = "staff.txt"\n', ""))
        assert run("build", "--archive", archive, "--out", site, "--no-search-index").exit_code == 0
        assert (site / "staff" / "index.html").is_file()
        assert (site / "pipermail" / "staff" / "2024-January" / "000001.html").is_file()
        config.write_text(before)
        result = run("build", "--archive", archive, "--out", site, "--no-search-index")
        assert result.exit_code == 0, result.output
        assert not (site / "staff").exists()
        assert not (site / "pipermail" / "staff" / "2024-January" / "000001.html").exists()
        assert "Staff Room" not in (site / "index.html").read_text()
    finally:
        config.write_text(before)


def test_delivery_to_a_private_list_never_writes_into_the_public_site(
    archive: Path, run: Run, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    assert run("build", "--archive", archive, "--out", site, "--no-search-index").exit_code == 0
    message = _eml("deliv@staff.example.org", "Zebracorn news")
    result = run("deliver", "--archive", archive, "--list", "staff", "--site", site, input=message)
    assert result.exit_code == 0, result.output
    assert not (site / "staff").exists()
    for path, data in _site_text(site):
        assert b"Zebracorn" not in data, path


# -- settings --


def test_init_writes_a_private_list_and_its_members(tmp_path: Path, run: Run) -> None:
    root = tmp_path / "a"
    result = run("init", root, "--list", "sec", "--private", "--members", "sec.txt")
    assert result.exit_code == 0, result.output
    assert "nobody may read it" in result.output  # sec.txt is not there yet
    lst = configlib.load(root).list("sec")
    assert lst.private
    assert lst.members == "sec.txt"


def test_members_without_private_is_refused(tmp_path: Path, run: Run) -> None:
    result = run("init", tmp_path / "a", "--list", "sec", "--members", "sec.txt")
    assert result.exit_code == 1
    assert "add --private" in result.output


def test_members_from_mailman_need_its_rest_api(tmp_path: Path, run: Run) -> None:
    root = tmp_path / "a"
    result = run(
        "init", root, "--list", "sec", "--address", "sec@example.org",
        "--private", "--members", "mailman",
    )  # fmt: skip
    assert result.exit_code == 1
    assert "mailman_rest" in result.output
    assert "sec" not in [lst.name for lst in configlib.load(root).lists]  # nothing written


def test_a_members_line_on_a_public_list_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / configlib.CONFIG_NAME).write_text(
        '[archive]\ntitle = "x"\n[[lists]]\nname = "a"\nmembers = "a.txt"\n'
    )
    with pytest.raises(configlib.ConfigError, match="only asked for on a private list"):
        configlib.load(tmp_path)


def test_the_private_sites_feeds_never_link_to_the_public_sites_address(
    archive: Path, run: Run, tmp_path: Path
) -> None:
    config = archive / configlib.CONFIG_NAME
    before = config.read_text()
    try:
        config.write_text(
            before.replace(
                "[archive]\n",
                '[archive]\nbase_url = "https://lists.example.org/"\n'
                'private_base_url = "https://members.example.org/"\n',
                1,
            )
        )
        private = tmp_path / "members-only"
        built = run("build", "--archive", archive, "--private-out", private, "--no-search-index")
        assert built.exit_code == 0, built.output
        feed = (private / "staff" / "messages.atom").read_text()
        assert "https://members.example.org/staff/" in feed
        assert "lists.example.org" not in feed
    finally:
        config.write_text(before)
