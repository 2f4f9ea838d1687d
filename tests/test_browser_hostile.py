"""The hostile-mail suite in a real browser: nothing in a message runs in a reader's browser.

The suite (tests/mail/hostile/, see tests/hostile_mail.py) is imported into an archive;
`piperarc build` writes the static site, which Python's http.server serves (a web server
that picks types from file names, as most do), and `piperarc serve` runs as a subprocess on
another free loopback port. Headless Chromium then opens every page of both: the homes,
period views, message and thread pages, feeds, search results for hostile words, and every
attachment and original a visitor can follow a link to. On each it checks that no script
ran (no dialog, no PWNED in the console or the title, no window.__pwned), that no request
left for another host (every remote vector points to evil.test; requests to it are
aborted and recorded), and that the page holds nothing active (no script of its own, no
event handler attribute, no javascript:/vbscript:/data: link, no frame, object, form, base
or meta refresh, no remote resource). The static pages are opened a second time with the
Content-Security-Policy switched off: the HTML alone must be inert, the CSP being a second
wall. Last, no file was written outside the site folder.

Same rules as test_browser.py: without chromium or playwright the tests skip, except
under PIPERARC_CI, where they fail.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import pytest

from tests import hostile_mail
from tests.test_browser import _chromium, _QuietHandler
from tests.test_browser_static_search import search_status

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Route

pytestmark = pytest.mark.browser

# Words a reader might search for that hit the hostile messages.
SEARCH_TERMS = ("script", "onerror", "alert", "PWNED", "javascript", "svg", "evil")
# Addresses that put a vector in what the live server reads from the request (reflected
# XSS): the query, the list, a Message-ID, an attachment name. (path, an error page?)
_V = "%3Cimg%20src%3Dx%20onerror%3D%22window.__pwned%3D1%3Balert(1)%22%3E"
REFLECTED = [
    (f"search.html?q={_V}", False),
    (f"search.html?q=%22{_V}", True),
    (f"search.html?q=x&list={_V}", True),
    (f"search.html?q=x&page={_V}", True),
    (f"search.html?q=x&sort={_V}", True),
    (f"mid/{_V}", True),
    (f"hostile/mid/{_V}", True),
    (f"hostile/m/aaaaaaaaaaaaaaaa/1-{_V}", True),
    (f"{_V}/index.html", True),
    (f"hostile/{_V}/thread.html", True),
    (f"search.mbox?q=x&list={_V}", True),
    (f"api/search?q={_V}", False),
]
# Types a browser runs script in or renders as a document from the archive's origin.
ACTIVE_TYPES = re.compile(
    r"^\s*(text/html|image/svg\+xml|application/xhtml\+xml|text/xml|application/xml|"
    r"text/xsl|text/javascript|application/(x-)?javascript|multipart/)",
    re.IGNORECASE,
)

# Installed in every page before its own scripts: records CSP violations (what a vector
# tried that the policy stopped) for the report.
RECORD = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""

# Run in the loaded page: everything in it that could run script or reach another host.
INSPECT = r"""
() => {
  const found = [];
  const here = location.origin;
  const ours = (url) => { try { return new URL(url, document.baseURI).origin === here; }
                          catch (e) { return true; } };
  const scheme = (value) => { try { return new URL(value, document.baseURI).protocol; }
                              catch (e) { return ""; } };
  const loads = ["src", "poster", "background", "data", "lowsrc", "dynsrc", "codebase",
                 "srcset", "imagesrcset", "ping", "action", "formaction", "manifest"];
  const links = ["href", "xlink:href", "action", "formaction", "src", "data", "poster",
                 "background", "lowsrc", "dynsrc", "to", "values", "from", "by"];
  for (const el of document.querySelectorAll("*")) {
    const tag = el.localName;
    if (["iframe", "frame", "frameset", "object", "embed", "applet", "base", "portal",
         "isindex", "template", "xml", "bgsound", "set", "animate"].includes(tag)) {
      found.push(`<${tag}>`);
    }
    if (tag === "script" && !(el.src && ours(el.src))) found.push("a script of its own");
    if (tag === "meta" && el.httpEquiv &&
        el.httpEquiv.toLowerCase() !== "content-security-policy") {
      found.push(`<meta http-equiv=${el.httpEquiv}>`);
    }
    // Our own forms: the search box on every page, and search.html's of the static site.
    if (tag === "form" && !el.matches("header form.search") &&
        !el.matches("main form#static-search")) {
      found.push("<form>");
    }
    if (tag === "link" && !ours(el.getAttribute("href") || "")) found.push(`<link ${el.href}>`);
    if (tag === "style" && /url\s*\(|@import|expression|behavior|binding/i.test(el.textContent)) {
      found.push("<style> that can fetch or run");
    }
    const style = el.getAttribute("style") || "";
    if (/url\s*\(|expression|behavior|binding|@import/i.test(style)) {
      found.push(`style="${style.slice(0, 60)}"`);
    }
    for (const attr of el.attributes) {
      const name = attr.name.toLowerCase();
      if (name.startsWith("on")) found.push(`<${tag} ${name}>`);
      if (links.includes(name)) {
        const proto = scheme(attr.value);
        const image = tag === "img" && name === "src" &&
          /^data:image\/(png|jpeg|gif|webp);/i.test(attr.value.trim());
        if (["javascript:", "vbscript:", "data:", "livescript:", "mocha:"].includes(proto) &&
            !image) {
          found.push(`<${tag} ${name}=${attr.value.slice(0, 60)}>`);
        }
      }
      if (loads.includes(name) && attr.value.trim() && !name.endsWith("srcset") &&
          ["http:", "https:"].includes(scheme(attr.value)) && !ours(attr.value)) {
        found.push(`<${tag} ${name}> loads ${attr.value.slice(0, 60)}`);
      }
      if (name.endsWith("srcset") && /(https?:)?\/\//i.test(attr.value)) {
        found.push(`<${tag} ${name}> loads ${attr.value.slice(0, 60)}`);
      }
    }
    if (tag === "a" && el.hasAttribute("href") && !ours(el.href) &&
        ["http:", "https:"].includes(el.protocol)) {
      const rel = (el.getAttribute("rel") || "").toLowerCase().split(/\s+/);
      if (!rel.includes("noopener") || !rel.includes("noreferrer")) {
        found.push(`a link to ${el.href.slice(0, 60)} without rel="noopener noreferrer"`);
      }
    }
  }
  const files = [...document.querySelectorAll("a[href], img[src]")]
    .map((e) => e.href || e.src)
    .filter((u) => u.startsWith(here) && /\/m\/[a-z0-9]+(\/[^\/]+|\.eml)$/.test(u));
  return {
    files: files,
    title: document.title,
    pwned: window.__pwned !== undefined,
    found: found,
    violations: window.__cspViolations || [],
  };
}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listing(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def _piperarc(*args: str | Path) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).parent / "piperarc"), *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=600)


