"""The hostile-mail suite (tests/mail/hostile/, written by tests/hostile_mail.py) without a
browser: the files are what the script writes, every message imports, the static build saves
no attachment outside its folder or under an active name, and the live server sends every
attachment as a download with nosniff and every response, errors too, with its security
headers. test_browser_hostile.py opens the same archive in Chromium."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from piperarc import config as configlib
from piperarc.web.app import create_app
from piperarc.web.http import SECURITY_HEADERS
from tests import hostile_mail
from tests.conftest import cli

# Content types a browser runs script in, or renders as a document from the archive's origin.
ACTIVE_TYPES = re.compile(
    r"^(text/html|image/svg\+xml|application/xhtml\+xml|text/xml|application/xml|"
    r"[a-z]+/[a-z.+-]*xml|text/javascript|application/javascript|text/xsl|multipart/)",
)
ACTIVE_SUFFIX = re.compile(
    r"\.(html?|xht(ml)?|s?html?|stm|svgz?|xml|xslt?|xbl|rdf|mht(ml)?|hta|htc|swf|m?js|css|"
    r"php\d?|pht(ml)?|phar|phps|f?cgi|pl|py|rb|as[pa]x?|as[chm]x|cer|jspx?|cfml?|wsf)(\.|$)",
    re.IGNORECASE,
)


class _Client:
    """httpx over the app in-process; a 500 comes back as a response, not an exception."""

    def __init__(self, app: Starlette) -> None:
        self.app = app

    def get(self, path: str) -> httpx.Response:
        async def fetch() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
                return await c.get(path)

        return asyncio.run(fetch())


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The suite imported into a list "hostile" and built (site/ beside the database)."""
    root = tmp_path_factory.mktemp("hostile") / "archive"
    assert cli("init", root, "--list", "hostile", "--title", "Hostile").exit_code == 0
    files = sorted(hostile_mail.HOSTILE_DIR.glob("*.eml"))
    result = cli("import", "--archive", root, "--list", "hostile", *files)
    assert result.exit_code == 0, result.output
    result = cli("build", "--archive", root, "--jobs", "1", "--no-search-index")
    assert result.exit_code == 0, result.output
    return root


@pytest.fixture(scope="module")
def client(archive: Path) -> Iterator[_Client]:
    app = create_app(configlib.load(archive))
    yield _Client(app)
    app.state.archive.close()


def _attachment_paths(site: Path) -> list[str]:
    return sorted(
        p.relative_to(site).as_posix() for p in (site / "hostile" / "m").glob("*/*") if p.is_file()
    )


def test_the_committed_suite_is_exactly_what_the_script_writes() -> None:
    written = {p.name: p.read_bytes() for p in hostile_mail.HOSTILE_DIR.glob("*.eml")}
    assert written == hostile_mail.messages(), "run: python -m tests.hostile_mail"


def test_the_suite_holds_at_least_a_hundred_messages_and_two_hundred_vectors() -> None:
    assert len(hostile_mail.messages()) >= 100
    assert hostile_mail.vector_count() >= 200


def test_every_hostile_message_is_imported_and_gets_a_page(archive: Path) -> None:
    pages = list((archive / "site" / "hostile" / "m").glob("*.html"))
    assert len(pages) == len(hostile_mail.messages())


def test_no_file_of_the_build_lands_outside_the_site_folder(archive: Path) -> None:
    outside = [
        p
        for p in archive.parent.rglob("*")
        if p.is_file() and not p.is_relative_to(archive / "site")
    ]
    assert sorted(p.name for p in outside if p.parent != archive) == []
    assert not Path("/tmp/piperarc-hostile-absolute.txt").exists()


def test_every_saved_attachment_sits_in_its_messages_folder_under_an_inert_name(
    archive: Path,
) -> None:
    site = archive / "site"
    saved = _attachment_paths(site)
    assert len(saved) >= len(hostile_mail.ATTACHMENT_NAMES)
    for path in saved:
        assert re.fullmatch(r"hostile/m/[a-z0-9]+/[0-9]+-[A-Za-z0-9._+-]+", path), path
        assert not ACTIVE_SUFFIX.search(path.rsplit("/", 1)[1]), path


