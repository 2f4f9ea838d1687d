"""Search on the static build, in a real browser: search.js over the index the build wrote
(site/searchindex.py), the site served from a folder by Python's http.server.

search.html?q=... must show results under its own CSP (scripts from the site only, no
inline script or style, no WebAssembly), a result must lead to its message, and on a real
list (usrp-users, 2,991 messages) the browser must find exactly the messages the server's
search finds, query by query. Launched as in test_browser.py: Debian's chromium, skipped
without it (a failure under PIPERARC_CI).
"""

from __future__ import annotations

import lzma
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

from piperarc import config as configlib
from piperarc import search
from piperarc.mail import stems
from piperarc.store import open_store
from tests.conftest import cli, corpus_path
from tests.test_browser import Site, _chromium, _QuietHandler, _record, _served, _served_demo

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

# Queries a reader of usrp-users would type, one of each kind the language has.
USRP_QUERIES = [
    "overflow",
    "overflows",
    "overflowing",
    '"overflow"',  # exactly as written
    "s:overflows",
    "capabilities -overflows",
    "uhd_usrp_probe",
    '"rx streamer"',
    '"sample rate" b200',
    "gnuradio -python",
    "x310 OR n310",
    "calib*",
    "s:timeout",
    "f:ettus",
    "b:segfault",
    "d:2020-03",
    "d:2019-12-24..2020-01-05 usb",
    "has:attachment fpga",
    "is:root dpdk",
    "l:usrp-users firmware",
    'overflow -"sample rate"',
    "réceive",  # accents do not matter: found as "receive"
    "e310 image*",
]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The demo archive with its search index, served on a free local port."""
    yield from _served_demo(
        tmp_path_factory.mktemp("static-search") / "demo", needs="search-index/index.json.gz"
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
    """Console errors as they come, but the browser's own try for /favicon.ico."""
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
            errors.append(message.text)

    page.on("console", on_console)
    return errors


def search_status(page: Page) -> str:
    """The search's verdict line, once it has one."""
    page.wait_for_function(
        "() => { const s = document.getElementById('search-status');"
        " return s && s.textContent && !s.textContent.startsWith('Searching'); }",
        timeout=15_000,
    )
    return page.locator("#search-status").inner_text()


def _results(page: Page) -> list[str]:
    search_status(page)
    links = page.locator("#search-results a.subject")
    return [links.nth(i).get_attribute("href") or "" for i in range(links.count())]


def test_search_html_finds_apollo_and_a_result_opens_its_message(page: Page, site: Site) -> None:
    traffic = _record(page)
    console_errors = _console_errors(page)
    page.goto(site.url("search.html?q=Apollo"))
    hrefs = _results(page)
    assert hrefs, "no results for Apollo"
    assert all(re.search(r"salon/m/[a-z0-9-]+\.html$", h) for h in hrefs), hrefs
    assert re.match(r"\d+ messages? found", search_status(page))
    title = page.locator("#search-results a.subject").first.inner_text().strip()
    page.locator("#search-results a.subject").first.click()
    page.wait_for_load_state()
    assert re.search(r"/salon/m/[a-z0-9-]+\.html$", urlsplit(page.url).path), page.url
    assert page.locator("main h1").first.inner_text().strip() == title
    assert console_errors == []
    assert traffic.page_errors == []
    assert [f for f in traffic.failed if "/favicon.ico" not in f] == []
    ours = urlsplit(site.base).netloc
    assert [u for u in traffic.requests if urlsplit(u).netloc != ours] == []


def test_the_words_found_are_marked_in_each_excerpt(page: Page, site: Site) -> None:
    page.goto(site.url("search.html?q=agree"))
    _results(page)
    marks = page.locator("#search-results .snippet mark")
    assert marks.count() > 0
    assert {marks.nth(i).inner_text().lower() for i in range(marks.count())} == {"agree"}