@dataclass
class Hostile:
    """The suite's archive, its built site and where both are served."""

    folder: Path  # the tmp folder holding archive/ and site/
    site: Path
    static: str  # http://127.0.0.1:PORT/ : the built site
    live: str  # http://127.0.0.1:PORT/ : piperarc serve
    before: set[str]  # the files in `folder` before the build
    serve_log: Path  # what piperarc serve wrote to stdout and stderr
    counts: dict[str, int] = field(default_factory=dict)

    def page_paths(self) -> list[str]:
        """Every HTML page of the built site, from the site root."""
        return sorted(p.relative_to(self.site).as_posix() for p in self.site.rglob("*.html"))

    def feed_paths(self) -> list[str]:
        return sorted(p.relative_to(self.site).as_posix() for p in self.site.rglob("*.atom"))


def _wait_until_up(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"piperarc serve exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail("piperarc serve did not answer within 30s")


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    """The suite imported, built with `piperarc build`, served statically and by
    `piperarc serve` (a subprocess) on free loopback ports."""
    folder = tmp_path_factory.mktemp("hostile-browser")
    archive = folder / "archive"
    done = _piperarc("init", archive, "--list", "hostile", "--title", "Hostile")
    assert done.returncode == 0, done.stderr
    files = sorted(hostile_mail.HOSTILE_DIR.glob("*.eml"))
    done = _piperarc("import", "--archive", archive, "--list", "hostile", *files)
    assert done.returncode == 0, done.stderr
    before = _listing(folder)
    site = folder / "site"
    done = _piperarc("build", "--archive", archive, "--out", site)
    assert done.returncode == 0, done.stderr
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="hostile-site", daemon=True)
    thread.start()
    port = _free_port()
    command = [str(Path(sys.executable).parent / "piperarc"), "serve", "--archive", str(archive)]
    command += ["--port", str(port), "--no-access-log"]
    log_path = tmp_path_factory.mktemp("hostile-serve-log") / "serve.log"
    log = log_path.open("w")
    serving = subprocess.Popen(command, stdout=log, stderr=log, text=True)
    live = f"http://127.0.0.1:{port}/"
    try:
        _wait_until_up(live, serving)
        static = f"http://127.0.0.1:{server.server_address[1]}/"
        yield Hostile(folder, site, static, live, before, log_path)
    finally:
        serving.terminate()
        serving.wait(timeout=20)
        log.close()
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from _chromium()


