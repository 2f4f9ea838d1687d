"""The live server (piperarc.web), in-process over httpx's ASGITransport: the same pages as the
static build, downloads, Message-ID lookups, search and the JSON API."""

from __future__ import annotations

import asyncio
import gzip
import re
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from piperarc import config as configlib
from piperarc.ingest.sources.sample import sample_mbox
from piperarc.web.app import create_app
from piperarc.web.http import CSP, SECURITY_HEADERS
from tests.conftest import Run, cli

HTML_ATTACHMENT = b"""From: Mallory <mallory@example.net>
To: salon@example.org
Subject: [salon] A page for you
Date: Fri, 05 Jan 2024 10:00:00 +0000
Message-ID: <html-attachment@example.net>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b"

--b
Content-Type: text/plain

See the attached page.
--b
Content-Type: text/html; name="evil.html"
Content-Disposition: attachment; filename="evil.html"

<script>alert(1)</script>
--b--
"""


def _twin(body: str) -> bytes:
    return (
        "From: Twin <twin@example.org>\nTo: salon@example.org\nSubject: [salon] Twins\n"
        "Date: Sat, 06 Jan 2024 10:00:00 +0000\nMessage-ID: <twin@example.org>\n\n"
        f"{body}\n"
    ).encode()


class Client:
    """A synchronous face on httpx.AsyncClient over the app, for plain test functions."""

    def __init__(self, app: Starlette) -> None:
        self.app = app

    def get(self, path: str, **headers: str) -> httpx.Response:
        async def fetch() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
                return await c.get(path, headers=headers)

        return asyncio.run(fetch())


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, module_db_args: tuple[str, ...]) -> Path:
    """The sample list plus an HTML attachment and two messages sharing a Message-ID,
    imported and built once for the module."""
    root = tmp_path_factory.mktemp("web") / "archive"
    assert cli("init", root, "--list", "salon", "--title", "The Salon", *module_db_args)
    assert cli("init", root, "--list", "other", "--title", "Other", "--obfuscate", "hide")
    sources = root.parent / "mail"
    sources.mkdir()
    (sources / "salon.mbox").write_bytes(sample_mbox())
    (sources / "html.eml").write_bytes(HTML_ATTACHMENT)
    (sources / "twin1.eml").write_bytes(_twin("The first."))
    (sources / "twin2.eml").write_bytes(_twin("The second, a different message."))
    for name in ("salon.mbox", "html.eml", "twin1.eml", "twin2.eml"):
        result = cli("import", "--archive", root, "--list", "salon", sources / name)
        assert result.exit_code == 0, result.output
    result = cli("build", "--archive", root, "--jobs", "1")
    assert result.exit_code == 0, result.output
    return root


@pytest.fixture(scope="module")
def client(built: Path) -> Iterator[Client]:
    app = create_app(configlib.load(built))
    yield Client(app)
    app.state.archive.close()


def _site(built: Path) -> Path:
    return built / "site"


def _message_path(built: Path, text: str) -> str:
    """The site path of the first built message page containing `text`."""
    for page in sorted((_site(built) / "salon" / "m").glob("*.html")):
        if text in page.read_text(encoding="utf-8"):
            return page.relative_to(_site(built)).as_posix()
    raise AssertionError(f"no message page contains {text!r}")


def _api(client: Client, path: str) -> Any:
    response = client.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()


def _mboxrd_messages(data: bytes) -> list[bytes]:
    """The messages of an mboxrd file, unquoted (the inverse of feeds.mboxrd_entry)."""
    entries = re.split(rb"(?m)^From [^\n]*\n", data)[1:]
    return [re.sub(rb"(?m)^>(>*From )", rb"\1", entry[:-1]) for entry in entries]


# -- the same pages as the static build --


def test_every_served_message_page_equals_the_built_file_byte_for_byte(
    built: Path, client: Client
) -> None:
    pages = sorted((_site(built) / "salon" / "m").glob("*.html"))
    assert len(pages) > 20
    for page in pages:
        response = client.get("/" + page.relative_to(_site(built)).as_posix())
        assert response.status_code == 200
        assert response.content == page.read_bytes(), page.name