def test_the_message_page_shows_and_offers_the_attachments_real_name(archive: Path) -> None:
    pages = [
        p.read_text(encoding="utf-8") for p in (archive / "site" / "hostile" / "m").glob("*.html")
    ]
    page = next(p for p in pages if "attachment name: 12" in p)  # "evil.html"
    assert re.search(r'href="[^"]*/1-evil_html\.txt" download="evil\.html">evil\.html</a>', page)


def test_every_attachment_is_served_as_an_inert_download_with_nosniff(
    archive: Path, client: _Client
) -> None:
    paths = _attachment_paths(archive / "site")
    for path in paths:
        response = client.get("/" + path)
        assert response.status_code == 200, path
        assert not ACTIVE_TYPES.match(response.headers["content-type"]), path
        assert response.headers["content-disposition"].startswith("attachment;"), path
        assert response.headers["x-content-type-options"] == "nosniff", path
        assert "sandbox" in response.headers["content-security-policy"], path
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"], path


def test_every_page_of_the_hostile_list_is_served_with_the_security_headers(
    archive: Path, client: _Client
) -> None:
    site = archive / "site"
    pages = sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html"))
    pages += ["search.html?q=script", "search.html?q=onerror", "nowhere.html", "api/lists"]
    for path in pages:
        if path == "search.html":  # the static build's search page; serve has its own
            continue
        response = client.get("/" + path)
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value, (path, name)


def test_a_server_error_page_carries_the_security_headers_too(
    archive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = create_app(configlib.load(archive))

    def broken(*args: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(app.state.archive, "home_page", broken)
    try:
        response = _Client(app).get("/")
    finally:
        app.state.archive.close()
    assert response.status_code == 500
    assert "a bug" not in response.text
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value, name


@pytest.mark.skipif(os.name != "posix", reason="POSIX paths")
def test_an_absolute_attachment_name_is_saved_under_its_last_segment(archive: Path) -> None:
    saved = _attachment_paths(archive / "site")
    assert any(p.endswith("-piperarc-hostile-absolute.txt") for p in saved)
    assert any(p.endswith("-piperarc-hostile-escape.txt") for p in saved)


def test_every_built_page_carries_a_strict_content_security_policy(archive: Path) -> None:
    site = archive / "site"
    pages = list(site.rglob("*.html"))
    assert len(pages) > len(hostile_mail.messages())
    for page in pages:
        head = page.read_text(encoding="utf-8").split("</head>", 1)[0]
        meta = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', head)
        assert meta, page
        policy = meta.group(1).replace("&#39;", "'")
        assert policy.startswith("default-src 'none';"), page
        assert "unsafe-inline" not in policy and "'unsafe-eval'" not in policy, page
        assert "base-uri 'none'" in policy, page


# Found by bench/fuzz_render.py: each stopped a whole import with a traceback (a malformed
# encoded word let email.errors.HeaderParseError out of the header decoding, a charset naming
# a bytes-to-bytes codec a LookupError); fixed on main (912ef47).
CRASHERS = {
    "malformed-base64-encoded-word": b"From: a@example.org\nSubject: =?UTF-8?B?abcde?=\n"
    b"Message-ID: <bad-b-word@example.org>\n\nhello\n",
    "charset-naming-a-bytes-codec": b"From: a@example.org\nSubject: uu\n"
    b"Message-ID: <charset-uu@example.org>\nMIME-Version: 1.0\n"
    b"Content-Type: text/plain; charset=uu\n\nhello\n",
}


@pytest.mark.parametrize("name", sorted(CRASHERS))
def test_a_message_the_parser_chokes_on_is_kept_and_the_import_goes_on(
    tmp_path: Path, name: str
) -> None:
    root = tmp_path / "archive"
    assert cli("init", root, "--list", "l").exit_code == 0
    (tmp_path / "bad.eml").write_bytes(CRASHERS[name])
    (tmp_path / "good.eml").write_bytes(b"From: b@example.org\nSubject: fine\n\nfine\n")
    result = cli(
        "import", "--archive", root, "--list", "l", tmp_path / "bad.eml", tmp_path / "good.eml"
    )
    assert result.exit_code == 0, result.output
    assert "imported 2 new" in result.output