@dataclass
class Watch:
    """What the pages of one browser context did that they must not do."""

    hosts: set[str]
    findings: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    files: set[str] = field(default_factory=set)  # attachments and originals linked to
    opened: int = 0
    current: str = ""

    def note(self, what: str) -> None:
        self.findings.append(f"{self.current}: {what}")


def _watched(
    browser: Browser, bases: list[str], *, bypass_csp: bool = False
) -> tuple[BrowserContext, Page, Watch]:
    """A context whose requests to any host but `bases`' are aborted and recorded, and a
    page whose dialogs and console markers are recorded."""
    watch = Watch({urlsplit(b).netloc for b in bases})
    context = browser.new_context(bypass_csp=bypass_csp, accept_downloads=True)
    context.add_init_script(RECORD)

    def foreign(url: str) -> bool:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https", "ws", "wss", "ftp") and (
            parts.netloc not in watch.hosts
        )

    def abort(route: Route) -> None:
        watch.foreign.append(f"{watch.current}: requested {route.request.url}")
        route.abort()

    context.route(foreign, abort)
    page = context.new_page()

    def on_dialog(dialog: Any) -> None:
        watch.note(f"a {dialog.type} dialog: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on(
        "console",
        lambda message: (
            watch.note(f"console: {message.text}") if message.text.strip() == "PWNED" else None
        ),
    )
    page.on("popup", lambda popup: watch.note(f"a popup: {popup.url}"))
    return context, page, watch


def _inspect(page: Page, watch: Watch, url: str, *, error: bool = False) -> None:
    """Opens `url` and records anything that ran or could run or reach out; `error`: the
    page is an error page (a 4xx), not a 200."""
    watch.current = url
    watch.opened += 1
    response = page.goto(url, wait_until="load")
    assert response is not None, url
    assert (400 <= response.status < 500) if error else response.status < 400, (
        f"{url}: HTTP {response.status}"
    )
    state: dict[str, Any] = page.evaluate(INSPECT)
    if page.url.split("#")[0] != url.split("#")[0]:
        watch.note(f"navigated away to {page.url}")
    if state["pwned"]:
        watch.note("window.__pwned is set")
    if state["title"] == "PWNED":
        watch.note("the title says PWNED")
    for what in state["found"]:
        watch.note(what)
    watch.violations += [f"{url}: {v}" for v in state["violations"]]
    watch.files.update(state["files"])


def _wait_for_static_results(page: Page) -> None:
    """search.js searches after load: wait for its verdict (said once the results are on
    the page), then a little, for anything they might set off."""
    search_status(page)
    page.wait_for_timeout(200)


def _assert_clean(watch: Watch) -> None:
    assert watch.findings == [], "\n".join(watch.findings[:40])
    assert watch.foreign == [], "\n".join(watch.foreign[:40])