def test_served_thread_pages_period_views_and_the_home_equal_the_built_files(
    built: Path, client: Client
) -> None:
    site = _site(built)
    pages = [site / "index.html", *sorted(site.glob("salon/t/*.html"))]
    pages += sorted(site.glob("salon/*/*.html"))
    for page in pages:
        response = client.get("/" + page.relative_to(site).as_posix())
        assert response.content == page.read_bytes(), page


def test_the_served_list_home_equals_the_built_one_but_for_download_sizes(
    built: Path, client: Client
) -> None:
    built_html = (_site(built) / "salon" / "index.html").read_text(encoding="utf-8")
    served = client.get("/salon/index.html").text
    assert re.sub(r" \([0-9.]+ (?:bytes|KB|MB)\)", "", built_html) == served
    assert client.get("/salon/").text == served


def test_served_atom_feeds_equal_the_built_ones(built: Path, client: Client) -> None:
    site = _site(built)
    feeds = sorted(site.glob("salon/*.atom")) + sorted(site.glob("salon/t/*.atom"))[:5]
    assert len(feeds) >= 4
    for feed in feeds:
        response = client.get("/" + feed.relative_to(site).as_posix())
        assert response.headers["content-type"] == "application/atom+xml"
        assert response.content == feed.read_bytes(), feed


def test_the_stylesheet_is_served_as_css(client: Client) -> None:
    response = client.get("/piperarc.css")
    assert response.headers["content-type"] == "text/css; charset=utf-8"
    assert b"{" in response.content


# -- headers --