def test_search_html_runs_under_its_csp_without_violations(page: Page, site: Site) -> None:
    console_errors = _console_errors(page)
    page.goto(site.url("search.html?q=Apollo"))
    _results(page)
    page.wait_for_load_state("networkidle")
    assert page.evaluate("window.__cspViolations") == []
    assert console_errors == []
    csp = page.locator('meta[http-equiv="Content-Security-Policy"]').get_attribute("content")
    assert csp is not None
    assert "'unsafe-inline'" not in csp and "unsafe-eval" not in csp


def test_the_search_form_on_a_list_page_keeps_to_that_list(page: Page, site: Site) -> None:
    page.goto(site.url("salon/index.html"))
    page.locator("header form.search input[name=q]").fill("Apollo")
    page.locator("header form.search button").click()
    page.wait_for_load_state()
    assert urlsplit(page.url).path == "/search.html"
    assert "list=salon" in page.url
    assert _results(page)
    assert page.locator("#static-q").input_value() == "Apollo"


def test_a_search_that_finds_nothing_says_so(page: Page, site: Site) -> None:
    page.goto(site.url("search.html?q=xylophonequux"))
    assert search_status(page) == "0 messages found, newest first."
    assert _results(page) == []


def test_a_query_the_language_cannot_read_says_what_to_write(page: Page, site: Site) -> None:
    page.goto(site.url("search.html?q=%22unclosed"))
    assert search_status(page) == 'a phrase is missing its closing quote (")'


def test_search_html_opened_from_disk_says_it_needs_http(page: Page, site: Site) -> None:
    # Chromium runs no script of a page opened from disk under its CSP ('self' is no
    # origin there); the page itself says why nothing is found, script or not.
    page.goto((site.root / "search.html").as_uri() + "?q=Apollo")
    page.wait_for_load_state()
    assert "needs the pages served over HTTP" in page.locator("main").inner_text()
    assert page.locator("#search-results li").count() == 0


class _GzipEncodingHandler(_QuietHandler):
    """A server that says its .gz files are gzip-encoded (Apache's AddEncoding x-gzip .gz):
    the browser unpacks them before the script sees them."""

    def end_headers(self) -> None:
        if self.path.split("?")[0].endswith(".gz"):
            self.send_header("Content-Encoding", "gzip")
        super().end_headers()


def test_a_server_that_sends_gz_files_as_gzip_encoded_is_searched_as_well(
    page: Page, site: Site
) -> None:
    with _served(site.root, _GzipEncodingHandler) as encoding:
        page.goto(encoding.url("search.html?q=Apollo"))
        assert _results(page)
        assert re.match(r"\d+ messages? found", search_status(page))


def test_more_results_come_twenty_at_a_time(page: Page, site: Site) -> None:
    page.goto(site.url("search.html?q=salon"))
    total = int(search_status(page).split()[0])
    assert total > 20
    assert len(_results(page)) == 20
    page.locator("#search-more").click()
    page.wait_for_function(
        f"() => document.querySelectorAll('#search-results li').length == {min(total, 40)}"
    )


# -- the same results as the server, on a real list -----------------------------------------


@pytest.fixture(scope="module")
def usrp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Site, Path]]:
    """usrp-users imported and built, served on a free local port."""
    mbox = corpus_path("lists", "usrp-users-3k.mbox.xz")
    root = tmp_path_factory.mktemp("usrp-static-search") / "archive"
    for command in (
        ("init", root, "--list", "usrp-users"),
        ("import", "--archive", root, "--list", "usrp-users", mbox),
        ("build", "--archive", root),
    ):
        result = cli(*command)
        assert result.exit_code == 0, result.output
    with _served(root / "site") as site:
        yield site, root


def _server_finds(archive: Path, query: str) -> tuple[int, set[str]]:
    """The server's total and every hit it lists (all of them up to its ranking window of
    1,000 newest matches; the total is exact either way)."""
    config = configlib.load(archive)
    store = open_store(config.database, readonly=True)
    found: set[str] = set()
    try:
        first = search.run(store, query, per_page=100)
        for number in range(1, first.pages + 1):
            hits = search.run(store, query, per_page=100, page=number).hits
            if not hits:
                break
            found |= {f"{h.list_name}/m/{h.key}.html" for h in hits}
    finally:
        store.close()
    return first.total, found


