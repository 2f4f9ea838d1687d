"""The live server (`piperarc serve`) in a real browser: Debian's chromium via Playwright.

What a reader does: search from the home page, open a result, walk its thread with the
next/previous links, download the thread's mbox. The demo archive is served by uvicorn in
a background thread on a free local port. Same rules as test_browser.py: without chromium
or playwright the tests skip, except under PIPERARC_CI, where they fail.
"""

from __future__ import annotations

import gzip
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner

from piperarc import config as configlib
from piperarc.cli import main
from piperarc.web.app import create_app
from tests.test_browser import _chromium

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo archive served by uvicorn on 127.0.0.1; yields its base URL."""
    import uvicorn

    folder = tmp_path_factory.mktemp("serve") / "demo"
    result = CliRunner().invoke(main, ["demo", str(folder)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    app = create_app(configlib.load(folder))
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="piperarc-serve", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Debian chromium (see _chromium)."""
    yield from _chromium()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    try:
        yield context.new_page()
    finally:
        context.close()


def _h1(page: Page) -> str:
    return page.locator("main h1").first.inner_text().strip()


def _thread_link(page: Page, arrow: str) -> str | None:
    """The href of the in-thread next (→) or previous (←) link, None at an end."""
    links = page.locator("nav.neighbours li", has_text="In thread:").locator("a", has_text=arrow)
    return links.first.get_attribute("href") if links.count() else None


def test_search_open_a_result_walk_its_thread_and_download_its_mbox(
    page: Page, served: str, tmp_path: Path
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "response",
        lambda response: (
            errors.append(f"{response.url}: {response.status}") if response.status >= 400 else None
        ),
    )
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )

    # Search from the home page.
    page.goto(served + "index.html")
    page.fill("#q", "welcome salon")
    page.locator("form.search button[type=submit]").click()
    page.wait_for_load_state()
    assert urlsplit(page.url).path == "/search.html"
    assert page.locator("ol.results li").count() >= 1
    assert page.locator("ol.results mark").count() >= 1

    # Open the thread's first message from the results.
    result = page.locator("ol.results a.subject", has_text="Welcome to the salon")
    starter = next(
        i for i in range(result.count()) if not result.nth(i).inner_text().startswith("Re:")
    )
    subject = result.nth(starter).inner_text().strip()
    result.nth(starter).click()
    page.wait_for_load_state()
    assert "/salon/m/" in page.url
    assert _h1(page) == subject
    start = page.url

    # Walk the thread forward to its end, then back to its start.
    visited = [start]
    while _thread_link(page, "→") is not None:
        page.locator("nav.neighbours li", has_text="In thread:").locator("a", has_text="→").click()
        page.wait_for_load_state()
        assert page.url not in visited
        visited.append(page.url)
        assert len(visited) < 100
    assert len(visited) > 1
    for expected in reversed(visited[:-1]):
        page.locator("nav.neighbours li", has_text="In thread:").locator("a", has_text="←").click()
        page.wait_for_load_state()
        assert page.url == expected
    assert _thread_link(page, "←") is None

    # The thread's mbox, downloaded by the browser: every message of the thread.
    page.locator("nav.neighbours a", has_text="whole thread").click()
    page.wait_for_load_state()
    with page.expect_download() as info:
        page.locator("a.download", has_text="Download the thread").click()
    download = info.value
    assert download.suggested_filename.endswith(".mbox.gz")
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    mbox = gzip.decompress(target.read_bytes())
    assert mbox.count(b"\nFrom ") + mbox.startswith(b"From ") == len(visited)
    assert errors == []
