"""The built demo archive in a real browser: Debian's chromium, driven by Playwright.

What a reader does: open the home page, click to a list, a period, a message, walk to the
next message; what a phone shows; what the .eml link downloads. The site is served by
Python's http.server on 127.0.0.1, and every request the pages make is recorded, so a page
that reaches for another host (a font, a script, a tracker) fails here.

Needs `apt-get install chromium` and `pip install playwright` (Debian's chromium is used, no
`playwright install`). Without them the tests skip, except under PIPERARC_CI, where they fail.
Set PIPERARC_SCREENSHOTS=1 to save screenshots to bench/out/.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner

from piperarc.cli import main

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Request, ViewportSize

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(__file__).resolve().parents[1] / "bench" / "out"
NON_ASCII_SUBJECT = "Réunion à Paris — café ☕"
PHONE: ViewportSize = {"width": 375, "height": 812}


def _unavailable(reason: str) -> None:
    """Skip, saying how to install what is missing; in CI, fail instead."""
    if os.environ.get("PIPERARC_CI"):
        pytest.fail(f"CI needs the browser tests to run: {reason}")
    pytest.skip(reason)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the site folder without logging every request to stderr."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class Site:
    """The demo archive's built site and the address it is served at."""

    root: Path
    base: str  # http://127.0.0.1:PORT/

    def url(self, path: str) -> str:
        return self.base + path


@dataclass
class Traffic:
    """What a page asked for and what went wrong, recorded from Playwright's events."""

    requests: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)


