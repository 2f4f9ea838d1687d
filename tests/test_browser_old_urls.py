"""An old archive's URL in a real browser (Debian's chromium through Playwright): on a host
with no redirects at all, the page the build leaves at the old path (opened straight from
disk) sends the reader on to the message; through `serve`, the 301 lands on it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser

from piperarc import config as configlib
from piperarc.web.app import create_app
from tests.conftest import cli, corpus_path
from tests.nginxhelpers import _free_port
from tests.test_browser import _chromium

OLD_PAGE = "imagej-devel/2009-December/000002.html"
MID = "857a86450912081239n24e6bd14h154a7d43a6aca02f@mail.gmail.com"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from _chromium()


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("old-urls") / "archive"
    folder = corpus_path("old-archives", "pipermail", "imagej-devel-2009-2010", "imagej-devel")
    cli("init", root, "--list", "imagej-devel")
    assert cli("import", "--archive", root, "--from", "pipermail", folder).exit_code == 0
    assert cli("build", "--archive", root, "--no-search-index").exit_code == 0
    return root


def test_the_page_at_an_old_path_sends_the_reader_to_the_message(
    browser: Browser, archive: Path
) -> None:
    page = browser.new_page()
    try:
        page.goto((archive / "site" / "pipermail" / OLD_PAGE).as_uri())
        page.wait_for_url("**/imagej-devel/m/*.html")
        assert MID.split("@")[0] in page.content()
    finally:
        page.close()


def test_serve_answers_an_old_url_with_the_message_page(browser: Browser, archive: Path) -> None:
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(configlib.load(archive)), host="127.0.0.1", port=port, log_level="error"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    page = browser.new_page()
    try:
        while not server.started:
            threading.Event().wait(0.05)
        response = page.goto(f"http://127.0.0.1:{port}/pipermail/{OLD_PAGE}")
        assert response is not None and response.status == 200
        assert "/imagej-devel/m/" in page.url
        assert response.request.redirected_from is not None
        assert MID.split("@")[0] in page.content()
    finally:
        page.close()
        server.should_exit = True
        thread.join()