def _visit(browser: Browser, base: str, paths: list[str], *, bypass_csp: bool = False) -> Watch:
    context, page, watch = _watched(browser, [base], bypass_csp=bypass_csp)
    try:
        for path in paths:
            _inspect(page, watch, base + path)
    finally:
        context.close()
    return watch


@pytest.fixture(scope="module")
def static_visit(browser: Browser, hostile: Hostile) -> Watch:
    """Every page of the built site opened once, and search.html for each hostile word
    (search.js shows its results after load: wait for them, then look again)."""
    context, page, watch = _watched(browser, [hostile.static])
    try:
        for path in hostile.page_paths():
            _inspect(page, watch, hostile.static + path)
        for term in SEARCH_TERMS:
            _inspect(page, watch, f"{hostile.static}search.html?q={quote(term)}")
            _wait_for_static_results(page)
            state = page.evaluate(INSPECT)
            watch.findings += [f"search {term}: {what}" for what in state["found"]]
            if state["pwned"] or state["title"] == "PWNED":
                watch.note(f"search {term}: a script ran")
            watch.violations += [f"search {term}: {v}" for v in state["violations"]]
    finally:
        context.close()
    hostile.counts["static pages"] = watch.opened
    return watch


@pytest.fixture(scope="module")
def live_visit(browser: Browser, hostile: Hostile) -> Watch:
    """Every page of the built site opened from `piperarc serve`, with its own search."""
    paths = [p for p in hostile.page_paths() if p != "search.html"]
    paths += [f"search.html?q={quote(term)}" for term in SEARCH_TERMS]
    paths += ["help/search.html"]
    watch = _visit(browser, hostile.live, paths)
    context, page, reflected = _watched(browser, [hostile.live])
    try:
        for path, error in REFLECTED:
            _inspect(page, reflected, hostile.live + path, error=error)
    finally:
        context.close()
    watch.findings += reflected.findings
    watch.foreign += reflected.foreign
    watch.opened += reflected.opened
    hostile.counts["live pages"] = watch.opened
    return watch


def test_no_page_of_the_static_site_runs_script_or_holds_anything_active(
    static_visit: Watch,
) -> None:
    assert static_visit.findings == [], "\n".join(static_visit.findings[:40])


def test_no_page_of_the_static_site_requests_anything_from_another_host(
    static_visit: Watch,
) -> None:
    assert static_visit.foreign == [], "\n".join(static_visit.foreign[:40])


def test_no_page_of_the_static_site_even_tries_what_the_csp_forbids(static_visit: Watch) -> None:
    """A CSP violation means something in a page tried to load or run: the HTML let it
    through and only the policy stopped it."""
    assert static_visit.violations == [], "\n".join(static_visit.violations[:40])


def test_no_page_of_the_live_server_runs_script_or_holds_anything_active(
    live_visit: Watch,
) -> None:
    assert live_visit.findings == [], "\n".join(live_visit.findings[:40])


def test_no_page_of_the_live_server_requests_anything_from_another_host(
    live_visit: Watch,
) -> None:
    assert live_visit.foreign == [], "\n".join(live_visit.foreign[:40])
    assert live_visit.violations == [], "\n".join(live_visit.violations[:40])


def test_with_the_csp_switched_off_the_pages_html_alone_is_inert(
    browser: Browser, hostile: Hostile
) -> None:
    """The sanitizer and the templates, without the policy's second wall (thread pages
    repeat the message pages' articles: the message pages and period views are enough)."""
    paths = [p for p in hostile.page_paths() if "/t/" not in p and p != "search.html"]
    watch = _visit(browser, hostile.static, paths, bypass_csp=True)
    hostile.counts["pages without CSP"] = watch.opened
    _assert_clean(watch)