@pytest.mark.corpus
def test_the_browser_finds_what_the_server_finds_on_usrp_users(
    page: Page, usrp: tuple[Site, Path]
) -> None:
    site, archive = usrp
    page.goto(site.url("search.html"))
    differences = []
    for query in USRP_QUERIES:
        total, listed = _server_finds(archive, query)
        found = page.evaluate("([q]) => window.piperarcSearch('search-index/', q)", [query])
        if len(found) != total or not listed <= set(found) or len(set(found)) != len(found):
            differences.append((query, total, len(found)))
        if total <= 1000 and set(found) != listed:
            differences.append((query, sorted(listed ^ set(found))[:3]))
    assert differences == []
    assert all(_server_finds(archive, query)[0] for query in USRP_QUERIES)  # none says 0


@pytest.mark.corpus
def test_a_result_page_of_usrp_users_shows_the_hits_newest_first(
    page: Page, usrp: tuple[Site, Path]
) -> None:
    site, _ = usrp
    page.goto(site.url("search.html?q=overflow"))
    _results(page)
    dates = page.locator("#search-results time").evaluate_all("els => els.map(e => e.dateTime)")
    assert len(dates) == 20
    assert dates == sorted(dates, reverse=True)


@pytest.mark.corpus
def test_the_browser_widens_words_as_the_server_does(page: Page, usrp: tuple[Site, Path]) -> None:
    """search.js's forms() is stems.forms() word for word, on every word of a real list."""
    site, _ = usrp
    page.goto(site.url("search.html"))
    text = lzma.decompress(corpus_path("lists", "usrp-users-3k.mbox.xz").read_bytes())
    every = sorted(set(re.findall(r"[a-z]{3,16}", text.decode("latin-1").lower())))
    vocabulary = every[:: max(1, len(every) // 5_000)]  # ~5,000 words from a to z
    assert len(vocabulary) >= 5_000
    theirs = page.evaluate("(ws) => ws.map((w) => window.piperarcForms(w))", vocabulary)
    mismatched = [w for w, f in zip(vocabulary, theirs, strict=True) if f != stems.forms(w)]
    assert mismatched == []


@pytest.mark.corpus
@pytest.mark.parametrize("query", ["overfow", "buffer recieve overfow", "firmwre", "xyzzyq"])
def test_the_browser_suggests_what_the_server_suggests(
    page: Page, usrp: tuple[Site, Path], query: str
) -> None:
    site, archive = usrp
    store = open_store(configlib.load(archive).database, readonly=True)
    try:
        expected = search.suggest(store, query, ["usrp-users"])
    finally:
        store.close()
    page.goto(site.url("search.html"))
    found = page.evaluate(
        "([q]) => window.piperarcSuggest('search-index/', q, ['usrp-users'])", [query]
    )
    assert found == expected


@pytest.mark.corpus
def test_a_search_that_finds_nothing_offers_near_words(page: Page, usrp: tuple[Site, Path]) -> None:
    site, _ = usrp
    page.goto(site.url("search.html?q=overfow"))
    assert search_status(page).startswith("0 messages found")
    offered = page.locator("p.suggestions a")
    offered.first.wait_for()
    assert offered.all_inner_texts()[0] == "overflow"
    offered.first.click()
    assert int(search_status(page).split()[0]) > 100


@pytest.mark.corpus
def test_a_results_snippet_is_cut_around_the_words_found_in_the_message(
    page: Page, usrp: tuple[Site, Path]
) -> None:
    """The index keeps only the start of a message's text; the snippet comes from the
    message's own page, around the words found (their other forms too), quotes last."""
    site, _ = usrp
    page.goto(site.url("search.html?q=overflowing"))
    _results(page)
    page.wait_for_function(
        "() => document.querySelectorAll('#search-results .snippet mark').length >= 15"
    )
    marked = page.locator("#search-results .snippet mark").all_inner_texts()
    assert {m.lower() for m in marked} <= {"overflow", "overflows", "overflowed", "overflowing"}
    assert {m.lower() for m in marked} - {"overflowing"}  # other forms than the one typed
