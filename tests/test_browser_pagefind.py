"""Search on the static build: Pagefind's index and UI in a real browser, served from a folder.

The demo archive is built (`piperarc demo`, which runs Pagefind), its site folder served by
Python's http.server; search.html?q=... must show results under its own CSP (scripts from
the site only, WebAssembly allowed, no inline script or style) and a result must lead to the
message page. Launched as in test_browser.py: Debian's chromium, skipped without it (a
failure under PIPERARC_CI).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

from tests.test_browser import Site, _chromium, _record, _served_demo

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page

pytestmark = pytest.mark.browser

# Collects CSP violations in the page: Chromium also logs them, but this names the directive.
RECORD_CSP = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The demo archive with its Pagefind index, served on a free local port."""
    yield from _served_demo(
        tmp_path_factory.mktemp("pagefind") / "demo", needs="pagefind/pagefind-ui.js"
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Debian chromium (see _chromium)."""
    yield from _chromium()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        tab = context.new_page()
        tab.add_init_script(RECORD_CSP)
        yield tab
    finally:
        context.close()


def _console_errors(page: Page) -> list[str]:
    """Console errors as they come, but the browser's own try for /favicon.ico (the archive
    has none; Chromium asks for it on a page that stays open long enough)."""
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
            errors.append(message.text)

    page.on("console", on_console)
    return errors


def _results(page: Page) -> list[str]:
    """The hrefs of the search results, once Pagefind has shown them."""
    links = page.locator(".pagefind-ui__result-link")
    links.first.wait_for(timeout=15_000)
    return [links.nth(i).get_attribute("href") or "" for i in range(links.count())]


def test_search_html_finds_apollo_and_a_result_opens_its_message(page: Page, site: Site) -> None:
    traffic = _record(page)
    console_errors = _console_errors(page)
    page.goto(site.url("search.html?q=Apollo"))
    hrefs = _results(page)
    assert hrefs, "no results for Apollo"
    assert all(re.search(r"/salon/m/[a-z0-9-]+\.html$", h) for h in hrefs), hrefs
    title = page.locator(".pagefind-ui__result-link").first.inner_text().strip()
    assert "Apollo" in page.locator(".pagefind-ui__results").inner_text()
    page.locator(".pagefind-ui__result-link").first.click()
    page.wait_for_load_state()
    assert re.search(r"/salon/m/[a-z0-9-]+\.html$", urlsplit(page.url).path), page.url
    assert page.locator("main h1").first.inner_text().strip() == title
    assert console_errors == []
    assert traffic.page_errors == []
    assert [f for f in traffic.failed if "/favicon.ico" not in f] == []
    ours = urlsplit(site.base).netloc
    assert [u for u in traffic.requests if urlsplit(u).netloc != ours] == []


def test_search_html_runs_under_its_csp_without_violations(page: Page, site: Site) -> None:
    console_errors = _console_errors(page)
    page.goto(site.url("search.html?q=Apollo"))
    _results(page)
    page.wait_for_load_state("networkidle")
    assert page.evaluate("window.__cspViolations") == []
    assert console_errors == []
    csp = page.locator('meta[http-equiv="Content-Security-Policy"]').get_attribute("content")
    assert csp is not None
    assert "'unsafe-inline'" not in csp
    assert "'unsafe-eval'" not in csp.replace("'wasm-unsafe-eval'", "")


def test_the_search_form_on_a_list_page_keeps_to_that_list(page: Page, site: Site) -> None:
    page.goto(site.url("salon/index.html"))
    page.locator("header form.search input[name=q]").fill("Apollo")
    page.locator("header form.search button").click()
    page.wait_for_load_state()
    assert urlsplit(page.url).path == "/search.html"
    assert "list=salon" in page.url
    assert _results(page)


def test_only_message_pages_are_indexed(site: Site) -> None:
    fragments = list((site.root / "pagefind" / "fragment").iterdir())
    messages = list((site.root / "salon" / "m").glob("*.html"))
    assert len(fragments) == len(messages)


def test_a_search_that_finds_nothing_says_so(page: Page, site: Site) -> None:
    page.goto(site.url("search.html?q=xylophonequux"))
    message = page.locator(".pagefind-ui__message")
    message.wait_for(timeout=15_000)
    page.wait_for_function(
        "() => /no results/i.test(document.querySelector('.pagefind-ui__message').textContent)"
    )
    assert Path(site.root / "search.html").is_file()