def test_the_feeds_open_without_running_script(browser: Browser, hostile: Hostile) -> None:
    """Every feed of the built site, and the list's feeds from the server."""
    context, page, watch = _watched(browser, [hostile.static, hostile.live])
    urls = [hostile.static + path for path in hostile.feed_paths()]
    urls += [hostile.live + p for p in hostile.feed_paths() if "/t/" not in p]
    try:
        for url in urls:
            watch.current = url
            watch.opened += 1
            _open_inert(page, watch, url)
    finally:
        context.close()
    hostile.counts["feeds"] = watch.opened
    _assert_clean(watch)


def _open_inert(page: Page, watch: Watch, url: str) -> str:
    """Follows a link as a visitor would; returns "download" or the type shown."""
    from playwright.sync_api import Error

    try:
        response = page.goto(url, wait_until="load")
    except Error as err:
        if "Download is starting" in str(err) or "net::ERR_ABORTED" in str(err):
            return "download"
        raise
    assert response is not None
    kind = response.headers.get("content-type", "")
    if ACTIVE_TYPES.match(kind):
        watch.note(f"served as {kind}")
    try:
        state = page.evaluate("() => [document.title, window.__pwned !== undefined]")
    except Error:  # a document that runs no script at all (a sandboxed or XML view)
        return kind
    if state[1] or state[0] == "PWNED":
        watch.note("a script ran")
    return kind


def test_every_attachment_and_original_opens_inert_from_the_static_site(
    browser: Browser, hostile: Hostile, static_visit: Watch
) -> None:
    files = sorted(static_visit.files)
    assert len(files) > len(hostile_mail.messages()), "the pages link to too few files"
    context, page, watch = _watched(browser, [hostile.static])
    try:
        for url in files:
            watch.current = url
            watch.opened += 1
            _open_inert(page, watch, url)
            kind = context.request.get(url).headers.get("content-type", "")
            if ACTIVE_TYPES.match(kind):
                watch.note(f"the static server sends it as {kind}")
    finally:
        context.close()
    hostile.counts["static attachments and originals"] = watch.opened
    _assert_clean(watch)


def test_every_attachment_and_original_is_a_download_from_the_live_server(
    browser: Browser, hostile: Hostile, live_visit: Watch
) -> None:
    files = sorted(live_visit.files)
    assert len(files) > len(hostile_mail.messages()), "the pages link to too few files"
    context, page, watch = _watched(browser, [hostile.live])
    try:
        for url in files:
            watch.current = url
            watch.opened += 1
            if _open_inert(page, watch, url) != "download":
                watch.note("shown in the browser, not downloaded")
            headers = context.request.get(url).headers
            if ACTIVE_TYPES.match(headers.get("content-type", "")):
                watch.note(f"sent as {headers.get('content-type')}")
            if headers.get("x-content-type-options") != "nosniff":
                watch.note("no X-Content-Type-Options: nosniff")
            if not headers.get("content-disposition", "").startswith("attachment"):
                watch.note("no Content-Disposition: attachment")
    finally:
        context.close()
    hostile.counts["live attachments and originals"] = watch.opened
    _assert_clean(watch)


def test_the_server_logged_no_error_while_the_pages_were_opened(
    hostile: Hostile, live_visit: Watch
) -> None:
    logged = hostile.serve_log.read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in logged and "ERROR" not in logged, logged[-3000:]


# The database's own files, which SQLite makes beside it when the server reads it.
DATABASE_SIDE_FILES = re.compile(r"^archive/[^/]+\.sqlite3?-(wal|shm)$")


def test_nothing_was_written_outside_the_site_folder(hostile: Hostile) -> None:
    """Runs last in this module: after the build and every page and download above."""
    new = _listing(hostile.folder) - hostile.before
    outside = [p for p in new if not p.startswith("site/") and not DATABASE_SIDE_FILES.match(p)]
    assert sorted(outside) == []
    assert not Path("/tmp/piperarc-hostile-absolute.txt").exists()
    assert not (hostile.folder.parent / "piperarc-hostile-escape.txt").exists()
    if os.environ.get("PIPERARC_HOSTILE_COUNTS"):
        print(f"\nhostile suite: {hostile_mail.vector_count()} vectors, {hostile.counts}")