def _served_demo(folder: Path, needs: str | None = None) -> Iterator[Site]:
    """The demo archive (`piperarc demo`) built in `folder` and served on a free local
    port; `needs`, a file the site must have, else the tests cannot run."""
    result = CliRunner().invoke(main, ["demo", str(folder)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    root = folder / "site"
    if needs is not None and not (root / needs).is_file():
        _unavailable(f"the build wrote no {needs}: {result.output.strip()}")
    with _served(root) as site:
        yield site


@contextmanager
def _served(
    folder: Path, handler: type[http.server.SimpleHTTPRequestHandler] = _QuietHandler
) -> Iterator[Site]:
    """`folder` served on a free local port while the block runs."""
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(folder))
    )
    thread = threading.Thread(target=server.serve_forever, name="site-server", daemon=True)
    thread.start()
    try:
        yield Site(folder, f"http://127.0.0.1:{server.server_address[1]}/")
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The demo archive, built once and served on a free local port."""
    yield from _served_demo(tmp_path_factory.mktemp("browser") / "demo")


def _chromium() -> Iterator[Browser]:
    """Headless Debian chromium, or a skip (a failure in CI) saying how to install it: what
    each browser test module's `browser` fixture yields."""
    if not CHROMIUM.exists():
        _unavailable(f"no {CHROMIUM}: apt-get install chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("no playwright package: pip install playwright (or pip install -e '.[test]')")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Debian chromium (see _chromium)."""
    yield from _chromium()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context and page for one test (desktop size)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()


def _record(page: Page) -> Traffic:
    traffic = Traffic()

    def on_request_failed(request: Request) -> None:
        traffic.failed.append(f"{request.url}: {request.failure}")

    page.on("request", lambda request: traffic.requests.append(request.url))
    page.on("requestfailed", on_request_failed)
    page.on(
        "response",
        lambda response: (
            traffic.failed.append(f"{response.url}: HTTP {response.status}")
            if response.status >= 400
            else None
        ),
    )
    page.on(
        "console",
        lambda message: (
            traffic.console_errors.append(message.text) if message.type == "error" else None
        ),
    )
    page.on("pageerror", lambda error: traffic.page_errors.append(str(error)))
    return traffic


def _screenshot(page: Page, name: str) -> None:
    """Saves a full-page screenshot to bench/out/NAME.png, only when PIPERARC_SCREENSHOTS is set."""
    if os.environ.get("PIPERARC_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def _thread_view_hrefs(page: Page, site: Site) -> list[str]:
    """The absolute URLs of every period's thread view, from the list's home, newest first."""
    page.goto(site.url("salon/index.html"))
    links = page.locator("table.periods a", has_text=re.compile(r"^thread$"))
    return [_absolute(page, links.nth(i).get_attribute("href") or "") for i in range(links.count())]


def _absolute(page: Page, href: str) -> str:
    """`href` resolved against the page's URL, as the browser would follow it."""
    result: str = page.evaluate("href => new URL(href, document.baseURI).href", href)
    return result


def _open_message(page: Page, site: Site, subject_part: str) -> str:
    """Goes to the first message whose subject contains `subject_part`; returns its URL."""
    for href in _thread_view_hrefs(page, site):
        page.goto(href)
        link = page.locator(".tree a", has_text=subject_part)
        if link.count():
            link.first.click()
            page.wait_for_load_state()
            return page.url
    raise AssertionError(f"no message about {subject_part!r} in any period's thread view")


def _h1(page: Page) -> str:
    return page.locator("main h1").first.inner_text().strip()


def test_the_home_page_lists_the_list_and_a_click_reaches_the_list_home(
    page: Page, site: Site
) -> None:
    page.goto(site.url("index.html"))
    link = page.locator("table.lists a", has_text="The Salon")
    assert link.count() == 1
    link.click()
    page.wait_for_load_state()
    assert urlsplit(page.url).path == "/salon/index.html"
    assert _h1(page) == "The Salon"
    assert page.locator("table.periods tbody tr").count() >= 1


def test_a_click_in_a_periods_thread_view_opens_the_message_whose_h1_is_its_subject(
    page: Page, site: Site
) -> None:
    page.goto(_thread_view_hrefs(page, site)[-1])  # the oldest period: a few threads
    _screenshot(page, "period-thread-view")
    link = page.locator(".tree a", has_text="Welcome to the salon").first  # a real thread
    subject = link.inner_text().strip()
    link.click()
    page.wait_for_load_state()
    assert re.search(r"/salon/m/[a-z0-9]+\.html$", page.url), page.url
    assert _h1(page) == subject
    _screenshot(page, "message")
    page.locator("nav.neighbours a", has_text="whole thread").click()
    page.wait_for_load_state()
    _screenshot(page, "thread")


def test_next_by_date_and_in_thread_links_on_a_message_page_navigate(
    page: Page, site: Site
) -> None:
    start = _open_message(page, site, "Welcome to the salon")

    by_date = page.locator("nav.neighbours a[rel=next]")
    expected = by_date.inner_text().removesuffix("→").strip()
    by_date.click()
    page.wait_for_load_state()
    assert page.url != start
    assert _h1(page) == expected
    back = page.locator("nav.neighbours a[rel=prev]").get_attribute("href") or ""
    assert _absolute(page, back) == start

    page.goto(start)
    in_thread = page.locator("nav.neighbours li", has_text="In thread:")
    in_thread.locator("a", has_text="→").click()
    page.wait_for_load_state()
    assert page.url != start
    assert "Welcome to the salon" in _h1(page)  # a reply in the same thread
    back = (
        page.locator("nav.neighbours li", has_text="In thread:")
        .locator("a", has_text="←")
        .get_attribute("href")
        or ""
    )
    assert _absolute(page, back) == start


def test_a_message_page_has_no_console_errors_failed_requests_or_other_hosts(
    page: Page, site: Site
) -> None:
    url = _open_message(page, site, "Apollo guidance software review")  # has an attachment
    traffic = _record(page)
    page.goto(url)
    page.wait_for_load_state("networkidle")
    assert traffic.console_errors == []
    assert traffic.page_errors == []
    assert traffic.failed == []
    ours = urlsplit(site.base).netloc
    assert traffic.requests, "the page made no requests at all"
    assert [u for u in traffic.requests if urlsplit(u).netloc != ours] == []


@pytest.mark.parametrize(
    "which",
    [
        "home",
        "list home",
        "thread view",
        "date view",
        "message",
        "whole thread",
    ],
)
def test_a_page_375px_wide_has_no_horizontal_scrollbar(
    browser: Browser, site: Site, which: str
) -> None:
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True)
    try:
        page = context.new_page()
        if which == "home":
            page.goto(site.url("index.html"))
        elif which == "list home":
            page.goto(site.url("salon/index.html"))
        elif which in ("thread view", "date view"):
            href = _thread_view_hrefs(page, site)[0]
            if which == "date view":
                href = href.replace("/thread.html", "/date.html")
            page.goto(href)
        else:
            _open_message(page, site, NON_ASCII_SUBJECT)  # a long subject, with wide glyphs
            if which == "whole thread":
                page.locator("nav.neighbours a", has_text="whole thread").click()
                page.wait_for_load_state()
        widths = page.evaluate(
            "() => [document.scrollingElement.scrollWidth, document.scrollingElement.clientWidth]"
        )
        assert widths[0] <= widths[1] + 1, f"{which}: scrollWidth {widths[0]} > {widths[1]}"
    finally:
        context.close()


def test_the_raw_eml_link_downloads_the_message_byte_for_byte(page: Page, site: Site) -> None:
    url = _open_message(page, site, "Compilers: are they worth it?")
    subject = _h1(page)
    link = page.locator("a", has_text="Download the original message (.eml)")
    href = link.get_attribute("href") or ""
    assert href.endswith(".eml")
    with page.expect_download() as info:
        link.click()
    path = info.value.path()
    data = Path(path).read_bytes()
    assert data.startswith(b"From: ")
    headers = data.split(b"\n\n", 1)[0].decode("utf-8")
    subject_line = next(h for h in headers.splitlines() if h.startswith("Subject: "))
    assert subject.removeprefix("[salon] ") in subject_line
    assert "Message-ID: <sample-" in headers
    response = page.request.get(_absolute(page, href))
    assert response.ok
    assert response.body() == data
    key = urlsplit(url).path.rsplit("/", 1)[-1].removesuffix(".html")
    assert data == (site.root / "salon" / "m" / f"{key}.eml").read_bytes()


def test_the_non_ascii_subject_shows_decoded_on_its_page(page: Page, site: Site) -> None:
    _open_message(page, site, NON_ASCII_SUBJECT)
    assert NON_ASCII_SUBJECT in _h1(page)
    assert NON_ASCII_SUBJECT in page.title()
    assert "=?utf-8?" not in page.content().lower()