def test_a_message_page_has_an_etag_and_last_modified_and_answers_304_to_its_etag(
    built: Path, client: Client
) -> None:
    path = "/" + _message_path(built, "Welcome to the salon")
    response = client.get(path)
    etag = response.headers["etag"]
    assert etag.startswith('"')
    assert response.headers["last-modified"].endswith(" GMT")
    assert "max-age" in response.headers["cache-control"]
    again = client.get(path, **{"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert client.get(path, **{"If-None-Match": '"other"'}).status_code == 200


def test_an_original_is_immutable_and_answers_304_to_if_modified_since(
    built: Path, client: Client
) -> None:
    path = "/" + _message_path(built, "Welcome to the salon").replace(".html", ".eml")
    response = client.get(path)
    assert "immutable" in response.headers["cache-control"]
    later = formatdate(4102444800, usegmt=True)  # 2100
    assert client.get(path, **{"If-Modified-Since": later}).status_code == 304
    earlier = formatdate(0, usegmt=True)
    assert client.get(path, **{"If-Modified-Since": earlier}).status_code == 200


@pytest.mark.parametrize(
    "path",
    ["/", "/salon/index.html", "/piperarc.css", "/api/lists", "/nowhere/x.html", "/search.html"],
)
def test_every_response_carries_the_pages_content_security_policy_and_nosniff(
    client: Client, path: str
) -> None:
    response = client.get(path)
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value
    assert response.headers["content-security-policy"].startswith(CSP)


def test_the_csp_header_is_the_policy_of_the_pages_meta_tag(client: Client) -> None:
    html = client.get("/").text
    meta = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
    assert meta
    assert meta.group(1).replace("&#39;", "'") == CSP


# -- Message-ID lookup --


def test_a_message_id_redirects_to_its_permalink_within_a_list_and_across_lists(
    built: Path, client: Client
) -> None:
    key = _key(built, "Welcome to the salon")
    mid = _api(client, f"/api/lists/salon/messages/{key}")["message_id"]
    target = f"/salon/m/{key}.html"
    for path in (f"/salon/mid/{mid}", f"/mid/<{mid}>", f"/mid/{mid}"):
        response = client.get(path)
        assert response.status_code in (301, 302)
        assert response.headers["location"] == target


def test_two_messages_sharing_a_message_id_redirect_to_the_first_archived(
    built: Path, client: Client
) -> None:
    location = client.get("/mid/twin@example.org").headers["location"]
    assert "The first." in client.get(location).text


def test_an_unknown_message_id_gets_a_friendly_404_page(client: Client) -> None:
    for path in ("/mid/nobody@example.org", "/salon/mid/nobody@example.org"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/html")
        assert "nobody@example.org" in response.text
        assert "<h1>Not found</h1>" in response.text


# -- downloads --


def test_the_original_downloads_byte_for_byte_as_message_rfc822_with_its_name(
    built: Path, client: Client
) -> None:
    path = _message_path(built, "Welcome to the salon").replace(".html", ".eml")
    response = client.get("/" + path)
    assert response.content == (_site(built) / path).read_bytes()
    assert response.headers["content-type"] == "message/rfc822"
    name = path.rsplit("/", 1)[-1]
    assert response.headers["content-disposition"] == f'attachment; filename="{name}"'


def test_an_attachment_downloads_with_its_real_name_and_bytes(built: Path, client: Client) -> None:
    html = client.get("/" + _message_path(built, "apollo-report.txt")).text
    link = re.search(r'href="\.\./\.\./(salon/m/[a-z0-9]+/1-apollo-report\.txt)"', html)
    assert link
    response = client.get("/" + link.group(1))
    assert response.content == b"1202 alarm: executive overflow\n"
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["content-disposition"] == 'attachment; filename="apollo-report.txt"'
    assert response.headers["x-content-type-options"] == "nosniff"


def test_an_html_attachment_is_never_served_as_html(built: Path, client: Client) -> None:
    html = client.get("/" + _message_path(built, "See the attached page")).text
    link = re.search(r'href="\.\./\.\./(salon/m/[a-z0-9]+/1-evil_html\.txt)"', html)
    assert link
    response = client.get("/" + link.group(1))
    assert response.content == b"<script>alert(1)</script>"
    assert response.headers["content-type"] == "application/octet-stream"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''evil.html" in disposition
    assert "sandbox" in response.headers["content-security-policy"]


def test_an_attachment_number_the_message_lacks_is_not_found(built: Path, client: Client) -> None:
    html = client.get("/" + _message_path(built, "apollo-report.txt")).text
    link = re.search(r'href="\.\./\.\./(salon/m/[a-z0-9]+/)1-apollo-report\.txt"', html)
    assert link
    assert client.get(f"/{link.group(1)}9-apollo-report.txt").status_code == 404


def test_an_attachment_under_an_older_name_redirects_to_its_name_now(
    built: Path, client: Client
) -> None:
    # Earlier releases saved "evil.html" as "evil.html.txt": links to that name still work.
    html = client.get("/" + _message_path(built, "See the attached page")).text
    link = re.search(r'href="\.\./\.\./(salon/m/[a-z0-9]+/)1-evil_html\.txt"', html)
    assert link
    response = client.get(f"/{link.group(1)}1-evil.html.txt")
    assert response.status_code == 301
    assert response.headers["location"].endswith(f"/{link.group(1)}1-evil_html.txt")


def test_a_period_mbox_gz_holds_the_same_mboxrd_as_the_built_download(
    built: Path, client: Client
) -> None:
    response = client.get("/salon/2024-01.mbox.gz")
    assert response.headers["content-type"] == "application/gzip"
    assert "content-encoding" not in response.headers  # the file is the gzip, not the transfer
    disposition = response.headers["content-disposition"]
    assert disposition == 'attachment; filename="salon-2024-01.mbox.gz"'
    built_mbox = gzip.decompress((_site(built) / "salon" / "2024-01.mbox.gz").read_bytes())
    assert gzip.decompress(response.content) == built_mbox
    plain = client.get("/salon/2024-01.mbox")
    assert plain.headers["content-type"] == "application/mbox"
    assert plain.content == built_mbox


def test_a_thread_mbox_holds_each_message_of_the_thread_byte_for_byte_in_order(
    built: Path, client: Client
) -> None:
    message = _api(client, "/api/lists/salon/messages/" + _key(built, "Welcome to the salon"))
    thread = _api(client, message["links"]["thread_api"])
    response = client.get(message["links"]["thread_mbox"])
    assert response.headers["content-type"] == "application/gzip"
    assert re.match(
        r'attachment; filename="salon-thread-[a-z0-9]+\.mbox\.gz"$',
        response.headers["content-disposition"],
    )
    messages = _mboxrd_messages(gzip.decompress(response.content))
    order: list[str] = []
    stack = list(reversed(thread["tree"]))
    while stack:
        node = stack.pop()
        order.append(node["key"])
        stack.extend(reversed(node["replies"]))
    assert len(messages) == thread["messages"] == len(order) > 1
    for key, raw in zip(order, messages, strict=True):
        assert raw == client.get(f"/salon/m/{key}.eml").content


def _key(built: Path, text: str) -> str:
    return _message_path(built, text).rsplit("/", 1)[-1].removesuffix(".html")


# -- errors --


@pytest.mark.parametrize(
    "path",
    [
        "/nowhere/index.html",
        "/salon/m/nosuchkey.html",
        "/salon/t/nosuchkey.html",
        "/salon/1999-01/thread.html",
        "/salon/2024-01/nosuchview.html",
        "/salon/1999-01.mbox.gz",
        "/salon/m/nosuchkey.eml",
        "/a/b/c/d/e",
    ],
)
def test_an_unknown_page_gets_the_friendly_404_page(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert "<h1>Not found</h1>" in response.text
    assert "Traceback" not in response.text
    assert 'href="' in response.text  # a way back into the archive


def test_an_unknown_api_path_answers_a_json_404(client: Client) -> None:
    for path in ("/api/nothing", "/api/lists/nowhere", "/api/lists/salon/messages/nokey"):
        response = client.get(path)
        assert response.status_code == 404
        assert set(response.json()) == {"error"}


# -- the JSON API --


def test_api_lists_gives_every_list_with_counts(client: Client) -> None:
    lists = _api(client, "/api/lists")["lists"]
    assert [x["name"] for x in lists] == ["salon", "other"]
    salon = lists[0]
    assert salon["messages"] > 20
    assert salon["url"] == "/salon/index.html"
    assert lists[1]["messages"] == 0


def test_api_list_gives_its_periods_newest_first(client: Client) -> None:
    salon = _api(client, "/api/lists/salon")
    keys = [p["key"] for p in salon["periods"]]
    assert keys == sorted(keys, reverse=True)
    assert keys[-1] == "2024-01"
    assert salon["periods"][0]["api"] == f"/api/lists/salon/periods/{keys[0]}"


def test_api_period_gives_its_threads_and_messages(client: Client) -> None:
    period = _api(client, "/api/lists/salon/periods/2024-02")
    assert period["messages"]
    assert {m["thread"] for m in period["messages"]} == {t["key"] for t in period["threads"]}
    first = period["messages"][0]
    assert set(first) >= {"number", "key", "message_id", "subject", "from", "date", "url"}


def test_api_thread_nests_replies_under_their_parents(built: Path, client: Client) -> None:
    message = _api(client, "/api/lists/salon/messages/" + _key(built, "Welcome to the salon"))
    thread = _api(client, message["links"]["thread_api"])
    root = thread["tree"][0]
    assert root["replies"]
    deepest = 0
    stack = [(node, 1) for node in thread["tree"]]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((r, depth + 1) for r in node["replies"])
    assert deepest >= 2


def test_api_message_gives_fields_text_attachments_and_links(built: Path, client: Client) -> None:
    message = _api(client, "/api/lists/salon/messages/" + _key(built, "apollo-report.txt"))
    assert message["subject"].endswith("Apollo guidance software review")
    assert message["attachments"][0]["filename"] == "apollo-report.txt"
    assert client.get(message["attachments"][0]["url"]).content.startswith(b"1202 alarm")
    links = message["links"]
    assert client.get(links["page"]).status_code == 200
    assert client.get(links["raw"]).content.startswith(b"From: ")
    assert client.get(links["thread"]).status_code == 200
    for reply in links["replies"]:
        assert _api(client, reply)["links"]["parent"].endswith(message["key"])


def test_api_addresses_are_obfuscated_as_the_list_asks(built: Path, client: Client) -> None:
    message = _api(client, "/api/lists/salon/messages/" + _key(built, "Welcome to the salon"))
    assert " at example." in message["from"]
    text = str(message["from"]) + str(message["text"]) + str(message["attachments"])
    assert not re.search(r"[a-z]+@example\.(org|net|com)", text)


# -- search --


def test_api_search_answers_total_and_results_in_the_documented_shape(client: Client) -> None:
    found = _api(client, "/api/search?q=s:salon&list=salon")
    assert set(found) == {"total", "total_exact", "results", "suggestions"}
    assert found["suggestions"] == []  # offered only when nothing is found
    assert found["total"] >= 1
    assert found["total_exact"] is True  # counted, not estimated
    hit = found["results"][0]
    assert set(hit) == {"message_id", "list", "url", "subject", "from", "date", "snippet"}
    assert hit["list"] == "salon"
    assert client.get(hit["url"]).status_code == 200
    assert "@example" not in hit["from"]


def test_a_malformed_query_is_a_400_with_a_message_in_the_api_and_on_the_page(
    client: Client,
) -> None:
    response = client.get('/api/search?q="unclosed')
    assert response.status_code == 400
    assert "quote" in response.json()["error"]
    page = client.get('/search.html?q="unclosed')
    assert page.status_code == 400
    assert 'role="alert"' in page.text
    assert "quote" in page.text
    assert client.get("/api/search").status_code == 400
    assert client.get("/api/search?q=x&page=zero").status_code == 400
    assert client.get("/api/search?q=x&list=nowhere").status_code == 404


@pytest.mark.parametrize("query", ["%00", "a%00b", "%E2%80%8B", "-"])
def test_a_query_with_nul_or_nothing_to_search_for_is_a_400_in_the_api_and_on_the_page(
    client: Client, query: str
) -> None:
    response = client.get(f"/api/search?q={query}")
    assert response.status_code == 400
    assert response.json()["error"]
    page = client.get(f"/search.html?q={query}&list=salon")
    assert page.status_code == 400
    assert 'role="alert"' in page.text


def test_the_search_page_links_each_result_to_its_permalink_with_a_highlight(
    client: Client,
) -> None:
    page = client.get("/search.html?q=salon&list=salon")
    assert page.status_code == 200
    links = re.findall(r'<a class="subject" href="(salon/m/[a-z0-9-]+\.html)"', page.text)
    assert links
    assert client.get("/" + links[0]).status_code == 200
    assert "<mark>" in page.text
    assert 'value="salon"' in page.text  # the search box keeps the list


def test_the_search_page_is_paginated(client: Client) -> None:
    first = client.get("/search.html?q=salon")
    assert 'rel="next"' in first.text
    nxt = re.search(r'href="(search\.html\?[^"]*page=2[^"]*)" rel="next"', first.text)
    assert nxt
    second = client.get("/" + nxt.group(1).replace("&amp;", "&"))
    assert 'rel="prev"' in second.text
    assert second.text != first.text


def test_search_results_download_as_mboxrd_of_every_match(client: Client) -> None:
    total = _api(client, "/api/search?q=s:salon")["total"]
    response = client.get("/search.mbox?q=s:salon")
    assert response.headers["content-type"] == "application/mbox"
    assert 'filename="search.mbox"' in response.headers["content-disposition"]
    assert len(_mboxrd_messages(response.content)) == total


def test_the_help_page_documents_every_query_form(client: Client) -> None:
    html = client.get("/help/search.html").text
    for form in (
        '"man page"',
        "-typo",
        " OR ",
        "s:",
        "f:",
        "b:",
        "l:",
        "d:2023-01",
        "d:2023-01-01..2023-03-31",
        "has:attachment",
        "is:root",
    ):
        assert form.replace('"', "&#34;") in html or form in html, form


# -- freshness --


def test_newly_imported_mail_shows_without_a_rebuild(
    run: Run, archive: Path, tmp_path: Path
) -> None:
    first = tmp_path / "first.eml"
    first.write_bytes(_twin("Hello."))
    run("import", "--archive", archive, "--list", "salon", first)
    app = create_app(configlib.load(archive))
    client = Client(app)
    try:
        assert "1 messages" in client.get("/salon/index.html").text
        later = tmp_path / "later.eml"
        later.write_bytes(HTML_ATTACHMENT)
        run("import", "--archive", archive, "--list", "salon", later)
        assert "2 messages" in client.get("/salon/index.html").text
        assert client.get("/mid/html-attachment@example.net").status_code == 302
    finally:
        app.state.archive.close()
